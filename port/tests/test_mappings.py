"""Every rename and move in port/rules/python.toml, checked against the real
interpreters (scripts/install-pythons: 2.7, 3.9, 3.11 and 3.13), so that a
rewrite can never produce a name that does not exist:

- each Python 2 spelling (renamed and removed modules, names inside modules,
  builtins, methods) exists where its rule says it still works, and is gone
  where its rule says it breaks;
- each replacement (a module, a dotted name, a builtin, a method, and the
  names a replacement text spells out) exists on 3.9, 3.11 and 3.13;
- every public name of a renamed module exists in its Python 3 module, or
  the table lists it as one that does not follow (PY2-RENAMED-MODULE-NAME,
  or a builtins rule for __builtin__);
- the code `pyhost port fix` emits for each of them, in both styles, still
  runs wherever the original ran, and runs on every target unless check
  still reports what is left there as a by-hand finding.

Interpreters come from PYHOST_PYTHONS (a "<version> <path>" file) or
~/.cache/pyhost/pythons.txt, which scripts/install-pythons writes."""
import json
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from pyhost_port import fix, rules  # noqa: E402

TABLE = rules.load()
VERSIONS = ('2.7', '3.9', '3.11', '3.13')
PY3 = VERSIONS[1:]
SNIPPET = os.path.join(os.sep, 'nonexistent', 'snippet.py')  # no package around it

# (version, module) that this machine cannot import or even find, and why.
# Anything else that is missing is a wrong mapping.
UNAVAILABLE = {
    ('2.7', 'gdbm'): "a C extension in Debian's python-gdbm package",
    ('2.7', '_winreg'): 'Windows only',
    ('2.7', 'dl'): '32-bit Linux builds only',
    ('2.7', 'msilib'): 'Windows only',
    ('3.9', 'winreg'): 'Windows only',
    ('3.9', 'msilib'): 'Windows only',
    ('3.9', 'tkinter'): "Debian's python3-tk package",
    ('3.9', 'tkinter.messagebox'): "Debian's python3-tk package",
    ('3.11', 'tkinter'): "Debian's python3-tk package",
    ('3.11', 'tkinter.messagebox'): "Debian's python3-tk package",
    ('3.9', 'lib2to3'): "Debian's python3-lib2to3 package",
}

# The class each method rule's methods belong to, per interpreter family.
RECEIVERS = {
    'PY2-DICT-ITER': ('dict', 'dict'),
    'PY2-DICT-VIEW': ('dict', 'dict'),
    'PY-REMOVED-CONFIGPARSER-READFP': ('ConfigParser.RawConfigParser', 'configparser.RawConfigParser'),
    'PY-REMOVED-UNITTEST-ALIASES': ('unittest.TestCase', 'unittest.TestCase'),
    'PY-REMOVED-UNITTEST-REGEXP': ('unittest.TestCase', 'unittest.TestCase'),
    'PY-REMOVED-UNITTEST-CONTAINS-SUBSET': ('unittest.TestCase', 'unittest.TestCase'),
    'PY2-UNITTEST-ITEMS-EQUAL': ('unittest.TestCase', 'unittest.TestCase'),
}
# Code that uses a method of each receiver, for the fix-and-run check.
USES = {
    'dict': 'd = {1: 2}\nx = list(d.{m}())\n',
    'ConfigParser.RawConfigParser': "import io\nimport ConfigParser\np = ConfigParser.RawConfigParser()\n"
                                    "p.{m}(io.StringIO(u'[a]\\nb = 1\\n'))\nassert p.get('a', 'b') == '1'\n",
    'unittest.TestCase': 'import unittest\nclass T(unittest.TestCase):\n    def runTest(self):\n        pass\n'
                         'x = T().{m}\n',
}
# Placeholders in replacement texts: s and sep stand for a str.
PLACEHOLDERS = {'s', 'sep', 'f', 'a', 'b', 'k', 'path', 'args', 'kwargs', 'words', 'obj', 'x', 'data', 'cmd', 'n',
                'digits', 'items', 'name', 'bases', 'ns', 'function', 'argument', 'C', 'E', 'v', 'tb'}


# Names that are keywords on 2.7 (print, exec) or 3.x (True, None) cannot be imported by name.
PY2_KEYWORDS = {'print', 'exec', 'None', 'True', 'False'}


def interpreters():
    path = os.environ.get('PYHOST_PYTHONS') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache'), 'pyhost', 'pythons.txt')
    found = {}
    with open(path) as f:
        for line in f:
            parts = line.split(None, 1)
            if len(parts) == 2:
                found[parts[0]] = parts[1].strip()
    missing = [v for v in VERSIONS if v not in found]
    if missing:
        raise AssertionError('Python %s not in %s: run scripts/install-pythons' % (', '.join(missing), path))
    return found


def probe(python, jobs):
    """Runs the jobs [(id, kind, arg)] under one interpreter: {id: result}."""
    done = subprocess.run([python, '-S', '-s', '-E', '-B', os.path.join(HERE, 'probe.py')],
                          input=json.dumps(jobs).encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=600)
    if done.returncode != 0:
        raise AssertionError('%s probe.py failed: %s' % (python, done.stderr.decode(errors='replace')))
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def breaks(rule, version):
    spec = TABLE.rules[rule]['breaks']
    major, minor = (int(p) for p in version.split('.'))
    if spec.startswith('>='):
        bound = tuple(int(p) for p in spec[2:].split('.'))
        return (major, minor) >= bound
    bound = tuple(int(p) for p in spec[1:].split('.'))
    return (major, minor) < bound


def spelled_names(replacement):
    """The names a replacement spells out: the whole text when it is one
    dotted name; else each dotted name and each called name in it (a
    placeholder's method, s.split(), stands for str.split)."""
    if re.match(r'^[A-Za-z_][\w.]*$', replacement):
        return [replacement]
    names = []
    for match in re.finditer(r'(?<![\w.\'"])([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)(\()?', replacement):
        name, called = match.group(1), match.group(2)
        head = name.split('.')[0]
        if head in PLACEHOLDERS:
            if '.' in name and head in ('s', 'sep'):
                names.append('str.' + name.split('.', 1)[1])
            continue
        if '.' in name or called:
            names.append(name)
    return names


class Mappings(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pythons = interpreters()
        renames = TABLE.module_renames
        # What each old module of a rename exports on 2.7.
        jobs = [('names:' + old, 'names', old) for old in renames]
        cls.py2_names = {k.split(':', 1)[1]: v for k, v in probe(cls.pythons['2.7'], jobs).items()}
        cls.jobs = {}
        cls.snippets = {}  # id -> (original, dual, py3)
        cls._collect()
        cls.results = {v: probe(cls.pythons[v], sorted(cls.jobs.values())) for v in VERSIONS}

    @classmethod
    def job(cls, kind, arg):
        key = '%s:%s' % (kind, arg)
        cls.jobs[key] = (key, kind, arg)
        return key

    @classmethod
    def snippet(cls, code):
        """The code, and what fix makes of it in each style, all to be run."""
        if code in cls.snippets:
            return
        outputs = []
        for style in ('dual', 'py3'):
            result = fix.fix(code.encode(), SNIPPET, TABLE, style)
            text = (result.output or code.encode()).decode()
            by_hand = sorted({f.rule for f in result.remaining if not f.auto})
            outputs.append((text, by_hand))
            cls.job('exec', text)
        cls.job('exec', code)
        cls.snippets[code] = outputs

    @classmethod
    def _collect(cls):
        for old, new in TABLE.module_renames.items():
            cls.job('module', old)
            cls.job('module', new)
            cls.snippet('import %s\n' % old)
            names = cls.py2_names.get('names:' + old) or cls.py2_names.get(old)
            if isinstance(names, list):
                for name in names:
                    if name in PY2_KEYWORDS:
                        continue
                    cls.job('attr', '%s.%s' % (new, name))
                    cls.snippet('from %s import %s\n' % (old, name))
                    cls.snippet('import %s\nx = %s.%s\n' % (old, old, name))
        for rule_id, rule in TABLE.rules.items():
            for module in rule.get('imports', []):
                cls.job('module', module)
                cls.snippet('import %s\n' % module)
            for dotted, replacement in rule.get('attrs', {}).items():
                cls.job('attr', dotted)
                module, name = dotted.rsplit('.', 1)
                cls.job('module', module)
                for spelled in spelled_names(replacement):
                    cls.job('attr', spelled)
                cls.snippet('import %s\nx = %s\n' % (module, dotted))
                cls.snippet('from %s import %s\n' % (module, name))
            for name, replacement in rule.get('builtins', {}).items():
                cls.job('attr', name)
                for spelled in spelled_names(replacement):
                    cls.job('attr', spelled)
                cls.snippet('x = %s\n' % name)
            for table in ('methods', 'methods_py3'):
                for method, replacement in rule.get(table, {}).items():
                    for receiver in RECEIVERS.get(rule_id, ()):
                        cls.job('attr', '%s.%s' % (receiver, method))
                        cls.job('module', receiver.rsplit('.', 1)[0] if '.' in receiver else 'sys')
                        if replacement:
                            cls.job('attr', '%s.%s' % (receiver, replacement))
                    if rule_id in RECEIVERS:
                        cls.snippet(USES[RECEIVERS[rule_id][0]].replace("{m}", method))

    # ------------------------------------------------------------- helpers
    def result(self, version, kind, arg):
        return self.results[version]['%s:%s' % (kind, arg)]

    def available(self, version, kind, arg, errors, why):
        got = self.result(version, kind, arg)
        if got in ('ok', 'found') or (kind == 'module' and (version, arg) in UNAVAILABLE):
            return
        errors.append('%s on %s: %s %s (%s)' % (why, version, kind, arg, got))

    def gone(self, version, kind, arg, errors, why):
        got = self.result(version, kind, arg)
        if got == 'ok' or got == 'found':
            errors.append('%s on %s: %s %s exists there' % (why, version, kind, arg))

    # --------------------------------------------------------------- tests
    def test_every_method_rule_names_its_receiver(self):
        methods = {r for r, rule in TABLE.rules.items() if rule.get('methods') or rule.get('methods_py3')}
        self.assertEqual(sorted(methods), sorted(RECEIVERS))

    def test_renamed_modules_exist_under_both_names(self):
        errors = []
        for old, new in sorted(TABLE.module_renames.items()):
            self.available('2.7', 'module', old, errors, 'the Python 2 name')
            for version in PY3:
                self.gone(version, 'module', old, errors, 'renamed')
                self.available(version, 'module', new, errors, 'the Python 3 name of %s' % old)
        self.assertEqual(errors, [], '\n'.join(errors))

    def test_every_public_name_of_a_renamed_module_follows_it_or_is_listed(self):
        errors = []
        listed = TABLE.renamed_names
        for old, new in sorted(TABLE.module_renames.items()):
            names = self.py2_names.get(old)
            if not isinstance(names, list):
                # It cannot be loaded here (no _tkinter): it must at least be there.
                if ('2.7', old) not in UNAVAILABLE:
                    self.assertEqual(self.result('2.7', 'module', old), 'found', '%s: %s' % (old, names))
                continue
            for name in names:
                if name in PY2_KEYWORDS:
                    continue
                missing = [v for v in PY3 if self.result(v, 'attr', '%s.%s' % (new, name)) not in ('ok', 'found')]
                covered = name in TABLE.lacking(old, new)
                if missing and not covered:
                    errors.append('%s.%s: %s has no %s on %s, and the table does not say so' % (
                        old, name, new, name, ', '.join(missing)))
            for name in sorted(listed.get(old, ())):
                self.assertIn(name, names, '%s.%s is listed but 2.7 has no such name' % (old, name))
                if all(self.result(v, 'attr', '%s.%s' % (new, name)) == 'ok' for v in PY3):
                    errors.append('%s.%s is listed as lacking, but %s.%s exists on 3.x' % (old, name, new, name))
        self.assertEqual(errors, [], '\n'.join(errors))

    def test_removed_modules_exist_before_and_are_gone_after(self):
        errors = []
        for rule_id, rule in sorted(TABLE.rules.items()):
            for module in rule.get('imports', []):
                for version in VERSIONS:
                    if breaks(rule_id, version):
                        self.gone(version, 'module', module, errors, rule_id)
                    else:
                        self.available(version, 'module', module, errors, rule_id)
        self.assertEqual(errors, [], '\n'.join(errors))

    def test_removed_modules_each_say_what_replaces_them(self):
        rule = TABLE.rules['PY2-REMOVED-MODULE']
        self.assertEqual(sorted(rule['imports']), sorted(rule['replacements']))

    def test_moved_names_exist_before_and_their_replacements_after(self):
        errors = []
        for rule_id, rule in sorted(TABLE.rules.items()):
            removed = rule['kind'] in ('removed', 'decision')
            for dotted, replacement in sorted(rule.get('attrs', {}).items()):
                module = dotted.rsplit('.', 1)[0]
                seen = []
                for version in VERSIONS:
                    got = self.result(version, 'attr', dotted)
                    if got == 'no-module':
                        continue  # a Python 3 spelling on 2.7 (configparser), or the reverse
                    if breaks(rule_id, version):
                        if removed and got == 'ok':
                            errors.append('%s: %s exists on %s, which the rule says it breaks' % (
                                rule_id, dotted, version))
                    elif version == '2.7' and not breaks(rule_id, '3.0'):
                        continue  # a Python 3 spelling that a later 3.x removed: 2.7 need not have it
                    elif got != 'ok':
                        errors.append('%s: %s on %s: %s' % (rule_id, dotted, version, got))
                    seen.append(got)
                if 'ok' not in seen and (module not in TABLE.module_renames):
                    errors.append('%s: %s exists on none of the interpreters' % (rule_id, dotted))
                for spelled in spelled_names(replacement):
                    for version in PY3:
                        got = self.result(version, 'attr', spelled)
                        if got != 'ok':
                            errors.append('%s: the replacement of %s, %s, on %s: %s' % (
                                rule_id, dotted, spelled, version, got))
        self.assertEqual(errors, [], '\n'.join(errors))

    def test_builtins_exist_on_2_7_and_their_replacements_on_3(self):
        errors = []
        for rule_id, rule in sorted(TABLE.rules.items()):
            for name, replacement in sorted(rule.get('builtins', {}).items()):
                if self.result('2.7', 'attr', name) != 'ok':
                    errors.append('%s: %s is not a builtin on 2.7' % (rule_id, name))
                for version in PY3:
                    if rule['kind'] == 'removed' and self.result(version, 'attr', name) == 'ok':
                        errors.append('%s: %s is still a builtin on %s' % (rule_id, name, version))
                    for spelled in spelled_names(replacement):
                        got = self.result(version, 'attr', spelled)
                        if got != 'ok':
                            errors.append('%s: %s -> %s on %s: %s' % (rule_id, name, spelled, version, got))
        self.assertEqual(errors, [], '\n'.join(errors))

    def test_methods_exist_before_and_their_replacements_after(self):
        errors = []
        for rule_id, (py2, py3) in sorted(RECEIVERS.items()):
            rule = TABLE.rules[rule_id]
            for method, replacement in sorted(rule.get('methods', {}).items()):
                for version in VERSIONS:
                    receiver = py2 if version == '2.7' else py3
                    got = self.result(version, 'attr', '%s.%s' % (receiver, method))
                    if breaks(rule_id, version) != (got != 'ok'):
                        errors.append('%s: %s.%s on %s: %s' % (rule_id, receiver, method, version, got))
                    if replacement and version != '2.7' and self.result(
                            version, 'attr', '%s.%s' % (receiver, replacement)) != 'ok':
                        errors.append('%s: %s.%s has no replacement %s on %s' % (
                            rule_id, receiver, method, replacement, version))
            for method, replacement in sorted(rule.get('methods_py3', {}).items()):
                for version in PY3:
                    if self.result(version, 'attr', '%s.%s' % (py3, replacement)) != 'ok':
                        errors.append('%s: %s.%s -> %s on %s' % (rule_id, py3, method, replacement, version))
        self.assertEqual(errors, [], '\n'.join(errors))

    def test_what_fix_emits_runs_wherever_the_original_ran_and_everywhere_unless_reported(self):
        """Dual output: on all four; py3 output: on 3.x. A failure is allowed
        only where the original failed too and check still reports a by-hand
        finding in the output (the rewrite is then not claimed to be done),
        or on 2.7 where the original is not Python 2 code (the same error)."""
        errors = []
        for code, ((dual, dual_by_hand), (py3, py3_by_hand)) in sorted(self.snippets.items()):
            for style, text, by_hand, versions in (('dual', dual, dual_by_hand, VERSIONS),
                                                   ('py3', py3, py3_by_hand, PY3)):
                for version in versions:
                    before = self.result(version, 'exec', code)
                    after = self.result(version, 'exec', text)
                    if after == 'ok' or self._unavailable(version, after) or self._unavailable(version, before):
                        continue
                    if before == 'ok':
                        errors.append('%s on %s: the original runs, the rewrite does not (%s)\n%s---\n%s' % (
                            style, version, after, code, text))
                    elif version == '2.7' and _same_error(before, after):
                        continue
                    elif not by_hand:
                        errors.append('%s on %s: the rewrite fails (%s) and check reports nothing by hand\n%s---\n%s'
                                      % (style, version, after, code, text))
        self.assertEqual(errors, [], '\n\n'.join(errors))

    def _unavailable(self, version, error):
        """An import of a module this machine's interpreter has but cannot load (or lacks, per UNAVAILABLE)."""
        if '_tkinter' in error or '_gdbm' in error:
            return True
        match = re.search(r"No module named '?([\w.]+)", error)
        if not match:
            return False
        missing = match.group(1)
        here = {m for v, m in UNAVAILABLE if v == version} | {
            key.split(':', 1)[1] for key, got in self.results[version].items() if key.startswith('module:') and got == 'found'}
        return any(missing == m or m.startswith(missing + '.') or missing.startswith(m + '.') or
                   m.endswith('.' + missing) for m in here)


def _same_error(before, after):
    """The same exception and message, whichever module alias the rewrite reads it through."""
    strip = lambda text: re.sub(r"'module' object|module '[\w.]+'", 'module', text)
    return strip(before) == strip(after)


if __name__ == '__main__':
    unittest.main()
