//! `pyhost bench`: the runtime's costs, each against a baseline measured in
//! the same run, so the figures are ratios rather than absolute timings a
//! shared machine would make noisy.
//!
//! - a host-to-module call from a non-Python thread (take the GIL, call a
//!   method, release) through the Gil guard, against the same calls made by
//!   raw C (compat/bench_baseline.c); target: within 1.15x;
//! - interpreter start and end time per isolation mode;
//! - resident memory per loaded module, per isolation mode;
//! - on 3.12+, two CPU-bound modules at once in own-GIL interpreters against
//!   the same two in shared-GIL ones; target: at least 1.8x on 2 cores;
//! - with `--against P`, the same two modules under interpreter P, measured
//!   by a child pyhost running P (one process loads one libpython): how a
//!   free-threaded 3.13t compares with 3.13's own-GIL interpreters.
//!
//! `pyhost bench soak` (soak.rs) measures what restarts leave behind,
//! `pyhost bench notify` (notify.rs) event delivery against one GIL hold per event, and
//! `pyhost bench scale` (scale.rs) what hundreds of modules cost.

pub mod notify;
pub mod scale;
pub mod soak;

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::host::pyside;
use crate::python::interpreter_info::supported_isolations;
use crate::python::{InitConfig, Interpreter, Isolation, OwnedObj, Python, baseline, threads};

/// The module every measurement loads.
const MODULE: &str = "\
import pyhost


class Bench(pyhost.Module):
    def ping(self):
        return None

    def work(self, n):
        total = 0
        for i in range(n):
            total += i * i
        return total
";

pub const CALL_TARGET: f64 = 1.15;
pub const PARALLEL_TARGET: f64 = 1.8;

#[derive(Debug, Serialize)]
pub struct CallCost {
    pub calls: usize,
    pub baseline_ns: f64,
    pub pyhost_ns: f64,
    pub ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct Startup {
    pub isolation: Isolation,
    pub start_ms: f64,
    pub end_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct Memory {
    pub isolation: Isolation,
    pub modules: usize,
    pub mib_per_module: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Parallel {
    pub work: u64,
    /// One module alone: what each of two would take on an idle core.
    pub alone_s: f64,
    pub shared_s: f64,
    pub own_gil_s: f64,
    pub speedup: f64,
}

/// What `pyhost --python P bench --parallel-only` answers: the throughput
/// figures of interpreter P.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParallelOnly {
    pub python: String,
    pub executable: String,
    pub free_threaded: bool,
    pub parallel: Option<Parallel>,
}

/// The two CPU-bound modules under another interpreter, in the same run.
#[derive(Debug, Serialize)]
pub struct Against {
    pub other: ParallelOnly,
    /// The other's own-GIL time over this one's (own-GIL interpreters on
    /// both sides): above 1, this interpreter gets through the work faster.
    pub speedup: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub python: &'static str,
    /// A free-threaded build (3.13t): no GIL in any isolation, unless an
    /// extension module turns it on.
    pub free_threaded: bool,
    pub cpus: usize,
    pub call: CallCost,
    pub startup: Vec<Startup>,
    pub memory: Vec<Memory>,
    /// None before 3.12: there is no own-GIL interpreter to compare.
    pub parallel: Option<Parallel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against: Option<Against>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub calls: usize,
    pub rounds: usize,
    pub starts: usize,
    pub modules: usize,
    pub work: u64,
    /// Another interpreter (a path, a command or a version) to measure the
    /// throughput under as well, in a child pyhost.
    pub against: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { calls: 100_000, rounds: 9, starts: 10, modules: 5, work: 3_000_000, against: None }
    }
}

fn load(interpreter: &Interpreter, dir: &Path) -> anyhow::Result<OwnedObj> {
    let gil = interpreter.gil()?;
    let module = (!interpreter.is_main()).then_some("bench");
    pyside::bootstrap(&gil, module, &[])?;
    let (instance, _) = pyside::load(&gil, "bench", &dir.join("bench/module.py"), &serde_json::json!({}))?;
    Ok(instance)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// Baseline and pyhost calls alternate round by round, on one non-Python
/// thread, so drift in the machine's load hits both alike.
fn call_cost(python: &Python, dir: &Path, settings: &Settings) -> anyhow::Result<CallCost> {
    let isolation = supported_isolations()[0];
    let interpreter = python.new_interpreter(isolation)?;
    let instance = load(&interpreter, dir)?;
    let (calls, rounds) = (settings.calls, settings.rounds);
    let (baseline, ours) = thread::scope(|s| {
        threads::builder("bench:calls")
            .spawn_scoped(s, || -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
                let (mut baseline, mut ours) = (Vec::new(), Vec::new());
                // Warm up both paths (thread state creation, caches).
                baseline::raw_calls(&instance, "ping", 1000)?;
                pyhost_calls(&interpreter, &instance, 1000)?;
                for _ in 0..rounds {
                    baseline.push(baseline::raw_calls(&instance, "ping", calls)?.as_nanos() as f64 / calls as f64);
                    ours.push(pyhost_calls(&interpreter, &instance, calls)?.as_nanos() as f64 / calls as f64);
                }
                Ok((baseline, ours))
            })
            .expect("spawn the bench thread")
            .join()
            .expect("bench thread")
    })?;
    drop(instance);
    interpreter.end(Duration::from_secs(1))?;
    // Each round's pair ran back to back, so a ratio per round cancels most
    // of what the machine's other load does to both.
    let ratio = median(baseline.iter().zip(&ours).map(|(b, o)| o / b).collect());
    Ok(CallCost { calls, baseline_ns: median(baseline), pyhost_ns: median(ours), ratio })
}

/// What the host does for every call into a module.
fn pyhost_calls(interpreter: &Interpreter, instance: &OwnedObj, count: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for _ in 0..count {
        let gil = interpreter.gil()?;
        instance.call_method0(&gil, c"ping")?;
    }
    Ok(started.elapsed())
}

fn startup(python: &Python, settings: &Settings) -> anyhow::Result<Vec<Startup>> {
    let mut out = Vec::new();
    for isolation in supported_isolations().into_iter().filter(|i| *i != Isolation::Main) {
        let (mut starts, mut ends) = (Vec::new(), Vec::new());
        for _ in 0..settings.starts {
            let started = Instant::now();
            let interpreter = python.new_interpreter(isolation)?;
            starts.push(started.elapsed().as_secs_f64() * 1e3);
            let ending = Instant::now();
            interpreter.end(Duration::ZERO)?;
            ends.push(ending.elapsed().as_secs_f64() * 1e3);
        }
        out.push(Startup { isolation, start_ms: median(starts), end_ms: median(ends) });
    }
    Ok(out)
}

fn resident_bytes() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0.0);
    // SAFETY: sysconf only reads a constant of the system.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as f64
}

fn memory(python: &Python, dir: &Path, settings: &Settings) -> anyhow::Result<Vec<Memory>> {
    let mut out = Vec::new();
    for isolation in supported_isolations() {
        let before = resident_bytes();
        let mut kept = Vec::new();
        for _ in 0..settings.modules {
            let interpreter = python.new_interpreter(isolation)?;
            let instance = load(&interpreter, dir)?;
            kept.push((interpreter, instance));
        }
        let per_module = (resident_bytes() - before) / settings.modules as f64 / (1024.0 * 1024.0);
        out.push(Memory { isolation, modules: settings.modules, mib_per_module: per_module });
        for (interpreter, instance) in kept {
            drop(instance);
            if !interpreter.is_main() {
                interpreter.end(Duration::from_secs(1))?;
            }
        }
    }
    Ok(out)
}

/// `count` modules, each on its own thread, each doing the same CPU-bound work.
fn at_once(python: &Python, dir: &Path, isolation: Isolation, count: usize, work: u64) -> anyhow::Result<f64> {
    let pair: Vec<Interpreter> = (0..count).map(|_| python.new_interpreter(isolation)).collect::<Result<_, _>>()?;
    let instances: Vec<OwnedObj> = pair.iter().map(|i| load(i, dir)).collect::<Result<_, _>>()?;
    let started = Instant::now();
    thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..count)
            .map(|i| {
                let (interpreter, instance) = (&pair[i], &instances[i]);
                threads::builder(format!("bench:{i}"))
                    .spawn_scoped(s, move || -> anyhow::Result<()> {
                        let gil = interpreter.gil()?;
                        instance.bind(&gil)?.call_method("work", vec![gil.int(work as i64)?])?;
                        Ok(())
                    })
                    .expect("spawn a bench thread")
            })
            .collect();
        for handle in handles {
            handle.join().expect("worker")?;
        }
        Ok(())
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    drop(instances);
    for interpreter in pair {
        interpreter.end(Duration::from_secs(1))?;
    }
    Ok(elapsed)
}

fn parallel(python: &Python, dir: &Path, settings: &Settings) -> anyhow::Result<Option<Parallel>> {
    if !supported_isolations().contains(&Isolation::OwnGil) {
        return Ok(None);
    }
    let (mut alone, mut shared, mut own) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        alone.push(at_once(python, dir, Isolation::OwnGil, 1, settings.work)?);
        shared.push(at_once(python, dir, Isolation::Shared, 2, settings.work)?);
        own.push(at_once(python, dir, Isolation::OwnGil, 2, settings.work)?);
    }
    let (alone_s, shared_s, own_gil_s) = (median(alone), median(shared), median(own));
    Ok(Some(Parallel { work: settings.work, alone_s, shared_s, own_gil_s, speedup: shared_s / own_gil_s }))
}

pub fn run(settings: &Settings) -> anyhow::Result<BenchReport> {
    // The other interpreter first, while this process has not started Python.
    let other = settings.against.as_deref().map(|python| parallel_elsewhere(python, settings)).transpose()?;
    let dir = bench_dir()?;
    crate::python::set_handler(|_| Ok("null".into()));
    let python = Python::initialize(&InitConfig::default())?;
    let mut report = BenchReport {
        python: crate::python::info().version.as_str(),
        free_threaded: crate::python::free_threaded(),
        cpus: thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        call: call_cost(&python, dir.path(), settings)?,
        startup: startup(&python, settings)?,
        memory: memory(&python, dir.path(), settings)?,
        parallel: parallel(&python, dir.path(), settings)?,
        against: None,
    };
    python.finalize(Duration::from_secs(1))?;
    report.against = other.map(|other| {
        let speedup = match (&report.parallel, &other.parallel) {
            (Some(ours), Some(theirs)) => Some(theirs.own_gil_s / ours.own_gil_s),
            _ => None,
        };
        Against { other, speedup }
    });
    Ok(report)
}

/// Only the throughput figures: what `--parallel-only` prints for a parent's `--against`.
pub fn run_parallel_only(settings: &Settings) -> anyhow::Result<ParallelOnly> {
    let dir = bench_dir()?;
    crate::python::set_handler(|_| Ok("null".into()));
    let python = Python::initialize(&InitConfig::default())?;
    let parallel = parallel(&python, dir.path(), settings)?;
    python.finalize(Duration::from_secs(1))?;
    let info = crate::python::info();
    Ok(ParallelOnly {
        python: info.version.clone(),
        executable: info.executable.clone(),
        free_threaded: crate::python::free_threaded(),
        parallel,
    })
}

/// `pyhost --python P bench --parallel-only` in a child: one process loads one libpython.
fn parallel_elsewhere(python: &str, settings: &Settings) -> anyhow::Result<ParallelOnly> {
    let binary = std::env::current_exe()?;
    // Generous: 15 runs of the work; a hang is still caught.
    let child = crate::child::ChildSpec::new(binary, Duration::from_secs(1800))
        .env(crate::python::PYTHON_ENV, python)
        .args(["bench", "--parallel-only", "--work", &settings.work.to_string()]);
    let (answer, _) = child
        .run_json::<_, ParallelOnly>(&serde_json::Value::Null)
        .map_err(|e| anyhow::anyhow!("pyhost bench under `{python}` failed: {e}\n{}", e.stderr()))?;
    Ok(answer)
}

fn bench_dir() -> anyhow::Result<TempDir> {
    let dir = TempDir::new()?;
    std::fs::create_dir_all(dir.path().join("bench"))?;
    std::fs::write(dir.path().join("bench/module.py"), MODULE)?;
    Ok(dir)
}

/// A folder for the bench module, removed afterwards.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        let path = std::env::temp_dir().join(format!("pyhost-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
