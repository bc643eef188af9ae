//! Placement verdicts kept from one start to the next (host/kept_verdicts.rs):
//! a second start reuses them without running the probe's child on the
//! module, a changed file the module imports sends it back to the probe, a
//! moved module leaves no entry behind, and
//! a damaged entry is ignored, never fatal. Each start is a whole `pyhost run
//! --for`, on the same module folder, with a placement cache of its own.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{self, Finished};
use crate::harness::module;

/// Appends `probe` or `host` to the file `imports` beside it at each import:
/// which processes imported it, in order. Imports `helper` beside it.
const TELLS_WHO_IMPORTS: &str = r#"
import os

import pyhost

with open('/proc/self/cmdline', 'rb') as _cmdline:
    _who = 'probe' if b'__probe' in _cmdline.read().split(b'\0') else 'host'
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'imports'), 'a') as _out:
    _out.write(_who + '\n')

import helper


class TellsWhoImports(pyhost.Module):
    pass
"#;

const HELPER: &str = "VALUE = 1\n";

/// rustext is PyO3's: it refuses every interpreter but its first importer (3.x only).
const HELPER_WITH_RUSTEXT: &str = "import rustext\n\nVALUE = 2\n";

const KEPT: &str = "kept from an earlier probe";

struct Folder {
    dir: tempfile::TempDir,
}

impl Folder {
    fn new() -> Folder {
        let folder = Folder { dir: tempfile::tempdir().unwrap() };
        let module = folder.module_dir();
        std::fs::create_dir_all(&module).unwrap();
        std::fs::write(module.join("module.py"), TELLS_WHO_IMPORTS).unwrap();
        std::fs::write(module.join("helper.py"), HELPER).unwrap();
        std::fs::write(
            folder.dir.path().join("pyhost.toml"),
            "module_dirs = [\"modules\"]\nenable = \"all\"\ntick_interval = 0\n\
             python_path = [\"{cache}/pyhost/site/{python_version}\"]\n",
        )
        .unwrap();
        folder
    }

    fn module_dir(&self) -> PathBuf {
        self.dir.path().join("modules/who")
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("placement")
    }

    /// One start to the end of `--for`: its output and report.
    fn run(&self, extra: &[&str]) -> (Finished, Value) {
        let report = self.dir.path().join("report.json");
        let _ = std::fs::remove_file(&report);
        let config = self.dir.path().join("pyhost.toml");
        let mut command = common::pyhost(["run", "--for", "0.5", "--config"]);
        command.arg(&config).arg("--report").arg(&report).args(extra).env("PYHOST_PLACEMENT_CACHE", self.cache());
        let finished = common::run(command);
        assert_eq!(finished.code(), 0, "{finished}");
        assert!(!finished.stderr.contains("Fatal Python error"), "{finished}");
        let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        (finished, report)
    }

    /// Who imported the module since the last call.
    fn imports(&self) -> Vec<String> {
        let file = self.module_dir().join("imports");
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let _ = std::fs::remove_file(&file);
        text.lines().map(str::to_string).collect()
    }

    fn entries(&self) -> Vec<PathBuf> {
        let listed = std::fs::read_dir(self.cache()).map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>());
        listed.unwrap_or_default().into_iter().filter(|p| p.extension().is_some_and(|e| e == "json")).collect()
    }
}

fn placement(report: &Value) -> String {
    module(report, "who")["placement"].as_str().unwrap_or_default().to_string()
}

fn has_rustext() -> bool {
    !crate::harness::is_py2()
}

fn state_is_stopped(report: &Value) {
    assert_eq!(module(report, "who")["state"], "stopped", "{report}");
}

fn is_kept_entry(path: &Path) -> bool {
    serde_json::from_slice::<Value>(&std::fs::read(path).unwrap()).is_ok()
}

#[test]
fn a_second_start_reuses_the_probe_verdict_and_reprobe_ignores_it() {
    let folder = Folder::new();
    let (_, first) = folder.run(&[]);
    state_is_stopped(&first);
    assert_eq!(folder.imports(), ["probe", "host"], "the first start probes");
    assert!(!placement(&first).contains(KEPT), "{first}");
    assert_eq!(folder.entries().len(), 1, "one verdict kept in {}", folder.cache().display());

    let (_, second) = folder.run(&[]);
    state_is_stopped(&second);
    assert_eq!(folder.imports(), ["host"], "the probe's child did not import it again");
    assert!(placement(&second).contains(KEPT), "{second}");
    assert_ne!(module(&second, "who")["isolation"], "main", "{second}");

    let (_, third) = folder.run(&["--reprobe"]);
    state_is_stopped(&third);
    assert_eq!(folder.imports(), ["probe", "host"], "--reprobe probes again");
    assert!(!placement(&third).contains(KEPT), "{third}");
}

#[test]
fn a_changed_import_sends_the_module_back_to_the_probe() {
    let folder = Folder::new();
    let (_, first) = folder.run(&[]);
    assert_ne!(module(&first, "who")["isolation"], "main", "{first}");
    let (_, second) = folder.run(&[]);
    assert!(placement(&second).contains(KEPT), "{second}");
    assert_eq!(folder.imports(), ["probe", "host", "host"]);

    // helper.py, not module.py, changes: from now on it imports an extension
    // that refuses every interpreter but its first importer.
    let changed = if has_rustext() { HELPER_WITH_RUSTEXT } else { "VALUE = 2  # changed\n" };
    std::fs::write(folder.module_dir().join("helper.py"), changed).unwrap();
    let (finished, third) = folder.run(&[]);
    state_is_stopped(&third);
    assert_eq!(folder.imports(), ["probe", "host"], "the changed helper was probed");
    assert!(!placement(&third).contains(KEPT), "{third}");
    if has_rustext() {
        // Placed in main from the start, as a first probe would: the main
        // interpreter is rustext's first and only importer.
        assert_eq!(module(&third, "who")["isolation"], "main", "{third}\n{finished}");
        assert!(placement(&third).contains("rustext"), "{third}");
        assert!(!finished.stderr.contains("at load"), "placed by the probe, not by the fallback:\n{finished}");
    }
}

#[test]
fn a_damaged_kept_verdict_is_ignored_and_the_module_probed() {
    let folder = Folder::new();
    folder.run(&[]);
    folder.imports();
    let entries = folder.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    std::fs::write(&entries[0], b"{\"question\": {\"identity\": \"half of a fi").unwrap();

    let (finished, second) = folder.run(&[]);
    state_is_stopped(&second);
    assert!(finished.stderr.contains("is damaged"), "{finished}");
    assert_eq!(folder.imports(), ["probe", "host"], "probed again");
    assert!(!placement(&second).contains(KEPT), "{second}");
    assert!(is_kept_entry(&entries[0]), "the new verdict replaced the damaged one");
}

#[test]
fn probe_cache_false_neither_keeps_nor_reuses_a_probe_verdict() {
    let folder = Folder::new();
    let config = folder.dir.path().join("pyhost.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}probe_cache = false\n")).unwrap();
    for _ in 0..2 {
        let (_, report) = folder.run(&[]);
        state_is_stopped(&report);
        assert_eq!(folder.imports(), ["probe", "host"], "probed at every start");
        assert!(!placement(&report).contains(KEPT), "{report}");
    }
    assert!(folder.entries().is_empty(), "nothing kept: {:?}", folder.entries());
}

#[test]
fn a_moved_module_leaves_no_kept_verdict_behind() {
    let folder = Folder::new();
    folder.run(&[]);
    let old = folder.entries();
    assert_eq!(old.len(), 1, "{old:?}");
    let cache = folder.cache();
    std::fs::write(cache.join("damaged.json"), b"{\"question\": {").unwrap();
    // The temporary files of hosts writing an entry: one killed two hours
    // ago, one that may still be renaming its file into place.
    let (killed, writing) = (cache.join(".verdict-killed"), cache.join(".verdict-writing"));
    std::fs::write(&killed, b"{").unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options().write(true).open(&killed).unwrap().set_modified(two_hours_ago).unwrap();
    std::fs::write(&writing, b"{").unwrap();

    let moved = folder.dir.path().join("moved");
    std::fs::create_dir(&moved).unwrap();
    std::fs::rename(folder.module_dir(), moved.join("who")).unwrap();
    let config = folder.dir.path().join("pyhost.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace("[\"modules\"]", "[\"moved\"]");
    std::fs::write(&config, text).unwrap();

    let (finished, report) = folder.run(&[]);
    state_is_stopped(&report);
    assert!(!placement(&report).contains(KEPT), "a moved module is probed: {report}\n{finished}");
    let entries = folder.entries();
    assert_eq!(entries.len(), 1, "only the moved module's verdict is left: {entries:?}");
    let entry: Value = serde_json::from_slice(&std::fs::read(&entries[0]).unwrap()).unwrap();
    let module_path = entry["question"]["module"].as_str().unwrap_or_default();
    assert!(Path::new(module_path).starts_with(&moved), "{entry}");
    assert!(!killed.exists(), "a killed host's temporary file is removed");
    assert!(writing.exists(), "a recent temporary file is left to the host writing it");
}
