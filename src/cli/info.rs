//! `pyhost info`: which interpreter this pyhost runs, where it was loaded
//! from, and what it supports.

use serde::Serialize;

use super::print_stdout;
use crate::python::Isolation;
use crate::python::interpreter_info::{
    InterpreterInfo, default_isolation, info, own_gil_refusal, runtime_version, supported_isolations,
};

/// Show the Python this pyhost runs, where it was loaded from, and the isolation modes it supports.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Info {
    pyhost_version: &'static str,
    #[serde(flatten)]
    build: InterpreterInfo,
    /// Py_GetVersion() of the libpython loaded at run time.
    runtime_version: String,
    isolation_modes: Vec<Isolation>,
    default_isolation: Isolation,
    /// The folder holding pyhost/legacy_compat.h, for users' C extensions
    /// (-I this folder); written on first use. None when it cannot be written.
    compat_include_dir: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let info = Info {
        pyhost_version: env!("CARGO_PKG_VERSION"),
        build: info().clone(),
        runtime_version: runtime_version(),
        isolation_modes: supported_isolations(),
        default_isolation: default_isolation(),
        compat_include_dir: crate::cext::header::include_dir()
            .map_err(|e| tracing::warn!("the compat header's folder: {e}"))
            .ok(),
    };
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&info)?))?;
        return Ok(0);
    }
    let modes: Vec<&str> = info.isolation_modes.iter().map(|m| m.name()).collect();
    let mut text = format!("pyhost {}, running Python {}\n", info.pyhost_version, info.build.version);
    let rows = [
        ("executable", info.build.executable.to_string()),
        ("prefix", info.build.prefix.to_string()),
        ("headers", info.build.include_dir.to_string()),
        ("libpython", info.build.library.to_string()),
        ("compat", info.build.compat_object.to_string()),
        ("chosen by", format!("{} (`{}`)", info.build.chosen_by, info.build.requested)),
        ("abi flags", if info.build.abiflags.is_empty() { "(none)".into() } else { info.build.abiflags.to_string() }),
        ("free-threaded", if info.build.gil_disabled { "yes".into() } else { "no".into() }),
        ("loaded", info.runtime_version.replace('\n', " ")),
        ("isolation", format!("{} (default: {})", modes.join(", "), info.default_isolation)),
        (
            "compat header",
            match &info.compat_include_dir {
                Some(dir) => format!("-I{} (#include <{}>)", dir.display(), crate::cext::header::HEADER),
                None => "(cannot be written; see the warning above)".into(),
            },
        ),
    ];
    for (label, value) in rows {
        text.push_str(&format!("  {label:<14} {value}\n"));
    }
    if let Some(reason) = own_gil_refusal() {
        text.push_str(&format!("  ({reason})\n"));
    }
    print_stdout(&text)?;
    Ok(0)
}
