"""The talk's third act: a CherryPy module configured for a port something
else already listens on. CherryPy's Bus.start fails, Bus.exit calls
os._exit(70), and in ceph-mgr the whole daemon went with it. Here the module
must end up failed while the host and the other modules keep serving.

It waits (up to wait_for_listener seconds) until the port is taken, so that
the outcome does not depend on which module starts first. With port 0 it
takes a free port itself first, so it fails alone too (the matrix runs it
so). Runs on 2.7 and 3.x."""
import socket
import threading
import time

import cherrypy
import pyhost


def listening(host, port):
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(0.5)
    try:
        return probe.connect_ex((host, port)) == 0
    finally:
        probe.close()


class BusyPort(pyhost.Module):
    OPTIONS = {'host': '127.0.0.1', 'port': 18081, 'wait_for_listener': 30}

    def __init__(self):
        super(BusyPort, self).__init__()
        self.attempted = threading.Event()
        self.started = False
        self.holder = None

    def serve(self):
        host, port = self.get_option('host'), int(self.get_option('port'))
        if port == 0:
            self.holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.holder.bind((host, 0))
            self.holder.listen(5)
            port = self.holder.getsockname()[1]
        deadline = time.time() + float(self.get_option('wait_for_listener'))
        while not listening(host, port) and time.time() < deadline:
            if self.stopping.wait(0.1):
                return
        cherrypy.config.update({
            'server.socket_host': host,
            'server.socket_port': port,
            'engine.autoreload.on': False,
            'checker.on': False,
        })
        cherrypy.tree.mount(None, '/')
        try:
            cherrypy.engine.start()  # fails, then calls os._exit(70)
            self.started = True
        finally:
            self.attempted.set()
        cherrypy.engine.block()

    def self_test(self):
        # The outcome is whatever CherryPy's start did: wait for it. The
        # os._exit(70) inside start() fails the module only once it has
        # unwound out of serve(), which on a free-threaded build can come
        # after this test returns; so pass only if start() itself returned.
        assert self.attempted.wait(30), "CherryPy never tried to start"
        assert self.started, "CherryPy did not start (its port was in use)"

    def shutdown(self):
        cherrypy.engine.exit()
