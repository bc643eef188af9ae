//! Unit tests of the C rewrites (fix.rs): per rule, a rewrite where it
//! applies and none inside a comment, a string literal or a
//! `#if PY_MAJOR_VERSION` branch that already handles both; a second fix
//! changes nothing; c.toml's compat_pyhost names what the headers define.

use super::fix::fix_source;

fn fix(src: &str) -> String {
    String::from_utf8(fix_source(None, src.as_bytes()).source).unwrap()
}

/// The rewrite of `src`, checked to be a fixed point.
fn fixed(src: &str) -> String {
    let once = fix(src);
    assert_eq!(fix(&once), once, "a second fix changed something");
    once
}

const INIT: &str = r#"#include <Python.h>
static PyMethodDef spam_methods[] = {{NULL, NULL, 0, NULL}};
PyMODINIT_FUNC
initspam(void)
{
    PyObject *m;
    m = Py_InitModule3("spam", spam_methods, "Spam.");
    if (m == NULL)
        return;
    PyModule_AddIntConstant(m, "X", 1);
}
"#;

#[test]
fn module_init_becomes_pyhost_module() {
    let out = fixed(INIT);
    assert!(out.contains("#include <Python.h>\n#include <pyhost/legacy_compat.h>\n"), "{out}");
    assert!(out.contains("PYHOST_MODULE(spam, \"Spam.\", spam_methods, spam_exec)"), "{out}");
    assert!(out.contains("static int\nspam_exec(PyObject *pyhost_module)\n{"), "{out}");
    assert!(out.contains("m = pyhost_module;"), "{out}");
    assert!(out.contains("        return PyErr_Occurred() ? -1 : 0;\n    PyModule_AddIntConstant"), "{out}");
    assert!(out.ends_with("    return PyErr_Occurred() ? -1 : 0;\n}\n"), "{out}");
    assert!(!out.contains("initspam") && !out.contains("Py_InitModule3") && !out.contains("SHARED_GIL_ONLY"), "{out}");
    // C globals holding objects: the module must not promise own-GIL safety.
    let globals = INIT.replace("PyMODINIT_FUNC", "static PyObject *SpamError;\nPyMODINIT_FUNC");
    assert!(fixed(&globals).contains("#define PYHOST_MODULE_SHARED_GIL_ONLY\n#include <pyhost/legacy_compat.h>"));
    // Py_InitModule (no doc) with a package-qualified name; Py_InitModule4 as Py_InitModule3.
    let plain =
        INIT.replace("Py_InitModule3(\"spam\", spam_methods, \"Spam.\")", "Py_InitModule(\"pkg.spam\", spam_methods)");
    assert!(fixed(&plain).contains("PYHOST_MODULE(spam, NULL, spam_methods, spam_exec)"));
    let four = INIT.replace(
        "Py_InitModule3(\"spam\", spam_methods, \"Spam.\")",
        "Py_InitModule4(\"spam\", spam_methods, doc, (PyObject *)NULL, PYTHON_API_VERSION)",
    );
    assert!(fixed(&four).contains("PYHOST_MODULE(spam, doc, spam_methods, spam_exec)"));
}

#[test]
fn module_init_stays_where_it_is_not_mechanical() {
    for src in [
        // Already handles both versions.
        format!(
            "#if PY_MAJOR_VERSION >= 3\nPyMODINIT_FUNC PyInit_spam(void) {{ return PyModule_Create(&d); }}\n#else\n{}#endif\n",
            &INIT[20..]
        ),
        // A Python-version #if inside the function.
        INIT.replace(
            "    PyModule_AddIntConstant",
            "#if PY_MAJOR_VERSION >= 3\n    x();\n#endif\n    PyModule_AddIntConstant",
        ),
        // Another name than the function's; a self pointer; a local as the doc.
        INIT.replace("(\"spam\"", "(\"eggs\""),
        INIT.replace(
            "Py_InitModule3(\"spam\", spam_methods, \"Spam.\")",
            "Py_InitModule4(\"spam\", spam_methods, doc, self, PYTHON_API_VERSION)",
        ),
        INIT.replace("PyObject *m;", "PyObject *m; const char *doc = \"d\";").replace("\"Spam.\")", "doc)"),
        // In a comment and a string.
        "/* PyMODINIT_FUNC initspam(void) { Py_InitModule(\"spam\", m); } */\nconst char *s = \"initspam(void)\";\n"
            .into(),
    ] {
        let out = fixed(&src);
        assert!(!out.contains("PYHOST_MODULE") && !out.contains("legacy_compat"), "{src}\n=>\n{out}");
    }
}

#[test]
fn ob_field_reads_become_macros_and_writes_stay() {
    let out = fixed(
        "void f(Obj *self, Obj **v, T t) { self->ob_type->tp_free((PyObject *)self); n = v[1]->ob_size; r = (self)->ob_refcnt; k = t.ob_type; }",
    );
    assert!(out.contains("Py_TYPE(self)->tp_free((PyObject *)self);"), "{out}");
    assert!(out.contains("n = Py_SIZE(v[1]);") && out.contains("r = Py_REFCNT((self));"), "{out}");
    assert!(out.contains("k = Py_TYPE(&t);"), "{out}");
    assert!(!out.contains("legacy_compat"), "reads need no header: {out}");
    // A statement that only assigns: Py_SET_*, with the header.
    let out = fixed("#include <Python.h>\nvoid f(Obj *o) { o->ob_type = &T; T2.ob_type = &PyType_Type; }");
    assert!(out.contains("Py_SET_TYPE(o, &T);") && out.contains("Py_SET_TYPE(&T2, &PyType_Type);"), "{out}");
    assert!(out.contains("#include <pyhost/legacy_compat.h>"), "{out}");
    // Other writes, an address, comments and strings stay.
    for src in [
        "void f(Obj *o) { o->ob_refcnt++; }",
        "void f(Obj *o) { o->ob_size += 2; }",
        "void f(Obj *o) { p = &o->ob_type; }",
        "void f(Obj *o) { a = o->ob_type = t; }",
        "/* o->ob_type */ const char *s = \"o->ob_type\";",
        "#if PY_MAJOR_VERSION < 3\nvoid f(Obj *o) { t = o->ob_type; }\n#endif\n",
    ] {
        assert_eq!(fixed(src), src);
    }
}

#[test]
fn lvalue_macros_become_setters() {
    let out = fixed("#include <Python.h>\nvoid f(void) { Py_TYPE(&T) = &PyType_Type; Py_REFCNT(o) = 1; }");
    assert!(out.contains("Py_SET_TYPE(&T, &PyType_Type);") && out.contains("Py_SET_REFCNT(o, 1);"), "{out}");
    for src in [
        "void f(void) { Py_REFCNT(o)++; }",
        "void f(void) { if (x) y = Py_TYPE(o) = t; }",
        "void f(void) { t = Py_TYPE(o); }",
        "#if PY_VERSION_HEX < 0x030B0000\nvoid f(void) { Py_TYPE(o) = t; }\n#endif\n",
    ] {
        assert_eq!(fixed(src), src);
    }
}

#[test]
fn pyint_aslong_only() {
    let out = fixed(
        "long f(PyObject *o) { if (PyInt_Check(o)) return PyInt_AsLong(o); return PyInt_FromLong(PyInt_AS_LONG(o)); }",
    );
    assert_eq!(
        out,
        "long f(PyObject *o) { if (PyInt_Check(o)) return PyLong_AsLong(o); return PyInt_FromLong(PyInt_AS_LONG(o)); }"
    );
    for src in [
        "#if PY_MAJOR_VERSION >= 3\nlong f(PyObject *o) { return PyLong_AsLong(o); }\n#else\nlong f(PyObject *o) { return PyInt_AsLong(o); }\n#endif\n",
        "#if PY_MAJOR_VERSION >= 3\n#define PyInt_AsLong PyLong_AsLong\n#endif\nlong f(PyObject *o) { return PyInt_AsLong(o); }\n",
        "/* PyInt_AsLong(o) */ const char *s = \"PyInt_AsLong\";",
    ] {
        assert_eq!(fixed(src), src);
    }
}

#[test]
fn tpflags_terms_are_removed() {
    let out = fixed(
        "static PyTypeObject T = { 0, Py_TPFLAGS_DEFAULT|Py_TPFLAGS_HAVE_ITER|Py_TPFLAGS_BASETYPE|Py_TPFLAGS_HAVE_WEAKREFS, /* tp_flags */ 0 };",
    );
    assert!(out.contains(" 0, Py_TPFLAGS_DEFAULT|Py_TPFLAGS_BASETYPE, /* tp_flags */"), "{out}");
    let out = fixed(
        "#define FLAGS (Py_TPFLAGS_HAVE_CLASS | Py_TPFLAGS_DEFAULT)\nT.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_CHECKTYPES;\n",
    );
    assert_eq!(out, "#define FLAGS (Py_TPFLAGS_DEFAULT)\nT.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;\n");
    // Adjacent flags go in one pass (a second fix changes nothing: fixed() checks).
    let out =
        fixed("T.tp_flags = Py_TPFLAGS_HAVE_ITER|Py_TPFLAGS_HAVE_CLASS|Py_TPFLAGS_DEFAULT|Py_TPFLAGS_HAVE_WEAKREFS;");
    assert_eq!(out, "T.tp_flags = Py_TPFLAGS_DEFAULT;");
    for src in [
        "if (t->tp_flags & Py_TPFLAGS_HAVE_ITER) f();",
        "T.tp_flags = Py_TPFLAGS_HAVE_ITER | Py_TPFLAGS_HAVE_CLASS;",
        "T.tp_flags = Py_TPFLAGS_DEFAULT | /* why */ Py_TPFLAGS_HAVE_ITER;",
        "T.tp_flags = Py_TPFLAGS_HAVE_CLASS;",
        "/* Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_ITER */",
        "#if PY_MAJOR_VERSION < 3\nT.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_ITER;\n#endif\n",
    ] {
        assert_eq!(fixed(src), src);
    }
}

#[test]
fn the_include_goes_outside_feature_blocks_and_once() {
    let src = "#include \"module.h\"\n#ifdef EXPERIMENTAL\n#include \"backup.h\"\n#endif\n\nvoid f(void) { Py_TYPE(o) = t; }\n";
    let out = fixed(src);
    assert!(out.starts_with("#include \"module.h\"\n#include <pyhost/legacy_compat.h>\n#ifdef"), "{out}");
    let already = format!("#include <pyhost/legacy_compat.h>\n{src}");
    assert_eq!(fixed(&already).matches("legacy_compat").count(), 1);
}

/// Every `name` in backquotes in c.toml's compat_pyhost column is #defined
/// or defined as a function in include/ (legacy_compat.h and the py3c and
/// pythoncapi_compat headers it includes).
#[test]
fn compat_pyhost_names_what_the_header_defines() {
    let include = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let mut text = String::new();
    for file in [
        "pyhost/legacy_compat.h",
        "py3c.h",
        "py3c/compat.h",
        "py3c/comparison.h",
        "py3c/py3shims.h",
        "py3c/tpflags.h",
        "pythoncapi_compat.h",
    ] {
        text.push_str(&std::fs::read_to_string(include.join(file)).unwrap());
    }
    // legacy_compat.h includes exactly these.
    let header = std::fs::read_to_string(include.join("pyhost/legacy_compat.h")).unwrap();
    for included in ["<py3c.h>", "<py3c/tpflags.h>", "<pythoncapi_compat.h>"] {
        assert!(header.contains(&format!("#include {included}")), "{included}");
    }
    let defined = |name: &str| {
        text.lines().any(|l| {
            let l = l.trim_start();
            let rest = l.strip_prefix('#').map(|r| r.trim_start());
            let macro_def = rest.and_then(|r| r.strip_prefix("define ")).is_some_and(|r| {
                r.trim_start()
                    .strip_prefix(name)
                    .is_some_and(|after| after.starts_with(['(', ' ', '\t']) || after.is_empty())
            });
            macro_def || (l.starts_with("static inline") && l.contains(&format!(" {name}(")))
        })
    };
    let mut checked = 0;
    for (rule, c) in crate::port::rules::c() {
        if c.compat_pyhost.is_empty() {
            continue;
        }
        let names: Vec<&str> = c.compat_pyhost.split('`').skip(1).step_by(2).collect();
        assert!(!names.is_empty(), "{}: compat_pyhost names nothing in `backquotes`", rule.id);
        for name in names {
            assert!(defined(name), "{}: {name} is not defined in include/", rule.id);
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked}");
}

/// With pyhost/legacy_compat.h included, what it defines for 3.x is
/// handled there (PyInt_* by py3c, the removed flags as 0); PyString_* only
/// once the file has said bytes or text, and before the include.
#[test]
fn the_compat_header_handles_what_it_defines() {
    let rules = |src: &str| -> Vec<&'static str> {
        super::scan_source(None, src.as_bytes())
            .findings
            .into_iter()
            .filter(|f| !crate::port::c_handled(f))
            .map(|f| f.rule)
            .collect()
    };
    let body = "long f(PyObject *o) { return PyInt_AsLong(o) + PyString_Size(o) + Py_TPFLAGS_HAVE_ITER; }\n";
    assert_eq!(rules(body), ["C-PY2-INT", "C-PY2-STRING", "C-PY2-TPFLAGS-HAVE"]);
    let with_header = format!("#include <pyhost/legacy_compat.h>\n{body}");
    assert_eq!(rules(&with_header), ["C-PY2-STRING"]);
    assert_eq!(rules(&format!("#define PYHOST_PYSTRING_IS_TEXT\n{with_header}")), Vec::<&str>::new());
    assert_eq!(rules(&format!("#define PYHOST_PYSTRING_IS_BYTES\n{with_header}")), Vec::<&str>::new());
    // A local header of that name is not pyhost's.
    assert_eq!(rules(&format!("#include \"pyhost/legacy_compat.h\"\n{body}")).len(), 3);
    // So fix leaves a ported file alone.
    let ported =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/py2-fixtures/legacy_cext_ported/ported_tally.c")).unwrap();
    assert_eq!(fix_source(None, &ported).source, ported);
}
