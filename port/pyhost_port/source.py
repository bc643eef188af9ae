"""Reading a file into a fissix tree and writing it back, losing nothing.

Bytes are decoded with the file's own encoding (BOM or PEP 263 cookie,
else UTF-8) and `surrogateescape`, so bytes that do not decode come back
unchanged. A statement that parses with no grammar is blanked (each of its
lines becomes `pass` with a marker comment) and reported, so the rest of the
file is still checked and fixed; the original lines are put back on output.
"""
import io
import re
import tokenize

from fissix import pygram, pytree
from fissix.pgen2 import driver, parse, tokenize as fissix_tokenize

GRAMMARS = {
    'print': pygram.python_grammar,
    'no-print': pygram.python_grammar_no_print_statement,
    'no-print-exec': pygram.python_grammar_no_print_and_exec_statement,
}
BLANK_MARK = '# @pyhost-port-unparsed-%d@'
BLANK_RE = re.compile(r'^[ \t]*pass  # @pyhost-port-unparsed-(\d+)@\n?$')
MAX_BLANKED = 50


class Source(object):
    """One file's text, its encoding and how to put it back."""

    def __init__(self, data):
        self.data = data
        try:
            self.encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError:  # an unknown codec in the cookie: keep every byte
            self.encoding = 'latin-1'
        try:
            self.text = data.decode(self.encoding, 'surrogateescape')
        except (LookupError, UnicodeDecodeError):
            self.encoding = 'latin-1'
            self.text = data.decode('latin-1')
        self.added_newline = not self.text.endswith('\n') and self.text != ''
        self.lines = self.text.splitlines(True)

    def encode(self, text):
        if self.added_newline and text.endswith('\n'):
            text = text[:-1]
        return text.encode(self.encoding, 'surrogateescape')


def future_features(text):
    """The names imported from __future__ at the top of the file."""
    features = set()
    for match in re.finditer(r'^from\s+__future__\s+import\s+\(?([\w\s,\\]+)\)?', text, re.M):
        features.update(name.split()[0] for name in match.group(1).replace('\\', ' ').split(',') if name.strip())
    return features


class Parsed(object):
    def __init__(self, tree, grammar, errors, blanked):
        self.tree = tree
        self.grammar = grammar  # 'print' when the file has print statements
        self.errors = errors  # [(line, column, message)]
        self.blanked = blanked  # {region id: original text}


def _error_position(error):
    if isinstance(error, parse.ParseError):
        return error.context[1][0], error.context[1][1], 'cannot parse %r here' % error.value
    if isinstance(error, fissix_tokenize.TokenError):
        return error.args[1][0], error.args[1][1], error.args[0]
    if isinstance(error, SyntaxError):
        return error.lineno or 1, (error.offset or 1) - 1, error.msg
    return 1, 0, str(error)


def _try_parse(text, grammar_names):
    """The tree and the grammar name, or the error that got furthest."""
    worst = None
    for name in grammar_names:
        drv = driver.Driver(GRAMMARS[name], convert=pytree.convert)
        try:
            return drv.parse_string(text, True), name, None
        except Exception as error:  # ParseError, TokenError, IndentationError
            position = _error_position(error)
            if worst is None or position[:2] > worst[:2]:
                worst = position
    return None, None, worst


def parse_source(source, prefer_print_function=False):
    """The tree. Python 2's grammar (print statements) is tried first, unless
    the file imports print_function, or the code is to be Python 3 only
    (then print(a, b) is a call, which is what --style py3 writes)."""
    text = source.text + ('\n' if source.added_newline else '')
    features = future_features(text)
    if 'print_function' in features:
        grammars = ['no-print']
    elif prefer_print_function:
        grammars = ['no-print', 'print', 'no-print-exec']
    else:
        grammars = ['print', 'no-print', 'no-print-exec']
    lines = text.splitlines(True)
    errors, blanked, regions = [], {}, []
    for _ in range(MAX_BLANKED * 4):
        tree, grammar, error = _try_parse(''.join(lines), grammars)
        if tree is not None:
            blanked = {i: ''.join(source_lines) for i, (_, _, source_lines) in enumerate(regions)}
            return Parsed(tree, grammar, errors, blanked)
        line, column, message = error
        line = max(1, min(line, len(lines)))
        # Grow the region the error falls in or touches (the statement began
        # earlier or goes on below), else start a new one.
        for region in regions:
            start, end, _ = region
            if start <= line <= end:
                if start > 1:
                    region[0] = start - 1
                else:
                    region[1] = end + 1
                break
            if line == end + 1:
                region[1] = end + 1
                break
        else:
            if len(regions) >= MAX_BLANKED:
                break
            regions.append([line, line, None])
            errors.append((line, column, message))
        lines = _blank(text.splitlines(True), regions)
    raise ValueError('cannot parse the file even with %d statements blanked' % len(regions))


def _blank(original, regions):
    lines = list(original)
    for number, region in enumerate(regions):
        start, end, _ = region
        region[2] = original[start - 1:end]
        first = original[start - 1]
        indent = first[:len(first) - len(first.lstrip(' \t'))]
        for index in range(start - 1, min(end, len(lines))):
            lines[index] = '%spass  %s\n' % (indent, BLANK_MARK % number)
    return lines


def unblank(text, blanked):
    """Puts the original lines back where the blanked region's markers are."""
    if not blanked:
        return text
    out, last = [], None
    for line in text.splitlines(True):
        match = BLANK_RE.match(line)
        if match:
            region = int(match.group(1))
            if region != last:
                out.append(blanked[region])
            last = region
            continue
        last = None
        out.append(line)
    return ''.join(out)
