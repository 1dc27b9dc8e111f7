//! What a client hears and who it is, on one node: client-side caching at expiry and at its
//! table's limit, keyspace notifications of expiries, refusals of bad input that change
//! nothing, and ACL users kept across a restart. (Across regions: coordinated.rs; as
//! redis-server answers: redis_compare.rs.)

mod common;

use common::TestNode;
use common::redis_server::{bulks, call, read_reply};
use common::wait_for;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn debug_node(dir: &std::path::Path) -> TestNode {
    TestNode::start_with(dir, |c| c.debug_command = true)
}

/// A RESP3 connection tracking the keys it reads.
fn tracker(node: &TestNode) -> TcpStream {
    let mut c = node.raw();
    call(&mut c, &["HELLO", "3"]);
    assert_eq!(call(&mut c, &["CLIENT", "TRACKING", "ON"]), b"+OK\r\n");
    c
}

fn invalidation(key: &str) -> Vec<u8> {
    format!(
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n${}\r\n{key}\r\n",
        key.len()
    )
    .into_bytes()
}

/// With active expiry off, a read that finds a tracked key expired invalidates it, after
/// the read's reply and not inside it (Redis's lazy expiry; its test needs DEBUG, which its
/// external runs skip).
#[test]
fn a_read_that_finds_a_tracked_key_expired_invalidates_it_after_its_reply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = debug_node(dir.path());
    let mut admin = node.raw();
    assert_eq!(
        call(&mut admin, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]),
        b"+OK\r\n"
    );
    let mut c = tracker(&node);
    call(&mut c, &["MSET", "x", "1", "y", "2"]);
    assert_eq!(
        call(&mut c, &["MGET", "x", "y"]),
        b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    call(&mut admin, &["PEXPIRE", "y", "50"]);
    // The PEXPIRE itself invalidated y; read it again so that it is tracked again.
    assert_eq!(read_reply(&mut c), invalidation("y"));
    assert_eq!(call(&mut c, &["GET", "y"]), b"$1\r\n2\r\n");
    wait_for("y expires", WAIT, || {
        (call(&mut admin, &["PTTL", "y"]) == b":-2\r\n").then_some(())
    });
    c.write_all(&common::redis_server::request(&["MGET", "x", "y"]))
        .expect("write");
    assert_eq!(read_reply(&mut c), b"*2\r\n$1\r\n1\r\n_\r\n");
    assert_eq!(read_reply(&mut c), invalidation("y"));
    // Told once: a second read of the expired key tells nothing more.
    assert_eq!(call(&mut c, &["GET", "y"]), b"_\r\n");
    assert_eq!(call(&mut c, &["PING"]), b"+PONG\r\n");
}

/// With active expiry on, a key's expiry is told when it passes: an `expired` event (once,
/// though the key's removal follows) and an invalidation for a BCAST client.
#[test]
fn an_expiry_is_told_once_when_it_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = debug_node(dir.path());
    let mut admin = node.raw();
    call(
        &mut admin,
        &["CONFIG", "SET", "notify-keyspace-events", "Ex"],
    );
    let mut events = node.raw();
    call(&mut events, &["PSUBSCRIBE", "__keyevent@*"]);
    let mut bcast = node.raw();
    call(&mut bcast, &["HELLO", "3"]);
    call(
        &mut bcast,
        &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "k"],
    );
    call(&mut admin, &["SET", "k1", "v", "PX", "30"]);
    assert_eq!(read_reply(&mut bcast), invalidation("k1"), "the SET");
    assert_eq!(read_reply(&mut bcast), invalidation("k1"), "the expiry");
    let heard = bulks(&read_reply(&mut events));
    assert_eq!(
        heard[2..],
        [b"__keyevent@0__:expired".to_vec(), b"k1".to_vec()]
    );
    // After the removal: a publish shows that nothing else was queued before it.
    wait_for("k1 removed", WAIT, || {
        (call(&mut admin, &["DBSIZE"]) == b":0\r\n").then_some(())
    });
    call(&mut admin, &["PUBLISH", "__keyevent@0__:mark", "m"]);
    let next = bulks(&read_reply(&mut events));
    assert_eq!(next[2], b"__keyevent@0__:mark");
}

/// `tracking-table-max-keys`: keys over it are forgotten and their readers told, down to
/// exactly the limit (INFO's counts say so).
#[test]
fn the_tracking_table_keeps_to_its_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut admin = node.raw();
    let mut c = tracker(&node);
    for i in 0..20 {
        call(&mut c, &["GET", &format!("key{i}")]);
    }
    let info = |admin: &mut TcpStream, field: &str| -> String {
        let text = String::from_utf8_lossy(&call(admin, &["INFO", "stats"])).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
            .expect("field")
    };
    assert_eq!(info(&mut admin, "tracking_total_keys"), "20");
    assert_eq!(
        call(
            &mut admin,
            &["CONFIG", "SET", "tracking-table-max-keys", "5"]
        ),
        b"+OK\r\n"
    );
    // The limit is kept before the next command: 15 invalidations come first.
    c.write_all(&common::redis_server::request(&["PING"]))
        .expect("write");
    for _ in 0..15 {
        let push = read_reply(&mut c);
        assert!(push.starts_with(b">2\r\n$10\r\ninvalidate\r\n"), "{push:?}");
    }
    assert_eq!(read_reply(&mut c), b"+PONG\r\n");
    assert_eq!(info(&mut admin, "tracking_total_keys"), "5");
    assert_eq!(info(&mut admin, "tracking_total_items"), "5");
}

/// A script that runs a read makes a tracking caller remember the keys the script
/// declared (Redis's rule, not the keys of the read); one that only writes remembers none;
/// and a FLUSHALL empties the table even when no client tracks any more.
#[test]
fn scripts_track_their_declared_keys_and_flushall_empties_the_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut admin = node.raw();
    let mut c = tracker(&node);
    let keys = |admin: &mut TcpStream| -> String {
        let text = String::from_utf8_lossy(&call(admin, &["INFO", "stats"])).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix("tracking_total_keys:").map(str::to_string))
            .expect("field")
    };
    let eval = |c: &mut TcpStream, body: &str| {
        call(c, &["EVAL", body, "2", "k1", "k2"]);
    };
    eval(&mut c, "redis.call('set', 'k3', 'v')");
    assert_eq!(keys(&mut admin), "0", "a script that only writes");
    eval(&mut c, "redis.call('get', 'k3')");
    assert_eq!(keys(&mut admin), "2", "k1 and k2, not k3");
    call(&mut admin, &["MSET", "k2", "x", "k1", "y"]);
    assert_eq!(read_reply(&mut c), invalidation("k2"));
    assert_eq!(read_reply(&mut c), invalidation("k1"));
    call(&mut c, &["GET", "k3"]);
    assert_eq!(keys(&mut admin), "1");
    assert_eq!(call(&mut c, &["CLIENT", "TRACKING", "OFF"]), b"+OK\r\n");
    call(&mut admin, &["FLUSHALL"]);
    assert_eq!(keys(&mut admin), "0", "emptied with no client tracking");
}

/// Bad input is refused with Redis's words and changes nothing: a tracking redirect to a
/// client that does not exist, a notification class that does not exist, an ACL rule that
/// does not parse.
#[test]
fn bad_tracking_notification_and_acl_input_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.raw();
    assert_eq!(
        call(&mut c, &["CLIENT", "TRACKING", "ON", "REDIRECT", "987654"]),
        b"-ERR The client ID you want redirect to does not exist\r\n"
    );
    assert_eq!(call(&mut c, &["CLIENT", "GETREDIR"]), b":-1\r\n");
    call(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "KEg"]);
    assert_eq!(
        call(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "KEgq"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n"
    );
    assert_eq!(
        call(&mut c, &["CONFIG", "GET", "notify-keyspace-events"]),
        b"*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\ngKE\r\n"
    );
    assert_eq!(
        call(&mut c, &["ACL", "SETUSER", "eve", "on", "+get", "nonsense"]),
        b"-ERR Error in ACL SETUSER modifier 'nonsense': Syntax error\r\n"
    );
    assert_eq!(call(&mut c, &["ACL", "USERS"]), b"*1\r\n$7\r\ndefault\r\n");
}

/// A standalone node keeps its users in its data directory: after a restart they log in
/// with the same rules.
#[test]
fn users_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let node = TestNode::start(dir.path(), None);
        let mut c = node.raw();
        let made = call(
            &mut c,
            &["ACL", "SETUSER", "ann", "on", ">pw", "~a:*", "+get"],
        );
        assert_eq!(made, b"+OK\r\n");
    }
    let node = TestNode::start(dir.path(), None);
    let mut c = node.raw();
    assert_eq!(call(&mut c, &["AUTH", "ann", "pw"]), b"+OK\r\n");
    assert_eq!(call(&mut c, &["GET", "a:1"]), b"$-1\r\n");
    assert_eq!(
        call(&mut c, &["GET", "b"]),
        b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
    );
}

/// A subscriber whose user may no longer use a channel it listens on is disconnected, as
/// Redis 7.0 does; one whose channels are still allowed stays.
#[test]
fn a_subscriber_whose_channels_are_taken_away_is_disconnected() {
    use std::io::Read;
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut admin = node.raw();
    let made = call(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "sub",
            "on",
            ">pw",
            "+@all",
            "resetchannels",
            "&news:*",
        ],
    );
    assert_eq!(made, b"+OK\r\n");
    let subscriber = |channel: &str| {
        let mut c = node.raw();
        assert_eq!(call(&mut c, &["AUTH", "sub", "pw"]), b"+OK\r\n");
        let reply = call(&mut c, &["SUBSCRIBE", channel]);
        assert!(reply.starts_with(b"*3\r\n$9\r\nsubscribe"), "{reply:?}");
        c
    };
    let (mut news, mut sport) = (subscriber("news:1"), subscriber("news:2"));
    // news:2 stays allowed, news:1 does not.
    let changed = call(
        &mut admin,
        &["ACL", "SETUSER", "sub", "resetchannels", "&news:2"],
    );
    assert_eq!(changed, b"+OK\r\n");
    let mut rest = Vec::new();
    assert!(
        news.read_to_end(&mut rest).is_ok() && rest.is_empty(),
        "closed"
    );
    assert_eq!(call(&mut admin, &["PUBLISH", "news:2", "hi"]), b":1\r\n");
    let message = bulks(&read_reply(&mut sport));
    assert_eq!(message, [&b"message"[..], b"news:2", b"hi"]);
}

/// With an `aclfile`, the node starts with its users, ACL SAVE writes them there and ACL
/// LOAD reads them back; a file that does not read is refused whole, nothing changed.
#[test]
fn the_aclfile_is_read_at_start_saved_and_loaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("users.acl");
    std::fs::write(&file, "user ann on >pw ~a:* +get\n").expect("write aclfile");
    let start = |file: &std::path::Path| {
        let file = file.to_path_buf();
        TestNode::start_with(&dir.path().join("data"), move |c| c.acl_file = Some(file))
    };
    let node = start(&file);
    let mut c = node.raw();
    assert_eq!(call(&mut c, &["AUTH", "ann", "pw"]), b"+OK\r\n");
    assert_eq!(call(&mut c, &["AUTH", "default", "x"]), b"+OK\r\n");
    assert_eq!(
        call(&mut c, &["ACL", "SETUSER", "bob", "on", "nopass"]),
        b"+OK\r\n"
    );
    assert_eq!(call(&mut c, &["ACL", "SAVE"]), b"+OK\r\n");
    let saved = std::fs::read_to_string(&file).expect("read aclfile");
    assert!(saved.contains("user bob on nopass"), "{saved}");
    assert!(saved.contains("user ann on #"), "{saved}");

    std::fs::write(&file, "user carl on nopass +@all ~*\nuser dora nonsense\n").expect("write");
    let refused = call(&mut c, &["ACL", "LOAD"]);
    // Redis's words, as redis-server 7.0.15 gives them for this file.
    let words = format!(
        "-ERR {}:2: Syntax error. WARNING: ACL errors detected, no change to the previously active ACL rules was performed\r\n",
        file.display()
    );
    assert_eq!(String::from_utf8_lossy(&refused), words);
    assert_eq!(
        call(&mut c, &["ACL", "USERS"]),
        b"*3\r\n$3\r\nann\r\n$3\r\nbob\r\n$7\r\ndefault\r\n",
        "nothing changed"
    );
    std::fs::write(&file, "user carl on nopass +@all ~*\n").expect("write");
    assert_eq!(call(&mut c, &["ACL", "LOAD"]), b"+OK\r\n");
    assert_eq!(
        call(&mut c, &["ACL", "USERS"]),
        b"*2\r\n$4\r\ncarl\r\n$7\r\ndefault\r\n"
    );
    drop(node);
    let node = start(&file);
    let mut c = node.raw();
    assert_eq!(call(&mut c, &["AUTH", "carl", "any"]), b"+OK\r\n");
}
