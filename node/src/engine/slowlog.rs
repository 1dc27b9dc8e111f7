//! The slow log (SLOWLOG): the last commands that took at least `slowlog-log-slower-than`
//! µs, newest first, as Redis keeps it: each with an id, when it ran, how long it took, its
//! arguments (at most 32, each cut at 128 bytes; the caller redacts secrets) and its client.

use bytes::Bytes;
use std::collections::VecDeque;

/// Arguments kept per entry; past it, the last one says how many more there were.
const ARGS_MAX: usize = 32;
/// Bytes kept per argument; past it, the argument says how many more there were.
const ARG_BYTES_MAX: usize = 128;

/// One logged command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlowEntry {
    pub id: u64,
    /// Unix seconds when it ran.
    pub at_secs: u64,
    pub micros: u64,
    pub args: Vec<Bytes>,
    /// The client's `ip:port` and name (empty when it has none).
    pub addr: String,
    pub name: Bytes,
}

#[derive(Debug, Default)]
pub struct SlowLog {
    /// Newest first.
    entries: VecDeque<SlowEntry>,
    next_id: u64,
}

impl SlowLog {
    /// Log a command (args as the client sent them) and keep the newest `len_max` entries.
    pub fn push(
        &mut self,
        len_max: usize,
        args: &[Bytes],
        at_secs: u64,
        micros: u64,
        client: (String, Bytes),
    ) {
        let mut kept: Vec<Bytes> = args.iter().take(ARGS_MAX).map(cut).collect();
        if args.len() > ARGS_MAX {
            kept[ARGS_MAX - 1] = Bytes::from(format!(
                "... ({} more arguments)",
                args.len() - ARGS_MAX + 1
            ));
        }
        self.entries.push_front(SlowEntry {
            id: self.next_id,
            at_secs,
            micros,
            args: kept,
            addr: client.0,
            name: client.1,
        });
        self.next_id += 1;
        self.entries.truncate(len_max);
    }

    /// The newest `n` entries (all for `None`), newest first.
    pub fn newest(&self, n: Option<usize>) -> impl Iterator<Item = &SlowEntry> {
        self.entries.iter().take(n.unwrap_or(usize::MAX))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// SLOWLOG RESET: the entries go; ids go on from where they were.
    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

fn cut(arg: &Bytes) -> Bytes {
    if arg.len() <= ARG_BYTES_MAX {
        return arg.clone();
    }
    let mut s = arg[..ARG_BYTES_MAX].to_vec();
    s.extend_from_slice(format!("... ({} more bytes)", arg.len() - ARG_BYTES_MAX).as_bytes());
    Bytes::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::from(w.to_string())).collect()
    }

    fn texts(e: &SlowEntry) -> Vec<String> {
        e.args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    #[test]
    fn keeps_the_newest_entries_with_arguments_cut_as_redis_cuts_them() {
        let mut log = SlowLog::default();
        let many: Vec<String> = (0..35).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        log.push(2, &args(&many), 1, 5, ("a:1".into(), Bytes::new()));
        let long = "A".repeat(130);
        log.push(
            2,
            &args(&["sadd", "s", &long]),
            2,
            6,
            ("a:1".into(), Bytes::new()),
        );
        log.push(2, &args(&["ping"]), 3, 7, ("a:1".into(), "n".into()));
        assert_eq!(log.len(), 2);
        let newest: Vec<&SlowEntry> = log.newest(None).collect();
        assert_eq!((newest[0].id, newest[1].id), (2, 1));
        assert_eq!(newest[0].name, "n");
        let cut = texts(newest[1]);
        assert_eq!(cut[2], format!("{}... (2 more bytes)", "A".repeat(128)));
        log.reset();
        log.push(2, &args(&many), 4, 8, ("a:1".into(), Bytes::new()));
        let e = log.newest(Some(1)).next().expect("one");
        assert_eq!(e.id, 3, "ids go on after a reset");
        let t = texts(e);
        assert_eq!(t.len(), 32);
        assert_eq!(t[30], "30");
        assert_eq!(t[31], "... (4 more arguments)");
    }
}
