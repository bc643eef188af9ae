"""Reads collectd's plain-text protocol with a helper package, lib/, laid
out as 2.x code was: lib/__init__.py reaches its sibling lib/helpers.py
with a bare `import helpers`, an implicit relative import. On 3.x imports
are absolute and helpers is nowhere on sys.path (the module's folder is,
lib/ is not): unloadable, ModuleNotFoundError at lib/__init__.py line 4.
The test checks the 2.x behaviour: the bare name became lib.helpers, not a
top-level module, and map() in the parser returned a list."""
import sys

import pyhost
from lib import parse_putval


class CollectdText(pyhost.Module):
    def self_test(self):
        line = 'PUTVAL web01/load/load interval=10 1300000000:0.5:0.75:0.9'
        identifier, options, values = parse_putval(line)
        assert identifier == ('web01', 'load', 'load'), identifier
        assert options == {'interval': '10'}, options
        assert values == [1300000000.0, 0.5, 0.75, 0.9], values
        assert parse_putval.__module__ == 'lib.helpers', parse_putval.__module__
        assert 'lib.helpers' in sys.modules and 'helpers' not in sys.modules
