//! `pyhost port check` and `pyhost port fix` on the legacy fixtures and the
//! PyPI corpus (scripts/fetch-port-corpus), through the binary.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{pyhost, run, validate_sarif};

const ALL: &str = "2.7,3.9,3.11,3.13";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn port<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> common::Finished {
    let mut command = pyhost(["port"]);
    command.args(args).current_dir(root());
    run(command)
}

fn json_check(paths: &[&str], targets: &str) -> serde_json::Value {
    let mut args = vec!["check", "--format", "json", "--target", targets];
    args.extend(paths);
    let finished = port(&args);
    assert!(finished.code() <= 1, "{finished}");
    serde_json::from_str(&finished.stdout).unwrap_or_else(|e| panic!("{e}: {finished}"))
}

/// (file, line, rule) of every finding.
fn findings(report: &serde_json::Value) -> Vec<(String, u64, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (f["path"].as_str().unwrap().to_string(), f["line"].as_u64().unwrap(), f["rule"].as_str().unwrap().into())
        })
        .collect()
}

/// The interpreters scripts/install-pythons installed, by version.
fn python(version: &str) -> PathBuf {
    let list = pyhost::cache::dir().unwrap().join("pyhost/pythons.txt");
    let text = std::fs::read_to_string(&list)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/install-pythons", list.display()));
    text.lines()
        .find_map(|l| l.split_once(' ').filter(|(v, _)| *v == version).map(|(_, p)| PathBuf::from(p.trim())))
        .unwrap_or_else(|| panic!("Python {version} is not installed: run scripts/install-pythons"))
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn corpus(name: &str) -> PathBuf {
    let dir = pyhost::cache::dir().unwrap().join("pyhost/corpus").join(name);
    assert!(dir.join(".pyhost-corpus").is_file(), "{} is missing: run scripts/fetch-port-corpus", dir.display());
    dir
}

#[test]
fn check_finds_each_legacy_fixture_construct_at_its_line() {
    let report = json_check(&["py2-fixtures"], ALL);
    let found = findings(&report);
    let expected = [
        ("print_statement/module.py", 24, "PY2-PRINT-STMT"),
        ("print_statement/module.py", 9, "PY2-RENAMED-MODULE"),
        ("except_comma/module.py", 18, "PY2-EXCEPT-COMMA"),
        ("except_comma/module.py", 24, "PY2-RAISE-COMMA"),
        ("dict_iteritems/module.py", 21, "PY2-DICT-ITER"),
        ("dict_iteritems/module.py", 40, "PY2-DICT-LIST"),
        ("integer_division/module.py", 14, "PY2-INT-DIVISION"),
        ("string_letters/module.py", 14, "PY2-STRING-CONSTANT"),
        ("configparser_readfp/module.py", 32, "PY-REMOVED-CONFIGPARSER-READFP"),
        ("configparser_readfp/module.py", 31, "PY-REMOVED-SAFECONFIGPARSER"),
        ("unicode_basestring/module.py", 18, "PY2-BUILTIN-REMOVED"),
        ("implicit_relative_import/lib/__init__.py", 4, "PY2-IMPLICIT-RELATIVE-IMPORT"),
        ("implicit_relative_import/lib/helpers.py", 10, "PY2-ITERATOR-LIST"),
        ("sort_mixed_types/module.py", 18, "PY2-ORDER-MIXED-TYPES"),
        ("graphite_str_socket/module.py", 18, "PY2-BYTES-TEXT"),
        ("old_style_class/module.py", 12, "PY2-OLD-STYLE-CLASS"),
    ];
    for (file, line, rule) in expected {
        assert!(
            found.iter().any(|(p, l, r)| p.ends_with(file) && *l == line && r == rule),
            "{rule} at {file}:{line} not found in {found:#?}"
        );
    }
    let division = report["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "PY2-INT-DIVISION").unwrap();
    assert_eq!(division["kind"], "decision");
    assert_eq!(division["auto"], false);
    let readfp = report["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "PY-REMOVED-CONFIGPARSER-READFP");
    assert_eq!(readfp.unwrap()["breaks"], ">=3.12");
    assert_eq!(readfp.unwrap()["breaks_targets"], serde_json::json!(["3.13"]));
    // The ported fixtures are clean.
    for clean in ["six_ported", "future_imports"] {
        assert!(!found.iter().any(|(p, _, _)| p.contains(clean)), "{clean}: {found:#?}");
    }
}

#[test]
fn exit_status_is_0_clean_1_broken_2_usage() {
    assert_eq!(port(["check", "--target", ALL, "py2-fixtures/six_ported"]).code(), 0);
    assert_eq!(port(["check", "--target", ALL, "py2-fixtures/print_statement"]).code(), 1);
    assert_eq!(port(["check", "--target", "2.7,3.x", "py2-fixtures"]).code(), 2);
    assert_eq!(port(["check"]).code(), 2);
    assert_eq!(port(["check", "--target", ALL, "/nonexistent/folder"]).code(), 2);
    assert_eq!(port(["fix", "--style", "py4", "py2-fixtures"]).code(), 2);
    // A removal counts only for the targets it breaks.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.py"), "import asyncore\n").unwrap();
    let path = dir.path().join("m.py");
    assert_eq!(port([OsStr::new("check"), OsStr::new("--target"), OsStr::new("2.7,3.11"), path.as_os_str()]).code(), 0);
    let broken = port([OsStr::new("check"), OsStr::new("--target"), OsStr::new("3.11,3.12"), path.as_os_str()]);
    assert_eq!(broken.code(), 1, "{broken}");
    assert!(broken.stdout.contains("PY-REMOVED-ASYNCORE [removed, breaks 3.12]"), "{broken}");
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("port.sarif");
    let finished = port([
        OsStr::new("check"),
        OsStr::new("--format"),
        OsStr::new("sarif"),
        OsStr::new("--target"),
        OsStr::new(ALL),
        OsStr::new("--output"),
        out.as_os_str(),
        OsStr::new("py2-fixtures"),
    ]);
    assert_eq!(finished.code(), 1, "{finished}");
    assert!(finished.stdout.contains("findings in"), "the terminal gets the text report: {finished}");
    let log: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let run0 = &log["runs"][0];
    assert_eq!(run0["tool"]["driver"]["rules"].as_array().unwrap().len(), pyhost::port::rules::all().len());
    let result = run0["results"].as_array().unwrap().iter().find(|r| r["ruleId"] == "PY2-EXCEPT-COMMA").unwrap();
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(location["region"]["startLine"], 18);
    assert!(location["artifactLocation"]["uri"].as_str().unwrap().ends_with("except_comma/module.py"));
    assert_eq!(result["level"], "error");
    // Against the SARIF 2.1.0 schema, with jsonschema, both from scripts/fetch-port-tools.
    let validated = validate_sarif(&out);
    assert_eq!(validated.code(), 0, "{validated}");
    assert_eq!(validated.stdout.trim(), "valid");
    // And a log that breaks the schema is caught: the check can fail.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    std::fs::write(&out, serde_json::to_vec(&broken).unwrap()).unwrap();
    assert_ne!(validate_sarif(&out).code(), 0);
}

#[test]
fn fix_prints_a_diff_and_write_is_idempotent_and_the_result_compiles() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("py2-fixtures");
    copy_tree(&root().join("py2-fixtures"), &copy);
    let before = std::fs::read(copy.join("except_comma/module.py")).unwrap();
    let diff = port([OsStr::new("fix"), OsStr::new("--target"), OsStr::new(ALL), copy.as_os_str()]);
    assert_eq!(diff.code(), 0, "{diff}");
    assert!(diff.stdout.contains("-            except ValueError, e:\n+            except ValueError as e:"), "{diff}");
    assert_eq!(std::fs::read(copy.join("except_comma/module.py")).unwrap(), before, "no --write: nothing written");
    let mode = std::fs::metadata(copy.join("except_comma/module.py")).unwrap().permissions();
    for style in ["dual", "py3"] {
        let styled = dir.path().join(style);
        copy_tree(&copy, &styled);
        let written = port([
            OsStr::new("fix"),
            OsStr::new("--style"),
            OsStr::new(style),
            OsStr::new("--write"),
            OsStr::new("--target"),
            OsStr::new(ALL),
            styled.as_os_str(),
        ]);
        assert_eq!(written.code(), 0, "{written}");
        assert!(written.stderr.contains("decision"), "{written}");
        let fixed = std::fs::read_to_string(styled.join("except_comma/module.py")).unwrap();
        assert!(fixed.contains("except ValueError as e:"), "{fixed}");
        assert_eq!(std::fs::metadata(styled.join("except_comma/module.py")).unwrap().permissions(), mode);
        let again = port([
            OsStr::new("fix"),
            OsStr::new("--style"),
            OsStr::new(style),
            OsStr::new("--target"),
            OsStr::new(ALL),
            styled.as_os_str(),
        ]);
        assert_eq!(again.code(), 0, "{again}");
        assert_eq!(again.stdout, "", "a second fix changes nothing ({style})");
        // Every fixed file at least compiles where it must run.
        let pythons: &[&str] = if style == "dual" { &["2.7", "3.13"] } else { &["3.13"] };
        for version in pythons {
            let mut command = Command::new(python(version));
            command.args([
                "-c",
                "import sys, py_compile\nfor p in sys.argv[1:]: py_compile.compile(p, doraise=True, cfile=p + 'c.tmp')",
            ]);
            // The folder also holds a module's C part (legacy_cext): py_compile takes only the Python.
            let files = pyhost::port::files::collect(std::slice::from_ref(&styled)).unwrap();
            for file in files.into_iter().filter(|f| f.extension().is_some_and(|e| e == "py")) {
                command.arg(file);
            }
            let compiled = run(command);
            assert_eq!(compiled.code(), 0, "{style} under {version}: {compiled}");
        }
        // What is left is what a person must do: no syntax findings remain.
        let targets = if style == "dual" { ALL } else { "3.9,3.11,3.13" };
        let left = json_check(&[styled.to_str().unwrap()], targets);
        let syntax: Vec<_> = left["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "syntax").collect();
        assert!(syntax.is_empty(), "{style}: {syntax:#?}");
    }
}

#[test]
fn a_file_with_an_unparseable_statement_gets_the_rest_fixed() {
    let dir = tempfile::tempdir().unwrap();
    // Not UTF-8 in its name or its bytes (latin-1, declared): nothing may be lost.
    let name = OsStr::from_bytes(b"caf\xe9.py");
    let path = dir.path().join(name);
    let source = b"# -*- coding: latin-1 -*-\nprint 'caf\xe9'\nx = 1 +* 2\nif d.has_key('k'):\n    print 'k'\n";
    std::fs::write(&path, source).unwrap();
    let check = port([
        OsStr::new("check"),
        OsStr::new("--format"),
        OsStr::new("json"),
        OsStr::new("--target"),
        OsStr::new(ALL),
        dir.path().as_os_str(),
    ]);
    let report: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    let rules: Vec<_> = findings(&report).into_iter().map(|(_, l, r)| (l, r)).collect();
    assert_eq!(
        rules,
        [
            (2, "PY2-PRINT-STMT".into()),
            (3, "PARSE-ERROR".into()),
            (4, "PY2-DICT-HAS-KEY".into()),
            (5, "PY2-PRINT-STMT".into())
        ],
        "{check}"
    );
    let fixed =
        port([OsStr::new("fix"), OsStr::new("--write"), OsStr::new("--target"), OsStr::new(ALL), path.as_os_str()]);
    assert_eq!(fixed.code(), 0, "{fixed}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"# -*- coding: latin-1 -*-\nprint('caf\xe9')\nx = 1 +* 2\nif 'k' in d:\n    print('k')\n"
    );
}

#[test]
fn check_reads_all_of_python_openid_without_crashing() {
    let dir = corpus("python-openid-2.2.5");
    let report = json_check(&[dir.to_str().unwrap()], ALL);
    assert_eq!(report["errors"], serde_json::json!([]), "files the tool could not process");
    assert!(report["files"].as_u64().unwrap() >= 44, "{}", report["files"]);
    let found = findings(&report);
    assert!(
        found.iter().any(|(p, _, r)| p.ends_with("openid/oidutil.py") && r == "PY2-EXCEPT-COMMA"
            || p.contains("openid/") && r == "PY2-RENAMED-MODULE"),
        "{found:#?}"
    );
    assert!(!found.iter().any(|(_, _, r)| r == "PARSE-ERROR"), "python-openid parses: {found:#?}");
}

/// The corpus files where the rewrite met real code: what check names there
/// and what fix leaves (BeautifulSoup 3.2.2, ordereddict 1.1).
#[test]
fn the_corpus_gaps_are_named_or_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let soup = dir.path().join("BeautifulSoup.py");
    let ordered = dir.path().join("ordereddict.py");
    std::fs::copy(corpus("BeautifulSoup-3.2.2").join("BeautifulSoup.py"), &soup).unwrap();
    std::fs::copy(corpus("ordereddict-1.1").join("ordereddict.py"), &ordered).unwrap();
    let report = json_check(&[dir.path().to_str().unwrap()], ALL);
    let all = report["findings"].as_array().unwrap();
    let at = |file: &str, line: u64, rule: &str| -> Vec<&serde_json::Value> {
        all.iter()
            .filter(|f| f["path"].as_str().unwrap().ends_with(file) && f["line"] == line && f["rule"] == rule)
            .collect()
    };
    // Lambdas with tuple parameters (lines 573 and 1842): fixed by fix, not left.
    for line in [573, 1842] {
        let found = at("BeautifulSoup.py", line, "PY2-TUPLE-PARAMS");
        assert_eq!(found.len(), 1, "line {line}: {all:#?}");
        assert_eq!(found[0]["auto"], true, "{:#?}", found[0]);
    }
    // sgmllib (lines 86 and 91): removed in 3.0, and what replaces it is named.
    for line in [86, 91] {
        let found = at("BeautifulSoup.py", line, "PY2-REMOVED-MODULE");
        assert_eq!(found.len(), 1, "line {line}: {all:#?}");
        assert_eq!((&found[0]["kind"], &found[0]["breaks"]), (&"removed".into(), &">=3.0".into()));
        assert!(found[0]["detail"].as_str().unwrap().contains("sgmllib3k (PyPI)"), "{:#?}", found[0]);
    }
    // UserDict.DictMixin (line 23): named, with what replaces it, and never rewritten.
    let found = at("ordereddict.py", 23, "PY2-RENAMED-MODULE-NAME");
    assert_eq!(found.len(), 1, "{all:#?}");
    assert_eq!(found[0]["auto"], false);
    assert!(found[0]["detail"].as_str().unwrap().contains("collections.abc.MutableMapping"), "{:#?}", found[0]);
    let fixed = port([
        OsStr::new("fix"),
        OsStr::new("--write"),
        OsStr::new("--target"),
        OsStr::new(ALL),
        dir.path().as_os_str(),
    ]);
    assert_eq!(fixed.code(), 0, "{fixed}");
    let ordered_text = std::fs::read_to_string(&ordered).unwrap();
    assert_eq!(ordered_text.lines().nth(22), Some("from UserDict import DictMixin"), "{ordered_text}");
    assert!(!ordered_text.contains("from collections import DictMixin"));
    let soup_text = std::fs::read_to_string(&soup).unwrap();
    assert!(soup_text.contains("convert = lambda k_val: (k_val[0],"), "the lambda at line 573");
    assert!(soup_text.contains("(lambda x: self._subMSChar(x.group(1)),"), "the lambda at line 1842");
    let left = json_check(&[dir.path().to_str().unwrap()], ALL);
    let rules: Vec<_> = findings(&left).into_iter().map(|(_, _, r)| r).collect();
    assert!(!rules.iter().any(|r| r == "PY2-TUPLE-PARAMS" || r == "PARSE-ERROR"), "{rules:#?}");
    assert!(rules.iter().any(|r| r == "PY2-RENAMED-MODULE-NAME"), "{rules:#?}");
}
