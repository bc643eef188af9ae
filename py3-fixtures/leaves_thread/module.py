"""Starts a non-daemon thread that never ends and ignores shutdown, like
CherryPy's timeout monitor asleep in time.sleep(60). The host must neither
abort nor hang at exit, and must report the thread."""
import threading
import time

import pyhost


class LeavesThread(pyhost.Module):
    def __init__(self):
        super(LeavesThread, self).__init__()
        self.worker = threading.Thread(target=time.sleep, args=(3600,), name='forever-sleeper')
        self.worker.start()

    def self_test(self):
        assert self.worker.is_alive()
