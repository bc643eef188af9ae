//! Probing one interpreter: what it is, and where its headers and libpython
//! really are.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The knobs, in the order they are consulted.
pub const KNOBS: [&str; 2] = ["PYHOST_PYTHON", "PYO3_PYTHON"];
pub const DEFAULT_COMMAND: &str = "python3";
/// The probe script: what it asks changes what it answers (a cache key).
pub const PROBE: &str = include_str!("probe_interpreter.py");

/// What the probe reports, plus the folders settled on.
#[derive(Debug, Clone)]
pub struct Interpreter {
    /// The command or path the user asked for, and which knob said so.
    pub requested: String,
    pub requested_by: &'static str,
    pub major: u32,
    pub minor: u32,
    pub version: String,
    pub hexversion: u64,
    pub executable: PathBuf,
    pub prefix: String,
    pub abiflags: String,
    pub gil_disabled: bool,
    pub include_dir: PathBuf,
    pub lib_dir: PathBuf,
    /// The name to give the linker: `python3.11`, `python2.7`, `python3.13t`.
    pub lib_name: String,
    /// Candidates for the same request that were tried first and did not
    /// run, and why (a version manager's shim for a version it does not select).
    pub passed_over: Vec<String>,
}

impl Interpreter {
    pub fn header(&self) -> PathBuf {
        self.include_dir.join("Python.h")
    }

    pub fn library_file(&self) -> PathBuf {
        self.lib_dir.join(format!("lib{}.so", self.lib_name))
    }

    /// How manifests, site folders and matrix columns name this interpreter:
    /// "3.11", or "3.13t" for a free-threaded build, whose extension modules
    /// (ABI "t") are not those of the same version with a GIL.
    pub fn label(&self) -> String {
        format!("{}.{}{}", self.major, self.minor, if self.gil_disabled { "t" } else { "" })
    }

    /// `python3.11-dev`-style names of the Debian packages that hold what is missing.
    pub fn dev_package(&self) -> String {
        format!("libpython{}.{}-dev", self.major, self.minor)
    }
}

/// Which interpreter command the environment asks for.
pub fn requested() -> (String, &'static str) {
    for knob in KNOBS {
        if let Ok(value) = env::var(knob)
            && !value.trim().is_empty()
        {
            return (value, knob);
        }
    }
    (DEFAULT_COMMAND.to_string(), "the default")
}

/// Runs the probe under the requested interpreter and checks that it can be
/// embedded: headers present, shared libpython present. Every error names the fix.
pub fn discover() -> Result<Interpreter, String> {
    let (requested, requested_by) = requested();
    find(&requested, requested_by)
}

/// Finds and checks the interpreter `requested` names: a path, a command,
/// or a version such as `3.12` (the command `python3.12`, see [`command_for`]).
pub fn find(requested: &str, requested_by: &'static str) -> Result<Interpreter, String> {
    find_with(requested, requested_by, probe)
}

/// [`find`], probing each candidate with `probe` (which may answer from a cache).
pub fn find_with(
    requested: &str,
    requested_by: &'static str,
    probe: impl Fn(&Path) -> Result<String, String>,
) -> Result<Interpreter, String> {
    let requested = requested.to_string();
    let mut failures = Vec::new();
    let mut stdout = None;
    let mut passed_over = Vec::new();
    for candidate in candidates(&command_for(&requested)) {
        match probe(&candidate) {
            Ok(out) => {
                passed_over = failures.clone();
                stdout = Some(out);
                break;
            }
            Err(why) => failures.push(format!("{} {why}", candidate.display())),
        }
    }
    let Some(stdout) = stdout else {
        return Err(format!(
            "cannot use the Python interpreter `{requested}` (chosen by {requested_by}):\n  {}\n\
             Install the interpreters with `scripts/install-pythons`, or set PYHOST_PYTHON to the \
             path of a working interpreter, e.g. PYHOST_PYTHON=/usr/bin/python3.11",
            failures.join("\n  ")
        ));
    };
    let mut found = inspect(requested, requested_by, &stdout)?;
    found.passed_over = passed_over;
    Ok(found)
}

/// Checks one interpreter from what the probe printed: a supported version,
/// the target's pointer size, headers and a shared libpython, each missing
/// piece an error that names the fix. (Also used by `pyhost doctor`.)
pub fn inspect(requested: String, requested_by: &'static str, stdout: &str) -> Result<Interpreter, String> {
    let facts: serde_json::Value = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("the probe printed something that is not JSON ({e}):\n{stdout}"))?;

    let text = |key: &str| facts[key].as_str().unwrap_or_default().to_string();
    let paths = |key: &str| -> Vec<PathBuf> {
        facts[key]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).map(PathBuf::from).collect())
            .unwrap_or_default()
    };
    let major = facts["major"].as_u64().unwrap_or(0) as u32;
    let minor = facts["minor"].as_u64().unwrap_or(0) as u32;
    let version = text("version");
    let supported = (major == 2 && minor == 7) || (major == 3 && minor >= 5);
    if !supported {
        return Err(format!("`{requested}` is Python {version}; pyhost builds against Python 2.7 or 3.5 and later"));
    }
    let python_bits = facts["pointer_size"].as_u64().unwrap_or(0) * 8;
    // In a build script the target's width; at run time, the running binary's.
    let target_bits =
        env::var("CARGO_CFG_TARGET_POINTER_WIDTH").unwrap_or_else(|_| (std::mem::size_of::<usize>() * 8).to_string());
    if python_bits.to_string() != target_bits {
        return Err(format!("`{requested}` is a {python_bits}-bit interpreter but the target is {target_bits}-bit"));
    }

    let mut found = Interpreter {
        requested,
        requested_by,
        major,
        minor,
        version,
        hexversion: facts["hexversion"].as_u64().unwrap_or(0),
        executable: PathBuf::from(text("executable")),
        prefix: text("prefix"),
        abiflags: text("abiflags"),
        gil_disabled: facts["gil_disabled"].as_bool().unwrap_or(false),
        include_dir: PathBuf::new(),
        lib_dir: PathBuf::new(),
        lib_name: format!("python{}", text("ldversion")),
        passed_over: Vec::new(),
    };

    let include_dirs = paths("include_dirs");
    found.include_dir = include_dirs.iter().find(|d| d.join("Python.h").is_file()).cloned().ok_or_else(|| {
        format!(
            "Python {} at {} has no headers: Python.h is in none of {}.\n\
                 Install them: `apt-get install {}` (or run `scripts/install-pythons`).",
            found.version,
            found.executable.display(),
            list(&include_dirs),
            found.dev_package()
        )
    })?;

    let lib_dirs = paths("lib_dirs");
    let file = format!("lib{}.so", found.lib_name);
    found.lib_dir = lib_dirs.iter().find(|d| d.join(&file).exists()).cloned().ok_or_else(|| {
        let hint = if facts["shared"].as_bool() == Some(true) {
            format!("Install it: `apt-get install {}` (or run `scripts/install-pythons`).", found.dev_package())
        } else {
            "This interpreter was built without --enable-shared, so it cannot be embedded \
                 as a shared library; use one that was (scripts/install-pythons provides them)."
                .to_string()
        };
        format!(
            "Python {} at {}: {file} is in none of {}.\n{hint}",
            found.version,
            found.executable.display(),
            list(&lib_dirs)
        )
    })?;
    Ok(found)
}

/// The command for a request: a version such as `3.12` or `3.13t` is
/// `python3.12`/`python3.13t`; anything else is a command or a path as it is.
pub fn command_for(requested: &str) -> String {
    let digits = requested.strip_suffix('t').unwrap_or(requested);
    let is_version = !digits.is_empty()
        && digits.starts_with(|c: char| c.is_ascii_digit())
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.');
    if is_version { format!("python{requested}") } else { requested.to_string() }
}

/// Where to look for a command: a path is taken as it is; a bare name is
/// every match on PATH, in order, then the folders scripts/install-pythons
/// builds into. Trying each in turn gets past a version-manager shim that
/// exists on PATH but does not run (pyenv's `python2.7` when 2.7 is not
/// its selected version).
pub fn candidates(requested: &str) -> Vec<PathBuf> {
    if requested.contains('/') {
        return vec![PathBuf::from(requested)];
    }
    let mut found: Vec<PathBuf> = env::var_os("PATH")
        .map(|path| env::split_paths(&path).map(|dir| dir.join(requested)).collect())
        .unwrap_or_default();
    if let Some(cache) = env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        && let Ok(entries) = std::fs::read_dir(cache.join("pyhost/pythons"))
    {
        let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect();
        dirs.sort();
        found.extend(dirs.into_iter().map(|dir| dir.join(requested)));
    }
    found.retain(|p| p.is_file());
    if found.is_empty() {
        found.push(PathBuf::from(requested)); // so the error says why it cannot run
    }
    found
}

/// Runs the probe under one interpreter: its JSON, or why it failed.
pub fn probe(interpreter: &Path) -> Result<String, String> {
    let output = Command::new(interpreter)
        .arg("-c")
        .arg(PROBE)
        // A user's PYTHONPATH or PYTHONHOME must not change what we learn.
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .output()
        .map_err(|e| format!("cannot be run: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim().replace('\n', " ")
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn list(dirs: &[PathBuf]) -> String {
    let mut out = String::new();
    for (i, d) in dirs.iter().enumerate() {
        let _ = write!(out, "{}{}", if i > 0 { ", " } else { "" }, d.display());
    }
    if out.is_empty() { "(no folders reported)".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::command_for;

    #[test]
    fn a_version_is_a_command_on_path() {
        assert_eq!(command_for("3.12"), "python3.12");
        assert_eq!(command_for("3.13t"), "python3.13t");
        assert_eq!(command_for("2.7"), "python2.7");
        assert_eq!(command_for("python3"), "python3");
        assert_eq!(command_for("/usr/bin/python3.11"), "/usr/bin/python3.11");
    }
}
