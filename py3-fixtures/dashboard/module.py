"""A read-only status dashboard on CherryPy, in the same global style as
rest_api, in the same process: the talk's second web module. It counts the
host's ticks and remembers the last state change. Runs on 2.7 and 3.x."""
import json
import threading

import cherrypy
import pyhost

try:
    from urllib.request import urlopen
except ImportError:  # Python 2
    from urllib2 import urlopen


class Pages(object):
    def __init__(self, module):
        self.module = module

    @cherrypy.expose
    def index(self):
        summary = self.module.summary()
        state = json.dumps(summary['last_state']).replace('&', '&amp;').replace('<', '&lt;')
        return ('<html><body><h1>pyhost status</h1><p>ticks: %d</p><p>last state: <code>%s</code></p>'
                '</body></html>' % (summary['ticks'], state))

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def status(self):
        return self.module.summary()


class Dashboard(pyhost.Module):
    OPTIONS = {'host': '127.0.0.1', 'port': 18082}
    NOTIFY_TYPES = ['tick', 'state']

    def __init__(self):
        super(Dashboard, self).__init__()
        self.lock = threading.Lock()
        self.started = threading.Event()
        self.port = None
        self.ticks = 0
        self.last_state = None

    def notify(self, event, payload):
        with self.lock:
            if event == 'tick':
                self.ticks += 1
            else:
                self.last_state = payload

    @pyhost.expose  # rest_api's /status asks for it
    def summary(self):
        with self.lock:
            return {'module': self.name, 'ticks': self.ticks, 'last_state': self.last_state}

    def serve(self):
        cherrypy.config.update({
            'server.socket_host': self.get_option('host'),
            'server.socket_port': int(self.get_option('port')),
            'engine.autoreload.on': False,
            'checker.on': False,
            'log.screen': True,
        })
        cherrypy.tree.mount(Pages(self), '/')
        try:
            cherrypy.engine.start()
            self.port = cherrypy.server.bound_addr[1]  # the real one when port is 0
        finally:
            self.started.set()
        self.log.info('dashboard on port %s', self.port)
        cherrypy.engine.block()

    def shutdown(self):
        # Bus.exit() while start() is still running calls os._exit(70): let
        # start() finish first (it returns once the port is really bound).
        self.started.wait(30)
        cherrypy.engine.exit()

    def self_test(self):
        assert self.started.wait(30), 'CherryPy did not start'
        url = 'http://%s:%s/status' % (self.get_option('host'), self.port)
        reply = json.loads(urlopen(url, timeout=10).read().decode('utf-8'))
        assert reply['module'] == self.name, reply
