"""Rewrites proven by running them: each program runs (its asserts hold)
under the real 2.7 as written, and after `pyhost port fix` under 2.7, 3.9,
3.11 and 3.13 (--style dual) and the 3.x (--style py3). Interpreters as for
test_mappings.py."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from pyhost_port import fix, rules  # noqa: E402

from tests.test_mappings import PY3, SNIPPET, VERSIONS, interpreters, probe  # noqa: E402

TABLE = rules.load()


class Program(object):
    def __init__(self, source, **expect):
        self.source = source
        self.expect = expect  # text that must (True) or must not (False) be in the dual output


# name -> program; each ends with asserts that hold on 2.7.
PROGRAMS = {
    # A dict changed in its own loop: Python 2's items() was a copy, iteritems()
    # an iterator that tolerates keys renamed in place; 3.x raises RuntimeError
    # (dictionary keys changed during iteration) unless the loop runs on a copy.
    'dict renamed in its iteritems loop': Program(
        "def rename(d):\n    for k, v in d.iteritems():\n        if k.startswith('old_'):\n            del d[k]\n"
        "            d[k[4:]] = v\n    return d\n"
        "assert sorted(rename({'old_a': 1, 'b': 2, 'old_c': 3}).items()) == [('a', 1), ('b', 2), ('c', 3)]\n",
        **{'in list(d.items()):': True}),
    'dict filled through a nested key in its items loop': Program(
        "names = {1: 'one', 2: 'two'}\ndef spell(d):\n    for k, v in d.items():\n        d[names[k]] = v\n"
        "    return d\nd = spell({1: 'a', 2: 'b'})\nassert (len(d), d['one'], d['two']) == (4, 'a', 'b')\n",
        **{'in list(d.items()):': True}),
    'dict emptied with pop in its iterkeys loop': Program(
        "def drain(d):\n    out = []\n    for k in d.iterkeys():\n        out.append(d.pop(k))\n        break\n"
        "    return out, d\nassert drain({1: 2}) == ([2], {})\n",
        **{'in list(d.keys()):': True}),
    'dict changed through an attribute with setdefault and update': Program(
        "class C(object):\n    def __init__(self):\n        self.d = {1: 2, 3: 4}\n    def grow(self):\n"
        "        for k, v in self.d.iteritems():\n            self.d.setdefault(k, v + 1)\n"
        "        for k in self.d.keys():\n            self.d.update({k * 100: 0})\n        return len(self.d)\n"
        "assert C().grow() == 4\n",
        **{'in list(self.d.items()):': True, 'in list(self.d.keys()):': True}),
    'dict only read in its loop stays a view': Program(
        "def total(d):\n    t = 0\n    for k, v in d.iteritems():\n        t += d[k] + v\n    return t\n"
        "assert total({1: 2, 3: 4}) == 12\n",
        **{'in d.items():': True, 'list(': False, 'iter(': False}),
    'another dict changed in the loop: no copy': Program(
        "def copy(d):\n    e = {}\n    for k, v in d.iteritems():\n        e[k] = v\n        del e[k]\n"
        "        e[k] = v\n    return e\nassert copy({1: 2}) == {1: 2}\n",
        **{'in d.items():': True, 'list(': False}),
    # BeautifulSoup 3.2.2 lines 573 and 1842: a SyntaxError on 3.x as they were.
    'lambdas with tuple parameters': Program(
        "import re\nconvert = lambda(k, val): (k,\n                           val.upper())\n"
        "sub = lambda(x): x.group(1)\n"
        "deep = lambda a, (b, (c, d))=(1, (2, 3)): a + b + c + d + (lambda c: c)(10) + (lambda (d, e): d)((100, 0))\n"
        "k_v = 1000\npairs = sorted(map(lambda (k, v): (v, k + k_v), {1: 'a', 2: 'b'}.items()))\n"
        "assert map(convert, [('a', 'x')]) == [('a', 'X')]\n"
        "assert sub(re.match('(a)', 'a')) == 'a'\n"
        "assert deep(1) == 117 and deep(1, (5, (6, 7))) == 129\n"
        "assert pairs == [('a', 1001), ('b', 1002)]\n",
        **{'lambda k_val: (k_val[0],': True, 'lambda x: x.group(1)': True, 'lambda c: c': True,
           'b_c_d[1][1]': True, 'lambda k_v_: (k_v_[1], k_v_[0] + k_v)': True}),
    'def with tuple parameters, nested and on one line': Program(
        "def f((a, (b, c)), d=1):\n    '''doc'''\n    return a + b + c + d\ndef g((a, b)): return a - b\n"
        "assert f((1, (2, 3))) == 7 and g((5, 3)) == 2\n",
        **{'def f(a_b_c, d=1):': True, 'def g(a_b): (a, b) = a_b; return a - b': True}),
    # Trac 1.4.4 (trac/web/main.py:307, wsgi.py:133, db/pool.py:129): raise exc_info[0], exc_info[1], exc_info[2].
    'raise E, V, T without six': Program('import sys\ndef f():\n    try:\n        {}[1]\n    except KeyError:\n        t, v, tb = sys.exc_info()\n        raise t, v, tb\ndef g():\n    try:\n        {}[1]\n    except KeyError:\n        raise ValueError, "bad", sys.exc_info()[2]\ndef h():\n    raise ValueError, ("a", "b"), None\nfor fn, want in ((f, (KeyError, (1,))), (g, (ValueError, (\'bad\',))), (h, (ValueError, (\'a\', \'b\')))):\n    try:\n        fn()\n    except Exception as e:\n        assert (type(e), e.args) == want, (type(e), e.args)\n        assert sys.exc_info()[2].tb_next is not None\n',
        **{'if sys.version_info[0] >= 3:  # what `raise E, V, T` does': True, '_raise_with_traceback(t, v, tb)': True}),
    # Trac 1.4.4 (trac/core.py:184 ComponentMeta, ABCMeta in trac/db/api.py and others), without six.
    '__metaclass__ without six': Program("from abc import ABCMeta, abstractmethod\nregistry = []\nclass Meta(type):\n    def __new__(mcs, name, bases, ns):\n        cls = type.__new__(mcs, name, bases, ns)\n        registry.append(name)\n        return cls\nclass Base(object):\n    pass\nclass A(Base):\n    __metaclass__ = Meta\n    x = 1\n    def f(self):\n        return self.x\nclass B(A):\n    y = 2\nclass Abstract(object):\n    __metaclass__ = ABCMeta\n    @abstractmethod\n    def run(self):\n        pass\nclass Old:\n    __metaclass__ = Meta\nassert type(A) is Meta and type(B) is Meta and type(Old) is Meta, (type(A), type(B))\nassert isinstance(A(), Base) and isinstance(B(), A) and A().f() == 1 and B().y == 2\nassert A.__name__ == 'A' and A.__bases__ == (Base,)\nassert registry == ['A', 'B', 'Old'], registry\ntry:\n    Abstract()\nexcept TypeError:\n    pass\nelse:\n    raise AssertionError('Abstract() was made')\n",
        **{"if not isinstance(A, Meta):": True, "    __metaclass__ = Meta": True, 'six': False}),
    # python-openid 2.2.5 (openid/test/discoverdata.py:47 and others): file(p).read().
    'file() called, and file as a type': Program(
        "import os, sys\ndef read(p):\n    return file(p).read()\n"
        "def is_file(f):\n    return sys.version_info[0] < 3 and isinstance(f, file)\n"
        "assert 'file() called' in read(os.devnull) + 'file() called'\n",
        **{'return open(p).read()': True, 'isinstance(f, file)': True}),
}


class Runs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pythons = interpreters()
        cls.outputs = {}
        jobs = []
        for name, program in PROGRAMS.items():
            for style in ('dual', 'py3'):
                result = fix.fix(program.source.encode(), SNIPPET, TABLE, style)
                text = (result.output or program.source.encode()).decode()
                cls.outputs[name, style] = text
                jobs.append(('%s|%s' % (name, style), 'exec', text))
            jobs.append(('%s|original' % name, 'exec', program.source))
        cls.results = {v: probe(cls.pythons[v], jobs) for v in VERSIONS}

    def test_each_program_runs_on_2_7_as_written(self):
        for name in PROGRAMS:
            self.assertEqual(self.results['2.7']['%s|original' % name], 'ok', name)

    def test_each_rewrite_runs_on_every_interpreter(self):
        failures = []
        for name in PROGRAMS:
            for style, versions in (('dual', VERSIONS), ('py3', PY3)):
                for version in versions:
                    got = self.results[version]['%s|%s' % (name, style)]
                    if got != 'ok':
                        failures.append('%s (%s) on %s: %s\n%s' % (name, style, version, got,
                                                                   self.outputs[name, style]))
        self.assertEqual(failures, [], '\n'.join(failures))

    def test_each_rewrite_is_the_smallest_that_works(self):
        for name, program in PROGRAMS.items():
            out = self.outputs[name, 'dual']
            for text, present in program.expect.items():
                self.assertEqual(text in out, present, '%s: %r\n%s' % (name, text, out))


if __name__ == '__main__':
    unittest.main()
