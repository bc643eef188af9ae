//! Users' C extensions built against one interpreter's headers: the compile
//! check of `pyhost port check --build` and the native part of a matrix
//! module. Nothing here includes Python.h itself: gcc does, for the user's
//! code, with the target interpreter's include folder.
//!
//! A build is judged in two steps, because a compiler alone misses the trap
//! of GCC 12 (Debian 12's), which only *warns* about an undeclared
//! `PyString_FromString`: the extension builds and then fails at import.
//! 1. gcc with `-Werror=implicit-function-declaration -Werror=int-conversion
//!    -Werror=incompatible-pointer-types` (compile.rs);
//! 2. every undefined `Py*`/`_Py*` symbol of the shared object must be one
//!    the target's libpython exports (symbols.rs), which catches the call
//!    however the code hid it (its own prototype, a pragma, a macro).
//!
//! header.rs ships pyhost's compat header for such extensions.

pub mod compile;
pub mod header;
pub mod symbols;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

/// An interpreter to build against.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// "3.11".
    pub label: String,
    pub version: String,
    pub include_dir: PathBuf,
    pub library: PathBuf,
}

impl Target {
    /// The Debian package that holds the headers: python3.11-dev, python2.7-dev.
    pub fn dev_package(&self) -> String {
        format!("python{}-dev", self.label)
    }

    /// The interpreter a pyhost binary runs (`BINARY info --json`), the one
    /// `python` names when given, else the one this process would give a child.
    pub fn of_pyhost(binary: &Path, python: Option<&Path>) -> Result<Target, ToolError> {
        let mut child = crate::child::ChildSpec::new(binary, Duration::from_secs(60)).args(["info", "--json"]);
        // child_env() loads this process's interpreter: only when none is named.
        if let Some(python) = python {
            child = child.env(crate::python::PYTHON_ENV, python);
        } else if let Some((key, value)) = crate::python::child_env() {
            child = child.env(key, value);
        }
        let finished =
            child.run(b"").map_err(|e| ToolError::Info { binary: binary.to_path_buf(), detail: e.to_string() })?;
        let info: serde_json::Value = serde_json::from_str(&finished.stdout)
            .map_err(|e| ToolError::Info { binary: binary.to_path_buf(), detail: e.to_string() })?;
        let text = |key: &str| info[key].as_str().map(str::to_string);
        match (text("version"), text("include_dir"), text("library")) {
            (Some(version), Some(include_dir), Some(library)) => Ok(Target {
                label: crate::python::interpreter_info::minor_of(&version),
                version,
                include_dir: include_dir.into(),
                library: library.into(),
            }),
            _ => Err(ToolError::Info {
                binary: binary.to_path_buf(),
                detail: "its info --json has no version, include_dir or library".into(),
            }),
        }
    }
}

/// Why a build could not be judged at all: the tools, not the code.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(
        "no C compiler: `{program}` cannot run ({source}); install it: apt-get install gcc (or set PYHOST_BUILD_CC or CC)"
    )]
    NoCompiler { program: String, source: std::io::Error },
    #[error("`nm` cannot run ({source}); install it: apt-get install binutils")]
    NoNm { source: std::io::Error },
    #[error(
        "Python {version} has no headers: {} does not exist; install them: apt-get install {package} \
         (or run scripts/install-pythons)", .python_h.display()
    )]
    NoHeaders { version: String, python_h: PathBuf, package: String },
    #[error("cannot read the dynamic symbols of {}: {detail}", .path.display())]
    Symbols { path: PathBuf, detail: String },
    #[error("cannot ask {} which Python it embeds: {detail}", .binary.display())]
    Info { binary: PathBuf, detail: String },
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
}

/// Why an extension did not build, for people: the first lines that say so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildFailure {
    pub stage: Stage,
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// gcc failed (an error, or one of the warnings made errors).
    Compile,
    /// It built, but needs symbols the target's libpython lacks.
    UndefinedSymbols,
}

impl BuildFailure {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// What to build and how.
#[derive(Debug, Clone)]
pub struct BuildSpec<'a> {
    pub sources: &'a [PathBuf],
    /// The shared object to write.
    pub output: &'a Path,
    /// Folders added with -I before the interpreter's (the compat header's,
    /// the user's).
    pub include_dirs: &'a [PathBuf],
    /// Macros defined with -D: NAME or NAME=VALUE.
    pub defines: &'a [String],
    pub timeout: Duration,
}

/// How many error lines a failure keeps.
pub const FIRST_LINES: usize = 4;

/// Builds `spec.sources` into one shared object against `target` and checks
/// its Python symbols. Ok(Err(..)) is the code's fault; Err(..) the tools'.
pub fn build(spec: &BuildSpec, target: &Target) -> Result<Result<(), BuildFailure>, ToolError> {
    let python_h = target.include_dir.join("Python.h");
    if !python_h.is_file() {
        return Err(ToolError::NoHeaders { version: target.version.clone(), python_h, package: target.dev_package() });
    }
    if let Err(failure) = compile::compile(spec, target)? {
        return Ok(Err(failure));
    }
    let missing = symbols::missing_python_symbols(spec.output, &target.library)?;
    if missing.is_empty() {
        return Ok(Ok(()));
    }
    let library = target.library.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut lines: Vec<String> = missing
        .iter()
        .take(FIRST_LINES)
        .map(|name| format!("undefined symbol {name}: {library} does not export it (ImportError at import)"))
        .collect();
    if missing.len() > FIRST_LINES {
        lines.push(format!("... and {} more", missing.len() - FIRST_LINES));
    }
    Ok(Err(BuildFailure { stage: Stage::UndefinedSymbols, lines }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_headers_name_the_package_before_anything_runs() {
        let target = Target {
            label: "3.9".into(),
            version: "3.9.2".into(),
            include_dir: "/nonexistent/include/python3.9".into(),
            library: "/nonexistent/libpython3.9.so".into(),
        };
        let spec = BuildSpec {
            sources: &[PathBuf::from("x.c")],
            output: Path::new("/nonexistent/x.so"),
            include_dirs: &[],
            defines: &[],
            timeout: Duration::from_secs(5),
        };
        let error = build(&spec, &target).unwrap_err();
        assert!(matches!(error, ToolError::NoHeaders { .. }), "{error}");
        assert!(error.to_string().contains("apt-get install python3.9-dev"), "{error}");
    }
}
