"""ordereddict 1.1 (Raymond Hettinger's OrderedDict for Python 2.4-2.6,
Python 2 only on PyPI): insertion order kept through updates, deletions,
popitem from either end, copies, pickling and equality. The library
(ordereddict.py from its PyPI sdist) is copied beside this file by
scripts/fetch-port-corpus --modules; it is third-party code and not part
of this repository.

This file runs unchanged on 2.7 and 3.x: what fails on 3.x before the port
is the library (`from UserDict import DictMixin`, `.next()`...)."""
import pickle

import pyhost
from ordereddict import OrderedDict


class Ordered(pyhost.Module):
    def config(self):
        options = OrderedDict()
        options['port'] = 8080
        options['host'] = 'db01'
        options['tls'] = False
        return options

    def self_test(self):
        d = self.config()
        assert list(d) == ['port', 'host', 'tls'] and list(d.keys()) == ['port', 'host', 'tls']
        assert list(d.values()) == [8080, 'db01', False]
        assert list(d.items()) == [('port', 8080), ('host', 'db01'), ('tls', False)]
        assert list(reversed(d)) == ['tls', 'host', 'port']

        # Updating a key keeps its place; deleting and re-adding moves it last.
        d['port'] = 9090
        assert list(d) == ['port', 'host', 'tls']
        del d['port']
        d['port'] = 9090
        assert list(d) == ['host', 'tls', 'port']
        d.update([('zone', 'eu'), ('host', 'db02')])
        assert list(d.items()) == [('host', 'db02'), ('tls', False), ('port', 9090), ('zone', 'eu')]
        assert d.setdefault('tls', True) is False and d.setdefault('mode', 'ro') == 'ro'
        assert d.pop('mode') == 'ro' and 'mode' not in d

        # popitem from the end (the default) and from the front.
        assert d.popitem() == ('zone', 'eu')
        assert d.popitem(last=False) == ('host', 'db02')
        assert list(d) == ['tls', 'port']

        # Copies, fromkeys, pickling and repr keep the order.
        copy = d.copy()
        assert type(copy) is OrderedDict and list(copy.items()) == list(d.items())
        assert list(OrderedDict.fromkeys('cab', 0).items()) == [('c', 0), ('a', 0), ('b', 0)]
        restored = pickle.loads(pickle.dumps(d, 2))
        assert type(restored) is OrderedDict and list(restored.items()) == [('tls', False), ('port', 9090)]
        assert repr(d) == "OrderedDict([('tls', False), ('port', 9090)])", repr(d)

        # Equality: order matters between two OrderedDicts, not against a dict.
        a = OrderedDict([('x', 1), ('y', 2)])
        b = OrderedDict([('y', 2), ('x', 1)])
        assert a != b and a == {'x': 1, 'y': 2} and {'y': 2, 'x': 1} == b
        a.clear()
        assert len(a) == 0 and list(a) == [] and not a
        try:
            a.popitem()
        except KeyError:
            pass
        else:
            raise AssertionError('popitem() on an empty OrderedDict must raise KeyError')
