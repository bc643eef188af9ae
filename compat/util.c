/* Buffers and small helpers shared by the compat layer. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ph_free(void *buffer) { free(buffer); }

char *ph_copy(const char *data, size_t len) {
    char *out = (char *)malloc(len + 1);
    if (out == NULL) return NULL;
    if (len > 0) memcpy(out, data, len);
    out[len] = '\0';
    return out;
}

char *ph_copy_str(const char *text) { return ph_copy(text, strlen(text)); }

char *ph_format(const char *format, ...) {
    va_list args;
    va_start(args, format);
    int len = vsnprintf(NULL, 0, format, args);
    va_end(args);
    if (len < 0) return ph_copy_str(format);
    char *out = (char *)malloc((size_t)len + 1);
    if (out == NULL) return NULL;
    va_start(args, format);
    vsnprintf(out, (size_t)len + 1, format, args);
    va_end(args);
    return out;
}

PyInterpreterState *ph_current_interp(void) {
#if PH_PY_AT_LEAST(3, 9)
    return PyInterpreterState_Get();
#else
    return PyThreadState_Get()->interp;
#endif
}

unsigned long ph_header_hexversion(void) { return PY_VERSION_HEX; }

const char *ph_runtime_version(void) { return Py_GetVersion(); }

/* Own-GIL interpreters exist from 3.12, but on 3.12.0-3.12.3 they abort the
 * process ("double free or corruption", "free(): invalid pointer") when they
 * end after importing ordinary stdlib modules: hashlib (keyword tuples made
 * in the wrong allocator, CPython gh-119213, fixed in 3.12.4), datetime and
 * decimal (the refused single-phase _datetime/_decimal still set up their
 * static types in the importing interpreter's memory), and CherryPy never
 * answers there. The host cannot make every import safe, so the mode is
 * refused on those versions and `shared` is the default. Decided on the
 * loaded library's version (Py_Version), not the headers'. */
#define PH_OWN_GIL_FIXED_IN 0x030C0400 /* 3.12.4 */

char *ph_own_gil_refusal(void) {
#if PH_PY_AT_LEAST(3, 12)
    unsigned long runtime = Py_Version;
    if (runtime >= PH_OWN_GIL_FIXED_IN) return NULL;
    return ph_format("own-gil needs CPython 3.12.4 or later: this is %lu.%lu.%lu (CPython gh-119213 "
                     "and the other own-GIL fixes of 3.12.4: own-GIL interpreters that imported hashlib, "
                     "datetime or decimal double-free memory when they end)",
                     (runtime >> 24) & 0xff, (runtime >> 16) & 0xff, (runtime >> 8) & 0xff);
#else
    return ph_format("own-gil needs Python 3.12 or later: this is %s", PY_VERSION);
#endif
}

int ph_supports_own_gil(void) {
    char *refusal = ph_own_gil_refusal();
    if (refusal == NULL) return 1;
    ph_free(refusal);
    return 0;
}
