"""Logging: one format, and a filter that masks anything that looks like a phone number.

Code masks numbers itself (`phones.mask`); the filter is the safety net for a number that slips
into a log line through an exception message or a third-party library.
"""

from __future__ import annotations

import logging
import re

_PHONE_RE = re.compile(r"(?<![\w*])(\+?\d{3,4})\d{4,7}(\d{4})(?!\d)")


def _mask(text: str) -> str:
    return _PHONE_RE.sub(lambda m: m.group(1) + "****" + m.group(2), text)


class MaskPhonesFilter(logging.Filter):
    """Rewrites the formatted message so phone-like digit runs are masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logged as it is
            return True
        masked = _mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: str = "INFO") -> None:
    """Configure the root logger once (idempotent)."""
    root = logging.getLogger()
    if getattr(root, "_ussd_configured", False):
        root.setLevel(level.upper())
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskPhonesFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    root._ussd_configured = True  # type: ignore[attr-defined]
