//! The safe Rust face of compat/: everything above this module is ignorant
//! of which Python it runs on, and holds no raw Python pointer.

pub mod baseline;
mod compat_object;
mod error;
mod ffi;
mod fork;
pub mod free_threading;
mod gil;
mod host_call;
mod interpreter;
pub mod interpreter_info;
mod loader;
mod object;
mod probe_cache;
mod puller;
mod runtime;
mod stack;
mod teardown;
mod text;
pub mod threads;

pub use error::{Error, PyException, Result, SystemExit};
pub use fork::{CopyAnswer, Ending, Reply, ask_a_copy, end_forked_child, in_forked_child, write_stderr};
pub use free_threading::{GilStatus, free_threaded};
pub use gil::{CName, Gil};
pub use host_call::{HostCall, set_handler};
pub use interpreter::{Interpreter, Isolation};
pub use interpreter_info::{InterpreterInfo, info};
pub use loader::{Choice, ChosenBy, LoadError, PYTHON_ENV, child_env, choose, chosen, load};
pub use object::{Obj, OwnedObj};
pub use puller::Pair;
pub use runtime::{InitConfig, Python, PythonHandle};
pub use teardown::{EndOutcome, Leftover, PyThread, Teardown};
