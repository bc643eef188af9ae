"""Fails the first time it starts and works after a restart: the host's
state outlives the module's interpreter, so the second start knows. With
restart = "on-failure" (or `pyhost ctl restart`) it must end up running.
Runs on 2.7 and 3.x."""
import pyhost


class FailsOnce(pyhost.Module):
    def __init__(self):
        super(FailsOnce, self).__init__()
        starts = (self.get_state('fails_once.starts') or 0) + 1
        self.set_state('fails_once.starts', starts)
        if starts == 1:
            raise RuntimeError('first start fails on purpose')

    def self_test(self):
        assert self.get_state('fails_once.starts') >= 2
