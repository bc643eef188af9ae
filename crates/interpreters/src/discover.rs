//! Every CPython on this machine: where to look, which files are the same
//! interpreter, and which of them pyhost can embed.
//!
//! The search has two steps. The first only reads folders: every
//! `python`, `python2`, `python3`, `python2.7`, `python3.N` and `python3.Nt`
//! in the places version managers and installers use (see [`Places`]). A
//! version manager's shim on PATH is a script, not an interpreter, so it is
//! asked which interpreter it would run (`pyenv which python3.11`) and that
//! interpreter is taken instead; a shim for a version it does not select
//! adds nothing, the versions folder has that one already. Files that are
//! one file (symlinks, `/bin` into `/usr/bin`) are merged by real path.
//!
//! The second step runs the probe (the build script's own, so they never
//! disagree) under each remaining candidate, several at once, through the
//! caller's [`Run`], which bounds each child with a timeout. Interpreters
//! that are one installation under several names (same version and ABI,
//! same real prefix) are merged, keeping every place each was found.
//!
//! This crate knows no command line: the binary's `pyhost doctor` and
//! `pyhost matrix` print and choose from what [`discover`] returns.

use std::collections::BTreeMap;
use std::env;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;

use crate::probe::{PROBE, inspect};

/// The versions CI requires (a missing one is a failure), each installed by
/// scripts/install-pythons; 3.13t is the free-threaded 3.13. Every other
/// version found is an extra.
pub const REQUIRED: [&str; 5] = ["2.7", "3.9", "3.11", "3.13", "3.13t"];

/// Runs a program with arguments, without PYTHONPATH and PYTHONHOME, and
/// gives its stdout or why it failed. The binary bounds it with a timeout
/// and kills the child's process group (src/child.rs); tests may run
/// children directly.
pub type Run<'a> = dyn Fn(&Path, &[&str]) -> Result<String, String> + Sync + 'a;

/// Where an interpreter was found, in the order the search prefers them:
/// when two installations have the same version, the matrix takes the one
/// found first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// Listed by scripts/install-pythons, or built by it into the cache.
    InstallPythons,
    Path,
    Pyenv,
    Uv,
    Asdf,
    Conda,
    UsrLocal,
    Opt,
}

impl Source {
    /// How people call it.
    pub fn describe(self) -> &'static str {
        match self {
            Source::InstallPythons => "scripts/install-pythons",
            Source::Path => "PATH",
            Source::Pyenv => "pyenv",
            Source::Uv => "uv",
            Source::Asdf => "asdf",
            Source::Conda => "conda",
            Source::UsrLocal => "/usr/local",
            Source::Opt => "/opt",
        }
    }
}

/// The folders the search reads. [`Places::from_env`] fills it from the
/// environment; tests point it at fake trees.
#[derive(Debug, Clone, Default)]
pub struct Places {
    /// The folders of PATH, in order.
    pub path: Vec<PathBuf>,
    /// `<cache>/pyhost`: `pythons.txt` (scripts/install-pythons' list) and `pythons/*/bin`.
    pub pyhost_cache: Option<PathBuf>,
    /// `$PYENV_ROOT`, else `~/.pyenv`: `versions/*/bin`.
    pub pyenv_root: Option<PathBuf>,
    /// What `uv python dir` says, else `$UV_PYTHON_INSTALL_DIR` or `~/.local/share/uv/python`: `*/bin`.
    pub uv_pythons: Option<PathBuf>,
    /// `$ASDF_DATA_DIR`, else `~/.asdf`: `installs/python/*/bin`.
    pub asdf_data: Option<PathBuf>,
    /// conda installations and environments: `bin` of each, and `envs/*/bin`.
    pub conda: Vec<PathBuf>,
    /// `/usr/local`: `bin`.
    pub usr_local: Option<PathBuf>,
    /// `/opt`: `*/bin`, and `python/*/bin` (manylinux images).
    pub opt: Option<PathBuf>,
}

impl Places {
    /// The usual places, from HOME, PATH and the tools' own variables.
    /// Runs `uv python dir` when uv is on PATH and `UV_PYTHON_INSTALL_DIR` is not set.
    pub fn from_env(run: &Run) -> Places {
        let home = env::var_os("HOME").map(PathBuf::from);
        let in_home = |rel: &str| home.as_ref().map(|h| h.join(rel));
        let var = |name: &str| env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let path: Vec<PathBuf> = env::var_os("PATH").map(|p| env::split_paths(&p).collect()).unwrap_or_default();
        let uv_pythons = var("UV_PYTHON_INSTALL_DIR")
            .or_else(|| {
                let uv = path.iter().map(|dir| dir.join("uv")).find(|p| p.is_file())?;
                let out = run(&uv, &["python", "dir"]).ok()?;
                Some(PathBuf::from(out.trim())).filter(|p| p.is_absolute())
            })
            .or_else(|| var("XDG_DATA_HOME").map(|d| d.join("uv/python")))
            .or_else(|| in_home(".local/share/uv/python"));
        let mut conda: Vec<PathBuf> = var("CONDA_PREFIX").into_iter().collect();
        conda.extend(["miniconda3", "anaconda3", "miniforge3", "mambaforge"].iter().filter_map(|d| in_home(d)));
        Places {
            pyhost_cache: var("XDG_CACHE_HOME").or_else(|| in_home(".cache")).map(|c| c.join("pyhost")),
            pyenv_root: var("PYENV_ROOT").or_else(|| in_home(".pyenv")),
            uv_pythons,
            asdf_data: var("ASDF_DATA_DIR").or_else(|| in_home(".asdf")),
            conda,
            usr_local: Some(PathBuf::from("/usr/local")),
            opt: Some(PathBuf::from("/opt")),
            path,
        }
    }
}

/// One interpreter, however many names it was found under.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// "3.11", or "3.13t" for a free-threaded build: the matrix's column label.
    /// None when the probe could not run it.
    pub label: Option<String>,
    /// "3.11.2".
    pub version: Option<String>,
    /// The real path of the interpreter.
    pub executable: PathBuf,
    pub prefix: Option<PathBuf>,
    /// Every place it was found, best first.
    pub found_in: Vec<Source>,
    /// Every name that led to it: symlinks, other commands, shims.
    pub found_as: Vec<PathBuf>,
    /// Its version is one CI requires.
    pub required: bool,
    /// It is the one the matrix uses for its version (the first embeddable one found).
    pub column: bool,
    pub embeddable: bool,
    pub include_dir: Option<PathBuf>,
    pub library: Option<PathBuf>,
    pub gil_disabled: bool,
    /// Why it cannot be embedded (or run), and the fix.
    pub problem: Option<String>,
}

impl Found {
    pub fn source(&self) -> Source {
        self.found_in.first().copied().unwrap_or(Source::Path)
    }
}

/// What one search found.
#[derive(Debug, Clone, Serialize)]
pub struct Discovery {
    /// Sorted by version; interpreters that did not run come last.
    pub interpreters: Vec<Found>,
    /// Required versions with no embeddable interpreter.
    pub missing_required: Vec<String>,
    /// Files probed (after merging names of one file).
    pub probed: usize,
    pub seconds: f64,
}

impl Discovery {
    /// The matrix's default columns: each required version (when found) and
    /// every embeddable extra, one interpreter per version, by version.
    pub fn columns(&self) -> impl Iterator<Item = &Found> {
        self.interpreters.iter().filter(|f| f.column)
    }

    /// The column interpreter for a version label ("3.11", "3.13t").
    pub fn for_label(&self, label: &str) -> Option<&Found> {
        self.columns().find(|f| f.label.as_deref() == Some(label))
    }
}

/// The file names an interpreter goes by: `python`, `python2`, `python3`,
/// `python2.7`, `python3.6`..`python3.20` and their free-threaded `t` forms.
pub fn command_names() -> Vec<String> {
    let mut names: Vec<String> = ["python", "python2", "python3", "python2.7"].map(String::from).into();
    for minor in 6..=20 {
        names.push(format!("python3.{minor}"));
        names.push(format!("python3.{minor}t"));
    }
    names
}

/// A file found by name, before it is run.
#[derive(Debug, Clone)]
struct Candidate {
    path: PathBuf,
    source: Source,
    /// The shim or other name that led here, when not `path` itself.
    via: Option<PathBuf>,
}

/// What a version manager's shim says about itself: the manager to ask.
fn shim_manager(path: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path).ok()?.take(4096).read_to_end(&mut head).ok()?;
    if !head.starts_with(b"#!") {
        return None;
    }
    // pyenv: exec "/root/.pyenv/libexec/pyenv" exec "$program" "$@"
    // asdf:  exec /home/u/.asdf/bin/asdf exec "python3" "$@"
    String::from_utf8_lossy(&head).lines().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().map(|w| w.trim_matches(|c| c == '"' || c == '\'')).collect();
        let [first, manager, second, ..] = words.as_slice() else { return None };
        let name = Path::new(manager).file_name()?.to_str()?;
        (*first == "exec" && *second == "exec" && matches!(name, "pyenv" | "asdf")).then(|| PathBuf::from(manager))
    })
}

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `dir/*/` in name order (version folders: 3.10 after 3.9 is fine, the result is sorted later).
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Every file the search should run, with where it came from, shims followed.
fn candidates(places: &Places, names: &[String], run: &Run) -> Vec<Candidate> {
    let mut out = Vec::new();
    let bin = |dir: &Path, source: Source, out: &mut Vec<Candidate>| {
        for name in names {
            let path = dir.join(name);
            if is_executable_file(&path) {
                out.push(Candidate { path, source, via: None });
            }
        }
    };
    if let Some(cache) = &places.pyhost_cache {
        if let Ok(list) = std::fs::read_to_string(cache.join("pythons.txt")) {
            for path in list.lines().filter_map(|l| l.split_whitespace().nth(1)).map(PathBuf::from) {
                if is_executable_file(&path) {
                    out.push(Candidate { path, source: Source::InstallPythons, via: None });
                }
            }
        }
        for dir in subdirs(&cache.join("pythons")) {
            bin(&dir.join("bin"), Source::InstallPythons, &mut out);
        }
    }
    let mut shims = Vec::new();
    for dir in &places.path {
        for name in names {
            let path = dir.join(name);
            if !is_executable_file(&path) {
                continue;
            }
            match shim_manager(&path) {
                Some(manager) => shims.push((path, manager, name.clone())),
                None => out.push(Candidate { path, source: Source::Path, via: None }),
            }
        }
    }
    // `pyenv which` is a shell script that takes a tenth of a second: ask in parallel.
    let resolved = parallel(shims, |(shim, manager, name)| {
        let target = run(&manager, &["which", &name]).ok()?;
        let target = PathBuf::from(target.trim());
        is_executable_file(&target).then_some(Candidate { path: target, source: Source::Path, via: Some(shim) })
    });
    out.extend(resolved.into_iter().flatten());
    if let Some(root) = &places.pyenv_root {
        for dir in subdirs(&root.join("versions")) {
            bin(&dir.join("bin"), Source::Pyenv, &mut out);
        }
    }
    if let Some(uv) = &places.uv_pythons {
        for dir in subdirs(uv) {
            bin(&dir.join("bin"), Source::Uv, &mut out);
        }
    }
    if let Some(asdf) = &places.asdf_data {
        for dir in subdirs(&asdf.join("installs/python")) {
            bin(&dir.join("bin"), Source::Asdf, &mut out);
        }
    }
    for root in &places.conda {
        bin(&root.join("bin"), Source::Conda, &mut out);
        for env in subdirs(&root.join("envs")) {
            bin(&env.join("bin"), Source::Conda, &mut out);
        }
    }
    if let Some(usr_local) = &places.usr_local {
        bin(&usr_local.join("bin"), Source::UsrLocal, &mut out);
    }
    if let Some(opt) = &places.opt {
        for dir in subdirs(opt) {
            bin(&dir.join("bin"), Source::Opt, &mut out);
        }
        for dir in subdirs(&opt.join("python")) {
            bin(&dir.join("bin"), Source::Opt, &mut out);
        }
    }
    out
}

/// Runs `f` over the items on a few threads; results in the items' order.
/// Each item is a child process that mostly waits, so a few more threads
/// than cores is cheap.
fn parallel<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(4, 8).min(items.len());
    let count = items.len();
    let items: Vec<Mutex<Option<T>>> = items.into_iter().map(|i| Mutex::new(Some(i))).collect();
    let results: Vec<Mutex<Option<R>>> = (0..count).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= count {
                        return;
                    }
                    let item = items[i].lock().unwrap().take().expect("each item is taken once");
                    let result = f(item);
                    *results[i].lock().unwrap() = Some(result);
                }
            });
        }
    });
    results.into_iter().map(|r| r.into_inner().unwrap().expect("every item ran")).collect()
}

/// One file, probed: what it is and whether it can be embedded (an
/// interpreter named with `--python PATH`, or a candidate of the search).
pub fn probe_file(path: &Path, run: &Run) -> Found {
    let mut found = Found {
        label: None,
        version: None,
        executable: path.to_path_buf(),
        prefix: None,
        found_in: Vec::new(),
        found_as: Vec::new(),
        required: false,
        column: false,
        embeddable: false,
        include_dir: None,
        library: None,
        gil_disabled: false,
        problem: None,
    };
    // -S: without `site`, which only adds site-packages (and a virtual
    // environment's prefix: -S merges a venv into the interpreter it is made
    // from), nothing the probe reports about headers or libpython; with
    // every .pth file of a well-stocked site-packages, `site` is half the
    // probe's time.
    let stdout = match run(path, &["-S", "-c", PROBE]) {
        Ok(stdout) => stdout,
        Err(why) => {
            found.problem = Some(format!("does not run: {why}"));
            return found;
        }
    };
    let facts: serde_json::Value = match serde_json::from_str(stdout.trim()) {
        Ok(facts) => facts,
        Err(_) => {
            let first = stdout.lines().next().unwrap_or_default();
            found.problem = Some(format!("not a CPython pyhost can probe: it printed {first:?}"));
            return found;
        }
    };
    let text = |key: &str| facts[key].as_str().filter(|s| !s.is_empty()).map(String::from);
    found.version = text("version");
    found.gil_disabled = facts["gil_disabled"].as_bool().unwrap_or(false);
    if let (Some(major), Some(minor)) = (facts["major"].as_u64(), facts["minor"].as_u64()) {
        found.label = Some(format!("{major}.{minor}{}", if found.gil_disabled { "t" } else { "" }));
        found.required = found.label.as_deref().is_some_and(|label| REQUIRED.contains(&label));
    }
    if let Some(executable) = text("executable") {
        found.executable = PathBuf::from(executable);
    }
    found.prefix = text("prefix").map(|p| std::fs::canonicalize(&p).unwrap_or_else(|_| PathBuf::from(p)));
    match inspect(path.display().to_string(), "discovery", &stdout) {
        Ok(python) => {
            found.library = Some(python.library_file());
            found.include_dir = Some(python.include_dir);
            found.embeddable = true;
        }
        Err(message) => found.problem = Some(message.replace('\n', " ")),
    }
    found
}

/// Sorting key: "3.9.2" before "3.11.0"; unknown versions last.
pub fn version_key(version: Option<&str>) -> (bool, Vec<u32>) {
    match version {
        Some(v) => (false, v.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse().ok()).collect()),
        None => (true, Vec::new()),
    }
}

/// Every interpreter in `places`, each once, probed through `run`.
pub fn discover(places: &Places, run: &Run) -> Discovery {
    let started = Instant::now();
    let names = command_names();

    // Merge names of one file before running anything: the first place wins.
    let mut files: Vec<(PathBuf, Vec<Candidate>)> = Vec::new();
    let mut index: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for candidate in candidates(places, &names, run) {
        let real = std::fs::canonicalize(&candidate.path).unwrap_or_else(|_| candidate.path.clone());
        match index.get(&real) {
            Some(&i) => files[i].1.push(candidate),
            None => {
                index.insert(real.clone(), files.len());
                files.push((real, vec![candidate]));
            }
        }
    }
    let probed = files.len();
    let results = parallel(files, |(real, names)| (probe_file(&real, run), names));

    // Merge one installation found as several files: same version, ABI and real prefix.
    let mut interpreters: Vec<Found> = Vec::new();
    for (found, names) in results {
        let i = match interpreters.iter().position(|f| same_installation(f, &found)) {
            Some(i) => i,
            None => {
                interpreters.push(found);
                interpreters.len() - 1
            }
        };
        let target = &mut interpreters[i];
        for candidate in names {
            if !target.found_in.contains(&candidate.source) {
                target.found_in.push(candidate.source);
            }
            for path in [Some(candidate.path), candidate.via].into_iter().flatten() {
                if path != target.executable && !target.found_as.contains(&path) {
                    target.found_as.push(path);
                }
            }
        }
    }
    for found in &mut interpreters {
        // Best place first, the rest in the order found.
        if let Some(best) = found.found_in.iter().min().copied() {
            found.found_in.retain(|s| *s != best);
            found.found_in.insert(0, best);
        }
    }

    // One column per version: the embeddable one found in the best place.
    let mut best: BTreeMap<String, usize> = BTreeMap::new();
    for (i, found) in interpreters.iter().enumerate() {
        let Some(label) = found.label.clone().filter(|_| found.embeddable) else { continue };
        match best.get(&label) {
            Some(&j) if interpreters[j].source() <= found.source() => {}
            _ => {
                best.insert(label, i);
            }
        }
    }
    for &i in best.values() {
        interpreters[i].column = true;
    }
    let missing_required = REQUIRED.iter().filter(|v| !best.contains_key(**v)).map(|v| v.to_string()).collect();
    interpreters.sort_by(|a, b| {
        (version_key(a.version.as_deref()), a.gil_disabled, !a.column, a.source()).cmp(&(
            version_key(b.version.as_deref()),
            b.gil_disabled,
            !b.column,
            b.source(),
        ))
    });
    Discovery { interpreters, missing_required, probed, seconds: started.elapsed().as_secs_f64() }
}

/// Two files of one installation: the same version and ABI under the same
/// real prefix (a copy, a hard link, a wrapper). Files that did not run are
/// only the same as themselves.
fn same_installation(a: &Found, b: &Found) -> bool {
    match (&a.version, &a.prefix, &b.version, &b.prefix) {
        (Some(_), Some(_), Some(_), Some(_)) => {
            a.version == b.version && a.gil_disabled == b.gil_disabled && a.prefix == b.prefix
        }
        _ => a.executable == b.executable,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::process::Command;

    use super::*;

    /// Runs children directly (the binary adds a timeout; these fakes end at once).
    fn run(program: &Path, args: &[&str]) -> Result<String, String> {
        loop {
            match Command::new(program).args(args).env_remove("PYTHONPATH").env_remove("PYTHONHOME").output() {
                // Another test thread may hold a just-written script open across
                // its fork for a moment: exec says "text file busy", try again.
                Err(e) if e.raw_os_error() == Some(26) => std::thread::sleep(std::time::Duration::from_millis(10)),
                Err(e) => return Err(e.to_string()),
                Ok(out) if !out.status.success() => {
                    return Err(format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
                }
                Ok(out) => return Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
            }
        }
    }

    fn script(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A script that answers the probe as a CPython `version` installed in
    /// `prefix` would, with headers there, and libpython when `embeddable`.
    fn fake_python(path: &Path, version: &str, prefix: &Path, embeddable: bool) -> PathBuf {
        let free = version.ends_with('t');
        let version = version.trim_end_matches('t');
        let parts: Vec<&str> = version.split('.').collect();
        let ld = format!("{}.{}{}", parts[0], parts[1], if free { "t" } else { "" });
        let include = prefix.join(format!("include/python{ld}"));
        let lib = prefix.join("lib");
        std::fs::create_dir_all(&include).unwrap();
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(include.join("Python.h"), "").unwrap();
        if embeddable {
            std::fs::write(lib.join(format!("libpython{ld}.so")), "").unwrap();
        }
        let json = format!(
            r#"{{"major": {}, "minor": {}, "micro": {}, "version": "{version}", "hexversion": 1,
               "executable": "'"$(readlink -f "$0")"'", "prefix": "{}", "include_dirs": ["{}"],
               "lib_dirs": ["{}"], "ldversion": "{ld}", "abiflags": "{}", "shared": true,
               "gil_disabled": {free}, "pointer_size": 8}}"#,
            parts[0],
            parts[1],
            parts[2],
            prefix.display(),
            include.display(),
            lib.display(),
            if free { "t" } else { "" },
        )
        .replace('\n', " ");
        script(path, &format!("#!/bin/sh\necho '{json}'\n"));
        path.to_path_buf()
    }

    fn labels(discovery: &Discovery) -> Vec<String> {
        discovery.interpreters.iter().map(|f| f.label.clone().unwrap_or_else(|| "?".into())).collect()
    }

    #[test]
    fn names_of_one_file_are_one_interpreter() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let real = fake_python(&bin.join("python3.8"), "3.8.18", dir.path(), true);
        symlink(&real, bin.join("python3")).unwrap();
        symlink("python3", bin.join("python")).unwrap();
        let places = Places { path: vec![bin.clone()], ..Places::default() };

        let discovery = discover(&places, &run);
        assert_eq!(discovery.probed, 1, "the symlinks are not run again");
        assert_eq!(labels(&discovery), ["3.8"]);
        let found = &discovery.interpreters[0];
        assert_eq!(found.executable, real.canonicalize().unwrap());
        assert_eq!(found.found_in, [Source::Path]);
        assert!(found.found_as.contains(&bin.join("python3")) && found.found_as.contains(&bin.join("python")));
        assert!(found.embeddable && found.column && !found.required, "{found:?}");
        assert_eq!(found.version.as_deref(), Some("3.8.18"));
    }

    /// pyenv's layout: versions/<v>/bin, and shims on PATH that run
    /// `libexec/pyenv exec <name>`; `pyenv which <name>` names the selected one.
    fn fake_pyenv(root: &Path, selected: &str) {
        fake_python(&root.join("versions/3.7.16/bin/python3.7"), "3.7.16", &root.join("versions/3.7.16"), true);
        symlink("python3.7", root.join("versions/3.7.16/bin/python")).unwrap();
        fake_python(&root.join("versions/3.12.1/bin/python3.12"), "3.12.1", &root.join("versions/3.12.1"), true);
        script(
            &root.join("libexec/pyenv"),
            &format!(
                "#!/bin/sh\n\
                 if [ \"$1\" = which ] && [ \"$2\" = {selected} ]; then echo {}/versions/3.7.16/bin/{selected}; exit 0; fi\n\
                 echo \"pyenv: $2: command not found\" >&2; exit 127\n",
                root.display()
            ),
        );
        for name in ["python", "python3.7", "python3.12", "python3.9"] {
            script(
                &root.join("shims").join(name),
                &format!(
                    "#!/usr/bin/env bash\nset -e\nprogram=\"${{0##*/}}\"\nexport PYENV_ROOT=\"{0}\"\n\
                     exec \"{0}/libexec/pyenv\" exec \"$program\" \"$@\"\n",
                    root.display()
                ),
            );
        }
    }

    #[test]
    fn pyenv_versions_are_found_and_its_shims_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("pyenv");
        fake_pyenv(&root, "python3.7");
        let places = Places { path: vec![root.join("shims")], pyenv_root: Some(root.clone()), ..Places::default() };

        let discovery = discover(&places, &run);
        // The shims for 3.12 and 3.9 (not selected) add nothing; no shim is run as a Python.
        assert_eq!(labels(&discovery), ["3.7", "3.12"], "{discovery:#?}");
        let selected = &discovery.interpreters[0];
        assert_eq!(selected.found_in, [Source::Path, Source::Pyenv]);
        assert!(selected.found_as.contains(&root.join("shims/python3.7")), "{selected:?}");
        assert_eq!(discovery.interpreters[1].found_in, [Source::Pyenv]);
        assert!(discovery.interpreters.iter().all(|f| f.problem.is_none()), "{discovery:#?}");
    }

    #[test]
    fn a_shim_is_recognized_by_its_exec_line() {
        let dir = tempfile::tempdir().unwrap();
        let pyenv = dir.path().join("pyenv-shim");
        script(&pyenv, "#!/usr/bin/env bash\nset -e\nexec \"/root/.pyenv/libexec/pyenv\" exec \"$program\" \"$@\"\n");
        let asdf = dir.path().join("asdf-shim");
        script(
            &asdf,
            "#!/usr/bin/env bash\n# asdf-plugin: python 3.11.0\nexec /home/u/.asdf/bin/asdf exec \"python3\" \"$@\"\n",
        );
        let wrapper = dir.path().join("wrapper");
        script(&wrapper, "#!/bin/sh\nexec /usr/bin/python3 \"$@\"\n");
        assert_eq!(shim_manager(&pyenv), Some(PathBuf::from("/root/.pyenv/libexec/pyenv")));
        assert_eq!(shim_manager(&asdf), Some(PathBuf::from("/home/u/.asdf/bin/asdf")));
        assert_eq!(shim_manager(&wrapper), None);
    }

    #[test]
    fn copies_of_one_installation_are_one_interpreter() {
        // Two files, not links, with the same version under the same prefix.
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("py");
        let usr_local = dir.path().join("usr-local");
        let opt = dir.path().join("opt");
        fake_python(&usr_local.join("bin/python3.10"), "3.10.13", &prefix, true);
        fake_python(&opt.join("py310/bin/python3.10"), "3.10.13", &prefix, true);
        // A different version in the same prefix is another interpreter.
        fake_python(&opt.join("py310/bin/python3.6"), "3.6.15", &prefix, true);
        let places = Places { usr_local: Some(usr_local), opt: Some(opt.clone()), ..Places::default() };

        let discovery = discover(&places, &run);
        assert_eq!(discovery.probed, 3);
        assert_eq!(labels(&discovery), ["3.6", "3.10"], "{discovery:#?}");
        assert_eq!(discovery.interpreters[1].found_in, [Source::UsrLocal, Source::Opt]);
        assert!(discovery.interpreters[1].found_as.contains(&opt.join("py310/bin/python3.10")));
    }

    #[test]
    fn required_versions_extras_and_what_cannot_be_embedded() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache/pyhost");
        let p27 = fake_python(&cache.join("pythons/2.7/bin/python2.7"), "2.7.18", &cache.join("pythons/2.7"), true);
        // Listed by install-pythons, with no libpython: found, but no column.
        let bin = dir.path().join("usr/bin");
        let p39 = fake_python(&bin.join("python3.9"), "3.9.2", &dir.path().join("usr"), false);
        std::fs::write(cache.join("pythons.txt"), format!("2.7 {}\n3.9 {}\n", p27.display(), p39.display())).unwrap();
        let free = dir.path().join("free");
        fake_python(&free.join("bin/python3.13t"), "3.13.5t", &free, true);
        script(&bin.join("python3.15"), "#!/bin/sh\necho 'broken install' >&2\nexit 1\n");
        let places = Places { path: vec![bin], pyhost_cache: Some(cache), conda: vec![free], ..Places::default() };

        let discovery = discover(&places, &run);
        assert_eq!(labels(&discovery), ["2.7", "3.9", "3.13t", "?"], "{discovery:#?}");
        let [p27, p39, p313t, broken] = &discovery.interpreters[..] else { unreachable!() };
        assert!(p27.required && p27.column && p27.embeddable);
        assert_eq!(p27.found_in, [Source::InstallPythons]);
        assert!(p39.required && !p39.column && !p39.embeddable);
        assert_eq!(p39.found_in, [Source::InstallPythons, Source::Path]);
        let problem = p39.problem.as_deref().unwrap();
        assert!(problem.contains("libpython3.9.so is in none of"), "{problem}");
        assert!(problem.contains("scripts/install-pythons"), "the fix is named: {problem}");
        assert!(p313t.gil_disabled && p313t.required && p313t.column, "3.13t is required: {p313t:?}");
        assert!(broken.label.is_none() && !broken.embeddable);
        assert!(broken.problem.as_deref().unwrap().contains("broken install"), "{broken:?}");
        assert_eq!(discovery.missing_required, ["3.9", "3.11", "3.13"]);
        assert_eq!(discovery.columns().map(|f| f.label.clone().unwrap()).collect::<Vec<_>>(), ["2.7", "3.13t"]);
        assert!(discovery.for_label("3.9").is_none());
    }

    #[test]
    fn one_column_per_version_from_the_best_place() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("pyenv");
        fake_python(&root.join("versions/3.11.7/bin/python3.11"), "3.11.7", &root.join("versions/3.11.7"), true);
        let cache = dir.path().join("pyhost");
        let ours = fake_python(&cache.join("pythons/3.11/bin/python3.11"), "3.11.2", &cache.join("pythons/3.11"), true);
        let uv = dir.path().join("uv");
        fake_python(&uv.join("cpython-3.12.8-linux-x86_64-gnu/bin/python3.12"), "3.12.8", &uv.join("u"), true);
        let asdf = dir.path().join("asdf");
        fake_python(&asdf.join("installs/python/3.12.1/bin/python3.12"), "3.12.1", &asdf.join("a"), true);
        let places = Places {
            pyenv_root: Some(root),
            pyhost_cache: Some(cache),
            uv_pythons: Some(uv),
            asdf_data: Some(asdf),
            ..Places::default()
        };

        let discovery = discover(&places, &run);
        let columns: Vec<(&str, Source)> =
            discovery.columns().map(|f| (f.version.as_deref().unwrap(), f.source())).collect();
        assert_eq!(columns, [("3.11.2", Source::InstallPythons), ("3.12.8", Source::Uv)], "{discovery:#?}");
        assert_eq!(discovery.for_label("3.11").unwrap().executable, ours.canonicalize().unwrap());
        assert_eq!(discovery.interpreters.len(), 4, "the others are listed, not dropped");
        assert_eq!(discovery.missing_required, ["2.7", "3.9", "3.13", "3.13t"]);
    }

    #[test]
    fn conda_environments_are_searched() {
        let dir = tempfile::tempdir().unwrap();
        let conda = dir.path().join("miniconda3");
        fake_python(&conda.join("bin/python3.12"), "3.12.2", &conda, true);
        fake_python(&conda.join("envs/old/bin/python3.8"), "3.8.20", &conda.join("envs/old"), true);
        let places = Places { conda: vec![conda], ..Places::default() };
        let discovery = discover(&places, &run);
        assert_eq!(labels(&discovery), ["3.8", "3.12"]);
        assert!(discovery.interpreters.iter().all(|f| f.found_in == [Source::Conda]));
    }
}
