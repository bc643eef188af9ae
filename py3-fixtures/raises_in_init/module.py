"""__init__ raises: the module must fail with this traceback, the host go on."""
import pyhost


class RaisesInInit(pyhost.Module):
    def __init__(self):
        super(RaisesInInit, self).__init__()
        raise RuntimeError('refusing to start: no configuration')
