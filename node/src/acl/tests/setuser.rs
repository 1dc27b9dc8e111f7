//! ACL SETUSER's refusals, worded as redis-server 7.0.15 worded them, and its all-or-none
//! rule.

use super::*;

/// (the rules of one ACL SETUSER on a new user, redis-server 7.0.15's error).
const REDIS_ERRORS: &[(&str, &str)] = &[
    (
        "+nosuchcmd",
        "ERR Error in ACL SETUSER modifier '+nosuchcmd': Unknown command or category name in ACL",
    ),
    (
        "-@nosuch",
        "ERR Error in ACL SETUSER modifier '-@nosuch': Unknown command or category name in ACL",
    ),
    (
        "+@",
        "ERR Error in ACL SETUSER modifier '+@': Unknown command or category name in ACL",
    ),
    (
        "+",
        "ERR Error in ACL SETUSER modifier '+': Unknown command or category name in ACL",
    ),
    (
        "bogus",
        "ERR Error in ACL SETUSER modifier 'bogus': Syntax error",
    ),
    (
        "&*  &x",
        "ERR Error in ACL SETUSER modifier '&x': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
    ),
    (
        "~* ~k",
        "ERR Error in ACL SETUSER modifier '~k': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
    ),
    (
        "allkeys %R~k",
        "ERR Error in ACL SETUSER modifier '%R~k': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
    ),
    (
        "%X~a",
        "ERR Error in ACL SETUSER modifier '%X~a': Syntax error",
    ),
    (
        "%~a",
        "ERR Error in ACL SETUSER modifier '%~a': Syntax error",
    ),
    ("%", "ERR Error in ACL SETUSER modifier '%': Syntax error"),
    (
        "<nopass",
        "ERR Error in ACL SETUSER modifier '<nopass': The password you are trying to remove from the user does not exist",
    ),
    (
        "!abc",
        "ERR Error in ACL SETUSER modifier '!abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
    ),
    (
        "#ABCDEF0000000000000000000000000000000000000000000000000000000000",
        "ERR Error in ACL SETUSER modifier '#ABCDEF0000000000000000000000000000000000000000000000000000000000': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
    ),
    (
        "+client|id|x",
        "ERR Error in ACL SETUSER modifier '+client|id|x': Allowing first-arg of a subcommand is not supported",
    ),
    (
        "+get|",
        "ERR Error in ACL SETUSER modifier '+get|': Syntax error",
    ),
    (
        "+client|",
        "ERR Error in ACL SETUSER modifier '+client|': Syntax error",
    ),
    (
        "-client|nope",
        "ERR Error in ACL SETUSER modifier '-client|nope': Unknown command or category name in ACL",
    ),
    (
        "(+get",
        "ERR Unmatched parenthesis in acl selector starting at '(+get'.",
    ),
    (
        "(>p)",
        "ERR Error in ACL SETUSER modifier '(>p)': Syntax error",
    ),
    (
        "(on)",
        "ERR Error in ACL SETUSER modifier '(on)': Syntax error",
    ),
    (
        "(+get +nosuch) ~k",
        "ERR Error in ACL SETUSER modifier '(+get +nosuch)': Unknown command or category name in ACL",
    ),
    (
        "on +get +nosuch",
        "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL",
    ),
    (
        "+select|0|1",
        "ERR Error in ACL SETUSER modifier '+select|0|1': Unknown command or category name in ACL",
    ),
    (
        "-select|0",
        "ERR Error in ACL SETUSER modifier '-select|0': Unknown command or category name in ACL",
    ),
    (
        "+config|get|x",
        "ERR Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is not supported",
    ),
];

#[test]
fn refused_rules_get_redis_errors_and_create_no_user() {
    for (rules, redis_error) in REDIS_ERRORS {
        let mut users = redis_users();
        assert_eq!(
            setuser(&mut users, "u", rules).as_ref(),
            Err(&redis_error.to_string())
        );
        assert!(users.get(b"u").is_none(), "rules: {rules}");
    }
}

#[test]
fn a_refused_rule_leaves_an_existing_user_as_it_was() {
    let mut users = redis_users();
    setuser(&mut users, "u", "on >p ~k +get").expect("valid");
    let before = list_line(&users, "u");
    let refused = setuser(&mut users, "u", "off resetkeys +set +nosuch");
    assert_eq!(
        refused,
        Err(
            "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in \
             ACL"
            .to_string()
        )
    );
    assert_eq!(list_line(&users, "u"), before);
}

#[test]
fn usernames_with_spaces_and_removing_default_are_refused() {
    let mut users = redis_users();
    assert_eq!(
        users.set_user(b"a b", &["on"]).map_err(|e| e.to_string()),
        Err("Usernames can't contain spaces or null characters".to_string())
    );
    setuser(&mut users, "a", "on").expect("valid");
    setuser(&mut users, "b", "on").expect("valid");
    assert_eq!(
        users.delete(&["a", "default"]).map_err(|e| e.to_string()),
        Err("The 'default' user cannot be removed".to_string())
    );
    assert_eq!(users.delete(&["a", "b", "c"]), Ok(2));
    let names: Vec<&[u8]> = users.names().collect();
    assert_eq!(names, [b"default".as_slice()]);
}

#[test]
fn getuser_shows_the_fields_redis_shows() {
    let mut users = redis_users();
    setuser(
        &mut users,
        "u",
        "on >pw +@all -debug ~k* %R~r* &ch (+get ~x) (+set %W~w &*)",
    )
    .expect("valid");
    let info = users.get(b"u").expect("created").info(users.commands());
    assert_eq!(info.flags, ["on"]);
    assert_eq!(
        info.passwords,
        ["30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"]
    );
    let text = |s: &crate::acl::SelectorInfo| {
        [&s.commands, &s.keys, &s.channels].map(|f| String::from_utf8_lossy(f).into_owned())
    };
    assert_eq!(text(&info.root), ["+@all -debug", "~k* %R~r*", "&ch"]);
    assert_eq!(info.selectors.len(), 2);
    assert_eq!(text(&info.selectors[0]), ["-@all +get", "~x", ""]);
    assert_eq!(text(&info.selectors[1]), ["-@all +set", "%W~w", "&*"]);
    setuser(&mut users, "v", "").expect("valid");
    let info = users.get(b"v").expect("created").info(users.commands());
    assert_eq!(info.flags, ["off"]);
    assert_eq!(text(&info.root), ["-@all", "", ""]);
    let default = users
        .get(b"default")
        .expect("exists")
        .info(users.commands());
    assert_eq!(default.flags, ["on", "nopass"]);
    assert_eq!(text(&default.root), ["+@all", "~*", "&*"]);
}

#[test]
fn acl_pubsub_default_allchannels_gives_new_users_and_selectors_every_channel() {
    let mut users = redis_users();
    users.set_pubsub_default(PubsubDefault::AllChannels);
    setuser(&mut users, "u", "on (+get)").expect("valid");
    assert_eq!(list_line(&users, "u"), "user u on &* -@all (&* -@all +get)");
    setuser(&mut users, "u", "reset").expect("valid");
    assert_eq!(
        list_line(&users, "u"),
        "user u off sanitize-payload &* -@all"
    );
    users.set_pubsub_default(PubsubDefault::ResetChannels);
    setuser(&mut users, "u", "reset").expect("valid");
    assert_eq!(
        list_line(&users, "u"),
        "user u off sanitize-payload resetchannels -@all"
    );
}

#[test]
fn acl_cat_lists_categories_in_redis_order_and_a_category_commands() {
    let users = Users::new(small_commands(), PubsubDefault::ResetChannels);
    assert_eq!(crate::acl::CATEGORY_NAMES.len(), 21);
    assert_eq!(
        crate::acl::CATEGORY_NAMES[..3],
        ["keyspace", "read", "write"]
    );
    assert_eq!(
        crate::acl::category_commands(users.commands(), b"Connection"),
        Ok(vec!["auth", "client|id", "client|kill", "select"])
    );
    assert_eq!(
        crate::acl::category_commands(users.commands(), b"nope").map_err(|e| e.to_string()),
        Err("Unknown category 'nope'".to_string())
    );
}

#[test]
fn genpass_gives_the_bits_asked_rounded_up_to_hex_digits() {
    assert_eq!(crate::acl::genpass(256).map(|p| p.len()), Ok(64));
    assert_eq!(crate::acl::genpass(1).map(|p| p.len()), Ok(1));
    assert_eq!(crate::acl::genpass(5).map(|p| p.len()), Ok(2));
    assert_eq!(crate::acl::genpass(4096).map(|p| p.len()), Ok(1024));
    let pass = crate::acl::genpass(128).expect("random bytes");
    assert!(
        pass.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_ne!(crate::acl::genpass(128), Ok(pass));
    for bits in [0, -1, 4097] {
        assert_eq!(
            crate::acl::genpass(bits).map_err(|e| e.to_string()),
            Err(
                "ACL GENPASS argument must be the number of bits for the output password, a \
                 positive number up to 4096"
                    .to_string()
            )
        );
    }
}

#[test]
fn a_refused_rule_with_a_newline_is_shown_on_one_line() {
    let mut users = redis_users();
    let refused = users
        .set_user(b"u", &["bo\r\ngus"])
        .map_err(|e| e.to_string());
    assert_eq!(
        refused,
        Err("Error in ACL SETUSER modifier 'bo  gus': Syntax error".to_string())
    );
}
