//! Which interpreter each module gets.
//!
//! Some extension modules refuse sub-interpreters: single-phase C extensions
//! in an own-GIL interpreter ("does not support loading in subinterpreters"),
//! and PyO3-built packages (bcrypt, cryptography) in any interpreter but the
//! first to import them ("PyO3 modules do not yet support subinterpreters").
//! The second kind is a trap: the first importer owns the extension for the
//! life of the process, so once a sub-interpreter has imported it, even the
//! main interpreter cannot. Falling back to main after the fact fails
//! whenever another module got there first.
//!
//! So the host learns before any real import. A probe runs in a child
//! process (`pyhost __probe`, so nothing it imports is owned by the real
//! host): each module's module.py is imported in a sub-interpreter of the
//! requested isolation, the extensions it brings in are listed, and each of
//! those is then imported once more in a second, fresh sub-interpreter. An
//! extension that refuses there is main-only, and every module that uses one,
//! or that refused outright, is placed in the main interpreter from the
//! start, so the main interpreter is the first and only importer. A refusal
//! the probe could not foresee still falls back to main at load time.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::child::{ChildError, ChildSpec};
use crate::python::{InitConfig, Isolation, PyException, Python};

use super::pyside;

/// The messages with which extensions refuse a sub-interpreter.
const REFUSALS: [&str; 4] = [
    "does not support loading in subinterpreters",
    "PyO3 modules do not yet support subinterpreters",
    "may only be initialized once per interpreter process",
    "does not support the per-interpreter GIL",
];

/// Whether an import failed because an extension refuses sub-interpreters.
pub fn is_refusal(error: &PyException) -> bool {
    REFUSALS.iter().any(|r| error.traceback.contains(r) || error.message.contains(r))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeRequest {
    pub isolation: Isolation,
    pub site_dirs: Vec<PathBuf>,
    /// (name, module.py)
    pub modules: Vec<(String, PathBuf)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Module -> why it must run in main (absent: a sub-interpreter is fine).
    pub main_only: BTreeMap<String, String>,
}

/// How long the probe may take before it is killed, when the config does not say.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the probe in a child process, bounded by `timeout` and ended early
/// when `cancelled` says so. A probe that fails is not fatal: the host then
/// relies on the fallback at load time, and says so.
pub fn probe(request: &ProbeRequest, timeout: Duration, cancelled: impl Fn() -> bool + Send + 'static) -> ProbeResult {
    if request.modules.is_empty() {
        return ProbeResult::default();
    }
    let answer = ChildSpec::this_binary("__probe", timeout)
        .and_then(|spec| spec.cancel_when(cancelled).run_json::<_, ProbeResult>(request));
    match answer {
        Ok((result, _)) => result,
        Err(why @ ChildError::Cancelled { .. }) => {
            tracing::info!("{why}");
            ProbeResult::default()
        }
        Err(why) => {
            tracing::warn!(
                "the placement probe failed ({why}); modules refusing sub-interpreters will fall back to main at load time"
            );
            ProbeResult::default()
        }
    }
}

/// The child's side: `pyhost __probe`, request on stdin, result on stdout.
pub fn run_probe_child() -> anyhow::Result<()> {
    let request: ProbeRequest = serde_json::from_reader(std::io::stdin())?;
    // Module output during the probe is not the host's business.
    crate::python::set_handler(|call| match call.method {
        "log" | "output" | "guard" => Ok("null".into()),
        other => Err(format!("`{other}` is not available while probing")),
    });
    let python = Python::initialize(&InitConfig::default())?;
    let mut result = ProbeResult::default();
    let mut extensions: BTreeMap<String, Vec<String>> = BTreeMap::new(); // extension -> modules
    let mut probed = Vec::new();
    for (name, path) in &request.modules {
        let interpreter = python.new_interpreter(request.isolation)?;
        let outcome = {
            let gil = interpreter.gil()?;
            pyside::bootstrap(&gil, Some(name), &request.site_dirs).and_then(|()| pyside::probe(&gil, name, path))
        };
        match outcome {
            Ok(found) => {
                for extension in found {
                    extensions.entry(extension).or_default().push(name.clone());
                }
            }
            Err(crate::python::Error::Python(error)) if is_refusal(&error) => {
                result.main_only.insert(name.clone(), format!("refuses a sub-interpreter: {}", error.message));
            }
            // Not a placement question; the real load reports it.
            Err(error) => tracing::debug!("probing {name}: {error}"),
        }
        // Interpreters are not ended here: ending one and importing the same
        // single-phase extension in the next is itself a crash on some
        // versions (3.11's _decimal). The process exits without that.
        probed.push(interpreter);
    }
    for (extension, users) in &extensions {
        let interpreter = python.new_interpreter(request.isolation)?;
        // The same folders as its users saw: site dirs and their own folders.
        let mut dirs = request.site_dirs.clone();
        for (name, path) in &request.modules {
            if users.contains(name) {
                dirs.extend(path.parent().map(|p| p.to_path_buf()));
            }
        }
        let refused = {
            let gil = interpreter.gil()?;
            match pyside::bootstrap(&gil, None, &dirs).and_then(|()| gil.import(extension).map(drop)) {
                Err(crate::python::Error::Python(error)) if is_refusal(&error) => Some(error.message),
                Err(error) => {
                    tracing::debug!("probing {extension} again: {error}");
                    None
                }
                Ok(()) => None,
            }
        };
        probed.push(interpreter);
        if let Some(message) = refused {
            for user in users {
                result
                    .main_only
                    .entry(user.clone())
                    .or_insert_with(|| format!("imports {extension}, which refuses sub-interpreters: {message}"));
            }
        }
    }
    println!("{}", serde_json::to_string(&result)?);
    let _ = std::io::stdout().flush();
    // Whatever the modules left running, the answer is out: exit without
    // finalizing, the one way out that neither aborts nor hangs.
    std::process::exit(0);
}
