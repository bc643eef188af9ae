//! `pyhost bench soak`: whether loading and unloading a module over and over
//! leaves anything behind in the host, set against what plain CPython leaves
//! behind doing the same, measured in the same run.
//!
//! For each isolation it measures, each in a process of its own:
//! - `plain`: plain CPython through the C API (compat/bench_baseline.c): a
//!   new interpreter, made as the host makes them, runs the soak module's
//!   code with a stand-in for the pyhost package, its threads are stopped and
//!   the interpreter ended; nothing of the host is involved;
//! - `package`: the same, with the module loaded, served, called and shut
//!   down through pyhost's own Python package (python/pyhost.py) instead of
//!   the stand-in: the interpreter as pyhost fills it, without the runtime;
//! - `restart`: a real `pyhost run` whose module is restarted through the
//!   control socket (`ctl restart`), while a second module keeps calling it
//!   with remote();
//! - `toggle`: the same with `ctl disable` then `ctl enable`.
//!
//! In the main interpreter a cycle ends no interpreter: the module's threads
//! are stopped and module.py is executed again into a fresh module (the
//! baselines: into a fresh namespace).
//!
//! The growth per cycle is the least-squares slope of the process's resident
//! memory (VmRSS) over the cycles, leaving the first tenth out (caches and
//! arenas fill up there); the same for malloc's heap in use (host/memory.rs),
//! which tells a leak from memory the allocator holds free. File descriptors
//! and threads are counted before the first cycle and after the last: they
//! must not grow.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::child::{self, ChildSpec, Running};
use crate::host::control::{self, Request};
use crate::host::memory::{self, Memory};
use crate::host::pyside;
use crate::host::report::State;
use crate::python::interpreter_info::supported_isolations;
use crate::python::{InitConfig, Isolation, Python, baseline, info};

/// The module that is loaded and unloaded (tests/hostile/soak.rs uses it too).
pub const MODULE: &str = include_str!("soak_module.py");
/// The module that stays, calling the other one through remote().
pub const PEER: &str = include_str!("soak_peer.py");

#[derive(Debug, Clone)]
pub struct SoakSettings {
    /// `ctl restart` cycles, and the cycles of each baseline.
    pub restarts: usize,
    /// `ctl disable` + `ctl enable` cycles.
    pub toggles: usize,
    /// Cycles between two samples of the memory.
    pub every: usize,
    /// Empty: every isolation the chosen interpreter supports.
    pub isolations: Vec<Isolation>,
}

impl Default for SoakSettings {
    fn default() -> Self {
        // No isolations named here: the defaults are read while the command
        // line is parsed, before `--python` has chosen the interpreter.
        SoakSettings { restarts: 1000, toggles: 500, every: 10, isolations: Vec::new() }
    }
}

/// The process's memory after `cycle` cycles.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Sample {
    pub cycle: usize,
    #[serde(flatten)]
    pub memory: Memory,
}

/// Open file descriptors and threads of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub fds: usize,
    pub threads: usize,
}

/// One measurement: `cycles` cycles in a process of its own.
#[derive(Debug, Serialize, Deserialize)]
pub struct Phase {
    pub cycles: usize,
    /// Growth of VmRSS per cycle, in KiB (the fitted slope).
    pub kib_per_cycle: f64,
    /// Growth of malloc's heap in use per cycle, in KiB (null where the C
    /// library does not say).
    pub heap_kib_per_cycle: Option<f64>,
    /// Before the first cycle and after the last.
    pub before: Counts,
    pub after: Counts,
    pub seconds: f64,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Serialize)]
pub struct SoakRun {
    pub isolation: Isolation,
    pub plain: Phase,
    pub package: Phase,
    pub restart: Phase,
    pub toggle: Phase,
    /// remote() calls into the soaked module that it answered, in both hosts.
    pub remote_calls: u64,
}

#[derive(Debug, Serialize)]
pub struct SoakReport {
    pub python: &'static str,
    pub every: usize,
    /// Samples before this cycle are left out of the fits.
    pub fitted_from: FittedFrom,
    pub runs: Vec<SoakRun>,
}

/// The first cycle each fit uses, per kind of phase.
#[derive(Debug, Serialize)]
pub struct FittedFrom {
    pub restart: usize,
    pub toggle: usize,
}

/// Runs every measurement for every isolation, `progress` told what starts.
pub fn run(settings: &SoakSettings, progress: &mut dyn FnMut(&str)) -> anyhow::Result<SoakReport> {
    if settings.restarts == 0 || settings.toggles == 0 || settings.every == 0 {
        bail!("the soak needs at least one cycle of each kind, sampled at least every cycle");
    }
    let isolations = if settings.isolations.is_empty() { supported_isolations() } else { settings.isolations.clone() };
    for isolation in &isolations {
        crate::python::interpreter_info::check_supported(*isolation)?;
    }
    let dir = tempfile::Builder::new().prefix("pyhost-soak-").tempdir().context("a folder for the soak")?;
    let scripts = Scripts::new(dir.path())?;
    let mut runs = Vec::new();
    for &isolation in &isolations {
        let name = isolation.name();
        let (restarts, toggles) = (settings.restarts, settings.toggles);
        progress(&format!("{name}: plain CPython, {restarts} cycles"));
        let plain = baseline_phase(isolation, &scripts.plain, restarts, settings.every)?;
        progress(&format!("{name}: pyhost's package without its runtime, {restarts} cycles"));
        let package = baseline_phase(isolation, &scripts.package(isolation), restarts, settings.every)?;
        progress(&format!("{name}: pyhost run, {restarts} x ctl restart"));
        let (restart, restart_calls) = host_phase(dir.path(), isolation, Cycle::Restart, restarts, settings.every)?;
        progress(&format!("{name}: pyhost run, {toggles} x ctl disable + enable"));
        let (toggle, toggle_calls) = host_phase(dir.path(), isolation, Cycle::Toggle, toggles, settings.every)?;
        runs.push(SoakRun { isolation, plain, package, restart, toggle, remote_calls: restart_calls + toggle_calls });
    }
    let fitted_from = FittedFrom { restart: fitted_from(settings.restarts), toggle: fitted_from(settings.toggles) };
    Ok(SoakReport { python: &info().version, every: settings.every, fitted_from, runs })
}

/// The first tenth of the cycles fills caches and arenas; it is left out.
fn fitted_from(cycles: usize) -> usize {
    cycles / 10
}

/// Least-squares slope of memory over cycles, from `fitted_from` on, in KiB
/// per cycle: (RSS, heap in use).
fn growth(samples: &[Sample], cycles: usize) -> (f64, Option<f64>) {
    let start = fitted_from(cycles);
    let used: Vec<&Sample> = samples.iter().filter(|s| s.cycle >= start).collect();
    let fit = |value: &dyn Fn(&Sample) -> f64| -> f64 {
        let n = used.len() as f64;
        if used.len() < 2 {
            return 0.0;
        }
        let mean_x = used.iter().map(|s| s.cycle as f64).sum::<f64>() / n;
        let mean_y = used.iter().map(|s| value(s)).sum::<f64>() / n;
        let covariance: f64 = used.iter().map(|s| (s.cycle as f64 - mean_x) * (value(s) - mean_y)).sum();
        let variance: f64 = used.iter().map(|s| (s.cycle as f64 - mean_x).powi(2)).sum();
        if variance == 0.0 { 0.0 } else { covariance / variance }
    };
    let heap = used.iter().all(|s| s.memory.heap_in_use_kib.is_some());
    let heap_fit = heap.then(|| fit(&|s| s.memory.heap_in_use_kib.unwrap_or(0) as f64));
    (fit(&|s| s.memory.rss_kib as f64), heap_fit)
}

fn phase(samples: Vec<Sample>, cycles: usize, before: Counts, after: Counts, seconds: f64) -> Phase {
    let (kib_per_cycle, heap_kib_per_cycle) = growth(&samples, cycles);
    Phase { cycles, kib_per_cycle, heap_kib_per_cycle, before, after, seconds, samples }
}

// -- reading a process's figures ---------------------------------------------

/// The process's open file descriptors and threads.
pub fn counts(pid: u32) -> Counts {
    let entries = |what: &str| std::fs::read_dir(format!("/proc/{pid}/{what}")).map(|d| d.count()).unwrap_or(0);
    Counts { fds: entries("fd"), threads: entries("task") }
}

/// The counts once they have not changed for half a second (at most 10 s):
/// a module just loaded may still be opening its sockets and threads.
fn steady_counts(pid: u32) -> Counts {
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut last, mut same) = (counts(pid), 0);
    while same < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let now = counts(pid);
        same = if now == last { same + 1 } else { 0 };
        last = now;
    }
    last
}

/// The counts once they are back to `want`, or as they are after 10 s:
/// threads that served the last control request take a moment to end.
fn settled_counts(pid: u32, want: Counts) -> Counts {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = counts(pid);
        if now == want || Instant::now() >= deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// -- the baselines -------------------------------------------------------------

/// The Python scripts the baselines run each cycle.
struct Scripts {
    plain: String,
    module_path: PathBuf,
}

/// A Python bytes literal of `text`, read alike by 2.7 and 3.x (whose
/// compile() takes bytes and honours a coding cookie, as for a file).
pub(crate) fn bytes_literal(text: &str) -> String {
    let mut out = String::from("b'");
    for byte in text.bytes() {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            b' '..=b'~' => out.push(byte as char),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push('\'');
    out
}

/// Plain CPython running the soak module: the pyhost package is replaced by
/// a stand-in with just what the module uses, and the script does what the
/// host would: make the instance, serve on a thread, call it, shut it down.
const PLAIN: &str = r#"
import logging
import sys
import threading


class Module(object):
    def __init__(self):
        pass


class RemoteError(Exception):
    pass


stand_in = type(sys)('pyhost')
stand_in.Module, stand_in.RemoteError = Module, RemoteError
sys.modules['pyhost'] = stand_in
try:
    namespace = {'__name__': 'soak_module'}
    exec(compile(SOURCE, 'module.py', 'exec'), namespace)
finally:
    del sys.modules['pyhost']
cls = [c for c in namespace.values() if isinstance(c, type) and issubclass(c, Module) and c is not Module][0]
instance = cls.__new__(cls)
instance.name = 'soak'
instance.log = logging.getLogger('soak')
instance.stopping = threading.Event()
instance.__init__()
serve = threading.Thread(target=instance.serve)
serve.start()
try:
    instance.echo(1)
    instance.notify('tick', {'count': 1})
finally:
    instance.stopping.set()
    instance.shutdown()
    serve.join()
"#;

/// The same through pyhost's package: installed as the host installs it,
/// then the functions the host calls, on Python threads instead of its own.
const PACKAGE: &str = r#"
import sys
import threading

import pyhost

if not isinstance(MODULE_PATH, str):  # 3.x: a native path from the bytes
    MODULE_PATH = MODULE_PATH.decode(sys.getfilesystemencoding(), 'surrogateescape')

pyhost._host_bootstrap(MODULE_NAME, ())
instance, meta = pyhost._host_load('soak', MODULE_PATH, '{}')
serve = threading.Thread(target=pyhost._host_serve, args=(instance,))
serve.start()
try:
    pyhost._host_remote(instance, 'echo', '[1]')
    pyhost._host_notify(instance, 'tick', '{"count": 1}')
finally:
    pyhost._host_shutdown(instance)
    serve.join()
"#;

impl Scripts {
    fn new(dir: &Path) -> anyhow::Result<Scripts> {
        let module_path = dir.join("baseline/soak/module.py");
        write_private(&module_path, MODULE)?;
        let plain = format!("SOURCE = {}\n{PLAIN}", bytes_literal(MODULE));
        Ok(Scripts { plain, module_path })
    }

    fn package(&self, isolation: Isolation) -> String {
        let name = if isolation == Isolation::Main { "None".to_string() } else { "'soak'".to_string() };
        let path = bytes_literal(&self.module_path.to_string_lossy());
        format!(
            "__pyhost_source__ = {}\n{}\nMODULE_NAME = {name}\nMODULE_PATH = {path}\n{PACKAGE}",
            bytes_literal(pyside::SOURCE),
            pyside::INSTALL,
        )
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct BaselineRequest {
    isolation: Isolation,
    cycles: usize,
    every: usize,
    script: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct BaselineAnswer {
    samples: Vec<Sample>,
    before: Counts,
    after: Counts,
    seconds: f64,
}

fn baseline_phase(isolation: Isolation, script: &str, cycles: usize, every: usize) -> anyhow::Result<Phase> {
    let request = BaselineRequest { isolation, cycles, every, script: script.to_string() };
    let timeout = Duration::from_secs(600).saturating_add(Duration::from_secs(10).saturating_mul(cycles as u32));
    let (answer, _): (BaselineAnswer, _) =
        ChildSpec::this_binary("__soak-baseline", timeout)?.env_remove("PYHOST_LOG").run_json(&request)?;
    let BaselineAnswer { samples, before, after, seconds } = answer;
    Ok(phase(samples, cycles, before, after, seconds))
}

/// The baseline's child process (`pyhost __soak-baseline`): runs the cycles
/// on its main thread and prints its samples as JSON.
pub fn run_baseline_child() -> anyhow::Result<()> {
    let request: BaselineRequest = serde_json::from_reader(std::io::stdin())?;
    // The package's log and output lines go nowhere.
    crate::python::set_handler(|_| Ok("null".into()));
    let python = Python::initialize(&InitConfig::default())?;
    // As `pyhost run` does: the main interpreter imports threading on the
    // process's main thread.
    python.main().gil().and_then(|gil| gil.import("threading").map(drop))?;
    let pid = std::process::id();
    let before = counts(pid);
    let started = Instant::now();
    let mut samples = vec![Sample { cycle: 0, memory: memory::current() }];
    for cycle in 1..=request.cycles {
        baseline::soak_cycle(python.main(), request.isolation, &request.script)
            .with_context(|| format!("cycle {cycle}"))?;
        if cycle % request.every == 0 || cycle == request.cycles {
            samples.push(Sample { cycle, memory: memory::current() });
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    // A Python thread that was joined may still be on its way out of the OS.
    let answer = BaselineAnswer { samples, before, after: settled_counts(pid, before), seconds };
    // Printed before Python is finalized, so that a crash there still
    // leaves the figures (the parent reports the crash anyway).
    println!("{}", serde_json::to_string(&answer)?);
    std::io::Write::flush(&mut std::io::stdout())?;
    python.finalize(Duration::from_secs(1))?;
    Ok(())
}

// -- the host --------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cycle {
    /// `ctl restart soak`.
    Restart,
    /// `ctl disable soak`, then `ctl enable soak`.
    Toggle,
}

/// Writes `text` to `path` (its folders made), readable by others but
/// writable by this user only, as strict modes want loaded code to be.
pub(crate) fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if let Some(parent) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o755).create(parent)?;
        std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755))?;
    }
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))?;
    Ok(())
}

/// A folder with the two modules and a config for one host.
fn host_folder(dir: &Path, isolation: Isolation, kind: Cycle) -> anyhow::Result<(PathBuf, PathBuf, PathBuf)> {
    let folder =
        dir.join(format!("{}-{}", isolation.name(), if kind == Cycle::Restart { "restart" } else { "toggle" }));
    write_private(&folder.join("modules/soak/module.py"), MODULE)?;
    write_private(&folder.join("modules/peer/module.py"), PEER)?;
    let count_file = folder.join("remote-calls");
    let config = folder.join("pyhost.toml");
    let text = format!(
        "module_dirs = [\"modules\"]\nenable = [\"soak\", \"peer\"]\nisolation = \"{}\"\ntick_interval = 0.05\n\
         log_level = \"warn\"\n\n[modules.peer.options]\ncount_file = {}\n",
        isolation.name(),
        serde_json::to_string(&count_file.to_string_lossy())?,
    );
    write_private(&config, &text)?;
    Ok((config, folder.join("control.sock"), count_file))
}

fn ask(socket: &Path, request: Request) -> anyhow::Result<serde_json::Value> {
    let response = control::call(socket, &request, None)?;
    if !response.ok {
        bail!("the host refused {request:?}: {}", response.error.unwrap_or_default());
    }
    Ok(response.result.unwrap_or_default())
}

/// The host's `ctl status`: whether every module is running (an error if
/// one failed), and the host's memory.
fn status(socket: &Path) -> anyhow::Result<(bool, Memory)> {
    let status = ask(socket, Request::Status)?;
    let report: crate::host::Report = serde_json::from_value(status).context("the host's status")?;
    for module in &report.modules {
        if !matches!(module.state, State::Running | State::Pending | State::Loading) {
            bail!("module {} is {:?}: {}", module.name, module.state, module.error.as_deref().unwrap_or_default());
        }
    }
    let running = report.modules.iter().all(|m| m.state == State::Running);
    Ok((running, report.memory.context("the host's status tells no memory")?))
}

fn host_phase(
    dir: &Path,
    isolation: Isolation,
    kind: Cycle,
    cycles: usize,
    every: usize,
) -> anyhow::Result<(Phase, u64)> {
    let (config, socket, count_file) = host_folder(dir, isolation, kind)?;
    let timeout = Duration::from_secs(600).saturating_add(Duration::from_secs(10).saturating_mul(cycles as u32));
    let host = ChildSpec::this_binary("run", timeout)?
        .env_remove("PYHOST_LOG")
        .arg("--config")
        .arg(&config)
        .arg("--control")
        .arg(&socket)
        .spawn(b"")?;
    let measured = drive(&host, &socket, kind, cycles, every);
    // Stop the host whatever happened, and hear how it ended.
    let _ = control::call(&socket, &Request::Stop, Some(Duration::from_secs(30)));
    let finished = host.wait();
    let phase = match (measured, finished) {
        (Ok(measured), Ok(finished)) if finished.status.success() && !crashed(&finished.stderr) => measured,
        (measured, finished) => {
            let how = match finished {
                Ok(f) => format!("it exited with {}; last lines:\n{}", f.status, child::last_lines(&f.stderr, 12)),
                Err(error) => error.to_string(),
            };
            match measured {
                Err(error) => bail!("{error:#}\n(the host under soak: {how})"),
                Ok(_) => bail!("the host under soak did not end cleanly: {how}"),
            }
        }
    };
    let calls = std::fs::read_to_string(&count_file).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0);
    Ok((phase, calls))
}

fn crashed(stderr: &str) -> bool {
    stderr.contains("Fatal Python error") || stderr.contains("panicked at")
}

fn drive(host: &Running, socket: &Path, kind: Cycle, cycles: usize, every: usize) -> anyhow::Result<Phase> {
    let pid = host.id();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut memory = loop {
        match status(socket) {
            Ok((true, memory)) => break memory,
            Ok((false, _)) => {}
            Err(error) if error.downcast_ref::<control::ClientError>().is_none() => return Err(error),
            Err(_) if Instant::now() >= deadline => bail!("the host did not come up within 300 s"),
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let before = steady_counts(pid);
    let started = Instant::now();
    let mut samples = vec![Sample { cycle: 0, memory }];
    let name = || "soak".to_string();
    for cycle in 1..=cycles {
        match kind {
            Cycle::Restart => ask(socket, Request::Restart { name: name() })?,
            Cycle::Toggle => {
                ask(socket, Request::Disable { name: name() })?;
                ask(socket, Request::Enable { name: name() })?
            }
        };
        if cycle % every == 0 || cycle == cycles {
            let running;
            (running, memory) = status(socket).with_context(|| format!("after cycle {cycle}"))?;
            if !running {
                bail!("after cycle {cycle} a module is not running yet");
            }
            samples.push(Sample { cycle, memory });
        }
    }
    let after = settled_counts(pid, before);
    Ok(phase(samples, cycles, before, after, started.elapsed().as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(cycle: usize, rss_kib: u64, heap: Option<u64>) -> Sample {
        Sample { cycle, memory: Memory { rss_kib, heap_in_use_kib: heap, heap_free_kib: None } }
    }

    #[test]
    fn growth_is_the_slope_after_the_first_tenth() {
        // A jump during the first tenth (warming up), then 3 KiB per cycle.
        let mut samples = vec![sample(0, 1000, Some(10)), sample(5, 9000, Some(10))];
        samples.extend((10..=100).step_by(10).map(|c| sample(c, 20_000 + 3 * c as u64, Some(10 + c as u64 / 2))));
        let (rss, heap) = growth(&samples, 100);
        assert!((rss - 3.0).abs() < 1e-9, "{rss}");
        assert!((heap.unwrap() - 0.5).abs() < 1e-9, "{heap:?}");
        samples.push(sample(100, 20_300, None));
        assert_eq!(growth(&samples, 100).1, None, "no heap figure unless every sample has one");
    }

    #[test]
    fn a_bytes_literal_escapes_quotes_backslashes_and_what_is_not_ascii() {
        assert_eq!(bytes_literal("a'b\\c\nd\u{e9}"), "b'a\\'b\\\\c\\x0ad\\xc3\\xa9'");
    }
}
