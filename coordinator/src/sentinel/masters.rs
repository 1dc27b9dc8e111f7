//! The Sentinel commands' answers: every region of every instance as a Sentinel master
//! (its primary) with replicas (its secondaries), named by region where that is
//! unambiguous.

use super::resp::{array, bulk};
use crate::topology::Topology;

pub(super) fn answer(args: &[Vec<u8>], t: &Topology) -> String {
    let Some(cmd) = args.first() else {
        return String::new();
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).replace(['\r', '\n'], " ");
    match cmd.to_ascii_lowercase().as_slice() {
        b"ping" if args.len() == 1 => "+PONG\r\n".into(),
        b"ping" => "-ERR wrong number of arguments for 'ping' command\r\n".into(),
        b"sentinel" if args.len() >= 2 => {
            let sub = text(&args[1]).to_ascii_lowercase();
            let name = args.get(2).map(|n| text(n));
            match (sub.as_str(), name.as_deref(), args.len()) {
                ("get-master-addr-by-name", Some(name), 3) => match master(t, name) {
                    Some(m) => match m.primary {
                        Some((host, port)) => array(&[bulk(&host), bulk(&port)]),
                        None => "*-1\r\n".into(),
                    },
                    None => "*-1\r\n".into(),
                },
                ("masters", None, 2) => {
                    let all: Vec<String> = masters(t)
                        .iter()
                        .filter(|m| m.primary.is_some())
                        .map(master_state)
                        .collect();
                    array(&all)
                }
                ("master", Some(name), 3) => match master(t, name) {
                    Some(m) if m.primary.is_some() => master_state(&m),
                    _ => "-ERR No such master with that name\r\n".into(),
                },
                ("replicas" | "slaves", Some(name), 3) => match master(t, name) {
                    Some(m) => {
                        let all: Vec<String> = m
                            .replicas
                            .iter()
                            .map(|(host, port)| {
                                let name = format!("{host}:{port}");
                                array(&[
                                    bulk("name"),
                                    bulk(&name),
                                    bulk("ip"),
                                    bulk(host),
                                    bulk("port"),
                                    bulk(port),
                                    bulk("flags"),
                                    bulk("slave"),
                                    bulk("master-link-status"),
                                    bulk("ok"),
                                ])
                            })
                            .collect();
                        array(&all)
                    }
                    None => "-ERR No such master with that name\r\n".into(),
                },
                ("sentinels", Some(name), 3) => match master(t, name) {
                    Some(_) => "*0\r\n".into(),
                    None => "-ERR No such master with that name\r\n".into(),
                },
                _ => format!(
                    "-ERR Unknown sentinel subcommand or wrong number of arguments for '{sub}'\r\n"
                ),
            }
        }
        _ => format!("-ERR unknown command '{}'\r\n", text(cmd)),
    }
}

/// A region as Sentinel shows it: a master (its primary) and replicas (its secondaries).
pub(super) struct Master {
    /// The region, or `instance/region` if the region's name is not unique.
    pub(super) name: String,
    /// Always `instance/region`.
    full: String,
    pub(super) primary: Option<(String, String)>,
    replicas: Vec<(String, String)>,
}

/// Every region of every instance, named by region where that is unambiguous.
pub(super) fn masters(t: &Topology) -> Vec<Master> {
    let mut count = std::collections::BTreeMap::<&str, usize>::new();
    for inst in t.instances.values() {
        for region in inst.children.keys() {
            *count.entry(region).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for (instance, inst) in &t.instances {
        for (region, child) in &inst.children {
            let name = if count[region.as_str()] == 1 {
                region.clone()
            } else {
                format!("{instance}/{region}")
            };
            out.push(Master {
                name,
                full: format!("{instance}/{region}"),
                primary: child.primary.as_deref().and_then(host_port),
                replicas: child
                    .secondaries
                    .iter()
                    .filter_map(|s| host_port(s))
                    .collect(),
            });
        }
    }
    out
}

/// The master called `name` (its region, or `instance/region`).
fn master(t: &Topology, name: &str) -> Option<Master> {
    masters(t)
        .into_iter()
        .find(|m| m.name == name || m.full == name)
}

/// The fields Sentinel clients read from `SENTINEL masters` (redis-py checks `flags` and
/// `num-other-sentinels`).
fn master_state(m: &Master) -> String {
    let (host, port) = m.primary.clone().unwrap_or_default();
    array(&[
        bulk("name"),
        bulk(&m.name),
        bulk("ip"),
        bulk(&host),
        bulk("port"),
        bulk(&port),
        bulk("flags"),
        bulk("master"),
        bulk("num-slaves"),
        bulk(&m.replicas.len().to_string()),
        bulk("num-other-sentinels"),
        bulk("0"),
        bulk("quorum"),
        bulk("1"),
    ])
}

fn host_port(addr: &str) -> Option<(String, String)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), port.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_named_alone_unless_two_instances_share_the_name() {
        let mut t = Topology::default();
        for json in [
            r#"{"op":"create-instance","name":"a"}"#,
            r#"{"op":"create-instance","name":"b"}"#,
            r#"{"op":"add-child","instance":"a","region":"eu"}"#,
            r#"{"op":"add-child","instance":"b","region":"eu"}"#,
            r#"{"op":"add-child","instance":"b","region":"us"}"#,
            r#"{"op":"register-node","instance":"b","region":"eu","addr":"10.0.0.1:6379","sync_addr":"x:1","server_id":1}"#,
        ] {
            t.apply(&serde_json::from_str(json).expect(json))
                .expect(json);
        }
        let names: Vec<String> = masters(&t).into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["a/eu", "b/eu", "us"]);
        let ask = |name: &str| {
            answer(
                &[
                    b"SENTINEL".to_vec(),
                    b"get-master-addr-by-name".to_vec(),
                    name.as_bytes().to_vec(),
                ],
                &t,
            )
        };
        assert_eq!(ask("b/eu"), "*2\r\n$8\r\n10.0.0.1\r\n$4\r\n6379\r\n");
        assert_eq!(ask("a/eu"), "*-1\r\n", "no node yet");
        assert_eq!(ask("eu"), "*-1\r\n", "ambiguous");
        assert_eq!(ask("us"), "*-1\r\n");
    }
}
