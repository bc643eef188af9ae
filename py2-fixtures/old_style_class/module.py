"""Keeps samples in an old-style class (`class Sample:`, no object base), as
2.x code did by default. On 2.7 every such instance has the one type
types.InstanceType, and a property is only half a descriptor: its getter
works, but assigning to it stores an instance attribute that hides it. On
3.x every class is new-style: the file loads and the test fails
(types.InstanceType is gone: AttributeError in self_test)."""
import types

import pyhost


class Sample:
    def __init__(self, name, value):
        self.name = name
        self.value = value

    @property
    def label(self):
        return '%s=%s' % (self.name, self.value)


class OldStyleSamples(pyhost.Module):
    def sample(self, name, value):
        return Sample(name, value)

    def self_test(self):
        sample = self.sample('load', 3)
        assert type(sample) is types.InstanceType, type(sample)
        assert type(Sample) is types.ClassType and not issubclass(Sample, object)
        assert sample.__class__ is Sample  # while type() says instance
        assert sample.label == 'load=3', sample.label
        sample.label = 'overridden'  # a new-style class raises: no setter
        assert sample.label == 'overridden' and 'label' in vars(sample)
