"""Outbound SMS: the outbox, the message state machine (`status.py`) with one retry clock, RQ
queues and jobs, delivery reports and the SMS backends. Knows nothing of reports or cases: what
happens when a message is sent or fails is the `SmsObserver` collaborator's business.

May import: kernel modules only.
"""
