"""Imports rustext, a PyO3-built extension, as rust_ext_b does. PyO3
refuses every interpreter but the first to import it, so both must end up in
the main interpreter (see host/placement.rs) and both must work. 3.x only:
PyO3 has no Python 2."""
import pyhost
import rustext


class RustExtA(pyhost.Module):
    def digest(self, text):
        return rustext.digest(text.encode('utf-8'))

    def serve(self):
        self.log.info('digest(abc) = %s', self.digest(u'abc'))

    def self_test(self):
        assert self.digest(u'abc') == rustext.digest(b'abc')
        assert len(self.digest(u'abc')) == 16
