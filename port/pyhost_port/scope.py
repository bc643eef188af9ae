"""Which name a NAME leaf refers to: a scope per module, class, function and
lambda, with the names each binds. A builtin is rewritten only where the
name is not bound in any scope that the reference sees, so a parameter,
local, global or import named `unicode`, `long`, `file` or `input` is left
alone."""
from fissix import pytree
from fissix.pgen2 import token
from fissix.pygram import python_symbols as syms

SCOPE_NODES = (syms.funcdef, syms.classdef, syms.lambdef)


class Scope(object):
    def __init__(self, node, parent, kind):
        self.node = node
        self.parent = parent
        self.kind = kind  # 'module' | 'class' | 'function'
        self.bindings = {}  # name -> [what bound it: ('import', module) | ('assign', None) | ...]
        self.declared_global = set()
        self.star_import = False

    def bind(self, name, how=('assign', None)):
        if name in self.declared_global and self.kind != 'module':
            self.module().bind(name, how)
            return
        self.bindings.setdefault(name, []).append(how)

    def module(self):
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope


class Scopes(object):
    """Scopes of one tree; `lookup(leaf)` says what a name refers to."""

    def __init__(self, tree):
        self.of_node = {}
        self.module = Scope(tree, None, 'module')
        self._walk(tree, self.module)

    # ---------------------------------------------------------------- binding
    def _walk(self, node, scope):
        for child in node.children:
            self._visit(child, scope)

    def _visit(self, node, scope):
        if isinstance(node, pytree.Leaf):
            return
        kind = node.type
        if kind == syms.funcdef:
            scope.bind(node.children[1].value, ('def', None))
            inner = Scope(node, scope, 'function')
            self.of_node[id(node)] = inner
            params = node.children[2]
            self._bind_params(params, inner, scope)
            for child in node.children[3:]:
                self._visit(child, inner)
            return
        if kind == syms.lambdef:
            inner = Scope(node, scope, 'function')
            self.of_node[id(node)] = inner
            if node.children[1].type != token.COLON:
                self._bind_params(node.children[1], inner, scope)
            self._visit(node.children[-1], inner)
            return
        if kind == syms.classdef:
            scope.bind(node.children[1].value, ('class', None))
            inner = Scope(node, scope, 'class')
            self.of_node[id(node)] = inner
            for child in node.children[2:]:
                if child.type == syms.suite or child.type == syms.simple_stmt or not isinstance(child, pytree.Leaf):
                    self._visit(child, inner if child.type in (syms.suite, syms.simple_stmt) else scope)
            return
        if kind == syms.global_stmt:
            names = [c.value for c in node.children[1:] if c.type == token.NAME]
            if node.children[0].value == 'global':
                scope.declared_global.update(names)
            return
        if kind == syms.import_name:
            self._bind_import_name(node.children[1], scope)
            return
        if kind == syms.import_from:
            self._bind_import_from(node, scope)
            return
        if kind == syms.expr_stmt:
            children = node.children
            if len(children) >= 3 and children[1].type == token.EQUAL:
                for index in range(0, len(children) - 1, 2):
                    if children[index + 1].type == token.EQUAL:
                        self._bind_target(children[index], scope)
            elif len(children) == 3 and children[1].type == syms.annassign:
                self._bind_target(children[0], scope)
            elif len(children) == 3 and isinstance(children[1], pytree.Leaf) and children[1].value.endswith('='):
                self._bind_target(children[0], scope)  # augmented assignment
        elif kind == syms.for_stmt or kind in (syms.comp_for, syms.comp_for):
            index = 2 if kind != syms.for_stmt and node.children[0].type == token.ASYNC else 1
            self._bind_target(node.children[index], scope)
        elif kind == syms.with_stmt or kind == syms.with_item:
            children = node.children
            for index, child in enumerate(children):
                if isinstance(child, pytree.Leaf) and child.value == 'as':
                    self._bind_target(children[index + 1], scope)
        elif kind == syms.except_clause:
            if len(node.children) >= 4:
                self._bind_target(node.children[3], scope)
        elif kind == syms.namedexpr_test:
            self._bind_target(node.children[0], scope)
        self._walk(node, scope)

    def _bind_params(self, params, inner, outer):
        if isinstance(params, pytree.Leaf):  # lambda x: the one parameter
            if params.type == token.NAME:
                inner.bind(params.value, ('param', None))
            return
        for leaf in params.leaves():
            parent = leaf.parent
            if leaf.type != token.NAME:
                continue
            # Default values and annotations belong to the enclosing scope.
            if parent.type in (syms.typedargslist, syms.varargslist, syms.parameters, syms.tfplist,
                               syms.vfplist, syms.tfpdef, syms.vfpdef) or (
                    parent.type == syms.tname and leaf is parent.children[0]):
                prev = leaf.prev_sibling
                if prev is not None and prev.type == token.EQUAL:
                    continue
                inner.bind(leaf.value, ('param', None))
        for child in params.children if not isinstance(params, pytree.Leaf) else []:
            if not isinstance(child, pytree.Leaf):
                for sub in child.children if child.type in (syms.typedargslist, syms.varargslist) else [child]:
                    if not isinstance(sub, pytree.Leaf) and sub.type not in (syms.tname, syms.tfpdef, syms.vfpdef):
                        self._visit(sub, outer)

    def _bind_target(self, target, scope):
        if isinstance(target, pytree.Leaf):
            if target.type == token.NAME:
                scope.bind(target.value)
            return
        if target.type in (syms.atom, syms.testlist_gexp, syms.exprlist, syms.testlist, syms.testlist_star_expr,
                           syms.listmaker, syms.star_expr):
            for child in target.children:
                self._bind_target(child, scope)

    def _bind_import_name(self, node, scope):
        if isinstance(node, pytree.Leaf):
            if node.type == token.NAME:
                scope.bind(node.value, ('import', node.value))
            return
        if node.type == syms.dotted_as_names:
            for child in node.children:
                if child.type != token.COMMA:
                    self._bind_import_name(child, scope)
        elif node.type == syms.dotted_as_name:
            module = str(node.children[0]).strip()
            scope.bind(node.children[2].value, ('import', module.replace(' ', '')))
        elif node.type == syms.dotted_name:
            scope.bind(node.children[0].value, ('import', node.children[0].value))

    def _bind_import_from(self, node, scope):
        module, index = '', 1
        while not (isinstance(node.children[index], pytree.Leaf) and node.children[index].value == 'import'):
            module += str(node.children[index]).strip()
            index += 1
        names = node.children[index + 1:]
        for child in names:
            if isinstance(child, pytree.Leaf):
                if child.type == token.STAR:
                    scope.star_import = True
                elif child.type == token.NAME:
                    scope.bind(child.value, ('from', module + '.' + child.value))
                continue
            items = child.children if child.type == syms.import_as_names else [child]
            for item in items:
                if isinstance(item, pytree.Leaf):
                    if item.type == token.NAME:
                        scope.bind(item.value, ('from', module + '.' + item.value))
                elif item.type == syms.import_as_name:
                    scope.bind(item.children[2].value, ('from', module + '.' + item.children[0].value))

    # ----------------------------------------------------------------- lookup
    def scope_of(self, node):
        """The innermost scope whose body holds `node`."""
        child, parent = node, node.parent
        while parent is not None:
            if parent.type in SCOPE_NODES and id(parent) in self.of_node:
                scope = self.of_node[id(parent)]
                if parent.type == syms.classdef:
                    if child.type in (syms.suite, syms.simple_stmt):
                        return scope
                elif parent.type == syms.funcdef:
                    if child is not parent.children[1] and child is not parent.children[2]:
                        return scope
                    if child is parent.children[2] and _inside_param_names(node, child):
                        return scope
                elif parent.type == syms.lambdef:
                    return scope
            child, parent = parent, parent.parent
        return self.module

    def lookup(self, leaf):
        """What the name at `leaf` refers to: a list of bindings, [] for a
        builtin, or None when a star import makes it unknowable."""
        scope = self.scope_of(leaf)
        name = leaf.value
        if name in scope.declared_global:
            scope = self.module
        first = True
        while scope is not None:
            if scope.kind != 'class' or first:
                if name in scope.bindings:
                    return scope.bindings[name]
            first = False
            scope = scope.parent
        return None if self.module.star_import else []

    def binding_scope(self, leaf):
        """The scope whose binding the name at `leaf` reads, or None (a builtin)."""
        scope = self.scope_of(leaf)
        name = leaf.value
        if name in scope.declared_global:
            scope = self.module
        first = True
        while scope is not None:
            if (scope.kind != 'class' or first) and name in scope.bindings:
                return scope
            first = False
            scope = scope.parent
        return None

    def is_builtin(self, leaf):
        return self.lookup(leaf) == []

    def bound_anywhere_visible(self, leaf, name):
        """Whether `name` (e.g. `int`) is bound in a scope that `leaf` sees."""
        fake = pytree.Leaf(token.NAME, name)
        fake.parent = leaf.parent
        scope = self.scope_of(leaf)
        first = True
        while scope is not None:
            if (scope.kind != 'class' or first) and name in scope.bindings:
                return True
            first = False
            scope = scope.parent
        return False


def _inside_param_names(node, params):
    return True


def is_reference(leaf):
    """Whether a NAME leaf reads a variable (not an attribute, a keyword
    argument, a definition's name or part of an import)."""
    parent = leaf.parent
    if parent is None:
        return False
    prev = leaf.prev_sibling
    if prev is not None and prev.type == token.DOT:
        return False
    if parent.type == syms.trailer:
        return False
    if parent.type == syms.argument and leaf is parent.children[0] and len(parent.children) > 1 \
            and parent.children[1].type == token.EQUAL:
        return False
    if parent.type in (syms.funcdef, syms.classdef) and leaf is parent.children[1]:
        return False
    node = parent
    while node is not None:
        if node.type in (syms.import_name, syms.import_from, syms.global_stmt, syms.parameters,
                         syms.typedargslist, syms.varargslist, syms.tfpdef, syms.tfplist):
            if node.type in (syms.typedargslist, syms.varargslist, syms.parameters):
                prev = leaf.prev_sibling
                return prev is not None and prev.type == token.EQUAL
            return False
        if node.type in (syms.simple_stmt, syms.suite, syms.file_input):
            break
        node = node.parent
    return True
