"""Sending SMS: one small interface, a console backend for development, and Africa's Talking.

Callers depend on `SmsSender` and `make_sms_sender(settings)` only; which backend runs is a
setting (`SMS_BACKEND`), so the worker code is the same on a laptop and in production.
"""

from __future__ import annotations

from ussd_app.messaging.backends.base import (
    AccountSmsError,
    Outcome,
    RecipientResult,
    SmsError,
    SmsSender,
    TransientSmsError,
    classify_status_code,
    make_sms_sender,
    parse_send_response,
)

__all__ = [
    "AccountSmsError",
    "Outcome",
    "RecipientResult",
    "SmsError",
    "SmsSender",
    "TransientSmsError",
    "classify_status_code",
    "make_sms_sender",
    "parse_send_response",
]
