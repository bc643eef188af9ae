"""A plugin as ported to run on 2 and 3 alike with six (1.17.0, from the
host's site folder): six.iteritems, six.text_type and string_types,
six.moves for renamed modules and builtins, ensure_text/ensure_binary where
text meets bytes, indexbytes where indexing bytes differs. It passes on
every interpreter: the test asserts behaviour that is the same on 2.7 and
3.x because six papers over the difference."""
import six
from six.moves import range, reduce
from six.moves.urllib.parse import quote

import pyhost


class SixPorted(pyhost.Module):
    OPTIONS = {'host': 'web01'}

    def labels(self, raw):
        return dict((six.ensure_text(key), six.ensure_text(value))
                    for key, value in six.iteritems(raw))

    def line(self, labels, value):
        text = u','.join(u'%s=%s' % item for item in sorted(six.iteritems(labels)))
        return six.ensure_binary(u'%s %s\n' % (text, value))  # the wire wants bytes

    def self_test(self):
        assert isinstance(self.get_option('host'), six.string_types)
        labels = self.labels({b'host': b'web01', u'city': u'k\xf6ln'})
        assert labels == {u'host': u'web01', u'city': u'k\xf6ln'}, labels
        assert all(isinstance(v, six.text_type) for v in six.itervalues(labels))
        data = self.line(labels, 1)
        assert isinstance(data, six.binary_type), type(data)
        assert data == b'city=k\xc3\xb6ln,host=web01 1\n', data
        assert six.indexbytes(data, 0) == ord('c') and six.int2byte(99) == b'c'
        assert quote(u'k\xf6ln'.encode('utf-8')) == 'k%C3%B6ln'
        assert not isinstance(range(3), list) and list(range(3)) == [0, 1, 2]
        assert reduce(lambda a, b: a + b, range(5)) == 10
        assert type(six.ensure_str(u'x')) is str and (3 // 2, 3 / 2.0) == (1, 1.5)
