//! How a setting's text becomes its value (and back), refused in Redis's words: the
//! parsers the settings table (`settings.rs`, `redis.rs`) names.

use super::{Peer, parse_bytes};

pub(super) fn int(v: &str) -> Result<u64, String> {
    v.trim()
        .parse()
        .map_err(|_| "must be a non-negative integer".to_string())
}

pub(super) fn port(v: &str) -> Result<u16, String> {
    u16::try_from(int(v)?).map_err(|_| "must be a port number".to_string())
}

/// A port, or none for empty text.
pub(super) fn port_or_none(v: &str) -> Result<Option<u16>, String> {
    if v.is_empty() {
        Ok(None)
    } else {
        port(v).map(Some)
    }
}

pub(super) fn size(v: &str) -> Result<u64, String> {
    parse_bytes(v).ok_or_else(|| "argument must be a memory value".to_string())
}

pub(super) fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// Empty text means none.
pub(super) fn text(v: &str) -> Option<String> {
    Some(v.to_string()).filter(|v| !v.is_empty())
}

pub(super) fn signed(v: &str) -> Result<i64, String> {
    v.trim()
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())
}

/// An integer within Redis's bounds for the setting, refused in its words.
pub(super) fn between(v: &str, low: u32, high: u32) -> Result<u32, String> {
    let n = signed(v)?;
    u32::try_from(n)
        .ok()
        .filter(|n| (low..=high).contains(n))
        .ok_or_else(|| format!("argument must be between {low} and {high} inclusive"))
}

/// `maxmemory-policy`: one of the policies, by name in any case.
pub(super) fn policy(v: &str) -> Result<crate::engine::eviction::Policy, String> {
    use crate::engine::eviction::Policy;
    Policy::parse(v).ok_or_else(|| {
        let names: Vec<&str> = Policy::ALL.iter().map(|p| p.name()).collect();
        format!(
            "argument(s) must be one of the following: {}",
            names.join(", ")
        )
    })
}

pub(super) fn any_int(v: &str) -> Result<String, String> {
    signed(v).map(|n| n.to_string())
}

pub(super) fn any_text(v: &str) -> Result<String, String> {
    Ok(v.to_string())
}

pub(super) fn any_yes_no(v: &str) -> Result<String, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Ok("yes".into()),
        "no" => Ok("no".into()),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

pub(super) fn any_size(v: &str) -> Result<String, String> {
    size(v).map(|n| n.to_string())
}

pub(super) fn path_text(p: &Option<std::path::PathBuf>) -> String {
    p.as_ref()
        .map_or(String::new(), |p| p.display().to_string())
}

/// `REGION=HOST:PORT,...`.
pub(super) fn parse_peers(v: &str) -> Result<Vec<Peer>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::parse)
        .collect()
}
