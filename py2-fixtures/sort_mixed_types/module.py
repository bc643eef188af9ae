"""Reports the top sensor readings, sorting rows whose value may be None
(sensor missing) or a string ('n/a') among numbers. 2.x orders any two
objects (None first, numbers, then other types by type name), so sorted()
and max() never raise; 3.x raises TypeError for '<' between unlike types:
the file loads and the test fails. The test checks 2.x's cross-type order
and cmp()."""
import pyhost


class TopReadings(pyhost.Module):
    OPTIONS = {'count': 2}

    def top(self, readings):
        rows = sorted(readings.items(), key=lambda row: row[1], reverse=True)
        return rows[:self.get_option('count')]

    def self_test(self):
        assert sorted([3, 'a', None]) == [None, 3, 'a']
        readings = {'cpu0': 71, 'cpu1': None, 'fan': 'n/a', 'disk': 38.5}
        # The classic bug: a string outranks every number.
        assert self.top(readings) == [('fan', 'n/a'), ('cpu0', 71)], self.top(readings)
        assert max(None, 0) == 0 and min([None, -1]) is None
        assert cmp(None, 0) == -1 and cmp('1', 2) == 1
