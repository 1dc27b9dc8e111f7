//! Asking the CPU to bring memory into its cache, without waiting for it: a pipelined
//! batch looks up all its keys level by level, each level's reads hitting lines the level
//! before asked for, so the cache misses of a batch's keys overlap (see
//! [`crate::Keyspace::prefetch`]).

// One instruction that reads nothing the program sees and cannot fault.
#![allow(unsafe_code)]

/// Ask for the cache line holding the start of `x`.
#[inline(always)]
pub fn prefetch<T: ?Sized>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it neither faults nor changes what memory holds, and
    // SSE, which it needs, is part of every x86_64 CPU.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}
