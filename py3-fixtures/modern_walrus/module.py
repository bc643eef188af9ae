"""Parses a framed byte stream with the walrus operator (PEP 572, 3.8+):
`while (chunk := stream.read(n))` and `if (m := PATTERN.match(...))`, the
idioms it was made for. On 2.7 (and 3.7) `:=` is a SyntaxError. The test
checks the 3.x semantics the parser relies on: reading bytes, decoding to
text, and dict views that follow their dict."""
import io
import re

import pyhost

HEADER = re.compile(r'(?P<key>[a-z]+)=(?P<value>.*)')


class ModernWalrus(pyhost.Module):
    OPTIONS = {'chunk_size': 5}

    def frames(self, data):
        stream, buffer = io.BytesIO(data), b''
        while chunk := stream.read(self.get_option('chunk_size')):
            buffer += chunk
            while (end := buffer.find(b'\n')) >= 0:
                yield buffer[:end].decode('utf-8')
                buffer = buffer[end + 1:]

    def headers(self, data):
        return {m['key']: m['value'] for line in self.frames(data) if (m := HEADER.match(line))}

    def self_test(self):
        data = 'name=pyhost\nnot a header\ncity=Z\u00fcrich\n'.encode('utf-8')
        assert isinstance(data, bytes) and data[0] == ord('n')  # indexing bytes gives an int
        headers = self.headers(data)
        assert headers == {'name': 'pyhost', 'city': 'Z\u00fcrich'}, headers
        keys = headers.keys()
        headers['lang'] = 'py3'
        assert 'lang' in keys and len(keys) == 3  # a view, not 2.x's list copy
        assert [n for n in (1, 2, 3) if (half := n / 2) > 1] == [3] and half == 1.5
        try:
            b'a' + 'b'
        except TypeError:
            pass
        else:
            raise AssertionError('bytes and str were concatenated')
