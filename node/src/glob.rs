//! Redis's glob patterns (KEYS, SCAN MATCH, CONFIG GET): `*`, `?`, `[abc]`, `[^a]`, `[a-z]`,
//! and `\` to escape.

/// Whether `s` matches `pat`.
pub fn matches(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    // Where to resume after the last `*`: (pattern position, string position).
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star = Some((p + 1, i));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((hit, next)) = class(pat, p, s[i]) {
                        if hit {
                            p = next;
                            i += 1;
                            continue;
                        }
                    }
                }
                b'\\' if p + 1 < pat.len() => {
                    if pat[p + 1] == s[i] {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if c == s[i] {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Match `c` against the class starting at `pat[p] == b'['`: (matched, position after it).
fn class(pat: &[u8], mut p: usize, c: u8) -> Option<(bool, usize)> {
    p += 1;
    let negate = pat.get(p) == Some(&b'^');
    if negate {
        p += 1;
    }
    let mut hit = false;
    loop {
        let x = *pat.get(p)?;
        if x == b']' {
            return Some((hit != negate, p + 1));
        }
        if x == b'\\' && p + 1 < pat.len() {
            hit |= pat[p + 1] == c;
            p += 2;
        } else if pat.get(p + 1) == Some(&b'-') && pat.get(p + 2).is_some_and(|&e| e != b']') {
            let (a, b) = (x.min(pat[p + 2]), x.max(pat[p + 2]));
            hit |= (a..=b).contains(&c);
            p += 3;
        } else {
            hit |= x == c;
            p += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs_like_redis() {
        assert!(matches(b"*", b"anything"));
        assert!(matches(b"h?llo", b"hello"));
        assert!(matches(b"h*llo", b"heeeello"));
        assert!(matches(b"h[ae]llo", b"hallo"));
        assert!(!matches(b"h[^e]llo", b"hello"));
        assert!(matches(b"h[a-b]llo", b"hbllo"));
        assert!(matches(b"a\\*b", b"a*b"));
        assert!(!matches(b"a\\*b", b"axb"));
        assert!(matches(b"*:*", b"user:1"));
        assert!(!matches(b"user:?", b"user:12"));
        assert!(matches(b"maxmemory*", b"maxmemory-policy"));
    }
}
