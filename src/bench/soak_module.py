"""The module `pyhost bench soak` loads and unloads over and over (and
tests/hostile/soak.rs with it): what a typical plugin does in a life. It
imports a few standard modules, starts a daemon thread in __init__, serves a
connection from serve(), counts `tick` events and answers remote() calls;
shutdown() stops its thread. Runs unchanged on 2.7 and 3.x, under pyhost and,
with a stand-in for the pyhost package, under plain CPython (the baseline).
"""
import collections
import json
import logging
import re
import socket
import struct
import threading
import time

import pyhost

WORD = re.compile(r'\w+')


class Soak(pyhost.Module):
    EXPOSE_ALL = True  # remote() may call echo
    NOTIFY_TYPES = ['tick']

    def __init__(self):
        super(Soak, self).__init__()
        self.seen = collections.deque(maxlen=64)
        self.ticks = 0
        self.helper = threading.Thread(target=self._keep_time, name='soak-helper')
        self.helper.daemon = True
        self.helper.start()
        self.log.info('started (logging %s)', logging.getLevelName(self.log.getEffectiveLevel()))

    def _keep_time(self):
        while not self.stopping.wait(0.05):
            self.seen.append(time.time())

    def serve(self):
        # A connected pair of sockets stands in for a client's connection.
        client, server = socket.socketpair()
        try:
            while True:
                body = json.dumps({'seen': len(self.seen), 'ticks': self.ticks}).encode('utf-8')
                client.sendall(struct.pack('!I', len(body)) + body)
                size = struct.unpack('!I', self._read(server, 4))[0]
                json.loads(self._read(server, size).decode('utf-8'))
                if self.stopping.wait(0.02):
                    break
        finally:
            client.close()
            server.close()

    @staticmethod
    def _read(sock, size):
        data = b''
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            if not chunk:
                raise EOFError('the socket pair closed')
            data += chunk
        return data

    def notify(self, event, payload):
        self.ticks += 1

    def echo(self, value):
        return {'value': value, 'words': len(WORD.findall(json.dumps(value)))}

    def shutdown(self):
        self.stopping.set()
        self.helper.join(10)
