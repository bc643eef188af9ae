"""Keeps a small spool of files under a folder, using pathlib (Python 3.4+
stdlib) the way modern code does instead of os.path. The file is ASCII
(2.7 rejects a non-ASCII literal without a coding line as a SyntaxError) and
uses no Python 3 syntax, so on 2.7 it compiles and then fails to import
pathlib: unloadable with an ImportError (the PyPI backport would load, but
none is installed). The test checks text vs bytes on disk."""
import json
import pathlib
import tempfile

import pyhost


class ModernPathlib(pyhost.Module):
    OPTIONS = {'spool': ''}  # empty: a temporary folder

    def __init__(self):
        super(ModernPathlib, self).__init__()
        self._tmp = None
        spool = self.get_option('spool')
        if not spool:
            self._tmp = tempfile.TemporaryDirectory(prefix='pyhost-spool-')
            spool = self._tmp.name
        self.spool = pathlib.Path(spool)

    def put(self, key, record):
        path = self.spool / (key + '.json')
        path.write_text(json.dumps(record, ensure_ascii=False), encoding='utf-8')
        return path

    def keys(self):
        return sorted(p.stem for p in self.spool.glob('*.json'))

    def shutdown(self):
        super(ModernPathlib, self).shutdown()
        if self._tmp is not None:
            self._tmp.cleanup()

    def self_test(self):
        path = self.put('greeting', {'text': 'gr\u00fc\u00df dich'})
        assert path.parent == self.spool and path.suffix == '.json', path
        assert self.keys() == ['greeting'], self.keys()
        text, data = path.read_text(encoding='utf-8'), path.read_bytes()
        # read_text gives str, read_bytes gives bytes; on 3 they never compare equal.
        assert isinstance(text, str) and isinstance(data, bytes)
        assert text != data and data.decode('utf-8') == text
        assert len(data) == len(text) + 2, (len(data), len(text))  # u-umlaut and sharp s: 2 bytes each
        assert json.loads(text) == {'text': 'gr\u00fc\u00df dich'}
        assert str(path).endswith('greeting.json') and isinstance(str(path), str)
