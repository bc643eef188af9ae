"""Writes its status with print statements, as most 2.x daemons and plugins
did: `print >>out, x` to a file, a trailing comma to stay on the line. On
3.x the file does not compile: unloadable, with the line of the first
`print 'text'` (line 24). The `print >>out, x` lines above it are no
SyntaxError on 3.x: they parse as a tuple holding `print >> out`, and would
only fail when run. The test checks the statement's 2.x-only behaviour:
the soft space a trailing comma leaves, and print >>file."""
import sys
from StringIO import StringIO

import pyhost


class PrintStatement(pyhost.Module):
    OPTIONS = {'interval': 10}

    def dump(self, out, counters):
        for name in sorted(counters):
            print >>out, name,
            print >>out, counters[name]
        print >>out, '%d counters' % len(counters)

    def serve(self):
        print 'print_statement: dumping every %s s' % self.get_option('interval')
        while not self.stopping.wait(self.get_option('interval')):
            self.dump(sys.stdout, {'reads': 0})

    def self_test(self):
        out = StringIO()
        self.dump(out, {'reads': 3, 'writes': 7})
        assert out.getvalue() == 'reads 3\nwrites 7\n2 counters\n', repr(out.getvalue())
        # A print statement with parentheses prints a tuple, not two values.
        out = StringIO()
        print >>out, ('load', 4)
        assert out.getvalue() == "('load', 4)\n", repr(out.getvalue())
