"""Parsing of PUTVAL lines (collectd's exec and unixsock protocol)."""


def parse_putval(line):
    command, identifier, rest = line.split(' ', 2)
    if command != 'PUTVAL':
        raise ValueError('not a PUTVAL line: %r' % line)
    fields = rest.split(' ')
    options = dict(field.split('=', 1) for field in fields[:-1])
    values = map(float, fields[-1].split(':'))  # a list on 2.x
    if len(values) < 2:
        raise ValueError('no values in %r' % line)
    return tuple(identifier.split('/')), options, values
