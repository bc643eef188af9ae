//! `pyhost bench scale`: what hosting N modules costs, each figure set
//! against a baseline measured in the same run:
//!
//! - **start**: from spawning `pyhost run` (N modules, the placement probe
//!   on, as by default) until `ctl status` shows all N running, against
//!   spawning the baseline's process until N bare sub-interpreters of the same
//!   kind (`Py_NewInterpreter`, or `Py_NewInterpreterFromConfig` with its own
//!   GIL), each having imported the same module.py with a stand-in for the
//!   pyhost package, exist (compat/bench_baseline.c). The probe is also timed
//!   on its own (its child process on the same N modules), so its share shows.
//!   Cold: no verdict kept from an earlier start (the hosts' placement cache
//!   is a folder of the bench's own, empty at first); warm: the same start
//!   again, with the verdicts the cold one kept (host/kept_verdicts.rs);
//! - **memory**: resident memory per module: the host's with N modules less
//!   its own with none, over N, against the baseline's after its N
//!   interpreters less after Python's start, over N;
//! - **shutdown**: `ctl stop` until the host process has exited, against
//!   ending the N bare interpreters and finalizing Python;
//! - **restart**: `ctl restart` of one module, answered once it runs
//!   again, against ending one bare interpreter and making it again;
//! - **notify**: `pyhost bench notify`'s figure (bench/notify.rs), events
//!   delivered to 10 modules against one GIL hold per event, run in this
//!   process after the host figures (it initializes Python here).
//!
//! Each side runs in a process of its own, since one process loads one
//! libpython and a host's figures must not include the other's.

use std::path::{Path, PathBuf};

use super::notify::{NotifyFigure, NotifySettings};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::child::{self, ChildSpec};
use crate::host::control::{self, Request};
use crate::host::placement::{self, ProbeRequest};
use crate::host::report::State;
use crate::python::interpreter_info::{check_supported, default_isolation};
use crate::python::{InitConfig, Isolation, Python, baseline, info};

use super::soak::{bytes_literal, write_private};

/// Every module the bench starts: imports pyhost, waits on `stopping`.
pub const MODULE: &str = "\
import pyhost


class Scale(pyhost.Module):
    def serve(self):
        self.stopping.wait()
";

/// What each bare interpreter of the baseline runs: the module's code, with
/// a stand-in for the pyhost package that holds just the base class.
const BARE_SCRIPT: &str = r#"
import sys


class Module(object):
    pass


stand_in = type(sys)('pyhost')
stand_in.Module = Module
sys.modules['pyhost'] = stand_in
with open(PATH, 'rb') as source:
    exec(compile(source.read(), PATH, 'exec'), {'__name__': 'scale_module'})
"#;

pub const START_TARGET: f64 = 1.5;
/// Own-GIL modules started in parallel, against one after the other.
pub const PARALLEL_TARGET: f64 = 0.6;
pub const MEMORY_TARGET: f64 = 1.2;
/// Seconds to shut 500 modules down.
pub const SHUTDOWN_TARGET_S: f64 = 2.0;
pub const SHUTDOWN_TARGET_MODULES: usize = 500;

/// Module counts run by default; `--full` adds 500.
pub const DEFAULT_COUNTS: [usize; 2] = [1, 50];
pub const FULL_COUNTS: [usize; 3] = [1, 50, 500];

#[derive(Debug, Clone)]
pub struct ScaleSettings {
    pub counts: Vec<usize>,
    /// `ctl restart` cycles (and baseline cycles) per count.
    pub restarts: usize,
    /// None: the interpreter's default (own-gil on 3.12+, else shared).
    pub isolation: Option<Isolation>,
}

impl Default for ScaleSettings {
    fn default() -> Self {
        ScaleSettings { counts: DEFAULT_COUNTS.to_vec(), restarts: 5, isolation: None }
    }
}

/// One figure: pyhost's, the baseline's, and their ratio.
#[derive(Debug, Serialize)]
pub struct Figure {
    pub pyhost: f64,
    pub baseline: f64,
    pub ratio: f64,
}

impl Figure {
    fn new(pyhost: f64, baseline: f64) -> Figure {
        Figure { pyhost, baseline, ratio: if baseline > 0.0 { pyhost / baseline } else { f64::NAN } }
    }
}

/// The baseline's N bare own-GIL interpreters made on `jobs` threads at
/// once against one after the other, each from spawning the baseline's
/// process until all N exist.
#[derive(Debug, Serialize)]
pub struct BareParallel {
    pub jobs: usize,
    pub parallel_s: f64,
    pub serial_s: f64,
    /// parallel_s / serial_s.
    pub ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct ScaleRun {
    pub modules: usize,
    /// Seconds until N modules run, cold: every module probed.
    pub start_s: Figure,
    /// The same start again, warm: with the verdicts the cold one kept.
    pub start_warm_s: Figure,
    /// Seconds the placement probe takes on the same modules, alone.
    pub probe_s: f64,
    /// Seconds until N modules run with `probe = false`, against the baseline.
    pub start_without_probe_s: Figure,
    /// Own-GIL only, both with `probe = false`: pyhost's start with
    /// `start_jobs = 1` (one module after the other), and the parallel
    /// start's ratio to it.
    pub serial_start: Option<Figure>,
    /// Own-GIL only: CPython's own parallel/serial ratio, what pyhost's
    /// above is read against: the baseline's N bare interpreters made on as
    /// many threads at once as pyhost's parallel start uses, against the
    /// same made one after the other (the start baseline), both measured here.
    pub bare_parallel_start: Option<BareParallel>,
    /// MiB of resident memory per module.
    pub rss_mib_per_module: Figure,
    /// Seconds from `ctl stop` until the host has exited.
    pub shutdown_s: Figure,
    /// Milliseconds of one `ctl restart` (median).
    pub restart_ms: Figure,
}

#[derive(Debug, Serialize)]
pub struct ScaleReport {
    pub python: &'static str,
    pub isolation: Isolation,
    pub cpus: usize,
    /// Load average (1 minute) before and after the run.
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
    pub runs: Vec<ScaleRun>,
    /// Events delivered to 10 modules against the raw per-event baseline
    /// (bench/notify.rs, its default settings).
    pub notify: NotifyFigure,
}

fn cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn unix_ns(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

pub fn run(settings: &ScaleSettings, progress: &mut dyn FnMut(&str)) -> anyhow::Result<ScaleReport> {
    if settings.counts.is_empty() || settings.counts.contains(&0) {
        bail!("give at least one module count, each at least 1 (--modules 1,50)");
    }
    let isolation = settings.isolation.unwrap_or_else(default_isolation);
    if isolation == Isolation::Main {
        bail!("the scale bench compares sub-interpreters: use --isolation shared or own-gil");
    }
    check_supported(isolation)?;
    let load_before = load_average();
    let dir = tempfile::Builder::new().prefix("pyhost-scale-").tempdir().context("a folder for the scale bench")?;
    let mut runs = Vec::new();
    for &count in &settings.counts {
        let folder = dir.path().join(format!("n{count}"));
        let modules = write_modules(&folder, count)?;
        progress(&format!("{count} module(s): the baseline, {count} bare interpreters"));
        let base = baseline_run(isolation, &modules, settings.restarts, 1)?;
        // Right after the serial baseline it is set against, as pyhost's two
        // starts are measured one after the other below.
        let bare_parallel = if isolation == Isolation::OwnGil {
            let jobs = cpus();
            progress(&format!(
                "{count} module(s): the baseline, {count} bare interpreters made on {jobs} threads at once"
            ));
            let parallel = baseline_run(isolation, &modules, 0, jobs)?;
            Some(BareParallel {
                jobs,
                parallel_s: parallel.ready_s,
                serial_s: base.ready_s,
                ratio: Figure::new(parallel.ready_s, base.ready_s).ratio,
            })
        } else {
            None
        };
        progress(&format!("{count} module(s): the placement probe alone"));
        let probe_s = time_probe(isolation, &modules);
        progress(&format!("{count} module(s): pyhost run"));
        let host = host_run(&folder, isolation, count, settings.restarts, &HostKnobs::default())?;
        progress(&format!("{count} module(s): pyhost run again, with the verdicts it kept"));
        let warm = host_run(&folder, isolation, count, 0, &HostKnobs::default())?;
        progress(&format!("{count} module(s): pyhost run, probe = false"));
        let unprobed = host_run(&folder, isolation, count, 0, &HostKnobs { probe: false, ..HostKnobs::default() })?;
        let serial_start = if isolation == Isolation::OwnGil {
            // Both without the probe: it now runs beside the loads, one child
            // per CPU but one, and its verdicts pace both starts alike, so
            // with it the figure measured the probe, not making interpreters
            // on several threads (the probe has its own figure above).
            progress(&format!("{count} module(s): pyhost run, probe = false, start_jobs = 1"));
            let serial = host_run(&folder, isolation, count, 0, &HostKnobs { probe: false, start_jobs: Some(1) })?;
            // pyhost: the parallel start; baseline: the serial one.
            Some(Figure::new(unprobed.start_s, serial.start_s))
        } else {
            None
        };
        let empty = host_rss_without_modules(&folder, isolation)?;
        let rss = |kib: f64| kib / 1024.0;
        runs.push(ScaleRun {
            modules: count,
            start_s: Figure::new(host.start_s, base.ready_s),
            start_warm_s: Figure::new(warm.start_s, base.ready_s),
            probe_s,
            start_without_probe_s: Figure::new(unprobed.start_s, base.ready_s),
            serial_start,
            bare_parallel_start: bare_parallel,
            rss_mib_per_module: Figure::new(
                rss((host.rss_kib as f64 - empty as f64) / count as f64),
                rss((base.rss_after_kib as f64 - base.rss_before_kib as f64) / count as f64),
            ),
            shutdown_s: Figure::new(host.shutdown_s, base.shutdown_s),
            restart_ms: Figure::new(host.restart_ms, base.restart_ms),
        });
    }
    Ok(ScaleReport {
        python: &info().version,
        isolation,
        cpus: cpus(),
        load_before,
        load_after: load_average(),
        runs,
        notify: super::notify::run(&NotifySettings::default())?,
    })
}

/// `count` modules `m0001`... under `folder/modules`; returns their files.
fn write_modules(folder: &Path, count: usize) -> anyhow::Result<Vec<PathBuf>> {
    (1..=count)
        .map(|i| {
            let path = folder.join(format!("modules/m{i:04}/module.py"));
            write_private(&path, MODULE)?;
            Ok(path)
        })
        .collect()
}

// -- the baseline ----------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize)]
struct BaselineRequest {
    isolation: Isolation,
    modules: Vec<PathBuf>,
    restarts: usize,
    /// 1: the interpreters made one after the other on the main thread;
    /// more: own-GIL ones made on that many threads at once, with no
    /// restart cycles (`baseline::bare_parallel`).
    jobs: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct BaselineAnswer {
    /// How many interpreters existed at `ready_unix_ns`.
    made: usize,
    /// When the N interpreters existed (ns since the epoch): the parent
    /// sets it against when it spawned the process.
    ready_unix_ns: u128,
    rss_before_kib: u64,
    rss_after_kib: u64,
    /// None with no restart cycles: JSON has no NaN (serde writes it as
    /// null, which does not read back as a number).
    restart_ms: Option<f64>,
    shutdown_s: f64,
}

struct Baseline {
    ready_s: f64,
    rss_before_kib: u64,
    rss_after_kib: u64,
    restart_ms: f64,
    shutdown_s: f64,
}

fn baseline_run(isolation: Isolation, modules: &[PathBuf], restarts: usize, jobs: usize) -> anyhow::Result<Baseline> {
    let request = BaselineRequest { isolation, modules: modules.to_vec(), restarts, jobs };
    let timeout = Duration::from_secs(600).saturating_add(Duration::from_secs(2).saturating_mul(modules.len() as u32));
    let spawned = SystemTime::now();
    let (answer, _): (BaselineAnswer, _) =
        ChildSpec::this_binary("__scale-baseline", timeout)?.env_remove("PYHOST_LOG").run_json(&request)?;
    if answer.made != modules.len() {
        bail!("the baseline made {} interpreters, not {}", answer.made, modules.len());
    }
    let ready_s = answer.ready_unix_ns.saturating_sub(unix_ns(spawned)) as f64 / 1e9;
    Ok(Baseline {
        ready_s,
        rss_before_kib: answer.rss_before_kib,
        rss_after_kib: answer.rss_after_kib,
        restart_ms: answer.restart_ms.unwrap_or(f64::NAN),
        shutdown_s: answer.shutdown_s,
    })
}

fn script_for(path: &Path) -> String {
    format!("PATH = {}\n{BARE_SCRIPT}", bytes_literal(&path.to_string_lossy()))
}

/// The baseline's child process (`pyhost __scale-baseline`).
pub fn run_baseline_child() -> anyhow::Result<()> {
    let request: BaselineRequest = serde_json::from_reader(std::io::stdin())?;
    if request.jobs == 0 {
        bail!("the scale baseline needs at least one job");
    }
    if request.jobs > 1 && (request.isolation != Isolation::OwnGil || request.restarts > 0) {
        bail!("the scale baseline makes only own-gil interpreters in parallel, with no restarts");
    }
    let python = Python::initialize(&InitConfig::default())?;
    // As `pyhost run` does before loading anything.
    python.main().gil().and_then(|gil| gil.import("threading").map(drop))?;
    let answer =
        if request.jobs > 1 { parallel_baseline(python, &request)? } else { serial_baseline(python, &request)? };
    println!("{}", serde_json::to_string(&answer)?);
    Ok(())
}

/// The N interpreters made one after the other on this thread, a restart
/// cycle timed `restarts` times, then all ended.
fn serial_baseline(python: Python, request: &BaselineRequest) -> anyhow::Result<BaselineAnswer> {
    let main = python.main();
    let rss_before_kib = crate::host::memory::current().rss_kib;
    let mut bare = Vec::with_capacity(request.modules.len());
    for path in &request.modules {
        bare.push(baseline::bare_new(main, request.isolation, &script_for(path))?);
    }
    let ready_unix_ns = unix_ns(SystemTime::now());
    let rss_after_kib = crate::host::memory::current().rss_kib;
    let mut restarts = Vec::new();
    for _ in 0..request.restarts {
        let started = Instant::now();
        baseline::bare_end(main, bare.remove(0))?;
        bare.insert(0, baseline::bare_new(main, request.isolation, &script_for(&request.modules[0]))?);
        restarts.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let stopping = Instant::now();
    for one in bare.into_iter().rev() {
        baseline::bare_end(main, one)?;
    }
    python.finalize(Duration::from_secs(1))?;
    let shutdown_s = stopping.elapsed().as_secs_f64();
    let restart_ms = (!restarts.is_empty()).then(|| median(restarts));
    Ok(BaselineAnswer {
        made: request.modules.len(),
        ready_unix_ns,
        rss_before_kib,
        rss_after_kib,
        restart_ms,
        shutdown_s,
    })
}

/// The N own-GIL interpreters made on `jobs` threads at once, each thread
/// taking the next module (as the host's parallel start does), then each
/// thread ending its own. Its shutdown is that parallel end and finalizing.
fn parallel_baseline(python: Python, request: &BaselineRequest) -> anyhow::Result<BaselineAnswer> {
    let main = python.main();
    let rss_before_kib = crate::host::memory::current().rss_kib;
    let scripts: Vec<String> = request.modules.iter().map(|path| script_for(path)).collect();
    let mut ready = None;
    let made = baseline::bare_parallel(main, &scripts, request.jobs, || {
        let ready_unix_ns = unix_ns(SystemTime::now());
        ready = Some((ready_unix_ns, crate::host::memory::current().rss_kib, Instant::now()));
    })?;
    let (ready_unix_ns, rss_after_kib, stopping) =
        ready.context("the parallel baseline never had all its interpreters")?;
    python.finalize(Duration::from_secs(1))?;
    let shutdown_s = stopping.elapsed().as_secs_f64();
    Ok(BaselineAnswer { made, ready_unix_ns, rss_before_kib, rss_after_kib, restart_ms: None, shutdown_s })
}

// -- the probe, alone ----------------------------------------------------------------

fn time_probe(isolation: Isolation, modules: &[PathBuf]) -> f64 {
    let request = ProbeRequest {
        isolation,
        site_dirs: Vec::new(),
        modules: modules
            .iter()
            .map(|p| (p.parent().and_then(|d| d.file_name()).unwrap_or_default().to_string_lossy().into(), p.clone()))
            .collect(),
        load_timeouts: Default::default(),
        extension_timeout: Duration::from_secs(30),
    };
    let started = Instant::now();
    placement::probe(&request, placement::probe_bound(&request), || false, &|_, _| {});
    started.elapsed().as_secs_f64()
}

// -- the host ------------------------------------------------------------------------

struct HostFigures {
    start_s: f64,
    rss_kib: u64,
    restart_ms: f64,
    shutdown_s: f64,
}

/// What a host run of the bench changes from the defaults.
struct HostKnobs {
    probe: bool,
    start_jobs: Option<usize>,
}

impl Default for HostKnobs {
    /// As a user who wants a fast start sets it: one start job per CPU.
    fn default() -> Self {
        HostKnobs { probe: true, start_jobs: Some(cpus()) }
    }
}

fn config_text(isolation: Isolation, enable: &str, knobs: &HostKnobs) -> String {
    let mut text = format!(
        "module_dirs = [\"modules\"]\nenable = {enable}\nisolation = \"{}\"\ntick_interval = 0\nlog_level = \"warn\"\n",
        isolation.name()
    );
    if let Some(jobs) = knobs.start_jobs {
        text.push_str(&format!("start_jobs = {jobs}\n"));
    }
    if !knobs.probe {
        text.push_str("probe = false\n");
    }
    text
}

/// A `pyhost run` on `folder`, the control socket's path, and its config.
fn spawn_host(folder: &Path, name: &str, config: &str, timeout: Duration) -> anyhow::Result<(child::Running, PathBuf)> {
    let config_path = folder.join(format!("{name}.toml"));
    write_private(&config_path, config)?;
    let socket = folder.join(format!("{name}.sock"));
    let host = ChildSpec::this_binary("run", timeout)?
        .env_remove("PYHOST_LOG")
        // The bench's own placement cache: empty at its first start (cold),
        // filled for the next (warm), and never the user's.
        .env("PYHOST_PLACEMENT_CACHE", folder.join("placement"))
        .arg("--config")
        .arg(&config_path)
        .arg("--control")
        .arg(&socket)
        .spawn(b"")?;
    Ok((host, socket))
}

fn ask(socket: &Path, request: Request) -> anyhow::Result<serde_json::Value> {
    let response = control::call(socket, &request, None)?;
    if !response.ok {
        bail!("the host refused {request:?}: {}", response.error.unwrap_or_default());
    }
    Ok(response.result.unwrap_or_default())
}

/// The host's report once every enabled module runs (an error if one failed).
fn wait_running(socket: &Path, deadline: Instant) -> anyhow::Result<crate::host::Report> {
    let started = Instant::now();
    loop {
        match ask(socket, Request::Status) {
            Ok(status) => {
                let report: crate::host::Report = serde_json::from_value(status).context("the host's status")?;
                if let Some(bad) = report
                    .modules
                    .iter()
                    .find(|m| !matches!(m.state, State::Running | State::Pending | State::Loading | State::Disabled))
                {
                    bail!("module {} is {:?}: {}", bad.name, bad.state, bad.error.as_deref().unwrap_or_default());
                }
                if report.modules.iter().all(|m| matches!(m.state, State::Running | State::Disabled)) {
                    return Ok(report);
                }
            }
            Err(error) if error.downcast_ref::<control::ClientError>().is_none() => return Err(error),
            Err(_) => {}
        }
        if Instant::now() >= deadline {
            bail!("the host did not have its modules running in time");
        }
        // Often enough to time a start of one module (every 10 ms), and
        // never more than 2% of the time so far: a status is not free for
        // the host it watches (it lists every module and walks malloc's
        // heap under its arena locks, 2-3 ms with 500 modules), and every
        // 10 ms it slowed a parallel start of 500 modules by a fifth.
        std::thread::sleep((started.elapsed() / 50).clamp(Duration::from_millis(10), Duration::from_millis(100)));
    }
}

/// Stops the host and waits for it to exit; the seconds that took.
fn stop_host(host: child::Running, socket: &Path) -> anyhow::Result<f64> {
    let stopping = Instant::now();
    let _ = control::call(socket, &Request::Stop, Some(Duration::from_secs(60)));
    let finished = host.wait()?;
    let seconds = stopping.elapsed().as_secs_f64();
    if !finished.status.success() || finished.stderr.contains("Fatal Python error") {
        bail!(
            "the host did not end cleanly ({}); last lines:\n{}",
            finished.status,
            child::last_lines(&finished.stderr, 12)
        );
    }
    Ok(seconds)
}

fn host_run(
    folder: &Path,
    isolation: Isolation,
    count: usize,
    restarts: usize,
    knobs: &HostKnobs,
) -> anyhow::Result<HostFigures> {
    let timeout = Duration::from_secs(900).saturating_add(Duration::from_secs(2).saturating_mul(count as u32));
    let spawned = Instant::now();
    let (host, socket) = spawn_host(folder, "host", &config_text(isolation, "\"all\"", knobs), timeout)?;
    let measured = (|| -> anyhow::Result<(f64, u64, f64)> {
        let report = wait_running(&socket, Instant::now() + timeout)?;
        let start_s = spawned.elapsed().as_secs_f64();
        let rss_kib = report.memory.context("the host's status tells no memory")?.rss_kib;
        let mut times = Vec::new();
        for _ in 0..restarts {
            let started = Instant::now();
            ask(&socket, Request::Restart { name: "m0001".into() })?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        wait_running(&socket, Instant::now() + timeout)?;
        Ok((start_s, rss_kib, median(times)))
    })();
    let stopped = stop_host(host, &socket);
    let (start_s, rss_kib, restart_ms) = measured?;
    Ok(HostFigures { start_s, rss_kib, restart_ms, shutdown_s: stopped? })
}

/// The host's resident memory with no module enabled.
fn host_rss_without_modules(folder: &Path, isolation: Isolation) -> anyhow::Result<u64> {
    let timeout = Duration::from_secs(300);
    let (host, socket) = spawn_host(folder, "empty", &config_text(isolation, "[]", &HostKnobs::default()), timeout)?;
    let rss = wait_running(&socket, Instant::now() + timeout)
        .and_then(|report| Ok(report.memory.context("the host's status tells no memory")?.rss_kib));
    stop_host(host, &socket)?;
    rss
}
