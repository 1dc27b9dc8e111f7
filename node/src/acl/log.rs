//! ACL LOG: the recent refusals (commands, keys, channels, failed logins), newest first,
//! bounded by `acllog-max-len`. A refusal like a recent one (same reason, context, object
//! and user, within 60 s) counts on that entry instead of adding one, as Redis does.

use std::collections::VecDeque;

use super::check::{Denied, DenyReason};

/// `acllog-max-len`'s default.
pub const ACLLOG_MAX_LEN_DEFAULT: usize = 128;
/// Refusals this close in time may share an entry.
const GROUPING_MS_MAX: u64 = 60_000;
/// How many of the newest entries a refusal is compared with (Redis bounds the work).
const GROUPING_SCAN_MAX: usize = 10;

/// What was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogReason {
    Command,
    Key,
    Channel,
    /// AUTH or HELLO with a wrong password, an unknown or disabled user.
    Auth,
}

impl LogReason {
    pub fn name(self) -> &'static str {
        match self {
            LogReason::Command => "command",
            LogReason::Key => "key",
            LogReason::Channel => "channel",
            LogReason::Auth => "auth",
        }
    }
}

impl From<DenyReason> for LogReason {
    fn from(reason: DenyReason) -> LogReason {
        match reason {
            DenyReason::Command => LogReason::Command,
            DenyReason::Key => LogReason::Key,
            DenyReason::Channel => LogReason::Channel,
        }
    }
}

/// Where the refused command was: a client's own, queued in MULTI, or a script's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogContext {
    Toplevel,
    Multi,
    Lua,
    Module,
}

impl LogContext {
    pub fn name(self) -> &'static str {
        match self {
            LogContext::Toplevel => "toplevel",
            LogContext::Multi => "multi",
            LogContext::Lua => "lua",
            LogContext::Module => "module",
        }
    }
}

/// One refusal, or several alike.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub count: u64,
    pub reason: LogReason,
    pub context: LogContext,
    /// The command's full name, the key, the channel, or for a login `AUTH`/`HELLO`.
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    /// When it last happened, in ms since the epoch.
    pub time_ms: u64,
    /// CLIENT LIST's line of the client, the last one for a grouped entry.
    pub client_info: String,
}

/// One field's value in ACL LOG's reply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LogValue<'a> {
    Integer(u64),
    Bulk(&'a [u8]),
    Double(f64),
}

impl LogEntry {
    /// The reply's seven fields, in Redis's order, `age-seconds` counted to `now_ms`.
    pub fn fields(&self, now_ms: u64) -> [(&'static str, LogValue<'_>); 7] {
        let age_s = now_ms.saturating_sub(self.time_ms) as f64 / 1000.0;
        [
            ("count", LogValue::Integer(self.count)),
            ("reason", LogValue::Bulk(self.reason.name().as_bytes())),
            ("context", LogValue::Bulk(self.context.name().as_bytes())),
            ("object", LogValue::Bulk(&self.object)),
            ("username", LogValue::Bulk(&self.username)),
            ("age-seconds", LogValue::Double(age_s)),
            ("client-info", LogValue::Bulk(self.client_info.as_bytes())),
        ]
    }

    fn same_event(&self, other: &LogEntry) -> bool {
        self.reason == other.reason
            && self.context == other.context
            && self.time_ms.abs_diff(other.time_ms) <= GROUPING_MS_MAX
            && self.object == other.object
            && self.username == other.username
    }
}

/// The log, newest first.
#[derive(Debug, Clone)]
pub struct AclLog {
    entries: VecDeque<LogEntry>,
    len_max: usize,
}

impl Default for AclLog {
    fn default() -> AclLog {
        AclLog::new(ACLLOG_MAX_LEN_DEFAULT)
    }
}

impl AclLog {
    pub fn new(len_max: usize) -> AclLog {
        AclLog {
            entries: VecDeque::new(),
            len_max,
        }
    }

    /// A new `acllog-max-len`: like Redis, the log is cut to it at the next entry.
    pub fn set_len_max(&mut self, len_max: usize) {
        self.len_max = len_max;
    }

    /// Log a refusal (its `count` is ignored): counted on a matching recent entry, which
    /// moves to the front and takes the new time and client, or added at the front.
    pub fn add(&mut self, entry: LogEntry) {
        let scanned = self.entries.len().min(GROUPING_SCAN_MAX);
        if let Some(at) = (0..scanned).find(|&i| self.entries[i].same_event(&entry)) {
            if let Some(mut known) = self.entries.remove(at) {
                known.count += 1;
                known.time_ms = entry.time_ms;
                known.client_info = entry.client_info;
                self.entries.push_front(known);
            }
            return;
        }
        self.entries.push_front(LogEntry { count: 1, ..entry });
        self.entries.truncate(self.len_max);
    }

    /// Log a refused command.
    pub fn add_denied(
        &mut self,
        denied: &Denied,
        context: LogContext,
        username: &[u8],
        client_info: String,
        now_ms: u64,
    ) {
        self.add(LogEntry {
            count: 1,
            reason: denied.reason.into(),
            context,
            object: denied.object.clone(),
            username: username.to_vec(),
            time_ms: now_ms,
            client_info,
        });
    }

    /// ACL LOG `<count>` (10 without one): the newest entries.
    pub fn newest(&self, count: usize) -> impl Iterator<Item = &LogEntry> {
        self.entries.iter().take(count)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// ACL LOG RESET.
    pub fn reset(&mut self) {
        self.entries.clear();
    }
}
