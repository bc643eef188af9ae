//! What one CPython interpreter is, and whether pyhost can embed it.
//!
//! `probe` runs a small script under the interpreter and checks its answer:
//! a supported version, headers, a shared libpython, each missing piece an
//! error that names the fix. `discover` finds every interpreter on the
//! machine (PATH, pyenv, uv, asdf, conda, /usr/local, /opt and pyhost's own).

pub mod discover;
pub mod probe;

pub use probe::{
    DEFAULT_COMMAND, Interpreter, KNOBS, PROBE, candidates, command_for, discover, find, find_with, inspect, probe,
    requested,
};
