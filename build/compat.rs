//! compat/ at build time: the Rust bindings, generated from compat's own
//! header, and the C sources, embedded in the binary so that it can compile
//! them against whichever interpreter it is asked to run (without the
//! source tree). The header never includes Python.h, so the bindings are the
//! same whichever interpreter is chosen: every version difference stays on
//! the C side.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const HEADER: &str = "compat/pyhost_compat.h";

fn out_dir() -> PathBuf {
    PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
}

/// `compat_sources.rs`: every compat/*.c and *.h as (file name, text).
pub fn embed_sources() {
    let mut files: Vec<PathBuf> = std::fs::read_dir("compat")
        .expect("compat/ is part of the source tree")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c" || x == "h"))
        .collect();
    files.sort();
    let mut code = String::from("pub const SOURCES: &[(&str, &str)] = &[\n");
    for file in &files {
        let absolute = std::fs::canonicalize(file).expect("a compat source can be resolved");
        let name = file.file_name().expect("a file name").to_string_lossy();
        let _ = writeln!(code, "    ({name:?}, include_str!({:?})),", absolute.display().to_string());
        println!("cargo:rerun-if-changed={}", file.display());
    }
    code.push_str("];\n");
    println!("cargo:rerun-if-changed=compat");
    std::fs::write(out_dir().join("compat_sources.rs"), code).expect("OUT_DIR is writable");
}

/// The bindings, as a table of function pointers loaded from the compat
/// object at run time (`Compat::new`); every symbol must be there.
pub fn generate_bindings() {
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
        .dynamic_library_name("Compat")
        .dynamic_link_require_all(true)
        // Edition 2024 wants the unsafe calls inside the generated unsafe fns marked.
        .wrap_unsafe_ops(true)
        .layout_tests(false)
        .generate()
        .unwrap_or_else(|e| {
            eprintln!(
                "error: bindgen could not read {HEADER}: {e}\n\
                 bindgen needs libclang: `apt-get install libclang-dev` (scripts/install-pythons does it)."
            );
            std::process::exit(1);
        });
    bindings.write_to_file(Path::new(&out_dir()).join("compat_bindings.rs")).expect("OUT_DIR is writable");
    println!("cargo:rerun-if-changed={HEADER}");
}
