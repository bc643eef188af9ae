//! The module runtime: ceph-mgr's job, done for any program. Modules are
//! discovered in folders, each loaded into its own interpreter, served on
//! their own threads, notified through their own queues, guarded against
//! exiting the process, restarted alone, and torn down without an abort.

pub(crate) mod bounded;
pub mod calls;
pub mod config;
pub mod control;
pub mod deadline;
pub mod delivery;
pub mod discovery;
pub mod kept_verdicts;
pub mod memory;
pub mod module;
pub mod notify;
pub mod placement;
pub mod pyside;
pub mod report;
pub mod signals;
pub mod state;
pub(crate) mod stop;
pub mod strict_modes;
pub mod supervisor;

pub use config::HostConfig;
pub use report::{ModuleReport, Report, State};
pub use supervisor::{Host, RunOptions};
