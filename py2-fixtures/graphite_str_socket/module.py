"""Sends metrics to Graphite's plaintext port the 2.x way: each line is
built with % formatting as a str and handed to socket.sendall(), since on
2.x str is bytes. On 3.x the file loads and the test fails: sendall()
wants bytes, and gets text (TypeError in self_test). The test checks what
2.x sends and receives: one str type on both ends, split with str."""
import socket

import pyhost


class GraphiteSender(pyhost.Module):
    OPTIONS = {'prefix': 'servers.web01'}

    def format(self, path, value, timestamp):
        return '%s.%s %s %d\n' % (self.get_option('prefix'), path, value, timestamp)

    def send(self, sock, lines):
        sock.sendall(''.join(lines))

    def self_test(self):
        ours, carbon = socket.socketpair()
        try:
            lines = [self.format('load.midterm', 0.5, 1300000000),
                     self.format('df.root.percent', 81, 1300000000)]
            self.send(ours, lines)
            ours.shutdown(socket.SHUT_WR)
            received = ''
            chunk = carbon.recv(4096)
            while chunk:
                received += chunk
                chunk = carbon.recv(4096)
        finally:
            ours.close()
            carbon.close()
        assert type(received) is str and received == ''.join(lines), repr(received)
        path, value, timestamp = received.splitlines()[0].split(' ')
        assert (path, float(value), int(timestamp)) == ('servers.web01.load.midterm', 0.5, 1300000000)
