"""Run first in every process multiprocessing spawns from a hosted module.

A sub-interpreter's ``__main__.__file__`` names this file, and
multiprocessing's 'spawn' start method runs ``__main__``'s file in each child
(as ``__mp_main__``) before it unpickles anything. The child is a plain
Python, without the host: this makes ``import pyhost`` work there (from the
pyhost.py the host wrote beside this file) and lets the pickled functions of a
module, which name it ``pyhost_module_NAME``, be imported from its folder.
"""
import os
import sys


def _install():
    if 'pyhost' in sys.modules:
        return
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'pyhost.py')
    module = type(sys)('pyhost')
    module.__file__ = path
    sys.modules['pyhost'] = module
    with open(path) as source:
        exec(compile(source.read(), path, 'exec'), module.__dict__)
    sys.meta_path.append(module._SpawnedModuleFinder())


_install()
