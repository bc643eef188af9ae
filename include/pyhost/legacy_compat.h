/*
 * pyhost/legacy_compat.h: one header that lets a Python 2 C extension build
 * and import on Python 2.7 and every Python 3 (3.5 to 3.13 tested: 2.7, 3.9,
 * 3.11, 3.13), shipped by pyhost. `pyhost info --json` names its folder
 * ("compat_include_dir"); add it with -I and include this header instead of
 * Python.h (define PY_SSIZE_T_CLEAN before it, as before Python.h).
 *
 * It is built on two maintained headers, vendored unmodified beside it and
 * pinned by sha256 in include/VENDORED:
 *   - py3c 1.4 (py3c.h, py3c/tpflags.h): PyStr_* (text: str on 2, str on 3),
 *     PyBytes_* on 2, PyInt_* as PyLong_* on 3, Py_TPFLAGS_HAVE_* as 0 on 3,
 *     Py_RETURN_RICHCOMPARE, PyModuleDef/PyModule_Create emulated on 2.
 *   - pythoncapi_compat.h: newer API on older Pythons (Py_NewRef,
 *     Py_SET_TYPE/Py_SET_SIZE for the 3.11 non-lvalue Py_TYPE/Py_SIZE,
 *     PyModule_AddObjectRef, ...).
 * Only what neither covers is written here, each part documented where it is
 * defined:
 *   1. PYHOST_MODULE: one module definition, Py_InitModule3 on 2.x and
 *      multi-phase PyModuleDef init on 3.5+ (declared safe for own-GIL
 *      interpreters on 3.12+, which refuse single-phase modules; py3c's
 *      MODULE_INIT_FUNC is single-phase).
 *   2. PyString_* with the bytes-or-text choice made explicit:
 *      PYHOST_PYSTRING_IS_BYTES or PYHOST_PYSTRING_IS_TEXT.
 *   3. char* program names, homes, argv and paths for the wchar_t* API of
 *      3.x: pyhost_set_program_name, pyhost_set_python_home, pyhost_set_argv,
 *      pyhost_set_path (and, with PYHOST_CHAR_PATHS, the 2.x names).
 *
 * This header only includes and defines; it adds no symbol to link against:
 * everything is a macro or a static inline function.
 */
#ifndef PYHOST_LEGACY_COMPAT_H
#define PYHOST_LEGACY_COMPAT_H

#include <Python.h>
#include <py3c.h>
#include <py3c/tpflags.h>
#include <pythoncapi_compat.h>

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#if defined(__GNUC__) || defined(__clang__)
#define PYHOST__UNUSED __attribute__((unused))
#else
#define PYHOST__UNUSED
#endif

/* ------------------------------------------------------------------------
 * 1. PYHOST_MODULE(name, doc, methods, exec)
 *
 * Replaces `PyMODINIT_FUNC initNAME(void) { m = Py_InitModule3(...); ... }`.
 *
 *   static int counter_exec(PyObject *module);   (returns 0, or -1 with an exception set)
 *   PYHOST_MODULE(counter, "A counter.", counter_methods, counter_exec)
 *   static int counter_exec(PyObject *module) { return PyModule_AddIntConstant(module, "VERSION", 2); }
 *
 * name:    the module's import name, a bare identifier (as in initNAME).
 * doc:     its docstring, a C string or NULL.
 * methods: its PyMethodDef table, NULL-terminated.
 * exec:    int exec(PyObject *module): what the old init did after
 *          Py_InitModule3 (constants, types, objects); declared by the macro,
 *          so it may be defined after it.
 *
 * 2.x: defines initNAME, which calls Py_InitModule3 and then exec.
 * 3.0-3.4: defines PyInit_NAME: PyModule_Create, then exec (single-phase;
 *          multi-phase init is 3.5+).
 * 3.5+: defines PyInit_NAME returning PyModuleDef_Init (multi-phase init):
 *          the module is created per interpreter and exec runs on each.
 *          On 3.12+ it declares Py_MOD_PER_INTERPRETER_GIL_SUPPORTED, so
 *          own-GIL sub-interpreters import it. That is a promise the module
 *          must keep: no PyObject* in C globals shared between interpreters
 *          (keep them on the module object). A module that cannot keep it
 *          defines PYHOST_MODULE_SHARED_GIL_ONLY before including this header:
 *          it then declares Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED, and own-GIL
 *          interpreters refuse it as they refuse single-phase modules.
 * ------------------------------------------------------------------------ */
#if PY_MAJOR_VERSION < 3

#define PYHOST_MODULE(name, doc, methods, exec)                                 \
    static int exec(PyObject *);                                                \
    PyMODINIT_FUNC init##name(void);                                            \
    PyMODINIT_FUNC init##name(void)                                             \
    {                                                                           \
        PyObject *pyhost__module = Py_InitModule3(#name, (methods), (doc));     \
        if (pyhost__module != NULL) {                                           \
            (void)exec(pyhost__module); /* an exception set fails the import */ \
        }                                                                       \
    }

#elif PY_VERSION_HEX < 0x03050000

#define PYHOST_MODULE(name, doc, methods, exec)                                  \
    static int exec(PyObject *);                                                 \
    static struct PyModuleDef pyhost__def_##name = {                             \
        PyModuleDef_HEAD_INIT, #name, (doc), -1, (methods), NULL, NULL, NULL, NULL}; \
    PyMODINIT_FUNC PyInit_##name(void);                                          \
    PyMODINIT_FUNC PyInit_##name(void)                                           \
    {                                                                            \
        PyObject *pyhost__module = PyModule_Create(&pyhost__def_##name);         \
        if (pyhost__module != NULL && exec(pyhost__module) < 0) {                \
            Py_DECREF(pyhost__module);                                           \
            return NULL;                                                         \
        }                                                                        \
        return pyhost__module;                                                   \
    }

#else

#if PY_VERSION_HEX >= 0x030C0000
#ifdef PYHOST_MODULE_SHARED_GIL_ONLY
#define PYHOST__INTERPRETERS_SLOT {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED},
#else
#define PYHOST__INTERPRETERS_SLOT {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#else
#define PYHOST__INTERPRETERS_SLOT
#endif

#define PYHOST_MODULE(name, doc, methods, exec)                                  \
    static int exec(PyObject *);                                                 \
    static PyModuleDef_Slot pyhost__slots_##name[] = {                           \
        {Py_mod_exec, (void *)(exec)},                                           \
        PYHOST__INTERPRETERS_SLOT                                                \
        {0, NULL}};                                                              \
    static struct PyModuleDef pyhost__def_##name = {                             \
        PyModuleDef_HEAD_INIT, #name, (doc), 0, (methods), pyhost__slots_##name, \
        NULL, NULL, NULL};                                                       \
    PyMODINIT_FUNC PyInit_##name(void);                                          \
    PyMODINIT_FUNC PyInit_##name(void) { return PyModuleDef_Init(&pyhost__def_##name); }

#endif

/* ------------------------------------------------------------------------
 * 2. PyString_*: bytes or text, said once.
 *
 * Python 2's str is bytes; code calling PyString_* meant either "bytes"
 * (a buffer, a packet, a hash) or "text" (a name, a message). Python 3 has
 * no PyString_* and makes the two different types, so the choice must be
 * made. Define exactly one of these before including this header:
 *
 *   #define PYHOST_PYSTRING_IS_BYTES   PyString_* is PyBytes_* on 3.x (bytes)
 *   #define PYHOST_PYSTRING_IS_TEXT    PyString_* is PyUnicode_* on 3.x (str),
 *                                      via py3c's PyStr_* where it has the name
 *
 * On 2.x both leave PyString_* as it is (it is both there). A file that
 * needs both spellings uses PyBytes_* (bytes, 2.6+) and PyStr_* (text,
 * py3c) directly and defines neither.
 *
 * With neither defined, on 3.x every PyString_* name is an error that says
 * so, never an implicit declaration that builds and fails at import.
 *
 * TEXT notes: PyString_AsString/AS_STRING return the UTF-8 form (cast to
 * char *: writing through it is undefined, as it was for a shared 2.x
 * string); PyString_Size/GET_SIZE give the length of that UTF-8 form in
 * bytes, as 2.x code that pairs them expects, not the number of characters.
 * PyString_Concat/ConcatAndDel keep their 2.x signature (PyObject **).
 * ------------------------------------------------------------------------ */
#if defined(PYHOST_PYSTRING_IS_BYTES) && defined(PYHOST_PYSTRING_IS_TEXT)
#error "define PYHOST_PYSTRING_IS_BYTES or PYHOST_PYSTRING_IS_TEXT, not both"
#endif

#if PY_MAJOR_VERSION >= 3

#if defined(PYHOST_PYSTRING_IS_BYTES)

#define PyString_Type PyBytes_Type
#define PyString_Check PyBytes_Check
#define PyString_CheckExact PyBytes_CheckExact
#define PyString_FromString PyBytes_FromString
#define PyString_FromStringAndSize PyBytes_FromStringAndSize
#define PyString_FromFormat PyBytes_FromFormat
#define PyString_FromFormatV PyBytes_FromFormatV
#define PyString_AsString PyBytes_AsString
#define PyString_AS_STRING PyBytes_AS_STRING
#define PyString_AsStringAndSize PyBytes_AsStringAndSize
#define PyString_Size PyBytes_Size
#define PyString_GET_SIZE PyBytes_GET_SIZE
#define PyString_Concat PyBytes_Concat
#define PyString_ConcatAndDel PyBytes_ConcatAndDel
#define _PyString_Resize _PyBytes_Resize

#elif defined(PYHOST_PYSTRING_IS_TEXT)

#define PyString_Type PyStr_Type
#define PyString_Check PyStr_Check
#define PyString_CheckExact PyStr_CheckExact
#define PyString_FromString PyStr_FromString
#define PyString_FromStringAndSize PyStr_FromStringAndSize
#define PyString_FromFormat PyStr_FromFormat
#define PyString_FromFormatV PyStr_FromFormatV
#define PyString_AsString(o) ((char *)PyStr_AsString(o))
#define PyString_AS_STRING(o) ((char *)PyStr_AsString(o))
#define PyString_Format PyStr_Format
#define PyString_InternInPlace PyStr_InternInPlace
#define PyString_InternFromString PyStr_InternFromString
#define PyString_Decode PyStr_Decode
#define PyString_Concat PyUnicode_Append
#define PyString_ConcatAndDel PyUnicode_AppendAndDel
#define PyString_Size(o) pyhost__utf8_size(o)
#define PyString_GET_SIZE(o) pyhost__utf8_size(o)

/* The UTF-8 length in bytes of a str, or -1 with an exception set. */
static inline PYHOST__UNUSED Py_ssize_t pyhost__utf8_size(PyObject *text)
{
    Py_ssize_t size = -1;
    if (PyUnicode_AsUTF8AndSize(text, &size) == NULL) {
        return -1;
    }
    return size;
}

static inline PYHOST__UNUSED int pyhost__as_string_and_size(PyObject *text, char **buffer, Py_ssize_t *size)
{
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, size);
    if (utf8 == NULL) {
        return -1;
    }
    *buffer = (char *)utf8;
    return 0;
}
#define PyString_AsStringAndSize pyhost__as_string_and_size

#else /* no choice made */

/* A hard error at the first use, with the fix in the message. */
#if defined(__GNUC__) || defined(__clang__)
extern PyObject *pyhost__pystring_choice_missing(void) __attribute__((error(
    "PyString_* does not exist on Python 3: say what this file's strings are by defining "
    "PYHOST_PYSTRING_IS_BYTES or PYHOST_PYSTRING_IS_TEXT before including pyhost/legacy_compat.h")));
#define PYHOST__NO_PYSTRING(...) (pyhost__pystring_choice_missing())
#else
#define PYHOST__NO_PYSTRING(...) \
    (define_PYHOST_PYSTRING_IS_BYTES_or_PYHOST_PYSTRING_IS_TEXT_before_including_pyhost_legacy_compat_h)
#endif
#define PyString_Type define_PYHOST_PYSTRING_IS_BYTES_or_PYHOST_PYSTRING_IS_TEXT_for_PyString_Type
#define PyString_Check(...) PYHOST__NO_PYSTRING()
#define PyString_CheckExact(...) PYHOST__NO_PYSTRING()
#define PyString_FromString(...) PYHOST__NO_PYSTRING()
#define PyString_FromStringAndSize(...) PYHOST__NO_PYSTRING()
#define PyString_FromFormat(...) PYHOST__NO_PYSTRING()
#define PyString_FromFormatV(...) PYHOST__NO_PYSTRING()
#define PyString_AsString(...) PYHOST__NO_PYSTRING()
#define PyString_AS_STRING(...) PYHOST__NO_PYSTRING()
#define PyString_AsStringAndSize(...) PYHOST__NO_PYSTRING()
#define PyString_Size(...) PYHOST__NO_PYSTRING()
#define PyString_GET_SIZE(...) PYHOST__NO_PYSTRING()
#define PyString_Concat(...) PYHOST__NO_PYSTRING()
#define PyString_ConcatAndDel(...) PYHOST__NO_PYSTRING()
#define PyString_Format(...) PYHOST__NO_PYSTRING()
#define PyString_InternInPlace(...) PYHOST__NO_PYSTRING()
#define PyString_InternFromString(...) PYHOST__NO_PYSTRING()
#define PyString_Decode(...) PYHOST__NO_PYSTRING()

#endif
#endif /* PY_MAJOR_VERSION >= 3 */

/* ------------------------------------------------------------------------
 * 3. char* program names and paths.
 *
 * 2.x takes char* for the program name, the Python home, argv and sys.path;
 * 3.x takes wchar_t*, decoded with the locale's encoding (Py_DecodeLocale,
 * which is what python itself does with its command line). These take char*
 * on every version and return 0, or -1 when a string cannot be decoded or
 * memory runs out (before Py_Initialize nothing can be raised):
 *
 *   int pyhost_set_program_name(const char *name);   Py_SetProgramName (before Py_Initialize)
 *   int pyhost_set_python_home(const char *home);    Py_SetPythonHome (before Py_Initialize)
 *   int pyhost_set_argv(int argc, char **argv);      PySys_SetArgvEx(argc, argv, 0) (after Py_Initialize)
 *   int pyhost_set_path(const char *path);           sys.path from a ':'-separated list (after Py_Initialize)
 *   wchar_t *pyhost_decode_locale(const char *s);    3.x only: Py_DecodeLocale; free with PyMem_RawFree
 *
 * Python keeps the program name and home pointers it is given, so the
 * decoded copies are kept for the life of the process, as it requires;
 * 2.x keeps the caller's char* itself, so pass storage that lives as long.
 * On 3.13, where PySys_SetPath is gone, pyhost_set_path sets sys.path to a
 * new list itself. Py_SetProgramName, Py_SetPythonHome and PySys_SetArgvEx
 * are deprecated since 3.11 (PyConfig replaces them) and still work on 3.13.
 *
 * With PYHOST_CHAR_PATHS defined before the include, the 2.x names
 * themselves (Py_SetProgramName, Py_SetPythonHome, PySys_SetArgv,
 * PySys_SetArgvEx, PySys_SetPath) take char* on 3.x too, so legacy
 * embedding code builds unchanged; return values are then ignored.
 * ------------------------------------------------------------------------ */
#if PY_MAJOR_VERSION >= 3

static inline PYHOST__UNUSED wchar_t *pyhost_decode_locale(const char *text)
{
#if PY_VERSION_HEX >= 0x03050000
    return Py_DecodeLocale(text, NULL);
#else
    return _Py_char2wchar(text, NULL);
#endif
}

#if PY_VERSION_HEX >= 0x030B0000 && (defined(__GNUC__) || defined(__clang__))
/* Deprecated since 3.11 (PyConfig replaces them); calling them is the point here. */
#define PYHOST__DEPRECATED_CALL(call)                                   \
    _Pragma("GCC diagnostic push")                                      \
    _Pragma("GCC diagnostic ignored \"-Wdeprecated-declarations\"") call; \
    _Pragma("GCC diagnostic pop")
#else
#define PYHOST__DEPRECATED_CALL(call) call;
#endif

static inline PYHOST__UNUSED int pyhost_set_program_name(const char *name)
{
    wchar_t *wide = pyhost_decode_locale(name); /* kept: Python keeps the pointer */
    if (wide == NULL) {
        return -1;
    }
    PYHOST__DEPRECATED_CALL(Py_SetProgramName(wide))
    return 0;
}

static inline PYHOST__UNUSED int pyhost_set_python_home(const char *home)
{
    wchar_t *wide = pyhost_decode_locale(home); /* kept: Python keeps the pointer */
    if (wide == NULL) {
        return -1;
    }
    PYHOST__DEPRECATED_CALL(Py_SetPythonHome(wide))
    return 0;
}

static inline PYHOST__UNUSED int pyhost_set_argv(int argc, char **argv)
{
    int i, status = 0;
    wchar_t **wide = (wchar_t **)PyMem_RawMalloc(sizeof(wchar_t *) * (size_t)(argc > 0 ? argc : 1));
    if (wide == NULL) {
        return -1;
    }
    for (i = 0; i < argc; i++) {
        wide[i] = pyhost_decode_locale(argv[i]);
        if (wide[i] == NULL) {
            status = -1;
            break;
        }
    }
    if (status == 0) {
        PYHOST__DEPRECATED_CALL(PySys_SetArgvEx(argc, wide, 0))
    }
    while (i-- > 0) {
        PyMem_RawFree(wide[i]); /* PySys_SetArgvEx copies them into sys.argv */
    }
    PyMem_RawFree(wide);
    return status;
}

static inline PYHOST__UNUSED int pyhost_set_path(const char *path)
{
    PyObject *list = PyList_New(0);
    const char *start = path;
    if (list == NULL) {
        return -1;
    }
    for (;;) {
        const char *end = strchr(start, ':');
        size_t length = end ? (size_t)(end - start) : strlen(start);
        PyObject *item = PyUnicode_DecodeFSDefaultAndSize(start, (Py_ssize_t)length);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return -1;
        }
        Py_DECREF(item);
        if (end == NULL) {
            break;
        }
        start = end + 1;
    }
    if (PySys_SetObject("path", list) < 0) {
        Py_DECREF(list);
        return -1;
    }
    Py_DECREF(list);
    return 0;
}

#ifdef PYHOST_CHAR_PATHS
#define Py_SetProgramName(name) ((void)pyhost_set_program_name(name))
#define Py_SetPythonHome(home) ((void)pyhost_set_python_home(home))
#define PySys_SetArgv(argc, argv) ((void)pyhost_set_argv((argc), (argv)))
#define PySys_SetArgvEx(argc, argv, updatepath) ((void)(updatepath), (void)pyhost_set_argv((argc), (argv)))
#define PySys_SetPath(path) ((void)pyhost_set_path(path))
#endif

#else /* 2.x: char* all along */

static inline PYHOST__UNUSED int pyhost_set_program_name(const char *name)
{
    Py_SetProgramName((char *)name);
    return 0;
}

static inline PYHOST__UNUSED int pyhost_set_python_home(const char *home)
{
    Py_SetPythonHome((char *)home);
    return 0;
}

static inline PYHOST__UNUSED int pyhost_set_argv(int argc, char **argv)
{
    PySys_SetArgvEx(argc, argv, 0);
    return 0;
}

static inline PYHOST__UNUSED int pyhost_set_path(const char *path)
{
    PySys_SetPath((char *)path);
    return 0;
}

#endif

#endif /* PYHOST_LEGACY_COMPAT_H */
