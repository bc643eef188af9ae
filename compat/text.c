/*
 * Text, bytes and file-system paths. The native str is bytes on 2.x and
 * unicode on 3.x; paths are bytes on 2.x and, on 3.x, unicode decoded with
 * the file-system encoding and surrogateescape, so that file names which are
 * not valid UTF-8 still round-trip to the same bytes.
 */
#include "internal.h"

#include <string.h>

/* Copies a bytes object's contents into a new buffer. */
static int copy_bytes(PyObject *bytes, char **out, size_t *len) {
    *len = (size_t)PyBytes_GET_SIZE(bytes);
    *out = ph_copy(PyBytes_AS_STRING(bytes), *len);
    if (*out == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* Encodes a unicode object and copies the result. */
static int copy_encoded(PyObject *unicode, const char *encoding, const char *errors, char **out, size_t *len) {
    PyObject *bytes = PyUnicode_AsEncodedString(unicode, encoding, errors);
    if (bytes == NULL) return -1;
    int rc = copy_bytes(bytes, out, len);
    Py_DECREF(bytes);
    return rc;
}

static int type_error(const char *expected, PyObject *obj) {
    PyErr_Format(PyExc_TypeError, "expected %s, got %.200s", expected, Py_TYPE(obj)->tp_name);
    return -1;
}

ph_obj *ph_str_from_utf8(const char *data, size_t len) {
#if PH_PY2
    return PyString_FromStringAndSize(data, (Py_ssize_t)len);
#else
    return PyUnicode_DecodeUTF8(data, (Py_ssize_t)len, "strict");
#endif
}

int ph_str_to_utf8(ph_obj *obj, char **out, size_t *len) {
#if PH_PY2
    if (PyString_Check(obj)) return copy_bytes(obj, out, len);
#endif
    if (PyUnicode_Check(obj)) return copy_encoded(obj, "utf-8", "strict", out, len);
    return type_error("str", obj);
}

char *ph_str_of(ph_obj *obj) {
    char *out = NULL;
    size_t len = 0;
    PyObject *text = PyObject_Str(obj);
#if PH_PY2
    if (text == NULL) { /* str() of a unicode message with non-ASCII text */
        PyErr_Clear();
        text = PyObject_Unicode(obj);
    }
    if (text != NULL && PyString_Check(text)) {
        out = ph_copy(PyString_AS_STRING(text), (size_t)PyString_GET_SIZE(text));
        Py_DECREF(text);
        return out;
    }
#endif
    if (text == NULL) {
        PyErr_Clear();
        return ph_copy_str("<unprintable object>");
    }
    /* surrogateescape gives back the original bytes of undecodable file
     * names; backslashreplace covers any other lone surrogate. */
    if (copy_encoded(text, "utf-8", "surrogateescape", &out, &len) < 0) {
        PyErr_Clear();
        if (copy_encoded(text, "utf-8", "backslashreplace", &out, &len) < 0) {
            PyErr_Clear();
            out = ph_copy_str("<unprintable object>");
        }
    }
    Py_DECREF(text);
    return out;
}

ph_obj *ph_bytes_from(const char *data, size_t len) { return PyBytes_FromStringAndSize(data, (Py_ssize_t)len); }

int ph_bytes_to(ph_obj *obj, char **out, size_t *len) {
    if (PyBytes_Check(obj)) return copy_bytes(obj, out, len);
    return type_error("bytes", obj);
}

ph_obj *ph_path_from_fs(const char *data, size_t len) {
#if PH_PY2
    return PyString_FromStringAndSize(data, (Py_ssize_t)len);
#else
    return PyUnicode_DecodeFSDefaultAndSize(data, (Py_ssize_t)len);
#endif
}

int ph_path_to_fs(ph_obj *obj, char **out, size_t *len) {
#if PH_PY2
    if (PyString_Check(obj)) return copy_bytes(obj, out, len);
    if (PyUnicode_Check(obj)) {
        const char *encoding = Py_FileSystemDefaultEncoding ? Py_FileSystemDefaultEncoding : "utf-8";
        return copy_encoded(obj, encoding, "strict", out, len);
    }
    return type_error("str or unicode path", obj);
#else
#if PH_PY_AT_LEAST(3, 6)
    PyObject *path = PyOS_FSPath(obj); /* str, bytes or os.PathLike */
    if (path == NULL) return -1;
#else
    PyObject *path = obj;
    Py_INCREF(path);
#endif
    int rc;
    if (PyBytes_Check(path)) {
        rc = copy_bytes(path, out, len);
    } else if (PyUnicode_Check(path)) {
        PyObject *bytes = PyUnicode_EncodeFSDefault(path);
        rc = bytes ? copy_bytes(bytes, out, len) : -1;
        Py_XDECREF(bytes);
    } else {
        rc = type_error("str, bytes or os.PathLike", path);
    }
    Py_DECREF(path);
    return rc;
#endif
}
