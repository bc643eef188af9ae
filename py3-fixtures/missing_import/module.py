"""Imports a package that is nowhere: unloadable, with the file and line."""
import pyhost
import no_such_package_anywhere  # line 3


class MissingImport(pyhost.Module):
    pass
