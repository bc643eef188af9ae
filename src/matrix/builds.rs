//! Readying one interpreter for the matrix: this binary, told to run it
//! (`pyhost --python P info --json` in a child process), builds its compat
//! object, or finds it in the cache (see src/python/compat_object.rs). The
//! Rust code is built once, whatever the number of interpreters. A compat
//! layer that does not compile against the interpreter is the column's
//! build error.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::child::ChildSpec;

use super::selftest::Runner;

/// Longer than compiling compat/ ever takes (a few seconds), even on a loaded machine.
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Built {
    /// How to run pyhost under the interpreter, or why it cannot.
    pub runner: Result<Runner, String>,
    pub seconds: f64,
}

/// Readies `python`; a set `cancel` ends the child (and the compiler it runs).
pub fn build(python: &Path, cancel: Option<Arc<AtomicBool>>) -> Built {
    let started = Instant::now();
    let runner = ready(python, cancel);
    Built { runner, seconds: started.elapsed().as_secs_f64() }
}

fn ready(python: &Path, cancel: Option<Arc<AtomicBool>>) -> Result<Runner, String> {
    let binary = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let mut child = ChildSpec::new(&binary, BUILD_TIMEOUT)
        .arg("--python")
        .arg(python)
        .args(["info", "--json"])
        .env_remove(crate::python::PYTHON_ENV);
    if let Some(cancel) = cancel {
        child = child.cancel_when(move || cancel.load(Ordering::SeqCst));
    }
    match child.run(b"") {
        Ok(finished) if finished.status.success() => Ok(Runner { binary, python: Some(python.to_path_buf()) }),
        Ok(finished) => Err(first_error(&finished.stderr)),
        Err(e) => Err(e.to_string()),
    }
}

/// The error pyhost printed (its first line says what, the rest is the
/// compiler's explanation), without the lines before it.
fn first_error(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    match lines.iter().position(|l| l.contains("error")) {
        Some(start) => lines[start..].iter().take(14).cloned().collect::<Vec<_>>().join("\n"),
        None => lines.iter().rev().take(14).rev().cloned().collect::<Vec<_>>().join("\n"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_error_is_kept() {
        let output =
            "warning: something\npyhost: error: pyhost's compat layer does not compile\nx.c:3: error: expected\n";
        assert!(super::first_error(output).starts_with("pyhost: error: pyhost's compat layer does not compile"));
    }
}
