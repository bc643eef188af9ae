//! `pyhost port check --build`, pyhost's compat header for legacy C
//! extensions, and a module's C native part in the matrix, each under the
//! interpreter this test binary was built for (scripts/test-all runs them on
//! 2.7, 3.9, 3.11 and 3.13): the GCC 12 trap caught however the call is
//! written, the legacy fixture's build-error on 3.x and pass on 2.7, its
//! ported counterpart passing everywhere, in its own-GIL interpreter on 3.12+.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{info, pyhost, run};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn minor() -> String {
    let version = info()["version"].as_str().unwrap().to_string();
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

fn is_py2() -> bool {
    minor().starts_with("2.")
}

fn hexversion() -> u64 {
    info()["hexversion"].as_u64().unwrap()
}

/// `pyhost port check --build --target <this minor> --format json ARGS...`.
fn build_json(args: &[&str], files: &[&Path]) -> (i32, Value) {
    let mut command = pyhost(["port", "check", "--build", "--format", "json", "--target", &minor()]);
    command.args(args).args(files);
    let finished = run(command);
    let report = serde_json::from_str(&finished.stdout).unwrap_or_else(|e| panic!("{e}: {finished}"));
    (finished.code(), report)
}

fn cell<'a>(report: &'a Value, file: &Path) -> &'a Value {
    let name = file.display().to_string();
    report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["file"] == name.as_str() && c["interpreter"] == minor().as_str())
        .unwrap_or_else(|| panic!("no cell for {name} in {report}"))
}

fn lines(cell: &Value) -> String {
    cell["failure"]["lines"]
        .as_array()
        .map(|l| l.iter().map(|x| x.as_str().unwrap()).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

const TRAP_BODY: &str = r#"
static PyObject *make(PyObject *self, PyObject *args)
{
    return PyString_FromString("made");
}

static PyMethodDef methods[] = {{"make", make, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};

PyMethodDef *trap_methods(void) { return methods; }
"#;

/// The trap the issue names: GCC 12 only warns about an undeclared
/// PyString_FromString, so the extension builds and fails at import. pyhost
/// says build-error for every way of writing the call: undeclared (the
/// compiler, with -Werror=implicit-function-declaration), with the file's
/// own prototype, and with the warnings turned back on by a pragma (both
/// compile: the libpython symbol check catches them). On 2.7 the call is
/// real and every variant passes.
#[test]
fn an_undeclared_pystring_call_is_a_build_error_however_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let variants = [
        ("undeclared", "#include <Python.h>\n".to_string()),
        ("own_prototype", "#include <Python.h>\nPyObject *PyString_FromString(const char *);\n".to_string()),
        (
            "pragma",
            "#include <Python.h>\n#pragma GCC diagnostic warning \"-Wimplicit-function-declaration\"\n\
             #pragma GCC diagnostic warning \"-Wint-conversion\"\n"
                .to_string(),
        ),
    ];
    let files: Vec<PathBuf> = variants
        .iter()
        .map(|(name, head)| {
            let file = dir.path().join(format!("{name}.c"));
            std::fs::write(&file, format!("{head}{TRAP_BODY}")).unwrap();
            file
        })
        .collect();
    if !is_py2() {
        // The trap is real with this compiler: without pyhost's flags the undeclared call only warns.
        let include = format!("-I{}", info()["include_dir"].as_str().unwrap());
        let plain = run({
            let mut gcc = Command::new("gcc");
            gcc.args(["-shared", "-fPIC", &include, "-o"]).arg(dir.path().join("plain.so")).arg(&files[0]);
            gcc
        });
        assert_eq!(plain.code(), 0, "gcc alone builds it (GCC 12 warns only): {plain}");
        assert!(plain.stderr.contains("implicit declaration of function"), "{plain}");
    }
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (code, report) = build_json(&[], &paths);
    for (file, (name, _)) in files.iter().zip(&variants) {
        let cell = cell(&report, file);
        if is_py2() {
            assert_eq!(cell["outcome"], "pass", "{name}: {cell}");
            continue;
        }
        assert_eq!(cell["outcome"], "build-error", "{name}: {cell}");
        let text = lines(cell);
        if *name == "undeclared" {
            assert_eq!(cell["failure"]["stage"], "compile", "{cell}");
            assert!(text.contains("implicit declaration of function 'PyString_FromString'"), "{text}");
        } else {
            assert_eq!(
                cell["failure"]["stage"], "undefined-symbols",
                "{name} compiles; the symbol check must catch it: {cell}"
            );
            assert!(text.contains("undefined symbol PyString_FromString: libpython"), "{text}");
        }
    }
    assert_eq!(code, if is_py2() { 0 } else { 1 }, "{report}");
}

/// The legacy fixture's C file, and its port: without the compat header the
/// port cannot find it; with --compat it builds everywhere, while the legacy
/// file still builds on 2.7 only. The text grid has the first errors below.
#[test]
fn the_legacy_fixture_before_and_after_the_compat_header() {
    let legacy = root().join("py2-fixtures/legacy_cext/legacy_tally.c");
    let ported = root().join("py2-fixtures/legacy_cext_ported/ported_tally.c");
    let files = [legacy.as_path(), ported.as_path()];

    let (code, without) = build_json(&[], &files);
    assert_eq!(code, 1, "{without}");
    assert!(lines(cell(&without, &ported)).contains("pyhost/legacy_compat.h: No such file"), "{without}");
    assert!(without["compat_include_dir"].is_null());

    let (code, with) = build_json(&["--compat"], &files);
    assert_eq!(cell(&with, &ported)["outcome"], "pass", "{with}");
    let legacy_cell = cell(&with, &legacy);
    if is_py2() {
        assert_eq!(legacy_cell["outcome"], "pass", "{with}");
        assert_eq!(code, 0);
    } else {
        assert_eq!(legacy_cell["outcome"], "build-error", "{with}");
        let text = lines(legacy_cell);
        assert!(text.contains("'PyString_FromFormat'") || text.contains("'PyInt_"), "{text}");
        assert_eq!(code, 1);
    }
    let include = PathBuf::from(with["compat_include_dir"].as_str().unwrap());
    assert!(include.join("pyhost/legacy_compat.h").is_file(), "{with}");

    // The same as text: the matrix's grid, the errors below it.
    let mut command = pyhost(["port", "check", "--build", "--compat", "--target", &minor()]);
    command.args(files);
    let text = run(command);
    let header = text.stdout.lines().next().unwrap_or_default().to_string();
    assert!(header.starts_with("file") && header.ends_with(&minor()), "{text}");
    let row = text.stdout.lines().find(|l| l.starts_with(&legacy.display().to_string())).unwrap_or_default();
    assert!(row.ends_with(if is_py2() { "pass" } else { "build-error" }), "{text}");
    if !is_py2() {
        assert!(text.stdout.contains(&format!("{} on {}:", legacy.display(), minor())), "{text}");
    }
}

/// A file that uses PyString_* through the header without saying bytes or
/// text is an error that names the fix on 3.x (on 2.7 PyString is both).
#[test]
fn pystring_without_a_choice_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("unchosen.c");
    std::fs::write(
        &file,
        "#include <pyhost/legacy_compat.h>\nstatic PyObject *f(void) { return PyString_FromString(\"x\"); }\n\
         PyObject *g(void) { return f(); }\n",
    )
    .unwrap();
    let (code, report) = build_json(&["--compat"], &[&file]);
    let cell = cell(&report, &file);
    if is_py2() {
        assert_eq!((code, cell["outcome"].as_str()), (0, Some("pass")), "{report}");
    } else {
        assert_eq!(cell["outcome"], "build-error", "{report}");
        assert!(lines(cell).contains("PYHOST_PYSTRING_IS_BYTES or PYHOST_PYSTRING_IS_TEXT"), "{report}");
    }
}

/// The fix that error names, made the way the extension's own build would
/// make it: -D on the command line. And a header from another folder (-I).
#[test]
fn defines_and_include_folders_reach_the_compiler() {
    let dir = tempfile::tempdir().unwrap();
    let headers = dir.path().join("vendor");
    std::fs::create_dir(&headers).unwrap();
    std::fs::write(headers.join("vendor_config.h"), "#define VENDOR_NAME \"x\"\n").unwrap();
    let file = dir.path().join("chosen.c");
    std::fs::write(
        &file,
        "#include <pyhost/legacy_compat.h>\n#include <vendor_config.h>\n#ifndef BUILT_BY_SETUP\n#error BUILT_BY_SETUP not set\n#endif\n\
         PyObject *f(void) { return PyString_FromString(VENDOR_NAME); }\n",
    )
    .unwrap();
    let (code, without) = build_json(&["--compat"], &[&file]);
    assert_eq!((code, cell(&without, &file)["outcome"].as_str()), (1, Some("build-error")), "{without}");
    let include = format!("-I{}", headers.display());
    let args = ["--compat", "-D", "PYHOST_PYSTRING_IS_BYTES", "--define", "BUILT_BY_SETUP=1", &include];
    let (code, with) = build_json(&args, &[&file]);
    assert_eq!((code, cell(&with, &file)["outcome"].as_str()), (0, Some("pass")), "{with}");
    let command: Vec<&str> = with["command"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(command.contains(&"-DPYHOST_PYSTRING_IS_BYTES") && command.contains(&"-DBUILT_BY_SETUP=1"), "{with}");
}

/// The char* embedding helpers, in a real program embedding this
/// interpreter: program name, argv and sys.path given as char* on every
/// version arrive in Python as text.
#[test]
fn char_paths_reach_python_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("embed.c");
    std::fs::write(
        &program,
        r#"#include <pyhost/legacy_compat.h>
int main(int argc, char **argv)
{
    static char name[] = "legacy-embedder";
    char *args[] = {"legacy-embedder", "--flag", "caf\xc3\xa9", NULL};
    if (pyhost_set_program_name(name) != 0) return 10;
    Py_Initialize();
    if (pyhost_set_argv(3, args) != 0) return 11;
    if (pyhost_set_path("/nonexistent/a:/nonexistent/b") != 0) return 12;
    return PyRun_SimpleString(
        "import sys\n"
        "assert sys.path == ['/nonexistent/a', '/nonexistent/b'], sys.path\n"
        "assert sys.argv[:2] == ['legacy-embedder', '--flag'], sys.argv\n"
        "assert len(sys.argv[2]) == (4 if sys.version_info[0] >= 3 else 5), repr(sys.argv[2])\n"
        "print('embedded ok')\n") == 0 ? 0 : 13;
}
"#,
    )
    .unwrap();
    let include = run(pyhost(["info", "--json"]));
    let info: Value = serde_json::from_str(&include.stdout).unwrap();
    let compat = info["compat_include_dir"].as_str().expect("info --json names the compat header's folder");
    let binary = dir.path().join("embed");
    let lib_name = Path::new(info["library"].as_str().unwrap()).file_stem().unwrap().to_string_lossy().into_owned();
    let lib_dir = info["lib_dir"].as_str().unwrap();
    let mut gcc = Command::new("gcc");
    gcc.args(["-Werror=implicit-function-declaration", "-Werror=incompatible-pointer-types"])
        .arg(format!("-I{compat}"))
        .arg(format!("-I{}", info["include_dir"].as_str().unwrap()))
        .arg(&program)
        .arg("-o")
        .arg(&binary)
        .arg(format!("-L{lib_dir}"))
        .arg(format!("-Wl,-rpath,{lib_dir}"))
        .arg(format!("-l{}", lib_name.trim_start_matches("lib")));
    let built = run(gcc);
    assert_eq!(built.code(), 0, "{built}");
    let mut embed = Command::new(&binary);
    embed.env("LC_ALL", "C.UTF-8").env_remove("PYTHONPATH").env_remove("PYTHONHOME");
    if let Some(prefix) = info["prefix"].as_str() {
        embed.env("PYTHONHOME", prefix);
    }
    let ran = run(embed);
    assert_eq!(ran.code(), 0, "{ran}");
    assert!(ran.stdout.contains("embedded ok"), "{ran}");
}

/// pyhost info --json names the folder, and it holds the headers as shipped.
#[test]
fn info_names_the_compat_header_folder() {
    let finished = run(pyhost(["info", "--json"]));
    let info: Value = serde_json::from_str(&finished.stdout).unwrap();
    let dir = PathBuf::from(info["compat_include_dir"].as_str().unwrap());
    for file in ["pyhost/legacy_compat.h", "py3c.h", "py3c/tpflags.h", "pythoncapi_compat.h"] {
        assert_eq!(
            std::fs::read(dir.join(file)).unwrap(),
            std::fs::read(root().join("include").join(file)).unwrap(),
            "{file}"
        );
    }
}

/// The vendored headers are the pinned ones, byte for byte.
#[test]
fn vendored_headers_match_their_pins() {
    let mut check = Command::new(root().join("scripts/fetch-compat-headers"));
    check.arg("--check");
    let finished = run(check);
    assert_eq!(finished.code(), 0, "{finished}");
}

/// No compiler: an error naming the package, exit 2, not a grid of failures.
#[test]
fn a_missing_compiler_names_the_package() {
    let mut command = pyhost(["port", "check", "--build", "--target", &minor()]);
    command.arg(root().join("py2-fixtures/legacy_cext/legacy_tally.c")).env("PYHOST_BUILD_CC", "/nonexistent/gcc");
    let finished = run(command);
    assert_eq!(finished.code(), 2, "{finished}");
    assert!(finished.stderr.contains("apt-get install gcc"), "{finished}");
}

fn copy_module(name: &str, into: &Path) {
    let from = root().join("py2-fixtures").join(name);
    let to = into.join(name);
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// The ported module imported in its own-GIL interpreter on 3.12+ is what
/// its self_test checks; this shows the check can fail: the same file with
/// py3c's single-phase MODULE_INIT_FUNC instead of PYHOST_MODULE is refused
/// by the own-GIL interpreter, so the probe places the module in the main
/// interpreter and the self_test says so. Below 3.12 there is no own-GIL
/// interpreter to refuse it, and it passes.
#[test]
fn single_phase_init_lands_in_main_where_pyhost_module_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let mods = dir.path().join("py2-fixtures");
    copy_module("legacy_cext_ported", &mods);
    let source = mods.join("legacy_cext_ported/ported_tally.c");
    let text = std::fs::read_to_string(&source).unwrap();
    let start = text.find("PYHOST_MODULE(").unwrap();
    let single_phase = format!(
        "{}\n#if PY_MAJOR_VERSION >= 3\nstatic struct PyModuleDef tally_def = {{PyModuleDef_HEAD_INIT, \"ported_tally\", NULL, -1, tally_methods}};\n#endif\n\
         MODULE_INIT_FUNC(ported_tally)\n{{\n#if PY_MAJOR_VERSION >= 3\n    PyObject *m = PyModule_Create(&tally_def);\n#else\n    PyObject *m = Py_InitModule3(\"ported_tally\", tally_methods, NULL);\n#endif\n\
             if (m != NULL) PyModule_AddIntConstant(m, \"VERSION\", 2);\n    return m;\n}}\n",
        &text[..start]
    );
    std::fs::write(&source, single_phase).unwrap();
    let mut command = pyhost(["selftest", "--json"]);
    command.arg(&mods);
    let finished = run(command);
    let report: Value = serde_json::from_str(&finished.stdout).unwrap_or_else(|e| panic!("{e}: {finished}"));
    let module = &report["modules"][0];
    if hexversion() >= 0x030c_0000 {
        assert_eq!(module["outcome"], "fail", "{report}");
        assert!(module["detail"].as_str().unwrap().contains("placed in the main interpreter"), "{report}");
    } else {
        assert_eq!(module["outcome"], "pass", "{report}");
    }
}

/// The matrix builds each module's C native part with the interpreter's
/// headers: the legacy fixture is build-error on 3.x and pass on 2.7, as its
/// manifest expects; the ported one passes (in its own-GIL interpreter on
/// 3.12+, which its self_test checks).
#[test]
fn the_matrix_builds_native_parts_per_interpreter() {
    let dir = tempfile::tempdir().unwrap();
    let mods = dir.path().join("py2-fixtures");
    copy_module("legacy_cext", &mods);
    copy_module("legacy_cext_ported", &mods);
    let version = minor();
    let mut command = pyhost(["matrix", "--python", &version, "--format", "json", "--modules"]);
    command.arg(&mods);
    let finished = run(command);
    assert_eq!(finished.code(), 0, "every cell is what its manifest expects: {finished}");
    let result: Value = serde_json::from_str(&finished.stdout).unwrap();
    let cell =
        |module: &str| result["cells"].as_array().unwrap().iter().find(|c| c["module"] == module).cloned().unwrap();
    let legacy = cell("py2-fixtures/legacy_cext");
    let ported = cell("py2-fixtures/legacy_cext_ported");
    assert_eq!(ported["outcome"], "pass", "{result}");
    assert_eq!(ported["expected"], true);
    if is_py2() {
        assert_eq!(legacy["outcome"], "pass", "{result}");
    } else {
        assert_eq!(legacy["outcome"], "build-error", "{result}");
        assert_eq!(legacy["expected"], true, "the manifest expects it: {result}");
        assert!(legacy["detail"].as_str().unwrap().contains("implicit declaration of function"), "{result}");
    }
}
