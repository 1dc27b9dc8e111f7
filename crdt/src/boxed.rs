//! A box whose value is made after its allocation and written in place. `Box::new(value)`
//! makes the value first and copies it in, all of it: for an effect's body, 288 bytes with
//! the inline room of its pieces (docs/performance.md, "Instructions that move data").
//! `Box::write` does this without `unsafe` from Rust 1.87; the workspace's MSRV is 1.85.
#![allow(unsafe_code)]

/// `Box::new(make())`, with the value written straight into the allocation.
#[inline(always)]
pub(crate) fn boxed_with<T>(make: impl FnOnce() -> T) -> Box<T> {
    let mut room = Box::<T>::new_uninit();
    room.write(make());
    // SAFETY: `write` initialized the whole value just above.
    unsafe { room.assume_init() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn holds_what_was_made() {
        let b = super::boxed_with(|| (7u64, [1u8; 300], String::from("x")));
        assert_eq!((b.0, b.1[299], b.2.as_str()), (7, 1, "x"));
    }
}
