//! The JSON shape of `--report FILE` and `pyhost ctl status`.

use serde::{Deserialize, Serialize};

use crate::python::{BUILD, Isolation};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Loading,
    Running,
    /// Loaded and shut down cleanly (or serve() returned on its own).
    Stopped,
    /// Raised, exited or was killed by a guard; `error` says how.
    Failed,
    /// Could not even be imported: a syntax error, a missing import.
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
    pub leftover_threads: Vec<ThreadReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InterpreterReport {
    pub version: String,
    pub executable: String,
}

impl InterpreterReport {
    pub fn current() -> Self {
        InterpreterReport { version: BUILD.version.to_string(), executable: BUILD.executable.to_string() }
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
}
