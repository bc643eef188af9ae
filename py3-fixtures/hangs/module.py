"""self_test never returns: it sleeps in a loop and ignores self.stopping,
like a module blocked on a socket without a timeout. Only a timeout (and
killing the process) ends it; the manifest keeps that short. Loads, serves
and stops cleanly under `pyhost run`, which does not call self_test. Runs
on 2.7 and 3.x."""
import time

import pyhost


class Hangs(pyhost.Module):
    def self_test(self):
        while True:
            time.sleep(1)
