"""Pure builders: a validated resource + settings → the child objects, as plain dicts.

No I/O, no clock, no environment: the same inputs always give the same objects, which is what
lets the handlers apply them on every reconcile and lets tests compare them with tables.
"""
