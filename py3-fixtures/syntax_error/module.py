"""A syntax error on line 7 (on every Python, 2.7 included): the module must
be unloadable, with the file and line in its error."""
import pyhost


class SyntaxError_(pyhost.Module):
    answer = = 42
