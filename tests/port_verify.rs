//! `pyhost port verify` and `pyhost port fix --write --verify`: the grid
//! before and after a rewrite, the exit status, a rewrite that makes a
//! module worse never written, an interrupted run that writes nothing, and
//! the manifests' [ported.expect]. The cells run under the binary under test
//! (--this-build) or under the release build of its own interpreter, which
//! the matrix tests build too.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{pyhost, run, spawn};
use serde_json::Value;

fn minor() -> String {
    common::label()
}

fn is_py3() -> bool {
    minor().starts_with("3.")
}

fn module(dir: &Path, name: &str, body: &str, manifest: &str) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("module.py"), body).unwrap();
    std::fs::write(folder.join("manifest.toml"), manifest).unwrap();
    folder.join("module.py")
}

/// Python 2 code the rewrite fixes: `iteritems()` fails on 3.x, `.items()` works on both.
const IMPROVES: &str = "import pyhost\n\n\nclass Improves(pyhost.Module):\n    def self_test(self):\n        \
                        total = 0\n        for key, value in {'a': 1, 'b': 2}.iteritems():\n            \
                        total += value\n        assert total == 3\n";

/// A module that refuses to run once its file is modified (as a signed
/// plugin would): any rewrite makes every cell worse, whatever the rules.
/// It passes on every interpreter as written; `has_key` gives the rewrite
/// something to change.
const SIGNED: &str = "import hashlib\nimport os\n\nimport pyhost\n\n\nclass Signed(pyhost.Module):\n    \
                      def legacy(self, table):\n        return table.has_key('x')\n\n    def self_test(self):\n        \
                      here = os.path.dirname(os.path.abspath(__file__))\n        \
                      with open(os.path.join(here, 'module.py'), 'rb') as f:\n            \
                      digest = hashlib.sha256(f.read()).hexdigest()\n        \
                      with open(os.path.join(here, 'module.sha256')) as f:\n            \
                      assert digest == f.read().strip(), 'module.py was modified'\n";

fn signed(dir: &Path) -> PathBuf {
    let path = module(dir, "signed", SIGNED, "[expect]\ndefault = { outcome = \"pass\" }\n");
    let digest = run({
        let mut c = std::process::Command::new("sha256sum");
        c.arg(&path);
        c
    });
    let hex = digest.stdout.split_whitespace().next().unwrap().to_string();
    std::fs::write(path.with_file_name("module.sha256"), hex + "\n").unwrap();
    path
}

fn json_result(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn cell<'a>(result: &'a Value, module: &str) -> &'a Value {
    let cells = result["cells"].as_array().unwrap();
    let found: Vec<&Value> = cells.iter().filter(|c| c["module"] == module).collect();
    assert_eq!(found.len(), 1, "one interpreter, one cell for {module}: {result}");
    found[0]
}

#[test]
fn verify_prints_the_grid_and_exits_0_when_a_module_improves() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("legacy");
    let path = module(
        &dir,
        "improves",
        IMPROVES,
        "[expect]\ndefault = { outcome = \"pass\" }\n\"3\" = { outcome = \"fail\", reason = \"iteritems\" }\n\
         [ported.expect]\ndefault = { outcome = \"pass\" }\n",
    );
    let json = root.path().join("verify.json");
    let mut command = pyhost(["port", "verify", "--this-build", "--format", "json", "--output"]);
    command.arg(&json).arg(&dir);
    let finished = run(command);
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), IMPROVES, "verify writes nothing");

    // The terminal gets the grid, the file the JSON.
    let version = minor();
    let header = finished.stdout.lines().next().unwrap().to_string();
    assert!(header.starts_with("module") && header.ends_with(&version), "{finished}");
    let row = finished.stdout.lines().find(|l| l.starts_with("legacy/improves")).unwrap();
    let result = json_result(&json);
    let c = cell(&result, "legacy/improves");
    assert_eq!(c["after"]["outcome"], "pass", "{c}");
    if is_py3() {
        assert!(row.ends_with("fail → pass ▲"), "{row}");
        assert_eq!((&c["before"]["outcome"], &c["change"]), (&"xfail".into(), &"better".into()), "{c}");
    } else {
        assert!(row.ends_with("pass → pass"), "2.7 passes before and after: {row}");
        assert_eq!(c["change"], "same", "{c}");
    }
    assert_eq!(result["modules"][0]["verdict"], "kept");
    assert_eq!(result["modules"][0]["written"], false);
}

#[test]
fn verify_exits_1_when_a_cell_gets_worse() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("legacy");
    let path = signed(&dir);
    let before = std::fs::read(&path).unwrap();
    let mut command = pyhost(["port", "verify", "--this-build", "--format", "markdown"]);
    command.arg(dir.join("signed"));
    let finished = run(command);
    assert_eq!(finished.code(), 1, "{finished}");
    assert!(finished.stdout.contains("| `legacy/signed` | **pass → fail ▼** |"), "{finished}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// Through the matrix's own run of this interpreter (this binary told to
/// run it): the improving module is written, the one that got worse is
/// left byte for byte and mode as it was, and listed with its cells.
#[test]
fn fix_write_verify_keeps_what_improved_and_never_writes_what_got_worse() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("legacy");
    let improves = module(&dir, "improves", IMPROVES, "");
    let signed = signed(&dir);
    std::fs::set_permissions(&signed, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::set_permissions(&improves, std::fs::Permissions::from_mode(0o751)).unwrap();
    let signed_before = std::fs::read(&signed).unwrap();
    let version = minor();
    let json = root.path().join("fix.json");
    let mut command = pyhost(["port", "fix", "--write", "--verify", "--python", &version]);
    command.arg("--format").arg("json").arg("--output").arg(&json).arg(&dir);
    let finished = run(command);
    assert_eq!(finished.code(), 1, "a cell got worse:\n{finished}");

    let rewritten = std::fs::read_to_string(&improves).unwrap();
    assert!(rewritten.contains(".items()") && !rewritten.contains("iteritems"), "{rewritten}");
    assert_eq!(std::fs::metadata(&improves).unwrap().permissions().mode() & 0o7777, 0o751);
    assert_eq!(std::fs::read(&signed).unwrap(), signed_before, "byte for byte");
    assert_eq!(std::fs::metadata(&signed).unwrap().permissions().mode() & 0o7777, 0o640);
    assert!(
        finished.stdout.contains("written: legacy/improves")
            && finished.stdout.contains(&format!(
                "not written, left byte for byte as it was: legacy/signed ({}; worse: {version} pass → fail)",
                dir.join("signed").display()
            )),
        "{finished}"
    );

    let result = json_result(&json);
    assert_eq!(result["interpreters"][0]["label"], version.as_str());
    let verdicts: Vec<(&str, &str, bool)> = result["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["verdict"].as_str().unwrap(), m["written"].as_bool().unwrap()))
        .collect();
    assert_eq!(verdicts, [("legacy/improves", "kept", true), ("legacy/signed", "rejected", false)]);
    assert_eq!(cell(&result, "legacy/signed")["change"], "worse");

    // Run again: the written module has nothing left to rewrite.
    let mut command = pyhost(["port", "fix", "--write", "--verify", "--this-build"]);
    command.arg(improves.parent().unwrap());
    let finished = run(command);
    assert_eq!(finished.code(), 0, "{finished}");
    assert!(finished.stdout.contains("changes 0 of 1 modules"), "{finished}");
    assert_eq!(std::fs::read_to_string(&improves).unwrap(), rewritten);
}

/// [ported.expect] is what the cells after the rewrite are judged by, in
/// verify and in `pyhost matrix --ported`.
#[test]
fn ported_expectations_are_used() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("legacy");
    // Passes everywhere before; the port cannot make `str is bytes` true on 3.x.
    let body = "import pyhost\n\n\nclass Bytes(pyhost.Module):\n    def legacy(self, table):\n        \
                return table.has_key('x')\n\n    def self_test(self):\n        assert str is bytes or str is not bytes\n";
    module(
        &dir,
        "declares",
        body,
        "[expect]\ndefault = { outcome = \"pass\" }\n[ported.expect]\ndefault = { outcome = \"fail\", reason = \"wrong on purpose\" }\n",
    );
    let mut command = pyhost(["port", "verify", "--this-build"]);
    command.arg(&dir);
    let finished = run(command);
    assert_eq!(finished.code(), 1, "pass after the port, where [ported.expect] says fail:\n{finished}");
    assert!(
        finished.stdout.contains("pass → pass!")
            && finished.stdout.contains("not as [ported.expect] says: legacy/declares on")
            && finished.stdout.contains("xpass (expected fail)"),
        "{finished}"
    );

    // A manifest whose [ported.expect] lacks a reason is refused, naming the key.
    std::fs::write(dir.join("declares/manifest.toml"), "[ported.expect]\n\"3\" = { outcome = \"fail\" }\n").unwrap();
    let mut command = pyhost(["port", "verify", "--this-build"]);
    command.arg(&dir);
    let finished = run(command);
    assert_eq!(finished.code(), 2, "{finished}");
    assert!(finished.stderr.contains("\"ported.expect.3\" (fail) needs a reason"), "{finished}");

    // The matrix judges a ported copy by [ported.expect], and the original by [expect].
    std::fs::write(
        dir.join("declares/manifest.toml"),
        "[expect]\ndefault = { outcome = \"fail\", reason = \"wrong on purpose\" }\n[ported.expect]\ndefault = { outcome = \"pass\" }\n",
    )
    .unwrap();
    let version = minor();
    let matrix = |ported: bool| {
        let mut command = pyhost(["matrix", "--python", &version]);
        if ported {
            command.arg("--ported");
        }
        command.arg("--modules").arg(&dir);
        run(command)
    };
    let finished = matrix(true);
    assert_eq!(finished.code(), 0, "{finished}");
    let finished = matrix(false);
    assert_eq!(finished.code(), 1, "{finished}");
    assert!(finished.stdout.contains("xpass!"), "{finished}");
}

/// SIGINT while the self-tests run: the children are ended, nothing is
/// written, the exit status says so.
#[test]
fn an_interrupted_verify_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("legacy");
    let marker = root.path().join("started");
    let body = format!(
        "import time\n\nimport pyhost\n\n\nclass Slow(pyhost.Module):\n    def legacy(self, table):\n        \
         return table.has_key('x')\n\n    def self_test(self):\n        open({:?}, 'w').close()\n        \
         while True:\n            time.sleep(1)\n",
        marker.to_str().unwrap()
    );
    let path = module(&dir, "slow", &body, "[run]\ntimeout = 100\n");
    let mut command = pyhost(["port", "fix", "--write", "--verify", "--this-build", "--cell-jobs", "1"]);
    command.arg(&dir);
    let running = spawn(command);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while !marker.exists() {
        assert!(std::time::Instant::now() < deadline, "the self-test never started: {}", running.stderr_so_far());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut kill = std::process::Command::new("kill");
    kill.args(["-INT", &running.child.id().to_string()]);
    assert_eq!(run(kill).code(), 0);
    let finished = running.wait();
    assert_eq!(finished.code(), 130, "{finished}");
    assert!(finished.stderr.contains("nothing was written"), "{finished}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), body);
}
