# Prints, as one JSON object, what build.rs needs to know to embed this
# interpreter. Runs unchanged on Python 2.7 through 3.13, so it sticks to the
# subset of sys/sysconfig both have. Pitfalls it works around:
#   - Debian's 2.7 reports sysconfig.get_paths()['include'] as a folder that
#     does not exist; INCLUDEPY is the real one, so it comes first.
#   - LIBDIR may lack the multiarch part (/usr/lib vs /usr/lib/x86_64-linux-gnu)
#     where libpythonX.Y.so really is, so every plausible folder is listed and
#     build.rs picks the one that holds the library.
#   - LDVERSION is None on 2.7 (and there are no ABI flags).
import json
import os
import sys
import sysconfig


def var(name):
    value = sysconfig.get_config_var(name)
    if value is None:
        return None
    return str(value)


def lib_dirs():
    libdir = var("LIBDIR")
    multiarch = var("MULTIARCH")
    dirs = []
    for d in (libdir,
              libdir and multiarch and os.path.join(libdir, multiarch),
              var("LIBPL"),
              os.path.join(sys.base_prefix if hasattr(sys, "base_prefix") else sys.prefix, "lib")):
        if d and d not in dirs:
            dirs.append(d)
    return dirs


def include_dirs():
    dirs = []
    for d in (var("INCLUDEPY"), sysconfig.get_paths().get("include")):
        if d and d not in dirs:
            dirs.append(d)
    return dirs


version = sys.version_info
abiflags = getattr(sys, "abiflags", "")
ldversion = var("LDVERSION") or ("%d.%d%s" % (version[0], version[1], abiflags))

print(json.dumps({
    "major": version[0],
    "minor": version[1],
    "micro": version[2],
    "version": "%d.%d.%d" % (version[0], version[1], version[2]),
    "hexversion": sys.hexversion,
    "executable": os.path.realpath(sys.executable),
    "prefix": sys.prefix,
    "include_dirs": include_dirs(),
    "lib_dirs": lib_dirs(),
    "ldversion": ldversion,
    "abiflags": abiflags,
    "shared": var("Py_ENABLE_SHARED") == "1",
    "gil_disabled": var("Py_GIL_DISABLED") == "1",
    "pointer_size": 8 if sys.maxsize > 2 ** 32 else 4,
}))
