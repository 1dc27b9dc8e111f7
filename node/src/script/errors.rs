//! How a script's errors are made and told: the error a command raises inside a script
//! (`ScriptError`), the message handler scripts run under, and the error reply Redis gives
//! for a script that failed (`... script: <sha>, on @user_script:N.`).

use super::native::Failure;
use mlua::{Lua, Value};

/// The `err` field of the handler's error table.
pub(super) fn error_field(err: &Value) -> String {
    match err {
        Value::Table(t) => match t.raw_get::<Value>("err") {
            Ok(Value::String(s)) => s.to_string_lossy(),
            _ => "ERR unknown error".to_string(),
        },
        Value::String(s) => format!("ERR {}", s.to_string_lossy()),
        other => format!("ERR {}", other.to_string().unwrap_or_default()),
    }
}

/// The error reply of a script stopped by `failure`: its message, and where in the
/// script it happened.
pub(super) fn script_error(failure: &Failure, sha: &str) -> String {
    match failure {
        Failure::Table { err, source, line } => {
            let mut text = err
                .clone()
                .unwrap_or_else(|| "ERR unknown error".to_string());
            if let (Some(source), Some(line)) = (source, line) {
                text.push_str(&format!(" script: {sha}, on {source}:{line}."));
            }
            text
        }
        Failure::Other(text) => {
            let text = text.as_deref().unwrap_or("execution failure");
            format!("ERR Error running script {sha}, {text}")
        }
    }
}

/// The message handler scripts run under: an error becomes a table `{err = 'CODE message'}`
/// with where it happened — the first frame of the script itself, not of a native function
/// nor of the sandbox's redis.call (Redis's handler looks past the native function too).
pub(super) fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Value> {
    let table = match err {
        Value::Table(t) => t,
        Value::Error(e) if error_counted(&e) => match error_table(lua, &error_message(&e), true)? {
            Value::Table(t) => t,
            _ => unreachable!("error_table makes a table"),
        },
        other => {
            let text = match &other {
                Value::String(s) => format!("ERR {}", s.to_string_lossy()),
                Value::Error(e) => error_message(e),
                Value::Nil => "ERR nil".to_string(),
                v => format!("ERR {}", v.to_string().unwrap_or_default()),
            };
            let t = lua.create_table()?;
            t.raw_set("err", text)?;
            t
        }
    };
    for level in 1..32 {
        let Some(frame) = lua.inspect_stack(level, |d| {
            let source = d.source();
            (
                source.what.to_string(),
                source.source.map(|s| s.to_string()),
                d.current_line(),
            )
        }) else {
            break;
        };
        let (what, source, line) = frame;
        let library = source
            .as_deref()
            .is_some_and(|s| s == "@gdc_sandbox" || super::libs::is_library_chunk(s));
        if what == "C" || library {
            continue;
        }
        if let (Some(source), Some(line)) = (source, line) {
            table.raw_set("source", source)?;
            table.raw_set("line", line)?;
        }
        break;
    }
    Ok(Value::Table(table))
}

/// An error `redis.call` raised: its text is the reply's, `CODE message`; `counted`: the
/// command counted it in the error stats already (the script's reply must not again).
#[derive(Debug)]
pub(super) struct ScriptError(String, bool);

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScriptError {}

impl ScriptError {
    pub(super) fn raise(text: &str) -> mlua::Error {
        ScriptError::raise_as(text, false)
    }

    pub(super) fn raise_as(text: &str, counted: bool) -> mlua::Error {
        let text = text.trim_matches(['\r', '\n']).to_string();
        mlua::Error::external(ScriptError(text, counted))
    }
}

/// The error-table field that says its error was counted already (Redis's name).
pub(super) const COUNTED: &str = "ignore_error_stats_update";

/// An error as Redis's scripts see it, `{err = 'CODE message'}`; `counted` as
/// [`ScriptError`]'s.
pub(super) fn error_table(lua: &Lua, text: &str, counted: bool) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 2)?;
    t.raw_set("err", text.trim_matches(['\r', '\n']))?;
    if counted {
        t.raw_set(COUNTED, true)?;
    }
    Ok(Value::Table(t))
}

/// A native error's text with its code: a command's error as it was, any other Lua error
/// as an ERR.
pub(super) fn error_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => error_message(cause),
        mlua::Error::ExternalError(x) => match x.downcast_ref::<ScriptError>() {
            Some(ScriptError(text, _)) => text.clone(),
            None => format!("ERR {x}"),
        },
        other => format!("ERR {}", message(other)),
    }
}

/// Whether a native error is a command's, counted already.
pub(super) fn error_counted(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::CallbackError { cause, .. } => error_counted(cause),
        mlua::Error::ExternalError(x) => x
            .downcast_ref::<ScriptError>()
            .is_some_and(|ScriptError(_, counted)| *counted),
        _ => false,
    }
}

/// A Lua error's message alone (mlua adds a traceback to some).
pub(super) fn message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => message(cause),
        other => other.to_string(),
    }
}
