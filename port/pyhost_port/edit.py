"""Small tree edits shared by the fixers: raw text nodes, statement
insertion, module-level imports and compatibility blocks."""
from fissix import pytree
from fissix.pgen2 import token
from fissix.pygram import python_symbols as syms

# A leaf whose value is any text: str(tree) is all that is used after a fix,
# and the output is parsed again from text when it is checked.
RAW = token.NAME


def raw(text, prefix=''):
    return pytree.Leaf(RAW, text, prefix=prefix)


def first_leaf(node):
    while not isinstance(node, pytree.Leaf):
        if not node.children:
            return None
        node = node.children[0]
    return node


def position(node):
    leaf = first_leaf(node)
    if leaf is None:
        return 1, 1
    return leaf.lineno, leaf.column + 1


def replace_with_text(node, text):
    """Replaces `node` by `text`, keeping the node's prefix (its comments and spaces)."""
    new = raw(text, prefix=node.prefix)
    node.replace(new)
    return new


def source_text(node):
    """The node's text without its prefix."""
    return str(node)[len(node.prefix):]


def statement_of(node):
    """The statement holding `node` that starts a line: a child of a suite or of the module."""
    while node.parent is not None and node.parent.type not in (syms.suite, syms.file_input):
        node = node.parent
    return node


def indent_of(lines, lineno):
    if 1 <= lineno <= len(lines):
        line = lines[lineno - 1]
        return line[:len(line) - len(line.lstrip(' \t'))]
    return ''


def last_leaf(node):
    while not isinstance(node, pytree.Leaf):
        if not node.children:
            return None
        node = node.children[-1]
    return node


def insert_after(stmt, text):
    """Inserts the line(s) `text` (indented already, ending with a newline) after the statement `stmt`.

    A compound statement ends with the DEDENT that closes its block, and the
    tree keeps the indentation of the line that follows in that DEDENT's
    prefix: it is moved after the inserted lines, where it belongs (left in
    place, it would indent the inserted lines and take the next statement's
    indentation away)."""
    parent = stmt.parent
    last = last_leaf(stmt)
    tail = ''
    if last is not None and last.type == token.DEDENT:
        cut = last.prefix.rfind('\n') + 1
        if last.prefix[cut:].strip(' \t') == '':
            tail = last.prefix[cut:]
            last.prefix = last.prefix[:cut]
    parent.insert_child(parent.children.index(stmt) + 1, raw(text + tail))


def is_docstring(stmt):
    return (stmt.type == syms.simple_stmt and stmt.children and stmt.children[0].type == token.STRING)


def is_future_import(stmt):
    return (stmt.type == syms.simple_stmt and stmt.children and stmt.children[0].type == syms.import_from
            and str(stmt.children[0].children[1]).strip() == '__future__')


def is_import_stmt(stmt):
    if stmt.type == syms.simple_stmt:
        return all(c.type in (syms.import_name, syms.import_from, token.SEMI, token.NEWLINE) for c in stmt.children)
    if stmt.type == syms.try_stmt:  # try: import x / except ImportError: ...
        return 'ImportError' in str(stmt) and 'import' in str(stmt.children[2])
    return False


class ModuleEdits(object):
    """What fixers need at the top of the module: __future__ names, imports,
    compatibility blocks. Applied once, after every fixer ran."""

    def __init__(self, tree):
        self.tree = tree
        self.futures = []
        self.imports = []  # whole lines, e.g. 'import sys'
        self.blocks = []  # (key, text)

    def future(self, name):
        if name not in self.futures:
            self.futures.append(name)

    def import_line(self, line):
        if line not in self.imports:
            self.imports.append(line)

    def block(self, key, text):
        if key not in [k for k, _ in self.blocks]:
            self.blocks.append((key, text))

    def apply(self, existing_imports):
        children = self.tree.children
        index = 0
        while index < len(children) and (is_docstring(children[index]) and index == 0):
            index += 1
        while index < len(children) and is_future_import(children[index]):
            index += 1
        after_futures = index
        if self.futures:
            names = ', '.join(self.futures)
            prev = children[after_futures - 1] if after_futures > 0 else None
            if prev is not None and is_future_import(prev):
                import_from = prev.children[0]
                last = import_from.children[-1]
                if last.type == token.RPAR:
                    last.prefix = ''
                    import_from.insert_child(len(import_from.children) - 1, raw(', ' + names))
                else:
                    import_from.append_child(raw(', ' + names))
            else:
                self._insert_at(after_futures, 'from __future__ import %s\n' % names)
                after_futures += 1
        lines = [line for line in self.imports if line not in existing_imports]
        if lines:
            self._insert_at(after_futures, ''.join(line + '\n' for line in lines))
        if self.blocks:
            index = after_futures + (1 if lines else 0)
            while index < len(children) and is_import_stmt(children[index]):
                index += 1
            self._insert_at(index, ''.join(text for _, text in self.blocks))

    def _insert_at(self, index, text):
        children = self.tree.children
        if index < len(children):
            nxt = first_leaf(children[index])
            if index == 0 and nxt is not None:
                # Comments and a shebang before the first statement stay first.
                new = raw(text, prefix=nxt.prefix)
                nxt.prefix = ''
            elif nxt is not None and nxt.type == token.ENDMARKER:
                new = raw(text, prefix=nxt.prefix if nxt.prefix.endswith('\n') or not nxt.prefix else nxt.prefix + '\n')
                nxt.prefix = ''
            else:
                new = raw(text)
            self.tree.insert_child(index, new)
        else:
            self.tree.append_child(raw(text))
