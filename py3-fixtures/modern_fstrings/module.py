"""Builds its status lines with f-strings (PEP 498, Python 3.6+), as most
modules written or ported since 2017 do. On 2.7 the file does not even
compile: unloadable, with the line of the first f-string. The test checks
what the f-strings format, which is where 2 and 3 differ: true division,
text vs bytes, and the repr of non-ASCII text."""
import pyhost


class ModernFstrings(pyhost.Module):
    OPTIONS = {'unit': 'ms'}

    def status_line(self, done, total, elapsed):
        unit = self.get_option('unit')
        return f'{self.name}: {done}/{total} ({done / total:.0%}) in {elapsed * 1000:.1f} {unit}'

    def serve(self):
        self.log.info(self.status_line(0, 4, 0.0))

    def self_test(self):
        line = self.status_line(3, 4, 0.0125)
        assert line == f'{self.name}: 3/4 (75%) in 12.5 ms', line
        # True division: 7 / 2 is 3.5 (2.x gave 3), // still floors.
        assert f'{7 / 2}|{7 // 2}' == '3.5|3', f'{7 / 2}|{7 // 2}'
        # Text is str, encoded text is bytes, and the two never compare equal.
        text = 'café'
        data = text.encode('utf-8')
        assert isinstance(text, str) and isinstance(data, bytes)
        assert data != text and data.decode('utf-8') == text
        assert f'{data!r}' == "b'caf\\xc3\\xa9'", f'{data!r}'
        assert f'{text!r}' == "'café'", f'{text!r}'  # no u'' prefix, no \xe9 escape
        # The self-documenting form is 3.8+.
        total = 4
        assert f'{total=}' == 'total=4'
