//! `SUBSCRIBE`/`PSUBSCRIBE` on the discovery port: a connection's subscriptions, and the
//! `+switch-master` events they are sent when a region's primary changes.

use super::masters::masters;
use super::resp::{array, bulk};
use crate::topology::Topology;
use std::collections::{BTreeMap, BTreeSet};

/// The one event published, as Redis Sentinel publishes it.
const SWITCH_MASTER: &str = "+switch-master";

/// A connection's subscriptions, as clients that follow a failover by pub/sub make them:
/// `SUBSCRIBE +switch-master` (Jedis), `PSUBSCRIBE *` (Lettuce). A change of a region's
/// primary is published on `+switch-master` as `<name> <old ip> <old port> <new ip> <new
/// port>`, the moment this coordinator applies it.
#[derive(Debug, Default)]
pub(super) struct Subscriptions {
    channels: BTreeSet<String>,
    patterns: BTreeSet<String>,
    /// Each master's primary when last looked at.
    primaries: BTreeMap<String, (String, String)>,
}

impl Subscriptions {
    pub(super) fn active(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty()
    }

    fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// The reply to a pub/sub request, or `None` for one [`answer`] takes (only PING is
    /// answered otherwise while subscribed).
    pub(super) fn request(&mut self, args: &[Vec<u8>], t: &Topology) -> Option<String> {
        let cmd = String::from_utf8_lossy(args.first()?).to_ascii_lowercase();
        let names: Vec<String> = args[1..]
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let was_active = self.active();
        let reply = match cmd.as_str() {
            "subscribe" | "psubscribe" if names.is_empty() => {
                format!("-ERR wrong number of arguments for '{cmd}' command\r\n")
            }
            "subscribe" | "psubscribe" => {
                let mut out = String::new();
                for name in names {
                    if cmd == "subscribe" {
                        self.channels.insert(name.clone());
                    } else {
                        self.patterns.insert(name.clone());
                    }
                    out.push_str(&self.confirm(&cmd, Some(&name)));
                }
                out
            }
            "unsubscribe" | "punsubscribe" => {
                let channels = cmd == "unsubscribe";
                let set = if channels {
                    &self.channels
                } else {
                    &self.patterns
                };
                let names = if names.is_empty() {
                    set.iter().cloned().collect()
                } else {
                    names
                };
                if names.is_empty() {
                    self.confirm(&cmd, None)
                } else {
                    // Each confirmed with the count left after it, as Redis does.
                    let mut out = String::new();
                    for n in &names {
                        if channels {
                            self.channels.remove(n);
                        } else {
                            self.patterns.remove(n);
                        }
                        out.push_str(&self.confirm(&cmd, Some(n)));
                    }
                    out
                }
            }
            "ping" if self.active() => "*2\r\n$4\r\npong\r\n$0\r\n\r\n".into(),
            _ if self.active() => format!(
                "-ERR Can't execute '{cmd}': only (P)SUBSCRIBE / (P)UNSUBSCRIBE / PING are allowed in this context\r\n"
            ),
            _ => return None,
        };
        if !was_active && self.active() {
            // From now on, changes are told against the topology as it is now.
            self.primaries = primaries(t);
        }
        Some(reply)
    }

    /// `[subscribe, name, count]` and the like.
    fn confirm(&self, kind: &str, name: Option<&str>) -> String {
        let name = name.map_or_else(|| "$-1\r\n".to_string(), bulk);
        format!("*3\r\n{}{name}:{}\r\n", bulk(kind), self.count())
    }

    /// The messages for every primary that changed since the last look.
    pub(super) fn events(&mut self, t: &Topology) -> String {
        let now = primaries(t);
        let mut out = String::new();
        for (name, (host, port)) in &now {
            let Some((old_host, old_port)) = self.primaries.get(name) else {
                continue;
            };
            if (old_host, old_port) == (host, port) {
                continue;
            }
            let payload = format!("{name} {old_host} {old_port} {host} {port}");
            if self.channels.contains(SWITCH_MASTER) {
                out.push_str(&array(&[
                    bulk("message"),
                    bulk(SWITCH_MASTER),
                    bulk(&payload),
                ]));
            }
            for p in self
                .patterns
                .iter()
                .filter(|p| glob(p.as_bytes(), SWITCH_MASTER.as_bytes()))
            {
                out.push_str(&array(&[
                    bulk("pmessage"),
                    bulk(p),
                    bulk(SWITCH_MASTER),
                    bulk(&payload),
                ]));
            }
        }
        self.primaries = now;
        out
    }
}

/// Every master's primary, by name.
fn primaries(t: &Topology) -> BTreeMap<String, (String, String)> {
    masters(t)
        .into_iter()
        .filter_map(|m| Some((m.name, m.primary?)))
        .collect()
}

/// Redis's glob patterns, as far as subscribers use them: `*`, `?`, and literal bytes
/// (`\\` escapes one).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        Some((b'?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((b'\\', [c, rest @ ..])) => text.first() == Some(c) && glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribers_are_told_of_a_new_primary_on_switch_master() {
        let mut t = Topology::default();
        let apply = |t: &mut Topology, json: &str| {
            t.apply(&serde_json::from_str(json).expect(json))
                .expect(json);
        };
        for json in [
            r#"{"op":"create-instance","name":"shop"}"#,
            r#"{"op":"add-child","instance":"shop","region":"eu"}"#,
            r#"{"op":"register-node","instance":"shop","region":"eu","addr":"10.0.0.1:6379","sync_addr":"x:1","server_id":1}"#,
            r#"{"op":"register-node","instance":"shop","region":"eu","addr":"10.0.0.2:6380","sync_addr":"x:2","server_id":2}"#,
        ] {
            apply(&mut t, json);
        }
        let req = |words: &[&str]| -> Vec<Vec<u8>> {
            words.iter().map(|w| w.as_bytes().to_vec()).collect()
        };
        let mut subs = Subscriptions::default();
        assert_eq!(subs.request(&req(&["PING"]), &t), None, "not subscribed");
        assert_eq!(
            subs.request(&req(&["SUBSCRIBE", "+switch-master"]), &t),
            Some("*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n".into())
        );
        assert_eq!(
            subs.request(&req(&["psubscribe", "+switch-*", "+sdown"]), &t),
            Some(
                "*3\r\n$10\r\npsubscribe\r\n$9\r\n+switch-*\r\n:2\r\n*3\r\n$10\r\npsubscribe\r\n$6\r\n+sdown\r\n:3\r\n"
                    .into()
            )
        );
        assert_eq!(
            subs.request(&req(&["PING"]), &t),
            Some("*2\r\n$4\r\npong\r\n$0\r\n\r\n".into())
        );
        assert!(
            subs.request(&req(&["SENTINEL", "masters"]), &t)
                .expect("refused")
                .starts_with("-ERR Can't execute 'sentinel'")
        );
        assert_eq!(subs.events(&t), "", "nothing changed");

        apply(
            &mut t,
            r#"{"op":"promote","instance":"shop","region":"eu","node":"10.0.0.2:6380","epoch":1}"#,
        );
        let payload = "eu 10.0.0.1 6379 10.0.0.2 6380";
        assert_eq!(
            subs.events(&t),
            format!(
                "*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n${}\r\n{payload}\r\n*4\r\n$8\r\npmessage\r\n$9\r\n+switch-*\r\n$14\r\n+switch-master\r\n${}\r\n{payload}\r\n",
                payload.len(),
                payload.len()
            )
        );
        assert_eq!(subs.events(&t), "", "told once");

        assert_eq!(
            subs.request(&req(&["UNSUBSCRIBE"]), &t),
            Some("*3\r\n$11\r\nunsubscribe\r\n$14\r\n+switch-master\r\n:2\r\n".into())
        );
        assert_eq!(
            subs.request(&req(&["PUNSUBSCRIBE"]), &t),
            Some("*3\r\n$12\r\npunsubscribe\r\n$6\r\n+sdown\r\n:1\r\n*3\r\n$12\r\npunsubscribe\r\n$9\r\n+switch-*\r\n:0\r\n".into())
        );
        assert!(!subs.active());
        assert_eq!(
            subs.request(&req(&["PING"]), &t),
            None,
            "answered as before"
        );
    }

    #[test]
    fn patterns_match_as_redis_globs_do() {
        for (p, yes) in [
            ("*", true),
            ("+switch-*", true),
            ("+sw?tch-master", true),
            ("\\+switch-master", true),
            ("+sdown", false),
            ("*-slave", false),
            ("", false),
        ] {
            assert_eq!(glob(p.as_bytes(), b"+switch-master"), yes, "{p}");
        }
    }
}
