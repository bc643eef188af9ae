//! `pyhost run`: host the modules in DIR... until a signal, --for or `ctl stop`.

use std::path::PathBuf;

use crate::host::config::{Enable, HostConfig, parse_isolation, seconds};
use crate::host::{Host, Report, RunOptions};

/// Host plugin modules, each in its own interpreter.
///
/// Each folder in a module directory that holds a module.py is a module. Only
/// enabled modules are loaded (--enable, --all, or `enable` in the config).
/// Stops on SIGINT, SIGTERM or SIGHUP, when --for expires, or on `pyhost ctl
/// SOCKET stop`, and exits 0 whatever the modules did. A second signal exits at
/// once, with the report as things stand.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Module directories (added to the config's module_dirs).
    #[arg(value_name = "DIR")]
    dirs: Vec<PathBuf>,

    /// A TOML config file (see README: module dirs, options, isolation, restart policy...).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Modules to load, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "NAMES", conflicts_with = "all")]
    enable: Vec<String>,

    /// Load every module found.
    #[arg(long)]
    all: bool,

    /// Interpreter for every module: own-gil (3.12+), shared or main. Default: the best available.
    #[arg(long, value_name = "MODE")]
    isolation: Option<String>,

    /// Stop after this many seconds.
    #[arg(long = "for", value_name = "SECONDS")]
    duration: Option<f64>,

    /// Write a JSON report here at exit.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,

    /// Listen for `pyhost ctl` on this Unix socket (mode 0600; only this user and
    /// root may use it). A stale socket there is replaced; anything else is refused.
    #[arg(long, value_name = "SOCKET")]
    control: Option<PathBuf>,

    /// A folder for modules' packages, added the way site.addsitedir adds
    /// one (.pth files work); repeatable. PYTHONPATH is honoured too.
    #[arg(long = "python-path", value_name = "DIR")]
    python_path: Vec<PathBuf>,

    /// Load modules and packages even where users other than root and this
    /// one can write them (strict_modes = false); each is then warned about.
    #[arg(long = "no-strict-modes")]
    no_strict_modes: bool,

    /// Probe every module's placement again, not reusing the verdicts kept
    /// from earlier starts, and keep the new ones.
    #[arg(long)]
    reprobe: bool,
}

fn config(args: &Args) -> anyhow::Result<HostConfig> {
    let mut config = match &args.config {
        Some(path) => HostConfig::from_file(path)?,
        None => HostConfig::default(),
    };
    // Relative DIRs are the current folder's, as the config's are its folder's.
    config.module_dirs.extend(args.dirs.iter().map(|d| std::path::absolute(d).unwrap_or_else(|_| d.clone())));
    if config.module_dirs.is_empty() {
        anyhow::bail!("no module directory: give one or more DIRs, or module_dirs in --config");
    }
    if args.all {
        config.enable = Enable::All;
    } else if !args.enable.is_empty() {
        config.enable = Enable::Only(args.enable.clone());
    }
    if let Some(isolation) = &args.isolation {
        config.isolation = Some(parse_isolation(isolation)?);
    }
    config.python_path.extend(args.python_path.iter().map(|d| std::path::absolute(d).unwrap_or_else(|_| d.clone())));
    if args.no_strict_modes {
        config.strict_modes = false;
    }
    config.reprobe = args.reprobe;
    Ok(config)
}

pub fn run(args: Args, verbose: u8) -> anyhow::Result<i32> {
    let config = config(&args)?;
    super::init_logging(verbose, config.log_level.map_or("info", |l| l.as_str()));
    let duration = args.duration.map(|s| seconds(s, "--for")).transpose()?;
    let options = RunOptions { duration, control: args.control.clone(), report: args.report.clone() };
    let mut host = Host::start(config, &options)?;
    host.run(duration);
    let report = host.shutdown();
    summarize(&report);
    if let Some(path) = &args.report {
        report.write(path)?;
    }
    Ok(0)
}

fn summarize(report: &Report) {
    for module in &report.modules {
        let isolation = module.isolation.map(|i| i.name()).unwrap_or("-");
        let mut line =
            format!("{:<20} {:<10} {:<8}", module.name, format!("{:?}", module.state).to_lowercase(), isolation);
        if module.restarts > 0 {
            line.push_str(&format!(" restarts={}", module.restarts));
        }
        if !module.leftover_threads.is_empty() {
            let names: Vec<&str> = module.leftover_threads.iter().map(|t| t.name.as_str()).collect();
            line.push_str(&format!(" leftover threads: {}", names.join(", ")));
        }
        if let Some(error) = &module.error {
            line.push_str(&format!(" ({})", error.lines().last().unwrap_or_default()));
        }
        eprintln!("{line}");
    }
}
