//! `pyhost matrix` and `pyhost matrix merge`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;

use crate::matrix::manifest::State;
use crate::matrix::render::{self, Format};
use crate::matrix::{self, Options};

use super::print_stdout;

/// Every module under every interpreter, in one grid.
///
/// Readies each interpreter (the required ones and every extra `pyhost doctor`
/// finds, or those named with --python: a path, a command or a version such
/// as 3.11) by compiling its compat layer once (cached), runs each module's
/// self_test() under each in a child process with a timeout, and judges every
/// cell against the module's manifest.toml. Exits 0 when every cell is what
/// its manifest expects, 1 otherwise, 130 when interrupted.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    merge: Option<Merge>,

    /// An interpreter (path, command or version); repeatable. Default: the required
    /// 2.7, 3.9, 3.11, 3.13 and 3.13t (a missing one fails) and every extra version doctor finds.
    #[arg(long = "python", value_name = "P")]
    pythons: Vec<String>,

    /// A folder of modules; repeatable.
    #[arg(long = "modules", value_name = "DIR")]
    module_dirs: Vec<PathBuf>,

    #[command(flatten)]
    output: OutputArgs,

    /// Cells run at once. Default: the number of CPUs.
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,

    /// Run only the K-th of N stable subsets of the cells (for a CI job matrix);
    /// merge the JSON results with `pyhost matrix merge`.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    shard: Option<(usize, usize)>,

    /// An earlier JSON result: list the regressions and fixes since.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,

    /// Seconds a cell may take before it is a hang (a manifest may set its own).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    timeout: f64,

    /// The modules are a copy that `pyhost port fix` rewrote: judge each cell by
    /// the manifest's [ported.expect] (else its [expect]).
    #[arg(long)]
    ported: bool,
}

#[derive(Debug, clap::Args)]
struct OutputArgs {
    /// Output format; with --output, the file gets it and the terminal the grid.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,

    /// Write the result to this file.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Merge {
    /// Merge JSON results (of shards, say) into one.
    Merge {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        output: OutputArgs,
    },
}

fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let (k, n) = text.split_once('/').ok_or("use K/N, e.g. 2/4")?;
    let (k, n): (usize, usize) =
        (k.parse().map_err(|_| "K must be a number")?, n.parse().map_err(|_| "N must be a number")?);
    if n == 0 || k == 0 || k > n {
        return Err(format!("{k}/{n}: K must be between 1 and N"));
    }
    Ok((k, n))
}

fn emit(result: &matrix::MatrixResult, output: &OutputArgs) -> anyhow::Result<()> {
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout());
    match &output.output {
        Some(path) => {
            std::fs::write(path, render::render(result, output.format, false))
                .with_context(|| format!("cannot write {}", path.display()))?;
            print_stdout(&render::table(result, color))?;
        }
        None => print_stdout(&render::render(result, output.format, color && output.format == Format::Table))?,
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    if let Some(Merge::Merge { files, output }) = args.merge {
        let results = files.iter().map(|f| matrix::load(f)).collect::<anyhow::Result<Vec<_>>>()?;
        let merged = matrix::merge(results);
        emit(&merged, &output)?;
        return Ok(if merged.all_expected() { 0 } else { 1 });
    }
    if args.module_dirs.is_empty() {
        anyhow::bail!(
            "give the modules to test with --modules DIR (repeatable), e.g. --modules py2-fixtures --modules py3-fixtures"
        );
    }
    let baseline = args.baseline.as_ref().map(|path| matrix::load(path)).transpose()?;
    // The cells' children run in process groups of their own, so the
    // terminal's Ctrl-C does not reach them, and a matrix that just died
    // would leave their children running. SIGINT and SIGTERM only set the
    // flag: the running groups are killed and the grid is not written.
    let cancel = crate::host::signals::cancel_flag()?;
    let options = Options {
        pythons: args.pythons,
        module_dirs: args.module_dirs,
        jobs: args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)),
        shard: args.shard,
        timeout: crate::host::config::seconds(args.timeout, "--timeout")?,
        progress: true,
        state: if args.ported { State::Ported } else { State::Original },
        cancel: Some(Arc::clone(&cancel)),
    };
    let result = matrix::run(&options)?;
    if cancel.load(Ordering::SeqCst) {
        eprintln!("pyhost: matrix interrupted: the running self-tests were ended, and no result was written");
        return Ok(130);
    }
    emit(&result, &args.output)?;
    if let Some(baseline) = baseline {
        eprint!("{}", render::changes(&matrix::compare(&baseline, &result)));
    }
    Ok(if result.all_expected() { 0 } else { 1 })
}
