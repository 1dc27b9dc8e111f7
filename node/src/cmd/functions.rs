//! FUNCTION and FCALL: libraries of Lua functions, loaded with FUNCTION LOAD into the
//! scripting state every region shares (a change is a binlog record, so it reaches every
//! region and survives a restart), run as scripts are (see `scripting`).

use super::scripting::{Runs, check_flags, dispatch, keys_given};
use super::{CmdResult, Ctx, is, write_error};
use crate::engine::store::ScriptingChange;
use crate::reply::Reply;
use crate::script;
use crate::script::busy::Running;
use crate::script::functions::{self, Clash, Functions, Library, Metadata};
use bytes::Bytes;

pub fn fcall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, args, false)
}

pub fn fcall_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, args, true)
}

/// `FCALL function numkeys key... arg...`; `ro`: FCALL_RO.
fn fcall_generic(ctx: &mut Ctx<'_>, args: &[Bytes], ro: bool) -> CmdResult {
    super::monitoring::feed_monitors(ctx, args);
    let asked = String::from_utf8_lossy(&args[1]);
    let Some((library, name, meta)) = registry(ctx).function(&asked) else {
        return Err(Reply::err("ERR Function not found"));
    };
    let numkeys = gdc_crdt::string::parse_i64(&args[2])
        .ok_or_else(|| Reply::err("ERR Bad number of keys provided"))?;
    let numkeys = keys_given(numkeys, args)?;
    check_flags(ctx, meta.flags, ro)?;
    dispatch(
        ctx,
        Runs::Function(library, name),
        meta.flags,
        ro,
        args,
        numkeys,
    )
}

/// FUNCTION LOAD, LIST, DELETE, FLUSH, STATS, KILL, HELP.
pub fn function(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let functions = registry(ctx);
    if is(sub, "load") {
        let mut at = 2;
        let mut replace = false;
        while at < args.len() - 1 {
            if !is(&args[at], "replace") {
                return Err(Reply::err(format!(
                    "ERR Unknown option given: {}",
                    String::from_utf8_lossy(&args[at])
                )));
            }
            replace = true;
            at += 1;
        }
        let Some(code) = args.get(at) else {
            return Err(Reply::err("ERR Function code is missing"));
        };
        let library = check_library(ctx, code, replace).map_err(Reply::Error)?;
        let name = library.name.clone();
        write_libraries(ctx, vec![library], false)?;
        return Ok(Reply::bulk(name));
    }
    if is(sub, "list") {
        return function_list(ctx, &args[2..]);
    }
    if is(sub, "delete") {
        let name = String::from_utf8_lossy(&args[2]).into_owned();
        if functions.library(&name).is_none() {
            return Err(Reply::err("ERR Library not found"));
        }
        let deleted = ScriptingChange::Library { name, code: None };
        ctx.store
            .change_scripting(deleted, ctx.now)
            .map_err(write_error)?;
        return Ok(Reply::OK);
    }
    if is(sub, "flush") {
        if args.len() > 3 {
            return Err(Reply::err(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
                String::from_utf8_lossy(sub)
            )));
        }
        match args.get(2) {
            None => {}
            Some(mode) if is(mode, "sync") || is(mode, "async") => {}
            Some(_) => {
                return Err(Reply::err(
                    "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
                ));
            }
        }
        write_libraries(ctx, Vec::new(), true)?;
        return Ok(Reply::OK);
    }
    if is(sub, "dump") {
        let libraries = functions.libraries();
        let payload = crate::rdb::dump_functions(libraries.iter().map(|l| &l.code[..]));
        return Ok(Reply::bulk(payload));
    }
    if is(sub, "restore") {
        function_restore(ctx, args)?;
        return Ok(Reply::OK);
    }
    if is(sub, "stats") {
        // A running function is the connections' to show (`cmd::while_busy`).
        return Ok(stats(ctx.server, None));
    }
    if is(sub, "kill") {
        // A running function is the connections' to kill (`cmd::while_busy`).
        return Err(Reply::err(crate::script::busy::NOT_BUSY));
    }
    Ok(super::help(&[
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ]))
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: every library of the payload, or none.
fn function_restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<(), Reply> {
    if args.len() > 4 {
        return Err(Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
            String::from_utf8_lossy(&args[1])
        )));
    }
    let policy = args.get(3);
    let (flush, replace) = match policy {
        None => (false, false),
        Some(p) if is(p, "append") => (false, false),
        Some(p) if is(p, "replace") => (false, true),
        Some(p) if is(p, "flush") => (true, false),
        Some(_) => {
            return Err(Reply::err(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ));
        }
    };
    let codes =
        crate::rdb::restore_functions(&args[2]).map_err(|e| Reply::err(format!("ERR {e}")))?;
    let mut libraries: Vec<Library> = Vec::new();
    for code in codes {
        let code = Bytes::from(code);
        let library = checked_metadata(&code)
            .and_then(|md| run_library(ctx.server, &code, md))
            .map_err(Reply::Error)?;
        if libraries.iter().any(|l| l.name == library.name) {
            return Err(Reply::err(format!(
                "ERR Library '{}' already exists",
                library.name
            )));
        }
        let clash = library.functions.keys().find(|f| {
            libraries
                .iter()
                .any(|l| l.functions.keys().any(|g| g.eq_ignore_ascii_case(f)))
        });
        if let Some(f) = clash {
            return Err(Reply::err(format!("ERR Function {f} already exists")));
        }
        libraries.push(library);
    }
    if !flush {
        registry(ctx)
            .check_link(&libraries, replace)
            .map_err(|clash| {
                Reply::Error(match clash {
                    Clash::Library(name) => format!("ERR Library {name} already exists"),
                    Clash::Function(name) => format!("ERR Function {name} already exists"),
                })
            })?;
    }
    write_libraries(ctx, libraries, flush)
}

/// The function registry, brought up to the shared scripting state.
pub(super) fn registry<'a>(ctx: &Ctx<'a>) -> &'a Functions {
    sync_registry(ctx, Vec::new());
    ctx.server.functions()
}

/// Bring the registry up to the shared scripting state; `prepared`: libraries a command
/// just made from their code (not made again).
fn sync_registry(ctx: &Ctx<'_>, prepared: Vec<Library>) {
    let scripting = ctx.store.scripting();
    let live: Vec<(&str, &Bytes)> = scripting
        .live_libraries()
        .into_iter()
        .map(|(name, _, code)| (name, code))
        .collect();
    let shared = ctx.server;
    let make = |code: &Bytes| Metadata::parse(code).and_then(|md| run_library(shared, code, md));
    shared
        .functions()
        .sync(scripting.generation(), &live, prepared, make);
}

/// Write `libraries` to the shared state as one batch, after tombstones for every other
/// library there with `flush_others` (FUNCTION FLUSH, RESTORE FLUSH), and make the
/// registry match.
fn write_libraries(
    ctx: &mut Ctx<'_>,
    libraries: Vec<Library>,
    flush_others: bool,
) -> Result<(), Reply> {
    let mut changes = Vec::new();
    if flush_others {
        for (name, _, _) in ctx.store.scripting().live_libraries() {
            if !libraries.iter().any(|l| l.name == name) {
                let name = name.to_owned();
                changes.push(ScriptingChange::Library { name, code: None });
            }
        }
    }
    for l in &libraries {
        let (name, code) = (l.name.clone(), Some(l.code.clone()));
        changes.push(ScriptingChange::Library { name, code });
    }
    ctx.in_one_batch(|ctx| {
        for change in changes {
            ctx.store
                .change_scripting(change, ctx.now)
                .map_err(write_error)?;
        }
        Ok::<(), Reply>(())
    })??;
    sync_registry(ctx, libraries);
    Ok(())
}

/// A library's metadata, checked as FUNCTION LOAD checks it: its name, its engine.
fn checked_metadata(code: &[u8]) -> Result<Metadata, String> {
    let md = Metadata::parse(code)?;
    if !functions::valid_name(&md.name) {
        return Err(functions::BAD_NAME.into());
    }
    if !md.engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{}' not found", md.engine));
    }
    Ok(md)
}

/// FUNCTION LOAD's checks: the library made by running its code, unless its name or a
/// function's is taken (by another library; by any, without `replace`).
fn check_library(ctx: &Ctx<'_>, code: &Bytes, replace: bool) -> Result<Library, String> {
    let functions = registry(ctx);
    let md = checked_metadata(code)?;
    if !replace && functions.library(&md.name).is_some() {
        return Err(format!("ERR Library '{}' already exists", md.name));
    }
    let library = run_library(ctx.server, code, md)?;
    functions
        .check_link(std::slice::from_ref(&library), replace)
        .map_err(|clash| match clash {
            Clash::Library(name) => format!("ERR Library '{name}' already exists"),
            Clash::Function(name) => format!("ERR Function {name} already exists"),
        })?;
    Ok(library)
}

/// A library, made by running its code here; refused if it registers no function.
fn run_library(
    shared: &crate::shared::Shared,
    code: &Bytes,
    md: Metadata,
) -> Result<Library, String> {
    let registered = script::run_library(shared.scripts(), &code[md.body_at..])?;
    if registered.is_empty() {
        return Err("ERR No functions registered".into());
    }
    Ok(Library {
        name: md.name,
        code: code.clone(),
        body_at: md.body_at,
        functions: registered
            .into_iter()
            .map(|r| {
                let meta = functions::FunctionMeta {
                    description: r.description,
                    flags: r.flags,
                };
                (r.name, meta)
            })
            .collect(),
        version: shared.functions().next_version(),
    })
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
fn function_list(ctx: &Ctx<'_>, options: &[Bytes]) -> CmdResult {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 0;
    while i < options.len() {
        let arg = &options[i];
        if !with_code && is(arg, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(arg, "libraryname") {
            let Some(p) = options.get(i + 1) else {
                return Err(Reply::err("ERR library name argument was not given"));
            };
            pattern = Some(p.clone());
            i += 1;
        } else {
            return Err(Reply::err(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(arg)
            )));
        }
        i += 1;
    }
    let libraries = registry(ctx).libraries();
    let listed = libraries
        .iter()
        .filter(|l| {
            pattern
                .as_ref()
                .is_none_or(|p| crate::glob::matches(p, l.name.as_bytes()))
        })
        .map(|l| {
            let functions = l
                .functions
                .iter()
                .map(|(name, f)| {
                    let flags = f.flags.names().into_iter().map(Reply::Status).collect();
                    Reply::Map(vec![
                        (Reply::bulk("name"), Reply::bulk(name.clone())),
                        (
                            Reply::bulk("description"),
                            f.description.clone().map_or(Reply::Nil, Reply::bulk),
                        ),
                        (Reply::bulk("flags"), Reply::Set(flags)),
                    ])
                })
                .collect();
            let mut fields = vec![
                (Reply::bulk("library_name"), Reply::bulk(l.name.clone())),
                (Reply::bulk("engine"), Reply::bulk("LUA")),
                (Reply::bulk("functions"), Reply::Array(functions)),
            ];
            if with_code {
                fields.push((Reply::bulk("library_code"), Reply::Bulk(l.code.clone())));
            }
            Reply::Map(fields)
        })
        .collect();
    Ok(Reply::Array(listed))
}

/// Libraries an older gdc kept in the metadata store (not shared with other regions) are
/// written to the shared scripting state at start, once; a name the state has is left.
pub fn migrate_saved_functions(shared: &crate::shared::Shared) {
    let meta = shared.engine().meta();
    let saved = match meta.function_libraries() {
        Ok(saved) if saved.is_empty() => return,
        Ok(saved) => saved,
        Err(e) => {
            tracing::error!(error = %e, "could not read the saved function libraries");
            return;
        }
    };
    let mut store = shared.engine().lock_store();
    let now = crate::engine::store::now_ms();
    for code in saved {
        let code = Bytes::from(code);
        let name = match Metadata::parse(&code) {
            Ok(md) => md.name,
            Err(e) => {
                tracing::error!(error = %e, "a saved function library is damaged");
                continue;
            }
        };
        if store.scripting().libraries().contains_key(&name) {
            continue;
        }
        let change = ScriptingChange::Library {
            name,
            code: Some(code),
        };
        if let Err(e) = store.change_scripting(change, now) {
            tracing::error!(error = %e, "could not keep a saved function library");
            return;
        }
    }
    let kept = store.commit().map_err(|e| e.to_string()).and_then(|()| {
        meta.set_function_libraries(std::iter::empty())
            .map_err(|e| e.to_string())
    });
    match kept {
        Ok(()) => tracing::info!("moved the saved function libraries to the shared state"),
        Err(e) => tracing::error!(error = %e, "could not move the saved function libraries"),
    }
}

/// FUNCTION STATS: the function running now (`None` when none runs), and the libraries.
pub(super) fn stats(shared: &crate::shared::Shared, running: Option<&Running>) -> Reply {
    let running_script = running.map_or(Reply::Nil, |r| {
        Reply::Map(vec![
            (Reply::bulk("name"), Reply::bulk(r.name.clone())),
            (
                Reply::bulk("command"),
                Reply::Array(r.command.iter().cloned().map(Reply::Bulk).collect()),
            ),
            (
                Reply::bulk("duration_ms"),
                Reply::Int(r.started.elapsed().as_millis() as i64),
            ),
        ])
    });
    let (libraries, functions) = shared.functions().counts();
    let engine = Reply::Map(vec![
        (Reply::bulk("libraries_count"), Reply::Int(libraries as i64)),
        (Reply::bulk("functions_count"), Reply::Int(functions as i64)),
    ]);
    Reply::Map(vec![
        (Reply::bulk("running_script"), running_script),
        (
            Reply::bulk("engines"),
            Reply::Map(vec![(Reply::bulk("LUA"), engine)]),
        ),
    ])
}
