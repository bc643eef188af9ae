"""A metrics module written with type hints: annotated functions (PEP 3107),
annotated variables (PEP 526, 3.6+) and the typing module (3.5+). On 2.7
the first annotation is a SyntaxError. The test checks that the hints are
really there at run time (get_type_hints) and that the annotated code gives
the results 3 gives: true division, bytes and text kept apart."""
import typing
from typing import Dict, List, Optional

import pyhost

Sample = typing.Tuple[str, float]


class ModernTypehints(pyhost.Module):
    OPTIONS = {'precision': 2}
    samples: List[Sample]

    def __init__(self) -> None:
        super().__init__()
        self.samples = []

    def record(self, name: str, value: float) -> None:
        self.samples.append((name, value))

    def mean(self, name: str) -> Optional[float]:
        values: List[float] = [v for n, v in self.samples if n == name]
        if not values:
            return None
        return round(sum(values) / len(values), self.get_option('precision'))

    def encoded(self) -> Dict[str, bytes]:
        return {name: repr(value).encode('ascii') for name, value in self.samples}

    def self_test(self) -> None:
        hints = typing.get_type_hints(self.mean)
        assert hints == {'name': str, 'return': Optional[float]}, hints
        assert typing.get_type_hints(type(self))['samples'] == List[Sample]
        for value in (1, 2, 2):
            self.record('load', value)
        assert self.mean('load') == 1.67, self.mean('load')  # 5 / 3, not 5 // 3
        assert self.mean('none') is None
        encoded = self.encoded()
        assert encoded['load'] == b'2' and encoded['load'] != '2', encoded
        assert encoded['load'].decode('ascii') == '2'
        assert isinstance(list(encoded.keys())[0], str)
