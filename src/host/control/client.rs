//! The client side, for `pyhost ctl`: one request, one answer, bounded in time.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use super::protocol::{Limits, Request, Response};

/// How long `pyhost ctl` waits for an answer when not told; an enable,
/// disable or restart gets what the host says those may take on top.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {path}: {source} (is `pyhost run --control {path}` running?)")]
    Connect { path: String, source: std::io::Error },
    #[error(
        "no answer from the host on {path} within {seconds} s; it may still be working on the request \
         (--timeout SECONDS waits longer)"
    )]
    NoAnswer { path: String, seconds: f64 },
    #[error("the host on {path} closed the connection without answering")]
    Closed { path: String },
    #[error("cannot talk to the host on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the host on {path} answered something that is not a response: {line:?}")]
    BadAnswer { path: String, line: String },
}

/// Sends `request` and waits for the answer, at most `timeout` (when none is
/// given: [`DEFAULT_TIMEOUT`], plus the host's own bound for requests that
/// wait for a module).
pub fn call(socket: &Path, request: &Request, timeout: Option<Duration>) -> Result<Response, ClientError> {
    let timeout = match timeout {
        Some(timeout) => timeout,
        None if request.may_wait_for_a_module() => DEFAULT_TIMEOUT + module_request_bound(socket)?,
        None => DEFAULT_TIMEOUT,
    };
    send(socket, request, timeout)
}

/// What the host says an enable, disable or restart may take (nothing extra
/// if it does not say).
fn module_request_bound(socket: &Path) -> Result<Duration, ClientError> {
    let response = send(socket, &Request::Limits, DEFAULT_TIMEOUT)?;
    let limits = response.result.filter(|_| response.ok).and_then(|v| serde_json::from_value::<Limits>(v).ok());
    Ok(limits.and_then(|l| Duration::try_from_secs_f64(l.module_request_seconds).ok()).unwrap_or_default())
}

/// Sends `request` and waits at most `timeout` for the answer, connecting
/// included (a host whose backlog is full makes connect() itself wait).
pub fn send(socket: &Path, request: &Request, timeout: Duration) -> Result<Response, ClientError> {
    let (answer, answered) = mpsc::channel();
    let (path, request) = (socket.to_path_buf(), request.clone());
    // A thread of its own, given up on at the deadline: the caller exits
    // soon after, and the socket's own timeouts end the thread anyway.
    std::thread::spawn(move || {
        let _ = answer.send(exchange(&path, &request, timeout));
    });
    answered.recv_timeout(timeout).unwrap_or_else(|_| Err(no_answer(socket, timeout)))
}

fn no_answer(socket: &Path, timeout: Duration) -> ClientError {
    ClientError::NoAnswer { path: socket.display().to_string(), seconds: timeout.as_secs_f64() }
}

fn exchange(socket: &PathBuf, request: &Request, timeout: Duration) -> Result<Response, ClientError> {
    let path = socket.display().to_string();
    let io = |source| ClientError::Io { path: path.clone(), source };
    let mut stream =
        UnixStream::connect(socket).map_err(|source| ClientError::Connect { path: path.clone(), source })?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let mut line = serde_json::to_string(request).expect("a request serializes");
    line.push('\n');
    // A host that refuses (another user, too many connections) answers and
    // closes before reading: its answer is still there to read.
    let sent = stream.write_all(line.as_bytes());
    let mut answer = String::new();
    match BufReader::new(&stream).read_line(&mut answer) {
        Ok(_) => {}
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            return Err(no_answer(socket, timeout));
        }
        Err(source) => return Err(io(sent.err().unwrap_or(source))),
    }
    if answer.is_empty() {
        return Err(match sent {
            Err(source) => io(source),
            Ok(()) => ClientError::Closed { path },
        });
    }
    serde_json::from_str(&answer).map_err(|_| ClientError::BadAnswer { path, line: answer })
}
