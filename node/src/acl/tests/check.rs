//! The permission check, against ACL DRYRUN's and the NOPERM replies of redis-server 7.0.15
//! for the same user and commands.

use super::*;
use crate::acl::{ChannelRef, Denied, DenyReason, KeyAccess, KeyRef, Request};

/// The user redis-server was given: `ACL SETUSER d on nopass +get ~a (+set ~b) +publish
/// &news.* +psubscribe +select|0 +exists %W~w +lmove %R~src`.
fn dryrun_user() -> Users {
    let mut users = Users::new(small_commands(), PubsubDefault::ResetChannels);
    let rules = "on nopass +get ~a (+set ~b) +publish &news.* +psubscribe +select|0 +exists \
                 %W~w +lmove %R~src";
    setuser(&mut users, "d", rules).expect("valid rules");
    users
}

/// One command: its name, the argument after it, its keys with how it uses them (as its
/// key specs say), its channels.
struct Call<'a> {
    command: &'a str,
    first_arg: Option<&'a str>,
    keys: Vec<(&'a str, KeyAccess)>,
    channels: Vec<(&'a str, bool)>,
}

fn call<'a>(command: &'a str, first_arg: Option<&'a str>) -> Call<'a> {
    Call {
        command,
        first_arg,
        keys: Vec::new(),
        channels: Vec::new(),
    }
}

fn check(users: &Users, user: &str, c: &Call<'_>) -> Result<(), Denied> {
    let commands = users.commands();
    let keys: Vec<KeyRef<'_>> = c
        .keys
        .iter()
        .map(|(k, access)| KeyRef {
            name: k.as_bytes(),
            access: *access,
        })
        .collect();
    let channels: Vec<ChannelRef<'_>> = c
        .channels
        .iter()
        .map(|(name, is_pattern)| ChannelRef {
            name: name.as_bytes(),
            is_pattern: *is_pattern,
        })
        .collect();
    let req = Request {
        command: commands
            .lookup(c.command.as_bytes())
            .expect("a known command"),
        first_arg: c.first_arg.map(str::as_bytes),
        keys: &keys,
        channels: &channels,
    };
    users
        .get(user.as_bytes())
        .expect("the user exists")
        .check(commands, &req)
}

/// ACL DRYRUN's answer.
fn dryrun(users: &Users, c: Call<'_>) -> String {
    match check(users, "d", &c) {
        Ok(()) => "OK".to_string(),
        Err(denied) => String::from_utf8_lossy(&denied.dryrun_reply()).into_owned(),
    }
}

fn key(k: &str, access: KeyAccess) -> Vec<(&str, KeyAccess)> {
    vec![(k, access)]
}

#[test]
fn dryrun_answers_as_redis_for_commands_keys_and_channels() {
    let users = dryrun_user();
    let (read, write, rw) = (KeyAccess::READ, KeyAccess::WRITE, KeyAccess::READ_WRITE);
    let no_access = KeyAccess::from_key_spec(false, false, false, false);
    let cases: Vec<(Call<'_>, &str)> = vec![
        (
            Call {
                keys: key("a", read),
                ..call("get", Some("a"))
            },
            "OK",
        ),
        (
            Call {
                keys: key("b", read),
                ..call("get", Some("b"))
            },
            "This user has no permissions to access the 'b' key",
        ),
        (
            Call {
                keys: key("b", write),
                ..call("set", Some("b"))
            },
            "OK",
        ),
        (
            Call {
                keys: key("a", write),
                ..call("set", Some("a"))
            },
            "This user has no permissions to access the 'a' key",
        ),
        (
            Call {
                keys: key("c", write),
                ..call("set", Some("c"))
            },
            "This user has no permissions to access the 'c' key",
        ),
        (
            Call {
                channels: vec![("news.x", false)],
                ..call("publish", Some("news.x"))
            },
            "OK",
        ),
        (
            Call {
                channels: vec![("other", false)],
                ..call("publish", Some("other"))
            },
            "This user has no permissions to access the 'other' channel",
        ),
        (
            Call {
                channels: vec![("news.*", true)],
                ..call("psubscribe", Some("news.*"))
            },
            "OK",
        ),
        (
            Call {
                channels: vec![("news.x", true)],
                ..call("psubscribe", Some("news.x"))
            },
            "This user has no permissions to access the 'news.x' channel",
        ),
        (call("select", Some("0")), "OK"),
        (
            call("select", Some("1")),
            "This user has no permissions to run the 'select' command",
        ),
        (
            Call {
                keys: key("w", no_access),
                ..call("exists", Some("w"))
            },
            "OK",
        ),
        (
            Call {
                keys: vec![("src", rw), ("w", write)],
                ..call("lmove", Some("src"))
            },
            "This user has no permissions to access the 'src' key",
        ),
        (
            Call {
                keys: vec![("w", rw), ("src", write)],
                ..call("lmove", Some("w"))
            },
            "This user has no permissions to access the 'w' key",
        ),
        (
            Call {
                keys: vec![("src", rw), ("src", write)],
                ..call("lmove", Some("src"))
            },
            "This user has no permissions to access the 'src' key",
        ),
        (call("auth", Some("x")), "OK"),
        (
            call("client|id", None),
            "This user has no permissions to run the 'client|id' command",
        ),
        (
            call("debug", Some("digest")),
            "This user has no permissions to run the 'debug' command",
        ),
    ];
    for (c, redis) in cases {
        let what = format!("{} {:?}", c.command, c.first_arg);
        assert_eq!(dryrun(&users, c), redis, "{what}");
    }
}

#[test]
fn refusals_give_redis_noperm_errors() {
    let users = dryrun_user();
    let denied = |c: Call<'_>| check(&users, "d", &c).expect_err("refused").noperm_error();
    assert_eq!(
        denied(Call {
            keys: key("b", KeyAccess::READ),
            ..call("get", Some("b"))
        }),
        "NOPERM this user has no permissions to access one of the keys used as arguments"
    );
    assert_eq!(
        denied(call("client|id", None)),
        "NOPERM this user has no permissions to run the 'client|id' command"
    );
    assert_eq!(
        denied(Call {
            channels: vec![("other", false)],
            ..call("publish", Some("other"))
        }),
        "NOPERM this user has no permissions to access one of the channels used as arguments"
    );
    assert_eq!(
        denied(call("select", Some("1"))),
        "NOPERM this user has no permissions to run the 'select' command"
    );
}

#[test]
fn a_key_refusal_names_the_last_refused_key_of_all_selectors() {
    let mut users = Users::new(small_commands(), PubsubDefault::ResetChannels);
    setuser(&mut users, "d", "on +lmove ~a (+lmove ~b)").expect("valid rules");
    let c = Call {
        keys: vec![("b", KeyAccess::READ_WRITE), ("a", KeyAccess::WRITE)],
        ..call("lmove", Some("b"))
    };
    let denied = check(&users, "d", &c).expect_err("no selector allows both keys");
    assert_eq!(denied.reason, DenyReason::Key);
    assert_eq!(denied.object, b"a");
    let c = Call {
        keys: vec![("a", KeyAccess::READ_WRITE), ("a", KeyAccess::WRITE)],
        ..call("lmove", Some("a"))
    };
    assert_eq!(check(&users, "d", &c), Ok(()));
}

#[test]
fn read_and_write_patterns_grant_only_their_access() {
    let mut users = Users::new(small_commands(), PubsubDefault::ResetChannels);
    setuser(&mut users, "d", "on +@all %R~r* %W~w* ~both").expect("valid rules");
    let user = users.get(b"d").expect("created");
    assert!(user.check_key(b"r1", KeyAccess::READ));
    assert!(!user.check_key(b"r1", KeyAccess::WRITE));
    assert!(user.check_key(b"w1", KeyAccess::WRITE));
    assert!(!user.check_key(b"w1", KeyAccess::READ_WRITE));
    assert!(user.check_key(b"both", KeyAccess::READ_WRITE));
    assert!(user.check_key(b"w1", KeyAccess::default()));
    assert!(!user.check_key(b"other", KeyAccess::default()));
    assert_eq!(
        KeyAccess::from_key_spec(true, false, true, false),
        KeyAccess::READ_WRITE
    );
}

#[test]
fn channels_match_as_globs_and_patterns_only_literally() {
    let mut users = Users::new(small_commands(), PubsubDefault::ResetChannels);
    setuser(&mut users, "d", "on &news.*").expect("valid rules");
    let user = users.get(b"d").expect("created");
    assert!(user.check_channel(b"news.x", false));
    assert!(!user.check_channel(b"news.x", true));
    assert!(user.check_channel(b"news.*", true));
    assert!(!user.check_channel(b"sport", false));
}

#[test]
fn every_key_access_needs_allkeys_or_a_star_pattern_with_that_access() {
    let mut users = Users::new(small_commands(), PubsubDefault::ResetChannels);
    setuser(&mut users, "d", "on +@all %R~* (+get %W~*)").expect("valid rules");
    let user = users.get(b"d").expect("created");
    let commands = users.commands();
    let req = Request {
        command: commands.lookup(b"get").expect("known"),
        first_arg: None,
        keys: &[],
        channels: &[],
    };
    assert!(user.check_with_every_key(commands, &req, KeyAccess::READ));
    assert!(user.check_with_every_key(commands, &req, KeyAccess::WRITE));
    assert!(!user.check_with_every_key(commands, &req, KeyAccess::READ_WRITE));
}

#[test]
fn subcommands_follow_their_container_and_first_args_ignore_case() {
    let mut users = Users::new(small_commands(), PubsubDefault::ResetChannels);
    setuser(
        &mut users,
        "d",
        "on +@all -client +client|id -select +select|db0",
    )
    .expect("valid");
    assert_eq!(check(&users, "d", &call("client|id", None)), Ok(()));
    let kill = check(&users, "d", &call("client|kill", None)).expect_err("refused");
    assert_eq!(kill.object, b"client|kill");
    assert_eq!(check(&users, "d", &call("select", Some("DB0"))), Ok(()));
    assert!(check(&users, "d", &call("select", None)).is_err());
    setuser(&mut users, "d", "+select").expect("valid");
    assert_eq!(check(&users, "d", &call("select", Some("7"))), Ok(()));
}

#[test]
fn a_disabled_or_unknown_user_or_a_wrong_password_does_not_authenticate() {
    let mut users = Users::new(small_commands(), PubsubDefault::ResetChannels);
    setuser(&mut users, "a", "on >secret").expect("valid");
    setuser(&mut users, "b", ">secret").expect("valid");
    assert!(users.authenticate(b"a", b"secret"));
    assert!(!users.authenticate(b"a", b"Secret"));
    assert!(!users.authenticate(b"b", b"secret"));
    assert!(!users.authenticate(b"c", b"secret"));
    assert!(users.authenticate(b"default", b"anything"));
    users.set_default_password(Some(b"pw"));
    assert!(!users.authenticate(b"default", b"anything"));
    assert!(users.authenticate(b"default", b"pw"));
    assert_eq!(
        list_line(&users, "default"),
        format!(
            "user default on #{} ~* &* +@all",
            crate::acl::hex_sha256(b"pw")
        )
    );
    users.set_default_password(None);
    assert_eq!(
        list_line(&users, "default"),
        "user default on nopass ~* &* +@all"
    );
}

#[test]
fn exec_and_script_refusals_use_redis_reasons() {
    let denied = Denied {
        reason: DenyReason::Key,
        object: b"k".to_vec(),
        position: 0,
    };
    assert_eq!(
        denied.exec_error(),
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the \
         EXEC call. This command is no longer allowed for the following reason: no permission \
         to touch the specified keys"
    );
    assert_eq!(
        format!("The user executing the script {}", denied.script_reason()),
        "The user executing the script can't access at least one of the keys mentioned in the \
         command arguments"
    );
}
