//! compat/ as a small shared object per interpreter, compiled on first use
//! against that interpreter's headers and linked against its libpython.
//!
//! The C sources are embedded in the binary (build/compat.rs), so pyhost
//! needs no source tree, only a C compiler and the interpreter's headers.
//! Objects are cached in ~/.cache/pyhost/compat, named by the interpreter's
//! version and a hash of everything that goes into them (sources, compiler,
//! flags, the interpreter's real path, version, ABI flags, headers and
//! library), so a changed compat/ or a reinstalled interpreter gets a new
//! object. Each is compiled into a temporary name and renamed into place, so
//! two pyhosts starting at once never see half an object.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use interpreters::Interpreter;

use super::loader::LoadError;

include!(concat!(env!("OUT_DIR"), "/compat_sources.rs"));

/// Flags for every compile. Warnings are on for people working on compat/
/// (they see them with PYHOST_COMPAT_VERBOSE=1); Python 2.7's headers trip
/// the last three under a modern gcc, which are not ours to fix.
const FLAGS: &[&str] = &[
    "-shared",
    "-fPIC",
    "-O2",
    "-g",
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    "-Wno-missing-field-initializers",
    "-Wno-cast-function-type",
];

/// The C compiler: $CC, else `cc`.
fn compiler() -> OsString {
    std::env::var_os("CC").filter(|c| !c.as_encoded_bytes().trim_ascii().is_empty()).unwrap_or_else(|| "cc".into())
}

/// $CC as make and the shells read it: a command and its leading arguments
/// (`ccache gcc`, `gcc -m64`), split at spaces. A value that is not UTF-8
/// is one program's path.
fn compiler_words(compiler: &OsString) -> (OsString, Vec<OsString>) {
    match compiler.to_str() {
        Some(text) => {
            let mut words = text.split_whitespace().map(OsString::from);
            let program = words.next().unwrap_or_else(|| "cc".into());
            (program, words.collect())
        }
        None => (compiler.clone(), Vec::new()),
    }
}

/// The cached object for `py`, compiled first if it is not there yet.
pub fn build_or_reuse(py: &Interpreter) -> Result<PathBuf, LoadError> {
    let compiler = compiler();
    // No cache folder (no HOME, as under systemd): one per user in the
    // temporary folder, where it is another user's only if they made it
    // first, which create_private_dir refuses.
    let dir = crate::cache::dir()
        .map(|cache| cache.join("pyhost/compat"))
        .unwrap_or_else(|| std::env::temp_dir().join(format!("pyhost-{}/compat", crate::ownership::effective_uid())));
    let object = dir.join(format!("py{}{}-{:016x}.so", py.version, py.abiflags, key(py, &compiler)));
    let cache_error =
        |e: std::io::Error| LoadError::Cache { version: py.version.clone(), dir: dir.clone(), why: e.to_string() };
    // Before loading a kept object: it runs as the host.
    crate::cache::create_private_dir(&dir).map_err(cache_error)?;
    if object.is_file() {
        return Ok(object);
    }
    let sources = tempfile::tempdir().map_err(cache_error)?;
    for (name, text) in SOURCES {
        std::fs::write(sources.path().join(name), text).map_err(cache_error)?;
    }
    let partial = tempfile::Builder::new().prefix(".building-").suffix(".so").tempfile_in(&dir).map_err(cache_error)?;
    compile(py, &compiler, sources.path(), partial.path())?;
    // An atomic rename: a process that got there first is replaced by an identical object.
    partial.persist(&object).map_err(|e| cache_error(e.error))?;
    Ok(object)
}

fn compile(py: &Interpreter, compiler: &OsString, sources: &Path, output: &Path) -> Result<(), LoadError> {
    let mut files: Vec<PathBuf> =
        SOURCES.iter().filter(|(name, _)| name.ends_with(".c")).map(|(name, _)| sources.join(name)).collect();
    files.sort();
    let (program, leading) = compiler_words(compiler);
    let mut command = Command::new(program);
    command
        .args(leading)
        .args(FLAGS)
        .arg("-I")
        .arg(sources)
        .arg("-I")
        .arg(&py.include_dir)
        .args(&files)
        .arg("-o")
        .arg(output)
        .arg(format!("-L{}", py.lib_dir.display()))
        .arg(format!("-l{}", py.lib_name))
        // So the object finds its libpython without LD_LIBRARY_PATH (the
        // interpreters live in places such as the per-user cache).
        .arg(format!("-Wl,-rpath,{}", py.lib_dir.display()));
    let finished = command
        .output()
        .map_err(|e| LoadError::NoCompiler { compiler: compiler.to_string_lossy().into_owned(), why: e.to_string() })?;
    let stderr = String::from_utf8_lossy(&finished.stderr);
    if !finished.status.success() {
        return Err(LoadError::CompatBuild {
            version: py.version.clone(),
            executable: py.executable.clone(),
            output: first_errors(&stderr),
        });
    }
    if std::env::var_os("PYHOST_COMPAT_VERBOSE").is_some_and(|v| v == "1") {
        eprint!("{stderr}");
    }
    Ok(())
}

/// The compiler's first error and the lines that explain it.
fn first_errors(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let start = lines.iter().position(|l| l.contains("error")).unwrap_or(0);
    lines[start..].iter().take(12).cloned().collect::<Vec<_>>().join("\n")
}

/// A hash of everything the object depends on: a stable name, not a
/// security measure (the cache is the user's own folder).
fn key(py: &Interpreter, compiler: &OsString) -> u64 {
    crate::cache::hash(&parts(py, compiler))
}

fn parts(py: &Interpreter, compiler: &OsString) -> Vec<Vec<u8>> {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for (name, text) in SOURCES {
        parts.push(name.as_bytes().to_vec());
        parts.push(text.as_bytes().to_vec());
    }
    parts.extend(FLAGS.iter().map(|f| f.as_bytes().to_vec()));
    parts.push(compiler.as_encoded_bytes().to_vec());
    for path in [&py.executable, &py.include_dir, &py.library_file()] {
        parts.push(path.as_os_str().as_encoded_bytes().to_vec());
    }
    parts.push(py.version.as_bytes().to_vec());
    parts.push(py.abiflags.as_bytes().to_vec());
    parts
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_c_source_and_header_is_embedded() {
        let names: Vec<&str> = super::SOURCES.iter().map(|(name, _)| *name).collect();
        for expected in ["pyhost_compat.h", "internal.h", "lifecycle.c"] {
            assert!(names.contains(&expected), "{expected} is not embedded: {names:?}");
        }
    }

    #[test]
    fn the_first_error_is_kept() {
        let stderr = "In file included from x.c:1:\nwarning: unused\nx.c:3: error: expected ';'\n  3 | int x\n";
        assert!(super::first_errors(stderr).starts_with("x.c:3: error"));
    }
}
