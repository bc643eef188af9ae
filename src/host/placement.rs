//! Which interpreter each module gets.
//!
//! Some extension modules refuse sub-interpreters: single-phase C extensions
//! in an own-GIL interpreter ("does not support loading in subinterpreters"),
//! and PyO3-built packages (bcrypt, cryptography) in any interpreter but the
//! first to import them ("PyO3 modules do not yet support subinterpreters").
//! The second kind is a trap: the first importer owns the extension for the
//! life of the process, so once a sub-interpreter has imported it, even the
//! main interpreter cannot. Falling back to main after the fact fails
//! whenever another module got there first.
//!
//! So the host learns before any real import. A probe runs in a child
//! process (`pyhost __probe`, so nothing it imports is owned by the real
//! host): each module's module.py is imported in a sub-interpreter of the
//! requested isolation, the extensions it brings in are listed, and each of
//! those is then imported once more in a second, fresh sub-interpreter. An
//! extension that refuses there is main-only, and every module that uses one,
//! or that refused outright, is placed in the main interpreter from the
//! start, so the main interpreter is the first and only importer. A refusal
//! the probe could not foresee still falls back to main at load time.
//!
//! An import that hangs in the probe (a network call at import time) is
//! given up after the module's load timeout, with the stack where it sat,
//! and the probe goes on with the other modules; the host then marks that
//! module unloadable without importing it again.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::child::{ChildError, ChildSpec};
use crate::python::{InitConfig, Interpreter, Isolation, PyException, Python};

use super::bounded::{self, Waited};
use super::config::DEFAULT_LOAD_TIMEOUT;
use super::pyside;

/// The messages with which extensions refuse a sub-interpreter.
const REFUSALS: [&str; 4] = [
    "does not support loading in subinterpreters",
    "PyO3 modules do not yet support subinterpreters",
    "may only be initialized once per interpreter process",
    "does not support the per-interpreter GIL",
];

/// Whether an import failed because an extension refuses sub-interpreters.
pub fn is_refusal(error: &PyException) -> bool {
    REFUSALS.iter().any(|r| error.traceback.contains(r) || error.message.contains(r))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeRequest {
    pub isolation: Isolation,
    pub site_dirs: Vec<PathBuf>,
    /// (name, module.py)
    pub modules: Vec<(String, PathBuf)>,
    /// Module -> how long its import may take (its load_timeout).
    #[serde(default)]
    pub load_timeouts: BTreeMap<String, Duration>,
    /// How long importing one extension again may take.
    pub extension_timeout: Duration,
}

impl ProbeRequest {
    fn load_timeout(&self, name: &str) -> Duration {
        self.load_timeouts.get(name).copied().unwrap_or(DEFAULT_LOAD_TIMEOUT)
    }

    /// What the child may spend: each module's load timeout, and one more
    /// for importing the extensions again.
    fn budget(&self) -> Duration {
        self.modules.iter().fold(self.extension_timeout, |sum, (name, _)| sum.saturating_add(self.load_timeout(name)))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProbeResult {
    /// The modules the probe has a verdict on (it may run out of time first).
    pub probed: Vec<String>,
    /// Module -> why it must run in main (absent: a sub-interpreter is fine).
    pub main_only: BTreeMap<String, String>,
    /// Module -> its import did not finish: why, with the stack where it sat.
    pub hung: BTreeMap<String, String>,
}

/// Starting the child and Python in it, and writing the answer.
const PROBE_OVERHEAD: Duration = Duration::from_secs(10);

/// How long the probe may take before it is killed: the child bounds each
/// import by its module's load timeout and stops at its budget by itself,
/// so this is only reached by a child stuck where it cannot (say, code
/// holding the GIL for ever).
pub fn probe_bound(request: &ProbeRequest) -> Duration {
    request.budget().saturating_add(PROBE_OVERHEAD)
}

/// `probe_bound` of a request for one module whose import may take
/// `load_timeout`, extensions re-imported within `extension_timeout`.
pub fn probe_bound_for_one(load_timeout: Duration, extension_timeout: Duration) -> Duration {
    load_timeout.saturating_add(extension_timeout).saturating_add(PROBE_OVERHEAD)
}

/// Runs the probe in child processes, bounded by `timeout` and ended early
/// when `cancelled` says so. A probe that fails is not fatal: the host then
/// relies on the fallback at load time, and says so.
///
/// The modules are split into one share per CPU, each probed by a child of
/// its own, at once: the host waits for the probe before loading anything,
/// and one child uses one core. A module's verdict does not depend on the
/// others in its share (an extension that refuses a second import refuses
/// it in any process), so the verdicts are those of one child.
pub fn probe(
    request: &ProbeRequest,
    timeout: Duration,
    cancelled: impl Fn() -> bool + Send + Sync + Clone + 'static,
) -> ProbeResult {
    if request.modules.is_empty() {
        return ProbeResult::default();
    }
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let shares = split(request, cpus);
    if shares.len() == 1 {
        return probe_one(request, timeout, cancelled);
    }
    let results: Vec<ProbeResult> = std::thread::scope(|s| {
        let running: Vec<_> = shares
            .iter()
            .map(|share| {
                let cancelled = cancelled.clone();
                crate::python::threads::builder("probe")
                    .spawn_scoped(s, move || probe_one(share, timeout.min(probe_bound(share)), cancelled))
            })
            .collect();
        // A share whose thread could not start (or panicked) has no
        // verdicts: its modules rely on the fallback at load time.
        running.into_iter().filter_map(|r| r.ok()?.join().ok()).collect()
    });
    let mut merged = ProbeResult::default();
    for result in results {
        merged.probed.extend(result.probed);
        merged.main_only.extend(result.main_only);
        merged.hung.extend(result.hung);
    }
    merged
}

/// The request cut into at most `parts` shares of consecutive modules.
fn split(request: &ProbeRequest, parts: usize) -> Vec<ProbeRequest> {
    let size = request.modules.len().div_ceil(parts.max(1));
    request
        .modules
        .chunks(size.max(1))
        .map(|modules| ProbeRequest {
            isolation: request.isolation,
            site_dirs: request.site_dirs.clone(),
            modules: modules.to_vec(),
            load_timeouts: modules
                .iter()
                .filter_map(|(name, _)| Some((name.clone(), *request.load_timeouts.get(name)?)))
                .collect(),
            extension_timeout: request.extension_timeout,
        })
        .collect()
}

fn probe_one(request: &ProbeRequest, timeout: Duration, cancelled: impl Fn() -> bool + Send + 'static) -> ProbeResult {
    let answer = ChildSpec::this_binary("__probe", timeout)
        .and_then(|spec| spec.cancel_when(cancelled).run_json::<_, ProbeResult>(request));
    match answer {
        Ok((result, _)) => result,
        Err(why @ ChildError::Cancelled { .. }) => {
            tracing::info!("{why}");
            ProbeResult::default()
        }
        Err(why) => {
            tracing::warn!(
                "the placement probe failed ({why}); modules refusing sub-interpreters will fall back to main at load time"
            );
            ProbeResult::default()
        }
    }
}

/// The child's side: `pyhost __probe`, request on stdin, result on stdout.
pub fn run_probe_child() -> anyhow::Result<()> {
    let request: ProbeRequest = serde_json::from_reader(std::io::stdin())?;
    // Module output during the probe is not the host's business.
    crate::python::set_handler(|call| match call.method {
        "log" | "output" | "guard" => Ok("null".into()),
        other => Err(format!("`{other}` is not available while probing")),
    });
    let python = Python::initialize(&InitConfig::default())?;
    let budget_end = super::deadline::after(request.budget());
    let mut result = ProbeResult::default();
    let mut extensions: BTreeMap<String, Vec<String>> = BTreeMap::new(); // extension -> modules
    // Interpreters are not ended here: ending one and importing the same
    // single-phase extension in the next is itself a crash on some versions
    // (3.11's _decimal). The process exits without that.
    let mut probed: Vec<Interpreter> = Vec::new();
    for (name, path) in &request.modules {
        let Some(timeout) = within_budget(request.load_timeout(name), budget_end) else {
            tracing::warn!("the placement probe ran out of time before {name}");
            break;
        };
        let made: Arc<Mutex<Option<Interpreter>>> = Arc::default();
        let work = {
            let (handle, made, name, path) = (python.handle(), Arc::clone(&made), name.clone(), path.clone());
            let (isolation, site_dirs) = (request.isolation, request.site_dirs.clone());
            move || -> crate::python::Result<(Interpreter, crate::python::Result<Vec<String>>)> {
                let interpreter = handle.new_interpreter(isolation)?;
                *made.lock().unwrap_or_else(|p| p.into_inner()) = Some(interpreter.clone());
                let outcome = {
                    let gil = interpreter.gil()?;
                    pyside::bootstrap(&gil, Some(&name), &site_dirs).and_then(|()| pyside::probe(&gil, &name, &path))
                };
                Ok((interpreter, outcome))
            }
        };
        let (interpreter, outcome) = match bounded::run_bounded(format!("probe:{name}"), timeout, work, drop) {
            Waited::Done(made) => made?,
            Waited::Lost => anyhow::bail!("probing {name}: its thread panicked"),
            Waited::Abandoned { thread, .. } => {
                let interpreter = made.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let stack = interpreter.and_then(|i| bounded::stack_of(&i, thread, name));
                let folder = path.parent().unwrap_or(path).to_string_lossy().into_owned();
                let summary = format!("import did not finish in {}", bounded::seconds(timeout));
                let message = bounded::describe_hang(&summary, stack, &folder);
                result.hung.insert(name.clone(), format!("{message} (in the placement probe; not imported again)"));
                result.probed.push(name.clone());
                continue;
            }
        };
        probed.push(interpreter);
        match outcome {
            Ok(found) => {
                for extension in found {
                    extensions.entry(extension).or_default().push(name.clone());
                }
            }
            Err(crate::python::Error::Python(error)) if is_refusal(&error) => {
                result.main_only.insert(name.clone(), format!("refuses a sub-interpreter: {}", error.message));
            }
            // Not a placement question; the real load reports it.
            Err(error) => tracing::debug!("probing {name}: {error}"),
        }
        result.probed.push(name.clone());
    }
    for (extension, users) in &extensions {
        let Some(timeout) = within_budget(request.extension_timeout, budget_end) else {
            tracing::warn!("the placement probe ran out of time before importing {extension} again");
            break;
        };
        // The same folders as its users saw: site dirs and their own folders.
        let mut dirs = request.site_dirs.clone();
        for (name, path) in &request.modules {
            if users.contains(name) {
                dirs.extend(path.parent().map(|p| p.to_path_buf()));
            }
        }
        let work = {
            let (handle, isolation, extension) = (python.handle(), request.isolation, extension.clone());
            move || -> crate::python::Result<(Interpreter, Option<String>)> {
                let interpreter = handle.new_interpreter(isolation)?;
                let refused = {
                    let gil = interpreter.gil()?;
                    match pyside::bootstrap(&gil, None, &dirs).and_then(|()| gil.import(&extension).map(drop)) {
                        Err(crate::python::Error::Python(error)) if is_refusal(&error) => Some(error.message),
                        Err(error) => {
                            tracing::debug!("probing {extension} again: {error}");
                            None
                        }
                        Ok(()) => None,
                    }
                };
                Ok((interpreter, refused))
            }
        };
        let refused = match bounded::run_bounded(format!("probe:{extension}"), timeout, work, drop) {
            Waited::Done(made) => {
                let (interpreter, refused) = made?;
                probed.push(interpreter);
                refused
            }
            Waited::Lost => anyhow::bail!("probing {extension} again: its thread panicked"),
            Waited::Abandoned { .. } => {
                tracing::warn!("importing {extension} again did not finish in the placement probe");
                None
            }
        };
        if let Some(message) = refused {
            for user in users {
                result
                    .main_only
                    .entry(user.clone())
                    .or_insert_with(|| format!("imports {extension}, which refuses sub-interpreters: {message}"));
            }
        }
    }
    println!("{}", serde_json::to_string(&result)?);
    let _ = std::io::stdout().flush();
    // Whatever the modules left running, the answer is out: exit without
    // finalizing, the one way out that neither aborts nor hangs.
    std::process::exit(0);
}

/// `timeout`, cut to what is left of the budget; None once it is spent.
fn within_budget(timeout: Duration, budget_end: Instant) -> Option<Duration> {
    let left = budget_end.saturating_duration_since(Instant::now());
    (!left.is_zero()).then(|| timeout.min(left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_keep_every_module_once_in_order_with_its_timeout() {
        let modules: Vec<(String, PathBuf)> =
            (0..5).map(|i| (format!("m{i}"), PathBuf::from(format!("/m{i}")))).collect();
        let request = ProbeRequest {
            isolation: Isolation::Shared,
            site_dirs: vec![PathBuf::from("/site")],
            modules: modules.clone(),
            load_timeouts: BTreeMap::from([("m3".to_string(), Duration::from_secs(7))]),
            extension_timeout: Duration::from_secs(2),
        };
        let shares = split(&request, 2);
        assert_eq!(shares.len(), 2);
        let joined: Vec<_> = shares.iter().flat_map(|s| s.modules.clone()).collect();
        assert_eq!(joined, modules);
        let with_m3 = shares.iter().find(|s| s.modules.iter().any(|(n, _)| n == "m3")).unwrap();
        assert_eq!(with_m3.load_timeout("m3"), Duration::from_secs(7));
        assert!(
            shares.iter().all(|s| s.site_dirs == request.site_dirs && s.extension_timeout == request.extension_timeout)
        );
        assert_eq!(split(&request, 8).len(), 5, "no empty share");
        assert_eq!(split(&request, 1).len(), 1);
    }
}
