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
//! So the host learns before each real import. A probe runs in a child
//! process (`pyhost __probe`, so nothing it imports is owned by the real
//! host): each module's module.py is imported in a sub-interpreter of the
//! requested isolation, the extensions it brings in are listed, and each of
//! those not seen before in this child is then imported once more in a
//! fresh sub-interpreter. Each module's import happens in a copy of the
//! child (a fork) taken from one interpreter bootstrapped once, so no
//! module's import sees another's, and one that crashes ends only its copy. An extension that refuses there is main-only, and
//! every module that uses one, or that refused outright, is placed in the
//! main interpreter from the start, so the main interpreter is the first and
//! only importer. A refusal the probe could not foresee still falls back to
//! main at load time.
//!
//! The child writes each module's verdict as one JSON line as soon as it is
//! final (the module and its extensions done), and the host loads the module
//! then, while the child goes on with the next ones (supervisor.rs,
//! `load_at_start`, says why that order keeps main-only modules first).
//!
//! An import that hangs in the probe (a network call at import time) is
//! given up after the module's load timeout, with the stack where it sat,
//! and the probe goes on with the other modules; the host then marks that
//! module unloadable without importing it again.
//!
//! Each verdict comes with the files it rests on, and the host keeps the
//! final ones for its next start (kept_verdicts.rs): a module none of whose
//! files changed is not probed again.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::child::{ChildError, ChildSpec};
use crate::python::{CopyAnswer, InitConfig, Interpreter, Isolation, PyException, Python, Reply};

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

/// What the probe found about one module. It is final once the module was
/// imported and each extension it brought in was imported once more in a
/// fresh interpreter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A sub-interpreter is fine.
    Fine,
    /// It must run in the main interpreter, for this reason.
    MainOnly(String),
    /// Its import did not finish: why, with the stack where it sat.
    Hung(String),
    /// Its import killed the process that made it (a crash in C, an
    /// abort): why. Imported in the host, it would end the host.
    Crashed(String),
}

/// One line of the probe child's stdout: a verdict, written as soon as it is final.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModuleVerdict {
    pub module: String,
    pub verdict: Verdict,
    /// Every file the verdict rests on: module.py and the file of each
    /// module its import brought in (extensions among them). None when
    /// they are not all known (the import hung or raised, so what it
    /// brought in is gone from sys.modules): such a verdict is not kept for
    /// the next start (kept_verdicts.rs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<PathBuf>>,
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

/// How many children probe at once: one core is left to the host, which
/// loads modules as their verdicts come in, beside the probe (README,
/// "Performance at scale", has the measurements behind this).
fn children() -> usize {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    cpus.saturating_sub(1).max(1)
}

/// Runs the probe in child processes, bounded by `timeout` and ended early
/// when `cancelled` says so, and tells `found` each module's verdict as
/// soon as a child has it: `found(name, Some(line))`. A module the probe
/// ended without a verdict on (its child died, ran out of time, or was
/// cancelled) gets `found(name, None)`: it relies on the fallback at load
/// time, and a failing probe is never fatal. Every module of the request
/// gets exactly one call before this returns.
///
/// The modules are dealt out in turn to the children, so verdicts come in
/// about the request's order, the order the host loads in. A module's
/// verdict does not depend on the others in its share (an extension that
/// refuses a second import refuses it in any process), so it is the one a
/// single child would give.
pub fn probe(
    request: &ProbeRequest,
    timeout: Duration,
    cancelled: impl Fn() -> bool + Send + Sync + Clone + 'static,
    found: &(dyn Fn(&str, Option<ModuleVerdict>) + Sync),
) {
    if request.modules.is_empty() {
        return;
    }
    let shares = split(request, children());
    if shares.len() == 1 {
        return probe_one(request, timeout, cancelled, found);
    }
    std::thread::scope(|s| {
        for share in &shares {
            let cancelled = cancelled.clone();
            let started = crate::python::threads::builder("probe")
                .spawn_scoped(s, move || probe_one(share, timeout.min(probe_bound(share)), cancelled, found));
            if let Err(error) = started {
                tracing::warn!("could not start a thread for the placement probe: {error}");
                for (name, _) in &share.modules {
                    found(name, None);
                }
            }
        }
    });
}

/// The request dealt out to at most `parts` shares, module i to share
/// i % parts, each share keeping the request's order.
fn split(request: &ProbeRequest, parts: usize) -> Vec<ProbeRequest> {
    let parts = parts.clamp(1, request.modules.len().max(1));
    (0..parts)
        .map(|part| {
            let modules: Vec<(String, PathBuf)> = request.modules.iter().skip(part).step_by(parts).cloned().collect();
            ProbeRequest {
                isolation: request.isolation,
                site_dirs: request.site_dirs.clone(),
                load_timeouts: modules
                    .iter()
                    .filter_map(|(name, _)| Some((name.clone(), *request.load_timeouts.get(name)?)))
                    .collect(),
                modules,
                extension_timeout: request.extension_timeout,
            }
        })
        .collect()
}

fn probe_one(
    request: &ProbeRequest,
    timeout: Duration,
    cancelled: impl Fn() -> bool + Send + 'static,
    found: &(dyn Fn(&str, Option<ModuleVerdict>) + Sync),
) {
    let mut told: BTreeSet<String> = BTreeSet::new();
    let ended = ChildSpec::this_binary("__probe", timeout).and_then(|spec| {
        spec.cancel_when(cancelled).run_ndjson(request, |line: ModuleVerdict| {
            // Once per module of this share: nothing else was asked.
            let asked = request.modules.iter().any(|(name, _)| *name == line.module);
            if asked && told.insert(line.module.clone()) {
                let module = line.module.clone();
                found(&module, Some(line));
            }
        })
    });
    let missing: Vec<&str> =
        request.modules.iter().map(|(name, _)| name.as_str()).filter(|name| !told.contains(*name)).collect();
    match ended {
        Err(why @ ChildError::Cancelled { .. }) => tracing::info!("{why}"),
        Err(why) => tracing::warn!(
            "the placement probe failed ({why}); {} module(s) without its verdict fall back to main at load time \
             if a sub-interpreter refuses them",
            missing.len()
        ),
        Ok(finished) if !missing.is_empty() => tracing::warn!(
            "the placement probe exited ({}) without a verdict on {}; they fall back to main at load time if a \
             sub-interpreter refuses them{}",
            finished.status,
            missing.join(", "),
            match crate::child::last_lines(&finished.stderr, 8) {
                last if last.is_empty() => String::new(),
                last => format!("; last lines of its output:\n{last}"),
            }
        ),
        Ok(_) => {}
    }
    for name in missing {
        found(name, None);
    }
}

/// The child's side: `pyhost __probe`, request on stdin, one verdict per
/// line on stdout (NDJSON), each written as soon as it is final.
///
/// Each module is imported in a copy of this process (a fork) made from an
/// interpreter of the requested isolation with pyhost's bootstrap done once
/// here: making and bootstrapping an interpreter per module was most of the
/// probe's cost (README, "Performance at scale"). Whatever a module's import
/// leaves behind, threads, extensions, a crash, ends with its copy.
pub fn run_probe_child() -> anyhow::Result<()> {
    let request: ProbeRequest = serde_json::from_reader(std::io::stdin())?;
    let mut out = VerdictOut::take_stdout()?;
    // Module output during the probe is not the host's business.
    crate::python::set_handler(|call| match call.method {
        "log" | "output" | "guard" => Ok("null".into()),
        other => Err(format!("`{other}` is not available while probing")),
    });
    let python = Python::initialize(&InitConfig::default())?;
    let outcome = (|| -> anyhow::Result<()> {
        let Some((first, _)) = request.modules.first() else { return Ok(()) };
        let template = python.new_interpreter(request.isolation)?;
        {
            // Bootstrapped under a module's name, as a load is: each copy
            // names its own module again.
            let gil = template.gil()?;
            pyside::bootstrap(&gil, Some(first), &request.site_dirs)?;
        }
        let mut probing = Probing {
            python: python.handle(),
            template,
            request: &request,
            budget_end: super::deadline::after(request.budget()),
            extensions: BTreeMap::new(),
        };
        for (name, path) in &request.modules {
            match probing.module(name, path)? {
                Probed::Verdict(verdict, files) => out.write(ModuleVerdict { module: name.clone(), verdict, files })?,
                Probed::Unanswered => {}
                Probed::OutOfTime => break,
            }
        }
        Ok(())
    })();
    // Whatever the modules left running, the verdicts are out: exit without
    // finalizing (never dropping `python`), the one way out that neither
    // aborts nor hangs.
    let code = match outcome {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("pyhost __probe: {error:#}");
            1
        }
    };
    std::process::exit(code);
}

/// Where the probe child writes its verdicts: the stdout it was given, on a
/// descriptor of its own. Descriptor 1 then goes to stderr, so whatever
/// module code writes there (a C extension's printf, a child process) can
/// never be glued into a verdict's line.
struct VerdictOut(std::fs::File);

impl VerdictOut {
    fn take_stdout() -> std::io::Result<VerdictOut> {
        use std::os::fd::AsFd;
        // Close-on-exec: processes the modules start do not get it.
        let verdicts = std::io::stdout().as_fd().try_clone_to_owned()?;
        // SAFETY: dup2 only makes descriptor 1 a copy of descriptor 2, both
        // this process's standard descriptors; no Rust object owns 1 (std's
        // Stdout borrows it), and nothing has been written through it yet.
        if unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(VerdictOut(std::fs::File::from(verdicts)))
    }

    /// One line, written at once (no buffer to flush): the host acts on it now.
    fn write(&mut self, verdict: ModuleVerdict) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(&verdict)?;
        line.push(b'\n');
        self.0.write_all(&line)?;
        Ok(())
    }
}

/// What probing one module came to.
enum Probed {
    /// Its verdict, and the files it rests on if they are all known.
    Verdict(Verdict, Option<Vec<PathBuf>>),
    /// Its copy ended without a verdict (a crash in its import, say): the
    /// host's fallback at load time applies.
    Unanswered,
    /// The budget is spent: no more modules are probed.
    OutOfTime,
}

/// What a module's copy sends back.
#[derive(Serialize, Deserialize)]
enum CopyReport {
    Verdict {
        verdict: Verdict,
        files: Option<Vec<PathBuf>>,
        /// What the copy learned of extensions not known before it: each
        /// is imported again once per probe, not once per module.
        learned: BTreeMap<String, Option<String>>,
    },
    OutOfTime,
    /// Python could not be used at all (an interpreter not made, say):
    /// the probe ends with this error, as it would have in one process.
    Failed(String),
}

impl CopyReport {
    /// A verdict whose files are not all known (so it is not kept), from a
    /// copy that learned nothing of extensions.
    fn unkept(verdict: Verdict) -> CopyReport {
        CopyReport::Verdict { verdict, files: None, learned: BTreeMap::new() }
    }
}

/// The probe child at work.
struct Probing<'r> {
    python: crate::python::PythonHandle,
    /// Made and bootstrapped once; never imports a module itself (its
    /// copies do).
    template: Interpreter,
    request: &'r ProbeRequest,
    budget_end: Instant,
    /// Extension -> why it refuses a second import (None: it does not, or
    /// that could not be told).
    extensions: BTreeMap<String, Option<String>>,
}

/// How long past the budget's end a copy may take to answer: it bounds its
/// own imports, so only one stuck where it cannot (in C, holding the GIL,
/// with its watchdog unable to read the stack) runs into this.
const COPY_GRACE: Duration = Duration::from_secs(5);

impl Probing<'_> {
    /// Probes one module in a copy of this process.
    fn module(&mut self, name: &str, path: &Path) -> anyhow::Result<Probed> {
        let Some(timeout) = within_budget(self.request.load_timeout(name), self.budget_end) else {
            tracing::warn!("the placement probe ran out of time before {name}");
            return Ok(Probed::OutOfTime);
        };
        let deadline = self.budget_end + COPY_GRACE;
        let answer = crate::python::ask_a_copy(deadline, |reply| {
            let report = self.in_copy(name, path, timeout, &reply);
            let bytes = serde_json::to_vec(&report).unwrap_or_default();
            reply.send(&bytes)
        })
        .map_err(|error| anyhow::anyhow!("probing {name}: {error}"))?;
        let report = match answer {
            CopyAnswer::Answered(bytes) => serde_json::from_slice::<CopyReport>(&bytes)
                .map_err(|error| anyhow::anyhow!("probing {name}: its copy's answer was not understood: {error}"))?,
            CopyAnswer::Ended(crate::python::Ending::Signal(signal)) => {
                let message = format!(
                    "its import killed the placement probe's copy of the process with {}: in the host it would \
                     end the host, so it is not imported there (fix the import, or set probe = false to import it \
                     anyway)",
                    crate::child::signal_name(signal)
                );
                tracing::warn!("probing {name}: {message}");
                return Ok(Probed::Verdict(Verdict::Crashed(message), None));
            }
            CopyAnswer::Ended(how) => {
                tracing::warn!("probing {name}: its import ended the process ({how}) before a verdict");
                return Ok(Probed::Unanswered);
            }
            CopyAnswer::TimedOut => {
                tracing::warn!("probing {name}: no verdict by the end of the probe's time; it was killed");
                return Ok(Probed::OutOfTime);
            }
        };
        match report {
            CopyReport::Verdict { verdict, files, learned } => {
                self.extensions.extend(learned);
                Ok(Probed::Verdict(verdict, files))
            }
            CopyReport::OutOfTime => Ok(Probed::OutOfTime),
            CopyReport::Failed(why) => anyhow::bail!("probing {name}: {why}"),
        }
    }

    /// In the copy: imports the module in the template interpreter, on this
    /// thread (the one that bootstrapped it, as a load imports on the thread
    /// that made its interpreter), watched by a thread that answers with
    /// the stack where the import sat if it does not finish in `timeout`.
    fn in_copy(&self, name: &str, path: &Path, timeout: Duration, reply: &Reply) -> CopyReport {
        let (done, over) = std::sync::mpsc::channel::<()>();
        let watchdog = {
            let (template, reply, name) = (self.template.clone(), reply.clone(), name.to_string());
            let folder = path.parent().unwrap_or(path).to_string_lossy().into_owned();
            let importer = std::thread::current().id();
            move || {
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = over.recv_timeout(timeout) {
                    let stack = bounded::stack_of(&template, importer, &name);
                    let summary = format!("import did not finish in {}", bounded::seconds(timeout));
                    let message = bounded::describe_hang(&summary, stack, &folder);
                    let verdict = Verdict::Hung(format!("{message} (in the placement probe; not imported again)"));
                    let report = CopyReport::unkept(verdict);
                    reply.send(&serde_json::to_vec(&report).unwrap_or_default())
                }
            }
        };
        if let Err(error) = crate::python::threads::builder(format!("probe:{name}:watch")).spawn(watchdog) {
            return CopyReport::Failed(format!("no thread to watch its import: {error}"));
        }
        let outcome = self.template.gil().and_then(|gil| {
            pyside::bootstrap(&gil, Some(name), &self.request.site_dirs).and_then(|()| pyside::probe(&gil, name, path))
        });
        drop(done);
        let found = match outcome {
            Ok(found) => found,
            Err(crate::python::Error::Python(error)) if is_refusal(&error) => {
                let verdict = Verdict::MainOnly(format!("refuses a sub-interpreter: {}", error.message));
                return CopyReport::unkept(verdict);
            }
            Err(error @ crate::python::Error::Python(_)) => {
                // Not a placement question; the real load reports it.
                tracing::debug!("probing {name}: {error}");
                return CopyReport::unkept(Verdict::Fine);
            }
            Err(error) => return CopyReport::Failed(error.to_string()),
        };
        let mut verdict = Verdict::Fine;
        let mut learned = BTreeMap::new();
        for extension in found.extensions {
            let refused = match self.extensions.get(&extension) {
                Some(known) => known.clone(),
                None => {
                    let Some(answer) = self.import_again(&extension, path) else { return CopyReport::OutOfTime };
                    learned.insert(extension.clone(), answer.clone());
                    answer
                }
            };
            if let (Verdict::Fine, Some(message)) = (&verdict, refused) {
                verdict = Verdict::MainOnly(format!("imports {extension}, which refuses sub-interpreters: {message}"));
            }
        }
        CopyReport::Verdict { verdict, files: Some(found.files), learned }
    }

    /// In the copy, after the module's import there: imports `extension`
    /// in a fresh interpreter of this process (the module's import was the
    /// first, which is what PyO3's refusal depends on), with the folders the
    /// module at `path` saw: Some(why it refused, if it did); None once the
    /// budget is spent.
    fn import_again(&self, extension: &str, path: &Path) -> Option<Option<String>> {
        let Some(timeout) = within_budget(self.request.extension_timeout, self.budget_end) else {
            tracing::warn!("the placement probe ran out of time before importing {extension} again");
            return None;
        };
        let mut dirs = self.request.site_dirs.clone();
        dirs.extend(path.parent().map(Path::to_path_buf));
        let work = {
            let (handle, isolation, extension) = (self.python.clone(), self.request.isolation, extension.to_string());
            move || -> Option<String> {
                let interpreter = match handle.new_interpreter(isolation) {
                    Ok(interpreter) => interpreter,
                    Err(error) => {
                        tracing::debug!("probing {extension} again: {error}");
                        return None;
                    }
                };
                let gil = match interpreter.gil() {
                    Ok(gil) => gil,
                    Err(error) => {
                        tracing::debug!("probing {extension} again: {error}");
                        return None;
                    }
                };
                match pyside::bootstrap(&gil, None, &dirs).and_then(|()| gil.import(&extension).map(drop)) {
                    Err(crate::python::Error::Python(error)) if is_refusal(&error) => Some(error.message),
                    Err(error) => {
                        tracing::debug!("probing {extension} again: {error}");
                        None
                    }
                    Ok(()) => None,
                }
            }
        };
        match bounded::run_bounded(format!("probe:{extension}"), timeout, work, drop) {
            Waited::Done(refused) => Some(refused),
            Waited::Lost => {
                tracing::warn!("probing {extension} again: its thread panicked");
                Some(None)
            }
            Waited::Abandoned { .. } => {
                tracing::warn!("importing {extension} again did not finish in the placement probe");
                Some(None)
            }
        }
    }
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
    fn shares_deal_every_module_once_in_turn_with_its_timeout() {
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
        let names = |share: &ProbeRequest| share.modules.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        // In turn, so the first verdicts of every child are the first modules.
        assert_eq!(names(&shares[0]), ["m0", "m2", "m4"]);
        assert_eq!(names(&shares[1]), ["m1", "m3"]);
        assert_eq!(shares[1].load_timeout("m3"), Duration::from_secs(7));
        assert_eq!(shares[1].load_timeouts.len(), 1);
        assert!(
            shares.iter().all(|s| s.site_dirs == request.site_dirs && s.extension_timeout == request.extension_timeout)
        );
        assert_eq!(split(&request, 8).len(), 5, "no empty share");
        assert_eq!(split(&request, 1).len(), 1);
        assert_eq!(names(&split(&request, 1)[0]), names(&request));
    }

    #[test]
    fn a_verdict_is_one_json_line() {
        let line = serde_json::to_string(&ModuleVerdict {
            module: "m".into(),
            verdict: Verdict::MainOnly("imports x,\nwhich refuses".into()),
            files: Some(vec![PathBuf::from("/m/module.py")]),
        })
        .unwrap();
        assert!(!line.contains('\n'), "{line}");
        let back: ModuleVerdict = serde_json::from_str(&line).unwrap();
        assert_eq!(back.verdict, Verdict::MainOnly("imports x,\nwhich refuses".into()));
        let fine: ModuleVerdict = serde_json::from_str(r#"{"module": "m", "verdict": "fine"}"#).unwrap();
        assert_eq!(fine.verdict, Verdict::Fine);
        assert_eq!(fine.files, None, "no files: not kept");
    }
}
