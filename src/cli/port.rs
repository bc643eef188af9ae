//! `pyhost port check` and `pyhost port fix`: the command line of src/port.

use std::path::PathBuf;

use crate::port::{self, CheckOptions, FixOptions, Style, Version, render};

use super::print_stdout;

/// Port Python 2 modules to Python 3: find what breaks where, and rewrite it.
///
/// The scanner reads Python 2 and 3 syntax with fissix (the maintained fork
/// of lib2to3, installed by scripts/fetch-port-tools) in a Python 3 child
/// process: this build's interpreter when it is a 3.x, else one that
/// `pyhost doctor` finds (PYHOST_PORT_PYTHON names another). Nothing is imported.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Check(CheckArgs),
    Fix(FixArgs),
}

#[derive(Debug, clap::Args)]
struct Common {
    /// Module folders and .py files (folders are searched for .py files).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// The Python versions that must work, comma-separated (e.g. 2.7,3.9,3.11,3.13).
    /// Default: every interpreter `pyhost doctor` finds.
    #[arg(long, value_delimiter = ',', value_name = "VERSIONS", value_parser = parse_version)]
    target: Vec<Version>,

    /// Child processes at once. Default: the number of CPUs.
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
}

/// Find what breaks on which target: Python 2 syntax, builtins and modules
/// gone from 3.x, standard-library removals with the version that made them
/// (3.10 collections ABCs; 3.12 imp, distutils, asyncore...; 3.13 cgi,
/// telnetlib...), changed semantics, and decisions a person must make.
///
/// Each finding gives file:line:column, the rule id, its kind (syntax:
/// cannot be imported; removed: a name or module that is gone; semantic:
/// runs but differs; decision: a person must choose), the targets it breaks,
/// the fix, and whether `pyhost port fix` applies it. A statement that parses
/// as neither Python 2 nor 3 is a PARSE-ERROR finding; the rest of the file
/// is still checked.
///
/// Exit status: 0 when nothing breaks a target, 1 when something does, 2 on
/// a usage error or when the tool cannot run.
#[derive(Debug, clap::Args)]
struct CheckArgs {
    #[command(flatten)]
    common: Common,

    /// Output format: text for people, json, or sarif (SARIF 2.1.0 for code
    /// scanning services and editors).
    #[arg(long, value_enum, default_value = "text")]
    format: Format,

    /// Write the format to FILE (the terminal then gets the text report).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
    Sarif,
}

/// Rewrite what can be rewritten: print a unified diff, or with --write
/// change the files in place (atomically, keeping their permissions).
///
/// --style dual (the default) gives code that runs unchanged on 2.7 and 3.x:
/// the smallest change that works on both, with a compatibility import or
/// block only where no one spelling works on both. --style py3 gives
/// Python 3-only code and removes shims 2.7 needed (dual's compatibility
/// blocks, six.iteritems, no-op __future__ imports). Comments and layout are
/// kept; a shadowed builtin is never renamed; running fix twice changes
/// nothing the second time. `decision` findings are never guessed: each is
/// marked with a `# pyhost-port: decision RULE: ...` comment and stays in
/// `pyhost port check`'s output. The findings left are listed on stderr.
///
/// Exit status: 0 when every file was processed, 1 when one could not be,
/// 2 on a usage error or when the tool cannot run.
#[derive(Debug, clap::Args)]
struct FixArgs {
    #[command(flatten)]
    common: Common,

    /// dual: runs on 2.7 and 3.x; py3: Python 3 only.
    #[arg(long, value_enum, default_value = "dual")]
    style: StyleArg,

    /// Rewrite the files in place instead of printing the diff.
    #[arg(long)]
    write: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StyleArg {
    Dual,
    Py3,
}

fn parse_version(text: &str) -> Result<Version, String> {
    text.parse()
}

fn targets(common: &Common) -> Option<Vec<Version>> {
    if common.target.is_empty() { None } else { Some(common.target.clone()) }
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    match args.command {
        Command::Check(args) => check(args),
        Command::Fix(args) => fix(args),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<i32> {
    let options = CheckOptions { targets: targets(&args.common), jobs: args.common.jobs, progress: true };
    let report = port::check(&args.common.paths, &options)?;
    let formatted = match args.format {
        Format::Text => render::text(&report),
        Format::Json => render::json(&report),
        Format::Sarif => render::sarif(&report),
    };
    match &args.output {
        Some(file) => {
            std::fs::write(file, formatted).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
            print_stdout(&render::text(&report))?;
        }
        None => print_stdout(&formatted)?,
    }
    Ok(if report.breaks_any() { 1 } else { 0 })
}

fn fix(args: FixArgs) -> anyhow::Result<i32> {
    let style = match args.style {
        StyleArg::Dual => Style::Dual,
        StyleArg::Py3 => Style::Py3,
    };
    let options = FixOptions { style, targets: targets(&args.common), jobs: args.common.jobs, progress: true };
    let outcome = port::fix(&args.common.paths, &options)?;
    if args.write {
        port::write(&outcome)?;
    } else {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        match out.write_all(&render::diff(&outcome)).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other?,
        }
    }
    eprint!("{}", render::fix_summary(&outcome, args.write));
    Ok(if outcome.files.iter().any(|f| f.error.is_some()) { 1 } else { 0 })
}
