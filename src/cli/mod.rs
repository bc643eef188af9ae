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
    about = "Embed CPython (2.7 or 3.x, chosen at build time) and run code in isolated interpreters",
    long_about = "Embed CPython (2.7 or 3.x, chosen at build time) and run code in isolated interpreters.\n\n\
                  The interpreter is chosen when pyhost is built: PYHOST_PYTHON (a command or a path), \
                  else PYO3_PYTHON, else python3. `pyhost info` tells which one this binary embeds."
)]
struct Cli {
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
}

/// Runs the command line and returns the process exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
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
