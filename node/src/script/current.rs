//! The run a script's `redis.call`, `redis.pcall` and `redis.acl_check_cmd` reach, and the
//! protocol its commands reply in (`redis.setresp`): per thread, set for the length of a run.
//!
//! Those functions are made once per Lua state. Before, they were made for each run (mlua's
//! scoped functions, which own a borrow of the run), and making and destroying them cost
//! more than the rest of a one-line script's run.

// A run borrows the store and the connection for less than `'static`, and a function made
// once must reach it: the borrow is kept here as a pointer, for exactly as long as
// `running` lends it (its guard takes it out again, a panic included), and `with_run` takes
// it out while it uses it, so no two `&mut` to the run exist at once.
#![allow(unsafe_code)]

use super::vm::Run;
use std::cell::Cell;
use std::ptr::NonNull;

thread_local! {
    static RUN: Cell<Option<NonNull<dyn Run>>> = const { Cell::new(None) };
    static RESP: Cell<u8> = const { Cell::new(2) };
}

/// Run `f` with `run` as the run this thread's script functions reach, their replies in
/// RESP2 until the script calls `redis.setresp`.
pub(super) fn running<T>(run: &mut dyn Run, f: impl FnOnce() -> T) -> T {
    let lent: NonNull<dyn Run + '_> = NonNull::from(run);
    // SAFETY: only the lifetime is erased. The pointer leaves RUN before this function
    // returns or unwinds (`Restore`), so it is never used after `run`'s borrow ends.
    let lent: NonNull<dyn Run + 'static> = unsafe { std::mem::transmute(lent) };
    let _restore = Restore(RUN.replace(Some(lent)));
    RESP.set(2);
    f()
}

/// Puts back what RUN held, when dropped.
struct Restore(Option<NonNull<dyn Run>>);

impl Drop for Restore {
    fn drop(&mut self) {
        RUN.set(self.0);
    }
}

/// Call `f` with the run `running` lent, if a run is on; while `f` runs, this thread has
/// none (a nested call finds none).
pub(super) fn with_run<T>(f: impl FnOnce(&mut dyn Run) -> T) -> Option<T> {
    let mut lent = RUN.take()?;
    let _restore = Restore(Some(lent));
    // SAFETY: `running` lent this pointer from a live `&mut` that outlives its own call,
    // and this call is inside it (RUN is cleared when it ends). Taking it out of RUN makes
    // this the only use of it until `_restore` puts it back.
    Some(f(unsafe { lent.as_mut() }))
}

/// The protocol the running script's commands reply in.
pub(super) fn resp() -> u8 {
    RESP.get()
}

/// `redis.setresp`.
pub(super) fn set_resp(resp: u8) {
    RESP.set(resp);
}
