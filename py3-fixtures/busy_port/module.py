"""The talk's third act: a CherryPy module configured for a port something
else already listens on. CherryPy's Bus.start fails, Bus.exit calls
os._exit(70), and in ceph-mgr the whole daemon went with it. Here the module
must end up failed while the host and the other modules keep serving.

It waits (up to wait_for_listener seconds) until the port is taken, so that
the outcome does not depend on which module starts first. Runs on 2.7 and 3.x."""
import socket
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

    def serve(self):
        host, port = self.get_option('host'), int(self.get_option('port'))
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
        cherrypy.engine.start()  # fails, then calls os._exit(70)
        cherrypy.engine.block()

    def shutdown(self):
        cherrypy.engine.exit()
