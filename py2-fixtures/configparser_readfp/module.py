"""Reads its thresholds from INI text with SafeConfigParser.readfp(),
reached through six.moves.configparser: how many plugins were ported, the
2.x names kept and six hiding the ConfigParser -> configparser rename. It
passes on 2.7, 3.9 and 3.11, where those names only warn (deprecated since
3.2), but Python 3.12 removed SafeConfigParser and readfp(): on 3.13
__init__ fails with AttributeError. A port can pass on the 3.x of its day
and break on a later one. The test checks interpolation, DEFAULT and types."""
import six
from six.moves import configparser

import pyhost

THRESHOLDS = """\
[DEFAULT]
base = /var/lib/collectd
[disk]
warning = 80
critical = 95
path = %(base)s/disk
[load]
warning = 4
enabled = yes
"""


class IniThresholds(pyhost.Module):
    OPTIONS = {'config': THRESHOLDS}

    def __init__(self):
        super(IniThresholds, self).__init__()
        self.parser = configparser.SafeConfigParser()
        self.parser.readfp(six.StringIO(self.get_option('config')), '<option config>')

    def threshold(self, section, level):
        return self.parser.getint(section, level)

    def self_test(self):
        assert self.threshold('disk', 'critical') == 95
        assert self.parser.get('disk', 'path') == '/var/lib/collectd/disk'
        assert self.parser.getboolean('load', 'enabled') is True
        assert sorted(self.parser.sections()) == ['disk', 'load']
        assert self.parser.has_option('load', 'base')  # DEFAULT reaches every section
        assert type(self.parser.get('load', 'warning')) is str  # native str on 2 and 3
