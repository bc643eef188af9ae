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
        for rule in rules:
            for module in rule.get('imports', []):
                self.import_rules[module] = rule['id']
            if rule['id'] == 'PY2-RENAMED-MODULE':
                self.module_renames.update(rule['modules'])
            for dotted, replacement in rule.get('attrs', {}).items():
                self.attrs[dotted] = (rule['id'], replacement)
            py3 = rule.get('methods_py3', {})
            for method, replacement in rule.get('methods', {}).items():
                self.methods[method] = (rule['id'], replacement, py3.get(method, replacement))
            for name, replacement in rule.get('builtins', {}).items():
                self.builtins[name] = (rule['id'], replacement)
        self.attr_modules = {dotted.split('.', 1)[0] for dotted in self.attrs}

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
