//! Function libraries (FUNCTION LOAD, FCALL): the libraries this node holds, by name, with
//! the functions each registered. A library's code is what is kept; each Lua state runs it
//! again (registering its functions there) when it first calls one of them.

use super::ScriptFlags;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One function of a library.
#[derive(Clone, Debug)]
pub struct FunctionMeta {
    pub description: Option<String>,
    pub flags: ScriptFlags,
}

/// A loaded library.
#[derive(Debug)]
pub struct Library {
    pub name: String,
    /// All of FUNCTION LOAD's argument, its shebang line included.
    pub code: Bytes,
    /// Where the code after the shebang line starts (its line feed kept).
    pub body_at: usize,
    pub functions: BTreeMap<String, FunctionMeta>,
    /// Unique to this load: a Lua state that ran an older load of the name runs it again.
    pub version: u64,
}

/// What a library's shebang says: `#!<engine> name=<name>`.
#[derive(Debug, PartialEq, Eq)]
pub struct Metadata {
    pub engine: String,
    pub name: String,
    pub body_at: usize,
}

impl Metadata {
    /// Read the shebang, with Redis's errors.
    pub fn parse(code: &[u8]) -> Result<Metadata, String> {
        if !code.starts_with(b"#!") {
            return Err("ERR Missing library metadata".into());
        }
        let Some(end) = code.iter().position(|&b| b == b'\n') else {
            return Err("ERR Invalid library metadata".into());
        };
        let line = String::from_utf8_lossy(&code[..end]);
        let parts = split_args(&line).ok_or("ERR Invalid library metadata")?;
        let mut parts = parts.iter().map(String::as_str);
        let Some(engine) = parts.next() else {
            return Err("ERR Invalid library metadata".into());
        };
        let mut name = None;
        for part in parts {
            let is_name = part.len() >= 5 && part[..5].eq_ignore_ascii_case("name=");
            if is_name {
                if name.is_some() {
                    return Err(
                        "ERR Invalid metadata value, name argument was given multiple times".into(),
                    );
                }
                name = Some(part[5..].to_string());
                continue;
            }
            return Err(format!("ERR Invalid metadata value given: {part}"));
        }
        let Some(name) = name else {
            return Err("ERR Library name was not given".into());
        };
        Ok(Metadata {
            engine: engine[2..].to_string(),
            name,
            body_at: end,
        })
    }
}

/// A line split into arguments as Redis splits a shebang (`sdssplitargs`): spaces part them;
/// double quotes (with `\n`, `\t`, `\"`, `\\` and `\xHH` escapes) and single quotes group, and a
/// closing quote must end the argument. `None` for unbalanced quotes.
fn split_args(line: &str) -> Option<Vec<String>> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Some(args);
        }
        let mut arg = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' | '\'' => {
                    let quote = c;
                    loop {
                        match chars.next()? {
                            '\\' if quote == '"' => match chars.next()? {
                                'n' => arg.push('\n'),
                                'r' => arg.push('\r'),
                                't' => arg.push('\t'),
                                'b' => arg.push('\u{8}'),
                                'a' => arg.push('\u{7}'),
                                'x' => {
                                    let hex: String =
                                        [chars.next()?, chars.next()?].iter().collect();
                                    arg.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
                                }
                                other => arg.push(other),
                            },
                            '\\' if chars.peek() == Some(&'\'') => {
                                chars.next();
                                arg.push('\'');
                            }
                            c if c == quote => break,
                            other => arg.push(other),
                        }
                    }
                    // A closing quote ends the argument.
                    if chars.peek().is_some_and(|c| !c.is_ascii_whitespace()) {
                        return None;
                    }
                    break;
                }
                c if c.is_ascii_whitespace() => break,
                other => arg.push(other),
            }
        }
        args.push(arg);
    }
}

/// Whether a library or function name is made of letters, digits and underscores.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub const BAD_NAME: &str = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// The libraries this node holds.
#[derive(Debug, Default)]
pub struct Functions {
    held: Mutex<Held>,
    versions: AtomicU64,
}

#[derive(Debug, Default)]
struct Held {
    libraries: BTreeMap<String, Arc<Library>>,
    /// Each function's name in lower case (FCALL ignores case), and its library's name.
    by_function: HashMap<String, String>,
}

impl Held {
    fn reindex(&mut self) {
        self.by_function = self
            .libraries
            .iter()
            .flat_map(|(lib, l)| {
                l.functions
                    .keys()
                    .map(|f| (f.to_ascii_lowercase(), lib.clone()))
            })
            .collect();
    }
}

/// Why libraries were not linked: a name taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Clash {
    Library(String),
    Function(String),
}

impl Functions {
    /// A version for a library about to be added.
    pub fn next_version(&self) -> u64 {
        self.versions.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn libraries(&self) -> Vec<Arc<Library>> {
        self.lock().libraries.values().cloned().collect()
    }

    pub fn library(&self, name: &str) -> Option<Arc<Library>> {
        self.lock().libraries.get(name).cloned()
    }

    /// The library that has function `name` (its case ignored, as Redis does), the
    /// function's name as registered, and the function.
    pub fn function(&self, name: &str) -> Option<(Arc<Library>, String, FunctionMeta)> {
        let held = self.lock();
        let library = held.by_function.get(&name.to_ascii_lowercase())?;
        let lib = held.libraries.get(library)?;
        let (registered, f) = lib
            .functions
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))?;
        Some((Arc::clone(lib), registered.clone(), f.clone()))
    }

    /// Add `libraries`, all or none: a library of a name held is a clash unless `replace`
    /// (it is replaced then), and so is a function of another library's name (FUNCTION
    /// LOAD, RESTORE's APPEND and REPLACE).
    pub fn link(&self, libraries: Vec<Library>, replace: bool) -> Result<(), Clash> {
        let mut held = self.lock();
        if let Some(l) = libraries
            .iter()
            .find(|l| !replace && held.libraries.contains_key(&l.name))
        {
            return Err(Clash::Library(l.name.clone()));
        }
        for f in libraries.iter().flat_map(|l| l.functions.keys()) {
            let owner = held.by_function.get(&f.to_ascii_lowercase());
            if owner.is_some_and(|owner| !libraries.iter().any(|l| l.name == *owner)) {
                return Err(Clash::Function(f.clone()));
            }
        }
        for l in libraries {
            held.libraries.insert(l.name.clone(), Arc::new(l));
        }
        held.reindex();
        Ok(())
    }

    pub fn delete(&self, name: &str) -> bool {
        let mut held = self.lock();
        let deleted = held.libraries.remove(name).is_some();
        held.reindex();
        deleted
    }

    /// Replace every library with `libraries` (none: FUNCTION FLUSH).
    pub fn set_all(&self, libraries: Vec<Library>) {
        let mut held = self.lock();
        held.libraries = libraries
            .into_iter()
            .map(|l| (l.name.clone(), Arc::new(l)))
            .collect();
        held.reindex();
    }

    /// How many libraries and functions.
    pub fn counts(&self) -> (usize, usize) {
        let held = self.lock();
        (held.libraries.len(), held.by_function.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_metadata_is_read_as_redis_reads_it() {
        let md = Metadata::parse(b"#!lua name=mylib\nreturn 1").expect("metadata");
        assert_eq!(md.engine, "lua");
        assert_eq!(md.name, "mylib");
        assert_eq!(md.body_at, 16);
        for (code, error) in [
            (&b"return 1"[..], "ERR Missing library metadata"),
            (b"#!lua name=x", "ERR Invalid library metadata"),
            (b"#!lua\n", "ERR Library name was not given"),
            (
                b"#!lua name=a name=b\n",
                "ERR Invalid metadata value, name argument was given multiple times",
            ),
            (
                b"#!lua foo=bar\n",
                "ERR Invalid metadata value given: foo=bar",
            ),
        ] {
            assert_eq!(Metadata::parse(code), Err(error.to_string()));
        }
        assert!(valid_name("a_1") && !valid_name("a-1") && !valid_name(""));
        let md = Metadata::parse(b"#!lua name=\"foo\"\nreturn 1").expect("quoted");
        assert_eq!(md.name, "foo");
        assert_eq!(
            split_args("a \"b c\" 'd'"),
            Some(vec!["a".into(), "b c".into(), "d".into()])
        );
        assert_eq!(split_args("a \"b"), None);
    }
}
