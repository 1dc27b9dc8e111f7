//! Turning arguments into rules: a selector may be spread over several arguments (`(`
//! `+get` `~k)`), and a selector's own text is split as Redis splits a config line.

use super::error::AclError;

/// Whether `s` has a space or a NUL byte (C's `isspace`: space, `\t`, `\n`, `\v`, `\f`,
/// `\r`). Usernames, key and channel patterns may not.
pub(super) fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&b| is_c_space(b) || b == 0)
}

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The rules of `args`, with a selector spread over several arguments joined by spaces
/// into one rule (Redis's ACLMergeSelectorArguments). An argument starting with `(` and
/// not ending with `)` opens a selector, the next one ending with `)` closes it.
pub(super) fn merge_selectors<A: AsRef<[u8]>>(args: &[A]) -> Result<Vec<Vec<u8>>, AclError> {
    let mut merged = Vec::with_capacity(args.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, arg) in args.iter().enumerate() {
        let arg = arg.as_ref();
        if arg.first() == Some(&b'(') && arg.last() != Some(&b')') {
            open = Some((i, arg.to_vec()));
            continue;
        }
        if let Some((_, selector)) = open.as_mut() {
            selector.push(b' ');
            selector.extend_from_slice(arg);
            if arg.last() == Some(&b')') {
                if let Some((_, selector)) = open.take() {
                    merged.push(selector);
                }
            }
            continue;
        }
        merged.push(arg.to_vec());
    }
    match open {
        Some((start, _)) => Err(AclError::UnmatchedParenthesis {
            start: args[start].as_ref().to_vec(),
        }),
        None => Ok(merged),
    }
}

/// Split a selector's text into rules as Redis's sdssplitargs does: words separated by
/// blanks, `"..."` with `\n`, `\t`, `\xHH`... escapes, `'...'` with `\'`. `None` for
/// unbalanced quotes, or a closing quote not followed by a blank; the text stops at a NUL.
pub(super) fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let end = line.iter().position(|&b| b == 0).unwrap_or(line.len());
    let line = &line[..end];
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && is_c_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(args);
        }
        let (arg, next) = split_one(line, p)?;
        args.push(arg);
        p = next;
    }
}

/// One word starting at `p`, and where the next begins.
fn split_one(line: &[u8], mut p: usize) -> Option<(Vec<u8>, usize)> {
    let at = |i: usize| line.get(i).copied();
    let mut word = Vec::new();
    let (mut in_double, mut in_single) = (false, false);
    loop {
        let c = at(p);
        if in_double {
            match (c, at(p + 1)) {
                (Some(b'\\'), Some(b'x'))
                    if at(p + 2).is_some_and(|h| h.is_ascii_hexdigit())
                        && at(p + 3).is_some_and(|h| h.is_ascii_hexdigit()) =>
                {
                    let hex = std::str::from_utf8(&line[p + 2..p + 4]).ok()?;
                    word.push(u8::from_str_radix(hex, 16).ok()?);
                    p += 3;
                }
                (Some(b'\\'), Some(e)) => {
                    word.push(match e {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    p += 1;
                }
                (Some(b'"'), next) => {
                    if next.is_some_and(|n| !is_c_space(n)) {
                        return None;
                    }
                    return Some((word, p + 1));
                }
                (None, _) => return None,
                (Some(other), _) => word.push(other),
            }
        } else if in_single {
            match (c, at(p + 1)) {
                (Some(b'\\'), Some(b'\'')) => {
                    word.push(b'\'');
                    p += 1;
                }
                (Some(b'\''), next) => {
                    if next.is_some_and(|n| !is_c_space(n)) {
                        return None;
                    }
                    return Some((word, p + 1));
                }
                (None, _) => return None,
                (Some(other), _) => word.push(other),
            }
        } else {
            match c {
                None | Some(b' ' | b'\n' | b'\r' | b'\t') => return Some((word, p + 1)),
                Some(b'"') => in_double = true,
                Some(b'\'') => in_single = true,
                Some(other) => word.push(other),
            }
        }
        p += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    #[test]
    fn selector_text_splits_like_a_redis_config_line() {
        assert_eq!(split(" +get  ~k "), Some(vec!["+get".into(), "~k".into()]));
        assert_eq!(split(""), Some(vec![]));
        assert_eq!(
            split(r#""~a b" '~c\'d'"#),
            Some(vec!["~a b".into(), "~c'd".into()])
        );
        assert_eq!(split(r#""\x41\n""#), Some(vec!["A\n".into()]));
        assert_eq!(split(r#"~a"b"#), None);
        assert_eq!(split(r#""ab"c"#), None);
        assert_eq!(split("'ab"), None);
    }

    #[test]
    fn a_selector_spread_over_arguments_is_joined_with_spaces() {
        let merged = merge_selectors(&["on", "(", "+get", "~k)", "(+set)", ">p"]);
        let merged: Vec<String> = merged
            .expect("balanced")
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect();
        assert_eq!(merged, ["on", "( +get ~k)", "(+set)", ">p"]);
        assert_eq!(
            merge_selectors(&["on", "(+get", "~k"])
                .expect_err("unbalanced")
                .to_string(),
            "Unmatched parenthesis in acl selector starting at '(+get'."
        );
    }

    #[test]
    fn spaces_and_nul_are_refused_in_names_and_patterns() {
        assert!(has_spaces(b"a b"));
        assert!(has_spaces(b"a\x0bb"));
        assert!(has_spaces(b"a\0"));
        assert!(!has_spaces(b"a*b"));
    }
}
