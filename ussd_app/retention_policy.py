"""How long each copy of personal data is kept: the one table the purge enforces.

README "Security and privacy" / "Retention" explains each line; the purge
(`ussd_app.runtime.maintenance.purge_expired`, run with every maintenance pass) applies them,
one function per feature that owns the table.
"""

from __future__ import annotations

import datetime as dt

# A reporter who declined a call-back: their number (encrypted) and its daily abuse tag.
REPORTER_WITHOUT_CALLBACK = dt.timedelta(days=7)
# A reporter who agreed to a call-back: until this long after the case closes.
REPORTER_AFTER_CLOSE = dt.timedelta(days=30)
# Messages to members of the public (replies to SMS commands, confirmations to returnees and
# reporters): recipient and text are erased this long after the message was staged, once it is
# final (sent, delivered, failed or cancelled). Messages to partner contacts are directory
# traffic and are kept.
PUBLIC_SMS = dt.timedelta(days=7)
# Who sent an inbound SMS (keyed hash): the gateway retries for 12 hours; abuse control looks
# back a few days at most.
INBOUND_SENDER = dt.timedelta(days=7)
# The phone hash on a registration session's end-of-session row (drop-off follow-up).
SESSION_EVENT_PHONE = dt.timedelta(days=30)
# End-of-session rows themselves (status, hops, last screen): drop-off analytics.
SESSION_EVENT_ROW = dt.timedelta(days=365)
# A phone's language choice, after it was last set (a redial chooses again).
PHONE_PREFERENCE = dt.timedelta(days=365)
