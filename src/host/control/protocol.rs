//! The control protocol: one JSON request per line, one JSON response per
//! line, one request per connection. Parsing is a pure function of the bytes
//! received, so it can be fuzzed on its own.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The largest request the host reads (the newline included). The longest
/// real one is a `set` or `notify` with a JSON value; 1 MiB is plenty.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Request {
    Status,
    /// The host's limits, so a client can size its timeout (see [`Limits`]).
    Limits,
    Enable {
        name: String,
    },
    Disable {
        name: String,
    },
    Restart {
        name: String,
    },
    Notify {
        event: String,
        payload: Value,
    },
    Set {
        key: String,
        value: Value,
    },
    Stop,
}

impl Request {
    /// Whether answering may wait for a module to stop or load.
    pub fn may_wait_for_a_module(&self) -> bool {
        matches!(self, Request::Enable { .. } | Request::Disable { .. } | Request::Restart { .. })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Response {
    pub fn success(result: Option<Value>) -> Response {
        Response { ok: true, result, error: None }
    }

    pub fn failure(error: impl std::fmt::Display) -> Response {
        Response { ok: false, result: None, error: Some(error.to_string()) }
    }
}

/// The answer to [`Request::Limits`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Seconds a module gets to stop (the config's `shutdown_timeout`).
    pub shutdown_timeout: f64,
    /// The longest, in seconds, the host expects an enable, disable or
    /// restart to take before it answers.
    pub module_request_seconds: f64,
    pub max_request_bytes: usize,
    /// Seconds a client has to send its whole request.
    pub request_seconds: f64,
}

/// Why a request line is refused.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("the request is larger than {limit} bytes; nothing was done")]
    TooLarge { limit: usize },
    #[error("the request is empty; send one JSON object, e.g. {{\"command\":\"status\"}}")]
    Empty,
    #[error("bad request: {0}")]
    Malformed(#[from] serde_json::Error),
}

/// Parses one request line (its newline optional).
pub fn parse_request(line: &[u8]) -> Result<Request, RequestError> {
    if line.len() > MAX_REQUEST_BYTES {
        return Err(RequestError::TooLarge { limit: MAX_REQUEST_BYTES });
    }
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    if line.trim_ascii().is_empty() {
        return Err(RequestError::Empty);
    }
    Ok(serde_json::from_slice(line)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_round_trips() {
        let requests = [
            Request::Status,
            Request::Limits,
            Request::Enable { name: "a".into() },
            Request::Disable { name: "a".into() },
            Request::Restart { name: "a".into() },
            Request::Notify { event: "e".into(), payload: serde_json::json!({"x": [1, 2]}) },
            Request::Set { key: "k".into(), value: Value::Null },
            Request::Stop,
        ];
        for request in requests {
            let mut line = serde_json::to_vec(&request).unwrap();
            line.push(b'\n');
            assert_eq!(parse_request(&line).unwrap(), request);
        }
    }

    #[test]
    fn bad_lines_are_typed_errors() {
        assert!(matches!(parse_request(b""), Err(RequestError::Empty)));
        assert!(matches!(parse_request(b" \r\n"), Err(RequestError::Empty)));
        assert!(matches!(parse_request(b"{\"command\":\"reboot\"}"), Err(RequestError::Malformed(_))));
        assert!(matches!(parse_request(b"{\"command\":\"enable\"}"), Err(RequestError::Malformed(_))));
        assert!(matches!(parse_request(b"\xff\xfe"), Err(RequestError::Malformed(_))));
        let huge = vec![b' '; MAX_REQUEST_BYTES + 1];
        assert!(matches!(parse_request(&huge), Err(RequestError::TooLarge { limit: MAX_REQUEST_BYTES })));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let depth = 100_000;
        let line =
            format!("{{\"command\":\"set\",\"key\":\"k\",\"value\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        assert!(matches!(parse_request(line.as_bytes()), Err(RequestError::Malformed(_))));
    }
}
