"""One positive case, one negative case and one shadowed-name case per rule
of port/rules/python.toml, plus fix checks (the rewrite compiles, removes
the finding and is idempotent). Run by tests/port_rules.rs under the Python
the tool uses; needs scripts/fetch-port-tools."""
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

try:
    import fissix  # noqa: F401
except ImportError:
    raise SystemExit('fissix is not installed: run scripts/fetch-port-tools (and put its folder on PYTHONPATH)')

from pyhost_port import fix, rules  # noqa: E402

TABLE = rules.load()

# rule id -> (positive: the rule is found, negative: it is not, shadowed:
# the name is bound locally or the construct means something else, so it is not)
CASES = {
    'PARSE-ERROR': ("x = 1\nmatch x:\n    case 1: pass\nprint 'a'\n", "x = 1\n", "match = 1\nprint(match)\n"),
    'PY2-PRINT-STMT': ("print 'a', 'b'\n", "from __future__ import print_function\nprint('a', 'b')\n",
                       "print('a')\n"),
    'PY2-EXEC-STMT': ("exec 'x = 1' in ns\n", "exec('x = 1', ns)\n", "exec('x = 1')\n"),
    'PY2-EXCEPT-COMMA': ("try:\n    pass\nexcept ValueError, e:\n    pass\n",
                         "try:\n    pass\nexcept ValueError as e:\n    pass\n",
                         "try:\n    pass\nexcept (ValueError, TypeError):\n    pass\n"),
    'PY2-EXCEPT-NAME-AFTER': ("try:\n    f()\nexcept KeyError, e:\n    pass\nprint(e)\n",
                              "try:\n    f()\nexcept KeyError as e:\n    print(e)\n",
                              "try:\n    f()\nexcept KeyError as e:\n    pass\ne = 1\nprint(e)\n"),
    'PY2-RAISE-COMMA': ("raise KeyError, 'x'\n", "raise KeyError('x')\n", "raise (KeyError, 'x')[0]\n"),
    'PY2-BACKTICKS': ("x = `1`\n", "x = repr(1)\n", "x = '`1`'\n"),
    'PY2-NE-DIAMOND': ("x = 1 <> 2\n", "x = 1 != 2\n", "x = '1 <> 2'\n"),
    'PY2-LONG-LITERAL': ("x = 10L\n", "x = 10\n", "L = 10\nx = L\n"),
    'PY2-OCTAL-LITERAL': ("x = 0777\n", "x = 0o777\n", "x = 0\ny = 0.5\n"),
    'PY2-UR-STRING': ("x = ur'\\d'\n", "x = u'\\\\d'\n", "ur = 1\nx = ur\n"),
    'PY2-TUPLE-PARAMS': ("def f(a, (b, c)):\n    return b\n", "def f(a, b_c):\n    return b_c\n",
                         "def f(a, b=(1, 2)):\n    return b\n"),
    'PY2-BUILTIN-REMOVED': ("x = unicode(1)\n", "x = str(1)\n", "def f(unicode):\n    return unicode(1)\n"),
    'PY2-BUILTIN-MOVED': ("x = reduce(f, [1])\n", "from functools import reduce\nx = reduce(f, [1])\n",
                          "def f(file):\n    return file(1)\n"),
    'PY2-BUILTIN-BUFFER': ("x = buffer(b'a')\n", "x = memoryview(b'a')\n", "buffer = list\nx = buffer('a')\n"),
    'PY2-INPUT': ("x = input('n? ')\n", "x = raw_input('n? ')\n", "def f(input):\n    return input('x')\n"),
    'PY2-DICT-ITER': ("for k, v in d.iteritems():\n    pass\n", "for k, v in d.items():\n    pass\n",
                      "class D(object):\n    def iteritems(self):\n        return []\nfor k in D().iteritems():\n    pass\n"),
    'PY2-DICT-VIEW': ("for k in d.viewkeys():\n    pass\n", "for k in d.keys():\n    pass\n",
                      "class D(object):\n    def viewkeys(self):\n        return []\nfor k in D().viewkeys():\n    pass\n"),
    'PY2-DICT-HAS-KEY': ("x = d.has_key(1)\n", "x = 1 in d\n", "x = d.has_key\n"),
    'PY2-DICT-LIST': ("x = d.keys()[0]\n", "for k in d.keys():\n    pass\n",
                      "for k in d.keys():\n    other[k] = 1\n"),
    'PY2-ITERATOR-LIST': ("x = map(int, s)[0]\n", "for x in map(int, s):\n    pass\n",
                          "from itertools import imap as map\nx = map(int, s)[0]\n"),
    'PY2-RENAMED-MODULE': ("import ConfigParser\n", "import configparser\n",
                           "try:\n    import ConfigParser\nexcept ImportError:\n    import configparser as ConfigParser\n"),
    'PY2-REMOVED-MODULE': ("import md5\n", "import hashlib\n", "from . import md5\n"),
    'PY2-RENAMED-MODULE-NAME': ("from UserDict import DictMixin\n", "from UserDict import UserDict\n",
                                "def f(UserDict):\n    return UserDict.DictMixin\n"),
    'PY2-OLD-STYLE-TYPES': ("import types\nx = types.InstanceType\n", "import types\nx = types.FunctionType\n",
                            "def f(types):\n    return types.InstanceType\n"),
    'PY2-MOVED-NAME': ("import urllib\nx = urllib.urlencode({})\n", "import urllib.parse\nx = urllib.parse.urlencode({})\n",
                       "def f(urllib):\n    return urllib.urlencode({})\n"),
    'PY2-SYS-MAXINT': ("import sys\nx = sys.maxint\n", "import sys\nx = sys.maxsize\n",
                       "def f(sys):\n    return sys.maxint\n"),
    'PY2-STRING-CONSTANT': ("import string\nx = string.letters\n", "import string\nx = string.ascii_letters\n",
                            "def f(string):\n    return string.letters\n"),
    'PY2-STRING-FUNCTION': ("import string\nx = string.upper('a')\n", "x = 'a'.upper()\n",
                            "def f(string):\n    return string.upper('a')\n"),
    'PY-REMOVED-COLLECTIONS-ABC': ("import collections\nx = collections.Mapping\n",
                                   "import collections.abc\nx = collections.abc.Mapping\n",
                                   "def f(collections):\n    return collections.Mapping\n"),
    'PY-REMOVED-IMP': ("import imp\n", "import importlib\n", "from . import imp\n"),
    'PY-REMOVED-DISTUTILS': ("from distutils.core import setup\n", "from setuptools import setup\n",
                             "from .distutils import setup\n"),
    'PY-REMOVED-ASYNCORE': ("import asyncore\n", "import asyncio\n", "asyncore = None\n"),
    'PY-REMOVED-ASYNCHAT': ("import asynchat\n", "import asyncio\n", "asynchat = None\n"),
    'PY-REMOVED-SMTPD': ("import smtpd\n", "import smtplib\n", "smtpd = None\n"),
    'PY-REMOVED-CONFIGPARSER-READFP': ("p.readfp(f)\n", "p.read_file(f)\n",
                                       "class P(object):\n    def readfp(self, f):\n        pass\nP().readfp(1)\n"),
    'PY-REMOVED-SAFECONFIGPARSER': ("import configparser\np = configparser.SafeConfigParser()\n",
                                    "import configparser\np = configparser.ConfigParser()\n",
                                    "def f(configparser):\n    return configparser.SafeConfigParser()\n"),
    'PY-REMOVED-UNITTEST-ALIASES': ("self.assertEquals(1, 1)\n", "self.assertEqual(1, 1)\n",
                                    "class T(object):\n    def assertEquals(self, a, b):\n        pass\n"
                                    "T().assertEquals(1, 1)\n"),
    'PY-REMOVED-UNITTEST-REGEXP': ("self.assertRaisesRegexp(E, 'x')\n", "self.assertRaisesRegex(E, 'x')\n",
                                   "class T(object):\n    def assertRaisesRegexp(self, e, r):\n        pass\n"
                                   "T().assertRaisesRegexp(1, 1)\n"),
    'PY-REMOVED-UNITTEST-CONTAINS-SUBSET': ("self.assertDictContainsSubset({}, {})\n", "self.assertEqual({}, {})\n",
                                            "class T(object):\n    def assertDictContainsSubset(self, a, b):\n"
                                            "        pass\nT().assertDictContainsSubset(1, 1)\n"),
    'PY2-UNITTEST-ITEMS-EQUAL': ("self.assertItemsEqual([], [])\n", "self.assertEqual([], [])\n",
                                 "class T(object):\n    def assertItemsEqual(self, a, b):\n        pass\n"
                                 "T().assertItemsEqual(1, 1)\n"),
    'PY-REMOVED-CGI': ("import cgi\n", "import html\n", "from . import cgi\n"),
    'PY-REMOVED-CGITB': ("import cgitb\n", "import traceback\n", "from . import cgitb\n"),
    'PY-REMOVED-CRYPT': ("import crypt\n", "import hashlib\n", "from . import crypt\n"),
    'PY-REMOVED-TELNETLIB': ("import telnetlib\n", "import socket\n", "from . import telnetlib\n"),
    'PY-REMOVED-PIPES': ("import pipes\n", "import shlex\n", "from . import pipes\n"),
    'PY-REMOVED-NNTPLIB': ("import nntplib\n", "import socket\n", "from . import nntplib\n"),
    'PY-REMOVED-LIB2TO3': ("from lib2to3 import pytree\n", "from fissix import pytree\n", "from .lib2to3 import x\n"),
    'PY-REMOVED-DEAD-BATTERIES': ("import imghdr\n", "import mimetypes\n", "from . import imghdr\n"),
    'PY2-NONZERO-METHOD': ("class A(object):\n    def __nonzero__(self):\n        return True\n",
                           "class A(object):\n    def __bool__(self):\n        return True\n",
                           "def __nonzero__():\n    return True\n"),
    'PY2-DIV-METHOD': ("class A(object):\n    def __div__(self, o):\n        return 1\n",
                       "class A(object):\n    def __truediv__(self, o):\n        return 1\n",
                       "class A(object):\n    def __div__(self, o):\n        return 1\n    __truediv__ = __div__\n"),
    'PY2-CMP-METHOD': ("class A(object):\n    def __cmp__(self, o):\n        return 0\n",
                       "class A(object):\n    def __lt__(self, o):\n        return 0\n",
                       "class A(object):\n    def __cmp__(self, o):\n        return 0\n    def __eq__(self, o):\n"
                       "        return 1\n"),
    'PY2-UNICODE-METHOD': ("class A(object):\n    def __unicode__(self):\n        return u''\n",
                           "class A(object):\n    def __str__(self):\n        return ''\n",
                           "def __unicode__():\n    return u''\n"),
    'PY2-NEXT-METHOD': ("class A(object):\n    def next(self):\n        return 1\n",
                        "class A(object):\n    def __next__(self):\n        return 1\n",
                        "class A(object):\n    def next(self, page):\n        return 1\n"),
    'PY2-NEXT-CALL': ("x = it.next()\n", "x = next(it)\n",
                      "class P(object):\n    def next(self, n=1):\n        return n\nx = P().next()\n"),
    'PY2-METACLASS-ATTR': ("class A(object):\n    __metaclass__ = M\n", "class A(object, metaclass=M):\n    pass\n",
                           "__metaclass__ = type\n"),
    'PY2-IMPLICIT-RELATIVE-IMPORT': ('pkg:import helpers\n', 'pkg:from . import helpers\n',
                                     'pkg:from __future__ import absolute_import\nimport helpers\n'),
    'PY2-SORT-CMP': ("x = sorted(a, cmp=f)\n", "x = sorted(a, key=f)\n", "x = sorted(a, key=cmp)\n"),
    'PY2-ORDER-MIXED-TYPES': ("x = sorted([3, 'a', None])\n", "x = sorted([3, 2, 1])\n", "x = y is None\n"),
    'PY2-INT-DIVISION': ("x = a / b\n", "from __future__ import division\nx = a / b\n", "x = a / 2.0\n"),
    'PY2-BYTES-TEXT': ("s.sendall('x')\n", "s.sendall(b'x')\n",
                       "class S(object):\n    def sendall(self, x):\n        pass\nS().sendall('x')\n"),
    'PY2-OLD-STYLE-CLASS': ("class A:\n    pass\n", "class A(object):\n    pass\n", "class A(B):\n    pass\n"),
    'PY3-FSTRING': ("x = f'{y}'\n", "x = '{}'.format(y)\n", "f = 1\nx = 'f{y}'\n"),
    'PY3-NONLOCAL': ("def f():\n    x = 1\n    def g():\n        nonlocal x\n",
                     "def f():\n    global x\n", "nonlocal_ = 1\n"),
    'PY3-YIELD-FROM': ("def f():\n    yield from g()\n", "def f():\n    yield g()\n",
                       "def f():\n    yield (from_)\n"),
    'PY3-ASYNC': ("async def f():\n    await g()\n", "def f():\n    g()\n", "async_ = 1\nawait_ = 2\n"),
    'PY3-ANNOTATIONS': ("def f(a: int) -> int:\n    return a\n", "def f(a):\n    return a\n",
                        "x = {'a': int}\n"),
    'PY3-KEYWORD-ONLY': ("def f(a, *, b):\n    return a\n", "def f(a, *args):\n    return a\n",
                         "def f(a, *b):\n    return a\n"),
    'PY3-PRINT-FUNCTION': ("print('a', end='')\n", "from __future__ import print_function\nprint('a', end='')\n",
                           "def f(print):\n    return print\n"),
}


def run(mode, source, style='dual'):
    """(findings, output bytes or None) for `source` written to a file."""
    package = source.startswith('pkg:')
    if package:
        source = source[4:]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, 'module.py')
        if package:
            for name in ('__init__.py', 'helpers.py'):
                open(os.path.join(folder, name), 'w').close()
        with open(path, 'w') as f:
            f.write(source)
        data = source.encode('utf-8')
        if mode == 'check':
            return fix.check(data, path, TABLE).findings, None
        result = fix.fix(data, path, TABLE, style)
        # The second run sees the file as the first left it.
        output = result.output if result.output is not None else data
        with open(path, 'wb') as f:
            f.write(output)
        again = fix.fix(output, path, TABLE, style)
        return result, again


def rules_of(source):
    return [f.rule for f in run('check', source)[0]]


class EveryRuleHasCases(unittest.TestCase):
    def test_every_rule_in_the_table_has_its_three_cases(self):
        self.assertEqual(sorted(TABLE.rules), sorted(CASES))


def make(rule, positive, negative, shadowed):
    def test_positive(self):
        self.assertIn(rule, rules_of(positive), positive)

    def test_negative(self):
        self.assertNotIn(rule, rules_of(negative), negative)

    def test_shadowed(self):
        self.assertNotIn(rule, rules_of(shadowed), shadowed)

    def test_fix(self):
        for style in ('dual', 'py3'):
            result, again = run('fix', positive, style)
            self.assertIsNone(again.output, 'not idempotent (%s):\n%s' % (style, result.output))
            if not TABLE.rules[rule]['auto'] or rule.startswith('PY3-') and rule != 'PY3-PRINT-FUNCTION':
                continue
            if not any(f.rule == rule and f.auto for f in result.findings):
                continue  # this case is one the rewriter leaves to a person
            output = result.output.decode('utf-8')
            self.assertNotIn(rule, [f.rule for f in result.remaining], '%s left:\n%s' % (style, output))
            compile(output, '<%s %s>' % (rule, style), 'exec')
    return test_positive, test_negative, test_shadowed, test_fix


class Rules(unittest.TestCase):
    pass


for _rule, (_pos, _neg, _shadow) in CASES.items():
    _name = _rule.lower().replace('-', '_')
    for _test in make(_rule, _pos, _neg, _shadow):
        setattr(Rules, '%s_%s' % (_test.__name__, _name), _test)


class Rewrites(unittest.TestCase):
    def fixed(self, source, style='dual'):
        result, again = run('fix', source, style)
        self.assertIsNone(again.output, 'not idempotent')
        return (result.output or source.encode()).decode('utf-8')

    def test_a_shadowed_builtin_is_never_renamed_into_a_wrong_name(self):
        source = "def f(int, x):\n    int = long(x, 16)\n    return int\n"
        out = self.fixed(source, 'py3')
        self.assertIn('int = builtins.int(x, 16)', out)
        out = self.fixed(source, 'dual')
        self.assertIn('int = long(x, 16)', out)
        self.assertIn('long = int', out)
        ns = {}
        exec(compile(out, 'x', 'exec'), ns)
        self.assertEqual(ns['f'](None, 'ff'), 255)

    def test_an_alias_after_a_method_keeps_the_next_method_indented(self):
        # The block of `next` ends with the indentation of the line after it.
        source = ("class A(object):\n    def next(self):\n        return 1\n    def __nonzero__(self):\n"
                  "        return False\nx = 1\n")
        out = self.fixed(source)
        self.assertEqual(out, "class A(object):\n    def next(self):\n        return 1\n    __next__ = next\n"
                              "    def __nonzero__(self):\n        return False\n    __bool__ = __nonzero__\nx = 1\n")
        ns = {}
        exec(compile(out, 'x', 'exec'), ns)
        self.assertFalse(ns['A']())

    def test_an_exception_read_after_its_handler_is_still_there_on_python_3(self):
        source = ("def f(g):\n    try:\n        g()\n    except KeyError, e:\n        # why\n        pass\n"
                  "    try:\n        g()\n    except KeyError as e2: pass\n    return e.args, e2.args\n")
        out = self.fixed(source)
        self.assertIn("    except KeyError as e_:\n        # why\n        e = e_\n        pass\n", out)
        self.assertIn("    except KeyError as e2_: e2 = e2_; pass\n", out)
        ns = {}
        exec(compile(out, 'x', 'exec'), ns)

        def raises():
            raise KeyError('k')
        self.assertEqual(ns['f'](raises), (('k',), ('k',)))
        # Used only inside the handler: nothing to do.
        source = "try:\n    f()\nexcept KeyError as e:\n    print(e)\nprint(1)\n"
        self.assertEqual(self.fixed(source), source)

    def test_text_encoded_into_a_str_is_a_decision(self):
        source = "if isinstance(host, unicode):\n    host = host.encode('utf-8')\n"
        self.assertEqual(rules_of(source), ['PY2-BUILTIN-REMOVED', 'PY2-BYTES-TEXT'])
        self.assertNotIn('PY2-BYTES-TEXT', rules_of("data = text.encode('utf-8')\n"))
        self.assertNotIn('PY2-BYTES-TEXT', rules_of("if isinstance(h, unicode):\n    x = h.encode('utf-8')\n"))

    def test_long_and_octal_literals_keep_their_digits(self):
        self.assertEqual(self.fixed("x = 10L + 0777L + 0x1fL\n"), "x = 10 + 0o777 + 0x1f\n")

    def test_items_only_iterated_stays_and_no_list_is_added(self):
        source = "for k, v in d.items():\n    print(k)\nx = sorted(d.keys())\n"
        self.assertEqual(self.fixed(source), source)

    def test_keys_of_a_dict_changed_in_the_loop_get_a_list(self):
        out = self.fixed("for k in d.keys():\n    del d[k]\n")
        self.assertIn('for k in list(d.keys()):', out)

    def test_print_gets_the_future_import_only_where_the_call_differs(self):
        self.assertNotIn('__future__', self.fixed("print 'x'\n"))
        out = self.fixed('"""doc"""\nprint >>f, x,\n')
        self.assertTrue(out.startswith('"""doc"""\nfrom __future__ import print_function\n'), out)
        self.assertIn("print(x, end=' ', file=f)", out)

    def test_comments_and_layout_are_kept(self):
        source = "# head\nx = {  # one\n    'a': 1,\n}\nif d.has_key('a'):  # why\n    pass\n"
        out = self.fixed(source)
        self.assertEqual(out, source.replace("d.has_key('a')", "'a' in d"))

    def test_decisions_are_marked_not_guessed(self):
        out = self.fixed("def f(a, b):\n    return a / b\n")
        self.assertIn('    # pyhost-port: decision PY2-INT-DIVISION:', out)
        self.assertIn('return a / b', out)

    def test_the_rest_of_an_unparseable_file_is_fixed(self):
        source = "print 'a'\nx = 1 +* 2\nprint 'b'\n"
        result, again = run('fix', source)
        out = result.output.decode('utf-8')
        self.assertEqual(out, "print('a')\nx = 1 +* 2\nprint('b')\n")
        self.assertEqual([f.rule for f in result.remaining], ['PARSE-ERROR'])
        self.assertEqual(result.remaining[0].line, 2)

    def test_latin1_and_bytes_that_do_not_decode_survive(self):
        data = b"# -*- coding: latin-1 -*-\nx = '\xe9'\nprint x\n"
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, 'm.py')
            result = fix.fix(data, path, TABLE, 'dual')
        self.assertEqual(result.output, b"# -*- coding: latin-1 -*-\nx = '\xe9'\nprint(x)\n")
        data = b"x = '\xff\xfe'\nprint x"  # not UTF-8, no cookie, no final newline
        with tempfile.TemporaryDirectory() as folder:
            result = fix.fix(data, os.path.join(folder, 'm.py'), TABLE, 'dual')
        self.assertEqual(result.output, b"x = '\xff\xfe'\nprint(x)")

    def test_old_style_types_are_a_decision_with_a_fix_that_helps(self):
        rule = TABLE.rules['PY2-OLD-STYLE-TYPES']
        self.assertEqual((rule['kind'], rule['auto']), ('decision', False))
        self.assertIn('isinstance(x, type)', rule['fix'])
        source = "import types\ndef old(x):\n    return isinstance(x, (types.ClassType, types.InstanceType))\n"
        self.assertEqual(rules_of(source).count('PY2-OLD-STYLE-TYPES'), 2)
        self.assertNotIn('PY2-MOVED-NAME', rules_of(source))
        out = self.fixed(source)
        self.assertIn('    # pyhost-port: decision PY2-OLD-STYLE-TYPES:', out)
        self.assertIn('types.ClassType, types.InstanceType', out, 'never guessed')

    def test_a_name_the_renamed_module_lacks_is_never_imported_from_it(self):
        # ordereddict 1.1: `from UserDict import DictMixin` became `from collections import DictMixin`.
        for style in ('dual', 'py3'):
            source = "from UserDict import DictMixin\nclass D(DictMixin):\n    pass\n"
            result, again = run('fix', source, style)
            self.assertIsNone(result.output, style)
            left = {f.rule: f for f in result.remaining}
            self.assertFalse(left['PY2-RENAMED-MODULE-NAME'].auto)
            self.assertIn('collections.abc.MutableMapping', left['PY2-RENAMED-MODULE-NAME'].detail)
            self.assertIn('__iter__ and __len__', left['PY2-RENAMED-MODULE-NAME'].detail)
        # Through the module: the import is renamed, the name stays a finding.
        out = self.fixed("import UserDict\nclass D(UserDict.DictMixin):\n    pass\n")
        self.assertIn('import collections as UserDict', out)
        self.assertIn('PY2-RENAMED-MODULE-NAME', rules_of(out))
        # A name that does follow the module is still renamed.
        self.assertIn('from collections import UserDict', self.fixed("from UserDict import UserDict\n", 'py3'))

    def test_every_removed_module_names_what_replaces_it(self):
        rule = TABLE.rules['PY2-REMOVED-MODULE']
        for module in rule['imports']:
            findings = [f for f in run('check', 'import %s\n' % module)[0] if f.rule == 'PY2-REMOVED-MODULE']
            self.assertEqual(len(findings), 1, module)
            self.assertIn(rule['replacements'][module], findings[0].detail)
        self.assertEqual(rule['breaks'], '>=3.0')
        self.assertEqual(rule['kind'], 'removed')
        sgmllib = run('check', 'from sgmllib import SGMLParser\n')[0][0]
        self.assertIn('sgmllib3k (PyPI)', sgmllib.detail)
        self.assertNotIn('commands', TABLE.module_renames, 'commands.getstatusoutput is not subprocess.getstatusoutput')

    def test_py3_style_removes_the_dual_shims(self):
        dual = self.fixed("import ConfigParser\nx = basestring\nfor k, v in six.iteritems(d):\n    pass\n")
        out = self.fixed(dual, 'py3')
        self.assertNotIn('NameError', out)
        self.assertNotIn('ImportError', out)
        self.assertIn('x = str', out)
        self.assertIn('for k, v in d.items():', out)


if __name__ == '__main__':
    unittest.main()
