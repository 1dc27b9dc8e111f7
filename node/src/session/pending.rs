//! A session's queue of requests read and not yet run, and the argument vectors it keeps
//! for reuse.

use crate::resp::Args;
use std::collections::VecDeque;

/// Whole requests read and not yet run, with the bytes each took in the query buffer.
#[derive(Default)]
pub(super) struct Pending {
    pub(super) requests: VecDeque<(Args, usize)>,
    /// Their bytes in all.
    pub(super) bytes: usize,
    /// Argument vectors of requests that ran, emptied, for the next ones parsed.
    pub(super) spare: Vec<Args>,
}

/// Argument vectors kept for reuse: a pipeline's worth, of short requests.
const SPARE_MAX: usize = 64;
const SPARE_ARGS_MAX: usize = 16;

impl Pending {
    /// Keep `args`, a request that ran, for reuse.
    pub(super) fn recycle(&mut self, mut args: Args) {
        if self.spare.len() < SPARE_MAX && args.capacity() <= SPARE_ARGS_MAX {
            args.clear();
            self.spare.push(args);
        }
    }

    pub(super) fn push_back(&mut self, args: Args, bytes: usize) {
        self.bytes += bytes;
        self.requests.push_back((args, bytes));
    }

    pub(super) fn push_front(&mut self, args: Args, bytes: usize) {
        self.bytes += bytes;
        self.requests.push_front((args, bytes));
    }

    pub(super) fn front(&self) -> Option<&Args> {
        self.requests.front().map(|(args, _)| args)
    }

    pub(super) fn pop_front(&mut self) -> Option<(Args, usize)> {
        let popped = self.requests.pop_front()?;
        self.bytes -= popped.1;
        Some(popped)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    pub(super) fn clear(&mut self) {
        self.requests.clear();
        self.bytes = 0;
    }
}
