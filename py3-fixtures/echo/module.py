"""Answers remote calls; the partner of state_hammer. Runs on 2.7 and 3.x."""
import pyhost


class Echo(pyhost.Module):
    @pyhost.expose
    def echo(self, value):
        return value

    @pyhost.expose
    def ping(self):
        return 'pong'

    def self_test(self):
        assert self.echo([1, u'two']) == [1, u'two']
