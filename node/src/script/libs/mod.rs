//! The libraries Redis gives scripts beside Lua's own, written in Rust to behave as the C
//! libraries Redis 7.0 embeds: cjson, struct and bit (cmsgpack is to come).

mod bit;
mod cjson;
mod lua_struct;

/// Open every library as a global of `lua` (before the sandbox protects the globals).
pub fn open_all(lua: &mlua::Lua) -> mlua::Result<()> {
    cjson::open(lua)?;
    lua_struct::open(lua)?;
    bit::open(lua)?;
    Ok(())
}

/// Whether a stack frame of this chunk is a library's, not the script's (an error is
/// reported where the script called the library).
pub fn is_library_chunk(source: &str) -> bool {
    matches!(source, "=cjson" | "=struct" | "=bit" | "=gdc_bind")
}
