"""The Python side of `pyhost port`: reads Python 2 (and 3) source with
fissix, finds what breaks on which Python (rules in port/rules/python.toml)
and rewrites it. Runs on Python 3.9 to 3.13 in a child process of pyhost,
which sends one JSON request on stdin and reads one JSON answer (see
__main__.py)."""
