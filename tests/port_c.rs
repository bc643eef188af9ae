//! The C side of `pyhost port check` through the binary: real findings in
//! the C corpus (MySQL-python 1.2.5's _mysql.c, pysqlite 2.8.3's src/*.c,
//! from scripts/fetch-port-corpus), the exit statuses and SARIF 2.1.0.
//! The unit tests per rule are in src/port/c/tests.rs.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

mod common;
use common::{pyhost, run, validate_sarif};

const ALL: &str = "2.7,3.9,3.11,3.13";

fn corpus(name: &str) -> PathBuf {
    let dir = pyhost::cache::dir().unwrap().join("pyhost/corpus").join(name);
    assert!(dir.join(".pyhost-corpus").is_file(), "{} is missing: run scripts/fetch-port-corpus", dir.display());
    dir
}

fn check(args: &[&OsStr]) -> common::Finished {
    let mut command = pyhost(["port", "check"]);
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    run(command)
}

fn json(paths: &[&Path]) -> serde_json::Value {
    let mut args: Vec<&OsStr> = vec!["--format".as_ref(), "json".as_ref(), "--target".as_ref(), ALL.as_ref()];
    args.extend(paths.iter().map(|p| p.as_os_str()));
    let finished = check(&args);
    assert_eq!(finished.code(), 1, "{finished}");
    serde_json::from_str(&finished.stdout).unwrap_or_else(|e| panic!("{e}: {finished}"))
}

/// The finding of `rule` at `file:line`, which must exist once.
fn at<'a>(report: &'a serde_json::Value, file: &str, line: u64, rule: &str) -> &'a serde_json::Value {
    let found: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["path"].as_str().unwrap().ends_with(file) && f["line"] == line && f["rule"] == rule)
        .collect();
    assert_eq!(found.len(), 1, "{rule} at {file}:{line}: {:#}", report["findings"]);
    found[0]
}

fn targets(finding: &serde_json::Value) -> Vec<&str> {
    finding["breaks_targets"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect()
}

#[test]
fn mysql_python_findings_respect_its_is_py3k_branches() {
    let dir = corpus("MySQL-python-1.2.5");
    let report = json(&[&dir.join("_mysql.c")]);
    assert_eq!(report["errors"], serde_json::json!([]));
    // `Py_TYPE(&_mysql_ConnectionObject_Type) = &PyType_Type;` in the IS_PY3K branch: 3.11+.
    for line in [3071, 3072] {
        assert_eq!(targets(at(&report, "_mysql.c", line, "C-LVALUE-PY-TYPE")), ["3.11", "3.13"]);
    }
    // PyUnicode_AS_DATA in the IS_PY3K branch of _mysql_server_init: removed in 3.12.
    assert_eq!(targets(at(&report, "_mysql.c", 297, "C-REMOVED-PY-UNICODE")), ["3.13"]);
    // "s#:escape_string" with no PY_SSIZE_T_CLEAN anywhere: SystemError from 3.10.
    let hash = at(&report, "_mysql.c", 1110, "C-FORMAT-HASH-SSIZE-T");
    assert_eq!((targets(hash), hash["column"].as_u64()), (vec!["3.11", "3.13"], Some(30)));
    // PyModule_Create(&_mysqlmodule) (m_size -1): single-phase, refused by own-GIL interpreters.
    assert_eq!(targets(at(&report, "_mysql.c", 3063, "C-SINGLE-PHASE-INIT")), ["3.13"]);
    // Every PyString_* call, Py_InitModule4 (3067) and `.ob_type =` (3074) sit in the
    // #else of IS_PY3K, and PyInt_* is #defined to PyLong_* on 3.x (lines 30-35): none is a finding.
    let rules: Vec<&str> = report["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    for handled in ["C-PY2-STRING", "C-PY2-INT", "C-PY2-MODULE-INIT", "C-PY2-OB-FIELD", "C-PY2-INIT-FUNCTION"] {
        assert!(!rules.contains(&handled), "{handled}: {rules:?}");
    }
    assert_eq!(report["other_targets"], 0, "handled code is not counted as breaking other targets");
}

#[test]
fn pysqlite_findings_are_the_python_2_api_it_uses() {
    let src = corpus("pysqlite-2.8.3").join("src");
    let report = json(&[&src]);
    assert_eq!(report["errors"], serde_json::json!([]));
    assert!(report["files"].as_u64().unwrap() >= 20, "{}", report["files"]);
    let py3 = ["3.9", "3.11", "3.13"];
    // `PyMODINIT_FUNC init_sqlite(void)` and `Py_InitModule("pysqlite2._sqlite", ...)`.
    let init = at(&report, "module.c", 282, "C-PY2-INIT-FUNCTION");
    assert_eq!(
        (targets(init), init["detail"].as_str()),
        (py3.to_vec(), Some("init_sqlite: define PyInit__sqlite instead"))
    );
    assert_eq!(targets(at(&report, "module.c", 288, "C-PY2-MODULE-INIT")), py3);
    // `self->ob_type->tp_free((PyObject*)self);` in the deallocators.
    assert_eq!(targets(at(&report, "connection.c", 233, "C-PY2-OB-FIELD")), py3);
    assert_eq!(targets(at(&report, "cursor.c", 103, "C-PY2-OB-FIELD")), py3);
    // `(PyObject*)obj->ob_type` where obj is a `PyObject *` parameter compiles on 3.x: not a finding.
    let adapt = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["path"].as_str().unwrap().ends_with("microprotocols.c"));
    assert_eq!(adapt.count(), 0, "microprotocols.c:85");
    // `Py_TPFLAGS_DEFAULT|Py_TPFLAGS_HAVE_ITER|...|Py_TPFLAGS_HAVE_WEAKREFS` (cursor.c:976).
    let flags: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["path"].as_str().unwrap().ends_with("cursor.c") && f["line"] == 976)
        .map(|f| f["detail"].as_str().unwrap().split(':').next().unwrap().to_string())
        .collect();
    assert_eq!(flags, ["Py_TPFLAGS_HAVE_ITER", "Py_TPFLAGS_HAVE_WEAKREFS"]);
    // PyString_Check is a bytes-or-text decision; PyBuffer_Check is the gone buffer object.
    assert_eq!(at(&report, "connection.c", 86, "C-PY2-STRING")["kind"], "decision");
    assert_eq!(targets(at(&report, "connection.c", 507, "C-PY2-BUFFER-OBJECT")), py3);
    // PyObject_AsCharBuffer: kept on 3.x as a wrapper until 3.13 removed it.
    assert_eq!(targets(at(&report, "connection.c", 510, "C-REMOVED-OLD-BUFFER-API")), ["3.13"]);
    // `Py_TYPE(&pysqlite_PrepareProtocolType)= &PyType_Type;` and `(&PyTuple_Type)->tp_print`.
    assert_eq!(targets(at(&report, "prepare_protocol.c", 81, "C-LVALUE-PY-TYPE")), ["3.11", "3.13"]);
    assert_eq!(targets(at(&report, "row.c", 182, "C-REMOVED-TP-PRINT")), ["3.9", "3.11", "3.13"]);
    // Every tp_compare slot of pysqlite is 0: no crash-risk finding.
    let rules: Vec<&str> = report["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert!(!rules.contains(&"C-TP-COMPARE-SLOT"), "{rules:?}");
}

const LEGACY: &str = "#include <Python.h>\n\
static PyObject *f(PyObject *self, PyObject *args)\n{\n    /* PyString_FromString in a comment */\n    \
return PyString_FromString(\"PyInt_FromLong in a string\");\n}\n\
#if PY_MAJOR_VERSION >= 3\n#else\nPyMODINIT_FUNC initspam(void) { Py_InitModule(\"spam\", methods); }\n#endif\n";

#[test]
fn c_findings_render_like_python_ones_and_exit_statuses_match() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("legacy.c");
    std::fs::write(&legacy, LEGACY).unwrap();
    let clean = dir.path().join("clean.c");
    std::fs::write(
        &clean,
        "#define PY_SSIZE_T_CLEAN\n#include <Python.h>\nstatic PyObject *f(void) { return PyLong_FromLong(1); }\n",
    )
    .unwrap();
    // The C side needs no Python tool: a C-only check runs without fissix.
    let without_tools = |args: &[&OsStr]| {
        let mut command = pyhost(["port", "check"]);
        command.args(args).env("PYHOST_PORT_TOOLS", "/nonexistent");
        run(command)
    };
    let target: [&OsStr; 2] = ["--target".as_ref(), ALL.as_ref()];
    let broken = without_tools(&[target[0], target[1], legacy.as_os_str()]);
    assert_eq!(broken.code(), 1, "{broken}");
    let line = format!(
        "{}:5:12: C-PY2-STRING [decision, breaks 3.9 3.11 3.13] PyString_* is gone in Python 3",
        legacy.display()
    );
    assert!(broken.stdout.starts_with(&line), "{broken}");
    assert!(broken.stdout.contains("\n    fix (by hand): PyBytes_* for bytes"), "{broken}");
    assert!(
        broken.stdout.contains("1 findings in 1 of 1 files (0 syntax, 0 removed, 0 semantic, 1 decision)"),
        "{broken}"
    );
    assert_eq!(without_tools(&[target[0], target[1], clean.as_os_str()]).code(), 0);
    assert_eq!(without_tools(&[target[0], "2.7".as_ref(), legacy.as_os_str()]).code(), 0, "2.7 only: fine");
    assert_eq!(without_tools(&[target[0], "3.x".as_ref(), legacy.as_os_str()]).code(), 2);
    // A folder with both languages gives one report; text and JSON agree.
    std::fs::write(dir.path().join("m.py"), "print 'x'\n").unwrap();
    let both = check(&["--format".as_ref(), "json".as_ref(), target[0], target[1], dir.path().as_os_str()]);
    assert_eq!(both.code(), 1, "{both}");
    let report: serde_json::Value = serde_json::from_str(&both.stdout).unwrap();
    let rules: Vec<&str> = report["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["C-PY2-STRING", "PY2-PRINT-STMT"], "{both}");
    assert_eq!(report["files"], 3);
}

#[test]
fn c_sarif_is_valid_sarif_2_1_0() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.sarif");
    let src = corpus("pysqlite-2.8.3").join("src");
    let finished = check(&[
        "--format".as_ref(),
        "sarif".as_ref(),
        "--target".as_ref(),
        ALL.as_ref(),
        "--output".as_ref(),
        out.as_os_str(),
        src.as_os_str(),
        corpus("MySQL-python-1.2.5").join("_mysql.c").as_os_str(),
    ]);
    assert_eq!(finished.code(), 1, "{finished}");
    let log: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let run0 = &log["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run0["results"].as_array().unwrap();
    let init = results.iter().find(|r| r["ruleId"] == "C-PY2-INIT-FUNCTION").unwrap();
    assert_eq!(rules[init["ruleIndex"].as_u64().unwrap() as usize]["id"], "C-PY2-INIT-FUNCTION");
    let location = &init["locations"][0]["physicalLocation"];
    assert!(location["artifactLocation"]["uri"].as_str().unwrap().ends_with("src/module.c"), "{location}");
    assert_eq!(
        (location["region"]["startLine"].as_u64(), location["region"]["startColumn"].as_u64()),
        (Some(282), Some(16))
    );
    assert_eq!(init["level"], "error");
    let validated = validate_sarif(&out);
    assert_eq!((validated.code(), validated.stdout.trim()), (0, "valid"), "{validated}");
    // The check can fail: a C result with a level SARIF does not know.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    std::fs::write(&out, serde_json::to_vec(&broken).unwrap()).unwrap();
    assert_ne!(validate_sarif(&out).code(), 0);
}
