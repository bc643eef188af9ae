//! Hostile-module, fault and operator-mistake tests (issue 8): each case runs
//! a real `pyhost run` with a module that misbehaves beside a witness module
//! whose heartbeat must keep going, and checks that the host stays up, can be
//! stopped, and writes its report. One file per area; see harness.rs.

#[path = "../common/mod.rs"]
mod common;
mod config;
mod control;
mod debug_env;
mod free_threading;
#[macro_use]
mod harness;
mod lifecycle;
mod notify;
mod probe;
mod probe_cache;
mod process;
mod scale;
mod signals;
mod smoke;
mod soak;
mod stop;
mod teardown;
mod threading_import;
