"""Cases: the lifecycle of a report (one state machine, `machine.py`), who may act on it
(`authority.py`), escalation, staging alerts for reports (`alerts.py`) and their texts, and the
coarse status callers may see (`lookups.py`). SMS commands, the sweeper and the desk all call it.

May import: reports, returnees, partners, messaging, kernel modules.
"""
