//! A global allocator that counts live heap bytes: `maxmemory` and INFO's `used_memory` read
//! it, and the memory benchmark measures data structures with it. It counts requested bytes;
//! the allocator's own per-chunk overhead comes on top (the benchmark also reports resident
//! memory). Installed by the `gdc-node` binary; where it is not installed (a library user,
//! in-process tests), `live_bytes` stays 0 and `maxmemory` never refuses.

// Implementing `GlobalAlloc` is unsafe by definition; this wrapper only forwards to
// jemalloc and counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use tikv_jemallocator::Jemalloc;

/// What INFO's `mem_allocator` says: the jemalloc that tikv-jemalloc-sys builds.
pub const ALLOCATOR: &str = "jemalloc-5.3.0";

/// Forwards to jemalloc (Redis's allocator too: memory is taken and given back from
/// several threads, which glibc's malloc does at a cost — the script thread frees what Lua
/// made in bursts) and keeps a running total of live requested bytes.
#[derive(Debug)]
pub struct Counting;

/// Counters, one per thread for the first threads: a thread adds to its own slot with a plain
/// load and store, which costs far less than an atomic read-modify-write on every allocation
/// (a profile put that at a tenth of the write path). Threads past the last slot share it,
/// with read-modify-writes. The total is the sum of all slots.
const SLOTS: usize = 64;
static COUNTS: [AtomicIsize; SLOTS] = [const { AtomicIsize::new(0) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's slot, `usize::MAX` until it first allocates. No destructor, so it can
    /// be read at any point of the thread's life.
    static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn count(delta: isize) {
    let slot = SLOT
        .try_with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT_SLOT.fetch_add(1, Ordering::Relaxed).min(SLOTS - 1));
            }
            s.get()
        })
        .unwrap_or(SLOTS - 1);
    let c = &COUNTS[slot];
    if slot < SLOTS - 1 {
        // Only this thread writes this slot.
        c.store(c.load(Ordering::Relaxed) + delta, Ordering::Relaxed);
    } else {
        c.fetch_add(delta, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: same layout as asked of us.
        unsafe { Jemalloc.alloc(layout) }
    }

    /// Forwarded as zeroed (calloc), not as `alloc` and a fill: a large zeroed block then
    /// comes as fresh pages that stay out of resident memory until written (sled's metrics
    /// histograms alone are 28 MB of them).
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: same layout as asked of us.
        unsafe { Jemalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { Jemalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded unchanged.
        unsafe { Jemalloc.realloc(ptr, layout, new_size) }
    }
}

/// Live requested heap bytes now (a memory freed on another thread than it was allocated on
/// moves between slots; the sum is exact).
pub fn live_bytes() -> isize {
    COUNTS.iter().map(|c| c.load(Ordering::Relaxed)).sum()
}

/// Live bytes when the node was ready to serve (INFO's `used_memory_startup`).
static STARTUP: AtomicIsize = AtomicIsize::new(0);

/// Note the live bytes now as the node's memory at start.
pub fn note_startup() {
    STARTUP.store(live_bytes(), Ordering::Relaxed);
}

pub fn startup_bytes() -> u64 {
    STARTUP.load(Ordering::Relaxed).max(0) as u64
}

/// The most live bytes seen by [`note_peak`].
static PEAK: AtomicIsize = AtomicIsize::new(0);

/// Sample [`live_bytes`] for the peak (the node does ten times a second, and at INFO);
/// returns the peak so far (`used_memory_peak`).
pub fn note_peak() -> isize {
    let now = live_bytes();
    PEAK.fetch_max(now, Ordering::Relaxed).max(now)
}

/// Resident set size of this process in bytes, from `/proc/self/statm` (0 where unknown).
pub fn rss_bytes() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Heap bytes held by one part of the node that keeps its own count (for INFO memory's
/// parts and for what `maxmemory` leaves out).
#[derive(Debug, Default)]
pub struct Gauge(AtomicUsize);

impl Gauge {
    pub const fn new() -> Gauge {
        Gauge(AtomicUsize::new(0))
    }

    pub fn add(&self, bytes: usize) {
        self.0.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn sub(&self, bytes: usize) {
        self.0.fetch_sub(bytes, Ordering::Relaxed);
    }

    pub fn bytes(&self) -> u64 {
        self.0.load(Ordering::Relaxed) as u64
    }

    /// Count `bytes` until the guard goes.
    pub fn hold(&'static self, bytes: usize) -> Held {
        self.add(bytes);
        Held(self, bytes)
    }
}

/// Bytes counted in a [`Gauge`] while it lives.
#[derive(Debug)]
pub struct Held(&'static Gauge, usize);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.sub(self.1);
    }
}

/// The ops read from the binlog for other regions and queued on their channels, not yet
/// taken by the transport (INFO's `mem_replication_backlog` and `mem_clients_slaves`).
pub static SYNC_SEND_BUFFERS: Gauge = Gauge::new();

/// The batches received from other regions and being applied (twice their frames: as
/// received, and as split for applying).
pub static SYNC_RECEIVE_BUFFERS: Gauge = Gauge::new();

/// What opening the metadata store allocated: sled's fixed tables (its metrics histograms,
/// allocated even with metrics off, and its page table's roots), about 28 MB of zeroed
/// memory that is mostly never touched, so not resident. Evicting keys cannot free it, and
/// it would leave a small `maxmemory` no room, so eviction leaves it out.
pub static METADATA_STORE: Gauge = Gauge::new();
