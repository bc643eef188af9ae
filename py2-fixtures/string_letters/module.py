"""Cleans metric names with the 2.x string module: the allowed characters
are string.letters + string.digits (letters follows the locale on 2.x),
and str.translate(table, deletechars) maps and deletes in one call. 3.x
keeps only string.ascii_letters, and the allowed set is built at module
level, so on 3.x the import itself raises AttributeError (line 14): the
host marks that unloadable, like any error while module.py is imported,
though it is not a SyntaxError or ImportError. The test checks 2.x's
byte-string translate and maketrans."""
import string

import pyhost

SEPARATORS = ' /'
KEEP = string.letters + string.digits + '_-.' + SEPARATORS
DELETE = ''.join(chr(code) for code in range(256) if chr(code) not in KEEP)
TO_UNDERSCORE = string.maketrans(SEPARATORS, '__')


class MetricSanitizer(pyhost.Module):
    def sanitize(self, name):
        if isinstance(name, unicode):
            name = name.encode('ascii', 'ignore')
        return name.translate(TO_UNDERSCORE, DELETE)

    def self_test(self):
        assert type(TO_UNDERSCORE) is str and len(TO_UNDERSCORE) == 256
        assert string.lowercase.startswith('abc') and 'Z' in string.letters
        assert self.sanitize('cpu 0/idle%') == 'cpu_0_idle', self.sanitize('cpu 0/idle%')
        assert self.sanitize(u'df-/srv/caf\xe9') == 'df-_srv_caf'
        assert self.sanitize('load.(1m)') == 'load.1m'
