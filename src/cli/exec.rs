//! `pyhost exec`: run code in a fresh interpreter, exit with its status.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::python::interpreter_info::{check_supported, default_isolation};
use crate::python::{Error, InitConfig, Isolation, Python};

/// Run Python code in a fresh interpreter and exit with the code's status.
///
/// Like `python -c CODE` or `python FILE`: sys.exit(n) exits n, an uncaught
/// exception prints its traceback and exits 1. Unlike python, the code runs in
/// a sub-interpreter by default, so it exercises what a hosted module would.
#[derive(Debug, clap::Args)]
#[command(override_usage = "pyhost exec [OPTIONS] (-c CODE | FILE) [ARGS]...")]
pub struct Args {
    /// Where the code runs: own-gil (3.12+), shared (a classic sub-interpreter) or main.
    /// Default: own-gil where supported, else shared.
    #[arg(long, value_enum)]
    isolation: Option<Isolation>,

    /// The program, as a string.
    #[arg(short = 'c', value_name = "CODE")]
    code: Option<String>,

    /// FILE (`-` for stdin) unless -c is given, then the program's arguments (sys.argv[1:]).
    #[arg(value_name = "ARGS", trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<OsString>,

    /// Seconds to wait at exit for non-daemon threads the code started;
    /// threads still running then are reported and left behind.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    shutdown_timeout: f64,
}

/// The program to run: its source, the name tracebacks show, and sys.argv.
struct Program {
    source: Vec<u8>,
    filename: PathBuf,
    file: Option<PathBuf>,
    argv: Vec<OsString>,
}

fn program(args: &Args) -> anyhow::Result<Program> {
    if let Some(code) = &args.code {
        let mut argv = vec![OsString::from("-c")];
        argv.extend(args.args.iter().cloned());
        return Ok(Program { source: code.clone().into_bytes(), filename: "<string>".into(), file: None, argv });
    }
    let Some(first) = args.args.first() else {
        anyhow::bail!("nothing to run: give -c CODE or a FILE (see `pyhost exec --help`)");
    };
    let path = PathBuf::from(first);
    let source = if path == Path::new("-") {
        let mut source = Vec::new();
        std::io::stdin().read_to_end(&mut source).context("cannot read the program from stdin")?;
        source
    } else {
        std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?
    };
    let is_stdin = path == Path::new("-");
    Ok(Program {
        source,
        filename: if is_stdin { "<stdin>".into() } else { path.clone() },
        file: (!is_stdin).then_some(path),
        argv: args.args.clone(),
    })
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let isolation = args.isolation.unwrap_or_else(default_isolation);
    check_supported(isolation)?;
    let shutdown_timeout = crate::host::config::seconds(args.shutdown_timeout, "--shutdown-timeout")?;
    let program = program(&args)?;
    let python = Python::initialize(&InitConfig { argv: program.argv.clone(), ..InitConfig::default() })?;
    let interpreter = python.new_interpreter(isolation)?;
    let outcome = {
        let gil = interpreter.gil()?;
        gil.set_argv(&program.argv)?;
        if let Some(file) = &program.file {
            gil.set_global("__file__", gil.path(file)?)?;
        }
        let outcome = gil.exec(&program.source, &program.filename);
        gil.flush_std_streams();
        outcome
    };
    let status = match outcome {
        Ok(()) => 0,
        Err(Error::Python(exception)) => match &exception.exit {
            Some(exit) => {
                if let Some(message) = &exit.message {
                    eprintln!("{message}");
                }
                exit.code
            }
            None => {
                eprint!("{}", exception.traceback);
                1
            }
        },
        Err(other) => return Err(other.into()),
    };
    drop(interpreter);
    python.finalize(shutdown_timeout)?;
    Ok(status)
}
