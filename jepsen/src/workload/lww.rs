//! The checker shared by registers and hash fields: last-writer-wins values whose order
//! must agree with the HLC order, with observed-remove deletes, and session guarantees per
//! connection.
//!
//! Every written value is unique, so a read names the write it saw. What the history can
//! prove about HLC order: nodes share one machine's clock, shifted by at most `slack_ms`,
//! so a write invoked more than `slack_ms` after another was acknowledged carries a larger
//! HLC, and must win over it (SEMANTICS.md: a later write wins; skew only decides between
//! concurrent ones).

use super::Verdict;
use crate::history::Call;
use std::collections::HashMap;

/// One register's operations.
#[derive(Debug, Default)]
pub struct Register<'a> {
    /// Writes in invocation order: the value set, or `None` for a delete.
    pub writes: Vec<(&'a Call, Option<String>)>,
    /// Reads in invocation order, with what each saw (only acknowledged reads).
    pub reads: Vec<(&'a Call, Option<String>)>,
    /// Built by [`Register::check`]: lookups that would otherwise scan the history.
    index: Index<'a>,
}

/// A register's history indexed, so a check of long histories stays linear-ish.
#[derive(Debug, Default)]
struct Index<'a> {
    /// The write of each value (values are unique).
    writer: HashMap<String, &'a Call>,
    /// When each connection first finished reading each value.
    first_read: HashMap<(String, String), f64>,
    /// Every value some read saw (so its write happened, whatever its reply).
    read: std::collections::HashSet<String>,
    /// The deletes that may have happened.
    deletes: Vec<&'a Call>,
}

/// Whether write `a` certainly has a smaller HLC than `b`: `b` began after `a` was
/// acknowledged, by more than the clocks may differ.
fn surely_before(a: &Call, b: &Call, slack_ms: f64) -> bool {
    a.ok() && b.start_ms > a.end_ms + slack_ms
}

impl<'a> Register<'a> {
    /// Index the history (call before [`Register::check`]'s lookups).
    fn index(&mut self) {
        let mut ix = Index::default();
        for (c, value) in &self.writes {
            match value {
                Some(value) => {
                    ix.writer.insert(value.clone(), *c);
                }
                None if c.maybe() => ix.deletes.push(*c),
                None => {}
            }
        }
        for (r, value) in &self.reads {
            if let Some(value) = value {
                ix.read.insert(value.clone());
                let at = ix
                    .first_read
                    .entry((r.process.clone(), value.clone()))
                    .or_insert(r.end_ms);
                *at = at.min(r.end_ms);
            }
        }
        self.index = ix;
    }

    /// The set-write of `value`.
    fn writer(&self, value: &str) -> Option<&'a Call> {
        self.index.writer.get(value).copied()
    }

    /// Whether a delete that may have happened could have removed what `w` wrote before
    /// `by`: it began before `by`, and ended after `w` began, or its reply was lost (then it
    /// may have run any time later: a paused node runs what it had queued when it resumes).
    fn deletable(&self, w: &Call, by: f64) -> bool {
        self.index
            .deletes
            .iter()
            .any(|d| (!d.ok() || d.end_ms > w.start_ms) && d.start_ms < by)
    }

    /// Whether the connection that made `later` had seen `w` before it began: it wrote
    /// `w`, or read it. Then `later` was made after seeing `w`, and must win over it
    /// whatever the clocks say (SEMANTICS.md, causality of timestamps).
    fn seen_before(&self, w: &Call, value: &str, later: &Call) -> bool {
        let p = later.process.as_str();
        (w.process == p && w.ok() && w.end_ms < later.start_ms)
            || self
                .index
                .first_read
                .get(&(p.to_string(), value.to_string()))
                .is_some_and(|&at| at < later.start_ms)
    }

    /// Check this register (called `name`) against the history and its final value.
    pub fn check(&mut self, name: &str, last: Option<&str>, slack_ms: f64, v: &mut Verdict) {
        self.index();
        self.check_final(name, last, slack_ms, v);
        self.check_sessions(name, slack_ms, v);
    }

    /// The write of `value`, which `what` (a read, ended at `when`) saw: every value read
    /// was written, before the read ended. `None`, with the anomaly, if it was not.
    fn writer_of(
        &self,
        name: &str,
        value: &str,
        when: f64,
        what: &str,
        v: &mut Verdict,
    ) -> Option<&'a Call> {
        match self.writer(value) {
            Some(w) if w.maybe() && w.start_ms < when => Some(w),
            Some(w) if w.maybe() => {
                v.anomaly(format!(
                    "{name}: {what} saw {value:?}, written only later (at {:.0} ms)",
                    w.start_ms
                ));
                None
            }
            _ => {
                v.anomaly(format!("{name}: {what} saw {value:?}, which no write set"));
                None
            }
        }
    }

    /// The final value: the last write in HLC order, and not one its own connection deleted
    /// later; an empty register: no write that happened with no delete after it.
    fn check_final(&self, name: &str, last: Option<&str>, slack_ms: f64, v: &mut Verdict) {
        match last {
            Some(value) => {
                if let Some(w) = self.writer_of(name, value, f64::INFINITY, "the final read", v) {
                    if let Some((later, lv)) = self.writes.iter().find(|(o, ov)| {
                        ov.is_some()
                            && o.ok()
                            && (surely_before(w, o, slack_ms) || self.seen_before(w, value, o))
                            && !self.deletable(o, f64::INFINITY)
                    }) {
                        v.anomaly(format!(
                            "{name}: ends as {value:?} (written {:.0}-{:.0} ms), though {:?} was \
                             written after it ({:.0}-{:.0} ms, after it in real time or by a \
                             connection that had seen it): HLC order lost",
                            w.start_ms,
                            w.end_ms,
                            lv.as_deref().unwrap_or(""),
                            later.start_ms,
                            later.end_ms
                        ));
                    }
                    let deleted = self.writes.iter().find(|(d, dv)| {
                        dv.is_none() && d.ok() && d.process == w.process && d.start_ms > w.end_ms
                    });
                    if let Some((d, _)) = deleted {
                        v.anomaly(format!(
                            "{name}: ends as {value:?}, which its own connection deleted at \
                             {:.0} ms (resurrected delete)",
                            d.start_ms
                        ));
                    }
                }
            }
            None => {
                for (w, value) in &self.writes {
                    let happened =
                        w.ok() || value.as_ref().is_some_and(|x| self.index.read.contains(x));
                    if happened && value.is_some() && !self.deletable(w, f64::INFINITY) {
                        v.anomaly(format!(
                            "{name}: ends empty, but {value:?} was acknowledged ({:.0} ms) and \
                             no delete came after it (lost write)",
                            w.end_ms
                        ));
                    }
                }
            }
        }
    }

    /// Session guarantees, per connection: read-your-writes against its last own write,
    /// and monotonic reads against its last read.
    fn check_sessions(&self, name: &str, slack_ms: f64, v: &mut Verdict) {
        // Per connection: the last own write, the last read.
        let mut own: HashMap<&str, (&Call, Option<&str>)> = HashMap::new();
        let mut seen: HashMap<&str, (&Call, Option<&Call>)> = HashMap::new();
        let mut events: Vec<(&Call, bool, Option<&str>)> = self
            .writes
            .iter()
            .map(|(c, val)| (*c, true, val.as_deref()))
            .chain(
                self.reads
                    .iter()
                    .map(|(c, val)| (*c, false, val.as_deref())),
            )
            .collect();
        events.sort_by(|a, b| a.0.start_ms.total_cmp(&b.0.start_ms));
        for (call, is_write, value) in events {
            let p = call.process.as_str();
            if is_write {
                if call.ok() {
                    own.insert(p, (call, value));
                }
                continue;
            }
            let w = match value {
                Some(value) => match self.writer_of(name, value, call.end_ms, "a read", v) {
                    Some(w) => Some(w),
                    None => continue,
                },
                None => None,
            };
            if let Some(&(mine, mine_value)) = own.get(p) {
                // An older value may show again only where a delete removed the newer one,
                // or, after an own delete, where that delete could not have seen it.
                let hidden = match mine_value {
                    Some(_) => self.deletable(mine, call.end_ms),
                    None => w.is_some_and(|w| w.process != mine.process),
                };
                // Older: before the own write in real time, or seen by this connection
                // before it wrote (so its write was stamped after it).
                let older = |w: &Call| {
                    surely_before(w, mine, slack_ms)
                        || value.is_some_and(|val| self.seen_before(w, val, mine))
                };
                match (w, mine_value) {
                    (Some(w), _) if older(w) && !hidden => v.anomaly(format!(
                        "{name}: connection {p} read {value:?} at {:.0} ms, older than its own \
                         write {mine_value:?} ({:.0} ms): not read-your-writes",
                        call.start_ms, mine.end_ms
                    )),
                    (None, Some(_)) if !self.deletable(mine, call.end_ms) => v.anomaly(format!(
                        "{name}: connection {p} read nothing at {:.0} ms after writing \
                             {mine_value:?}: not read-your-writes",
                        call.start_ms
                    )),
                    _ => {}
                }
            }
            if let Some(&(before, Some(earlier))) = seen.get(p) {
                match w {
                    Some(w)
                        if surely_before(w, earlier, slack_ms)
                            && !self.deletable(earlier, call.end_ms) =>
                    {
                        v.anomaly(format!(
                            "{name}: connection {p} read {value:?} at {:.0} ms after a newer value \
                         (read at {:.0} ms): not monotonic",
                            call.start_ms, before.start_ms
                        ))
                    }
                    None if !self.deletable(earlier, call.end_ms) => v.anomaly(format!(
                        "{name}: connection {p} read nothing at {:.0} ms after reading a value \
                         at {:.0} ms that nothing deleted: not monotonic",
                        call.start_ms, before.start_ms
                    )),
                    _ => {}
                }
            }
            seen.insert(p, (call, w));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn call(process: &str, outcome: &'static str, start_ms: f64, end_ms: f64) -> Call {
        Call {
            process: process.into(),
            f: String::new(),
            asked: Value::Null,
            outcome,
            seen: Value::Null,
            start_ms,
            end_ms,
        }
    }

    fn verdict(r: &mut Register<'_>, last: Option<&str>) -> Verdict {
        let mut v = Verdict::default();
        r.check("k", last, 5.0, &mut v);
        v
    }

    #[test]
    fn a_final_value_overwritten_later_in_real_time_is_an_hlc_order_violation() {
        let (a, b) = (call("0", "ok", 0.0, 10.0), call("1", "ok", 20.0, 30.0));
        let mut r = Register {
            writes: vec![(&a, Some("a".into())), (&b, Some("b".into()))],
            reads: vec![],
            ..Register::default()
        };
        assert!(verdict(&mut r, Some("b")).anomalies.is_empty());
        let v = verdict(&mut r, Some("a"));
        assert!(v.anomalies[0].contains("HLC order lost"), "{v:?}");
        // Within the clock slack the two are concurrent: either may win.
        let close = call("1", "ok", 12.0, 30.0);
        let mut r = Register {
            writes: vec![(&a, Some("a".into())), (&close, Some("b".into()))],
            reads: vec![],
            ..Register::default()
        };
        assert!(verdict(&mut r, Some("a")).anomalies.is_empty());
        let v = verdict(&mut r, None);
        assert!(v.anomalies[0].contains("lost write"), "{v:?}");
        // Unless the later one's connection had read the first: then it must win.
        let read_a = call("1", "ok", 11.0, 11.5);
        let mut r = Register {
            writes: vec![(&a, Some("a".into())), (&close, Some("b".into()))],
            reads: vec![(&read_a, Some("a".into()))],
            ..Register::default()
        };
        let v = verdict(&mut r, Some("a"));
        assert!(v.anomalies[0].contains("HLC order lost"), "{v:?}");
        let v = verdict(&mut r, Some("z"));
        assert!(v.anomalies[0].contains("no write set"), "{v:?}");
    }

    #[test]
    fn sessions_must_read_their_writes_monotonically_and_deletes_stay_deleted() {
        let (a, b) = (call("0", "ok", 0.0, 10.0), call("1", "ok", 20.0, 30.0));
        let (r1, r2) = (call("0", "ok", 40.0, 41.0), call("0", "ok", 50.0, 51.0));
        let mut stale = Register {
            writes: vec![(&a, Some("a".into())), (&b, Some("b".into()))],
            reads: vec![(&r1, Some("b".into())), (&r2, Some("a".into()))],
            ..Register::default()
        };
        let v = verdict(&mut stale, Some("b"));
        assert!(v.anomalies[0].contains("not monotonic"), "{v:?}");
        let own = call("1", "ok", 40.0, 41.0);
        let mut ryw = Register {
            writes: vec![(&a, Some("a".into())), (&b, Some("b".into()))],
            reads: vec![(&own, Some("a".into()))],
            ..Register::default()
        };
        let v = verdict(&mut ryw, Some("b"));
        assert!(v.anomalies[0].contains("not read-your-writes"), "{v:?}");
        // Within the clock slack, but the connection had read "a" before writing "b".
        let (seen_a, b2, again) = (
            call("1", "ok", 11.0, 11.5),
            call("1", "ok", 12.0, 13.0),
            call("1", "ok", 20.0, 21.0),
        );
        let mut causal = Register {
            writes: vec![(&a, Some("a".into())), (&b2, Some("b".into()))],
            reads: vec![(&seen_a, Some("a".into())), (&again, Some("a".into()))],
            ..Register::default()
        };
        let v = verdict(&mut causal, Some("b"));
        assert!(v.anomalies[0].contains("not read-your-writes"), "{v:?}");
        let del = call("0", "ok", 15.0, 16.0);
        let mut resurrected = Register {
            writes: vec![(&a, Some("a".into())), (&del, None)],
            reads: vec![],
            ..Register::default()
        };
        assert!(verdict(&mut resurrected, None).anomalies.is_empty());
        let v = verdict(&mut resurrected, Some("a"));
        assert!(v.anomalies[0].contains("resurrected delete"), "{v:?}");
        // A delete whose reply was lost may run later (a paused node resumes), and take a
        // value written after it gave up.
        let lost_delete = call("2", "info", 0.0, 1.0);
        let late = call("3", "ok", 5.0, 6.0);
        let mut r = Register {
            writes: vec![(&lost_delete, None), (&late, Some("b".into()))],
            reads: vec![],
            ..Register::default()
        };
        assert!(verdict(&mut r, None).anomalies.is_empty());
    }
}
