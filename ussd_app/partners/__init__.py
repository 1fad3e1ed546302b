"""Partners: the directory file format and import, the runtime snapshot, and routing (who hears of
a report). Routing is pure over plain dataclasses.

May import: kernel modules only.
"""
