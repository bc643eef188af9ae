"""serve() calls sys.exit(3): the module must fail, the host go on."""
import sys
import time

import pyhost


class ExitsInServe(pyhost.Module):
    def serve(self):
        time.sleep(0.2)
        sys.exit(3)
