//! One binary for every interpreter: `--python` and PYHOST_PYTHON choose it
//! when pyhost starts, the compat layer is built once per interpreter and
//! cached, children of pyhost run the same interpreter, and what cannot work
//! is one clear error. The interpreters are the ones scripts/install-pythons
//! lists (2.7, 3.9, 3.11, 3.13, 3.13t), whichever this run's default is.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{pyhost, run};
use serde_json::Value;

/// "<version> <path>" from scripts/install-pythons' list.
fn installed() -> Vec<(String, PathBuf)> {
    let list = pyhost::cache::dir().unwrap().join("pyhost/pythons.txt");
    let text = std::fs::read_to_string(&list)
        .unwrap_or_else(|e| panic!("{} is missing ({e}): run scripts/install-pythons", list.display()));
    let found: Vec<(String, PathBuf)> =
        text.lines().filter_map(|l| l.split_once(' ')).map(|(v, p)| (v.to_string(), PathBuf::from(p.trim()))).collect();
    for required in ["2.7", "3.9", "3.11", "3.13", "3.13t"] {
        assert!(found.iter().any(|(v, _)| v == required), "Python {required} is not installed: {text}");
    }
    found
}

/// "3.13" for the free-threaded "3.13t", whose version is 3.13's.
fn with_gil(version: &str) -> &str {
    version.strip_suffix('t').unwrap_or(version)
}

/// The interpreter's own answer for its version.
fn version_of(executable: &Path) -> String {
    let mut command = Command::new(executable);
    command.args(["-c", "import sys; print('%d.%d.%d' % tuple(sys.version_info[:3]))"]);
    let finished = run(command);
    assert_eq!(finished.code(), 0, "{finished}");
    finished.stdout.trim().to_string()
}

fn info_json(mut command: Command) -> Value {
    command.args(["info", "--json"]);
    let finished = run(command);
    assert_eq!(finished.code(), 0, "{finished}");
    serde_json::from_str(&finished.stdout).expect("info --json prints JSON")
}

/// pyhost with the run's PYHOST_PYTHON removed, so only what the test sets chooses.
fn bare(args: &[&str]) -> Command {
    let mut command = pyhost(args);
    command.env_remove("PYHOST_PYTHON");
    command
}

#[test]
fn the_flag_chooses_each_interpreter_and_info_says_where_it_came_from() {
    for (version, path) in installed() {
        let mut command = bare(&["--python"]);
        command.arg(&path);
        let info = info_json(command);
        assert_eq!(info["version"].as_str().unwrap(), version_of(&path), "{info}");
        assert!(info["runtime_version"].as_str().unwrap().starts_with(with_gil(&version)), "{info}");
        assert_eq!(info["gil_disabled"], version.ends_with('t'), "{info}");
        assert_eq!(info["chosen_by"], "flag", "{info}");
        for key in ["compat_object", "library", "executable"] {
            let file = info[key].as_str().unwrap();
            assert!(Path::new(file).is_file(), "{key} {file} is not a file: {info}");
        }
        // py3.13.5-<hash>.so, py3.13.5t-<hash>.so: one object per ABI.
        let object = info["compat_object"].as_str().unwrap();
        let abi = if version.ends_with('t') { "t-" } else { "-" };
        assert!(object.contains(&format!("/pyhost/compat/py{}", version_of(&path))), "{info}");
        assert!(object.contains(&format!("{}{abi}", version_of(&path))), "{info}");
    }
}

#[test]
fn a_version_is_found_on_path_and_the_environment_chooses_without_the_flag() {
    let info = info_json(bare(&["--python", "2.7"]));
    assert!(info["version"].as_str().unwrap().starts_with("2.7."), "{info}");
    assert_eq!(info["requested"], "2.7");

    let (_, path) = installed().into_iter().find(|(v, _)| v == "3.9").unwrap();
    let mut command = bare(&[]);
    command.env("PYHOST_PYTHON", &path);
    let info = info_json(command);
    assert!(info["version"].as_str().unwrap().starts_with("3.9."), "{info}");
    assert_eq!(info["chosen_by"], "environment");

    // The flag wins over the environment.
    let mut command = bare(&["--python", "2.7"]);
    command.env("PYHOST_PYTHON", &path);
    let info = info_json(command);
    assert!(info["version"].as_str().unwrap().starts_with("2.7."), "{info}");
    assert_eq!(info["chosen_by"], "flag");
}

/// A module whose self_test passes only under Python `major.minor`.
fn version_module(dir: &Path, major: &str, minor: &str) {
    let module = dir.join("which");
    std::fs::create_dir_all(&module).unwrap();
    std::fs::write(
        module.join("module.py"),
        format!(
            "import sys\nimport pyhost\n\nclass Which(pyhost.Module):\n    def self_test(self):\n        \
             if tuple(sys.version_info[:2]) != ({major}, {minor}):\n            \
             raise AssertionError('runs %r' % (sys.version_info[:2],))\n"
        ),
    )
    .unwrap();
}

/// `pyhost selftest` runs each module in a child process of pyhost: the
/// child must run the interpreter the parent was told to, not the default.
#[test]
fn children_of_pyhost_run_the_interpreter_it_was_told_to() {
    for (version, path) in installed() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("mods");
        let (major, minor) = with_gil(&version).split_once('.').unwrap();
        version_module(&dir, major, minor);
        let mut command = bare(&["--python"]);
        command.arg(&path).args(["selftest", "--json"]).arg(&dir);
        let finished = run(command);
        assert_eq!(finished.code(), 0, "the cell ran another interpreter than {version}:\n{finished}");
        let report: Value = serde_json::from_str(&finished.stdout).unwrap();
        assert!(report["interpreter"].as_str().unwrap().starts_with(&format!("{}.", with_gil(&version))), "{report}");
        assert_eq!(report["modules"][0]["outcome"], "pass", "{report}");
    }
}

#[test]
fn the_compat_object_is_cached_per_interpreter_and_safe_to_build_at_once() {
    let cache = tempfile::tempdir().unwrap();
    let pythons = installed();
    // Four pyhosts for one interpreter, started at once on an empty cache.
    let (_, first) = &pythons[0];
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let mut command = bare(&["--python"]);
            command.arg(first).args(["info", "--json"]).env("XDG_CACHE_HOME", cache.path());
            common::spawn(command)
        })
        .collect();
    let objects: Vec<String> = starts
        .into_iter()
        .map(|s| {
            let finished = s.wait();
            assert_eq!(finished.code(), 0, "{finished}");
            let info: Value = serde_json::from_str(&finished.stdout).unwrap();
            info["compat_object"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(objects.iter().all(|o| o == &objects[0]), "{objects:?}");
    let object = PathBuf::from(&objects[0]);
    assert!(object.starts_with(cache.path()), "{object:?}");
    let built = std::fs::metadata(&object).unwrap().modified().unwrap();

    // Reused as it is; another interpreter gets an object of its own.
    let mut command = bare(&["--python"]);
    command.arg(first).env("XDG_CACHE_HOME", cache.path());
    assert_eq!(info_json(command)["compat_object"].as_str().unwrap(), objects[0]);
    assert_eq!(std::fs::metadata(&object).unwrap().modified().unwrap(), built, "rebuilt although cached");
    let (_, second) = &pythons[1];
    let mut command = bare(&["--python"]);
    command.arg(second).env("XDG_CACHE_HOME", cache.path());
    assert_ne!(info_json(command)["compat_object"].as_str().unwrap(), objects[0]);
    let left: Vec<_> = std::fs::read_dir(object.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "only the two objects, no temporary files: {left:?}");
}

/// Each failure is one error naming what to do, exit status 2, no panic.
fn fails_clearly(mut command: Command, expected: &[&str]) {
    command.arg("info");
    let finished = run(command);
    assert_eq!(finished.code(), 2, "{finished}");
    assert!(!finished.stderr.contains("panicked"), "{finished}");
    for text in expected {
        assert!(finished.stderr.contains(text), "`{text}` is not in the error:\n{finished}");
    }
}

#[test]
fn a_missing_compiler_or_interpreter_is_one_clear_error() {
    let (_, path) = &installed()[0];
    let cache = tempfile::tempdir().unwrap();
    let mut command = bare(&["--python"]);
    command.arg(path).env("XDG_CACHE_HOME", cache.path()).env("CC", "/nonexistent/cc");
    fails_clearly(command, &["no C compiler", "`/nonexistent/cc`", "apt-get install gcc"]);

    fails_clearly(
        bare(&["--python", "9.99"]),
        &["cannot use the Python interpreter `9.99`", "scripts/install-pythons"],
    );
}

/// The compat object runs as the host: one kept in a folder another user
/// can write is never loaded, and the error names the fix.
#[test]
fn a_compat_folder_others_can_write_is_refused_with_its_fix() {
    use std::os::unix::fs::PermissionsExt;
    let (_, path) = &installed()[0];
    let cache = tempfile::tempdir().unwrap();
    let shared = cache.path().join("pyhost");
    std::fs::create_dir_all(shared.join("compat")).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut command = bare(&["--python"]);
    command.arg(path).env("XDG_CACHE_HOME", cache.path());
    let writable = format!("{} is writable by group and others", shared.display());
    let fix = format!("chmod go-w {}", shared.display());
    fails_clearly(command, &["cannot keep the compat object", &writable, &fix]);
}

/// Without HOME (a service under systemd) the compat object is kept in a
/// folder of the user's own under TMPDIR, not in one every user shares.
#[test]
fn without_a_home_the_compat_object_is_kept_in_a_folder_of_the_users_own() {
    let (_, path) = &installed()[0];
    let tmp = tempfile::tempdir().unwrap();
    let mut command = bare(&["--python"]);
    command.arg(path).arg("info").env_remove("HOME").env_remove("XDG_CACHE_HOME").env("TMPDIR", tmp.path());
    let finished = run(command);
    assert_eq!(finished.code(), 0, "{finished}");
    let folder = tmp.path().join(format!("pyhost-{}/compat", pyhost::ownership::effective_uid()));
    let objects: Vec<_> = std::fs::read_dir(&folder).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(objects.iter().any(|name| name.to_string_lossy().ends_with(".so")), "{objects:?} in {}", folder.display());
}

/// CC as make reads it: a command and its arguments (`ccache gcc` is the
/// common case; `env gcc -O1` stands in for it, ccache is not installed here).
#[test]
fn a_compiler_with_arguments_in_cc_builds_compat() {
    let (_, path) = &installed()[0];
    let cache = tempfile::tempdir().unwrap();
    let mut command = bare(&["--python"]);
    command.arg(path).arg("info").env("XDG_CACHE_HOME", cache.path()).env("CC", " env  gcc -O1 ");
    let finished = run(command);
    assert_eq!(finished.code(), 0, "{finished}");
    assert!(finished.stdout.contains("running Python"), "{finished}");
}

/// `false` as the compiler: the compat object does not come out. That is the
/// matrix column's build error, as a failing cargo build was.
#[test]
fn compat_that_does_not_build_is_the_matrix_columns_build_error() {
    let (version, path) = installed().into_iter().next().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut command = bare(&["--python"]);
    command.arg(&path).env("XDG_CACHE_HOME", cache.path()).env("CC", "false");
    fails_clearly(command, &[&format!("compat layer does not compile against Python {version}")]);

    let dir = cache.path().join("mods");
    let (major, minor) = version.split_once('.').unwrap();
    version_module(&dir, major, minor);
    let mut command = bare(&["matrix", "--format", "json", "--python"]);
    command.arg(&path).arg("--modules").arg(&dir).env("XDG_CACHE_HOME", cache.path()).env("CC", "false");
    let finished = run(command);
    assert_eq!(finished.code(), 1, "{finished}");
    let result: Value = serde_json::from_str(&finished.stdout).unwrap();
    assert_eq!(result["cells"][0]["outcome"], "build-error", "{result}");
    assert!(result["interpreters"][0]["problem"].as_str().unwrap().contains("does not compile"), "{result}");
}
