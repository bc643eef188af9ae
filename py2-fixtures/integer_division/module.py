"""Computes averages, percentages and histogram buckets with `/` on
integers, as 2.x code did: int / int floors there. On 3.x `/` is true
division: the file loads and the test fails (the average comes back as
3.5: AssertionError in self_test; the bucket, a float, could not even
index a list). The test checks 2.x's floor division, negatives included,
and 2.x's round(), which rounds halves away from zero and returns a float."""
import pyhost


class LoadHistogram(pyhost.Module):
    OPTIONS = {'buckets': 4}

    def average(self, samples):
        return sum(samples) / len(samples)

    def percent(self, used, total):
        return used * 100 / total

    def bucket(self, value, maximum):
        return value * self.get_option('buckets') / maximum

    def histogram(self, values, maximum):
        counts = [0] * self.get_option('buckets')
        for value in values:
            counts[min(self.bucket(value, maximum), len(counts) - 1)] += 1
        return counts

    def self_test(self):
        assert self.average([3, 4]) == 3, self.average([3, 4])
        assert 7 / 2 == 3 and -7 / 2 == -4 and 7.0 / 2 == 3.5
        assert self.percent(1, 3) == 33, self.percent(1, 3)
        assert self.histogram([10, 30, 50, 99, 100], 100) == [1, 1, 1, 2]
        assert round(2.5) == 3.0 and isinstance(round(2.5), float)
