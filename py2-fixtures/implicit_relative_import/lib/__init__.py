"""Helpers for collectd's text protocol. `import helpers` is an implicit
relative import: 2.x looks in this package first and finds helpers.py
beside this file; 3.x looks only for a top-level module named helpers."""
import helpers

parse_putval = helpers.parse_putval
