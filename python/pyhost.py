"""pyhost: what a hosted module sees of its host. Runs unchanged on 2.7 and 3.x.

A module is a folder holding ``module.py`` that defines one subclass of
``pyhost.Module``::

    import pyhost

    class Hello(pyhost.Module):
        OPTIONS = {'greeting': 'hello'}     # option -> default
        NOTIFY_TYPES = ['tick', 'state']    # events notify() receives

        def serve(self):                    # optional; runs on its own thread
            while not self.stopping.wait(1):
                self.log.info(self.get_option('greeting'))

        def notify(self, event, payload):   # optional
            self.set_state('last_event', event)

        @pyhost.expose                      # other modules may call it with remote()
        def greeting(self):
            return self.get_option('greeting')

        def self_test(self):                # optional; raise on failure
            assert self.remote('other', 'ping') == 'pong'

The host calls the functions whose names start with ``_host_``; modules never
need them. Everything that crosses between the host and a module, or between
two modules, is JSON text: no Python object leaves its interpreter.
"""

import io
import os
import sys
# _weakref, not weakref: proxy() is all this uses, and weakref.py costs each
# interpreter about 100 KiB of objects (README, "Performance at scale").
import _weakref

PY2 = sys.version_info[0] == 2

if PY2:
    # 2.7's import lock is process-wide: an import statement run later, in
    # a host call, would wait behind any module hung in its own import.
    import json
    import logging
    import thread as _thread
    import threading  # 2.7's locks take no timeout: stopping stays a threading.Event
    import traceback
else:
    # threading is not imported here: it is patched when a module imports
    # it (see _patch_threading). It was 60% of what a module's interpreter
    # cost beyond a bare one on 3.13, and 75% on 3.11 (README, "Performance
    # at scale"), and a module that starts no thread never needs it.
    import _thread

    # json, logging and traceback are imported where first used: together
    # they were a quarter of the cost of starting a module's interpreter
    # (README, "Where the time of a start goes"), and many modules log
    # nothing and never fail.
    json = logging = traceback = None

try:
    import _pyhost
except ImportError:  # a process multiprocessing spawned from a module: no host here
    _pyhost = None

__all__ = ['Module', 'RemoteError', 'ModuleExit', 'expose']


class RemoteError(Exception):
    """A host call or a call to another module failed; the message says why."""


class ModuleExit(SystemExit):
    """Raised where a module called os._exit or os.abort: the host keeps
    running and marks the module failed instead of letting it end the process."""


def _json():
    global json
    if json is None:
        import json as module
        json = module
    return json


def _logging():
    global logging
    if logging is None:
        import logging as module
        logging = module
    return logging


def _traceback():
    global traceback
    if traceback is None:
        import traceback as module
        traceback = module
    return traceback


def _text(value):
    """Native text for JSON: 2.x byte strings are decoded, never rejected."""
    if PY2 and isinstance(value, str):
        return value.decode('utf-8', 'replace')
    return value


def _call(method, payload):
    if _pyhost is None:
        raise RemoteError('this process is not a pyhost host (a process multiprocessing started?); '
                          'host calls work in the host only')
    try:
        reply = _pyhost.call(method, _json().dumps(payload))
    except RuntimeError as error:
        raise RemoteError(str(error))
    return _json().loads(reply) if reply else None


# -- which module is running ------------------------------------------------
# One interpreter usually holds one module; the main interpreter may hold
# several, so the current module is tracked per thread, and threads a module
# starts inherit it (see _patched_start).

_local = _thread._local()
_interpreter_module = [None]


def _current_module():
    name = getattr(_local, 'module', None)
    if name is None:
        # Only threading.Threads carry a module (_patched_start); without
        # threading imported there are none.
        threading = sys.modules.get('threading')
        if threading is not None:
            name = getattr(threading.current_thread(), '_pyhost_module', None)
    return name or _interpreter_module[0]


class _Running(object):
    """Marks the current thread as running module `name` for a while."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.saved = getattr(_local, 'module', None)
        _local.module = self.name

    def __exit__(self, *exc):
        _local.module = self.saved
        return False


# -- the module base class ----------------------------------------------------

_log_handler_class = []


def _host_log_handler(module):
    """A logging handler whose records go to the host log, tagged `module`
    (its class is made when a module first logs: logging is imported then)."""
    if not _log_handler_class:
        logging = _logging()

        class _HostLogHandler(logging.Handler):
            def __init__(self, module):
                logging.Handler.__init__(self)
                self.module = module

            def emit(self, record):
                try:
                    _call('log', {'module': self.module, 'level': record.levelname.lower(),
                                  'message': _text(self.format(record))})
                except Exception:
                    self.handleError(record)

        _log_handler_class.append(_HostLogHandler)
    return _log_handler_class[0](module)


class _ModuleLog(object):
    """Module.log: the module's logger, made on first use and then kept on the
    instance (a module may also assign its own)."""

    def __get__(self, instance, owner):
        if instance is None:
            return self
        log = _logging().getLogger('pyhost.module.' + instance.name)
        log.propagate = False
        log.setLevel(_logging().DEBUG)
        if not log.handlers:
            log.addHandler(_host_log_handler(instance.name))
        instance.__dict__['log'] = log
        return log


def expose(method):
    """Marks a method other modules may call with remote(). Nothing else of a
    module is reachable that way (set EXPOSE_ALL = True on the class to open
    every public method of the module's own, as before)."""
    method._pyhost_exposed = True
    return method


# What the host itself calls: never reachable through remote(), exposed or not.
_LIFECYCLE = frozenset(['serve', 'shutdown', 'notify', 'self_test'])


class Module(object):
    """Base class of hosted modules. A subclass's __init__ takes no arguments;
    name, options, log and stopping are set before it runs."""

    OPTIONS = {}
    NOTIFY_TYPES = []
    EXPOSE_ALL = False  # True: remote() may call every public method the subclass defines

    log = _ModuleLog()

    def __init__(self):
        pass

    def get_option(self, name):
        if name in self._pyhost_options:
            return self._pyhost_options[name]
        if name in self.OPTIONS:
            return self.OPTIONS[name]
        raise KeyError('module %s has no option %r (declare it in OPTIONS)' % (self.name, name))

    def get_state(self, key, default=None):
        """A value from the host's store, shared by all modules."""
        reply = _call('state.get', {'module': self.name, 'key': _text(key)})
        return default if reply is None or reply.get('value') is None else reply['value']

    def set_state(self, key, value):
        """Stores a JSON-able value; modules listening for 'state' are notified."""
        _call('state.set', {'module': self.name, 'key': _text(key), 'value': value})

    def remote(self, module, method, *args):
        """Calls method(*args) of another module; arguments and result travel as JSON."""
        reply = _call('remote', {'module': self.name, 'target': _text(module),
                                 'method': _text(method), 'args': list(args)})
        return reply['result']

    def shutdown(self):
        """Asks serve() to return; the default sets self.stopping."""
        self.stopping.set()


# -- guards -------------------------------------------------------------------

# The real ones, taken before _host_bootstrap replaces them.
_real_os_exit = os._exit
_real_os_abort = os.abort
_host_pid = [None]


def _in_forked_child():
    """True in a process forked from the host (os.fork, multiprocessing's
    'fork'): the guards are the host's, and this process is not the host."""
    return _host_pid[0] is not None and os.getpid() != _host_pid[0]


def _report_exit(what):
    stack = ''.join(_traceback().format_stack()[:-2])
    _call('guard', {'module': _current_module(), 'what': what, 'traceback': _text(stack)})


def _guarded_os_exit(code=0):
    # CherryPy's Bus.exit calls os._exit(70) when a start listener fails (a
    # port already in use): that must fail the module, not end the host. A
    # forked child (multiprocessing ends each with os._exit) ends for real.
    if _in_forked_child():
        _real_os_exit(code)
    _report_exit('os._exit(%r)' % (code,))
    raise ModuleExit(code)


def _guarded_os_abort():
    # os.abort() would end the host with SIGABRT and no report.
    if _in_forked_child():
        _real_os_abort()
    _report_exit('os.abort()')
    raise ModuleExit(134)  # what a shell reports for SIGABRT


def _make_guarded_sys_exit(original):
    def exit(code=None):
        # On a thread the module started, SystemExit would end only that
        # thread, silently; reporting it first makes it fail the module. In
        # a call from the host (serve, notify...) it reaches the host anyway.
        if getattr(_local, 'module', None) is None and not _in_forked_child():
            _report_exit('sys.exit(%r)' % (code,))
        original(code)
    return exit


_FORK_REFUSAL = (
    'os.%s() is not supported in a sub-interpreter: CPython cannot continue the forked child in one. '
    'Use multiprocessing (it starts processes with "spawn" here) or subprocess, or run the module in the '
    'main interpreter (isolation = "main")')


def _refused(name):
    def refused(*args, **kwargs):
        raise RuntimeError(_FORK_REFUSAL % name)
    refused.__name__ = name
    return refused


def _spawn_by_default(context):
    """multiprocessing starts processes with 'fork' by default, which no
    sub-interpreter can survive: once multiprocessing.context is imported in
    one, its default is 'spawn' (sys.executable is the real interpreter).
    get_context() still gives any method on request."""
    context._default_context = context.DefaultContext(context._concrete_contexts['spawn'])
    _point_main_at_spawn_support()


def _point_main_at_spawn_support():
    # multiprocessing's spawned children run __main__'s file first: the host
    # writes one (see spawn_main.py) the first time a module needs it.
    main = sys.modules.get('__main__')
    if main is None or getattr(main, '__file__', None) is not None:
        return
    try:
        main.__file__ = _call('spawn_main', {})['path']
    except RemoteError as error:
        _logging().getLogger('pyhost').warning('processes multiprocessing spawns will not find pyhost: %s', error)


class _SpawnedModuleFinder(object):
    """In a process multiprocessing spawned from a module: imports
    ``pyhost_module_NAME`` (the name the host gives a module's module.py, which
    pickled functions carry) from the folder NAME on sys.path, where the host
    put the module's folder."""

    PREFIX = 'pyhost_module_'

    def find_spec(self, name, path=None, target=None):
        if not name.startswith(self.PREFIX) or '.' in name:
            return None
        import importlib.util
        folder_name = name[len(self.PREFIX):]
        for folder in sys.path:
            candidate = os.path.join(folder or '.', 'module.py')
            if os.path.basename(os.path.normpath(folder or '.')) == folder_name and os.path.isfile(candidate):
                return importlib.util.spec_from_file_location(name, candidate)
        return None


def _patched_start(original):
    def start(self):
        if getattr(self, '_pyhost_module', None) is None:
            self._pyhost_module = _current_module()
        return original(self)
    return start


def _patch_threading(threading):
    threading.Thread.start = _patched_start(threading.Thread.start)
    loading = getattr(_local, 'loading', None)
    if loading is not None:
        loading.take(threading)


def _patch_on_import(name, patch):
    """Runs patch(module) on the standard module `name` once it is imported
    in this interpreter, or now if it is: what the host changes in a module
    costs nothing to an interpreter that never imports it."""
    if name in sys.modules:
        patch(sys.modules[name])
    elif not PY2:  # 2.7 imports threading up front, and always forks (subprocess)
        sys.meta_path.insert(0, _PatchedOnImport(name, patch))


class _PatchedOnImport(object):
    """Finds one module as the other finders would, and patches it once loaded."""

    def __init__(self, name, patch):
        self._name = name
        self._patch = patch

    def find_spec(self, name, path=None, target=None):
        if name != self._name:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, 'find_spec', None)
            if isinstance(finder, _PatchedOnImport) or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                spec.loader = _LoaderThenPatch(spec.loader, self._patch)
                return spec
        return None


class _LoaderThenPatch(object):
    def __init__(self, loader, patch):
        self._loader = loader
        self._patch = patch

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _Stopping(object):
    """Module.stopping on 3.x: what threading.Event offers (set, is_set,
    clear, wait with a timeout), on _thread's locks, so that a module that
    starts no thread never imports threading (see the imports above)."""

    def __init__(self):
        self._guard = _thread.allocate_lock()
        self._flag = False
        self._waiters = []

    def is_set(self):
        return self._flag

    isSet = is_set

    def set(self):
        with self._guard:
            self._flag = True
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.release()

    def clear(self):
        with self._guard:
            self._flag = False

    def wait(self, timeout=None):
        with self._guard:
            if self._flag:
                return True
            waiter = _thread.allocate_lock()
            waiter.acquire()
            self._waiters.append(waiter)
        try:
            if timeout is None:
                woken = waiter.acquire()
            else:
                woken = waiter.acquire(True, timeout) if timeout > 0 else waiter.acquire(False)
        finally:
            with self._guard:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return woken or self._flag

    def __repr__(self):
        return '<pyhost stopping: %s>' % ('set' if self._flag else 'unset')


# -- standard streams ---------------------------------------------------------

_TextBase = object if PY2 else io.TextIOBase
_BytesBase = object if PY2 else io.BufferedIOBase


def _closed_error():
    return ValueError('I/O operation on closed file.')


class _HostStream(_TextBase):
    """sys.stdout / sys.stderr of a hosted interpreter: a whole text stream
    (a file-like object on 2.7) whose complete lines go to the host log,
    tagged with the module that wrote them. close() closes it for the module
    that called it only, since the main interpreter's stream serves several."""

    mode = 'w'
    line_buffering = True

    def __init__(self, label, original):
        self._label = label
        self.name = '<%s>' % label
        self._encoding = getattr(original, 'encoding', None) or 'utf-8'
        self._partial = {}
        self._closed_for = set()
        self._lock = _thread.allocate_lock()
        self.buffer = _HostBuffer(self)

    encoding = property(lambda self: self._encoding)
    errors = property(lambda self: 'replace')
    newlines = property(lambda self: None)

    @property
    def closed(self):
        return _current_module() in self._closed_for

    def _check_open(self):
        if self.closed:
            raise _closed_error()

    def write(self, data):
        self._check_open()
        if not PY2 and not isinstance(data, str):
            raise TypeError('write() argument must be str, not %s' % type(data).__name__)
        data = _text(data)
        module = _current_module()
        with self._lock:
            lines = (self._partial.pop(module, u'') + data).split(u'\n')
            if lines[-1]:
                self._partial[module] = lines[-1]
        for line in lines[:-1]:
            self._send(module, line)
        return len(data)

    def writelines(self, lines):
        self._check_open()
        for line in lines:
            self.write(line)

    def flush(self):
        self._check_open()
        self._flush_module(_current_module())

    def _flush_module(self, module):
        with self._lock:
            line = self._partial.pop(module, None)
        if line is not None:
            self._send(module, line)

    def _flush_all(self):
        """The host's flush: every module's partial line, closed or not."""
        with self._lock:
            partial, self._partial = self._partial, {}
        for module, line in partial.items():
            self._send(module, line)

    def close(self):
        module = _current_module()
        if module not in self._closed_for:
            self._flush_module(module)
            self._closed_for.add(module)

    def _reopen(self, module):
        """A module loaded again (main interpreter) starts with open streams."""
        self._closed_for.discard(module)

    def _send(self, module, line):
        try:
            _call('output', {'module': module, 'stream': self._label, 'line': line})
        except Exception:
            pass  # the host is going away; losing a line beats raising in print

    def readable(self):
        self._check_open()
        return False

    def writable(self):
        self._check_open()
        return True

    def seekable(self):
        self._check_open()
        return False

    def isatty(self):
        self._check_open()
        return False

    def fileno(self):
        # Not the process's descriptor: what went there would bypass the log.
        raise io.UnsupportedOperation('fileno')

    def __del__(self):
        pass  # io.IOBase would close it, for whichever module runs the finalizer

    def __repr__(self):
        return '<pyhost stream %s>' % self.name


class _HostBuffer(_BytesBase):
    """The stream's .buffer: bytes written here are decoded with the
    stream's encoding and go the same way."""

    def __init__(self, stream):
        # A weak reference: stream.buffer -> buffer -> stream would be a
        # cycle, and 2.7 does not collect a sub-interpreter's cycles when it
        # ends, so each one ended would keep this whole module alive (about
        # 22 KiB per restart, seen by `pyhost bench soak`). The stream lives
        # as long as the interpreter: _streams holds it.
        self._stream = _weakref.proxy(stream)
        self._decoders = {}

    @property
    def closed(self):
        return self._stream.closed

    def write(self, data):
        if self._stream.closed:
            raise _closed_error()
        if isinstance(data, memoryview):
            data = data.tobytes()
        if not isinstance(data, (bytes, bytearray)) or (PY2 and isinstance(data, unicode)):  # noqa: F821
            raise TypeError("a bytes-like object is required, not '%s'" % type(data).__name__)
        module = _current_module()
        decoder = self._decoders.get(module)
        if decoder is None:
            import codecs
            decoder = self._decoders[module] = codecs.getincrementaldecoder(self._stream.encoding)('replace')
        self._stream.write(decoder.decode(bytes(data)))
        return len(data)

    def flush(self):
        self._stream.flush()

    def close(self):
        self._stream.close()

    def readable(self):
        return self._stream.readable()

    def writable(self):
        return self._stream.writable()

    def seekable(self):
        return self._stream.seekable()

    def isatty(self):
        return self._stream.isatty()

    def fileno(self):
        raise io.UnsupportedOperation('fileno')

    def __del__(self):
        pass


_streams = []


def _flush_std():
    """Flushes what the host's streams hold, whoever closed them."""
    for stream in _streams:
        stream._flush_all()


# -- signals ------------------------------------------------------------------
#
# The host blocks SIGINT, SIGTERM and SIGHUP in every thread and takes them on
# a thread of its own, so that no module can take them over; a child inherits
# that mask. The host's atfork handler unblocks them in a child made by fork(),
# but Python 3.10+ starts subprocess children with vfork (or posix_spawn),
# which runs no atfork handler. So subprocess is told not to, when it is first
# imported (importing it up front would cost every interpreter its import).

def _without_vfork(subprocess):
    for flag in ('_USE_VFORK', '_USE_POSIX_SPAWN'):
        if getattr(subprocess, flag, False):
            setattr(subprocess, flag, False)


def _keep_children_signalable():
    _patch_on_import('subprocess', _without_vfork)


# The host's own signals: it blocks them in every thread and takes them on a
# thread of its own, so a Python handler for them never runs anyway.
_HOST_SIGNALS = ('SIGINT', 'SIGTERM', 'SIGHUP')


def _host_signals_from_any_thread():
    """In the main interpreter, signal.signal works only on the main thread,
    and the host loads modules on threads of their own. A module that asks
    for one of the host's signals from another thread (in __init__, say)
    gets what it would get on the main thread: the call succeeds, and the
    handler never runs. Other signals keep Python's rule."""
    import signal as signal_module
    import threading  # the main interpreter has it: the host imported it there first
    original = signal_module.signal
    host_signals = set(getattr(signal_module, name) for name in _HOST_SIGNALS if hasattr(signal_module, name))
    asked = {}

    def signal(signalnum, handler):
        if signalnum in host_signals and not isinstance(threading.current_thread(), threading._MainThread):
            previous = asked.get(signalnum, signal_module.getsignal(signalnum))
            asked[signalnum] = handler
            return previous
        return original(signalnum, handler)

    signal.__doc__ = original.__doc__
    signal_module.signal = signal


_installed = []


def _host_bootstrap(module_name, site_dirs):
    """Prepares this interpreter for hosting: site folders, guards, output
    capture. Called once per interpreter; module_name is None for the main
    interpreter, which may hold several modules."""
    import site
    before = list(sys.path)
    for folder in site_dirs:
        site.addsitedir(folder)  # processes .pth files, as namespace packages need
    # addsitedir appends; the host's folders must win over the system's
    # dist-packages (Debian's six would shadow a pinned one), as PYTHONPATH does.
    added = [p for p in sys.path if p not in before]
    sys.path[:] = added + before
    _interpreter_module[0] = module_name
    # Again on a second call: the placement probe bootstraps each module
    # again in a copy of its process (a fork of its own), which is the host.
    _host_pid[0] = os.getpid()
    if _installed:
        return
    _installed.append(True)
    sys.dont_write_bytecode = True  # a host does not write into module folders
    os._exit = _guarded_os_exit
    os.abort = _guarded_os_abort
    sys.exit = _make_guarded_sys_exit(sys.exit)
    if module_name is not None and not PY2:
        # 3.x: a sub-interpreter's forked child dies in PyOS_AfterFork_Child
        # ("not main interpreter"), after a copy of the host has started it.
        for name in ('fork', 'forkpty'):
            if hasattr(os, name):
                setattr(os, name, _refused(name))
        _patch_on_import('multiprocessing.context', _spawn_by_default)
    _patch_on_import('threading', _patch_threading)
    _keep_children_signalable()
    if module_name is None:
        _host_signals_from_any_thread()
    sys.stdout = _HostStream('stdout', sys.stdout)
    sys.stderr = _HostStream('stderr', sys.stderr)
    _streams[:] = [sys.stdout, sys.stderr]


# -- loading ------------------------------------------------------------------

class Unloadable(Exception):
    """The module cannot be loaded at all: a syntax error, a failed import, no
    Module subclass. The message names the file and line."""


def _where(error_tb, path):
    """File and line of the innermost frame in the module's own folder."""
    folder = os.path.dirname(os.path.abspath(path))
    found = None
    for filename, line, _, _ in _traceback().extract_tb(error_tb):
        if os.path.abspath(filename).startswith(folder):
            found = (filename, line)
    return found


def _import_file(qualified, path):
    if PY2:
        import imp
        return imp.load_source(qualified, path)
    # What importlib.util re-exports, from the frozen modules every 3.x
    # interpreter has already: importing the importlib package for these two
    # functions costs each module's interpreter about 35 KiB of objects.
    spec = sys.modules['_frozen_importlib_external'].spec_from_file_location(qualified, path)
    module = sys.modules['_frozen_importlib'].module_from_spec(spec)
    sys.modules[qualified] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(qualified, None)
        raise
    return module


def _load_class(name, path):
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the module's own helpers, 2.x implicit relative imports too
    try:
        module = _import_file('pyhost_module_' + name, path)
    except SyntaxError as error:
        raise Unloadable('%s, line %s: SyntaxError: %s' % (error.filename, error.lineno, error.msg))
    except Exception as error:
        where = _where(sys.exc_info()[2], path)
        prefix = '%s, line %s: ' % where if where else ''
        raise Unloadable('%s%s: %s' % (prefix, type(error).__name__, error))
    classes = [c for c in vars(module).values()
               if isinstance(c, type) and issubclass(c, Module) and c is not Module
               and c.__module__ == module.__name__]
    if len(classes) != 1:
        raise Unloadable('%s: expected one subclass of pyhost.Module, found %d' % (path, len(classes)))
    return classes[0]


class _NotADaemon(object):
    """The host loads each module on a thread of its own, which Python sees
    as a daemon "dummy" thread, and threads started there would inherit
    that: while it loads a module, it passes for a non-daemon thread, so the
    module's import and __init__ start threads non-daemon, as they do when
    Python runs a module on its main thread. Only while loading: a dummy
    that looks non-daemon afterwards is one that code joining every
    non-daemon thread (CherryPy's Bus.block) would try to join."""

    _flag = '_Thread__daemonic' if PY2 else '_daemonic'

    def __enter__(self):
        self.dummy = None
        _local.loading = self
        threading = sys.modules.get('threading')
        if threading is not None:
            self.take(threading)

    def take(self, threading):
        """Also called when the module imports threading while it loads
        (_patch_threading): on 3.12+ threading's main thread is the
        process's, so this thread becomes a daemon dummy then too."""
        current = threading.current_thread()
        if isinstance(current, threading._DummyThread) and current.daemon:
            self.dummy = current
            setattr(current, self._flag, False)

    def __exit__(self, *exc):
        _local.loading = None
        if self.dummy is not None:
            setattr(self.dummy, self._flag, True)
        return False


def _host_load(name, path, options_json):
    """Imports module.py and makes the instance. Returns (instance, meta JSON)."""
    for stream in _streams:
        stream._reopen(name)
    with _Running(name), _NotADaemon():
        cls = _load_class(name, path)
        instance = cls.__new__(cls)
        instance.name = name
        # Most modules have no options: no JSON to read then.
        instance._pyhost_options = _json().loads(options_json) if options_json != '{}' else {}
        instance.stopping = threading.Event() if PY2 else _Stopping()
        instance.__init__()
    # A tuple the host reads itself, rather than JSON to write here.
    notify_types = [_text(t) for t in cls.NOTIFY_TYPES]
    return instance, (notify_types, callable(getattr(instance, 'serve', None)),
                      callable(getattr(instance, 'self_test', None)))


def _host_serve(instance):
    with _Running(instance.name):
        try:
            instance.serve()
        finally:
            _flush_std()


# Events reach notify() in batches, under one hold of the GIL (see
# src/host/delivery.rs): _host_notify_batch gets a callable that returns the
# next (event, payload JSON) pair, taken off the module's queue only then,
# or None when the batch is over. The payload is JSON the host wrote itself
# (compact, nothing around it), so the C scanner reads it directly:
# json.loads would add three Python calls and two regex matches per event
# for the same object. The scanner is made on the first event, because json
# is imported only when first used (an interpreter starts faster without it).
_scan_json = None


def _scanner():
    global _scan_json
    if _scan_json is None:
        _scan_json = _json().JSONDecoder().scan_once
    return _scan_json


def _host_notify_batch(instance, next_event):
    scan = _scanner()
    with _Running(instance.name):
        while True:
            pair = next_event()
            if pair is None:
                return
            instance.notify(pair[0], scan(pair[1], 0)[0])


def _host_notify(instance, event, payload_json):
    """One event alone, as a host taking the GIL per event delivers it
    (pyhost bench notify's baseline)."""
    with _Running(instance.name):
        instance.notify(event, _scanner()(payload_json, 0)[0])


def _host_shutdown(instance):
    with _Running(instance.name):
        instance.stopping.set()
        instance.shutdown()


def _remote_refusal(instance, method):
    """Why remote() may not call instance.method, or None when it may."""
    if method.startswith('_') or method in _LIFECYCLE:
        return ('module %s: %r is not callable with remote(): the host alone calls lifecycle '
                'and private methods' % (instance.name, method))
    function = getattr(instance, method, None)
    if not callable(function):
        return 'module %s has no method %r' % (instance.name, method)
    if getattr(function, '_pyhost_exposed', False):
        return None
    if getattr(type(instance), 'EXPOSE_ALL', False) and not hasattr(Module, method):
        return None
    return ('module %s does not expose %r to remote(): decorate it with @pyhost.expose '
            '(or set EXPOSE_ALL = True on %s)' % (instance.name, method, type(instance).__name__))


def _host_remote(instance, method, args_json):
    with _Running(instance.name):
        refusal = _remote_refusal(instance, method)
        if refusal is not None:
            raise RemoteError(refusal)
        function = getattr(instance, method)
        return _json().dumps({'result': function(*_json().loads(args_json))})


def _host_self_test(instance):
    """Runs self_test(); False when the module has none."""
    test = getattr(instance, 'self_test', None)
    if not callable(test):
        return False
    with _Running(instance.name):
        test()
    return True


def _host_threads(name):
    """Live threads that module `name` started: (name, daemon) pairs."""
    threading = sys.modules.get('threading')
    if threading is None:
        return []  # no threading.Thread was ever started here
    return [(_text(t.name), bool(t.daemon)) for t in threading.enumerate()
            if getattr(t, '_pyhost_module', None) == name and t.is_alive()]


def _host_probe(name, path):
    """For placement: import module.py (nothing more); return the extension
    modules it brought in, and the files of every module it brought in (the
    host keeps the verdict while none of them changes). Raises what the
    import raised."""
    before = set(sys.modules)
    _load_class(name, path)
    suffixes = ('.so', '.pyd')
    found = []
    files = [path]
    for key in set(sys.modules) - before:
        filename = getattr(sys.modules.get(key), '__file__', None) or ''
        if filename.endswith(suffixes):
            found.append(key)
        if filename:
            files.append(filename)
    # Lists the host reads itself: no json import per probed module.
    return sorted(found), sorted(set(files))
