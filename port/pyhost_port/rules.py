"""The rule table, port/rules/python.toml, shared with the Rust side."""
import os

try:
    import tomllib
except ImportError:  # Python 3.9 and 3.10: tomli from scripts/fetch-port-tools
    import tomli as tomllib

DEFAULT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'python.toml')
SOURCE_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'rules', 'python.toml')


class Table(object):
    def __init__(self, rules):
        self.rules = {rule['id']: rule for rule in rules}
        self.import_rules = {}  # module -> rule id
        self.module_renames = {}  # old -> new
        self.attrs = {}  # "module.name" -> (rule id, replacement)
        self.methods = {}  # method -> (rule id, replacement on both, replacement on py3)
        self.builtins = {}  # name -> (rule id, replacement)
        self.notes = {}  # "module.name" -> what differs, for the finding's detail
        self.replacements = {}  # removed module -> what replaces it
        self.renamed_names = {}  # old module -> {names its Python 3 module lacks}
        for rule in rules:
            for module in rule.get('imports', []):
                self.import_rules[module] = rule['id']
            if rule['id'] == 'PY2-RENAMED-MODULE':
                self.module_renames.update(rule['modules'])
            for dotted, replacement in rule.get('attrs', {}).items():
                self.attrs[dotted] = (rule['id'], replacement)
                if rule['id'] == 'PY2-RENAMED-MODULE-NAME':
                    module, name = dotted.rsplit('.', 1)
                    self.renamed_names.setdefault(module, set()).add(name)
            self.notes.update(rule.get('notes', {}))
            self.replacements.update(rule.get('replacements', {}))
            py3 = rule.get('methods_py3', {})
            for method, replacement in rule.get('methods', {}).items():
                self.methods[method] = (rule['id'], replacement, py3.get(method, replacement))
            for name, replacement in rule.get('builtins', {}).items():
                self.builtins[name] = (rule['id'], replacement)
        # __builtin__ is builtins on Python 3, without the builtins Python 3 removed.
        for name, (rule_id, replacement) in self.builtins.items():
            if self.rules[rule_id]['kind'] == 'removed':
                self.renamed_names.setdefault('__builtin__', set()).add(name)
                self.attrs.setdefault('__builtin__.' + name, ('PY2-RENAMED-MODULE-NAME', ''))
                self.notes.setdefault('__builtin__.' + name, 'a builtin that Python 3 removed: %s' % (
                    replacement or 'none') if replacement else 'a builtin that Python 3 removed')
        # The same names read through the Python 3 module (import http.cookies as Cookie).
        for old, names in self.renamed_names.items():
            new = self.module_renames.get(old)
            for name in names if new else ():
                self.attrs.setdefault('%s.%s' % (new, name), self.attrs['%s.%s' % (old, name)])
                if '%s.%s' % (old, name) in self.notes:
                    self.notes.setdefault('%s.%s' % (new, name), self.notes['%s.%s' % (old, name)])
        self.attr_modules = {dotted.split('.', 1)[0] for dotted in self.attrs}

    def lacking(self, old, new):
        """The names of module `old` that renaming it to `new` does not carry:
        those its Python 3 module lacks, and those a later 3.x removed."""
        names = set(self.renamed_names.get(old, ()))
        for dotted in self.attrs:
            module, name = dotted.rsplit('.', 1)
            if module in (old, new):
                names.add(name)
        return names

    def auto(self, rule_id):
        return self.rules[rule_id]['auto']


_TABLE = None


def load(path=None):
    """The table: from `path`, else beside this package (where pyhost writes
    it), else from the source tree (tests)."""
    global _TABLE
    if path is None and _TABLE is not None:
        return _TABLE
    if path is None:
        path = DEFAULT_PATH if os.path.exists(DEFAULT_PATH) else SOURCE_PATH
    with open(path, 'rb') as f:
        table = Table(tomllib.load(f)['rule'])
    _TABLE = table
    return table
