"""Describes its backends with dataclasses (PEP 557, 3.7+) and ships them
to another module: asdict() to JSON through self.remote('echo', ...) and
back into the dataclass, since only JSON crosses between interpreters. On
2.7 the annotated fields are a SyntaxError (and there is no dataclasses
module). The test checks equality, ordering, frozenness, and that ordering
against a plain tuple raises TypeError on 3."""
import dataclasses
from dataclasses import dataclass, field
from typing import List

import pyhost


@dataclass(frozen=True, order=True)
class Backend:
    host: str
    port: int = 80
    tags: List[str] = field(default_factory=list, compare=False)

    @property
    def url(self):
        return 'http://%s:%d/' % (self.host, self.port)


class ModernDataclasses(pyhost.Module):
    OPTIONS = {'backends': [['b.example', 8080], ['a.example', 80]]}

    def backends(self):
        return sorted(Backend(host, port) for host, port in self.get_option('backends'))

    def self_test(self):
        first, second = self.backends()
        assert first == Backend('a.example') and first < second, (first, second)
        assert first.url == 'http://a.example:80/'
        assert Backend('x', tags=['a']) == Backend('x', tags=['b'])  # tags do not compare
        try:
            first.port = 81
        except dataclasses.FrozenInstanceError:
            pass
        else:
            raise AssertionError('a frozen dataclass was changed')
        try:
            first < ('a.example', 80)
        except TypeError:
            pass
        else:
            raise AssertionError('a dataclass ordered against a tuple')
        sent = dataclasses.asdict(Backend('c.example', 443, ['tls']))
        back = Backend(**self.remote('echo', 'echo', sent))
        assert back == Backend('c.example', 443) and back.tags == ['tls'], back
        assert dataclasses.astuple(back) == ('c.example', 443, ['tls'])
