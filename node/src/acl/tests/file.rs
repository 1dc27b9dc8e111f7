//! The ACL file (ACL LOAD, ACL SAVE) and the record of the users, against what
//! redis-server 7.0.15 loaded, saved and refused.

use super::*;
use crate::acl::{AclError, USERS_RECORD_FORMAT, UsersRecord};

const FILE: &str = "/tmp/acltest/users.acl";

#[test]
fn a_loaded_file_replaces_every_user_and_saves_as_redis_saves_it() {
    let mut users = redis_users();
    setuser(&mut users, "old", "on").expect("valid");
    let file = "user bob on +get  ~x\t\nuser dflt on nopass +@read\n\nuser carol on (~a +set) \
                ( ~b +get )\n";
    users
        .load_file(FILE, file.as_bytes())
        .expect("a valid file");
    setuser(&mut users, "zed", "on %R~z &c").expect("valid");
    let saved = "user bob on ~x resetchannels -@all +get\n\
                 user carol on resetchannels -@all (~a resetchannels -@all +set) (~b \
                 resetchannels -@all +get)\n\
                 user default on nopass ~* &* +@all\n\
                 user dflt on nopass resetchannels -@all +@read\n\
                 user zed on %R~z resetchannels &c -@all\n";
    assert_eq!(String::from_utf8_lossy(&users.file_text()), saved);
    assert!(users.get(b"old").is_none());
}

#[test]
fn a_bad_file_changes_nothing_and_lists_every_problem_as_redis_does() {
    let mut users = redis_users();
    setuser(&mut users, "old", "on").expect("valid");
    let before = users.list();
    let file = "user bob on +nosuch +get ~x\nfoo bar\nuser alice on\nuser alice off\n  user carol \
                on bogus %X~a +nope\n\nuser e\tf on\nuser\nUSER g on\n";
    let error = users
        .load_file(FILE, file.as_bytes())
        .expect_err("a bad file");
    let redis = "/tmp/acltest/users.acl:1: Error in applying operation '+nosuch': Unknown \
                 command or category name in ACL. /tmp/acltest/users.acl:2 should start with \
                 user keyword followed by the username. WARNING: Duplicate user 'alice' found \
                 on line 4. /tmp/acltest/users.acl:5: Syntax error. /tmp/acltest/users.acl:5: \
                 Error in applying operation '+nope': Unknown command or category name in ACL. \
                 '/tmp/acltest/users.acl:7: username 'e\tf' contains invalid characters. \
                 /tmp/acltest/users.acl:8 should start with user keyword followed by the \
                 username. /tmp/acltest/users.acl:9 should start with user keyword followed by \
                 the username. WARNING: ACL errors detected, no change to the previously active \
                 ACL rules was performed";
    assert_eq!(error.to_string(), redis);
    assert_eq!(users.list(), before);
}

#[test]
fn an_unmatched_parenthesis_in_a_file_is_refused() {
    let mut users = redis_users();
    let error = users
        .load_file(FILE, b"user dave (+get\n")
        .expect_err("unbalanced");
    assert_eq!(
        error.to_string(),
        "/tmp/acltest/users.acl:1: Unmatched parenthesis in selector definition.WARNING: ACL \
         errors detected, no change to the previously active ACL rules was performed"
    );
    // Redis 7.0.15 crashes on `user dave on (+get` (a rule before the selector); gdc refuses
    // it the same way.
    let error = users
        .load_file(FILE, b"user dave on (+get\n")
        .expect_err("unbalanced");
    assert!(matches!(error, AclError::File(_)));
}

#[test]
fn the_users_record_reads_back_to_the_same_users() {
    let mut users = redis_users();
    let rules = [
        (
            "alice",
            "on >p1 >p2 ~a* %R~r* &news +@read -@keyspace +select|0 (+set ~w) (&*)",
        ),
        (
            "bob",
            "skip-sanitize-payload +@all -@dangerous +config|get allkeys",
        ),
        ("default", "resetpass >pw"),
    ];
    for (name, rule) in rules {
        setuser(&mut users, name, rule).expect("valid");
    }
    let record = users.to_record();
    assert_eq!(record.format, USERS_RECORD_FORMAT);
    let again = Users::from_record(redis_commands(), PubsubDefault::AllChannels, &record)
        .expect("a valid record");
    assert_eq!(again.list(), users.list());
    for (name, _) in rules {
        assert_eq!(
            again.get(name.as_bytes()),
            users.get(name.as_bytes()),
            "{name}"
        );
    }
    let newer = UsersRecord {
        format: USERS_RECORD_FORMAT + 1,
        lines: record.lines,
    };
    assert!(Users::from_record(redis_commands(), PubsubDefault::ResetChannels, &newer).is_err());
}

#[test]
fn rules_lines_without_a_default_user_get_redis_default() {
    let lines = vec![b"user bob on ~x resetchannels -@all +get".to_vec()];
    let users = Users::from_rules_lines(redis_commands(), PubsubDefault::ResetChannels, &lines)
        .expect("valid lines");
    assert_eq!(
        users.to_rules_lines(),
        vec![
            b"user bob on ~x resetchannels -@all +get".to_vec(),
            b"user default on nopass ~* &* +@all".to_vec(),
        ]
    );
}
