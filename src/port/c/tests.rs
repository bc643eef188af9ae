//! Unit tests per rule of port/rules/c.toml: each rule's construct is found
//! at its line, and not found inside a comment, a string literal, or the
//! branch of a Python-version `#if` that only older versions compile.

use super::cond::Versions;
use super::scan_source;
use crate::port::rules::{self, Breaks};
use crate::port::{Version, c_handled};

/// (rule, a snippet with the construct on its last line).
const CASES: &[(&str, &str)] = &[
    ("C-PY2-MODULE-INIT", "m = Py_InitModule3(\"spam\", methods, doc);"),
    ("C-PY2-INIT-FUNCTION", "PyMODINIT_FUNC initspam(void) { }"),
    ("C-PY2-FIND-METHOD", "return Py_FindMethod(methods, self, name);"),
    ("C-PY2-METH-OLDARGS", "static PyMethodDef m[] = {{\"f\", f, METH_OLDARGS}};"),
    ("C-SINGLE-PHASE-INIT", "m = PyModule_Create(&def);"),
    ("C-PY2-STRING", "s = PyString_AsString(o);"),
    ("C-PY2-INT", "i = PyInt_AsLong(o);"),
    ("C-PY2-OBJECT-API", "r = PyObject_Unicode(o);"),
    ("C-PY2-BUFFER-OBJECT", "b = PyBuffer_New(10);"),
    ("C-PY2-COBJECT", "c = PyCObject_FromVoidPtr(p, NULL);"),
    (
        "C-TP-COMPARE-SLOT",
        "static PyTypeObject T = {\nPyObject_HEAD_INIT(NULL) 0, \"m.T\", sizeof(O), 0, (destructor)d, 0, 0, 0,\n(cmpfunc)compare, 0 };",
    ),
    ("C-PY2-TYPE-SLOT", "T.tp_compare = compare;"),
    ("C-PY2-TPFLAGS-HAVE", "flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_ITER;"),
    ("C-REMOVED-TP-PRINT", "T.tp_print = print;"),
    ("C-LVALUE-PY-REFCNT", "Py_REFCNT(o) = 1;"),
    ("C-LVALUE-PY-TYPE", "Py_TYPE(&T) = &PyType_Type;"),
    ("C-PY2-OB-FIELD", "self->ob_type->tp_free((PyObject *)self);"),
    ("C-FORMAT-HASH-SSIZE-T", "#include <Python.h>\nok = PyArg_ParseTuple(args, \"s#:f\", &s, &n);"),
    ("C-FORMAT-PY-UNICODE", "ok = PyArg_ParseTuple(args, \"Zu:f\", &z, &u);"),
    ("C-FORMAT-OLD-BUFFER", "ok = PyArg_ParseTuple(args, \"w|i:f\", &buf, &i);"),
    ("C-REMOVED-PY-UNICODE", "p = PyUnicode_AS_UNICODE(o);"),
    ("C-REMOVED-UNICODE-ENCODE", "b = PyUnicode_EncodeUTF8(u, n, NULL);"),
    ("C-REMOVED-CALL-API", "r = PyEval_CallObject(f, args);"),
    ("C-REMOVED-OLD-BUFFER-API", "PyObject_AsCharBuffer(o, &p, &n);"),
    ("C-REMOVED-THREAD-API", "PyEval_AcquireLock();"),
    ("C-EMBED-WCHAR", "Py_SetProgramName(argv[0]);"),
    ("C-REMOVED-SET-PATH", "PySys_SetPath(path);"),
];

fn v(text: &str) -> Version {
    text.parse().unwrap()
}

/// (rule, line, versions) of what a snippet's scan reports, handled ones left out.
fn scan(src: &str) -> Vec<(&'static str, u32, Versions)> {
    scan_source(None, src.as_bytes())
        .findings
        .into_iter()
        .filter(|f| !c_handled(f))
        .map(|f| (f.rule, f.line, f.versions))
        .collect()
}

fn first_broken(rule: &str) -> Version {
    match rules::get(rule).unwrap().breaks {
        Breaks::From(from) => from,
        Breaks::Before(_) => panic!("{rule}: C rules break from a version"),
    }
}

#[test]
fn every_c_rule_has_a_case() {
    for (rule, _) in rules::c() {
        assert!(CASES.iter().any(|(r, _)| *r == rule.id), "{} has no unit test case", rule.id);
    }
}

#[test]
fn each_rule_finds_its_construct_at_its_line() {
    for (rule, snippet) in CASES {
        let src = format!("/* header */\n{snippet}\n");
        let line = src.lines().count() as u32;
        let found = scan(&src);
        let hit = found.iter().find(|(r, _, _)| r == rule);
        let Some((_, at, versions)) = hit else { panic!("{rule} not found in {src:?}: {found:?}") };
        assert_eq!(*at, line, "{rule}: {found:?}");
        assert!(versions.contains(first_broken(rule)), "{rule}: {found:?}");
        assert!(found.iter().all(|(r, _, _)| r == rule), "{rule}: only its rule fires: {found:?}");
    }
}

#[test]
fn nothing_is_found_in_comments() {
    for (rule, snippet) in CASES {
        let block = format!("/* {snippet}\n */\n");
        assert_eq!(scan(&block), [], "{rule} in a block comment");
        let lines: String = snippet.lines().map(|l| format!("// {l}\n")).collect();
        assert_eq!(scan(&lines), [], "{rule} in line comments");
    }
}

#[test]
fn nothing_is_found_in_strings() {
    for (rule, snippet) in CASES {
        let escaped = snippet.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let src = format!("static const char *doc = \"{escaped}\";\n");
        assert_eq!(scan(&src), [], "{rule} in {src}");
    }
}

/// The construct in the `#else` of a condition on the version that broke
/// it: `#if PY_MAJOR_VERSION >= 3` for Python 2 APIs, `#if PY_VERSION_HEX
/// >= 0x030C0000` for a 3.12 removal, and the conventional `#ifdef IS_PY3K`.
#[test]
fn nothing_is_found_in_the_branch_for_older_versions() {
    for (rule, snippet) in CASES {
        let from = first_broken(rule);
        let mut guards = vec![format!("#if PY_VERSION_HEX >= 0x{:02X}{:02X}0000", from.major, from.minor)];
        if from == v("3.0") {
            guards.push("#if PY_MAJOR_VERSION >= 3".into());
            guards.push("#ifdef IS_PY3K".into());
            guards.push("#if PY_MAJOR_VERSION < 3\n#else".into());
        }
        for guard in guards {
            let negative = if guard.ends_with("#else") {
                // The construct in the 3.x branch is the positive mirror image: it must be found.
                format!("{guard}\n{snippet}\n#endif\n")
            } else {
                format!("{guard}\n/* the new API */\n#else\n{snippet}\n#endif\n")
            };
            let found = scan(&negative);
            if guard.ends_with("#else") {
                assert!(found.iter().any(|(r, _, _)| r == rule), "{rule} in the 3.x branch: {negative}");
            } else {
                assert_eq!(found, [], "{rule} under {guard}");
            }
        }
    }
}

#[test]
fn a_py3_branch_is_judged_for_py3_only() {
    // Py_TYPE() = in the 3.x branch breaks 3.11+, and never 2.7.
    let src = "#if PY_MAJOR_VERSION >= 3\nPy_TYPE(&T) = &PyType_Type;\n#else\nT.ob_type = &PyType_Type;\n#endif\n";
    let found = scan(src);
    assert_eq!(found.len(), 1, "{found:?}");
    let (rule, line, versions) = found[0];
    assert_eq!((rule, line), ("C-LVALUE-PY-TYPE", 2));
    assert!(versions.contains(v("3.13")) && !versions.contains(v("2.7")));
}

#[test]
fn conditions_that_are_not_about_python_could_be_either() {
    let found = scan("#ifdef HAVE_SPAM\nx = PyString_FromString(s);\n#endif\n");
    assert_eq!(found.iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(), [("C-PY2-STRING", 2)]);
    // Mixed: the unknown part cannot rescue the 3.x versions the known part keeps.
    let found = scan("#if defined(HAVE_SPAM) || PY_MAJOR_VERSION < 3\nx = PyInt_AsLong(o);\n#endif\n");
    assert!(found[0].2.contains(v("3.13")), "{found:?}");
    let found = scan("#if !defined(HAVE_SPAM) && PY_MAJOR_VERSION < 3\nx = PyInt_AsLong(o);\n#endif\n");
    assert_eq!(found, [], "known false on 3.x whatever HAVE_SPAM is");
}

#[test]
fn the_files_own_macros_decide() {
    // A macro the file defines on 3.x only (not a conventional name).
    let src = "#if PY_MAJOR_VERSION >= 3\n#define MY_PY3 1\n#endif\n#ifndef MY_PY3\nx = PyInt_AsLong(o);\n#endif\n";
    assert_eq!(scan(src), []);
    let src = "#if PY_MAJOR_VERSION >= 3\n#define MY_PY3 1\n#else\n#define MY_PY3 0\n#endif\n#if !MY_PY3\nx = PyInt_AsLong(o);\n#endif\n";
    assert_eq!(scan(src), []);
    // A compat define of the old name covers its uses on the versions it is defined for.
    let src = "#if PY_MAJOR_VERSION >= 3\n#define PyInt_AsLong PyLong_AsLong\n#endif\nx = PyInt_AsLong(o);\n";
    assert_eq!(scan(src), []);
    // ... but only there: under an unknown condition it covers nothing.
    let src = "#ifdef HAVE_SPAM\n#define PyInt_AsLong PyLong_AsLong\n#endif\nx = PyInt_AsLong(o);\n";
    assert_eq!(scan(src).len(), 1);
    // A macro body is code: the legacy use inside it is found at its line.
    let found = scan("#define FREE(o) (o)->ob_type->tp_free((PyObject *)(o))\n");
    assert_eq!(found.iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(), [("C-PY2-OB-FIELD", 1)]);
    // `#ifdef` on a flag the table says 3.0 removed is false on 3.x.
    let src = "#ifdef Py_TPFLAGS_HAVE_ITER\nflags |= Py_TPFLAGS_HAVE_ITER;\n#endif\n";
    assert_eq!(scan(src), []);
}

#[test]
fn version_hex_bounds_inside_a_minor_version_are_unknown() {
    // 0x030900A4 is within 3.9: 3.9 may go either way, 3.10+ certainly not.
    let found = scan("#if PY_VERSION_HEX < 0x030900A4\nob->ob_type = t;\n#endif\n");
    let versions = found[0].2;
    assert!(versions.contains(v("3.9")) && versions.contains(v("3.8")) && !versions.contains(v("3.10")));
}

#[test]
fn hash_formats_need_ssize_t_clean_before_python_h() {
    let call = "ok = PyArg_ParseTuple(args, \"s#\", &s, &n);\n";
    let clean = format!("#define PY_SSIZE_T_CLEAN\n#include <Python.h>\n{call}");
    assert_eq!(scan(&clean), []);
    let late = format!("#include \"Python.h\"\n#define PY_SSIZE_T_CLEAN\n{call}");
    assert_eq!(scan(&late).len(), 1, "defined after Python.h: too late");
    // `#` in the function name or error message after ':' is not a unit.
    assert_eq!(scan("#include <Python.h>\nPyArg_ParseTuple(args, \"s:f#\", &s);\n"), []);
    // Py_BuildValue and PyObject_CallMethod (format is the third argument).
    let found =
        scan("#include <Python.h>\nPy_BuildValue(\"(s#)\", s, n);\nPyObject_CallMethod(o, \"m\", \"y#\", s, n);\n");
    assert_eq!(found.iter().map(|f| f.1).collect::<Vec<_>>(), [2, 3]);
    // A local header that defines it before Python.h counts (followed from the file's folder).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mod.h"), "#define PY_SSIZE_T_CLEAN\n#include <Python.h>\n").unwrap();
    let src = format!("#include \"mod.h\"\n{call}");
    assert_eq!(scan_source(Some(dir.path()), src.as_bytes()).findings, []);
    assert_eq!(scan(&src).len(), 1, "without the header's folder, nothing says it is clean");
    // A device or a folder named as a header is not read (it would never end).
    let src = format!("#include \"/dev/zero\"\n#include \".\"\n{call}");
    assert_eq!(scan_source(Some(dir.path()), src.as_bytes()).findings.len(), 1);
}

#[test]
fn py_unicode_formats_only_in_parse_functions() {
    assert_eq!(scan("Py_BuildValue(\"u\", w);\n"), [], "Py_BuildValue keeps u (wchar_t*)");
    assert_eq!(scan("PyArg_ParseTuple(args, \"es\", \"utf-8\", &s);\n"), [], "es is not u");
    let found = scan("PyArg_ParseTupleAndKeywords(args, kw, \"Z|i\", kwlist, &z, &i);\n");
    assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), ["C-FORMAT-PY-UNICODE"]);
    // w* is the new buffer; w and t# are the old ones; `es#`'s `s` is not a unit of its own.
    let clean = "#define PY_SSIZE_T_CLEAN\n#include <Python.h>\n";
    assert_eq!(scan(&format!("{clean}PyArg_ParseTuple(args, \"w*et#O!\", &b, \"utf-8\", &s, &n, &T, &o);\n")), []);
    let found = scan(&format!("{clean}PyArg_ParseTuple(args, \"(t)t#\", &a, &b, &n);\n"));
    assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), ["C-FORMAT-OLD-BUFFER"]);
}

#[test]
fn tp_compare_is_judged_per_version_and_null_is_fine() {
    let head =
        "#ifdef IS_PY3K\n    PyVarObject_HEAD_INIT(NULL, 0)\n#else\n    PyObject_HEAD_INIT(NULL)\n    0,\n#endif\n";
    let slots = |compare: &str| {
        format!(
            "PyTypeObject T = {{\n{head}    \"m.T\",\n    sizeof(O),\n    0,\n    (destructor)d,\n    0,\n    0,\n    0,\n    {compare}, /* tp_compare */\n    0,\n}};\n"
        )
    };
    for null in ["0", "NULL", "(cmpfunc)0", "(cmpfunc)NULL"] {
        assert_eq!(scan(&slots(null)), [], "{null}");
    }
    let found = scan(&slots("(cmpfunc)compare"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0, found[0].1), ("C-TP-COMPARE-SLOT", 15));
    assert!(found[0].2.contains(v("3.13")));
    // Designated: non-NULL is the crash rule's, NULL does not compile on 3.x.
    let found = scan("PyTypeObject T = { PyVarObject_HEAD_INIT(NULL, 0) .tp_name = \"T\", .tp_compare = cmp };\n");
    assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), ["C-TP-COMPARE-SLOT"]);
    let found = scan("PyTypeObject T = { PyVarObject_HEAD_INIT(NULL, 0) .tp_name = \"T\", .tp_compare = 0 };\n");
    assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), ["C-PY2-TYPE-SLOT"]);
}

#[test]
fn ob_fields_of_object_pointers_are_fine() {
    let src = "static PyObject *f(PyObject *o, Spam *self)\n{\n    t = o->ob_type;\n    u = ((PyObject *)self)->ob_type;\n    self->ob_type->tp_free((PyObject *)self);\n}\n";
    let found = scan(src);
    assert_eq!(found.iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(), [("C-PY2-OB-FIELD", 5)]);
    // The nearest declaration decides: `self` is a PyObject* in the second function only.
    let src = "void d(Spam *self) { self->ob_type->tp_free(self); }\nPyObject *g(PyObject *self) { return (PyObject *)self->ob_type; }\n";
    assert_eq!(scan(src).iter().map(|f| f.1).collect::<Vec<_>>(), [1]);
}

#[test]
fn lvalues_only_when_assigned() {
    assert_eq!(scan("n = Py_REFCNT(o);\nif (Py_TYPE(o) == &T) {}\nx = Py_SIZE(o) + 1;\n"), []);
    let found = scan("Py_SIZE(o) = n;\nPy_REFCNT(o)++;\n--Py_REFCNT(o);\n");
    let got: Vec<_> = found.iter().map(|f| (f.0, f.1)).collect();
    assert_eq!(got, [("C-LVALUE-PY-TYPE", 1), ("C-LVALUE-PY-REFCNT", 2), ("C-LVALUE-PY-REFCNT", 3)]);
}

#[test]
fn positions_are_one_based_lines_and_columns_with_the_byte_range() {
    let src = "int f(void) {\n\treturn  PyInt_AsLong(o);\n}\n";
    let scan = scan_source(None, src.as_bytes());
    let f = &scan.findings[0];
    assert_eq!((f.line, f.column), (2, 10));
    assert_eq!(&src[f.start..f.end], "PyInt_AsLong");
    assert_eq!(scan.lines, 3);
}

#[test]
fn hostile_input_stays_bounded() {
    // Nesting deep enough to overflow a recursive evaluator's stack: unknown, so the code counts.
    let deep = format!("#if {}1\nx = PyInt_AsLong(o);\n#endif\n", "(".repeat(100_000));
    assert_eq!(scan(&deep).len(), 1);
    // Macros that each use the next 40 times: 40^6 steps unbounded, unknown here.
    let mut src = String::from("#define M0 PY_MAJOR_VERSION\n");
    for k in 1..=6 {
        let uses = vec![format!("M{}", k - 1); 40].join(" + ");
        src.push_str(&format!("#define M{k} ({uses})\n"));
    }
    src.push_str("#if M6 > 0\nx = PyInt_AsLong(o);\n#endif\n");
    assert_eq!(scan(&src).len(), 1);
    // Many unclosed calls and arrows: each looks a bounded distance ahead or back.
    let calls = "PyArg_ParseTuple(args, \"s#\", ".repeat(3_000) + &"a->ob_type ".repeat(3_000);
    let found = scan_source(None, calls.as_bytes()).findings;
    assert_eq!(found.iter().filter(|f| f.rule == "C-PY2-OB-FIELD").count(), 3_000);
    // Bytes that are not UTF-8, unclosed comments and literals, a lone backslash.
    let junk = b"#if \xff\xfe \\\n/* open\n\"x\\\n'\xc3\n#define\n#\n\\";
    let _ = scan_source(None, junk);
}
