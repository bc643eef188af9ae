//! Requests from modules to the host (`_pyhost.call` in pyhost.py): log
//! lines, captured output, guard reports, the shared state, and calls to
//! other modules. They arrive with the caller's GIL released, so answering
//! one may take another interpreter's GIL. Payloads and replies are JSON.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::python::{Error, HostCall, in_forked_child, write_stderr};

use super::pyside;
use super::supervisor::Shared;

#[derive(Deserialize)]
struct Log {
    module: Option<String>,
    level: String,
    message: String,
}

#[derive(Deserialize)]
struct Output {
    module: Option<String>,
    stream: String,
    line: String,
}

#[derive(Deserialize)]
struct Guard {
    module: Option<String>,
    what: String,
    traceback: String,
}

#[derive(Deserialize)]
struct StateGet {
    key: String,
}

#[derive(Deserialize)]
struct StateSet {
    module: Option<String>,
    key: String,
    value: Value,
}

#[derive(Deserialize)]
struct Remote {
    module: Option<String>,
    target: String,
    method: String,
    args: Vec<Value>,
}

fn parse<'a, T: Deserialize<'a>>(call: &'a HostCall<'_>) -> Result<T, String> {
    serde_json::from_slice(call.payload).map_err(|e| format!("bad payload for `{}`: {e}", call.method))
}

fn tag(module: &Option<String>) -> &str {
    module.as_deref().unwrap_or("main")
}

pub(crate) fn handle(shared: &Arc<Shared>, call: &HostCall<'_>) -> Result<String, String> {
    if in_forked_child() {
        return in_forked_child_process(call);
    }
    match call.method {
        "log" => {
            let Log { module, level, message } = parse(call)?;
            let module = tag(&module);
            for line in message.lines() {
                match level.as_str() {
                    "critical" | "error" => tracing::error!("[{module}] {line}"),
                    "warning" => tracing::warn!("[{module}] {line}"),
                    "info" => tracing::info!("[{module}] {line}"),
                    _ => tracing::debug!("[{module}] {line}"),
                }
            }
            Ok("null".into())
        }
        "output" => {
            let Output { module, stream, line } = parse(call)?;
            tracing::info!("[{}] {stream}: {line}", tag(&module));
            Ok("null".into())
        }
        "guard" => {
            let Guard { module, what, traceback } = parse(call)?;
            let name = tag(&module).to_string();
            tracing::warn!("[{name}] called {what}; the module is marked failed, the host goes on");
            if let Some(slot) = shared.slots.get(&name) {
                // The stack first and what happened last, as in a traceback.
                slot.fail_current(shared, format!("{traceback}called {what}"));
            }
            Ok("null".into())
        }
        "state.get" => {
            let StateGet { key } = parse(call)?;
            Ok(json!({ "value": shared.state.get(&key) }).to_string())
        }
        "state.set" => {
            let StateSet { module, key, value } = parse(call)?;
            shared.set_state(&key, value, tag(&module));
            Ok("null".into())
        }
        "remote" => {
            let Remote { module, target, method, args } = parse(call)?;
            remote(shared, tag(&module), &target, &method, &args)
        }
        "spawn_main" => {
            let path =
                shared.spawn_main().map_err(|e| format!("cannot write the files spawned processes need: {e}"))?;
            Ok(json!({ "path": path }).to_string())
        }
        "echo" => Ok(String::from_utf8_lossy(call.payload).into_owned()),
        other => Err(format!("the host has no method `{other}`")),
    }
}

/// A process forked from a module's code has the host's memory but only the
/// thread that forked: the other modules, the store and the supervisor are
/// the host process's, and the log's locks may be held for ever by threads
/// that did not come along. Output still reaches stderr, tagged as usual.
fn in_forked_child_process(call: &HostCall<'_>) -> Result<String, String> {
    let line = match call.method {
        "log" => parse::<Log>(call).map(|Log { module, level, message }| (module, level, message))?,
        "output" => parse::<Output>(call).map(|Output { module, stream, line }| (module, stream, line))?,
        "echo" => return Ok(String::from_utf8_lossy(call.payload).into_owned()),
        other => return Err(format!("`{other}` is not available in a process forked from the host")),
    };
    let (module, what, text) = line;
    let pid = std::process::id();
    let lines: String =
        text.lines().map(|l| format!("[{}] (forked child {pid}) {what}: {l}\n", tag(&module))).collect();
    write_stderr(&lines);
    Ok("null".into())
}

/// Runs `target.method(*args)` in the target's interpreter. Only JSON
/// crosses: the arguments are decoded there, the result encoded there.
fn remote(shared: &Arc<Shared>, caller: &str, target: &str, method: &str, args: &[Value]) -> Result<String, String> {
    let slot = shared.slots.get(target).ok_or_else(|| format!("there is no module `{target}`"))?;
    let (interpreter, instance) = slot.target().ok_or_else(|| format!("module `{target}` is not running"))?;
    let args = serde_json::to_string(args).map_err(|e| e.to_string())?;
    let gil = interpreter.gil().map_err(|e| e.to_string())?;
    pyside::remote(&gil, &instance, method, &args).map_err(|error| match error {
        Error::Python(e) => {
            tracing::debug!("[{caller}] remote {target}.{method} raised:\n{}", e.traceback);
            elided(format!("{target}.{method} raised {}: {}", e.type_name, e.message))
        }
        other => other.to_string(),
    })
}

/// A chain of remote() calls that failed deep down repeats "a.f raised
/// RemoteError: b.g raised ..." once per hop; past a few hops only both ends
/// say anything.
fn elided(message: String) -> String {
    const KEEP: usize = 600;
    if message.len() <= 2 * KEEP {
        return message;
    }
    let head = message.floor_char_boundary(KEEP);
    let tail = message.ceil_char_boundary(message.len() - KEEP);
    format!("{} [... {} bytes ...] {}", &message[..head], tail - head, &message[tail..])
}
