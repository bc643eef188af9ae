//! The JSON shape of `--report FILE` and `pyhost ctl status`.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::memory::Memory;
use crate::python::{GilStatus, Isolation};

/// A module's state; module.rs has the diagram of how one moves between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Enabled, waiting for its turn: the host is still probing or loading
    /// the modules before it (or stopped before it got there).
    Pending,
    Loading,
    /// Loaded: answers remote() and notify(). Whether serve() still runs
    /// is `serving`.
    Running,
    /// Unloaded by the host's shutdown or a restart.
    Stopped,
    /// Raised, exited or was killed by a guard; `error` says how.
    Failed,
    /// Could not even be imported: a syntax error, a missing import, an
    /// import that did not finish within load_timeout.
    Unloadable,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadReport {
    pub name: String,
    pub daemon: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModuleReport {
    pub name: String,
    /// Where it runs (or last ran); null if it never got an interpreter.
    pub isolation: Option<Isolation>,
    /// Why it runs in the main interpreter when a sub-interpreter was asked for.
    pub placement: Option<String>,
    pub state: State,
    pub error: Option<String>,
    pub restarts: u32,
    /// serve() is running now (false once it returned, or with no serve()).
    #[serde(default)]
    pub serving: bool,
    /// Events dropped because the module's notify queue was full.
    #[serde(default)]
    pub notifications_dropped: u64,
    /// Threads still running in the module's code, from any of its
    /// instances: Python threads it started, and host threads (serve(),
    /// notify(), shutdown(), its import) that did not return in time.
    pub leftover_threads: Vec<ThreadReport>,
    /// Free-threaded builds only: whether the module's interpreter runs with
    /// the GIL, and which of its extension modules turned it on, as of its
    /// load (after __init__) and again when it is stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gil: Option<GilStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InterpreterReport {
    pub version: String,
    pub executable: String,
}

impl InterpreterReport {
    pub fn current() -> Self {
        let info = crate::python::info();
        InterpreterReport { version: info.version.clone(), executable: info.executable.clone() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub interpreter: InterpreterReport,
    pub modules: Vec<ModuleReport>,
    /// At exit: whether Python was finalized (false when leftover threads
    /// made that unsafe). Absent while running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finalized: Option<bool>,
    /// Set when a second signal made the host exit without waiting for its
    /// modules: which signal. The states are those known at that moment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced_exit: Option<String>,
    /// The host's memory when the report was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
}

impl Report {
    /// Written to a temporary file beside `path` first, so a reader never sees
    /// half a report; the temporary name is unique, so two writers (a forced
    /// exit racing the normal one) never mix theirs.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        static WRITES: AtomicU32 = AtomicU32::new(0);
        let unique = format!("tmp.{}.{}", std::process::id(), WRITES.fetch_add(1, Ordering::Relaxed));
        let tmp = path.with_extension(unique);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        let written = file
            .write_all(serde_json::to_string_pretty(self)?.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.with_context(|| format!("cannot write {}", path.display()))
    }
}
