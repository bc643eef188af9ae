//! `pyhost selftest`: the matrix's check for this build alone, no rebuilds.

use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;

use crate::matrix::outcome::{Outcome, judge};
use crate::matrix::selftest::Runner;
use crate::matrix::{Module, cell_timeout, fixture_site, modules, run_module};

use super::print_stdout;

/// Run each module's self_test() under this build, each in a child process
/// (serve() running, as in `pyhost run`), and judge it against its manifest.
/// Exits 0 when every module does what its manifest expects.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Module directories.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,

    /// Only these modules, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    only: Vec<String>,

    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,

    /// Modules tested at once. Default: the number of CPUs.
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,

    /// Seconds a module may take before it is a hang (a manifest may set its own).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    timeout: f64,

    /// A folder for the modules' packages (like site.addsitedir); repeatable.
    /// Default: where scripts/fetch-fixture-packages puts them, if it exists.
    #[arg(long = "python-path", value_name = "DIR")]
    python_path: Vec<PathBuf>,
}

#[derive(Serialize)]
struct Tested {
    module: String,
    outcome: Outcome,
    expected: bool,
    expectation: crate::matrix::manifest::Expectation,
    detail: Option<String>,
    seconds: f64,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let version = crate::python::chosen()?.label();
    let mut found = modules(&args.dirs)?;
    if !args.only.is_empty() {
        for name in &args.only {
            anyhow::ensure!(found.iter().any(|m| &m.name == name), "no module `{name}` in {:?}", args.dirs);
        }
        found.retain(|m| args.only.contains(&m.name));
    }
    let python_path = if args.python_path.is_empty() {
        fixture_site(&version).into_iter().collect()
    } else {
        args.python_path.clone()
    };
    let timeout = crate::host::config::seconds(args.timeout, "--timeout")?;
    let runner = Runner { binary: std::env::current_exe()?, python: Some(crate::python::chosen()?.executable.clone()) };
    // Native parts (a manifest's [native]) are built here, for this interpreter.
    let scratch = tempfile::Builder::new().prefix("pyhost-native-").tempdir()?;
    let queue: Mutex<Vec<&Module>> = Mutex::new(found.iter().rev().collect());
    let results = Mutex::new(Vec::new());
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                while let Some(module) = queue.lock().unwrap().pop() {
                    let timeout = cell_timeout(module, timeout);
                    let result = run_module(module, &runner, python_path.clone(), timeout, scratch.path(), None);
                    let expectation = module.manifest.expectation(&version);
                    let (outcome, expected) = judge(result.outcome, &expectation);
                    results.lock().unwrap().push(Tested {
                        module: module.id.clone(),
                        outcome,
                        expected,
                        expectation,
                        detail: result.detail,
                        seconds: result.seconds,
                    });
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.module.cmp(&b.module));
    let all_expected = results.iter().all(|r| r.expected);
    if args.json {
        let report = serde_json::json!({ "interpreter": crate::python::chosen()?.version, "modules": results });
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        let width = results.iter().map(|r| r.module.len()).max().unwrap_or(6);
        let mut text = format!("Python {}\n", crate::python::chosen()?.version);
        for r in &results {
            let mark = if r.expected { "" } else { "!" };
            let detail =
                r.detail.as_deref().and_then(|d| d.lines().rfind(|l| !l.trim().is_empty())).unwrap_or_default();
            text.push_str(&format!(
                "  {:<width$}  {:<12} {}\n",
                r.module,
                format!("{}{mark}", r.outcome),
                detail.trim()
            ));
        }
        let unexpected = results.iter().filter(|r| !r.expected).count();
        text.push_str(&format!(
            "{} modules, {} not what their manifest expects (marked !)\n",
            results.len(),
            unexpected
        ));
        print_stdout(&text)?;
    }
    Ok(if all_expected { 0 } else { 1 })
}
