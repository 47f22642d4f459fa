"""Small utilities of Smisk 1.x, one module per concern:

type (Symbol, Undefined, the Python 2 `types` aliases), collections (unique,
merge), cache (cache keys), introspect (callable signatures), python
(exceptions, modules), string (Accept-style headers, paths, URLs),
DateTime, threads (timers, monitors), timing, frozen (frozendict),
benchmark and objectproxy.

Importing this package imports none of them.
"""
