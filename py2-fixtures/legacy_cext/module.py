"""A module whose native part, legacy_tally.c, is a C extension written the
Python 2 way: Py_InitModule3, PyString_*, PyInt_*. pyhost builds it for each
interpreter (manifest.toml's [native]); it builds on 2.7 only, and
legacy_cext_ported is the same module ported with pyhost/legacy_compat.h."""
import pyhost

import legacy_tally


class LegacyCext(pyhost.Module):
    def serve(self):
        self.log.info('%s', legacy_tally.greet('ops'))

    def self_test(self):
        assert legacy_tally.greet('ops') == 'hello, ops', legacy_tally.greet('ops')
        assert legacy_tally.add(2, 3) == 5
        assert legacy_tally.length('abc') == 3
        assert legacy_tally.VERSION == 2
