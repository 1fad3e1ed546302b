"""What phones send us by SMS: the `/sms/inbound` commands (ACK, CLOSE, STATUS, REPORT, HELP, STOP,
START) and the `/sms/delivery` webhook.

May import: cases, reports, messaging, partners, kernel modules.
"""
