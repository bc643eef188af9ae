//! `pyhost bench`: print the runtime's costs against same-run baselines.

use crate::bench::notify::NotifySettings;
use crate::bench::scale::{self, ScaleReport, ScaleSettings};
use crate::bench::soak::{SoakReport, SoakSettings};
use crate::bench::{self, BenchReport, CALL_TARGET, PARALLEL_TARGET, Settings};
use crate::python::Isolation;

use super::print_stdout;

/// Measure the runtime: call cost against raw C, interpreter start, memory
/// per module, and (3.12+) own-GIL against shared-GIL throughput.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,

    /// Calls per round in the call-cost measurement.
    #[arg(long, default_value_t = Settings::default().calls)]
    calls: usize,

    /// Loop iterations each CPU-bound module runs in the throughput measurement.
    #[arg(long, default_value_t = Settings::default().work)]
    work: u64,

    /// Also measure the two CPU-bound modules under interpreter P (a path, a
    /// command or a version), in a child pyhost, e.g. on 3.13t: --against 3.13.
    #[arg(long, value_name = "P")]
    against: Option<String>,

    /// Only the throughput figures, as one JSON line (what --against runs).
    #[arg(long, hide = true)]
    parallel_only: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Soak(SoakArgs),
    Notify(NotifyArgs),
    Scale(ScaleArgs),
}

/// Events per second delivered to the notify() of several modules, each in
/// its own interpreter, against raw C taking the GIL once per event,
/// measured in the same run (target: at least 2x).
#[derive(Debug, clap::Args)]
struct NotifyArgs {
    /// Modules, each with its own interpreter and notify thread.
    #[arg(long, default_value_t = NotifySettings::default().modules)]
    modules: usize,

    /// Events each module receives per round.
    #[arg(long, default_value_t = NotifySettings::default().events)]
    events: usize,

    /// Rounds of each (baseline and pyhost alternate).
    #[arg(long, default_value_t = NotifySettings::default().rounds)]
    rounds: usize,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Start, memory, shutdown and restart of N modules in a real host, each set
/// against N bare interpreters that import the same module, in the same run.
#[derive(Debug, clap::Args)]
struct ScaleArgs {
    /// Module counts to measure, comma-separated [default: 1,50].
    #[arg(long, value_delimiter = ',')]
    modules: Vec<usize>,

    /// Measure 1, 50 and 500 modules (minutes on a loaded machine).
    #[arg(long, conflicts_with = "modules")]
    full: bool,

    /// `ctl restart` cycles per count (their median is reported).
    #[arg(long, default_value_t = ScaleSettings::default().restarts)]
    restarts: usize,

    /// The modules' isolation [default: own-gil on 3.12+, else shared].
    #[arg(long, value_enum)]
    isolation: Option<Isolation>,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Restart a module over and over in a real host, and set the host's memory
/// growth per cycle against plain CPython's, measured in the same run; file
/// descriptors and threads are counted before and after.
#[derive(Debug, clap::Args)]
struct SoakArgs {
    /// `ctl restart` cycles (and cycles of each baseline).
    #[arg(long, default_value_t = SoakSettings::default().restarts)]
    cycles: usize,

    /// `ctl disable` + `ctl enable` cycles.
    #[arg(long, default_value_t = SoakSettings::default().toggles)]
    toggles: usize,

    /// Cycles between two samples of the memory.
    #[arg(long, default_value_t = SoakSettings::default().every)]
    every: usize,

    /// Only this isolation (repeatable) [default: every one this build supports].
    #[arg(long, value_enum)]
    isolation: Vec<Isolation>,

    /// Print JSON (every sample included) instead of text.
    #[arg(long)]
    json: bool,
}

fn verdict(ok: bool) -> &'static str {
    if ok { "meets the target" } else { "MISSES the target" }
}

fn text(report: &BenchReport) -> String {
    let mut out = format!("pyhost bench: Python {}, {} CPUs\n\n", report.python, report.cpus);
    let call = &report.call;
    out.push_str(&format!(
        "host-to-module call from a non-Python thread (medians of rounds of {} calls)\n\
         \x20 raw C-API baseline   {:>8.1} ns/call\n\
         \x20 pyhost Gil + call    {:>8.1} ns/call   {:.2}x the baseline ({} of <= {CALL_TARGET}x)\n\n",
        call.calls,
        call.baseline_ns,
        call.pyhost_ns,
        call.ratio,
        verdict(call.ratio <= CALL_TARGET)
    ));
    out.push_str("interpreter start and end (median)\n");
    for s in &report.startup {
        out.push_str(&format!("  {:<8} start {:>7.2} ms   end {:>7.2} ms\n", s.isolation.name(), s.start_ms, s.end_ms));
    }
    out.push_str("\nresident memory per loaded module\n");
    for m in &report.memory {
        out.push_str(&format!("  {:<8} {:>7.2} MiB   ({} modules)\n", m.isolation.name(), m.mib_per_module, m.modules));
    }
    out.push_str("\ntwo CPU-bound modules at once (median of 5)\n");
    match &report.parallel {
        Some(p) => out.push_str(&format!(
            "  one alone {:>7.3} s\n  shared    {:>7.3} s\n  own-gil   {:>7.3} s   {:.2}x the throughput ({} of >= {PARALLEL_TARGET}x)\n",
            p.alone_s,
            p.shared_s,
            p.own_gil_s,
            p.speedup,
            verdict(p.speedup >= PARALLEL_TARGET)
        )),
        None => out.push_str("  n/a: this interpreter has no own-gil isolation (see pyhost info)\n"),
    }
    if report.free_threaded {
        out.push_str("  (free-threaded build: neither shared nor own-gil interpreters have a GIL here)\n");
    }
    if let Some(against) = &report.against {
        let other = &against.other;
        let kind = if other.free_threaded { "free-threaded" } else { "with a GIL" };
        out.push_str(&format!(
            "\nthe same two modules under Python {} ({kind}, {}), in a child pyhost\n",
            other.python, other.executable
        ));
        match (&other.parallel, against.speedup) {
            (Some(p), Some(speedup)) => out.push_str(&format!(
                "  one alone {:>7.3} s\n  shared    {:>7.3} s\n  own-gil   {:>7.3} s\n  \
                 this interpreter's own-gil pair: {speedup:.2}x the throughput of that one's\n",
                p.alone_s, p.shared_s, p.own_gil_s
            )),
            _ => out.push_str("  n/a: own-GIL interpreters need Python 3.12 or later on both sides\n"),
        }
    }
    out
}

fn soak_text(report: &SoakReport) -> String {
    let mut out = format!(
        "pyhost bench soak: Python {}: growth per cycle of the process's resident memory (RSS) and of\n\
         malloc's heap in use, fitted to samples every {} cycles from cycle {} (restarts) and {} (disable + enable) on;\n\
         in brackets: the difference from plain CPython\n",
        report.python, report.every, report.fitted_from.restart, report.fitted_from.toggle
    );
    let kib = |value: f64, base: Option<f64>| match base {
        Some(base) => format!("{value:>8.1} ({:+7.1})", value - base),
        None => format!("{value:>8.1}          "),
    };
    for run in &report.runs {
        out.push_str(&format!(
            "\n{:<48} {:>6} {:>18} {:>18}\n",
            run.isolation.name(),
            "cycles",
            "RSS KiB/cycle",
            "heap KiB/cycle"
        ));
        let rows = [
            ("plain CPython (C API, a stand-in for pyhost)", &run.plain),
            ("pyhost's package, without its runtime", &run.package),
            ("pyhost run: ctl restart", &run.restart),
            ("pyhost run: ctl disable + enable", &run.toggle),
        ];
        for (index, (what, phase)) in rows.iter().enumerate() {
            let plain = (index > 0).then_some(&run.plain);
            let heap = match phase.heap_kib_per_cycle {
                Some(heap) => kib(heap, plain.and_then(|p| p.heap_kib_per_cycle)),
                None => format!("{:>18}", "-"),
            };
            out.push_str(&format!(
                "  {what:<46} {:>6} {} {heap}\n",
                phase.cycles,
                kib(phase.kib_per_cycle, plain.map(|p| p.kib_per_cycle))
            ));
        }
        for (what, phase) in [("ctl restart", &run.restart), ("ctl disable + enable", &run.toggle)] {
            let mark = if phase.before == phase.after { "" } else { "   GREW" };
            out.push_str(&format!(
                "  {what}: file descriptors {} -> {}, threads {} -> {}{mark}\n",
                phase.before.fds, phase.after.fds, phase.before.threads, phase.after.threads
            ));
        }
        out.push_str(&format!("  remote() calls the restarted module answered: {}\n", run.remote_calls));
    }
    out
}

fn soak(args: SoakArgs) -> anyhow::Result<i32> {
    let mut settings =
        SoakSettings { restarts: args.cycles, toggles: args.toggles, every: args.every, ..SoakSettings::default() };
    if !args.isolation.is_empty() {
        settings.isolations = args.isolation;
    }
    let report = bench::soak::run(&settings, &mut |step| eprintln!("pyhost bench soak: {step}"))?;
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        print_stdout(&soak_text(&report))?;
    }
    // Descriptors or threads that grew are a leak of the host's own.
    let grew = report.runs.iter().any(|r| r.restart.before != r.restart.after || r.toggle.before != r.toggle.after);
    Ok(if grew { 1 } else { 0 })
}

fn notify(args: NotifyArgs) -> anyhow::Result<i32> {
    let settings = NotifySettings { modules: args.modules, events: args.events, rounds: args.rounds };
    let figure = bench::notify::run(&settings)?;
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&figure)?))?;
    } else {
        print_stdout(&figure.text())?;
    }
    Ok(0)
}

/// One start figure, in seconds, set against the start target.
fn start_row(label: &str, figure: &scale::Figure, note: &str) -> String {
    format!(
        "  {label:<22}  {:>9.3} s  {:>9.3} s  {:>6.2}x  ({} of <= {}x){note}\n",
        figure.pyhost,
        figure.baseline,
        figure.ratio,
        verdict(figure.ratio <= scale::START_TARGET),
        scale::START_TARGET
    )
}

fn scale_text(report: &ScaleReport) -> String {
    let load = |l: Option<f64>| l.map_or("?".to_string(), |l| format!("{l:.1}"));
    let mut out = format!(
        "pyhost bench scale: Python {}, {} modules, {} CPUs, load average {} before, {} after\n\
         each figure: pyhost, the baseline (bare interpreters importing the same module), their ratio\n",
        report.python,
        report.isolation,
        report.cpus,
        load(report.load_before),
        load(report.load_after)
    );
    for run in &report.runs {
        let n = run.modules;
        out.push_str(&format!("\n{n} module(s)\n"));
        let start = &run.start_s;
        out.push_str(&start_row("start (to all running)", start, "  cold: every module probed"));
        out.push_str(&start_row(
            "start, verdicts kept",
            &run.start_warm_s,
            "  warm: the probe's verdicts from the start before",
        ));
        out.push_str(&format!(
            "    the placement probe alone {:>7.3} s  ({:.0}% of pyhost's start)\n",
            run.probe_s,
            100.0 * run.probe_s / start.pyhost
        ));
        out.push_str(&start_row("start, probe = false", &run.start_without_probe_s, ""));
        match &run.serial_start {
            Some(serial) => out.push_str(&format!(
                "    own-gil modules started in parallel {:.3} s against one by one {:.3} s (probe = false): {:.2}x ({} of <= {}x)\n",
                serial.pyhost,
                serial.baseline,
                serial.ratio,
                verdict(serial.ratio <= scale::PARALLEL_TARGET),
                scale::PARALLEL_TARGET
            )),
            None => out.push_str("    started one by one: parallel starts need own-gil interpreters (3.12+)\n"),
        }
        if let Some(bare) = &run.bare_parallel_start {
            out.push_str(&format!(
                "    bare own-gil interpreters made on {} threads at once {:.3} s against one by one {:.3} s: {:.2}x (CPython alone, the same run)\n",
                bare.jobs, bare.parallel_s, bare.serial_s, bare.ratio
            ));
        }
        let rss = &run.rss_mib_per_module;
        out.push_str(&format!(
            "  memory per module       {:>7.2} MiB  {:>7.2} MiB  {:>6.2}x  ({} of <= {}x)\n",
            rss.pyhost,
            rss.baseline,
            rss.ratio,
            verdict(rss.ratio <= scale::MEMORY_TARGET),
            scale::MEMORY_TARGET
        ));
        let stop = &run.shutdown_s;
        let stop_target = if n >= scale::SHUTDOWN_TARGET_MODULES {
            format!(
                "({} of <= {} s for {})",
                verdict(stop.pyhost <= scale::SHUTDOWN_TARGET_S),
                scale::SHUTDOWN_TARGET_S,
                scale::SHUTDOWN_TARGET_MODULES
            )
        } else {
            format!("(target: <= {} s for {} modules)", scale::SHUTDOWN_TARGET_S, scale::SHUTDOWN_TARGET_MODULES)
        };
        out.push_str(&format!(
            "  shutdown                {:>9.3} s  {:>9.3} s  {:>6.2}x  {stop_target}\n",
            stop.pyhost, stop.baseline, stop.ratio
        ));
        let restart = &run.restart_ms;
        if restart.pyhost.is_nan() && restart.baseline.is_nan() {
            out.push_str("  restart                 not measured (--restarts 0)\n");
        } else {
            out.push_str(&format!(
                "  restart (median)        {:>8.1} ms  {:>8.1} ms  {:>6.2}x  (no target)\n",
                restart.pyhost, restart.baseline, restart.ratio
            ));
        }
    }
    out.push('\n');
    out.push_str(&report.notify.text());
    out
}

fn scale_run(args: ScaleArgs) -> anyhow::Result<i32> {
    let counts = match (args.full, args.modules.is_empty()) {
        (true, _) => scale::FULL_COUNTS.to_vec(),
        (false, true) => scale::DEFAULT_COUNTS.to_vec(),
        (false, false) => args.modules,
    };
    let settings = ScaleSettings { counts, restarts: args.restarts, isolation: args.isolation };
    let report = scale::run(&settings, &mut |step| eprintln!("pyhost bench scale: {step}"))?;
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        print_stdout(&scale_text(&report))?;
    }
    Ok(0)
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    match args.command {
        Some(Command::Soak(soak_args)) => return soak(soak_args),
        Some(Command::Notify(notify_args)) => return notify(notify_args),
        Some(Command::Scale(scale_args)) => return scale_run(scale_args),
        None => {}
    }
    let settings = Settings { calls: args.calls, work: args.work, against: args.against, ..Settings::default() };
    if args.parallel_only {
        print_stdout(&format!("{}\n", serde_json::to_string(&bench::run_parallel_only(&settings)?)?))?;
        return Ok(0);
    }
    let report = bench::run(&settings)?;
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        print_stdout(&text(&report))?;
    }
    Ok(0)
}
