//! `pyhost doctor`: every CPython on this machine, whether pyhost can embed
//! it and the exact fix when not. The matrix's default columns.
//!
//! The search and the checks live in the `interpreters` crate (the build
//! script probes with the same code, so doctor and the build never
//! disagree); this module gives them the one thing the crate leaves to its
//! caller, a way to run children that cannot hang the search (src/child.rs:
//! a timeout, the process group killed on every path).

use std::path::Path;
use std::time::Duration;

pub use interpreters::discover::{Discovery, Found, REQUIRED, Source, version_key};

use crate::child::{ChildSpec, last_lines};

/// How long one interpreter (or `pyenv which`) may take to answer. A
/// healthy one answers in a fraction of a second even on a busy machine.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs one child of the search: its stdout, or why it gave none.
fn run(program: &Path, args: &[&str]) -> Result<String, String> {
    let finished = ChildSpec::new(program, ANSWER_TIMEOUT)
        .args(args)
        // A user's PYTHONPATH or PYTHONHOME must not change what we learn.
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .run(b"")
        .map_err(|e| e.to_string())?;
    if !finished.status.success() {
        let stderr = last_lines(&finished.stderr, 3).replace('\n', " ");
        return Err(format!("{}: {stderr}", finished.status));
    }
    Ok(finished.stdout)
}

/// Every interpreter on this machine, each once (see the crate's discover.rs).
pub fn discover() -> Discovery {
    let places = interpreters::discover::Places::from_env(&run);
    interpreters::discover::discover(&places, &run)
}

/// One interpreter, named by a path or a command.
pub fn check(candidate: &Path) -> Found {
    interpreters::discover::probe_file(candidate, &run)
}

/// "3.9.2" -> (3, 9, 2), for sorting 3.9 before 3.11.
pub fn version_numbers(version: &str) -> Vec<u32> {
    version_key(Some(version)).1
}
