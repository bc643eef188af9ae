"""The soak's second module: stays loaded while `soak` is restarted, calling
soak.echo() through remote() all along, as a module that depends on another
does. When it stops it writes how many calls were answered to `count_file`.
"""
import pyhost


class Peer(pyhost.Module):
    OPTIONS = {'count_file': ''}

    def serve(self):
        answered = 0
        while not self.stopping.wait(0.01):
            try:
                self.remote('soak', 'echo', answered)
                answered += 1
            except pyhost.RemoteError:
                pass  # soak is between two instances
        with open(self.get_option('count_file'), 'w') as out:
            out.write(str(answered))
