"""Sums per-disk counters with dict.iteritems() and itervalues(), the 2.x
idiom for walking a dict without copying it. On 3.x the file loads and the
test fails at the first call: the iter* methods are gone (AttributeError in
self_test). The test also checks that 2.x's keys() is a list copy, so a
loop over it may delete from the dict (3.x's view would raise)."""
import pyhost


class DiskStats(pyhost.Module):
    OPTIONS = {'interval': 10}

    def __init__(self):
        super(DiskStats, self).__init__()
        self.counters = {}

    def update(self, disk, reads, writes):
        self.counters[disk] = {'reads': reads, 'writes': writes}

    def totals(self):
        totals = {}
        for disk, counters in self.counters.iteritems():
            for name, value in counters.iteritems():
                totals[name] = totals.get(name, 0) + value
        return totals

    def busiest(self):
        return max(sum(c.itervalues()) for c in self.counters.itervalues())

    def serve(self):
        while not self.stopping.wait(self.get_option('interval')):
            self.log.info('totals: %r', self.totals())

    def self_test(self):
        self.update('sda', 120, 30)
        self.update('sdb', 5, 400)
        assert self.totals() == {'reads': 125, 'writes': 430}, self.totals()
        assert self.busiest() == 405, self.busiest()
        disks = self.counters.keys()
        assert isinstance(disks, list), type(disks)
        for disk in self.counters.keys():
            if self.counters[disk]['writes'] > 100:
                del self.counters[disk]
        assert self.counters.keys() == ['sda'], self.counters.keys()
