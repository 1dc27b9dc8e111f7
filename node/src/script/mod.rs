//! Lua scripts (EVAL, EVALSHA, SCRIPT): Lua 5.1 with the libraries and the sandbox of Redis
//! 7.0. A script runs atomically in the region that runs it, against that region's data;
//! its writes are effects like any command's, logged and shipped as one batch that every
//! region applies whole (docs/semantics.md, "Scripts").
//!
//! The script cache (SHA-1 → body) is shared by every connection; each thread that runs
//! scripts has its own Lua state ([`vm`]), which compiles a cached script when it first
//! runs it there.

mod api;
pub mod busy;
mod convert;
mod current;
mod errors;
pub mod functions;
pub mod libs;
mod native;
mod vm;

pub use api::Registered;
pub use vm::{Run, load, run, run_function, run_library};

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A script's shebang flags (`#!lua flags=no-writes,allow-oom`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// No shebang: Redis's compatibility rules (the script may write; OOM and read-only
    /// checks happen per command it calls).
    pub compat: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

impl ScriptFlags {
    /// The flags by name, in Redis's order (FUNCTION LIST lists them so).
    const NAMES: [&'static str; 5] = [
        "no-writes",
        "allow-oom",
        "allow-stale",
        "no-cluster",
        "allow-cross-slot-keys",
    ];

    fn field(&mut self, i: usize) -> &mut bool {
        match i {
            0 => &mut self.no_writes,
            1 => &mut self.allow_oom,
            2 => &mut self.allow_stale,
            3 => &mut self.no_cluster,
            _ => &mut self.allow_cross_slot_keys,
        }
    }

    /// Set the flag named `name` (exactly); `false` for no such flag.
    pub fn set(&mut self, name: &str) -> bool {
        match Self::NAMES.iter().position(|n| *n == name) {
            Some(i) => {
                *self.field(i) = true;
                true
            }
            None => false,
        }
    }

    /// The names of the flags set, in Redis's order.
    pub fn names(mut self) -> Vec<&'static str> {
        (0..Self::NAMES.len())
            .filter(|&i| *self.field(i))
            .map(|i| Self::NAMES[i])
            .collect()
    }

    /// The flags of `body`'s shebang, and the shebang's length (its line, without the line
    /// feed, which is kept so that line numbers stay the user's). Errors as Redis words them.
    pub fn parse(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
        if !body.starts_with(b"#!") {
            let flags = ScriptFlags {
                compat: true,
                ..ScriptFlags::default()
            };
            return Ok((flags, 0));
        }
        let Some(end) = body.iter().position(|&b| b == b'\n') else {
            return Err("Invalid script shebang".into());
        };
        let line = String::from_utf8_lossy(&body[..end]);
        let mut parts = line.split_ascii_whitespace();
        let engine = parts.next().unwrap_or_default();
        if engine != "#!lua" {
            return Err(format!("Unexpected engine in script shebang: {engine}"));
        }
        let mut flags = ScriptFlags::default();
        for part in parts {
            let Some(list) = part.strip_prefix("flags=") else {
                return Err(format!("Unknown lua shebang option: {part}"));
            };
            // `flags=` alone: no flags.
            for flag in list.split(',').filter(|_| !list.is_empty()) {
                if !flags.set(flag) {
                    return Err(format!("Unexpected flag in script shebang: {flag}"));
                }
            }
        }
        Ok((flags, end))
    }
}

/// A script the cache holds.
#[derive(Debug)]
pub struct Script {
    /// Lower-case hex SHA-1 of the body.
    pub sha: String,
    pub body: Bytes,
    /// Where the code starts: after the shebang line (its line feed kept, so that line
    /// numbers stay the user's).
    pub body_at: usize,
    pub flags: ScriptFlags,
}

/// The scripts EVAL and SCRIPT LOAD have seen, by SHA-1.
#[derive(Debug, Default)]
pub struct Scripts {
    by_sha: Mutex<HashMap<String, Arc<Script>>>,
    /// Bumped by SCRIPT FLUSH: a Lua state made before it starts afresh.
    generation: AtomicU64,
    /// The SCRIPT FLUSHes of the shared state this cache has been flushed for.
    shared_flushes: AtomicU64,
}

impl Scripts {
    pub fn get(&self, sha: &str) -> Option<Arc<Script>> {
        self.lock().get(sha).cloned()
    }

    pub fn contains(&self, sha: &str) -> bool {
        self.lock().contains_key(sha)
    }

    /// Keep a script (compiled already, so known to be valid).
    pub fn add(&self, script: Arc<Script>) {
        self.lock().insert(script.sha.clone(), script);
    }

    /// SCRIPT FLUSH: forget every script, and every Lua state's globals and compiled code.
    pub fn flush(&self) {
        self.lock().clear();
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Flush the cache if the shared state has seen a SCRIPT FLUSH (from any region) since
    /// it last looked: `flushes` is the shared state's count of them.
    pub fn sync_flushes(&self, flushes: u64) {
        // Looked at first: a script call does not write the shared count for nothing.
        if self.shared_flushes.load(Ordering::Relaxed) != flushes
            && self.shared_flushes.swap(flushes, Ordering::Relaxed) != flushes
        {
            self.flush();
        }
    }

    /// How many scripts, and the bytes of their bodies (INFO memory).
    pub fn usage(&self) -> (usize, usize) {
        let scripts = self.lock();
        let bytes = scripts.values().map(|s| s.body.len() + s.sha.len()).sum();
        (scripts.len(), bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Script>>> {
        self.by_sha.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Lower-case hex SHA-1, as EVALSHA and `redis.sha1hex` name a script.
pub fn sha1_hex(bytes: &[u8]) -> String {
    sha1_smol::Sha1::from(bytes).digest().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs_are_read_as_redis_reads_them() {
        let (f, len) = ScriptFlags::parse(b"return 1").expect("no shebang");
        assert!(f.compat);
        assert_eq!(len, 0);
        let (f, len) =
            ScriptFlags::parse(b"#!lua flags=no-writes,allow-oom\nreturn 1").expect("flags");
        assert!(!f.compat && f.no_writes && f.allow_oom && !f.allow_stale);
        assert_eq!(len, 31);
        let (f, _) = ScriptFlags::parse(b"#!lua\nreturn 1").expect("no flags");
        assert!(!f.compat && !f.no_writes);
        assert_eq!(
            ScriptFlags::parse(b"#!lua"),
            Err("Invalid script shebang".to_string())
        );
        assert_eq!(
            ScriptFlags::parse(b"#!python\n"),
            Err("Unexpected engine in script shebang: #!python".to_string())
        );
        assert_eq!(
            ScriptFlags::parse(b"#!lua flags=bad\n"),
            Err("Unexpected flag in script shebang: bad".to_string())
        );
        let (f, _) = ScriptFlags::parse(b"#!lua flags=allow-stale,no-writes\n").expect("two");
        assert_eq!(f.names(), ["no-writes", "allow-stale"]);
        assert!(ScriptFlags::parse(b"#!lua flags=\n").is_ok_and(|(f, _)| f.names().is_empty()));
        assert_eq!(
            ScriptFlags::parse(b"#!lua name=x\n"),
            Err("Unknown lua shebang option: name=x".to_string())
        );
    }

    #[test]
    fn sha1_is_redis_s() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            sha1_hex(b"Pizza & Mandolino"),
            "74822d82031af7493c20eefa13bd07ec4fada82f"
        );
    }
}
