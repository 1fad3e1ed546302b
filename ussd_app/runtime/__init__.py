"""Processes: the RQ worker entry, the in-process embedded worker and the periodic maintenance pass.

May import: anything below it.
"""
