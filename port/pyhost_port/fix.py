"""Checking and fixing one file: parse, scan, apply the automatic fixes of
the style, mark the decisions, put back what could not be parsed."""
import difflib
import re

from fissix.pgen2 import token
from fissix.pygram import python_symbols as syms

from . import edit, scan as scanner
from .source import Source, parse_source, unblank

MARK = '# pyhost-port: decision %s: %s'
# Futures that change nothing on Python 3 (annotations does: it stays; division
# stays too, or every / would read as a decision to check again).
PY3_NOOP_FUTURES = {'print_function', 'absolute_import', 'unicode_literals', 'with_statement',
                    'generators', 'nested_scopes', 'generator_stop'}
# What --style dual adds, and what it becomes on Python 3 alone.
PY3_UNSHIM = [
    (re.compile(r'^try:\n    (\w+)\nexcept NameError:  # Python 3\n    (?:\1 = \w+|from sys import intern|from importlib import reload|'
                r'def cmp\(a, b\):\n        return \(a > b\) - \(a < b\))\n', re.M), ''),
    (re.compile(r'^([ \t]*)try:\n\1    import (\S+)\n\1except ImportError:  # Python 3\n\1    (import \S+ as \2)\n',
                re.M), r'\1\3\n'),
    (re.compile(r'^([ \t]*)try:\n\1    (from \S+ import .+)\n\1except ImportError:  # Python 3\n\1    (from .+)\n',
                re.M), r'\1\3\n'),
    (re.compile(r'^try:\n    import collections\.abc as collections_abc\nexcept ImportError:  # Python 2\n'
                r'    import collections as collections_abc\n', re.M), 'import collections.abc as collections_abc\n'),
    (re.compile(r"^if sys\.version_info\[0\] >= 3:  # what `raise E, V, T` does on Python 2\n(?:    .*\n)+else:\n"
                r"    exec\('def _raise_with_traceback.*\n", re.M), ''),
    (re.compile(r"\(([\w.]+)\.read_file if hasattr\(\1, 'read_file'\) else \1\.readfp\)"), r'\1.read_file'),
    (re.compile(r"getattr\(([\w.]+), 'SafeConfigParser', \1\.ConfigParser\)"), r'\1.ConfigParser'),
    (re.compile(r'\bsix\.(iteritems|iterkeys|itervalues)\(([\w.]+)\)'), r'\2.\1()'),
]


class Result(object):
    def __init__(self):
        self.lines = 0
        self.findings = []
        self.remaining = []
        self.output = None  # bytes, when fixing changed the file
        self.error = None


def _findings(ctx, parsed):
    found = [scanner.Finding('PARSE-ERROR', None, message, position=(line, column + 1))
             for line, column, message in parsed.errors]
    found.extend(scanner.scan(ctx))
    found.sort(key=lambda f: (f.line, f.column))
    return found


def check_text(data, path, table, style='dual'):
    source = Source(data)
    parsed = parse_source(source, prefer_print_function=style == 'py3')
    ctx = scanner.Context(parsed, source, table, path, style)
    return source, parsed, ctx, _findings(ctx, parsed)


def check(data, path, table, style='dual'):
    result = Result()
    source, _, _, findings = check_text(data, path, table, style)
    result.lines = len(source.lines)
    result.findings = findings
    return result


def fix(data, path, table, style):
    result = Result()
    source, parsed, ctx, findings = check_text(data, path, table, style)
    result.lines = len(source.lines)
    result.findings = findings
    if style == 'py3':
        text = source.text
        for pattern, replacement in PY3_UNSHIM:
            text = pattern.sub(replacement, text)
        if text != source.text:
            source, parsed, ctx, _ = check_text(source.encode(text + ('\n' if source.added_newline else '')), path,
                                                table, style)
            source.added_newline = Source(data).added_newline
            findings = _findings(ctx, parsed)
    tree = parsed.tree
    _mark_decisions(ctx, findings, table)
    edits = edit.ModuleEdits(tree)
    for finding in reversed(findings):
        if finding.auto and finding.fix is not None:
            finding.fix(edits)
    edits.apply(ctx.module_imports)
    if style == 'py3':
        _drop_futures(tree)
    text = unblank(str(tree), parsed.blanked)
    output = source.encode(text)
    if output != data:
        result.output = output
    after = check(output, path, table, style)
    result.remaining = after.findings
    return result


def _mark_decisions(ctx, findings, table):
    """A comment line above each statement that holds a decision: stable, so a second run adds nothing."""
    for finding in findings:
        rule = table.rules[finding.rule]
        if rule['kind'] != 'decision' or finding.node is None:
            continue
        stmt = edit.statement_of(finding.node)
        leaf = edit.first_leaf(stmt)
        mark = MARK % (finding.rule, rule['message'])
        if leaf is None or mark in leaf.prefix:
            continue
        if _marked_above(ctx.lines, leaf.lineno, mark):
            continue
        indent = edit.indent_of(ctx.lines, leaf.lineno)
        leaf.prefix = leaf.prefix + mark + '\n' + indent


def _marked_above(lines, lineno, mark):
    index = lineno - 2
    while 0 <= index < len(lines) and lines[index].lstrip().startswith('#'):
        if lines[index].strip() == mark:
            return True
        index -= 1
    return False


def _drop_futures(tree):
    for stmt in list(tree.children):
        if not edit.is_future_import(stmt):
            continue
        import_from = stmt.children[0]
        names = [leaf.value for leaf in import_from.children[3].leaves() if leaf.type == token.NAME] \
            if len(import_from.children) == 4 else [leaf.value for leaf in import_from.children[4].leaves()
                                                    if leaf.type == token.NAME]
        names = [n for n in names if n != 'as']
        keep = [n for n in names if n not in PY3_NOOP_FUTURES]
        if keep == names:
            continue
        if keep:
            edit.replace_with_text(import_from, 'from __future__ import %s' % ', '.join(keep))
            continue
        nxt = stmt.next_sibling
        prefix = stmt.prefix
        stmt.remove()
        if nxt is not None:
            nxt.prefix = prefix + nxt.prefix.lstrip('\n') if prefix.strip() else nxt.prefix.lstrip('\n') \
                if stmt.type == syms.simple_stmt and not prefix else nxt.prefix


def unified_diff(before, after, label, encoding):
    a = before.decode(encoding, 'surrogateescape').splitlines(True)
    b = after.decode(encoding, 'surrogateescape').splitlines(True)
    lines = []
    for line in difflib.unified_diff(a, b, 'a/' + label, 'b/' + label):
        lines.append(line if line.endswith('\n') else line + '\n\\ No newline at end of file\n')
    return ''.join(lines).encode(encoding, 'surrogateescape')
