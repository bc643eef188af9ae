//! `--control SOCKET`: a Unix socket through which `pyhost ctl` works on a
//! running host. One JSON request per line, one JSON response per line.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::supervisor::{HostEvent, Shared};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Request {
    Status,
    Enable { name: String },
    Disable { name: String },
    Restart { name: String },
    Notify { event: String, payload: Value },
    Set { key: String, value: Value },
    Stop,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

pub struct ControlHandle {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl ControlSocket {
    /// Binds the socket; a stale file is replaced, a live host's is not.
    pub fn bind(path: &Path) -> anyhow::Result<ControlSocket> {
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                bail!("another pyhost is already listening on {}", path.display());
            }
            std::fs::remove_file(path).with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
        }
        let listener = UnixListener::bind(path).with_context(|| format!("cannot listen on {}", path.display()))?;
        Ok(ControlSocket { listener, path: path.to_path_buf() })
    }

    pub fn serve(self, shared: Arc<Shared>) -> ControlHandle {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let listener = self.listener;
        let thread = std::thread::Builder::new()
            .name("control".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if flag.load(Ordering::Acquire) {
                        break;
                    }
                    if let Ok(stream) = stream
                        && let Err(error) = answer(&shared, stream)
                    {
                        tracing::warn!("control connection: {error}");
                    }
                }
            })
            .expect("spawn the control thread");
        ControlHandle { path: self.path, stop, thread }
    }
}

impl ControlHandle {
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        let _ = UnixStream::connect(&self.path); // wakes the accept loop
        let _ = self.thread.join();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One request line, as the client sent it. Needs no Python (the fuzzer
/// calls it).
pub fn parse_request(line: &[u8]) -> Result<Request, serde_json::Error> {
    serde_json::from_slice(line)
}

fn answer(shared: &Arc<Shared>, stream: UnixStream) -> anyhow::Result<()> {
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let response = match parse_request(line.as_bytes()) {
        Ok(request) => match execute(shared, request) {
            Ok(result) => Response { ok: true, result, error: None },
            Err(error) => Response { ok: false, result: None, error: Some(format!("{error:#}")) },
        },
        Err(error) => Response { ok: false, result: None, error: Some(format!("bad request: {error}")) },
    };
    let mut stream = stream;
    writeln!(stream, "{}", serde_json::to_string(&response)?)?;
    Ok(())
}

fn module_report(shared: &Shared, name: &str) -> anyhow::Result<Option<Value>> {
    Ok(Some(serde_json::to_value(shared.slot(name).report())?))
}

fn execute(shared: &Arc<Shared>, request: Request) -> anyhow::Result<Option<Value>> {
    match request {
        Request::Status => Ok(Some(serde_json::to_value(shared.report())?)),
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
            let _ = shared.events.send(HostEvent::Stop);
            Ok(None)
        }
    }
}

/// The client side, for `pyhost ctl`.
pub fn send(socket: &Path, request: &Request) -> anyhow::Result<Response> {
    let mut stream = UnixStream::connect(socket).with_context(|| {
        format!("cannot connect to {} (is `pyhost run --control {}` running?)", socket.display(), socket.display())
    })?;
    writeln!(stream, "{}", serde_json::to_string(request)?)?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    serde_json::from_str(&line).with_context(|| format!("the host answered something that is not a response: {line:?}"))
}
