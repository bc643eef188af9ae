"""Ported the other common way: `from __future__ import division,
print_function, unicode_literals` (and absolute_import) at the top, and
io.open with an explicit encoding for files. With those, 2.7 behaves as 3.x
does for everything the test checks: 7 / 2 is 3.5, literals are text,
print() is a function that takes sep= and file=, io.open gives text in
text mode and bytes in binary mode. It passes on every interpreter."""
from __future__ import absolute_import, division, print_function, unicode_literals

import io
import os
import shutil
import tempfile

import pyhost

TEXT = type('')  # unicode on 2.7 here (unicode_literals), str on 3.x


class CapacityReport(pyhost.Module):
    def percent(self, used, total):
        return 100 * used / total

    def write_report(self, path, usage):
        with io.open(path, 'w', encoding='utf-8') as report:
            for mount in sorted(usage):
                print(mount, '{0:.1f}%'.format(self.percent(*usage[mount])), sep='\t', file=report)

    def self_test(self):
        assert 7 / 2 == 3.5 and 7 // 2 == 3 and -7 // 2 == -4
        assert self.percent(1, 8) == 12.5, self.percent(1, 8)
        assert isinstance('caf\xe9', TEXT) and TEXT is type(u'')
        folder = tempfile.mkdtemp(prefix='pyhost-report-')
        try:
            path = os.path.join(folder, 'report.tsv')
            self.write_report(path, {'/': (1, 8), '/srv/caf\xe9': (3, 4)})
            with io.open(path, encoding='utf-8') as report:
                text = report.read()
            with io.open(path, 'rb') as report:
                data = report.read()
        finally:
            shutil.rmtree(folder)
        assert isinstance(text, TEXT) and text == '/\t12.5%\n/srv/caf\xe9\t75.0%\n', repr(text)
        assert isinstance(data, bytes) and data == text.encode('utf-8') and data != text
        assert len(data) == len(text) + 1  # the e-acute takes two bytes
