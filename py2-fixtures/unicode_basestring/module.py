"""Names metrics from a host name kept as a byte str and plugin instances
that come from JSON (unicode on 2.x), checking option types with basestring
as 2.x code did before six.string_types. On 3.x the file loads and __init__
fails: NameError, basestring (like unicode) is gone. The test checks 2.x's
str/unicode rules: str is bytes, mixing str and unicode decodes the str as
ASCII, which works until the str holds UTF-8."""
import json

import pyhost


class MetricNames(pyhost.Module):
    OPTIONS = {'host': 'web01'}

    def __init__(self):
        super(MetricNames, self).__init__()
        host = self.get_option('host')
        if not isinstance(host, basestring):
            raise TypeError('option host must be a string, not %r' % (host,))
        if isinstance(host, unicode):
            host = host.encode('utf-8')
        self.host = host

    def metric(self, *parts):
        out = [self.host]
        for part in parts:
            if isinstance(part, unicode):
                part = part.encode('utf-8')
            out.append(part)
        return '.'.join(out)

    def self_test(self):
        assert self.host == 'db01' and type(self.host) is str, repr(self.host)
        instance = json.loads('{"mount": "/srv/caf\\u00e9"}')['mount']
        assert type(instance) is unicode and instance == u'/srv/caf\xe9', repr(instance)
        name = self.metric('df', instance)
        assert name == 'db01.df./srv/caf\xc3\xa9' and str is bytes, repr(name)
        assert len(name) == len(name.decode('utf-8')) + 1
        # str + unicode decodes the str as ASCII: fine while it is ASCII...
        assert type('db01.' + u'df') is unicode and 'df' == u'df'
        # ...and a UnicodeDecodeError once it holds UTF-8.
        try:
            name + u'.free'
        except UnicodeDecodeError:
            pass
        else:
            raise AssertionError('str + unicode decoded non-ASCII bytes')
