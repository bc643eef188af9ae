//! Running one module's self_test() in a child process, the unit of both
//! `pyhost selftest` and every cell of `pyhost matrix`.
//!
//! The child (`pyhost __selftest-one`, spec on stdin) starts a host with the
//! module (and the modules it needs) enabled, serve() running as in `pyhost
//! run`, calls self_test() once the module runs, shuts down and prints one
//! JSON result line. The parent tells the rest: a child that died by a signal
//! crashed, one that outlived its timeout hung.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::child::{ChildError, ChildSpec, last_lines, signal_name};
use crate::host::config::{Enable, HostConfig, ModuleConfig, Restart, RestartPolicy};
use crate::host::supervisor::HostEvent;
use crate::host::{Host, RunOptions, State, pyside};

use super::outcome::Outcome;

/// What the child needs to test one module.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellSpec {
    /// The folder holding the module folders.
    pub modules_dir: PathBuf,
    pub name: String,
    #[serde(default)]
    pub needs: Vec<String>,
    #[serde(default)]
    pub options: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub restart: Option<String>,
    #[serde(default)]
    pub python_path: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellResult {
    pub outcome: Outcome,
    pub detail: Option<String>,
    pub seconds: f64,
    /// Free-threaded builds: the module's GIL after its self_test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gil: Option<crate::python::GilStatus>,
}

/// The detail of a cell ended by its caller's cancel check.
pub const INTERRUPTED: &str = "interrupted before it finished";

/// How long a module may take to settle after it starts running, before
/// self_test: long enough for a serve() that fails at once to fail.
const SETTLE: Duration = Duration::from_millis(300);

/// pyhost running one interpreter: the binary, and the interpreter it is
/// told to run (PYHOST_PYTHON in its environment); None: this process's choice.
#[derive(Debug, Clone)]
pub struct Runner {
    pub binary: PathBuf,
    pub python: Option<PathBuf>,
}

/// Runs `pyhost __selftest-one` for `spec` and judges how it ended: a
/// child killed by a signal crashed, one that outlived its timeout hung.
pub fn run_cell(runner: &Runner, spec: &CellSpec, timeout: Duration) -> CellResult {
    run_cell_until(runner, spec, timeout, None)
}

/// [`run_cell`], which also ends the child (an `interrupted` failure) as
/// soon as `cancel` is set, e.g. by a SIGINT the caller caught.
pub fn run_cell_until(
    runner: &Runner,
    spec: &CellSpec,
    timeout: Duration,
    cancel: Option<Arc<AtomicBool>>,
) -> CellResult {
    let started = Instant::now();
    let mut child = ChildSpec::new(&runner.binary, timeout).arg("__selftest-one");
    match (&runner.python, crate::python::child_env()) {
        (Some(python), _) => child = child.env(crate::python::PYTHON_ENV, python),
        (None, Some((key, value))) => child = child.env(key, value),
        (None, None) => {}
    }
    if let Some(cancel) = cancel {
        child = child.cancel_when(move || cancel.load(Ordering::SeqCst));
    }
    let answer = child.run_json::<_, CellResult>(spec);
    let mut gil = None;
    let (outcome, detail) = match answer {
        Ok((result, _)) => {
            gil = result.gil;
            (result.outcome, result.detail)
        }
        Err(ChildError::TimedOut { after, stderr, .. }) => (
            Outcome::Hang,
            Some(format!("no result after {:.0} s; last log lines:\n{}", after.as_secs_f64(), last_lines(&stderr, 5))),
        ),
        Err(ChildError::Signaled { signal, stderr, .. }) => (
            Outcome::Crash,
            Some(format!("killed by {}; last log lines:\n{}", signal_name(signal), last_lines(&stderr, 8))),
        ),
        Err(ChildError::NoAnswer { status, stderr, .. }) => {
            (Outcome::Fail, Some(format!("pyhost exited with {status} and no result:\n{}", last_lines(&stderr, 8))))
        }
        Err(ChildError::Cancelled { .. }) => (Outcome::Fail, Some(INTERRUPTED.to_string())),
        Err(other) => (Outcome::Fail, Some(other.to_string())),
    };
    CellResult { outcome, detail, seconds: started.elapsed().as_secs_f64(), gil }
}

/// The child's side: `pyhost __selftest-one`.
pub fn run_child_side() -> anyhow::Result<()> {
    let spec: CellSpec = serde_json::from_reader(std::io::stdin())?;
    let started = Instant::now();
    let mut config = HostConfig {
        module_dirs: vec![spec.modules_dir.clone()],
        enable: Enable::Only(std::iter::once(spec.name.clone()).chain(spec.needs.iter().cloned()).collect()),
        python_path: spec.python_path.clone(),
        shutdown_timeout: Duration::from_secs(5),
        restart: Restart { policy: RestartPolicy::Never, backoff: Duration::from_millis(100), limit: 2 },
        ..HostConfig::default()
    };
    let restart = match spec.restart.as_deref() {
        None | Some("never") => RestartPolicy::Never,
        Some("on-failure") => RestartPolicy::OnFailure,
        Some(other) => anyhow::bail!("restart must be never or on-failure, not {other}"),
    };
    config.modules.insert(
        spec.name.clone(),
        ModuleConfig { restart: Some(restart), options: spec.options.clone(), ..ModuleConfig::default() },
    );
    let mut host = Host::start(config, &RunOptions::default())?;
    let shared = std::sync::Arc::clone(host.shared());
    let name = spec.name.clone();
    // It runs the module's self_test().
    let tester = crate::python::threads::builder("selftest")
        .spawn(move || {
            let verdict = test_module(&shared, &name);
            let _ = shared.events.send(HostEvent::Stop);
            verdict
        })
        .expect("spawn the self-test thread");
    host.run(None);
    let (outcome, detail) = tester.join().unwrap_or_else(|_| (Outcome::Fail, Some("the tester panicked".into())));
    let shared = std::sync::Arc::clone(host.shared());
    host.shutdown();
    // After the shutdown, which looked at the GIL again past self_test.
    let gil = shared.slot(&spec.name).report().gil;
    let result = CellResult { outcome, detail, seconds: started.elapsed().as_secs_f64(), gil };
    println!("{}", serde_json::to_string(&result)?);
    std::io::stdout().flush()?;
    Ok(())
}

/// Waits for the module to run (restarts included), lets it settle, runs
/// its self_test, and checks it did not fail meanwhile.
fn test_module(shared: &crate::host::supervisor::Shared, name: &str) -> (Outcome, Option<String>) {
    let slot = shared.slot(name);
    // Final: unloadable, or failed with the supervisor done with it and no
    // restart coming (a failed module may be restarted into a passing one).
    let settled_failure = || -> Option<(Outcome, Option<String>)> {
        let st = slot.state();
        match st.status {
            State::Unloadable => Some((Outcome::Unloadable, st.error.clone())),
            State::Failed if st.failure_handled && st.restart_at.is_none() => Some((Outcome::Fail, st.error.clone())),
            _ => None,
        }
    };
    loop {
        if let Some(verdict) = settled_failure() {
            return verdict;
        }
        if slot.report().state == State::Running {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(SETTLE);
    let failed = || -> Option<(Outcome, Option<String>)> {
        let st = slot.state();
        (st.status == State::Failed).then(|| (Outcome::Fail, st.error.clone()))
    };
    if let Some(verdict) = failed() {
        return verdict;
    }
    let Some((interpreter, instance)) = slot.target() else {
        return (Outcome::Fail, Some(format!("{name} stopped running before its self_test")));
    };
    let tested = interpreter.gil().and_then(|gil| pyside::self_test(&gil, &instance));
    drop(instance);
    if let Err(error) = tested {
        let detail = match error {
            crate::python::Error::Python(e) => e.traceback,
            other => other.to_string(),
        };
        return (Outcome::Fail, Some(detail));
    }
    failed().unwrap_or((Outcome::Pass, None))
}
