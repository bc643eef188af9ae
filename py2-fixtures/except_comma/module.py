"""Parses 'name=value' threshold lines and skips the bad ones with the 2.x
`except ValueError, e` form, and raises with `raise KeyError, 'message'`.
On 3.x both are SyntaxErrors: unloadable, at the first one (line 18). The
test checks a 2.x-only behaviour too: the caught exception is still bound
after its except block (3.x deletes the name when the block ends)."""
import pyhost


class Thresholds(pyhost.Module):
    OPTIONS = {'thresholds': 'load=4\ndisk=90\nbogus\nswap=x'}

    def parse(self, text):
        values, errors = {}, []
        for number, line in enumerate(text.splitlines(), 1):
            try:
                name, value = line.split('=', 1)
                values[name.strip()] = int(value)
            except ValueError, e:
                errors.append('line %d: %s' % (number, e))
        return values, errors

    def check(self, values, name, value):
        if name not in values:
            raise KeyError, 'no threshold for %s' % name
        return value > values[name]

    def self_test(self):
        values, errors = self.parse(self.get_option('thresholds'))
        assert values == {'load': 4, 'disk': 90}, values
        assert [error[:6] for error in errors] == ['line 3', 'line 4'], errors
        assert self.check(values, 'disk', 95)
        try:
            self.check(values, 'cpu', 1)
        except KeyError, e:
            pass
        assert e.args == ('no threshold for cpu',), e.args
