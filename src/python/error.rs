//! Errors of the Python layer. A Python exception is carried as text (type,
//! message, formatted traceback), never as a Python object, so it can cross
//! threads and interpreters and outlive the interpreter that raised it.

use std::fmt;

/// A Python exception, formatted when it was caught.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyException {
    /// `ValueError`, `SystemExit`, ...
    pub type_name: String,
    pub message: String,
    /// The whole traceback as Python would print it, ending in a newline.
    pub traceback: String,
    /// For `SystemExit`: what the interpreter would have done.
    pub exit: Option<SystemExit>,
}

/// How a `SystemExit` would have ended a standalone interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemExit {
    pub code: i32,
    /// Printed to stderr first, for `sys.exit("message")`.
    pub message: Option<String>,
}

impl PyException {
    pub fn is_system_exit(&self) -> bool {
        self.exit.is_some()
    }
}

impl fmt::Display for PyException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.type_name, self.message)
    }
}

impl std::error::Error for PyException {}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Python(#[from] PyException),
    #[error(transparent)]
    Load(#[from] super::loader::LoadError),
    #[error("Python could not start: {0}")]
    Init(String),
    #[error("could not create a sub-interpreter: {0}")]
    NewInterpreter(String),
    #[error(
        "this thread already holds the GIL of interpreter {held}, so it cannot take interpreter \
         {wanted}'s: Gil guards do not nest (drop the first guard, or run the call on another thread)"
    )]
    NestedGil { held: i64, wanted: i64 },
    #[error("interpreter {0} has ended or is ending")]
    Ended(i64),
    #[error("Python has been finalized in this process and cannot be used again")]
    Finalized,
    #[error(
        "this process was forked from the host (os.fork or multiprocessing's 'fork'); only the host \
         process can do this"
    )]
    ForkedChild,
    #[error("{what} contains a NUL byte, which Python's C API cannot take")]
    Nul { what: &'static str },
    /// The loaded interpreter cannot make interpreters of this isolation;
    /// `reason` (from compat) says which version would.
    #[error(
        "isolation `{isolation}` is not available: {reason}. Use `shared` or `main`, or upgrade (pyhost --python 3.13 ...)"
    )]
    IsolationUnsupported { isolation: super::Isolation, reason: String },
    /// A debugging hook the user switched on (tracemalloc) would hang or
    /// abort the process with this isolation on this interpreter; `reason`
    /// (from compat) names the fix.
    #[error("isolation `{isolation}` is refused while debugging hooks are on: {reason}")]
    IsolationUnsafeWithDebugHooks { isolation: super::Isolation, reason: String },
    #[error("{0}")]
    Usage(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
