"""Helpers every intake service shares (reports, registrations, walk-ins): answer checks, free
text cleaning, and turning a unique-index race into a retry."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.exc import IntegrityError

from ussd_app.columns import CHANNELS
from ussd_app.db import UnitOfWork

_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")


class UniqueConflict(Exception):
    """A unique value was taken between our check and our insert; try again."""


def check_language(language: str) -> str:
    """Return `language` if it looks like a language code (`st`, `en`), else raise ValueError."""
    if not _LANGUAGE_RE.match(language or ""):
        raise ValueError("language must be a 2-3 letter code")
    return language


def check_channel(channel: str, allowed: tuple[str, ...] = CHANNELS) -> str:
    """Return `channel` if it is one the models accept (`ussd`, `sms`; registrations also
    `walk_in`: pass `allowed`), else raise ValueError."""
    if channel not in allowed:
        raise ValueError(f"channel must be one of {', '.join(allowed)}")
    return channel


def clean_text(value: Any, max_chars: int) -> str | None:
    """Free text trimmed and capped; empty means not given."""
    if value is None:
        return None
    text = " ".join(str(value).split())[:max_chars].strip()
    return text or None


def flush_or_conflict(uow: UnitOfWork) -> None:
    """Flush, turning a unique-constraint violation into UniqueConflict so the caller retries.

    The look-up before an insert cannot see a row another transaction is about to commit; the
    database's unique index is the real guard, and the retry then finds that row.
    """
    try:
        uow.session.flush()
    except IntegrityError:
        # Another request took the same ref or phone between our look-up and our insert.
        raise UniqueConflict from None
