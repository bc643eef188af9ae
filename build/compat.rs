//! Compiling compat/ against the chosen Python.h, and generating the Rust
//! bindings from compat's own header. The header never includes Python.h, so
//! the bindings are the same whichever interpreter is chosen: every version
//! difference stays on the C side.

use std::env;
use std::path::{Path, PathBuf};

use interpreters::Interpreter;

const HEADER: &str = "compat/pyhost_compat.h";

pub fn compile(py: &Interpreter) {
    let sources = c_sources();
    let mut build = cc::Build::new();
    build
        .include(&py.include_dir)
        .include("compat")
        .files(&sources)
        .warnings(true)
        .extra_warnings(true)
        // Python 2.7's headers trip these under a modern gcc; they are not ours to fix.
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-missing-field-initializers")
        .flag_if_supported("-Wno-cast-function-type");
    build.compile("pyhost_compat");
    for source in &sources {
        println!("cargo:rerun-if-changed={}", source.display());
    }
    println!("cargo:rerun-if-changed=compat/internal.h");
    println!("cargo:rerun-if-changed={HEADER}");
}

fn c_sources() -> Vec<PathBuf> {
    let mut sources: Vec<PathBuf> = std::fs::read_dir("compat")
        .expect("compat/ is part of the source tree")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    sources
}

pub fn generate_bindings() {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let bindings = bindgen::Builder::default()
        .header(HEADER)
        .allowlist_function("ph_.*")
        .allowlist_type("ph_.*")
        .allowlist_var("PH_.*")
        // PyObject, PyThreadState and PyInterpreterState stay opaque on the Rust side.
        .opaque_type("_object")
        .opaque_type("_ts")
        .opaque_type("_is")
        .default_enum_style(bindgen::EnumVariation::ModuleConsts)
        .layout_tests(false)
        .generate()
        .unwrap_or_else(|e| {
            eprintln!(
                "error: bindgen could not read {HEADER}: {e}\n\
                 bindgen needs libclang: `apt-get install libclang-dev` (scripts/install-pythons does it)."
            );
            std::process::exit(1);
        });
    bindings.write_to_file(Path::new(&out).join("compat_bindings.rs")).expect("OUT_DIR is writable");
}
