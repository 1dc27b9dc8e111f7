//! Function libraries (FUNCTION LOAD, FCALL): the libraries this node holds, by name, with
//! the functions each registered. The libraries are the store's shared scripting state
//! (every region's); this registry is what that state means here, brought up to date
//! before each use ([`Functions::sync`]). A library's code is what is kept; each Lua state
//! runs it again (registering its functions there) when it first calls one of them.

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
    /// The generation of the shared state this was made from.
    synced: Option<u64>,
}

/// Why libraries could not be added: a name taken.
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

    /// Whether `libraries` could be added, all of them: a library of a name held is a clash
    /// unless `replace` (it would be replaced), and so is a function of another library's
    /// name (FUNCTION LOAD, RESTORE's APPEND and REPLACE).
    pub fn check_link(&self, libraries: &[Library], replace: bool) -> Result<(), Clash> {
        let held = self.lock();
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
        Ok(())
    }

    /// Make the registry what the shared state's `live` libraries (name and code, the
    /// latest written first) mean, unless it was made from that state's `generation`
    /// already. Each library is added unless a function of it is a later library's: every
    /// region holding the same state then has the same functions (two regions may load
    /// libraries with a function of the same name at the same time; the later load wins
    /// and the other is left out, logged). A library held with the same code is kept, one
    /// of `prepared` (just checked by a command) is taken, any other is made by `make`.
    pub fn sync(
        &self,
        generation: u64,
        live: &[(&str, &Bytes)],
        prepared: Vec<Library>,
        make: impl Fn(&Bytes) -> Result<Library, String>,
    ) {
        let mut held = self.lock();
        if held.synced == Some(generation) {
            return;
        }
        let mut prepared: HashMap<String, Library> =
            prepared.into_iter().map(|l| (l.name.clone(), l)).collect();
        let mut libraries = BTreeMap::new();
        let mut by_function = HashMap::new();
        for &(name, code) in live {
            let library = match held.libraries.get(name) {
                Some(l) if l.code == *code => Arc::clone(l),
                _ => match prepared.remove(name).filter(|l| l.code == *code) {
                    Some(l) => Arc::new(l),
                    None => match make(code) {
                        Ok(l) => Arc::new(l),
                        Err(e) => {
                            tracing::error!(library = name, error = %e, "a library did not load");
                            continue;
                        }
                    },
                },
            };
            let taken = library
                .functions
                .keys()
                .find(|f| by_function.contains_key(&f.to_ascii_lowercase()));
            if let Some(f) = taken {
                tracing::warn!(
                    library = name,
                    function = %f,
                    "a library is left out: a later library has a function of the same name"
                );
                continue;
            }
            for f in library.functions.keys() {
                by_function.insert(f.to_ascii_lowercase(), name.to_owned());
            }
            libraries.insert(name.to_owned(), library);
        }
        held.libraries = libraries;
        held.by_function = by_function;
        held.synced = Some(generation);
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

    /// A library for the registry's own tests: code `name:f,g` registers `f` and `g`.
    fn made(code: &Bytes) -> Result<Library, String> {
        let text = std::str::from_utf8(code).map_err(|e| e.to_string())?;
        let (name, functions) = text.split_once(':').ok_or("no name")?;
        Ok(Library {
            name: name.into(),
            code: code.clone(),
            body_at: 0,
            functions: functions
                .split(',')
                .map(|f| {
                    let meta = FunctionMeta {
                        description: None,
                        flags: ScriptFlags::default(),
                    };
                    (f.to_owned(), meta)
                })
                .collect(),
            version: 0,
        })
    }

    #[test]
    fn the_later_library_keeps_a_function_name_both_registered() {
        let (x, y, z) = (
            Bytes::from("x:f,g"),
            Bytes::from("y:F,h"),
            Bytes::from("z:k"),
        );
        let functions = Functions::default();
        // The latest written first: y took `f` (case ignored) after x did.
        functions.sync(1, &[("y", &y), ("z", &z), ("x", &x)], Vec::new(), made);
        let names: Vec<String> = functions
            .libraries()
            .iter()
            .map(|l| l.name.clone())
            .collect();
        assert_eq!(names, vec!["y", "z"]);
        assert_eq!(
            functions.function("f").map(|(l, _, _)| l.name.clone()),
            Some("y".into())
        );
        assert!(functions.function("g").is_none());
        // The same generation again changes nothing; y deleted, x is back.
        functions.sync(1, &[("x", &x)], Vec::new(), made);
        assert_eq!(functions.counts(), (2, 3));
        functions.sync(2, &[("z", &z), ("x", &x)], Vec::new(), made);
        assert_eq!(functions.counts(), (2, 3));
        assert_eq!(
            functions.function("G").map(|(l, _, _)| l.name.clone()),
            Some("x".into())
        );
        // A library that does not load is left out, the rest stay.
        functions.sync(
            3,
            &[("bad", &Bytes::from("nocolon")), ("z", &z)],
            Vec::new(),
            made,
        );
        assert_eq!(functions.counts(), (1, 1));
    }
}
