//! A module's native part: C sources in its folder, named by its manifest's
//! `[native]` table, built by pyhost against each cell's interpreter (its
//! headers, its libpython's symbols; see crate::cext) into a folder of its
//! own that goes first on the cell's python_path.
//!
//! ```toml
//! [native]
//! name = "legacy_tally"            # the extension module's import name
//! sources = ["legacy_tally.c"]     # C files, relative to the module's folder
//! compat = true                    # -I pyhost's compat header folder
//! ```
//!
//! A build that fails is the cell's `build-error` (a manifest may expect
//! it); a machine without gcc, nm or the interpreter's headers gives
//! `skipped-missing`, with the package to install, never a result.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde::Deserialize;

use super::Module;
use super::outcome::Outcome;
use super::selftest::Runner;
use crate::cext::{self, BuildSpec, Target};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Native {
    /// The extension module's import name: `<name>.so` is what gets built.
    pub name: String,
    /// C files, relative to the module's folder.
    pub sources: Vec<String>,
    /// Put pyhost's compat header folder on the include path.
    #[serde(default)]
    pub compat: bool,
}

impl Native {
    /// What a manifest may say: an identifier, relative `.c` files inside the folder.
    pub fn check(&self) -> Result<(), String> {
        let identifier = |s: &str| {
            s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if !identifier(&self.name) {
            return Err(format!("[native] name must be a module name (letters, digits, _), not {:?}", self.name));
        }
        if self.sources.is_empty() {
            return Err("[native] sources must name at least one .c file".into());
        }
        for source in &self.sources {
            let path = Path::new(source);
            let inside = path.components().all(|c| matches!(c, std::path::Component::Normal(_)));
            if !inside || !source.ends_with(".c") {
                return Err(format!("[native] sources must be .c files inside the module's folder, not {source:?}"));
            }
        }
        Ok(())
    }
}

/// Seconds one native build may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// The interpreter a runner's pyhost runs, asked once per runner.
fn target_of(runner: &Runner) -> Result<Target, String> {
    type Known = HashMap<(PathBuf, Option<PathBuf>), Result<Target, String>>;
    static CACHE: OnceLock<Mutex<Known>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (runner.binary.clone(), runner.python.clone());
    if let Some(known) = cache.lock().unwrap().get(&key) {
        return known.clone();
    }
    let target = Target::of_pyhost(&runner.binary, runner.python.as_deref()).map_err(|e| e.to_string());
    cache.lock().unwrap().insert(key, target.clone());
    target
}

/// Builds the module's native part for the interpreter `runner` runs, in
/// a new folder under `scratch`. Ok(None): it has none; Ok(Some(dir)): put
/// dir on the python_path; Err: the cell's outcome and why.
pub fn build(module: &Module, runner: &Runner, scratch: &Path) -> Result<Option<PathBuf>, (Outcome, String)> {
    let Some(native) = &module.manifest.native else { return Ok(None) };
    let missing = |e: cext::ToolError| (Outcome::SkippedMissing, format!("cannot build the native part: {e}"));
    let target = target_of(runner).map_err(|e| (Outcome::SkippedMissing, e))?;
    let folder = module.path.parent().unwrap_or(Path::new("."));
    let sources: Vec<PathBuf> = native.sources.iter().map(|s| folder.join(s)).collect();
    let include_dirs: Vec<PathBuf> =
        if native.compat { vec![cext::header::include_dir().map_err(missing)?] } else { Vec::new() };
    let dir = tempfile::Builder::new()
        .prefix(&format!("{}-{}-", native.name, target.label))
        .tempdir_in(scratch)
        .map_err(|e| (Outcome::SkippedMissing, format!("cannot create a folder for the native part: {e}")))?
        .keep();
    let output = dir.join(format!("{}.so", native.name));
    let spec = BuildSpec {
        sources: &sources,
        output: &output,
        include_dirs: &include_dirs,
        defines: &[],
        timeout: BUILD_TIMEOUT,
    };
    match cext::build(&spec, &target).map_err(missing)? {
        Ok(()) => Ok(Some(dir)),
        Err(failure) => Err((Outcome::BuildError, failure.text())),
    }
}

#[cfg(test)]
mod tests {
    use crate::matrix::manifest::Manifest;

    #[test]
    fn a_native_table_is_checked() {
        let ok =
            Manifest::parse("[native]\nname = \"tally\"\nsources = [\"tally.c\", \"src/util.c\"]\ncompat = true\n");
        assert!(ok.unwrap().native.unwrap().compat);
        for (table, complaint) in [
            ("name = \"my-tally\"\nsources = [\"t.c\"]", "must be a module name"),
            ("name = \"tally\"\nsources = []", "at least one .c file"),
            ("name = \"tally\"\nsources = [\"../t.c\"]", "inside the module's folder"),
            ("name = \"tally\"\nsources = [\"/tmp/t.c\"]", "inside the module's folder"),
            ("name = \"tally\"\nsources = [\"t.cpp\"]", ".c files"),
            ("name = \"tally\"\nsources = [\"t.c\"]\nflags = [\"-O3\"]", "unknown field"),
        ] {
            let error = format!("{:#}", Manifest::parse(&format!("[native]\n{table}\n")).unwrap_err());
            assert!(error.contains(complaint), "{table}: {error}");
        }
        let expects = Manifest::parse("[expect]\n\"3\" = { outcome = \"build-error\", reason = \"PyString_*\" }\n");
        assert_eq!(expects.unwrap().expectation("3.11").outcome, crate::matrix::outcome::Outcome::BuildError);
    }
}
