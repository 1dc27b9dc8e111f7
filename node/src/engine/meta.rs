//! The data directory's metadata store (`<dir>/meta`, a sled tree): every small record a
//! node keeps beside its binlog, each with a typed get and put here, so that the keys and
//! their encodings live in one place.
//!
//! | key | value |
//! |---|---|
//! | `server_id` | the id this node writes under (u32 LE, never 0) |
//! | `clean_shutdown` | present only between a clean shutdown and the next start |
//! | `binlog_base` | the first binlog segment kept (u64 LE) and the applied vector it starts after |
//! | `acked/<reader>` | what a reader of this node's binlog acknowledged: its server-id (u32 LE), vector |
//! | `assignment` | the coordinator's last assignment taken on: a format byte, then protobuf |
//! | `attachment` | the coordinators GDC.ATTACH attached this node to (`name=value` lines) |
//! | `acl_users` | the ACL users: a format line, the coordinators' version of them (0: this node's own), then one ACL LIST line each |

use gdc_crdt::{ServerId, VersionVector};
use gdc_proto::coordinator::Assignment;
use prost::Message as _;
use std::fmt;
use std::path::{Path, PathBuf};

const SERVER_ID: &str = "server_id";
const CLEAN_SHUTDOWN: &str = "clean_shutdown";
const BINLOG_BASE: &str = "binlog_base";
const ACKED_PREFIX: &[u8] = b"acked/";
const ASSIGNMENT: &str = "assignment";
/// The format of the saved assignment: this byte, then the assignment as protobuf.
const ASSIGNMENT_FORMAT: u8 = 1;
const ATTACHMENT: &str = "attachment";
const ACL_USERS: &str = "acl_users";
/// The format of the saved users (the first line).
const ACL_USERS_FORMAT: &str = "gdc-acl-users 1";
/// The function libraries (FUNCTION LOAD), as FUNCTION DUMP's payload.
const FUNCTIONS: &str = "functions";

/// The ACL users saved: the coordinators' version of them (0: the node's own), and their
/// ACL LIST lines.
pub type SavedUsers = (u64, Vec<Vec<u8>>);

/// A metadata store failed, or holds a record that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("metadata store in {path}: {source}")]
    Store { path: String, source: sled::Error },
    #[error("metadata store in {path}: {what}")]
    Bad { path: String, what: String },
}

/// The metadata store of one data directory (a handle: clones share it).
#[derive(Clone, Debug)]
pub struct Meta {
    db: sled::Db,
    path: PathBuf,
    /// What opening the store allocated (see [`crate::alloc::METADATA_STORE`]).
    _footprint: std::sync::Arc<crate::alloc::Held>,
}

/// Which coordinators run a node, and for which instance: from `--coordinator` and
/// `--instance`, or saved by GDC.ATTACH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub coordinators: Vec<String>,
    pub instance: String,
    /// The node's region when it was attached: a restart must not move it to another.
    pub region: String,
}

impl fmt::Display for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "instance '{}' (region '{}', coordinators {})",
            self.instance,
            self.region,
            self.coordinators.join(",")
        )
    }
}

impl Meta {
    /// Open (or make) the metadata store of data directory `dir`.
    pub fn open(dir: &Path) -> Result<Meta, MetaError> {
        let path = dir.join("meta");
        let before = crate::alloc::live_bytes();
        let db = sled::open(&path).map_err(|source| MetaError::Store {
            path: path.display().to_string(),
            source,
        })?;
        let opened = (crate::alloc::live_bytes() - before).max(0) as usize;
        let _footprint = std::sync::Arc::new(crate::alloc::METADATA_STORE.hold(opened));
        Ok(Meta {
            db,
            path,
            _footprint,
        })
    }

    fn err(&self, source: sled::Error) -> MetaError {
        MetaError::Store {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn bad(&self, what: impl Into<String>) -> MetaError {
        MetaError::Bad {
            path: self.path.display().to_string(),
            what: what.into(),
        }
    }

    fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<sled::IVec>, MetaError> {
        self.db.get(key).map_err(|e| self.err(e))
    }

    /// Insert and flush: every record here is something a restart must find.
    fn put(&self, key: impl AsRef<[u8]>, value: impl Into<sled::IVec>) -> Result<(), MetaError> {
        self.db.insert(key, value).map_err(|e| self.err(e))?;
        self.flush()
    }

    fn flush(&self) -> Result<(), MetaError> {
        self.db.flush().map(|_| ()).map_err(|e| self.err(e))
    }

    /// The server-id this node writes under; `None` before its first start.
    pub fn server_id(&self) -> Result<Option<ServerId>, MetaError> {
        let Some(v) = self.get(SERVER_ID)? else {
            return Ok(None);
        };
        match <[u8; 4]>::try_from(v.as_ref()).map(u32::from_le_bytes) {
            Ok(id) if id != 0 => Ok(Some(ServerId(id))),
            _ => Err(self.bad("bad server-id")),
        }
    }

    pub fn set_server_id(&self, id: ServerId) -> Result<(), MetaError> {
        self.put(SERVER_ID, &id.0.to_le_bytes())
    }

    /// Whether the last run ended in a clean shutdown; the mark is removed (a crash from
    /// now on must not find it).
    pub fn take_clean_shutdown(&self) -> Result<bool, MetaError> {
        let clean = self
            .db
            .remove(CLEAN_SHUTDOWN)
            .map_err(|e| self.err(e))?
            .is_some();
        self.flush()?;
        Ok(clean)
    }

    /// Note that the binlog is complete and on disk: the next start keeps the server-id.
    pub fn mark_clean_shutdown(&self) -> Result<(), MetaError> {
        self.put(CLEAN_SHUTDOWN, &[1u8])
    }

    /// The first binlog segment kept and the applied vector it starts after: what a reader
    /// must already have for the binlog to hold everything else it lacks ((0, empty): the
    /// binlog holds every op since the first start).
    pub fn binlog_base(&self) -> (u64, VersionVector) {
        self.get(BINLOG_BASE)
            .ok()
            .flatten()
            .and_then(|v| {
                let seq = u64::from_le_bytes(v.get(..8)?.try_into().ok()?);
                let (vv, _) = gdc_crdt::codec::decode_vv(&v[8..]).ok()?;
                Some((seq, vv))
            })
            .unwrap_or_default()
    }

    /// Record that the binlog now starts at segment `seq`, after `base`. Never moves back to
    /// an earlier segment (a snapshot finished late must not undo a later removal).
    pub fn set_binlog_base(&self, seq: u64, base: &VersionVector) -> Result<(), MetaError> {
        if self.binlog_base().0 > seq {
            return Ok(());
        }
        let mut bytes = seq.to_le_bytes().to_vec();
        gdc_crdt::codec::encode_vv(base, &mut bytes);
        self.put(BINLOG_BASE, bytes)
    }

    /// Every reader's saved acknowledgement: (reader key, its server-id, its vector).
    pub fn acks(&self) -> Result<Vec<(String, u32, VersionVector)>, MetaError> {
        let mut out = Vec::new();
        for item in self.db.scan_prefix(ACKED_PREFIX) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let key = String::from_utf8_lossy(&k[ACKED_PREFIX.len()..]).into_owned();
            let bad = || self.bad(format!("bad acknowledgement record for {key}"));
            let id = <[u8; 4]>::try_from(v.get(..4).ok_or_else(bad)?).map_err(|_| bad())?;
            let (vv, rest) = gdc_crdt::codec::decode_vv(&v[4..]).map_err(|_| bad())?;
            if !rest.is_empty() {
                return Err(bad());
            }
            out.push((key, u32::from_le_bytes(id), vv));
        }
        Ok(out)
    }

    /// Save these readers' acknowledgements (flushed once, after all of them).
    pub fn set_acks<'a>(
        &self,
        acks: impl IntoIterator<Item = (&'a String, &'a (u32, VersionVector))>,
    ) -> Result<(), MetaError> {
        for (key, (id, vv)) in acks {
            let mut v = id.to_le_bytes().to_vec();
            gdc_crdt::codec::encode_vv(vv, &mut v);
            self.db
                .insert([ACKED_PREFIX, key.as_bytes()].concat(), v)
                .map_err(|e| self.err(e))?;
        }
        self.flush()
    }

    /// Forget a reader's acknowledgement (not flushed: kept, it only holds binlog longer).
    pub fn remove_ack(&self, key: &str) -> Result<(), MetaError> {
        self.db
            .remove([ACKED_PREFIX, key.as_bytes()].concat())
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The coordinator's assignment this node last took on.
    pub fn assignment(&self) -> Result<Option<Assignment>, MetaError> {
        let Some(raw) = self.get(ASSIGNMENT)? else {
            return Ok(None);
        };
        match raw.split_first() {
            Some((&ASSIGNMENT_FORMAT, bytes)) => Assignment::decode(bytes)
                .map(Some)
                .map_err(|e| self.bad(format!("the saved assignment cannot be read: {e}"))),
            _ => Err(self.bad("the saved assignment is of an unknown format")),
        }
    }

    pub fn set_assignment(&self, a: &Assignment) -> Result<(), MetaError> {
        let mut raw = vec![ASSIGNMENT_FORMAT];
        raw.extend(a.encode_to_vec());
        self.put(ASSIGNMENT, raw)
    }

    /// The attachment GDC.ATTACH saved, if any.
    pub fn attachment(&self) -> Result<Option<Attachment>, MetaError> {
        let Some(raw) = self.get(ATTACHMENT)? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&raw);
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                .map(str::to_string)
                .ok_or_else(|| self.bad(format!("the saved attachment has no {name}")))
        };
        Ok(Some(Attachment {
            instance: field("instance")?,
            region: field("region")?,
            coordinators: field("coordinators")?
                .split(',')
                .map(str::to_string)
                .collect(),
        }))
    }

    pub fn set_attachment(&self, a: &Attachment) -> Result<(), MetaError> {
        let text = format!(
            "instance={}\nregion={}\ncoordinators={}\n",
            a.instance,
            a.region,
            a.coordinators.join(",")
        );
        self.put(ATTACHMENT, text.into_bytes())
    }

    /// The ACL users saved last, with the coordinators' version of them (0: this node's
    /// own), as ACL LIST lines.
    pub fn acl_users(&self) -> Result<Option<SavedUsers>, MetaError> {
        let Some(raw) = self.get(ACL_USERS)? else {
            return Ok(None);
        };
        let mut lines = raw.split(|&b| b == b'\n');
        if lines.next() != Some(ACL_USERS_FORMAT.as_bytes()) {
            return Err(self.bad("the saved ACL users are of an unknown format"));
        }
        let version = lines
            .next()
            .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
            .ok_or_else(|| self.bad("the saved ACL users have no version"))?;
        let users = lines
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        Ok(Some((version, users)))
    }

    pub fn set_acl_users(&self, version: u64, lines: &[Vec<u8>]) -> Result<(), MetaError> {
        let mut raw = format!("{ACL_USERS_FORMAT}\n{version}\n").into_bytes();
        for line in lines {
            raw.extend_from_slice(line);
            raw.push(b'\n');
        }
        self.put(ACL_USERS, raw)
    }

    /// The function libraries saved last (FUNCTION LOAD's code, each whole), kept as
    /// FUNCTION DUMP's payload (its checksum guards them).
    pub fn function_libraries(&self) -> Result<Vec<Vec<u8>>, MetaError> {
        let Some(raw) = self.get(FUNCTIONS)? else {
            return Ok(Vec::new());
        };
        crate::rdb::restore_functions(&raw)
            .map_err(|e| self.bad(format!("the saved function libraries: {e}")))
    }

    pub fn set_function_libraries<'a>(
        &self,
        libraries: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), MetaError> {
        self.put(FUNCTIONS, crate::rdb::dump_functions(libraries))
    }

    /// Write a raw record under `key` (tests: a record another version or a fault left).
    #[cfg(test)]
    pub fn put_raw(&self, key: &str, value: &[u8]) {
        self.db.insert(key, value).expect("insert");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> (tempfile::TempDir, Meta) {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta = Meta::open(dir.path()).expect("open");
        (dir, meta)
    }

    #[test]
    fn the_saved_assignment_reads_back_whole_and_a_foreign_one_is_refused() {
        let (_dir, meta) = meta();
        assert!(meta.assignment().expect("read").is_none());
        let a = Assignment {
            role: "primary".into(),
            epoch: 3,
            upstreams: vec![gdc_proto::coordinator::Upstream {
                region: "us".into(),
                sync_addr: "10.0.0.2:7101".into(),
                paused: true,
                server_id: 9,
                addr: "10.0.0.2:7001".into(),
            }],
            index: 42,
            acl: Some(gdc_proto::coordinator::AclRecord {
                version: 2,
                lines: vec!["user default on nopass ~* &* +@all".into()],
            }),
        };
        meta.set_assignment(&a).expect("save");
        assert_eq!(meta.assignment().expect("read"), Some(a));
        meta.put_raw(ASSIGNMENT, b"\x07junk");
        assert!(meta.assignment().is_err());
    }

    #[test]
    fn function_libraries_read_back_and_a_damaged_record_is_refused() {
        let (_dir, meta) = meta();
        assert!(meta.function_libraries().expect("none").is_empty());
        let codes: [&[u8]; 2] = [b"#!lua name=a\nx", b"#!lua name=b\ny"];
        meta.set_function_libraries(codes).expect("save");
        assert_eq!(
            meta.function_libraries().expect("read"),
            codes.map(<[u8]>::to_vec)
        );
        meta.put_raw(FUNCTIONS, b"not a payload at all");
        let e = meta.function_libraries().expect_err("damaged");
        assert!(e.to_string().contains("checksum"), "{e}");
    }

    #[test]
    fn records_read_back_as_written() {
        let (_dir, meta) = meta();
        assert!(meta.server_id().expect("id").is_none());
        meta.set_server_id(ServerId(42)).expect("set");
        assert_eq!(meta.server_id().expect("id"), Some(ServerId(42)));
        assert!(!meta.take_clean_shutdown().expect("take"));
        meta.mark_clean_shutdown().expect("mark");
        assert!(meta.take_clean_shutdown().expect("take"));
        assert!(!meta.take_clean_shutdown().expect("taken once"));

        let mut vv = VersionVector::new();
        vv.raise(ServerId(3), gdc_crdt::OpId(9));
        meta.set_binlog_base(5, &vv).expect("base");
        meta.set_binlog_base(4, &VersionVector::new())
            .expect("older");
        assert_eq!(meta.binlog_base(), (5, vv.clone()));

        let acks = [("eu".to_string(), (3u32, vv.clone()))];
        meta.set_acks(acks.iter().map(|(k, v)| (k, v)))
            .expect("acks");
        assert_eq!(meta.acks().expect("acks"), vec![("eu".into(), 3, vv)]);
        meta.remove_ack("eu").expect("remove");
        assert!(meta.acks().expect("acks").is_empty());

        let a = Attachment {
            coordinators: vec!["h1:1".into(), "h2:2".into()],
            instance: "shop".into(),
            region: "eu".into(),
        };
        meta.set_attachment(&a).expect("attach");
        assert_eq!(meta.attachment().expect("read"), Some(a));
        meta.put_raw(SERVER_ID, &[0, 0, 0, 0]);
        assert!(meta.server_id().is_err());
    }
}
