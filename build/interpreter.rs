//! The build script's side of the interpreter it builds against (probed by the
//! `interpreters` crate): what it tells cargo.

use std::path::Path;

use interpreters::{Interpreter, KNOBS};

/// Tells cargo to link libpython, with an rpath so the binaries and tests run
/// without LD_LIBRARY_PATH (the interpreters live in non-standard places, such
/// as the per-user cache that holds the 3.13 build).
pub fn emit_link(py: &Interpreter) {
    println!("cargo:rustc-link-search=native={}", py.lib_dir.display());
    println!("cargo:rustc-link-lib=dylib={}", py.lib_name);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", py.lib_dir.display());
}

/// `py2`/`py3`, `Py_3_N` for every minor version reached, `Py_GIL_DISABLED`.
/// Rust code should rarely need them: version differences belong in compat/.
pub fn emit_cfgs(py: &Interpreter) {
    println!("cargo::rustc-check-cfg=cfg(py2)");
    println!("cargo::rustc-check-cfg=cfg(py3)");
    println!("cargo::rustc-check-cfg=cfg(Py_GIL_DISABLED)");
    for minor in 0..=30 {
        println!("cargo::rustc-check-cfg=cfg(Py_3_{minor})");
    }
    if py.major == 2 {
        println!("cargo:rustc-cfg=py2");
    } else {
        println!("cargo:rustc-cfg=py3");
        for minor in 0..=py.minor {
            println!("cargo:rustc-cfg=Py_3_{minor}");
        }
    }
    if py.gil_disabled {
        println!("cargo:rustc-cfg=Py_GIL_DISABLED");
    }
}

/// Facts the binary reports in `pyhost info`, as compile-time environment.
pub fn emit_env(py: &Interpreter) {
    let facts: [(&str, String); 9] = [
        ("VERSION", py.version.clone()),
        ("HEXVERSION", py.hexversion.to_string()),
        ("EXECUTABLE", py.executable.display().to_string()),
        ("PREFIX", py.prefix.clone()),
        ("INCLUDE_DIR", py.include_dir.display().to_string()),
        ("LIB_DIR", py.lib_dir.display().to_string()),
        ("LIBRARY", py.library_file().display().to_string()),
        ("ABIFLAGS", py.abiflags.clone()),
        ("GIL_DISABLED", py.gil_disabled.to_string()),
    ];
    for (key, value) in facts {
        println!("cargo:rustc-env=PYHOST_BUILD_PYTHON_{key}={value}");
    }
}

pub fn emit_rerun(py: &Interpreter) {
    for knob in KNOBS {
        println!("cargo:rerun-if-env-changed={knob}");
    }
    println!("cargo:rerun-if-env-changed=PYHOST_PRINT_CONFIG");
    for path in [&py.executable, &py.header(), &py.library_file()] {
        if Path::new(path).exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

pub fn print_config(py: &Interpreter) {
    let lines = [
        format!("interpreter: `{}` (from {})", py.requested, py.requested_by),
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
