"""self_test reads memory at address 0 through ctypes: a segfault that no
Python code can catch, so the whole process dies (as a buggy C extension
would kill the host). ctypes is imported at the top, where the placement
probe sees _ctypes; on 3.13 _ctypes loads in an own-GIL interpreter, so
the module stays there and crashes there. Loads and stops cleanly under
`pyhost run`, which does not call self_test; only a runner that gives each
module its own process survives it. Runs on 2.7 and 3.x."""
import ctypes

import pyhost


class Crashes(pyhost.Module):
    def self_test(self):
        ctypes.string_at(0)  # SIGSEGV
        raise AssertionError('reading address 0 did not crash')
