//! `pyhost selftest`, `pyhost matrix` and `pyhost doctor`: outcomes judged
//! against manifests, a segfault shown as `crash` and a sleeper as `hang`
//! without stopping the grid, JUnit XML a parser accepts, shards that merge,
//! a baseline's regressions. The matrix builds pyhost (release) against the
//! interpreter this test binary was built for.

mod common;

use std::path::{Path, PathBuf};

use common::{info, pyhost, run};
use serde_json::Value;

fn minor() -> String {
    common::label()
}

fn module(dir: &Path, name: &str, body: &str, manifest: &str) {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("module.py"), body).unwrap();
    std::fs::write(folder.join("manifest.toml"), manifest).unwrap();
}

/// Modules for every outcome, in a folder named `grid`.
fn grid_modules(root: &Path) -> PathBuf {
    let dir = root.join("grid");
    module(
        &dir,
        "passes",
        "import pyhost\n\nclass Passes(pyhost.Module):\n    def self_test(self):\n        assert 7 // 2 == 3\n",
        "[expect]\ndefault = { outcome = \"pass\" }\n",
    );
    module(
        &dir,
        "divides",
        "import pyhost\n\nclass Divides(pyhost.Module):\n    def self_test(self):\n        assert 7 / 2 == 3, 'true division: %r' % (7 / 2)\n",
        "[expect]\ndefault = { outcome = \"pass\" }\n\"3\" = { outcome = \"fail\", reason = \"7 / 2 is 3.5 on Python 3\" }\n",
    );
    module(
        &dir,
        "segfaults",
        "import ctypes\nimport pyhost\n\nclass Segfaults(pyhost.Module):\n    def self_test(self):\n        ctypes.string_at(0)\n",
        "[expect]\ndefault = { outcome = \"crash\", reason = \"reads address 0\" }\n",
    );
    module(
        &dir,
        "sleeps",
        "import time\nimport pyhost\n\nclass Sleeps(pyhost.Module):\n    def self_test(self):\n        while True:\n            time.sleep(1)\n",
        "[expect]\ndefault = { outcome = \"hang\", reason = \"sleeps forever\" }\n[run]\ntimeout = 4\n",
    );
    module(
        &dir,
        "broken",
        "import pyhost\n\nclass Broken(pyhost.Module)\n    pass\n",
        "[expect]\ndefault = { outcome = \"unloadable\", reason = \"missing colon on line 3\" }\n",
    );
    dir
}

fn cell<'a>(result: &'a Value, module: &str) -> &'a Value {
    result["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["module"] == module)
        .unwrap_or_else(|| panic!("{module} not in {result}"))
}

#[test]
fn selftest_judges_each_module_against_its_manifest() {
    let root = tempfile::tempdir().unwrap();
    let dir = grid_modules(root.path());
    let mut command = pyhost(["selftest", "--json", "--jobs", "2"]);
    command.arg(&dir);
    let finished = run(command);
    assert_eq!(finished.code(), 0, "every module does what its manifest says:\n{finished}");
    let report: Value = serde_json::from_str(&finished.stdout).unwrap();
    let outcome = |name: &str| {
        let m = report["modules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["module"] == format!("grid/{name}"))
            .unwrap()
            .clone();
        (m["outcome"].as_str().unwrap().to_string(), m["detail"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(outcome("passes").0, "pass");
    let divides = outcome("divides");
    assert_eq!(divides.0, if minor().starts_with('2') { "pass" } else { "xfail" });
    let crash = outcome("segfaults");
    assert_eq!(crash.0, "crash");
    assert!(crash.1.contains("SIGSEGV"), "the signal is kept: {}", crash.1);
    assert_eq!(outcome("sleeps").0, "hang");
    let broken = outcome("broken");
    assert_eq!(broken.0, "unloadable");
    assert!(broken.1.contains("module.py, line 3"), "{}", broken.1);
}

#[test]
fn an_unexpected_outcome_fails_the_run() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("mods");
    module(
        &dir,
        "wrong",
        "import pyhost\n\nclass Wrong(pyhost.Module):\n    def self_test(self):\n        raise ValueError('no')\n",
        "",
    );
    let mut command = pyhost(["selftest"]);
    command.arg(&dir);
    let finished = run(command);
    assert_eq!(finished.code(), 1, "{finished}");
    assert!(finished.stdout.contains("fail!") && finished.stdout.contains("ValueError: no"), "{finished}");
}

/// The grid under this build's interpreter plus one that does not exist:
/// crash and hang cells do not stop the others, formats parse, shards merge.
#[test]
fn matrix_grid_formats_shards_and_baseline() {
    let root = tempfile::tempdir().unwrap();
    let dir = grid_modules(root.path());
    let version = minor();
    let json = root.path().join("full.json");
    let junit = root.path().join("full.xml");
    let base = |extra: &[&str]| {
        let mut command = pyhost(["matrix", "--python", &version, "--modules"]);
        command.arg(&dir).args(extra);
        command
    };

    let mut command = base(&["--format", "json", "--output"]);
    command.arg(&json);
    let finished = run(command);
    assert_eq!(finished.code(), 0, "{finished}");
    assert!(finished.stdout.contains("grid/segfaults"), "the grid is printed too:\n{finished}");
    let result: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(result["cells"].as_array().unwrap().len(), 5);
    assert_eq!(cell(&result, "grid/segfaults")["outcome"], "crash");
    assert_eq!(cell(&result, "grid/sleeps")["outcome"], "hang");
    assert_eq!(cell(&result, "grid/passes")["outcome"], "pass");
    assert_eq!(cell(&result, "grid/broken")["outcome"], "unloadable");
    assert!(result["cells"].as_array().unwrap().iter().all(|c| c["expected"] == true), "{result}");

    // JUnit XML: one testcase per cell, accepted by an XML parser.
    let mut command = base(&["--format", "junit", "--output"]);
    command.arg(&junit);
    assert_eq!(run(command).code(), 0);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("invalid JUnit XML ({e}):\n{xml}"));
    let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), 5);
    assert!(cases.iter().all(|c| c.children().all(|k| !k.has_tag_name("failure"))), "{xml}");

    // Markdown and HTML come out whole.
    let finished = run(base(&["--format", "markdown"]));
    assert!(
        finished.stdout.starts_with("| module |") && finished.stdout.contains("| `grid/sleeps` | hang |"),
        "{finished}"
    );
    let finished = run(base(&["--format", "html"]));
    assert!(finished.stdout.starts_with("<!DOCTYPE html>") && finished.stdout.trim_end().ends_with("</html>"));

    // Two shards hold every cell once; merged, they are the full grid.
    let mut parts = Vec::new();
    for k in 1..=2 {
        let path = root.path().join(format!("shard{k}.json"));
        let mut command = base(&["--format", "json", "--shard", &format!("{k}/2"), "--output"]);
        command.arg(&path);
        assert_eq!(run(command).code(), 0);
        parts.push(path);
    }
    let counts: Vec<usize> = parts
        .iter()
        .map(|p| {
            serde_json::from_str::<Value>(&std::fs::read_to_string(p).unwrap()).unwrap()["cells"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(counts.iter().sum::<usize>(), 5, "{counts:?}");
    let mut command = pyhost(["matrix", "merge", "--format", "json"]);
    command.args(&parts);
    let finished = run(command);
    assert_eq!(finished.code(), 0, "{finished}");
    let merged: Value = serde_json::from_str(&finished.stdout).unwrap();
    assert_eq!(merged["cells"].as_array().unwrap().len(), 5);

    // Against a baseline where `passes` was something else, its cell is a fix;
    // where it matched and now does not, a regression.
    let mut before = result.clone();
    for c in before["cells"].as_array_mut().unwrap() {
        if c["module"] == "grid/passes" {
            c["outcome"] = "fail".into();
            c["expected"] = false.into();
        }
        if c["module"] == "grid/broken" {
            c["expected"] = true.into();
        }
    }
    let baseline = root.path().join("baseline.json");
    std::fs::write(&baseline, serde_json::to_string(&before).unwrap()).unwrap();
    let mut command = base(&["--baseline"]);
    command.arg(&baseline);
    let finished = run(command);
    assert!(
        finished.stderr.contains("fixes against the baseline: 1") && finished.stderr.contains("grid/passes"),
        "{finished}"
    );
}

#[test]
fn a_missing_interpreter_is_reported_never_passed() {
    let root = tempfile::tempdir().unwrap();
    let dir = grid_modules(root.path());
    let mut command = pyhost(["matrix", "--python", "9.99", "--format", "json", "--modules"]);
    command.arg(&dir);
    let finished = run(command);
    assert_eq!(finished.code(), 1, "{finished}");
    let result: Value = serde_json::from_str(&finished.stdout).unwrap();
    let cells = result["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 5);
    assert!(cells.iter().all(|c| c["outcome"] == "skipped-missing" && c["expected"] == false), "{result}");
    assert_eq!(result["interpreters"][0]["label"], "9.99");
}

#[test]
fn doctor_finds_this_interpreter() {
    let finished = run(pyhost(["doctor", "--json"]));
    assert_eq!(finished.code(), 0, "{finished}");
    let found: Value = serde_json::from_str(&finished.stdout).unwrap();
    let executable = std::fs::canonicalize(info()["executable"].as_str().unwrap()).unwrap();
    let all = found["interpreters"].as_array().unwrap();
    let ours = all.iter().find(|f| f["executable"] == executable.to_str().unwrap());
    let ours = ours.unwrap_or_else(|| panic!("doctor did not list {}:\n{found:#}", executable.display()));
    assert_eq!(ours["embeddable"], true, "{ours}");
}

/// A hang pid file's process is still running: `kill(pid, 0)` succeeds.
const SEES_HANG_RUNNING: &str = r#"import os
import time
import pyhost

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class SeesHangRunning(pyhost.Module):
    def self_test(self):
        marker = os.path.join(HERE, 'hang.pid')
        deadline = time.time() + 60
        while not os.path.exists(marker) and time.time() < deadline:
            time.sleep(0.05)
        with open(marker) as f:
            pid = int(f.read())
        os.kill(pid, 0)  # raises once the hang's cell is over
"#;

/// Cells run at once by default, and a crash or a hang costs only its own
/// cell: while the hang's cell is still running (its process alive), the
/// crash's cell and a third one have run beside it. With `--jobs 1` the
/// third cell runs after the hang's was killed, and fails.
#[test]
fn matrix_cells_run_in_parallel_and_a_hang_holds_only_its_cell() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("par");
    module(
        &dir,
        "a_hangs",
        "import os\nimport time\nimport pyhost\n\nHERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n\n\
         class Hangs(pyhost.Module):\n    def self_test(self):\n        \
         with open(os.path.join(HERE, 'hang.pid.tmp'), 'w') as f:\n            f.write(str(os.getpid()))\n        \
         os.rename(os.path.join(HERE, 'hang.pid.tmp'), os.path.join(HERE, 'hang.pid'))\n        \
         while True:\n            time.sleep(1)\n",
        "[expect]\ndefault = { outcome = \"hang\", reason = \"sleeps forever\" }\n[run]\ntimeout = 10\n",
    );
    module(
        &dir,
        "b_crashes",
        "import ctypes\nimport pyhost\n\nclass Crashes(pyhost.Module):\n    def self_test(self):\n        ctypes.string_at(0)\n",
        "[expect]\ndefault = { outcome = \"crash\", reason = \"reads address 0\" }\n",
    );
    module(
        &dir,
        "c_sees_hang_running",
        SEES_HANG_RUNNING,
        "[expect]\ndefault = { outcome = \"pass\" }\n[run]\ntimeout = 90\n",
    );
    let grid = |jobs: Option<&str>| {
        let _ = std::fs::remove_file(dir.join("hang.pid"));
        let mut command = pyhost(["matrix", "--python", &minor(), "--format", "json", "--modules"]);
        command.arg(&dir);
        if let Some(jobs) = jobs {
            command.args(["--jobs", jobs]);
        }
        let finished = run(command);
        let result: Value = serde_json::from_str(&finished.stdout).unwrap_or_else(|e| panic!("{e}: {finished}"));
        (finished, result)
    };

    let cpus = std::thread::available_parallelism().unwrap().get();
    assert!(cpus >= 2, "this test needs 2 CPUs (the default --jobs is their number), found {cpus}");
    let (finished, result) = grid(None);
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(cell(&result, "par/a_hangs")["outcome"], "hang");
    assert_eq!(cell(&result, "par/b_crashes")["outcome"], "crash");
    assert_eq!(cell(&result, "par/c_sees_hang_running")["outcome"], "pass", "{result}");

    let (finished, result) = grid(Some("1"));
    assert_eq!(finished.code(), 1, "one at a time, the third cell runs after the hang: {finished}");
    assert_eq!(cell(&result, "par/a_hangs")["outcome"], "hang");
    assert_eq!(cell(&result, "par/b_crashes")["outcome"], "crash");
    assert_eq!(cell(&result, "par/c_sees_hang_running")["outcome"], "fail", "{result}");
}

/// On 3.13t a cell says whether its module ran with the GIL and which
/// extension turned it on: rust_ext_a imports rustext, which does not declare
/// itself free-threading-safe. Builds with a GIL have no `gil` in the cell.
#[test]
fn a_cell_names_the_extension_that_turned_the_gil_on() {
    let modules = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("py3-fixtures/rust_ext_a");
    let copy = modules.path().join("rust_ext_a");
    std::fs::create_dir_all(&copy).unwrap();
    for file in ["module.py", "manifest.toml"] {
        std::fs::copy(fixture.join(file), copy.join(file)).unwrap();
    }
    let python = info()["executable"].as_str().unwrap().to_string();
    let mut command = pyhost(["matrix", "--python", &python, "--format", "json", "--modules"]);
    command.arg(modules.path());
    let finished = run(command);
    assert_eq!(finished.code(), 0, "{finished}");
    let result: Value = serde_json::from_str(&finished.stdout).unwrap();
    let cell = &result["cells"][0];
    if info()["gil_disabled"].as_bool().unwrap() {
        assert_eq!(cell["outcome"], "pass", "{result}");
        assert_eq!(cell["gil"], serde_json::json!({ "enabled": true, "because": ["rustext"] }), "{result}");
    } else {
        assert!(cell.get("gil").is_none(), "{result}");
    }
}

/// CI's machine (and this one) has the five versions CI requires, installed
/// by scripts/install-pythons: doctor lists each as required and as the
/// matrix's column for its version, and every other version as an extra.
#[test]
fn doctor_lists_the_required_versions_as_required() {
    let finished = run(pyhost(["doctor", "--json"]));
    assert_eq!(finished.code(), 0, "{finished}");
    let found: Value = serde_json::from_str(&finished.stdout).unwrap();
    const REQUIRED: [&str; 5] = ["2.7", "3.9", "3.11", "3.13", "3.13t"];
    assert_eq!(found["required"], serde_json::json!(REQUIRED));
    assert_eq!(found["missing_required"], serde_json::json!([]), "{found:#}");
    let all = found["interpreters"].as_array().unwrap();
    for version in REQUIRED {
        let column = all.iter().find(|f| f["label"] == version && f["column"] == true);
        let column = column.unwrap_or_else(|| panic!("no column interpreter for {version}:\n{found:#}"));
        assert_eq!(column["required"], true, "{column}");
        assert_eq!(column["embeddable"], true, "{column}");
        let minor = version.trim_end_matches('t');
        assert!(column["version"].as_str().unwrap().starts_with(&format!("{minor}.")), "{column}");
        assert_eq!(column["gil_disabled"], version.ends_with('t'), "{column}");
        assert!(!column["found_in"].as_array().unwrap().is_empty(), "{column}");
    }
    for extra in all.iter().filter(|f| f["label"].as_str().is_some_and(|l| !REQUIRED.contains(&l))) {
        assert_eq!(extra["required"], false, "{extra}");
    }
    // The text lists them under their heading.
    let text = run(pyhost(["doctor"]));
    assert_eq!(text.code(), 0, "{text}");
    let required = text.stdout.split("Extras").next().unwrap();
    for version in REQUIRED {
        let minor = version.trim_end_matches('t');
        assert!(required.contains(&format!("  ok      {version:<6} {minor}.")), "{}", text.stdout);
    }
}

/// Whether `pid` is still a live process (a zombie is not: it has ended and
/// only waits for whoever inherited it to read its status).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// SIGINT or SIGTERM to `pyhost matrix` while a cell runs ends the matrix
/// and every process the cell started, the cell's own children included:
/// each cell runs in a process group of its own (out of reach of the
/// terminal's Ctrl-C), and the kernel ends only a dying parent's direct
/// children, so without the matrix taking the signal a grandchild lives on.
#[test]
fn a_signal_to_the_matrix_leaves_no_process_behind() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("spawns");
        let pid_file = root.path().join("grandchild.pid");
        // 2.7 and 3.x alike: a child that outlives a dead parent, then a hang.
        let body = format!(
            "import os, subprocess, time\nimport pyhost\n\nclass Spawns(pyhost.Module):\n    def self_test(self):\n        \
             child = subprocess.Popen(['sleep', '600'])\n        with open({tmp:?}, 'w') as f:\n            \
             f.write(str(child.pid))\n        os.rename({tmp:?}, {done:?})\n        while True:\n            time.sleep(1)\n",
            tmp = format!("{}.tmp", pid_file.display()),
            done = pid_file.display().to_string(),
        );
        module(
            &dir,
            "spawns",
            &body,
            "[expect]\ndefault = { outcome = \"hang\", reason = \"sleeps\" }\n[run]\ntimeout = 600\n",
        );
        let mut command = pyhost(["matrix", "--format", "json", "--python"]);
        command.arg(info()["executable"].as_str().unwrap()).arg("--modules").arg(&dir);
        let mut matrix = common::spawn(command);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        while !pid_file.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the cell never started its child:\n{}",
                matrix.stderr_so_far()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let grandchild: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(matrix.child.id() as i32, signal) };
        let status = loop {
            if let Some(status) = matrix.child.try_wait().unwrap() {
                break status;
            }
            assert!(std::time::Instant::now() < deadline, "the matrix did not end after signal {signal}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let gone = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while alive(grandchild) && std::time::Instant::now() < gone {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let left = alive(grandchild);
        if left {
            // SAFETY: kill(2) on the process this test's module started.
            unsafe { libc::kill(grandchild, libc::SIGKILL) };
        }
        assert!(!left, "signal {signal}: the cell's child {grandchild} outlived the matrix ({status})");
        let finished = matrix.wait();
        assert_eq!(finished.code(), 130, "signal {signal}: {finished}");
        assert!(finished.stderr.contains("interrupted"), "{finished}");
        assert!(finished.stdout.trim().is_empty(), "an interrupted matrix writes no result: {finished}");
    }
}
