//! The host's side: a listener thread that only accepts and checks who
//! connects, and a thread per connection, so a client that sends nothing, or
//! a request that waits for a module to stop, holds up nobody else; the host
//! never waits for a client to stop.

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::protocol::{Limits, MAX_REQUEST_BYTES, Request, RequestError, Response, parse_request};
use super::socket::{self, Peer};
use crate::host::supervisor::{HostEvent, Shared};

/// How long a client has to send its whole request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the host tries to hand over an answer to a client that does not read.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more are answered "busy" and closed.
pub const MAX_CONNECTIONS: usize = 32;

/// Why `--control PATH` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(
        "{path} is {kind}, not a socket; pyhost only replaces a stale socket. Give --control a path that does \
         not exist (or remove that file yourself if it is not needed)"
    )]
    NotASocket { path: PathBuf, kind: &'static str },
    #[error("another host is listening on {path}: stop it (`pyhost ctl {path} stop`) or give --control another path")]
    InUse { path: PathBuf },
    #[error("cannot tell whether a host is listening on {path} ({source}); give --control another path")]
    Unknown { path: PathBuf, source: std::io::Error },
    #[error("cannot remove the stale socket {path}: {source}")]
    RemoveStale { path: PathBuf, source: std::io::Error },
    #[error("cannot listen on {path}: {source}")]
    Listen { path: PathBuf, source: std::io::Error },
}

fn describe(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_file() {
        "a regular file"
    } else if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else {
        "a device"
    }
}

pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
    /// (device, inode) of the socket file, so only our own file is removed.
    identity: (u64, u64),
}

pub struct ControlHandle {
    path: PathBuf,
    identity: (u64, u64),
    stop: Arc<AtomicBool>,
    listener: UnixListener,
    thread: JoinHandle<()>,
}

impl ControlSocket {
    /// Listens on `path`, owner-only. A stale socket (nobody listening) is
    /// replaced; a live one, or anything that is not a socket, is refused.
    pub fn bind(path: &Path) -> Result<ControlSocket, BindError> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => match UnixStream::connect(path) {
                Ok(_) => return Err(BindError::InUse { path: path.into() }),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    std::fs::remove_file(path)
                        .map_err(|source| BindError::RemoveStale { path: path.into(), source })?;
                }
                Err(source) => return Err(BindError::Unknown { path: path.into(), source }),
            },
            Ok(meta) => return Err(BindError::NotASocket { path: path.into(), kind: describe(meta.file_type()) }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(BindError::Unknown { path: path.into(), source }),
        }
        let listen_error = |source| BindError::Listen { path: path.into(), source };
        let listener = socket::listen_owner_only(path).map_err(listen_error)?;
        let meta = std::fs::symlink_metadata(path).map_err(listen_error)?;
        Ok(ControlSocket { listener, path: path.to_path_buf(), identity: (meta.dev(), meta.ino()) })
    }

    pub fn serve(self, shared: Arc<Shared>) -> ControlHandle {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let waker = self.listener.try_clone().expect("duplicate the control socket's descriptor");
        let listener = self.listener;
        let thread = std::thread::Builder::new()
            .name("control".into())
            .spawn(move || accept_loop(&listener, &shared, &flag))
            .expect("spawn the control thread");
        ControlHandle { path: self.path, identity: self.identity, stop, listener: waker, thread }
    }
}

impl ControlHandle {
    /// Stops accepting and removes the socket file. Connections being served
    /// are not waited for: their threads end with their request, or the process.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        socket::wake_accept(&self.listener);
        let deadline = Instant::now() + Duration::from_secs(1);
        while !self.thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let ours = std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.identity);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn accept_loop(listener: &UnixListener, shared: &Arc<Shared>, stop: &AtomicBool) {
    let host_uid = socket::host_uid();
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::Acquire) {
            return;
        }
        match accepted {
            Ok((stream, _)) => admit(shared, &active, host_uid, stream),
            Err(error) => {
                tracing::warn!("control socket: cannot accept a connection: {error}");
                // Out of descriptors, say: do not spin on it.
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Checks who connected and hands the connection to a thread of its own.
fn admit(shared: &Arc<Shared>, active: &Arc<AtomicUsize>, host_uid: u32, stream: UnixStream) {
    match socket::peer(&stream) {
        Ok(Peer { uid, .. }) if socket::may_connect(uid, host_uid) => {}
        Ok(Peer { uid, pid }) => {
            tracing::warn!(
                "control socket: refused a connection from uid {uid} (pid {pid}): only uid {host_uid} and root may control this host"
            );
            refuse(
                stream,
                &format!("permission denied: uid {uid} may not control this host (only uid {host_uid} and root may)"),
            );
            return;
        }
        Err(error) => {
            tracing::warn!("control socket: refused a connection whose peer is unknown ({error})");
            return;
        }
    }
    if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
        active.fetch_sub(1, Ordering::AcqRel);
        refuse(stream, &format!("the host is busy: {MAX_CONNECTIONS} control connections are open; try again"));
        return;
    }
    let slot = ActiveConnection(Arc::clone(active));
    let shared = Arc::clone(shared);
    // It runs modules' shutdown() and __init__ (disable, enable, restart).
    let spawned = crate::python::threads::builder("control-client").spawn(move || {
        let _slot = slot;
        serve_connection(&shared, stream);
    });
    if let Err(error) = spawned {
        tracing::warn!("control socket: cannot start a thread for a connection: {error}");
    }
}

/// Counts a connection being served until it is dropped.
struct ActiveConnection(Arc<AtomicUsize>);

impl Drop for ActiveConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers from the accept thread, which must never block: a fresh
/// connection's buffer takes a short line, and if it does not, too bad.
fn refuse(stream: UnixStream, message: &str) {
    let _ = stream.set_nonblocking(true);
    let _ = (&stream).write_all(answer_line(&Response::failure(message)).as_bytes());
}

fn answer_line(response: &Response) -> String {
    let mut line = serde_json::to_string(response).expect("a response serializes");
    line.push('\n');
    line
}

fn serve_connection(shared: &Arc<Shared>, stream: UnixStream) {
    let response = match read_request(&stream, REQUEST_TIMEOUT) {
        Ok(line) => match parse_request(&line) {
            Ok(request) => match execute(shared, request) {
                Ok(result) => Response::success(result),
                Err(error) => Response::failure(format!("{error:#}")),
            },
            Err(error) => Response::failure(error),
        },
        Err(ReadError::TooLarge) => {
            tracing::warn!("control socket: refused a request larger than {MAX_REQUEST_BYTES} bytes");
            Response::failure(RequestError::TooLarge { limit: MAX_REQUEST_BYTES })
        }
        Err(ReadError::TimedOut) => Response::failure(format!(
            "no complete request within {} s; send one JSON line, e.g. {{\"command\":\"status\"}}",
            REQUEST_TIMEOUT.as_secs()
        )),
        Err(ReadError::Closed) => return, // connected and left, e.g. a check that a host is listening
        Err(ReadError::Io(error)) => {
            tracing::debug!("control socket: reading a request: {error}");
            return;
        }
    };
    let _ = stream.set_write_timeout(Some(ANSWER_TIMEOUT));
    if let Err(error) = (&stream).write_all(answer_line(&response).as_bytes()) {
        tracing::debug!("control socket: the client did not take its answer: {error}");
    }
}

enum ReadError {
    TooLarge,
    TimedOut,
    Closed,
    Io(std::io::Error),
}

/// Reads one line, at most [`MAX_REQUEST_BYTES`], all of it within `within`.
fn read_request(mut stream: &UnixStream, within: Duration) -> Result<Vec<u8>, ReadError> {
    let deadline = Instant::now() + within;
    let mut line = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::TimedOut);
        }
        stream.set_read_timeout(Some(left)).map_err(ReadError::Io)?;
        let count = match stream.read(&mut chunk) {
            Ok(count) => count,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err(ReadError::TimedOut);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::Io(e)),
        };
        if count == 0 {
            // A client that closes its side without a newline meant that line.
            return if line.is_empty() { Err(ReadError::Closed) } else { Ok(line) };
        }
        let received = &chunk[..count];
        let end = received.iter().position(|&b| b == b'\n');
        line.extend_from_slice(&received[..end.map_or(count, |at| at + 1)]);
        if line.len() > MAX_REQUEST_BYTES {
            return Err(ReadError::TooLarge);
        }
        if end.is_some() {
            return Ok(line);
        }
    }
}

fn module_report(shared: &Shared, name: &str) -> anyhow::Result<Option<Value>> {
    Ok(Some(serde_json::to_value(shared.slot(name).report())?))
}

fn execute(shared: &Arc<Shared>, request: Request) -> anyhow::Result<Option<Value>> {
    match request {
        Request::Status => Ok(Some(serde_json::to_value(shared.report())?)),
        Request::Limits => {
            let limits = Limits {
                shutdown_timeout: shared.config.shutdown_timeout.as_secs_f64(),
                module_request_seconds: shared.module_request_bound().as_secs_f64(),
                max_request_bytes: MAX_REQUEST_BYTES,
                request_seconds: REQUEST_TIMEOUT.as_secs_f64(),
            };
            Ok(Some(serde_json::to_value(limits)?))
        }
        Request::Enable { name } => {
            shared.enable(&name)?;
            module_report(shared, &name)
        }
        Request::Disable { name } => {
            shared.disable(&name)?;
            module_report(shared, &name)
        }
        Request::Restart { name } => {
            shared.restart(&name)?;
            module_report(shared, &name)
        }
        Request::Notify { event, payload } => {
            shared.broadcast(&event, &payload.to_string());
            Ok(None)
        }
        Request::Set { key, value } => {
            shared.set_state(&key, value, "ctl");
            Ok(None)
        }
        Request::Stop => {
            shared.request_stop("on request (pyhost ctl stop)");
            let _ = shared.events.send(HostEvent::Stop);
            Ok(None)
        }
    }
}
