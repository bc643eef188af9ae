"""A report module whose options must be named: keyword-only arguments
(PEP 3102, `def f(a, *, key=None)`) keep callers from passing a sort key
or a flag by position. On 2.7 the bare `*` is a SyntaxError. The test also
checks what 3 changed about sorting: mixed types no longer order (2.x
sorted ints before strs), so a caller must pass key=."""
import pyhost


class ModernKwonly(pyhost.Module):
    OPTIONS = {'limit': 3}

    def top(self, counts, *, key=None, reverse=True, limit=None):
        """The `limit` largest entries of a {name: count} dict, as (name, count)."""
        limit = self.get_option('limit') if limit is None else limit
        order = sorted(counts.items(), key=key or (lambda item: item[1]), reverse=reverse)
        return order[:limit]

    def names(self, values, *, key=None):
        return sorted(values, key=key)

    def self_test(self):
        counts = {'disk': 7, 'net': 12, 'cpu': 3, 'mem': 9}
        assert self.top(counts) == [('net', 12), ('mem', 9), ('disk', 7)], self.top(counts)
        assert self.top(counts, limit=1, reverse=False) == [('cpu', 3)]
        try:
            self.top(counts, None, False)  # by position: refused
        except TypeError as error:
            assert 'positional' in str(error), error
        else:
            raise AssertionError('keyword-only arguments were accepted by position')
        # Sorting a mix of int and str raises on 3; with a key it works.
        mixed = [10, 'b', 2, 'a']
        try:
            self.names(mixed)
        except TypeError as error:
            assert "'<' not supported" in str(error), error
        else:
            raise AssertionError('sorted() ordered int and str')
        assert self.names(mixed, key=str) == [10, 2, 'a', 'b']
        # dict.items() is a view, not a list: it follows the dict.
        items = counts.items()
        counts['io'] = 1
        assert ('io', 1) in items and len(items) == 5
