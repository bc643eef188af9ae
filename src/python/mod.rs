//! The safe Rust face of compat/: everything above this module is ignorant
//! of which Python it runs on, and holds no raw Python pointer.

pub mod baseline;
pub mod build_info;
mod error;
mod ffi;
mod fork;
mod gil;
mod host_call;
mod interpreter;
mod object;
mod runtime;
mod stack;
mod teardown;
mod text;
pub mod threads;

pub use build_info::BUILD;
pub use error::{Error, PyException, Result, SystemExit};
pub use fork::{end_forked_child, in_forked_child, write_stderr};
pub use gil::{CName, Gil};
pub use host_call::{HostCall, set_handler};
pub use interpreter::{Interpreter, Isolation};
pub use object::{Obj, OwnedObj};
pub use runtime::{InitConfig, Python, PythonHandle};
pub use teardown::{EndOutcome, Leftover, PyThread, Teardown};
