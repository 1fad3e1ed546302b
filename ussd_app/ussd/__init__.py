"""The USSD channel: the gateway webhook (views), the session store in Redis, the hop service that
runs the pure menu engine, per-phone language, end-of-session events and abandoned urgent sessions.

May import: menu, reports, returnees, cases (through handlers), kernel modules. Never imported by
the features below it.
"""
