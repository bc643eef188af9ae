//! The command line. Each subcommand parses, calls the runtime, prints.

mod bench;
mod ctl;
mod doctor;
mod exec;
mod info;
mod matrix;
mod port;
mod run;
mod selftest;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Exit status for errors of pyhost itself (bad arguments, unreadable
/// files, an interpreter that cannot start), as Python uses 2 for usage.
pub const EXIT_HOST_ERROR: i32 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "pyhost",
    version,
    about = "Embed CPython (2.7 or 3.x, chosen when pyhost starts) and run code in isolated interpreters",
    long_about = "Embed CPython (2.7 or 3.x, chosen when pyhost starts) and run code in isolated interpreters.\n\n\
                  The interpreter is, first found: --python P, PYHOST_PYTHON, the one chosen when pyhost was \
                  built (PYHOST_PYTHON at cargo build, else python3). pyhost compiles its small compat layer \
                  for each interpreter once (cached in ~/.cache/pyhost/compat); `pyhost info` tells which \
                  interpreter runs and where it was loaded from."
)]
struct Cli {
    /// The Python to run: a path, a command on PATH, or a version such as 3.12
    /// (python3.12 on PATH). Default: PYHOST_PYTHON, else the build's default.
    #[arg(long, value_name = "P")]
    python: Option<String>,

    /// More log output: -v for progress, -vv for debugging. PYHOST_LOG (e.g. `debug`) overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Info(info::Args),
    Exec(exec::Args),
    Run(run::Args),
    Ctl(ctl::Args),
    Bench(bench::Args),
    Selftest(selftest::Args),
    Matrix(matrix::Args),
    Doctor(doctor::Args),
    Port(port::Args),
    /// Internal: the placement probe's child process (see host/placement.rs).
    #[command(name = "__probe", hide = true)]
    Probe,
    /// Internal: one module's self-test in a child process (see matrix/selftest.rs).
    #[command(name = "__selftest-one", hide = true)]
    SelftestOne,
    /// Internal: the baseline of `pyhost bench soak` in a child process (see bench/soak.rs).
    #[command(name = "__soak-baseline", hide = true)]
    SoakBaseline,
    /// Internal: the baseline of `pyhost bench scale` in a child process (see bench/scale.rs).
    #[command(name = "__scale-baseline", hide = true)]
    ScaleBaseline,
}

/// Runs the command line and returns the process exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    if let Err(error) = choose_python(cli.python, &cli.command) {
        eprintln!("pyhost: error: {error}");
        return EXIT_HOST_ERROR;
    }
    let result = match cli.command {
        Command::Run(args) => run::run(args, cli.verbose), // its config may set the level
        command => {
            init_logging(cli.verbose, "warn");
            match command {
                Command::Info(args) => info::run(args),
                Command::Exec(args) => exec::run(args),
                Command::Ctl(args) => ctl::run(args),
                Command::Bench(args) => bench::run(args),
                Command::Selftest(args) => selftest::run(args),
                Command::Matrix(args) => matrix::run(args),
                Command::Doctor(args) => doctor::run(args),
                Command::Port(args) => port::run(args),
                Command::SelftestOne => crate::matrix::selftest::run_child_side().map(|()| 0),
                Command::Probe => crate::host::placement::run_probe_child().map(|()| 0),
                Command::SoakBaseline => crate::bench::soak::run_baseline_child().map(|()| 0),
                Command::ScaleBaseline => crate::bench::scale::run_baseline_child().map(|()| 0),
                Command::Run(_) => unreachable!("handled above"),
            }
        }
    };
    match result {
        Ok(status) => status,
        Err(error) => {
            eprintln!("pyhost: error: {error:#}");
            EXIT_HOST_ERROR
        }
    }
}

/// Sets this process's interpreter, and loads it now for the commands that
/// run Python in this process, so that a missing compiler, header or
/// libpython is one clear error before anything starts.
fn choose_python(flag: Option<String>, command: &Command) -> Result<(), crate::python::LoadError> {
    crate::python::choose(crate::python::Choice::new(flag))?;
    let runs_python = match command {
        Command::Info(_)
        | Command::Exec(_)
        | Command::Run(_)
        | Command::Bench(_)
        | Command::Probe
        | Command::SelftestOne
        | Command::SoakBaseline
        | Command::ScaleBaseline => true,
        // The selftest's cells, the matrix and port's checks run in children or
        // other interpreters; ctl talks to a running host; doctor only probes.
        Command::Selftest(_) | Command::Matrix(_) | Command::Doctor(_) | Command::Port(_) | Command::Ctl(_) => false,
    };
    if runs_python {
        crate::python::load()?;
    }
    Ok(())
}

/// Writes to stdout; a reader that went away (`pyhost info | head -1`) is
/// not an error.
pub(crate) fn print_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Logs go to stderr. -v raises the level to info, -vv to debug; PYHOST_LOG
/// (an EnvFilter, e.g. `debug`) overrides both.
pub(crate) fn init_logging(verbose: u8, default: &str) {
    let default = match verbose {
        0 => default,
        1 if default != "debug" => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("PYHOST_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .init();
}
