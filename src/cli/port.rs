//! `pyhost port check` and `pyhost port fix`: the command line of src/port.

use std::path::PathBuf;

use crate::port::verify::{self, Interpreters, VerifyOptions};
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
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
struct Common {
    /// Module folders, .py files and C sources (folders are searched for .py, .c, .h, .cc, .cpp files).
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

    #[command(flatten)]
    build: BuildArgs,
}

/// `port check --build`: the C files compiled against each target's headers.
#[derive(Debug, clap::Args)]
struct BuildArgs {
    /// Compile each PATH (C files) against every target interpreter's headers
    /// with -Werror=implicit-function-declaration, -Werror=int-conversion and
    /// -Werror=incompatible-pointer-types, link it into a shared object, and
    /// check that the target's libpython exports every Py* symbol it needs.
    /// Prints a pass / build-error grid, the first errors below it. Exit
    /// status: 0 when every cell passes, 1 otherwise.
    #[arg(long)]
    build: bool,

    /// With --build: put pyhost's compat header folder on the include path
    /// (#include <pyhost/legacy_compat.h>; `pyhost info --json` names it).
    #[arg(long, requires = "build")]
    compat: bool,

    /// With --build: define a macro for every compile, as the extension's own
    /// build does (-D PYHOST_PYSTRING_IS_BYTES, -D HAVE_CONFIG_H=1); repeatable.
    #[arg(short = 'D', long = "define", value_name = "NAME[=VALUE]", requires = "build")]
    defines: Vec<String>,

    /// With --build: another folder of headers the C files include (a
    /// library's, say -I /usr/include/mysql); repeatable.
    #[arg(short = 'I', long = "include", value_name = "DIR", requires = "build")]
    include_dirs: Vec<PathBuf>,

    /// With --build: seconds one compile may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0, requires = "build")]
    build_timeout: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
    Sarif,
    /// --build only: the grid as a Markdown table.
    Markdown,
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
/// C sources get only the rewrites that are mechanical and keep 2.7's
/// behaviour (port/rules/c.toml's `rewrite` column): module init to
/// PYHOST_MODULE, ob_type/ob_size/ob_refcnt reads to Py_TYPE/Py_SIZE/
/// Py_REFCNT, PyInt_AsLong to PyLong_AsLong, Py_TPFLAGS_HAVE_* terms
/// removed; a rewrite that needs pyhost/legacy_compat.h adds its #include
/// (`pyhost info --json` names its folder).
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

    /// With --write: run every module's self_test under every interpreter
    /// before and after the rewrite (as `pyhost port verify` does), and write
    /// only the modules none of whose cells got worse. PATHs are then module
    /// folders or folders of module folders.
    #[arg(long, requires = "write")]
    verify: bool,

    #[command(flatten)]
    cells: CellArgs,
}

/// Where and how the self-tests run (`pyhost port verify`, `fix --verify`).
#[derive(Debug, clap::Args)]
struct CellArgs {
    /// An interpreter to run the self-tests under (a path, a command or a
    /// version such as 3.11), as in `pyhost matrix`; repeatable. Default:
    /// every one `pyhost doctor` finds (this binary runs each, with the compat
    /// layer built for it).
    #[arg(long = "python", value_name = "P")]
    pythons: Vec<String>,

    /// Run the self-tests under the chosen interpreter only (see `pyhost --python`).
    #[arg(long, conflicts_with = "pythons")]
    this_build: bool,

    /// Cells at once. Default: the number of CPUs.
    #[arg(long, value_name = "N")]
    cell_jobs: Option<usize>,

    /// Seconds a self-test may take before it is a hang (a manifest may set its own).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    timeout: f64,

    /// The grid's format: text for people, json or markdown.
    #[arg(long = "format", value_enum, default_value = "text")]
    grid_format: GridFormat,

    /// Write the grid in that format to FILE (the terminal then gets the text).
    #[arg(long = "output", value_name = "FILE")]
    grid_output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum GridFormat {
    Text,
    Json,
    Markdown,
}

/// Prove a rewrite: run every module's self_test under every interpreter on
/// the modules as they are and as `pyhost port fix` would leave them, and
/// print the before/after grid. Nothing in DIR is changed.
///
/// DIR is a module folder (holding module.py) or a folder of module folders,
/// as for `pyhost matrix --modules`. The rewrite goes to a temporary copy;
/// each cell runs exactly as in `pyhost matrix` (pyhost built against each
/// interpreter in target/py<version>, a child process per cell, the module's
/// manifest.toml). A cell got worse when its raw result ranks lower after:
/// pass > fail > unloadable > crash = hang (xfail counts as fail, xpass as
/// pass). The cells after the rewrite are judged by the manifest's
/// [ported.expect] when it has one.
///
/// Exit status: 0 when no cell got worse and every module that declares
/// [ported.expect] meets it, 1 otherwise, 2 on a usage error or when the
/// tool cannot run, 130 when interrupted.
#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// Module folders, or folders of module folders.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,

    /// dual: runs on 2.7 and 3.x; py3: Python 3 only.
    #[arg(long, value_enum, default_value = "dual")]
    style: StyleArg,

    /// The Python versions the rewrite's findings are judged against (as for fix).
    #[arg(long, value_delimiter = ',', value_name = "VERSIONS", value_parser = parse_version)]
    target: Vec<Version>,

    #[command(flatten)]
    cells: CellArgs,
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
        Command::Fix(args) if args.verify => {
            let options = verify_options(args.style, targets(&args.common), args.common.jobs, &args.cells)?;
            verify_and_write(&args.common.paths, &options, &args.cells, true)
        }
        Command::Fix(args) => {
            let c = &args.cells;
            if !c.pythons.is_empty()
                || c.this_build
                || c.cell_jobs.is_some()
                || c.grid_output.is_some()
                || c.grid_format != GridFormat::Text
            {
                anyhow::bail!("--python, --this-build, --cell-jobs, --format and --output go with --verify");
            }
            fix(args)
        }
        Command::Verify(args) => {
            let targets = if args.target.is_empty() { None } else { Some(args.target.clone()) };
            let options = verify_options(args.style, targets, None, &args.cells)?;
            verify_and_write(&args.dirs, &options, &args.cells, false)
        }
    }
}

fn style(arg: StyleArg) -> Style {
    match arg {
        StyleArg::Dual => Style::Dual,
        StyleArg::Py3 => Style::Py3,
    }
}

fn verify_options(
    style_arg: StyleArg,
    targets: Option<Vec<Version>>,
    jobs: Option<usize>,
    cells: &CellArgs,
) -> anyhow::Result<VerifyOptions> {
    let interpreters =
        if cells.this_build { Interpreters::ThisBuild } else { Interpreters::Each { pythons: cells.pythons.clone() } };
    Ok(VerifyOptions {
        fix: FixOptions { style: style(style_arg), targets, jobs, progress: true },
        interpreters,
        jobs: cells.cell_jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)),
        timeout: crate::host::config::seconds(cells.timeout, "--timeout")?,
        progress: true,
    })
}

/// `pyhost port verify` (write: false) and `pyhost port fix --write --verify`.
fn verify_and_write(dirs: &[PathBuf], options: &VerifyOptions, cells: &CellArgs, write: bool) -> anyhow::Result<i32> {
    // From here on SIGINT and SIGTERM only set the flag: the running
    // self-tests are ended and nothing is written, or, once writing has
    // begun, the module being written is finished first.
    // A second signal does the same: a module half written is worse than a wait.
    let cancel = crate::host::signals::cancel_flag()?;
    let mut verification = match verify::verify(dirs, options, &cancel) {
        Err(verify::VerifyError::Interrupted) => {
            eprintln!("pyhost: interrupted while the self-tests ran: nothing was written");
            return Ok(130);
        }
        other => other?,
    };
    let written = if write { Some(verify::write_kept(&mut verification)) } else { None };
    let result = &verification.result;
    let was_written = written.as_ref().map(|w| w.is_ok());
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let formatted = match cells.grid_format {
        GridFormat::Text => verify::render::text(result, was_written, color && cells.grid_output.is_none()),
        GridFormat::Json => verify::render::json(result),
        GridFormat::Markdown => verify::render::markdown(result),
    };
    match &cells.grid_output {
        Some(file) => {
            std::fs::write(file, formatted).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
            print_stdout(&verify::render::text(result, was_written, color))?;
        }
        None => print_stdout(&formatted)?,
    }
    if let Some(Err(error)) = written {
        anyhow::bail!("{error}; the modules listed as written were, the others are as they were");
    }
    Ok(if result.ok() { 0 } else { 1 })
}

fn check(args: CheckArgs) -> anyhow::Result<i32> {
    if args.build.build {
        return build_check(args);
    }
    anyhow::ensure!(args.format != Format::Markdown, "--format markdown goes with --build");
    let options = CheckOptions { targets: targets(&args.common), jobs: args.common.jobs, progress: true };
    let report = port::check(&args.common.paths, &options)?;
    let formatted = match args.format {
        Format::Text => render::text(&report),
        Format::Json => render::json(&report),
        Format::Sarif => render::sarif(&report),
        Format::Markdown => unreachable!("refused above"),
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
    let options =
        FixOptions { style: style(args.style), targets: targets(&args.common), jobs: args.common.jobs, progress: true };
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

fn build_check(args: CheckArgs) -> anyhow::Result<i32> {
    use crate::port::build_check::{self, BuildCheckOptions};
    anyhow::ensure!(
        !matches!(args.format, Format::Sarif),
        "--format sarif is for findings; --build prints text, json or markdown"
    );
    let options = BuildCheckOptions {
        targets: targets(&args.common),
        compat: args.build.compat,
        include_dirs: args.build.include_dirs,
        defines: args.build.defines,
        jobs: args.common.jobs,
        timeout: crate::host::config::seconds(args.build.build_timeout, "--build-timeout")?,
    };
    let report = build_check::check_build(&args.common.paths, &options)?;
    let formatted = match args.format {
        Format::Json => build_check::json(&report),
        Format::Markdown => build_check::markdown(&report),
        Format::Text | Format::Sarif => build_check::text(&report),
    };
    match &args.output {
        Some(file) => {
            std::fs::write(file, formatted).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
            print_stdout(&build_check::text(&report))?;
        }
        None => print_stdout(&formatted)?,
    }
    Ok(if report.all_pass() { 0 } else { 1 })
}
