"""legacy_cext with its native part ported: ported_tally.c is legacy_tally.c
with pyhost/legacy_compat.h (PyString_* declared text, PyInt_* from py3c,
PYHOST_MODULE for the init). It builds and passes on 2.7 and every 3.x, and
on 3.12+ it is imported in the module's own-GIL interpreter, which refuses
single-phase extensions: PYHOST_MODULE is multi-phase there."""
import sys

import pyhost

import ported_tally

# Two characters, three bytes in UTF-8: text on 3.x, its UTF-8 bytes in a 2.7 str.
H_E_ACUTE = u'h\xe9' if sys.version_info[0] >= 3 else u'h\xe9'.encode('utf-8')


def interpreter_id():
    """This interpreter's id (0 is the main interpreter)."""
    for name in ('_interpreters', '_xxsubinterpreters'):
        try:
            module = __import__(name)
        except ImportError:
            continue
        current = module.get_current()
        return int(current[0] if isinstance(current, tuple) else current)
    return None


class LegacyCextPorted(pyhost.Module):
    def serve(self):
        self.log.info('%s', ported_tally.greet('ops'))

    def self_test(self):
        assert ported_tally.greet('ops') == 'hello, ops', ported_tally.greet('ops')
        assert ported_tally.add(2, 3) == 5
        assert ported_tally.length('abc') == 3
        assert ported_tally.length(H_E_ACUTE) == 3  # the size in bytes, as on 2.7
        assert ported_tally.VERSION == 2
        # On 3.12+ the module runs in an own-GIL sub-interpreter (the
        # default): had the probe seen the extension refuse it, the module
        # would have been placed in the main interpreter, id 0.
        if sys.version_info >= (3, 12):
            assert interpreter_id() != 0, 'placed in the main interpreter: the extension refused its own-GIL interpreter'
