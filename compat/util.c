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

int ph_supports_own_gil(void) {
#if PH_PY_AT_LEAST(3, 12)
    return 1;
#else
    return 0;
#endif
}
