"""A small REST API on CherryPy, written as ceph-mgr's restful module was:
CherryPy's global config, tree and engine (config.update, tree.mount,
engine.start, engine.block). Two such modules in one process only work when
each has an interpreter of its own. Runs on 2.7 and 3.x."""
import json
import threading

import cherrypy
import pyhost

try:
    from urllib.request import urlopen
except ImportError:  # Python 2
    from urllib2 import urlopen


class Api(object):
    def __init__(self, module):
        self.module = module

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def ping(self):
        return {'pong': True, 'module': self.module.name}

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def state(self, key):
        return {'key': key, 'value': self.module.get_state(key)}

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def dashboard(self):
        # Another module's answer, through the host: only JSON crosses.
        return self.module.remote('dashboard', 'summary')


class RestApi(pyhost.Module):
    OPTIONS = {'host': '127.0.0.1', 'port': 18081}

    def __init__(self):
        super(RestApi, self).__init__()
        self.started = threading.Event()
        self.port = None

    def serve(self):
        cherrypy.config.update({
            'server.socket_host': self.get_option('host'),
            'server.socket_port': int(self.get_option('port')),
            'engine.autoreload.on': False,
            'checker.on': False,
            'log.screen': True,
        })
        cherrypy.tree.mount(Api(self), '/api')
        try:
            cherrypy.engine.start()
            self.port = cherrypy.server.bound_addr[1]  # the real one when port is 0
        finally:
            self.started.set()
        self.log.info('REST API on port %s', self.port)
        cherrypy.engine.block()

    def shutdown(self):
        # Bus.exit() while start() is still running calls os._exit(70): let
        # start() finish first (it returns once the port is really bound).
        self.started.wait(30)
        cherrypy.engine.exit()

    def url(self, path):
        return 'http://%s:%s%s' % (self.get_option('host'), self.port, path)

    def self_test(self):
        assert self.started.wait(30), 'CherryPy did not start'
        reply = json.loads(urlopen(self.url('/api/ping'), timeout=10).read().decode('utf-8'))
        assert reply == {'pong': True, 'module': self.name}, reply
