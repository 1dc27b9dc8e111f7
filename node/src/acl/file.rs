//! The users as text: the ACL file (ACL LOAD, ACL SAVE) and the record that carries the
//! users to other nodes and to the data dir. Both are ACL LIST's lines, which describe a
//! user completely and are read back by the same rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{AclError, RuleError};
use super::rules::{has_spaces, merge_selectors};
use super::user::{Env, User};

/// The version of [`UsersRecord`]'s layout.
pub const USERS_RECORD_FORMAT: u32 = 1;

/// Every user, to replicate or store: the format, then one ACL LIST line per user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersRecord {
    pub format: u32,
    pub lines: Vec<Vec<u8>>,
}

/// The users of an ACL file (Redis's ACLLoadFromFile): lines split on `\n` and trimmed,
/// blank ones skipped, each `user <name> <rule> <rule>...` with rules split on single
/// spaces.
pub(super) fn parse_file(
    env: Env<'_>,
    file: &str,
    text: &[u8],
) -> Result<BTreeMap<Vec<u8>, User>, AclError> {
    let mut users = BTreeMap::new();
    let mut errors = String::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = trim(line, b" \t\r\n");
        if line.is_empty() {
            continue;
        }
        let n = i + 1;
        let args: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if args[0] != b"user" || args.len() < 2 {
            errors +=
                &format!("{file}:{n} should start with user keyword followed by the username. ");
            continue;
        }
        let name = args[1];
        if has_spaces(name) {
            errors += &format!(
                "'{file}:{n}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            );
            continue;
        }
        if users.contains_key(name) {
            errors += &format!(
                "WARNING: Duplicate user '{}' found on line {n}. ",
                String::from_utf8_lossy(name)
            );
            continue;
        }
        let user = parse_user(env, &args[2..], &mut errors, &format!("{file}:{n}"));
        users.insert(name.to_vec(), user);
    }
    if errors.is_empty() {
        return Ok(users);
    }
    errors += "WARNING: ACL errors detected, no change to the previously active ACL rules was \
               performed";
    Err(AclError::File(errors))
}

/// One line's user; its problems are added to `errors`: every unknown command or category,
/// and the first other error.
fn parse_user(env: Env<'_>, args: &[&[u8]], errors: &mut String, at: &str) -> User {
    let mut user = User::new(env);
    let Ok(rules) = merge_selectors(args) else {
        *errors += &format!("{at}: Unmatched parenthesis in selector definition.");
        return user;
    };
    let mut syntax_error = false;
    for rule in &rules {
        let rule = trim(rule, b"\t\r\n");
        match user.apply(env, rule) {
            Ok(()) => {}
            Err(RuleError::Unknown) => {
                *errors += &format!(
                    "{at}: Error in applying operation '{}': {}. ",
                    String::from_utf8_lossy(rule),
                    RuleError::Unknown
                );
            }
            Err(error) if !syntax_error => {
                *errors += &format!("{at}: {error}. ");
                syntax_error = true;
            }
            Err(_) => {}
        }
    }
    user
}

fn trim<'a>(s: &'a [u8], set: &[u8]) -> &'a [u8] {
    let start = s.iter().position(|b| !set.contains(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !set.contains(b))
        .map_or(start, |e| e + 1);
    &s[start..end]
}
