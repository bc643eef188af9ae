"""The scanner: one walk over the tree, a finding per construct that breaks
on some Python, each with the edit that fixes it (when one works on every
target of the style). The rules' data (which modules, names and methods) is
port/rules/python.toml; the shapes are matched here."""
import os
import re

from fissix import pytree
from fissix.pgen2 import token
from fissix.pygram import python_symbols as syms

from . import edit
from .edit import raw, replace_with_text, source_text
from .scope import Scopes, is_reference

DUAL, PY3 = 'dual', 'py3'

# Calls that iterate their argument once and keep nothing lazy: a list and
# an iterator or view give them the same result.
CONSUMERS = {'list', 'tuple', 'sorted', 'set', 'frozenset', 'dict', 'sum', 'min', 'max', 'any', 'all',
             'enumerate', 'zip', 'map', 'filter', 'iter', 'next', 'bytearray'}
VIEW_CONSUMERS = CONSUMERS | {'len'}
RANGE_CONSUMERS = CONSUMERS | {'len', 'reversed'}
# Dict methods that add, remove or replace entries.
MUTATING = {'pop', 'popitem', 'clear', 'update', 'setdefault', '__setitem__', '__delitem__'}
COMPAT = {
    'basestring': 'basestring = str',
    'unicode': 'unicode = str',
    'long': 'long = int',
    'xrange': 'xrange = range',
    'raw_input': 'raw_input = input',
    'unichr': 'unichr = chr',
    'intern': 'from sys import intern',
    'cmp': 'def cmp(a, b):\n        return (a > b) - (a < b)',
    'reload': 'from importlib import reload',
    'StandardError': 'StandardError = Exception',
}
PY3_NAMES = {'basestring': 'str', 'unicode': 'str', 'long': 'int', 'xrange': 'range', 'raw_input': 'input',
             'unichr': 'chr', 'file': 'open', 'StandardError': 'Exception'}
SPECIAL_METHODS = {'__nonzero__': ('PY2-NONZERO-METHOD', '__bool__'), '__div__': ('PY2-DIV-METHOD', '__truediv__'),
                   '__rdiv__': ('PY2-DIV-METHOD', '__rtruediv__'), '__idiv__': ('PY2-DIV-METHOD', '__itruediv__'),
                   'next': ('PY2-NEXT-METHOD', '__next__')}
LIST_ONLY_METHODS = {'sort', 'append', 'extend', 'insert', 'remove', 'pop', 'reverse', 'index', 'count'}


# --style dual's `raise E, V, T` where six is not imported: no spelling of it
# compiles on both 2.7 and 3.x, so a helper, defined the 3.x way on 3.x and
# through exec (never compiled on 3.x) on 2.7. --style py3 removes it.
RERAISE = '_raise_with_traceback'
RERAISE_BLOCK = (
    "if sys.version_info[0] >= 3:  # what `raise E, V, T` does on Python 2\n"
    "    def _raise_with_traceback(tp, value, tb):\n"
    "        if isinstance(tp, BaseException):\n"
    "            value = tp\n"
    "        elif not isinstance(value, tp):\n"
    "            value = tp() if value is None else tp(*value) if isinstance(value, tuple) else tp(value)\n"
    "        raise value.with_traceback(tb)\n"
    "else:\n"
    "    exec('def _raise_with_traceback(tp, value, tb):\\n    raise tp, value, tb\\n')\n")


class Finding(object):
    __slots__ = ('rule', 'line', 'column', 'detail', 'auto', 'fix', 'node')

    def __init__(self, rule, node, detail=None, auto=None, fix=None, position=None):
        self.rule = rule
        self.node = node
        self.line, self.column = position or edit.position(node)
        self.detail = detail
        self.auto = auto
        self.fix = fix

    def as_json(self):
        out = {'rule': self.rule, 'line': self.line, 'column': self.column}
        if self.detail:
            out['detail'] = self.detail
        if self.auto is not None:
            out['auto'] = self.auto
        return out


class Context(object):
    def __init__(self, parsed, source, table, path, style):
        self.tree = parsed.tree
        self.parsed = parsed
        self.source = source
        self.lines = source.lines
        self.table = table
        self.path = path
        self.style = style
        self.scopes = Scopes(parsed.tree)
        text = source.text
        from .source import future_features
        self.features = future_features(text)
        self.six = bool(re.search(r'^\s*import six\b|^\s*from six import', text, re.M))
        self.module_imports = set()
        for child in self.tree.children:
            if child.type == syms.simple_stmt and edit.is_import_stmt(child):
                self.module_imports.add(edit.source_text(child).strip())


def scan(ctx):
    """Every finding in ctx.tree, in document order."""
    findings = []
    scanner = Scanner(ctx, findings)
    for node in ctx.tree.pre_order():
        scanner.visit(node)
    return findings


def _is_call(trailer):
    return trailer.type == syms.trailer and trailer.children[0].type == token.LPAR


def _attr_name(trailer):
    if trailer.type == syms.trailer and trailer.children[0].type == token.DOT:
        return trailer.children[1].value
    return None


def _call_args(trailer):
    """The argument nodes of a call trailer."""
    if len(trailer.children) == 2:
        return []
    inner = trailer.children[1]
    if inner.type == syms.arglist:
        return [c for c in inner.children if c.type != token.COMMA]
    return [inner]


def _is_plain_arg(arg):
    return not (arg.type == syms.argument) and not (isinstance(arg, pytree.Leaf) and arg.type == token.STAR)


def _needs_parens(node):
    return node.type in (syms.test, syms.or_test, syms.and_test, syms.not_test, syms.comparison, syms.lambdef,
                         syms.expr, syms.xor_expr, syms.and_expr, syms.shift_expr, syms.arith_expr, syms.term,
                         syms.factor, syms.testlist_gexp, syms.testlist, syms.star_expr)


def _wrapped(node):
    text = source_text(node)
    return '(%s)' % text if _needs_parens(node) else text


def _unparen(node):
    """Climbs from an expression through the parentheses around it."""
    while node.parent is not None and node.parent.type == syms.atom and node.parent.children[0].type == token.LPAR \
            and len(node.parent.children) == 3:
        node = node.parent
    return node


def _power_split(power, upto):
    """Replaces power.children[:upto] by one node and returns it (a leaf when upto == 1)."""
    if upto == 1:
        return power.children[0]
    head = list(power.children[:upto])
    for child in head:
        child.remove()
    node = pytree.Node(syms.power, head)
    power.insert_child(0, node)
    return node


class Scanner(object):
    def __init__(self, ctx, findings):
        self.ctx = ctx
        self.table = ctx.table
        self.findings = findings
        self.division = 'division' in ctx.features
        self.print_function = 'print_function' in ctx.features

    def add(self, rule, node, detail=None, fix=None, auto=None, position=None):
        if auto is None:
            auto = self.table.auto(rule) and fix is not None
        self.findings.append(Finding(rule, node, detail, auto, fix if auto else None, position))

    def visit(self, node):
        if isinstance(node, pytree.Leaf):
            self.visit_leaf(node)
            return
        method = getattr(self, 'visit_' + pytree.type_repr(node.type), None)
        if method is not None:
            method(node)

    # ------------------------------------------------------------------ leaves
    def visit_leaf(self, leaf):
        kind = leaf.type
        if kind == token.NAME:
            self.visit_name(leaf)
        elif kind == token.NOTEQUAL and leaf.value == '<>':
            self.add('PY2-NE-DIAMOND', leaf, fix=lambda e: setattr(leaf, 'value', '!='))
        elif kind == token.NUMBER:
            self.visit_number(leaf)
        elif kind == token.STRING:
            self.visit_string(leaf)
        elif kind in (token.SLASH, token.SLASHEQUAL) and not self.division:
            self.visit_division(leaf)
        elif kind in (token.ASYNC, token.AWAIT):
            self.add('PY3-ASYNC', leaf)

    def visit_name(self, leaf):
        name = leaf.value
        if name in ('async', 'await') and leaf.parent is not None and leaf.parent.type in (
                syms.async_stmt, syms.async_funcdef):
            self.add('PY3-ASYNC', leaf)
            return
        if name not in self.table.builtins or not is_reference(leaf):
            return
        if not self.ctx.scopes.is_builtin(leaf):
            return
        rule, replacement = self.table.builtins[name]
        if name == 'input' and str(leaf.parent).strip() == 'raw_input = input':
            return  # the compatibility block --style dual adds
        if rule == 'PY2-BUILTIN-REMOVED':
            self.add(rule, leaf, '%s is gone: %s' % (name, replacement), fix=self._builtin_removed_fix(leaf))
        elif rule == 'PY2-BUILTIN-MOVED':
            self.builtin_moved(leaf, name)
        else:
            self.add(rule, leaf, '%s() is gone: %s' % (name, replacement) if replacement else None)

    def _builtin_removed_fix(self, leaf):
        name = leaf.value
        ctx = self.ctx

        def fix(edits):
            if ctx.style == DUAL:
                body = COMPAT[name]
                edits.block(name, 'try:\n    %s\nexcept NameError:  # Python 3\n    %s\n' % (name, body))
                return
            if name == 'cmp':
                edits.block(name, 'def cmp(a, b):\n    return (a > b) - (a < b)\n')
            elif name == 'intern':
                edits.import_line('import sys')
                leaf.value = 'sys.intern'
            elif name == 'reload':
                edits.import_line('import importlib')
                leaf.value = 'importlib.reload'
            else:
                new = PY3_NAMES[name]
                if ctx.scopes.bound_anywhere_visible(leaf, new):
                    edits.import_line('import builtins')
                    new = 'builtins.' + new
                leaf.value = new
        return fix

    def builtin_moved(self, leaf, name):
        rule = 'PY2-BUILTIN-MOVED'
        power = leaf.parent
        call = None
        called = power is not None and power.type == syms.power and power.children[0] is leaf \
            and _is_call(power.children[1])
        if called and len(power.children) == 2:
            call = power.children[1]
        if name == 'reduce':
            self.add(rule, leaf, 'reduce() moved to functools (2.6+ has it there too)',
                     fix=lambda e: e.import_line('from functools import reduce'))
            return
        if name == 'file' and called:
            # file(p).read() too: open takes the same arguments on 2.7 and returns the same file object.
            self.add(rule, leaf, 'file() is gone: open() works on both',
                     fix=lambda e: setattr(leaf, 'value', 'open'))
            return
        if call is None:
            detail = 'file is a type here (isinstance, a base class): io.IOBase on 3.x, by hand' \
                if name == 'file' else '%s is gone in Python 3' % name
            self.add(rule, leaf, detail, auto=False)
            return
        args = _call_args(call)
        plain = all(_is_plain_arg(a) for a in args)
        if name == 'apply' and plain and 2 <= len(args) <= 3:
            def fix_apply(e, power=power, args=args):
                text = '%s(*%s' % (_wrapped(args[0]), _wrapped(args[1]))
                if len(args) == 3:
                    text += ', **%s' % _wrapped(args[2])
                replace_with_text(power, text + ')')
            self.add(rule, leaf, 'apply(f, args) is f(*args)', fix=fix_apply)
        elif name == 'execfile' and plain and 1 <= len(args) <= 3 and args[0].type in (token.NAME, token.STRING):
            def fix_execfile(e, power=power, args=args):
                path = source_text(args[0])
                rest = ''.join(', ' + source_text(a) for a in args[1:])
                replace_with_text(power, "exec(compile(open(%s).read(), %s, 'exec')%s)" % (path, path, rest))
            self.add(rule, leaf, "execfile(p) is exec(compile(open(p).read(), p, 'exec'))", fix=fix_execfile)
        else:
            self.add(rule, leaf, '%s() is gone in Python 3' % name, auto=False)

    def visit_number(self, leaf):
        value = leaf.value
        if value[-1] in 'lL':
            # leaf.value at fix time: the octal fix may have run first (0777L).
            self.add('PY2-LONG-LITERAL', leaf, fix=lambda e: setattr(leaf, 'value', leaf.value.rstrip('lL')))
            value = value[:-1]
        if len(value) > 1 and value[0] == '0' and value.isdigit() and value.strip('0'):
            self.add('PY2-OCTAL-LITERAL', leaf, fix=lambda e: setattr(leaf, 'value', '0o' + leaf.value.lstrip('0')))

    def visit_string(self, leaf):
        value = leaf.value
        quote_at = min(i for i in (value.find("'"), value.find('"')) if i >= 0)
        prefix = value[:quote_at].lower()
        if 'f' in prefix:
            self.add('PY3-FSTRING', leaf)
        if 'u' in prefix and 'r' in prefix:
            self.add('PY2-UR-STRING', leaf, fix=lambda e: setattr(leaf, 'value', _ur_to_u(leaf.value)))

    def visit_division(self, leaf):
        parent = leaf.parent
        if parent is None:
            return
        if leaf.type == token.SLASHEQUAL:
            operands = [parent.children[0], parent.children[2]]
        else:
            index = parent.children.index(leaf)
            operands = [parent.children[index - 1], parent.children[index + 1]]
        if any(_is_float(op) for op in operands):
            return
        self.add('PY2-INT-DIVISION', leaf)

    # ----------------------------------------------------------- statements
    def visit_print_stmt(self, node):
        args = node.children[1:]
        if len(args) == 1 and args[0].type == syms.atom and args[0].children[0].type == token.LPAR \
                and len(args[0].children) == 3 and args[0].children[1].type != syms.testlist_gexp:
            return  # print(x): the same on 2 and 3
        if len(args) == 1 and args[0].type == syms.atom and args[0].children[0].type == token.LPAR \
                and args[0].children[1].type == syms.testlist_gexp:
            detail = 'print (a, b) prints a tuple on Python 2'
        else:
            detail = None
        self.add('PY2-PRINT-STMT', node, detail, fix=lambda e: self._fix_print(node, e))

    def _fix_print(self, node, edits):
        args = node.children[1:]
        target = None
        if args and args[0].type == token.RIGHTSHIFT:
            target = source_text(args[1])
            args = args[3:] if len(args) > 2 else []
        values = [a for a in args if a.type != token.COMMA]
        trailing = bool(args) and args[-1].type == token.COMMA
        parts = [source_text(v) for v in values]
        simple = target is None and not trailing and len(values) == 1
        if trailing:
            parts.append("end=' '")
        if target is not None:
            parts.append('file=%s' % target)
        if values and len(values) == 1 and values[0].type == syms.atom and values[0].children[0].type == token.LPAR \
                and values[0].children[1].type == syms.testlist_gexp and target is None and not trailing:
            text = 'print(%s)' % parts[0]  # print (a, b) printed a tuple: keep the tuple
        else:
            text = 'print(%s)' % ', '.join(parts)
        if self.ctx.style == DUAL and not simple and not self.print_function:
            edits.future('print_function')
        replace_with_text(node, text)

    def visit_exec_stmt(self, node):
        children = node.children
        if len(children) == 2 and children[1].type == syms.atom and children[1].children[0].type == token.LPAR:
            return  # exec(code) and exec(code, ns) mean the same on 2 and 3

        def fix(e):
            code = source_text(children[1])
            rest = [source_text(c) for c in children[3:] if c.type != token.COMMA]
            replace_with_text(node, 'exec(%s)' % ', '.join([code] + rest))
        self.add('PY2-EXEC-STMT', node, fix=fix)

    def visit_except_clause(self, node):
        if len(node.children) >= 4 and node.children[2].type == token.COMMA:
            comma = node.children[2]

            def fix(e):
                comma.replace(raw('as', prefix=' '))
                node.children[3].prefix = ' '
            self.add('PY2-EXCEPT-COMMA', node, fix=fix)
        if len(node.children) == 4 and node.children[3].type == token.NAME:
            self._except_name_after(node, node.children[3])

    def _except_name_after(self, clause, name):
        """Python 3 ends a handler with `del name`: a read of the name after
        the handler, before anything binds it again, fails there."""
        body = clause.next_sibling.next_sibling if clause.next_sibling is not None else None
        if body is None:
            return
        scopes = self.ctx.scopes
        scope = scopes.scope_of(name)
        if getattr(self, '_leaves', None) is None:
            self._leaves = list(self.ctx.tree.leaves())
            self._leaf_index = {id(leaf): i for i, leaf in enumerate(self._leaves)}
        end = _last_leaf(body)
        if end is None or id(end) not in self._leaf_index:
            return
        for leaf in self._leaves[self._leaf_index[id(end)] + 1:]:
            if leaf.type == token.NAME and leaf.value == name.value and scopes.scope_of(leaf) is scope:
                if _is_plain_store(leaf):
                    return
                if is_reference(leaf):
                    break
        else:
            return
        taken = {n.value for n in self._leaves if n.type == token.NAME}
        new = name.value + '_'
        while new in taken:
            new += '_'

        def fix(e):
            old = name.value
            name.value = new
            if body.type == syms.suite:
                indent = body.children[1]  # NEWLINE, INDENT, statements...
                body.insert_child(2, raw('%s = %s\n%s' % (old, new, indent.value)))
            else:  # except E as name: statement
                first = edit.first_leaf(body)
                body.insert_child(0, raw('%s = %s; ' % (old, new), prefix=first.prefix))
                first.prefix = ''
        self.add('PY2-EXCEPT-NAME-AFTER', clause, detail='%s is read at line %d' % (name.value, leaf.lineno), fix=fix)

    def visit_raise_stmt(self, node):
        children = node.children
        commas = [c for c in children if c.type == token.COMMA]
        if not commas:
            return
        exc = children[1]
        value = children[3]
        if len(commas) == 1:
            def fix(e):
                if value.type == syms.atom and value.children[0].type == token.LPAR \
                        and value.children[1].type == syms.testlist_gexp:
                    args = source_text(value)[1:-1]
                elif value.type == token.NAME and value.value == 'None':
                    args = ''
                else:
                    args = source_text(value)
                replace_with_text(node, 'raise %s(%s)' % (_wrapped(exc), args))
            self.add('PY2-RAISE-COMMA', node, fix=fix)
            return
        tb = children[5]
        self._raise_with_traceback(node, exc, value, tb, 'raise E, v, tb')

    def _raise_with_traceback(self, node, exc, value, tb, detail):
        """`raise E, V, T`: Python 2 raises V if it is an E, else E(V) (E(*V)
        for a tuple, E() for None), with the traceback T. --style py3 spells
        that out; --style dual uses six.reraise where six is imported, else a
        small local helper (no spelling of it compiles on both)."""
        exc_text, tb_text = _wrapped(exc), source_text(tb).strip()
        instance = _exception_value(exc, value)

        def fix_tb(e):
            if self.ctx.style == PY3:
                text = '%s()' % exc_text if instance == 'None' else instance
                replace_with_text(node, 'raise %s.with_traceback(%s)' % (text, tb_text))
            elif self.ctx.six:
                replace_with_text(node, 'six.reraise(%s, %s, %s)' % (exc_text, instance, tb_text))
            else:
                e.import_line('import sys')
                e.block(RERAISE, RERAISE_BLOCK)
                replace_with_text(node, '%s(%s, %s, %s)' % (RERAISE, source_text(exc).strip(),
                                                            source_text(value).strip(), tb_text))
        auto = instance is not None or (self.ctx.style == DUAL and not self.ctx.six)
        self.add('PY2-RAISE-COMMA', node, detail, fix=fix_tb if auto else None, auto=auto)

    def _reraise_call(self, node, head):
        """--style py3 of a file --style dual wrote: _raise_with_traceback(E, V, T) becomes a raise."""
        stmt = node.parent
        args = _call_args(node.children[1])
        if self.ctx.style != PY3 or len(node.children) != 2 or len(args) != 3 \
                or not all(_is_plain_arg(a) for a in args) or stmt is None or stmt.type != syms.simple_stmt:
            return
        self._raise_with_traceback(node, args[0], args[1], args[2], 'the raise --style dual wrote with a helper')

    def visit_atom(self, node):
        if node.children[0].type == token.BACKQUOTE:
            def fix(e):
                inner = node.children[1]
                replace_with_text(node, 'repr(%s)' % source_text(inner).strip())
            self.add('PY2-BACKTICKS', node, fix=fix)
        elif node.children[0].type in (token.LSQB, token.LPAR):
            pass

    def visit_tfpdef(self, node):
        if node.children[0].type != token.LPAR or _inside_tuple_param(node):
            return  # the outermost tuple parameter's fix takes the nested ones with it
        funcdef = node.parent
        while funcdef is not None and funcdef.type != syms.funcdef:
            funcdef = funcdef.parent
        suite = funcdef.children[-1] if funcdef is not None else None
        param = self._tuple_param_name(node)
        if suite is None:
            self.add('PY2-TUPLE-PARAMS', node, auto=False)
            return

        def fix(e):
            unpack = source_text(node).strip()
            replace_with_text(node, param)
            if suite.type != syms.suite:  # def f((a, b)): return a
                first = edit.first_leaf(suite)
                suite.insert_child(0, raw('%s = %s; ' % (unpack, param), prefix=first.prefix))
                first.prefix = ''
                return
            indent = suite.children[1].value
            first = 2
            if len(suite.children) > 3 and edit.is_docstring(suite.children[2]):
                first = 3
            # After a docstring, the next statement keeps its own indentation.
            suite.insert_child(first, raw('%s = %s\n' % (unpack, param), prefix='' if first == 2 else indent))
            if first == 2:
                # The first statement's indentation is the INDENT token's.
                suite.children[first].value = '%s = %s\n' % (unpack, param)
                nxt = edit.first_leaf(suite.children[first + 1])
                nxt.prefix = indent + nxt.prefix
        self.add('PY2-TUPLE-PARAMS', node, fix=fix)

    def _tuple_param_name(self, node):
        """a_b for (a, b): a name no other NAME in the file has."""
        names = [leaf.value for leaf in node.leaves() if leaf.type == token.NAME]
        if getattr(self, '_taken', None) is None:
            self._taken = {leaf.value for leaf in self.ctx.tree.leaves() if leaf.type == token.NAME}
        param = '_'.join(names)
        while param in self._taken and len(names) > 1:
            param += '_'
        self._taken.add(param)
        return param

    def visit_vfpdef(self, node):
        """lambda (k, v): k + v is lambda k_v: k_v[0] + k_v[1] (a lambda has
        no statement to unpack in); lambda (x): x is lambda x: x."""
        if node.children[0].type != token.LPAR or _inside_tuple_param(node):
            return
        lambdef = node.parent
        while lambdef is not None and lambdef.type != syms.lambdef:
            lambdef = lambdef.parent
        paths = _tuple_paths(node)
        if lambdef is None or paths is None:
            self.add('PY2-TUPLE-PARAMS', node, 'a lambda with tuple parameters', auto=False)
            return
        scopes = self.ctx.scopes
        scope = scopes.of_node.get(id(lambdef))
        uses = []
        for leaf in lambdef.children[-1].leaves():
            if leaf.type != token.NAME or leaf.value not in paths or not is_reference(leaf):
                continue
            if scopes.binding_scope(leaf) is not scope:
                continue  # an inner lambda's own parameter of the same name
            uses.append(leaf)
        # A name the lambda binds twice (a Python 2 list comprehension's
        # variable) cannot be told apart from the parameter: left to a person.
        if scope is None or any(len(scope.bindings.get(name, ())) > 1 for name in paths):
            self.add('PY2-TUPLE-PARAMS', node, 'a lambda with tuple parameters', auto=False)
            return
        single = list(paths) if len(paths) == 1 and paths[list(paths)[0]] == () else None
        param = single[0] if single else self._tuple_param_name(node)

        def fix(e):
            for leaf in uses:
                leaf.value = param + ''.join('[%d]' % i for i in paths[leaf.value])
            replace_with_text(node, param)
            if node.prefix == '' and lambdef.children[0] is node.prev_sibling or \
                    lambdef.children[1].prefix == '':
                first = edit.first_leaf(lambdef.children[1])
                if first is not None and first.prefix == '' and lambdef.children[0].value == 'lambda':
                    first.prefix = ' '  # lambda(x): -> lambda x:
        self.add('PY2-TUPLE-PARAMS', node, 'a lambda with tuple parameters', fix=fix)

    def visit_global_stmt(self, node):
        if node.children[0].value == 'nonlocal':
            self.add('PY3-NONLOCAL', node)

    def visit_yield_arg(self, node):
        if node.children[0].type == token.NAME and node.children[0].value == 'from':
            self.add('PY3-YIELD-FROM', node)

    def visit_tname(self, node):
        if len(node.children) == 3 and node.children[1].type == token.COLON:
            self.add('PY3-ANNOTATIONS', node)

    def visit_funcdef(self, node):
        if any(c.type == token.RARROW for c in node.children):
            self.add('PY3-ANNOTATIONS', node)
        params = node.children[2]
        if len(params.children) == 3 and params.children[1].type == syms.typedargslist:
            items = params.children[1].children
            for index, item in enumerate(items):
                if item.type == token.STAR and index + 1 < len(items) and items[index + 1].type == token.COMMA:
                    self.add('PY3-KEYWORD-ONLY', item)

    def visit_import_name(self, node):
        if self._guarded(node):
            return
        names = node.children[1]
        items = [c for c in names.children if c.type != token.COMMA] if names.type == syms.dotted_as_names else [names]
        single = len(items) == 1 and node.parent.type == syms.simple_stmt and len(node.parent.children) == 2
        for item in items:
            if item.type == syms.dotted_as_name:
                module, alias = str(item.children[0]).strip(), item.children[2].value
            else:
                module = str(item).strip().replace(' ', '')
                alias = None
            self.module_rules(node, item, module, alias, single, from_names=None)

    def visit_import_from(self, node):
        if self._guarded(node):
            return
        module, index = '', 1
        while not (isinstance(node.children[index], pytree.Leaf) and node.children[index].value == 'import'):
            module += str(node.children[index]).strip()
            index += 1
        names = node.children[index + 1:]
        imported = []
        for child in names:
            if child.type == syms.import_as_names:
                imported.extend(c for c in child.children if c.type != token.COMMA)
            elif child.type in (syms.import_as_name, token.NAME):
                imported.append(child)
        single = node.parent.type == syms.simple_stmt and len(node.parent.children) == 2
        self.module_rules(node, node, module, None, single, from_names=imported)
        for item in imported:
            name = item.value if isinstance(item, pytree.Leaf) else item.children[0].value
            dotted = '%s.%s' % (module, name)
            if dotted in self.table.attrs:
                rule, replacement = self.table.attrs[dotted]
                if rule == 'PY-REMOVED-COLLECTIONS-ABC':
                    self.add(rule, item, 'from collections import %s' % name,
                             fix=self._abc_from_fix(node, imported, single))
                elif rule in ('PY2-STRING-CONSTANT', 'PY2-SYS-MAXINT') and isinstance(item, pytree.Leaf):
                    new = replacement.split('.')[-1]
                    self.add(rule, item, 'use %s' % replacement,
                             fix=lambda e, item=item, new=new: replace_with_text(item, '%s as %s' % (new, item.value)))
                else:
                    self.add(rule, item, self._attr_detail(dotted, replacement), auto=False)

    def _guarded(self, node):
        """An import inside try: ... except ImportError: is a fallback someone wrote."""
        parent = node.parent
        while parent is not None and parent.type not in (syms.try_stmt, syms.funcdef, syms.classdef):
            parent = parent.parent
        if parent is None or parent.type != syms.try_stmt:
            return False
        handlers = ''.join(str(c) for c in parent.children if c.type == syms.except_clause)
        return 'ImportError' in handlers or 'Exception' in handlers or any(
            c.type == token.NAME and c.value == 'except' for c in parent.children)

    def module_rules(self, node, item, module, alias, single, from_names):
        top = module.split('.')[0]
        if module.startswith('.'):
            return
        if top in self.table.import_rules and (top == module or '.' in module):
            rule = self.table.import_rules[top]
            replacement = self.table.replacements.get(top)
            self.add(rule, item, '%s: use %s' % (module, replacement) if replacement else 'import %s' % module)
            return
        if top in self.table.module_renames and self._implicit_relative(top) is None:
            new = self.table.module_renames[top]
            lacking = sorted(self._names_of(from_names) & self.table.lacking(module, new))
            if lacking:
                # A name the new module lacks: renaming the import would fail there.
                self.add('PY2-RENAMED-MODULE', item, '%s is %s on Python 3, which has no %s' % (
                    module, new, ', '.join(lacking)), auto=False)
                return
            self.add('PY2-RENAMED-MODULE', item, '%s is %s on Python 3' % (module, new),
                     fix=self._rename_fix(node, module, alias, new, from_names) if single and top == module else None)
            return
        sibling = self._implicit_relative(top)
        if sibling is not None and 'absolute_import' not in self.ctx.features:
            fix = None
            if single and top == module:
                if from_names is None:
                    text = 'from . import %s' % module + (' as %s' % alias if alias else '')
                    fix = lambda e: replace_with_text(node, text)
                else:
                    def fix(e):
                        node.children[1].replace(raw('.' + module, prefix=' '))
            self.add('PY2-IMPLICIT-RELATIVE-IMPORT', item, '%s is %s, a sibling of this file' % (module, sibling),
                     fix=fix)

    @staticmethod
    def _names_of(from_names):
        names = set()
        for item in from_names or []:
            names.add(item.value if isinstance(item, pytree.Leaf) else item.children[0].value)
        return names

    def _implicit_relative(self, name):
        if not self.ctx.path:
            return None
        folder = os.path.dirname(self.ctx.path)
        if not os.path.exists(os.path.join(folder, '__init__.py')):
            return None
        for candidate in (name + '.py', os.path.join(name, '__init__.py')):
            if os.path.exists(os.path.join(folder, candidate)):
                own = os.path.splitext(os.path.basename(self.ctx.path))[0]
                return None if candidate == own + '.py' and False else candidate
        return None

    def _rename_fix(self, node, module, alias, new, from_names):
        stmt = node.parent

        def fix(edits):
            indent = edit.indent_of(self.ctx.lines, edit.position(stmt)[0])
            old_text = source_text(node)
            if from_names is not None:
                new_text = 'from %s import %s' % (new, ''.join(str(c) for c in node.children[3:]).strip())
                if self.ctx.style == PY3:
                    replace_with_text(node, new_text)
                    return
                block = 'try:\n{i}    {old}\n{i}except ImportError:  # Python 3\n{i}    {new}'.format(
                    i=indent, old=old_text, new=new_text)
            else:
                name = alias or module
                if self.ctx.style == PY3:
                    replace_with_text(node, 'import %s as %s' % (new, name) if name != new else 'import %s' % new)
                    return
                block = 'try:\n{i}    {old}\n{i}except ImportError:  # Python 3\n{i}    import {new} as {name}'.format(
                    i=indent, old=old_text, new=new, name=name)
            replace_with_text(node, block)
        return fix

    def _abc_from_fix(self, node, imported, single):
        stmt = node.parent

        def fix(edits):
            if getattr(node, '_abc_fixed', False):
                return
            node._abc_fixed = True
            abcs, others = [], []
            for item in imported:
                name = item.value if isinstance(item, pytree.Leaf) else item.children[0].value
                (abcs if 'collections.%s' % name in self.table.attrs else others).append(source_text(item).strip())
            indent = edit.indent_of(self.ctx.lines, edit.position(stmt)[0])
            if self.ctx.style == PY3:
                text = 'from collections.abc import %s' % ', '.join(abcs)
            else:
                text = ('try:\n{i}    from collections.abc import {n}\n{i}except ImportError:  # Python 2\n'
                        '{i}    from collections import {n}').format(i=indent, n=', '.join(abcs))
            if others:
                text = 'from collections import %s\n%s%s' % (', '.join(others), indent, text)
            replace_with_text(node, text)
        return fix if single else None

    # ---------------------------------------------------------------- classes
    def visit_classdef(self, node):
        children = node.children
        if children[2].type == token.COLON or (children[2].type == token.LPAR and children[3].type == token.RPAR):
            self.add('PY2-OLD-STYLE-CLASS', node, 'class %s has no base class' % children[1].value)
        suite = children[-1]
        if suite.type != syms.suite:
            return
        methods = {}
        for stmt in suite.children:
            target = stmt.children[-1] if stmt.type == syms.decorated else stmt
            if target.type == syms.funcdef:
                methods[target.children[1].value] = target
        assigned = set()
        for stmt in suite.children:
            if stmt.type == syms.simple_stmt and stmt.children[0].type == syms.expr_stmt:
                first = stmt.children[0].children[0]
                if first.type == token.NAME:
                    assigned.add(first.value)
        defined = set(methods) | assigned
        for name, funcdef in methods.items():
            if name in SPECIAL_METHODS:
                rule, new = SPECIAL_METHODS[name]
                if new in defined:
                    continue
                if name == 'next' and not self._no_arg_method(funcdef):
                    continue
                self.add(rule, funcdef.children[1], '%s: Python 3 calls %s' % (name, new),
                         fix=self._alias_method_fix(funcdef, name, new))
            elif name == '__cmp__' and '__eq__' not in defined and '__lt__' not in defined:
                self.add('PY2-CMP-METHOD', funcdef.children[1])
            elif name == '__unicode__' and not self._has_unicode_shim(suite):
                self.add('PY2-UNICODE-METHOD', funcdef.children[1],
                         fix=self._unicode_fix(suite, funcdef, '__str__' in methods))
        for stmt in suite.children:
            if stmt.type == syms.simple_stmt and stmt.children[0].type == syms.expr_stmt:
                expr = stmt.children[0]
                if expr.children[0].type == token.NAME and expr.children[0].value == '__metaclass__' \
                        and len(expr.children) == 3:
                    guard = self._metaclass_guard(node)
                    if guard is not None and self.ctx.style == DUAL:
                        continue  # what --style dual wrote: the metaclass runs on 3.x too
                    # The class is made again through the metaclass on 3.x: a decorator
                    # would have run on the first one, and slots cannot be copied.
                    plain = node.parent.type != syms.decorated and '__slots__' not in assigned
                    self.add('PY2-METACLASS-ATTR', expr, fix=self._metaclass_fix(node, stmt, expr.children[2], guard),
                             auto=self.ctx.style == PY3 or self.ctx.six or plain)

    @staticmethod
    def _no_arg_method(funcdef):
        params = funcdef.children[2]
        return len(params.children) == 3 and params.children[1].type == token.NAME

    @staticmethod
    def _has_unicode_shim(suite):
        return '__str__ = __unicode__' in str(suite)

    def _alias_method_fix(self, funcdef, name, new):
        def fix(edits):
            if self.ctx.style == PY3:
                funcdef.children[1].value = new
                return
            indent = edit.indent_of(self.ctx.lines, edit.position(funcdef)[0])
            stmt = funcdef.parent if funcdef.parent.type == syms.decorated else funcdef
            edit.insert_after(stmt, '%s%s = %s\n' % (indent, new, name))
        return fix

    def _unicode_fix(self, suite, funcdef, has_str):
        def fix(edits):
            indent = edit.indent_of(self.ctx.lines, edit.position(funcdef)[0])
            if self.ctx.style == PY3:
                if has_str:
                    return  # both exist: which to keep is for a person
                funcdef.children[1].value = '__str__'
                return
            edits.import_line('import sys')
            last = [c for c in suite.children if not (isinstance(c, pytree.Leaf))][-1]
            edit.insert_after(last, '%sif sys.version_info[0] >= 3:  # Python 3 calls __str__\n%s    __str__ = __unicode__\n'
                              % (indent, indent))
        return fix

    @staticmethod
    def _metaclass_guard(classdef):
        """The statement --style dual puts after a class with __metaclass__, if it is there."""
        nxt = classdef.next_sibling
        if nxt is not None and nxt.type == syms.if_stmt and source_text(nxt).startswith(
                'if not isinstance(%s, ' % classdef.children[1].value):
            return nxt
        return None

    def _metaclass_fix(self, classdef, stmt, meta, guard):
        def fix(edits):
            meta_text = source_text(meta).strip()
            name = classdef.children[1].value
            if self.ctx.style == DUAL and not self.ctx.six:
                # 2.7 runs the metaclass as written; 3.x ignores __metaclass__, so
                # the class is made once more through it, with the same name,
                # bases and attributes (isinstance(C, M) on 2.7 skips that).
                indent = edit.indent_of(self.ctx.lines, edit.position(classdef)[0])
                edit.insert_after(classdef, (
                    "{i}if not isinstance({c}, {m}):  # Python 3 ignores __metaclass__\n"
                    "{i}    {c} = {m}('{c}', {c}.__bases__, dict((k, v) for k, v in vars({c}).items()\n"
                    "{i}        {p}if k not in ('__dict__', '__weakref__')))\n").format(
                        i=indent, c=name, m=meta_text, p=' ' * (len(name) + len(meta_text) + 4)))
                return
            if guard is not None:
                nxt = guard.next_sibling
                if nxt is not None:
                    nxt.prefix = guard.prefix + nxt.prefix
                guard.remove()
            suite = stmt.parent
            body = [c for c in suite.children if not isinstance(c, pytree.Leaf)]
            if len(body) == 1:
                replace_with_text(stmt.children[0], 'pass')
            else:
                nxt = stmt.next_sibling
                prefix = stmt.prefix
                stmt.remove()
                if nxt is not None:
                    nxt.prefix = prefix + nxt.prefix.lstrip(' \t') if nxt.type != token.DEDENT else nxt.prefix
            children = classdef.children
            if self.ctx.style == PY3:
                if children[2].type == token.COLON:
                    children[1].replace(raw('%s(metaclass=%s)' % (children[1].value, meta_text), prefix=' '))
                elif children[3].type == token.RPAR:
                    children[3].prefix = ''
                    classdef.insert_child(3, raw('metaclass=%s' % meta_text))
                else:
                    classdef.insert_child(4, raw(', metaclass=%s' % meta_text))
                return
            lineno = edit.position(classdef)[0]
            indent = edit.indent_of(self.ctx.lines, lineno)
            class_leaf = children[0]
            class_leaf.prefix = class_leaf.prefix + '@six.add_metaclass(%s)\n%s' % (meta_text, indent)
        return fix

    # -------------------------------------------------------- calls and names
    def visit_power(self, node):
        children = node.children
        head = children[0]
        # print(...) calls in a file without print statements and without the future import
        if head.type == token.NAME and head.value == 'print' and self.ctx.parsed.grammar != 'print' \
                and not self.print_function and len(children) >= 2 and _is_call(children[1]):
            args = _call_args(children[1])
            if any(a.type == syms.argument and a.children[1].type == token.EQUAL for a in args) or len(args) > 1:
                self.add('PY3-PRINT-FUNCTION', node, fix=lambda e: e.future('print_function'),
                         auto=self.ctx.style != PY3)
        if head.type == token.NAME and head.value == RERAISE and len(children) == 2 and _is_call(children[1]):
            self._reraise_call(node, head)
        if head.type == token.NAME and is_reference(head):
            self.builtin_call_rules(node, head)
            self.module_attr_rules(node, head)
        for index in range(1, len(children)):
            trailer = children[index]
            name = _attr_name(trailer)
            if name is None:
                continue
            nxt = children[index + 1] if index + 1 < len(children) else None
            is_call = nxt is not None and _is_call(nxt)
            self.method_rules(node, index, name, is_call)

    def builtin_call_rules(self, node, head):
        name = head.value
        children = node.children
        if len(children) < 2 or not _is_call(children[1]):
            return
        builtin = None

        def is_builtin():
            return self.ctx.scopes.is_builtin(head)
        args = _call_args(children[1])
        if name in ('sorted',) and is_builtin():
            self.sort_rules(node, children[1], args)
        if name in ('map', 'filter', 'zip', 'range') and is_builtin():
            mode = 'range' if name == 'range' else 'iter'
            self.list_result(node, 2, mode, 'PY2-ITERATOR-LIST', '%s() returns a list on Python 2 only' % name)
        if name in ('sorted', 'min', 'max') and is_builtin():
            self.mixed_order(node, args)
        if name == 'cmp' and is_builtin() and any(_is_none(a) for a in args):
            self.add('PY2-ORDER-MIXED-TYPES', node, 'cmp() with None')
        del builtin

    def module_attr_rules(self, node, head):
        children = node.children
        module_name = head.value
        if module_name not in self.table.attr_modules and not self.table.attr_modules & {
                b[1].split('.')[0] for b in (self.ctx.scopes.lookup(head) or []) if b[0] == 'import' and b[1]}:
            return
        attr = _attr_name(children[1]) if len(children) > 1 else None
        if attr is None:
            return
        bindings = self.ctx.scopes.lookup(head)
        if not bindings:
            return
        modules = {b[1] for b in bindings if b[0] == 'import'}
        modules |= {b[1].split('.')[-1] for b in bindings if b[0] == 'from' and b[1].startswith('six.moves.')}
        for module in sorted(modules):
            dotted = '%s.%s' % (module, attr)
            if dotted not in self.table.attrs:
                continue
            rule, replacement = self.table.attrs[dotted]
            new_module = replacement.rsplit('.', 1)[0] if replacement else None
            if new_module and new_module != module and new_module in modules and rule != 'PY2-RENAMED-MODULE-NAME':
                return  # bound to the new module too: a fallback import already handles it
            trailer = children[1]
            if rule in ('PY2-STRING-CONSTANT', 'PY2-SYS-MAXINT'):
                new = replacement.split('.')[-1]
                self.add(rule, trailer, '%s: use %s' % (dotted, replacement),
                         fix=lambda e, t=trailer, new=new: setattr(t.children[1], 'value', new))
            elif rule == 'PY-REMOVED-COLLECTIONS-ABC':
                self.add(rule, node, '%s: use %s' % (dotted, replacement), fix=self._abc_attr_fix(head))
            elif rule == 'PY-REMOVED-SAFECONFIGPARSER':
                def fix(e, node=node, head=head):
                    name = head.value
                    trailer = node.children[1]
                    if self.ctx.style == PY3:
                        trailer.children[1].value = 'ConfigParser'
                        return
                    head.replace(raw("getattr(%s, 'SafeConfigParser', %s.ConfigParser)" % (name, name),
                                     prefix=head.prefix))
                    trailer.remove()
                self.add(rule, node, '%s is gone from 3.12' % dotted, fix=fix)
            elif rule == 'PY2-STRING-FUNCTION':
                self.add(rule, node, '%s: use %s' % (dotted, replacement), fix=self._string_function_fix(node, attr))
            else:
                self.add(rule, node, self._attr_detail(dotted, replacement), auto=False)
            return

    def _attr_detail(self, dotted, replacement):
        note = self.table.notes.get(dotted)
        if note:
            return '%s: %s' % (dotted, note)
        return '%s: use %s' % (dotted, replacement) if replacement else '%s is gone' % dotted

    def _abc_attr_fix(self, head):
        def fix(edits):
            if self.ctx.style == PY3:
                edits.import_line('import collections.abc')
                head.value = 'collections.abc'
            else:
                edits.block('collections_abc', 'try:\n    import collections.abc as collections_abc\n'
                            'except ImportError:  # Python 2\n    import collections as collections_abc\n')
                head.value = 'collections_abc'
        return fix

    def _string_function_fix(self, node, attr):
        children = node.children
        if len(children) != 3 or not _is_call(children[2]):
            return None
        args = _call_args(children[2])
        if not args or not all(_is_plain_arg(a) for a in args):
            return None

        def fix(e):
            first = _wrapped_primary(args[0])
            rest = [source_text(a).strip() for a in args[1:]]
            if attr in ('join', 'joinfields'):
                sep = _wrapped_primary(args[1]) if len(args) > 1 else "' '"
                text = '%s.join(%s)' % (sep, source_text(args[0]).strip())
            elif attr in ('atoi', 'atol'):
                text = 'int(%s)' % ', '.join([source_text(args[0]).strip()] + rest)
            elif attr == 'atof':
                text = 'float(%s)' % source_text(args[0]).strip()
            else:
                method = {'splitfields': 'split'}.get(attr, attr)
                text = '%s.%s(%s)' % (first, method, ', '.join(rest))
            replace_with_text(node, text)
        if attr in ('join', 'joinfields') and len(args) > 2:
            return None
        return fix

    def method_rules(self, node, index, name, is_call):
        children = node.children
        trailer = children[index]
        call = children[index + 1] if is_call else None
        if name in self.table.methods:
            rule, both, py3 = self.table.methods[name]
            if self._defines_method(name):
                return
            if rule in ('PY2-DICT-ITER', 'PY2-DICT-VIEW'):
                if is_call and not _call_args(call):
                    self.dict_iter(node, index, name, both, rule)
                return
            if rule == 'PY-REMOVED-CONFIGPARSER-READFP':
                self.readfp(node, index, trailer, is_call)
                return
            replacement = py3 if self.ctx.style == PY3 else both
            self.add(rule, trailer, '.%s()' % name + (': use .%s()' % (py3 or both) if py3 or both else ''),
                     fix=(lambda e, t=trailer, r=replacement: setattr(t.children[1], 'value', r)) if replacement else None,
                     auto=bool(replacement) and self.table.auto(rule) or (rule != 'PY-REMOVED-UNITTEST-ALIASES'
                                                                         and bool(replacement)))
            return
        if name == 'has_key' and is_call and index == len(children) - 2 and len(_call_args(call)) == 1:
            self.has_key(node, index, call)
        elif name == 'next' and is_call and not _call_args(call) and not self._defines_method('next', any_args=True):
            self.next_call(node, index)
        elif name in ('keys', 'values', 'items') and is_call and not _call_args(call):
            self.list_result(node, index + 2, 'view', 'PY2-DICT-LIST', '.%s() is a list on Python 2 only' % name)
        elif name == 'sort' and is_call:
            self.sort_rules(node, call, _call_args(call))
        elif name in ('send', 'sendall', 'sendto') and is_call and not self._defines_method(name):
            args = _call_args(call)
            if args and not _is_bytes(args[0]):
                self.add('PY2-BYTES-TEXT', trailer, '.%s() of a str: bytes on Python 2, text on Python 3' % name)
        elif name == 'translate' and is_call and len(_call_args(call)) == 2:
            self.add('PY2-BYTES-TEXT', trailer, 'str.translate(table, deletechars) exists for bytes only on Python 3')
        elif name == 'encode' and is_call and index == 1 and children[0].type == token.NAME \
                and self._encodes_text_into_str(node, children[0].value):
            self.add('PY2-BYTES-TEXT', trailer, '%s = %s.encode() under isinstance(%s, unicode): a str on Python 2, '
                     'bytes, which do not mix with str, on Python 3' % ((children[0].value,) * 3))

    @staticmethod
    def _encodes_text_into_str(power, name):
        """`if isinstance(x, unicode): x = x.encode(...)`: 2.x code making sure it holds a byte str."""
        stmt = power.parent
        if stmt is None or stmt.type != syms.expr_stmt or len(stmt.children) != 3 or stmt.children[2] is not power \
                or stmt.children[0].type != token.NAME or stmt.children[0].value != name:
            return False
        node = stmt
        while node is not None and node.type != syms.if_stmt:
            node = node.parent
        return node is not None and re.match(r'isinstance\(\s*%s\s*,\s*unicode\s*\)$' % re.escape(name),
                                             source_text(node.children[1]).strip()) is not None

    def _defines_method(self, name, any_args=False):
        """Whether this file defines a method of that name (then calls may be to it)."""
        cache = getattr(self, '_defined', None)
        if cache is None:
            cache = self._defined = {}
            for node in self.ctx.tree.pre_order():
                if node.type == syms.funcdef and node.parent is not None:
                    grand = node.parent.parent
                    if grand is not None and (grand.type == syms.classdef or (
                            grand.parent is not None and grand.parent.type == syms.classdef)):
                        cache[node.children[1].value] = node
        return name in cache

    def dict_iter(self, node, index, name, new, rule):
        end = index + 2
        receiver_nodes = node.children[:index]
        ok = end == len(node.children) and self.context_ok(node, 'view', receiver_nodes)
        # The loop changes the dict: a copy, as Python 2's items() was (an
        # iterator would raise RuntimeError on 3.x when entries come and go).
        copy = not ok and end == len(node.children) and self._loop_mutates(node, receiver_nodes)

        def fix(e):
            node.children[index].children[1].value = new
            if copy:
                replace_with_text(node, 'list(%s)' % source_text(node))
            elif not ok:
                if end == len(node.children):
                    inner = source_text(node)
                    replace_with_text(node, 'iter(%s)' % inner)
                else:
                    _wrap_prefix(node, end, 'iter')
        auto = None if ok or rule == 'PY2-DICT-ITER' else False
        self.add(rule, node.children[index], '.%s()' % name, fix=fix, auto=auto)

    def readfp(self, node, index, trailer, is_call):
        test = node.parent
        if test is not None and test.type == syms.atom:
            test = test.parent
        if test is not None and test.type == syms.test and "'read_file'" in str(test) and 'hasattr(' in str(test):
            return  # the --style dual spelling: readfp only where read_file is missing
        receiver = node.children[:index]
        simple = all(isinstance(c, pytree.Leaf) or _attr_name(c) for c in receiver)

        def fix(e):
            if self.ctx.style == PY3:
                trailer.children[1].value = 'read_file'
                return
            recv = ''.join(source_text(c) if i == 0 else str(c) for i, c in enumerate(receiver)).strip()
            first = receiver[0]
            prefix = first.prefix
            for c in list(receiver):
                c.remove()
            trailer.replace(raw("(%s.read_file if hasattr(%s, 'read_file') else %s.readfp)" % (recv, recv, recv),
                                prefix=prefix))
        self.add('PY-REMOVED-CONFIGPARSER-READFP', trailer, '.readfp() is gone from 3.12',
                 fix=fix if is_call and (simple or self.ctx.style == PY3) else None)

    def has_key(self, node, index, call):
        receiver = node.children[:index]
        arg = _call_args(call)[0]

        def fix(e):
            recv = ''.join(source_text(c) if i == 0 else str(c) for i, c in enumerate(receiver)).strip()
            key = _wrapped(arg) if arg.type != token.NAME else source_text(arg)
            parent = _unparen(node).parent
            if parent is not None and parent.type == syms.not_test:
                replace_with_text(parent, '%s not in %s' % (key, recv))
                return
            text = '%s in %s' % (key, recv)
            if parent is not None and parent.type not in (
                    syms.expr_stmt, syms.return_stmt, syms.if_stmt, syms.while_stmt, syms.and_test, syms.or_test,
                    syms.argument, syms.arglist, syms.assert_stmt, syms.atom, syms.simple_stmt, syms.test) \
                    and not (parent.type == syms.trailer and parent.children[0].type == token.LPAR):
                text = '(%s)' % text
            replace_with_text(node, text)
        self.add('PY2-DICT-HAS-KEY', node.children[index], fix=fix)

    def next_call(self, node, index):
        end = index + 2

        def fix(e):
            if end == len(node.children):
                recv = ''.join(source_text(c) if i == 0 else str(c) for i, c in enumerate(node.children[:index]))
                replace_with_text(node, 'next(%s)' % recv.strip())
            else:
                head = _power_split(node, index)
                node.children[1].remove()
                node.children[1].remove()
                prefix = head.prefix
                head.replace(raw('next(%s)' % source_text(head).strip(), prefix=prefix))
        self.add('PY2-NEXT-CALL', node.children[index], fix=fix)

    def sort_rules(self, node, call, args):
        cmp_args = [a for a in args if a.type == syms.argument and a.children[0].type == token.NAME
                    and a.children[0].value == 'cmp']
        if not cmp_args:
            return
        has_key = any(a.type == syms.argument and a.children[0].value == 'key' for a in args)
        arg = cmp_args[0]

        def fix(e):
            e.import_line('import functools')
            value = source_text(arg.children[2])
            replace_with_text(arg, 'key=functools.cmp_to_key(%s)' % value)
        self.add('PY2-SORT-CMP', arg, fix=None if has_key else fix)

    def mixed_order(self, node, args):
        kinds = set()
        for arg in args:
            elements = [arg]
            if arg.type == syms.atom and arg.children[0].type in (token.LSQB, token.LPAR) and len(arg.children) == 3:
                inner = arg.children[1]
                elements = [c for c in inner.children if c.type != token.COMMA] \
                    if inner.type in (syms.listmaker, syms.testlist_gexp) else [inner]
            for element in elements:
                kinds.add(_literal_kind(element))
        kinds.discard(None)
        if len(kinds) > 1:
            self.add('PY2-ORDER-MIXED-TYPES', node, 'orders %s' % ', '.join(sorted(kinds)))

    def visit_comparison(self, node):
        ops = [c for c in node.children[1::2]]
        if any(isinstance(op, pytree.Leaf) and op.value in ('<', '>', '<=', '>=') for op in ops) and any(
                _is_none(c) for c in node.children[0::2]):
            self.add('PY2-ORDER-MIXED-TYPES', node, 'None compared with <, >, <= or >=')

    # --------------------------------------------- results used as a list
    def list_result(self, node, end, mode, rule, detail):
        """A call whose result is a list on 2 only: a finding unless the result is only iterated."""
        children = node.children
        if end < len(children):
            following = children[end]
            ok = following.type == syms.trailer and following.children[0].type == token.LSQB and mode == 'range' \
                and not _is_store(node)
            if ok:
                return
        elif self.context_ok(node, mode, children[:end - 2]):
            return

        def fix(e):
            _wrap_prefix(node, end, 'list')
        self.add(rule, node, detail, fix=fix)

    def context_ok(self, expr, mode, receiver, depth=0):
        node = _unparen(expr)
        parent = node.parent
        if parent is None:
            return False
        consumers = {'view': VIEW_CONSUMERS, 'range': RANGE_CONSUMERS}.get(mode, CONSUMERS)
        if parent.type == syms.for_stmt and node is parent.children[3]:
            if mode == 'view' and receiver:
                return not self._mutates(parent, receiver)
            return True
        if parent.type in (syms.comp_for, syms.comp_for) and node is parent.children[-1] or (
                parent.type in (syms.comp_for, syms.comp_for) and len(parent.children) > 3
                and node is parent.children[3]):
            return True
        if parent.type == syms.comparison and len(parent.children) == 3 and node is parent.children[2]:
            op = parent.children[1]
            if (isinstance(op, pytree.Leaf) and op.value == 'in') or (op.type == syms.comp_op and 'in' in str(op)):
                return True
        if parent.type == syms.argument and parent.children[0].type in (token.STAR, token.DOUBLESTAR):
            return True
        call = None
        if parent.type == syms.trailer and parent.children[0].type == token.LPAR:
            call = parent
        elif parent.type == syms.arglist and parent.parent.type == syms.trailer:
            call = parent.parent
        if call is not None:
            callee = call.prev_sibling
            if callee is not None and callee.type == token.NAME and callee.value in consumers \
                    and self.ctx.scopes.is_builtin(callee):
                return True
            if callee is not None and _attr_name(callee) == 'join':
                return True
            return False
        if parent.type == syms.expr_stmt and len(parent.children) == 3 and parent.children[1].type == token.EQUAL \
                and parent.children[0].type == token.NAME and node is parent.children[2] and depth == 0:
            return self._variable_ok(parent.children[0], mode, receiver)
        if parent.type == syms.yield_arg and parent.children[0].value == 'from':
            return True
        return False

    def _variable_ok(self, name_leaf, mode, receiver):
        scopes = self.ctx.scopes
        scope = scopes.scope_of(name_leaf)
        uses = []
        stores = 0
        body = scope.node
        for leaf in body.leaves():
            if leaf.type != token.NAME or leaf.value != name_leaf.value or leaf is name_leaf:
                continue
            if scopes.scope_of(leaf) is not scope:
                continue
            if not is_reference(leaf):
                continue
            if _is_store(leaf):
                stores += 1
                continue
            uses.append(leaf)
        if stores:
            return False
        if mode == 'iter' and len(uses) > 1:
            return False
        for use in uses:
            power = use.parent
            if power is not None and power.type == syms.power and power.children[0] is use:
                following = power.children[1]
                if mode == 'range' and following.type == syms.trailer and following.children[0].type == token.LSQB:
                    continue
                return False
            if not self.context_ok(use, mode, receiver, depth=1):
                return False
        return True

    def _mutates(self, for_stmt, receiver):
        """Whether the loop's body changes the dict it iterates: `del d[k]`,
        `d[k] = v` (and `d[k] += v`), `d.pop(...)`, `d.update(...)`, ...
        Python 2's keys()/items() were a copy; Python 3's views (and an
        iteritems() iterator on both) fail or change under such a loop."""
        recv = _compact(''.join(str(c) for c in receiver))
        if not recv:
            return False
        for stmt in for_stmt.children[4:]:
            for node in stmt.pre_order():
                if node.type != syms.power:
                    continue
                children = node.children
                for index in range(1, len(children)):
                    trailer = children[index]
                    if _compact(''.join(str(c) for c in children[:index])) != recv:
                        continue
                    if index == len(children) - 1 and trailer.type == syms.trailer \
                            and trailer.children[0].type == token.LSQB and _is_store(node):
                        return True
                    if _attr_name(trailer) in MUTATING and index + 1 < len(children) \
                            and _is_call(children[index + 1]):
                        return True
        return False

    def _loop_mutates(self, node, receiver):
        """Whether `node` is what a for loop iterates, and the loop changes the dict."""
        node = _unparen(node)
        parent = node.parent
        return parent is not None and parent.type == syms.for_stmt and node is parent.children[3] \
            and self._mutates(parent, receiver)


def _exception_value(exc, value):
    """The exception instance `raise E, V` raises, spelled for 3.x: E(V) for
    a literal, E(*V) for a tuple, None for None, and for anything else the
    test Python 2 makes at run time; None when E or V would run twice."""
    exc_text, value_text = _wrapped(exc), source_text(value).strip()
    if value.type == token.NAME and value.value == 'None':
        return 'None'
    if value.type in (token.STRING, token.NUMBER) or value.type == syms.atom and value.children[0].type == token.STRING:
        return '%s(%s)' % (exc_text, value_text)
    if value.type == syms.atom and value.children[0].type == token.LPAR:
        inner = value.children[1]
        return '%s(%s)' % (exc_text, source_text(inner).strip() if inner.type == syms.testlist_gexp else
                           '*' + value_text)
    if '(' in exc_text.lstrip('(').rstrip(')') or '(' in value_text:
        return None  # a call: evaluating it twice could differ
    return '(%s if isinstance(%s, %s) else %s(%s))' % (value_text, value_text, exc_text, exc_text, value_text)


def _inside_tuple_param(node):
    parent = node.parent
    while parent is not None and parent.type in (syms.tfplist, syms.vfplist, syms.tfpdef, syms.vfpdef):
        if parent.type in (syms.tfpdef, syms.vfpdef):
            return True
        parent = parent.parent
    return False


def _tuple_paths(node):
    """{name: index path} of a tuple parameter: (a, (b, c)) gives a (0,),
    b (1, 0), c (1, 1); (x) gives x (). None for a shape this does not know."""
    paths = {}

    def walk(item, path):
        if isinstance(item, pytree.Leaf):
            if item.type != token.NAME:
                return False
            paths[item.value] = path
            return True
        if item.type in (syms.tfpdef, syms.vfpdef) and item.children[0].type == token.LPAR:
            inner = item.children[1]
            if inner.type in (syms.tfplist, syms.vfplist):
                elements = [c for c in inner.children if c.type != token.COMMA]
                return all(walk(c, path + (i,)) for i, c in enumerate(elements))
            return walk(inner, path)
        return False
    return paths if walk(node, ()) else None


def _compact(text):
    return re.sub(r'\s+', '', text)


def _wrap_prefix(power, end, func):
    """power.children[:end] becomes func(...) followed by the rest."""
    if end == len(power.children):
        replace_with_text(power, '%s(%s)' % (func, source_text(power)))
        return
    head = _power_split(power, end)
    prefix = head.prefix
    head.replace(raw('%s(%s)' % (func, source_text(head)), prefix=prefix))


def _wrapped_primary(node):
    text = source_text(node).strip()
    if isinstance(node, pytree.Leaf) or node.type in (syms.power, syms.atom):
        return text
    return '(%s)' % text


def _is_store(node):
    parent = node.parent
    while parent is not None and parent.type in (syms.power, syms.trailer, syms.atom, syms.testlist_gexp,
                                                 syms.exprlist, syms.testlist_star_expr):
        node, parent = parent, parent.parent
    if parent is None:
        return False
    if parent.type == syms.expr_stmt and node is not parent.children[-1]:
        return True
    if parent.type == syms.del_stmt:
        return True
    if parent.type in (syms.for_stmt, syms.comp_for, syms.comp_for) and node is parent.children[1]:
        return True
    return False


def _is_none(node):
    return node.type == token.NAME and node.value == 'None'


def _is_bytes(node):
    if node.type == token.STRING:
        return node.value.lstrip('rR')[:1] in 'bB'
    text = str(node)
    return '.encode(' in text or 'bytes(' in text or 'b"' in text or "b'" in text


def _literal_kind(node):
    if node.type == token.NAME and node.value == 'None':
        return 'None'
    if node.type == token.NUMBER:
        return 'numbers'
    if node.type == token.STRING:
        return 'strings'
    return None


def _is_float(node):
    if node.type == token.NUMBER:
        value = node.value.lower()
        return not value.startswith('0x') and ('.' in value or 'e' in value or value.endswith('j'))
    if node.type == syms.power and node.children[0].type == token.NAME and node.children[0].value == 'float':
        return True
    if node.type == syms.factor:
        return _is_float(node.children[-1])
    return False


def _ur_to_u(value):
    index = 0
    while value[index] not in '\'"':
        index += 1
    prefix = value[:index].replace('r', '').replace('R', '')
    quote = value[index:index + 3] if value[index:index + 3] in ('"""', "'''") else value[index]
    body = value[len(value[:index]) + len(quote):len(value) - len(quote)]
    out, i = [], 0
    while i < len(body):
        char = body[i]
        if char == '\\' and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in 'uU':
                out.append('\\' + nxt)
            else:
                out.append('\\\\')
                out.append('\\' + nxt if nxt == quote[0] else nxt)
            i += 2
            continue
        if char == '\\':
            out.append('\\\\')
        else:
            out.append(char)
        i += 1
    return prefix + quote + ''.join(out) + quote


def _last_leaf(node):
    while not isinstance(node, pytree.Leaf):
        if not node.children:
            return None
        node = node.children[-1]
    return node


def _is_plain_store(leaf):
    """`name = ...` (the name alone on the left): binds it again."""
    parent = leaf.parent
    return (parent is not None and parent.type == syms.expr_stmt and parent.children[0] is leaf
            and len(parent.children) > 1 and parent.children[1].type == token.EQUAL)
