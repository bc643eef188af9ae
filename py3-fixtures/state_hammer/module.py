"""Four threads hammer set_state/get_state and remote calls at once; every
value must come back intact. Runs on 2.7 and 3.x."""
import threading

import pyhost

ROUNDS = 50


class StateHammer(pyhost.Module):
    NOTIFY_TYPES = ['state']

    def __init__(self):
        super(StateHammer, self).__init__()
        self.errors = []
        self.notified = 0

    def notify(self, event, payload):
        if payload.get('by') == self.name:
            self.notified += 1

    def work(self, index):
        try:
            for i in range(ROUNDS):
                key = 'hammer.%d' % index
                self.set_state(key, {'round': i, 'thread': index})
                got = self.get_state(key)
                # another module may not write these keys: the value is ours
                assert got == {'round': i, 'thread': index}, got
                assert self.remote('echo', 'echo', [index, i]) == [index, i]
        except Exception as error:
            self.errors.append(repr(error))

    def serve(self):
        threads = [threading.Thread(target=self.work, args=(n,), name='hammer-%d' % n) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.set_state('hammer.done', {'errors': self.errors, 'rounds': 4 * ROUNDS})
        if self.errors:
            raise AssertionError('hammering failed: %s' % self.errors[:3])
        self.log.info('hammered %d rounds without an error', 4 * ROUNDS)

    def self_test(self):
        done = self.get_state('hammer.done')
        assert done is not None and done['errors'] == [], done
