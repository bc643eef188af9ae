//! The default interpreter: the one the build environment names
//! (PYHOST_PYTHON, else PYO3_PYTHON, else python3), used at run time when
//! neither `--python` nor PYHOST_PYTHON chooses another.

use interpreters::{Interpreter, KNOBS};

/// Records the default as PYHOST_DEFAULT_PYTHON (the real path of the
/// interpreter when it can be probed, so the binary does not depend on the
/// PATH it runs with) and PYHOST_DEFAULT_PYTHON_BY (which knob chose it).
/// An interpreter that cannot be embedded is only a warning: the binary can
/// still run any other one.
pub fn emit_default() {
    for knob in KNOBS {
        println!("cargo:rerun-if-env-changed={knob}");
    }
    println!("cargo:rerun-if-env-changed=PYHOST_PRINT_CONFIG");
    let (requested, requested_by) = interpreters::requested();
    let default = match interpreters::discover() {
        Ok(py) => {
            if !py.passed_over.is_empty() {
                let (first, why) = (py.executable.display(), py.passed_over.join("; "));
                println!("cargo:warning=using {first} for `{}`: {why}", py.requested);
            }
            if std::env::var_os("PYHOST_PRINT_CONFIG").is_some_and(|v| v == "1") {
                print_config(&py);
            }
            if py.executable.exists() {
                println!("cargo:rerun-if-changed={}", py.executable.display());
            }
            py.executable.display().to_string()
        }
        Err(message) => {
            for line in message.lines() {
                println!("cargo:warning={line}");
            }
            println!(
                "cargo:warning=pyhost is built anyway: choose an interpreter when it runs, with --python or PYHOST_PYTHON"
            );
            requested
        }
    };
    println!("cargo:rustc-env=PYHOST_DEFAULT_PYTHON={default}");
    println!("cargo:rustc-env=PYHOST_DEFAULT_PYTHON_BY={requested_by}");
}

fn print_config(py: &Interpreter) {
    let lines = [
        format!("default interpreter: `{}` (from {})", py.requested, py.requested_by),
        format!("version: {} (hex {:#x})", py.version, py.hexversion),
        format!("executable: {}", py.executable.display()),
        format!("include dir: {}", py.include_dir.display()),
        format!("libpython: {}", py.library_file().display()),
        format!("abiflags: '{}', gil disabled: {}", py.abiflags, py.gil_disabled),
    ];
    for line in lines {
        println!("cargo:warning=pyhost config: {line}");
    }
}
