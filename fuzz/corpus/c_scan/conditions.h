#if ((PY_MAJOR_VERSION > 2) ? defined(X) : !IS_PY3) || PY_VERSION_HEX < 0x02070000L
#elif 1 << 3
#else
u = PyUnicode_AS_UNICODE(o); Py_REFCNT(o)++; PyCObject_AsVoidPtr(c);
#endif
