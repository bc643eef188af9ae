//! `pyhost bench notify`: events per second delivered to the notify() of
//! several modules (10 by default), each in its own interpreter on its own
//! notify thread, against the raw per-event baseline measured in the same
//! run.
//!
//! - **baseline**: per module, a thread of raw C (compat/bench_baseline.c)
//!   that, for each event, takes the GIL, calls `pyhost._host_notify`
//!   (mark the module current, decode the payload, call notify(), undo
//!   the mark) and releases the GIL: one acquire, one call, one release per
//!   event, nothing of the host around it;
//! - **pyhost**: per module, a real notify queue (host/notify.rs) holding
//!   the same events and the host's own delivery loop (host/delivery.rs),
//!   which drains it in batches under one GIL hold.
//!
//! Both start with every module's events waiting (a burst, as a map change
//! fanned out to every module makes) and run their threads at once; the
//! figure is the time until every event is delivered. The two alternate
//! round by round and the ratio is the median of the rounds' ratios, so
//! drift in the machine's load hits both alike. The CPU time the
//! delivering threads use per event is measured too (per-thread clocks),
//! and the target is checked on it: on a machine other processes load, the
//! wall time of ten threads on two cores says more about them than about
//! delivery. Every module must have received every event, or the bench fails.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use serde::Serialize;

use crate::host::delivery::{self, BATCH_EVENTS, BATCH_TIME};
use crate::host::notify::{Notice, NotifyQueue};
use crate::host::pyside;
use crate::python::interpreter_info::supported_isolations;
use crate::python::{InitConfig, Interpreter, Isolation, OwnedObj, Python, baseline, threads};

use super::median;

/// At least this many times the baseline's events per second.
pub const NOTIFY_TARGET: f64 = 2.0;

/// Counts its events: the least a notify() does, so the figure is the
/// cost of delivery (as `ping` is for the call figure); order is checked
/// by the tests (tests/hostile/notify.rs).
const MODULE: &str = "\
import pyhost


class NotifyBench(pyhost.Module):
    NOTIFY_TYPES = ['tick']
    seen = 0

    def notify(self, event, payload):
        self.seen += 1
";

#[derive(Debug, Clone)]
pub struct NotifySettings {
    pub modules: usize,
    /// Events each module receives per round.
    pub events: usize,
    pub rounds: usize,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings { modules: 10, events: 10_000, rounds: 9 }
    }
}

/// One isolation's figures.
#[derive(Debug, Serialize)]
pub struct NotifyRun {
    pub isolation: Isolation,
    /// Events per second, all modules together (medians of the rounds).
    pub baseline_per_s: f64,
    pub pyhost_per_s: f64,
    /// pyhost's events per second over the baseline's: the median of the rounds' ratios.
    pub ratio: f64,
    /// CPU time the delivering threads used per event (medians of the rounds).
    pub baseline_cpu_ns: f64,
    pub pyhost_cpu_ns: f64,
    /// The baseline's CPU time per event over pyhost's: what the target is
    /// checked on, since other processes' load moves it far less than the
    /// wall time.
    pub cpu_ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct NotifyFigure {
    pub python: &'static str,
    pub modules: usize,
    pub events_per_module: usize,
    pub rounds: usize,
    pub batch_events: usize,
    pub batch_ms: f64,
    pub target: f64,
    pub runs: Vec<NotifyRun>,
}

impl NotifyFigure {
    pub fn meets_target(&self) -> bool {
        self.runs.iter().all(|r| r.cpu_ratio >= self.target)
    }

    pub fn text(&self) -> String {
        let mut out = format!(
            "notify throughput: {} modules, {} events each waiting, every event delivered (medians of {} rounds)\n",
            self.modules, self.events_per_module, self.rounds
        );
        for run in &self.runs {
            let verdict = if run.cpu_ratio >= self.target { "meets" } else { "MISSES" };
            out.push_str(&format!(
                "  {:<8} raw C, one GIL hold per event    {:>9.0} events/s {:>7.0} CPU ns/event\n\
                 \x20          pyhost, batches of <= {} or {} ms {:>9.0} events/s {:>7.0} CPU ns/event\n\
                 \x20          {:.2}x the events per second, {:.2}x less CPU per event \
                 ({verdict} the target of >= {}x)\n",
                run.isolation.name(),
                run.baseline_per_s,
                run.baseline_cpu_ns,
                self.batch_events,
                self.batch_ms,
                run.pyhost_per_s,
                run.pyhost_cpu_ns,
                run.ratio,
                run.cpu_ratio,
                self.target
            ));
        }
        out
    }
}

/// One loaded module: its interpreter, instance and `pyhost._host_notify`.
struct Listener {
    interpreter: Interpreter,
    instance: OwnedObj,
    one_event: OwnedObj,
}

fn listener(python: &Python, isolation: Isolation, dir: &Path) -> anyhow::Result<Listener> {
    let interpreter = python.new_interpreter(isolation)?;
    let (instance, one_event) = {
        let gil = interpreter.gil()?;
        pyside::bootstrap(&gil, Some("notify_bench"), &[])?;
        let (instance, _) =
            pyside::load(&gil, "notify_bench", &dir.join("notify_bench/module.py"), &serde_json::json!({}))?;
        (instance, gil.import("pyhost")?.getattr("_host_notify")?.into_owned())
    };
    Ok(Listener { interpreter, instance, one_event })
}

/// CPU time this thread has used, in seconds.
fn thread_cpu_s() -> f64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec, which `now` is.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9
}

/// What one round took: wall seconds until the last listener was done,
/// and CPU seconds its threads used in all.
struct Took {
    wall_s: f64,
    cpu_s: f64,
}

/// Runs `deliver` for each listener on a thread of its own, all released
/// at once.
fn at_once(
    listeners: &[Listener],
    deliver: impl Fn(usize, &Listener) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<Took> {
    let go = Barrier::new(listeners.len() + 1);
    thread::scope(|s| {
        let handles: Vec<_> = listeners
            .iter()
            .enumerate()
            .map(|(i, listener)| {
                let (go, deliver) = (&go, &deliver);
                threads::builder(format!("bench:notify:{i}"))
                    .spawn_scoped(s, move || {
                        go.wait();
                        let cpu = thread_cpu_s();
                        deliver(i, listener).map(|()| thread_cpu_s() - cpu)
                    })
                    .expect("spawn a bench thread")
            })
            .collect();
        go.wait();
        let started = Instant::now();
        let mut cpu_s = 0.0;
        for handle in handles {
            cpu_s += handle.join().expect("bench thread")?;
        }
        Ok(Took { wall_s: started.elapsed().as_secs_f64(), cpu_s })
    })
}

fn raw_round(listeners: &[Listener], events: &[(String, String)]) -> anyhow::Result<Took> {
    at_once(listeners, |_, l| Ok(baseline::raw_notify(&l.one_event, &l.instance, events).map(drop)?))
}

fn pyhost_round(listeners: &[Listener], events: &[(String, String)]) -> anyhow::Result<Took> {
    // Filled before the clock starts: the events wait, as after a burst.
    let queues: Vec<NotifyQueue> = listeners
        .iter()
        .map(|_| {
            let queue = NotifyQueue::new(events.len(), Arc::new(AtomicU64::new(0)));
            for (event, payload) in events {
                queue.offer(Notice { event: event.clone(), payload: payload.clone() });
            }
            queue.close_when_drained();
            queue
        })
        .collect();
    at_once(listeners, |i, l| Ok(delivery::run(&queues[i], &l.interpreter, &l.instance)?))
}

/// How many events the module's notify() received.
fn seen(listener: &Listener) -> anyhow::Result<i64> {
    let gil = listener.interpreter.gil()?;
    Ok(listener.instance.bind(&gil)?.getattr("seen")?.to_i64()?)
}

/// The events of one round: `tick` with `{"n": i}`, as the host writes them.
fn events(count: usize) -> Vec<(String, String)> {
    (0..count).map(|n| ("tick".to_string(), serde_json::json!({ "n": n }).to_string())).collect()
}

fn measure(python: &Python, dir: &Path, isolation: Isolation, settings: &NotifySettings) -> anyhow::Result<NotifyRun> {
    let listeners =
        (0..settings.modules).map(|_| listener(python, isolation, dir)).collect::<anyhow::Result<Vec<_>>>()?;
    let round = events(settings.events);
    let total = (settings.modules * settings.events) as f64;
    let (mut raw, mut ours, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut raw_cpu, mut our_cpu, mut cpu_ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..settings.rounds {
        let (b, p) = (raw_round(&listeners, &round)?, pyhost_round(&listeners, &round)?);
        raw.push(total / b.wall_s);
        ours.push(total / p.wall_s);
        ratios.push(b.wall_s / p.wall_s);
        raw_cpu.push(b.cpu_s / total * 1e9);
        our_cpu.push(p.cpu_s / total * 1e9);
        cpu_ratios.push(b.cpu_s / p.cpu_s);
    }
    // Every event reached every module, once per round and path.
    let expected = (2 * settings.rounds * settings.events) as i64;
    for listener in &listeners {
        let count = seen(listener)?;
        if count != expected {
            bail!("a module's notify() saw {count} of {expected} events: the bench is broken");
        }
    }
    for listener in listeners {
        let Listener { interpreter, instance, one_event } = listener;
        drop((instance, one_event));
        interpreter.end(Duration::from_secs(1))?;
    }
    Ok(NotifyRun {
        isolation,
        baseline_per_s: median(raw),
        pyhost_per_s: median(ours),
        ratio: median(ratios),
        baseline_cpu_ns: median(raw_cpu),
        pyhost_cpu_ns: median(our_cpu),
        cpu_ratio: median(cpu_ratios),
    })
}

/// The figure, in a Python already initialized (for the scale section).
pub fn notify_figure(python: &Python, settings: &NotifySettings) -> anyhow::Result<NotifyFigure> {
    ensure!(settings.modules > 0 && settings.events > 0 && settings.rounds > 0, "nothing to measure");
    let dir = tempfile::Builder::new().prefix("pyhost-bench-notify-").tempdir()?;
    std::fs::create_dir_all(dir.path().join("notify_bench"))?;
    std::fs::write(dir.path().join("notify_bench/module.py"), MODULE)?;
    let runs = supported_isolations()
        .into_iter()
        .filter(|i| *i != Isolation::Main)
        .map(|isolation| measure(python, dir.path(), isolation, settings))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(NotifyFigure {
        python: crate::python::info().version.as_str(),
        modules: settings.modules,
        events_per_module: settings.events,
        rounds: settings.rounds,
        batch_events: BATCH_EVENTS,
        batch_ms: BATCH_TIME.as_secs_f64() * 1e3,
        target: NOTIFY_TARGET,
        runs,
    })
}

/// `pyhost bench notify`: initializes Python, measures, finalizes.
pub fn run(settings: &NotifySettings) -> anyhow::Result<NotifyFigure> {
    crate::python::set_handler(|_| Ok("null".into()));
    let python = Python::initialize(&InitConfig::default())?;
    let figure = notify_figure(&python, settings)?;
    python.finalize(Duration::from_secs(1))?;
    Ok(figure)
}
