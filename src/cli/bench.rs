//! `pyhost bench`: print the runtime's costs against same-run baselines.

use crate::bench::{self, BenchReport, CALL_TARGET, PARALLEL_TARGET, Settings};

use super::print_stdout;

/// Measure the runtime: call cost against raw C, interpreter start, memory
/// per module, and (3.12+) own-GIL against shared-GIL throughput.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,

    /// Calls per round in the call-cost measurement.
    #[arg(long, default_value_t = Settings::default().calls)]
    calls: usize,

    /// Loop iterations each CPU-bound module runs in the throughput measurement.
    #[arg(long, default_value_t = Settings::default().work)]
    work: u64,
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
        None => out.push_str("  n/a: own-GIL interpreters need Python 3.12 or later\n"),
    }
    out
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let settings = Settings { calls: args.calls, work: args.work, ..Settings::default() };
    let report = bench::run(&settings)?;
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        print_stdout(&text(&report))?;
    }
    Ok(0)
}
