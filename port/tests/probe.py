"""Runs under each real interpreter (2.7 and 3.x) for test_mappings.py: reads
a JSON list of jobs on stdin and prints one JSON object, job id -> result.

  ["module", NAME]    "ok" when it imports; "found" when the interpreter has
                      it but cannot load it here (a C part not built, e.g.
                      _tkinter); else "missing: ..."
  ["attr", DOTTED]    "ok" when the dotted name resolves (in builtins when it
                      has no module part); "no-module" when its module does
                      not import; else "missing: ..."
  ["names", MODULE]   the module's public names: __all__, else the names its
                      own source (or, for a C module, the module) defines
  ["exec", CODE]      "ok" when the code runs in a fresh namespace, else the
                      exception it raised
Runs with -S -s -E: the standard library only, no site packages."""
import ast
import json
import sys
import types
import warnings

warnings.simplefilter('ignore')
try:
    import builtins
except ImportError:  # Python 2
    import __builtin__ as builtins


def found(name):
    """Whether the interpreter has module `name` even though it cannot load it here."""
    if name in getattr(sys, 'stdlib_module_names', ()):
        return True
    try:
        import importlib.util
        parts = name.split('.')
        spec = importlib.util.find_spec(parts[0])
        if spec is None or len(parts) == 1:
            return spec is not None
        # A submodule, without importing its package (which may be what fails).
        import os
        folders = list(spec.submodule_search_locations or [])
        for part in parts[1:-1]:
            folders = [os.path.join(f, part) for f in folders if os.path.isdir(os.path.join(f, part))]
        return any(os.path.exists(os.path.join(f, parts[-1] + '.py')) or
                   os.path.exists(os.path.join(f, parts[-1], '__init__.py')) for f in folders)
    except ImportError:
        pass
    try:
        import imp
        path = None
        for part in name.split('.'):
            handle = imp.find_module(part, path)
            if handle[0] is not None:
                handle[0].close()
            path = [handle[1]]
        return True
    except Exception:
        return False


def load(name):
    __import__(name)
    return sys.modules[name]


def module(name):
    try:
        load(name)
        return 'ok'
    except ImportError as e:
        return 'found' if found(name) else 'missing: %s' % e


def attr(dotted):
    parts = dotted.split('.')
    obj, rest = builtins, parts
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj, rest = load('.'.join(parts[:cut])), parts[cut:]
            break
        except ImportError:
            if cut == 1 and not hasattr(builtins, parts[0]):
                return 'no-module'
    for part in rest:
        if not hasattr(obj, part):
            return 'missing: %s has no %s' % (getattr(obj, '__name__', obj), part)
        obj = getattr(obj, part)
    return 'ok'


def names(name):
    mod = load(name)
    public = getattr(mod, '__all__', None)
    if public is not None:
        return sorted(public)
    path = getattr(mod, '__file__', '') or ''
    if path.endswith(('.pyc', '.pyo')):
        path = path[:-1]
    if path.endswith('.py'):
        with open(path) as f:
            tree = ast.parse(f.read())
        defined = set()
        for stmt in tree.body:
            for node in [stmt] + (list(ast.iter_child_nodes(stmt)) if isinstance(stmt, (ast.If, ast.TryExcept if hasattr(
                    ast, 'TryExcept') else ast.Try)) else []):
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    defined.add(node.name)
                elif isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            defined.add(target.id)
        # A compiled pattern at module level is the parser's machinery, not its API.
        return sorted(n for n in defined if not n.startswith('_') and hasattr(mod, n)
                      and not hasattr(getattr(mod, n), 'pattern'))
    return sorted(n for n in dir(mod) if not n.startswith('_') and not n.endswith('_CAPI')
                  and not isinstance(getattr(mod, n), types.ModuleType))


def run(code):
    try:
        exec(compile(code, '<snippet>', 'exec'), {'__name__': 'snippet'})
        return 'ok'
    except BaseException as e:
        return '%s: %s' % (type(e).__name__, e)


def main():
    jobs = json.loads(sys.stdin.read())
    out = {}
    for job_id, kind, arg in jobs:
        try:
            out[job_id] = {'module': module, 'attr': attr, 'names': names, 'exec': run}[kind](arg)
        except Exception as e:
            out[job_id] = 'error: %s: %s' % (type(e).__name__, e)
    sys.stdout.write(json.dumps(out) + '\n')


if __name__ == '__main__':
    main()
