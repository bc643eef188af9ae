/*
 * Initializing and finalizing the main interpreter.
 *
 * Pre-initialization settings take three shapes:
 *   2.x        char* setters (Py_SetProgramName...), PySys_SetPath after init;
 *   3.5-3.7    wchar_t* setters, strings decoded with Py_DecodeLocale;
 *   3.8+       PyConfig: the setters are deprecated in 3.11, and
 *              PySys_SetPath is gone from 3.13's headers.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#if !PH_PY_AT_LEAST(3, 8)
/* "a:b:c" from a list, for PySys_SetPath (2.x) / Py_SetPath (3.5-3.7). */
static char *join_search_path(const ph_init_config *config) {
    size_t total = 1;
    for (size_t i = 0; i < config->search_path_len; i++) total += strlen(config->search_path[i]) + 1;
    char *joined = (char *)calloc(total, 1);
    if (joined == NULL) return NULL;
    for (size_t i = 0; i < config->search_path_len; i++) {
        if (i > 0) strcat(joined, ":");
        strcat(joined, config->search_path[i]);
    }
    return joined;
}
#endif

#if PH_PY2

static int initialize(const ph_init_config *config, char **err) {
    /* 2.x keeps these pointers for the life of the process. */
    if (config->program_name) Py_SetProgramName(ph_copy_str(config->program_name));
    if (config->home) Py_SetPythonHome(ph_copy_str(config->home));
    Py_NoSiteFlag = !config->import_site;
    Py_InitializeEx(config->install_signal_handlers);
    PyEval_InitThreads(); /* 2.x creates the GIL only on request */
    if (config->search_path_len > 0) {
        char *joined = join_search_path(config);
        PySys_SetPath(joined); /* copied into a list */
        free(joined);
    }
    PySys_SetArgvEx((int)config->argc, (char **)config->argv, 0);
    if (ph_native_attach() < 0) {
        *err = ph_copy_str("could not create the " PH_NATIVE_MODULE_NAME " module");
        return -1;
    }
    return 0;
}

#elif !PH_PY_AT_LEAST(3, 8)

static int initialize(const ph_init_config *config, char **err) {
    /* Py_Set* keep these pointers: they are never freed. */
    if (config->program_name) Py_SetProgramName(Py_DecodeLocale(config->program_name, NULL));
    if (config->home) Py_SetPythonHome(Py_DecodeLocale(config->home, NULL));
    if (config->search_path_len > 0) {
        char *joined = join_search_path(config);
        Py_SetPath(Py_DecodeLocale(joined, NULL));
        free(joined);
    }
    Py_NoSiteFlag = !config->import_site;
    ph_native_register_inittab();
    Py_InitializeEx(config->install_signal_handlers);
#if !PH_PY_AT_LEAST(3, 7)
    PyEval_InitThreads(); /* from 3.7 the GIL exists from the start */
#endif
    wchar_t **argv = (wchar_t **)calloc(config->argc + 1, sizeof(wchar_t *));
    for (size_t i = 0; i < config->argc; i++) argv[i] = Py_DecodeLocale(config->argv[i], NULL);
    PySys_SetArgvEx((int)config->argc, argv, 0);
    for (size_t i = 0; i < config->argc; i++) PyMem_RawFree(argv[i]);
    free(argv);
    (void)err;
    return 0;
}

#else /* 3.8+: PyConfig */

static char *status_message(PyStatus status) {
    if (PyStatus_IsExit(status)) return ph_format("Python asked to exit with status %d", status.exitcode);
    return ph_format("%s%s%s", status.func ? status.func : "", status.func ? ": " : "",
                     status.err_msg ? status.err_msg : "unknown error");
}

static int initialize(const ph_init_config *config, char **err) {
    PyConfig py;
    PyStatus status;
    /* The "Python" configuration, not the isolated one: embedded modules
     * should see PYTHONPATH, site-packages and the locale as python does. */
    PyConfig_InitPythonConfig(&py);
    py.parse_argv = 0;
    py.install_signal_handlers = config->install_signal_handlers;
    py.site_import = config->import_site;

#define CHECK(call)                                   \
    do {                                              \
        status = (call);                              \
        if (PyStatus_Exception(status)) goto failed;  \
    } while (0)

    if (config->program_name) CHECK(PyConfig_SetBytesString(&py, &py.program_name, config->program_name));
    if (config->home) CHECK(PyConfig_SetBytesString(&py, &py.home, config->home));
    if (config->argc > 0) CHECK(PyConfig_SetBytesArgv(&py, (Py_ssize_t)config->argc, (char *const *)config->argv));
    if (config->search_path_len > 0) {
        py.module_search_paths_set = 1;
        for (size_t i = 0; i < config->search_path_len; i++) {
            wchar_t *entry = NULL; /* decoded the way the config decodes its own strings */
            CHECK(PyConfig_SetBytesString(&py, &entry, config->search_path[i]));
            status = PyWideStringList_Append(&py.module_search_paths, entry);
            PyMem_RawFree(entry);
            if (PyStatus_Exception(status)) goto failed;
        }
    }
#undef CHECK
    ph_native_register_inittab();
    status = Py_InitializeFromConfig(&py);
    if (PyStatus_Exception(status)) goto failed;
    PyConfig_Clear(&py);
    return 0;

failed:
    *err = status_message(status);
    PyConfig_Clear(&py);
    return -1;
}

#endif

int ph_initialize(const ph_init_config *config, ph_tstate **main_ts, char **err) {
    *err = NULL;
    if (Py_IsInitialized()) {
        *err = ph_copy_str("Python is already initialized in this process");
        return -1;
    }
    if (initialize(config, err) < 0) return -1;
    ph_interp_register_main();
#if PH_PY_AT_LEAST(3, 13) && !PH_PY_AT_LEAST(3, 14)
    /* 3.13's _datetime keeps static types that the first interpreter to
     * import it sets up; when that is an own-GIL sub-interpreter, ending it
     * frees memory every other interpreter still uses (measured on 3.13.5:
     * "munmap_chunk(): invalid pointer" when the second one ends). Importing
     * it in main first makes main the owner. Absent from some builds: fine. */
    PyObject *datetime = PyImport_ImportModule("_datetime");
    if (datetime == NULL) PyErr_Clear();
    Py_XDECREF(datetime);
#endif
    /* Hand the GIL back: from here on every thread, this one included, takes
     * it through a thread state of its own (see src/python/gil.rs). */
    *main_ts = ph_detach();
    return 0;
}

int ph_finalize(ph_tstate *main_ts) {
    PyEval_RestoreThread(main_ts);
#if PH_PY_AT_LEAST(3, 6)
    return Py_FinalizeEx();
#else
    Py_Finalize();
    return 0;
#endif
}
