//! What scripting state the regions share (docs/semantics.md, "Functions and the script
//! cache"): function libraries, and the scripts SCRIPT LOAD loaded. Both change by binlog
//! records like keys do, so channels carry them, snapshots and full syncs hold them, and a
//! restart replays them.
//!
//! - A library is a last-writer-wins register per name: FUNCTION LOAD writes its code,
//!   FUNCTION DELETE (and FLUSH, per library) a tombstone; of two concurrent writes the one
//!   with the later HLC time (then the higher server-id) wins, everywhere. Tombstones stay:
//!   they are a name and a time each, and without them a late, older LOAD would come back.
//! - A loaded script is an observed-remove set member: SCRIPT LOAD adds it, SCRIPT FLUSH
//!   removes every one the flushing region had seen, and a load it had not seen survives.

use bytes::Bytes;
use gdc_crdt::{Dot, Hlc, ServerId, VersionVector};
use std::collections::BTreeMap;

/// A change to the shared scripting state: a record's content.
#[derive(Clone, Debug, PartialEq)]
pub enum ScriptingChange {
    /// FUNCTION LOAD (`Some` code) or DELETE (`None`) of library `name`.
    Library { name: String, code: Option<Bytes> },
    /// SCRIPT LOAD of `body`.
    Script { body: Bytes },
    /// SCRIPT FLUSH: removes the loaded scripts `cutoff` covers.
    FlushScripts { cutoff: VersionVector },
}

/// Which of two writes to a library wins: the later HLC time, then the higher server-id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    pub hlc: Hlc,
    pub server: ServerId,
}

/// A library's last write.
#[derive(Clone, Debug, PartialEq)]
pub struct LibraryEntry {
    pub stamp: Stamp,
    /// `None`: deleted.
    pub code: Option<Bytes>,
}

/// The shared scripting state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scripting {
    libraries: BTreeMap<String, LibraryEntry>,
    /// Loaded scripts by SHA-1: the load's dot and the body.
    scripts: BTreeMap<String, (Dot, Bytes)>,
    /// What SCRIPT FLUSHes removed.
    scripts_flushed: VersionVector,
    /// Bumped by every change to the libraries (not shared: each node's own count), so the
    /// function registry knows when to look again.
    generation: u64,
    /// SCRIPT FLUSHes applied here, from any region (each node's own count): the node's
    /// script cache is flushed for each.
    script_flushes: u64,
}

impl Scripting {
    pub fn from_parts(
        libraries: BTreeMap<String, LibraryEntry>,
        scripts: BTreeMap<String, (Dot, Bytes)>,
        scripts_flushed: VersionVector,
    ) -> Scripting {
        Scripting {
            libraries,
            scripts,
            scripts_flushed,
            generation: 1,
            script_flushes: 0,
        }
    }

    /// Every library written, tombstones included, by name.
    pub fn libraries(&self) -> &BTreeMap<String, LibraryEntry> {
        &self.libraries
    }

    /// The libraries that exist, with their stamps: the latest first.
    pub fn live_libraries(&self) -> Vec<(&str, Stamp, &Bytes)> {
        let mut live: Vec<_> = self
            .libraries
            .iter()
            .filter_map(|(name, e)| Some((name.as_str(), e.stamp, e.code.as_ref()?)))
            .collect();
        live.sort_by_key(|l| std::cmp::Reverse(l.1));
        live
    }

    pub fn scripts(&self) -> &BTreeMap<String, (Dot, Bytes)> {
        &self.scripts
    }

    pub fn scripts_flushed(&self) -> &VersionVector {
        &self.scripts_flushed
    }

    /// A loaded script's body, by its SHA-1.
    pub fn script(&self, sha: &str) -> Option<&Bytes> {
        self.scripts.get(sha).map(|(_, body)| body)
    }

    /// Changes with every change to the libraries.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// How many SCRIPT FLUSHes were applied here.
    pub fn script_flushes(&self) -> u64 {
        self.script_flushes
    }

    /// Apply `change`, written by `by` at `hlc`.
    pub fn apply(&mut self, by: Dot, hlc: Hlc, change: &ScriptingChange) {
        match change {
            ScriptingChange::Library { name, code } => {
                let entry = LibraryEntry {
                    stamp: Stamp {
                        hlc,
                        server: by.server,
                    },
                    code: code.clone(),
                };
                self.set_library(name, entry);
            }
            ScriptingChange::Script { body } => {
                if !self.scripts_flushed.covers(by) {
                    let sha = crate::script::sha1_hex(body);
                    self.scripts.entry(sha).or_insert((by, body.clone()));
                }
            }
            ScriptingChange::FlushScripts { cutoff } => {
                self.flush_scripts(cutoff);
                self.script_flushes += 1;
            }
        }
    }

    fn set_library(&mut self, name: &str, entry: LibraryEntry) {
        match self.libraries.get_mut(name) {
            Some(held) if held.stamp >= entry.stamp => return,
            Some(held) => *held = entry,
            None => {
                self.libraries.insert(name.to_owned(), entry);
            }
        }
        self.generation += 1;
    }

    fn flush_scripts(&mut self, cutoff: &VersionVector) {
        self.scripts_flushed.join(cutoff);
        let flushed = &self.scripts_flushed;
        self.scripts.retain(|_, (dot, _)| !flushed.covers(*dot));
    }

    /// Join another region's state (a full sync, a repair).
    pub fn merge(&mut self, theirs: &Scripting) {
        for (name, entry) in &theirs.libraries {
            self.set_library(name, entry.clone());
        }
        if !self.scripts_flushed.dominates(&theirs.scripts_flushed) {
            self.flush_scripts(&theirs.scripts_flushed);
            self.script_flushes += 1;
        }
        for (sha, (dot, body)) in &theirs.scripts {
            if !self.scripts_flushed.covers(*dot) {
                self.scripts
                    .entry(sha.clone())
                    .or_insert((*dot, body.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdc_crdt::OpId;

    fn load(name: &str, code: Option<&str>) -> ScriptingChange {
        ScriptingChange::Library {
            name: name.into(),
            code: code.map(|c| Bytes::from(c.to_owned())),
        }
    }

    fn dot(server: u32, op: u64) -> Dot {
        Dot::new(ServerId(server), OpId(op), 0)
    }

    #[test]
    fn the_later_library_write_wins_in_any_order() {
        let writes = [
            (dot(1, 1), Hlc(10), load("lib", Some("one"))),
            (dot(2, 1), Hlc(20), load("lib", Some("two"))),
            (dot(1, 2), Hlc(15), load("lib", None)),
            (dot(3, 1), Hlc(20), load("lib", Some("three"))),
        ];
        let mut orders = vec![vec![0, 1, 2, 3], vec![3, 2, 1, 0], vec![2, 0, 3, 1]];
        orders.push(vec![1, 3, 0, 2]);
        for order in orders {
            let mut s = Scripting::default();
            for i in order {
                let (by, hlc, change) = &writes[i];
                s.apply(*by, *hlc, change);
            }
            // Equal times: the higher server-id wins.
            let live = s.live_libraries();
            assert_eq!(live.len(), 1);
            assert_eq!(live[0].2, &Bytes::from("three"));
        }
        // A tombstone keeps a late, older load out.
        let mut s = Scripting::default();
        s.apply(dot(1, 2), Hlc(15), &load("lib", None));
        s.apply(dot(1, 1), Hlc(10), &load("lib", Some("one")));
        assert!(s.live_libraries().is_empty());
    }

    #[test]
    fn a_script_flush_removes_what_it_saw_and_merges_agree() {
        let body = |b: &str| ScriptingChange::Script {
            body: Bytes::from(b.to_owned()),
        };
        let mut a = Scripting::default();
        a.apply(dot(1, 1), Hlc(1), &body("return 1"));
        let mut b = a.clone();
        b.apply(dot(2, 1), Hlc(2), &body("return 2"));
        // a flushes having seen only its own load; b's load survives.
        let mut cutoff = VersionVector::new();
        cutoff.raise(ServerId(1), OpId(1));
        a.apply(dot(1, 2), Hlc(3), &ScriptingChange::FlushScripts { cutoff });
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        for s in [&ab, &ba] {
            let shas: Vec<_> = s.scripts().keys().cloned().collect();
            assert_eq!(shas, vec![crate::script::sha1_hex(b"return 2")]);
        }
        // A load the flush covered does not come back from a merge.
        a.apply(dot(1, 1), Hlc(1), &body("return 1"));
        assert!(a.scripts().is_empty());
    }
}
