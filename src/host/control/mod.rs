//! `--control SOCKET`: a Unix socket through which `pyhost ctl` works on a
//! running host. One JSON request per line, one JSON response per line.
//!
//! What it guarantees (README, "Failure model"): the socket file is mode 0600
//! whatever the umask, and only the host's user and root are served; it is up
//! before the modules load; each connection is served on its own, so a silent
//! client or a slow request holds up nobody else, and the host never waits
//! for a client to stop; a request is at most 1 MiB and must arrive within
//! 10 s.

mod client;
mod protocol;
mod server;
mod socket;

pub use client::{ClientError, DEFAULT_TIMEOUT, call, send};
pub use protocol::{Limits, MAX_REQUEST_BYTES, Request, RequestError, Response, parse_request};
pub use server::{BindError, ControlHandle, ControlSocket, MAX_CONNECTIONS, REQUEST_TIMEOUT};
pub use socket::SOCKET_MODE;
