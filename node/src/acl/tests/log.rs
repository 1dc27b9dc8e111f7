//! ACL LOG: grouping, order, bound and the reply's fields (redis-server 7.0.15 answered
//! `count 1 reason command context toplevel object acl|log username d age-seconds 0.014
//! client-info id=380 ...` for a refused ACL LOG).

use crate::acl::{AclLog, Denied, DenyReason, LogContext, LogEntry, LogReason, LogValue};

fn entry(object: &str, username: &str, time_ms: u64) -> LogEntry {
    LogEntry {
        count: 1,
        reason: LogReason::Command,
        context: LogContext::Toplevel,
        object: object.as_bytes().to_vec(),
        username: username.as_bytes().to_vec(),
        time_ms,
        client_info: format!("id={time_ms}"),
    }
}

fn objects(log: &AclLog) -> Vec<(String, u64)> {
    log.newest(usize::MAX)
        .map(|e| (String::from_utf8_lossy(&e.object).into_owned(), e.count))
        .collect()
}

#[test]
fn alike_refusals_within_a_minute_share_an_entry_moved_to_the_front() {
    let mut log = AclLog::default();
    log.add(entry("get", "u", 1_000));
    log.add(entry("set", "u", 2_000));
    log.add(entry("get", "u", 61_000));
    assert_eq!(
        objects(&log),
        [("get".to_string(), 2), ("set".to_string(), 1)]
    );
    let newest = log.newest(1).next().expect("an entry");
    assert_eq!(newest.time_ms, 61_000);
    assert_eq!(newest.client_info, "id=61000");
    log.add(entry("get", "u", 121_001));
    assert_eq!(objects(&log)[0], ("get".to_string(), 1));
    log.add(entry("get", "other", 121_002));
    log.add(LogEntry {
        context: LogContext::Multi,
        ..entry("get", "other", 121_003)
    });
    assert_eq!(log.len(), 5);
}

#[test]
fn only_the_ten_newest_entries_are_looked_at_for_a_match() {
    let mut log = AclLog::default();
    log.add(entry("old", "u", 0));
    for i in 0..10 {
        log.add(entry(&format!("c{i}"), "u", 1));
    }
    log.add(entry("old", "u", 2));
    assert_eq!(log.len(), 12);
    assert_eq!(objects(&log)[0], ("old".to_string(), 1));
}

#[test]
fn the_log_keeps_acllog_max_len_entries_and_resets() {
    let mut log = AclLog::new(3);
    for i in 0..5 {
        log.add(entry(&format!("c{i}"), "u", i));
    }
    let names: Vec<String> = objects(&log).into_iter().map(|(o, _)| o).collect();
    assert_eq!(names, ["c4", "c3", "c2"]);
    log.set_len_max(1);
    assert_eq!(log.len(), 3);
    log.add(entry("c5", "u", 5));
    assert_eq!(log.len(), 1);
    log.reset();
    assert!(log.is_empty());
}

#[test]
fn an_entry_renders_redis_seven_fields() {
    let mut log = AclLog::default();
    let denied = Denied {
        reason: DenyReason::Command,
        object: b"acl|log".to_vec(),
        position: 0,
    };
    log.add_denied(
        &denied,
        LogContext::Toplevel,
        b"d",
        "id=380 cmd=acl|log".into(),
        10_000,
    );
    let e = log.newest(10).next().expect("an entry");
    let fields = e.fields(10_014);
    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "count",
            "reason",
            "context",
            "object",
            "username",
            "age-seconds",
            "client-info"
        ]
    );
    assert_eq!(fields[0].1, LogValue::Integer(1));
    assert_eq!(fields[1].1, LogValue::Bulk(b"command"));
    assert_eq!(fields[2].1, LogValue::Bulk(b"toplevel"));
    assert_eq!(fields[3].1, LogValue::Bulk(b"acl|log"));
    assert_eq!(fields[4].1, LogValue::Bulk(b"d"));
    assert_eq!(fields[5].1, LogValue::Double(0.014));
    assert_eq!(fields[6].1, LogValue::Bulk(b"id=380 cmd=acl|log"));
    assert_eq!(LogReason::Auth.name(), "auth");
    assert_eq!(LogContext::Lua.name(), "lua");
}
