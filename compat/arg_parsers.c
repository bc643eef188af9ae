/*
 * Keyword tuples that Argument Clinic's parsers keep in process-wide static
 * storage, and what finalizing does with them.
 *
 * Every Argument Clinic function of an extension module built outside
 * libpython (math, zlib, _ssl, _asyncio... in a shared-libpython build) has a
 * static _PyArg_Parser. Its first call with a keyword argument makes the
 * parser's keyword tuple in whichever interpreter is running, and links the
 * parser into _PyRuntime.getargs.static_parsers; Py_Finalize (_PyArg_Fini)
 * later releases each tuple it made, in the main interpreter. On 3.12.0 to
 * 3.12.3 an own-GIL interpreter has its own object allocator, so a tuple
 * made there is freed into the main interpreter's free lists and then to the
 * wrong allocator: "free(): invalid pointer" or "double free or corruption"
 * at exit. asyncio's import alone does it (ssl calls _ssl.txt2obj(name=...)).
 * CPython gh-119213, fixed in 3.12.4 (gh-119425), which makes such tuples in
 * the main interpreter. Until then the tuples stay valid, also for
 * interpreters started after their maker ended: nothing releases them, and
 * ending an interpreter unmaps none of its allocator's arenas (watched under
 * gdb on 3.12.1), so only their release is wrong.
 */
#define PH_NEED_RUNTIME_STATE /* static_parsers lives in _PyRuntime */
#include "internal.h"

#if PH_PY_AT_LEAST(3, 12) && !PH_PY_AT_LEAST(3, 13)

/* The loaded library's version, not the headers': a 3.12.4 build may run on
 * an older libpython3.12 and the other way round. */
static int releases_foreign_kwtuples(void) { return Py_Version >= 0x030C0000UL && Py_Version < 0x030C0400UL; }

void ph_arg_parsers_before_finalize(void) {
    if (!releases_foreign_kwtuples()) return;
    /* initialized == 1 marks a tuple the parser made (and _PyArg_Fini
     * releases); -1 one it was given (statically allocated) and leaves alone.
     * Marking them all "given" leaks a few small tuples at exit, rather than
     * telling which allocator each came from. The list only grows under the
     * GIL of a live interpreter, and at this point the caller holds the main
     * interpreter's and every other interpreter has ended. */
    for (struct _PyArg_Parser *p = _PyRuntime.getargs.static_parsers; p != NULL; p = p->next) {
        if (p->initialized == 1) p->initialized = -1;
    }
}

#else

void ph_arg_parsers_before_finalize(void) {}

#endif
