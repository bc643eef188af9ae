/*
 * A callable that pulls pairs of text from the host, one per call, under
 * the GIL its caller holds. The host hands a module a batch of events this
 * way (src/host/delivery.rs): Python loops over the calls, and the host
 * takes each event off its queue only when it is asked for it, so events
 * not yet delivered stay in the queue, under its bound.
 *
 * The callable's self is a capsule holding the host's function and context;
 * ph_puller_close clears them, so a reference kept beyond the batch (a
 * traceback's frame) finds nothing more, never a dangling context.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define PULLER_NAME "pyhost.puller"

typedef struct {
    ph_pull_fn pull;
    void *ctx;
    /* The first text of the pair handed out last, as a str, and its bytes:
     * a batch's events mostly share their name, which is then made once. */
    PyObject *last_first;
    char *last_first_text;
    size_t last_first_len;
} puller;

static void forget_first(puller *p) {
    Py_CLEAR(p->last_first);
    free(p->last_first_text);
    p->last_first_text = NULL;
    p->last_first_len = 0;
}

static void free_puller(PyObject *capsule) {
    puller *p = (puller *)PyCapsule_GetPointer(capsule, PULLER_NAME);
    if (p == NULL) return;
    forget_first(p);
    free(p);
}

/* A new reference to `first` as a str: the one made for the pair before
 * when the text is the same. */
static PyObject *first_as_str(puller *p, const char *first, size_t first_len) {
    if (p->last_first != NULL && p->last_first_len == first_len && memcmp(p->last_first_text, first, first_len) == 0) {
        Py_INCREF(p->last_first);
        return p->last_first;
    }
    PyObject *made = ph_str_from_utf8(first, first_len);
    if (made == NULL) return NULL;
    char *text = (char *)malloc(first_len ? first_len : 1);
    forget_first(p);
    if (text != NULL) {
        memcpy(text, first, first_len);
        Py_INCREF(made);
        p->last_first = made;
        p->last_first_text = text;
        p->last_first_len = first_len;
    }
    return made;
}

static PyObject *puller_call(PyObject *self, PyObject *unused) {
    puller *p = (puller *)PyCapsule_GetPointer(self, PULLER_NAME);
    if (p == NULL) return NULL;
    const char *first = NULL, *second = NULL;
    size_t first_len = 0, second_len = 0;
    if (p->pull == NULL || !p->pull(p->ctx, &first, &first_len, &second, &second_len)) Py_RETURN_NONE;
    PyObject *a = first_as_str(p, first, first_len);
    PyObject *b = a ? ph_str_from_utf8(second, second_len) : NULL;
    PyObject *pair = b ? PyTuple_Pack(2, a, b) : NULL;
    Py_XDECREF(a);
    Py_XDECREF(b);
    return pair;
}

static PyMethodDef puller_def = {"next_pair", puller_call, METH_NOARGS,
                                 "next_pair() -> (str, str) or None when there is nothing more"};

ph_obj *ph_puller_new(ph_pull_fn pull, void *ctx) {
    puller *p = (puller *)malloc(sizeof *p);
    if (p == NULL) return PyErr_NoMemory();
    p->pull = pull;
    p->ctx = ctx;
    p->last_first = NULL;
    p->last_first_text = NULL;
    p->last_first_len = 0;
    PyObject *capsule = PyCapsule_New(p, PULLER_NAME, free_puller);
    if (capsule == NULL) {
        free(p);
        return NULL;
    }
    PyObject *function = PyCFunction_NewEx(&puller_def, capsule, NULL);
    Py_DECREF(capsule);
    return function;
}

void ph_puller_close(ph_obj *function) {
    PyObject *capsule = PyCFunction_GET_SELF(function);
    puller *p = capsule ? (puller *)PyCapsule_GetPointer(capsule, PULLER_NAME) : NULL;
    if (p == NULL) {
        PyErr_Clear();
        return;
    }
    p->pull = NULL;
    p->ctx = NULL;
    forget_first(p);
}
