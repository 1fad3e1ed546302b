"""USSD-side records: end-of-session notifications (drop-off analytics) and per-phone language."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ussd_app.columns import LANGUAGE_LEN, PHONE_HASH_LEN
from ussd_app.db import Base, TZDateTime, created_at, updated_at, utcnow

SESSION_ID_LEN = 128
LAST_SCREEN_LEN = 100  # a hop-metadata label is at most 99 characters
ERROR_MESSAGE_LEN = 500


class UssdSessionEvent(Base):
    """How one USSD session ended: status, length, and the last screen shown.

    Only what analytics need is kept. The caller's typed `input` and our `lastAppResponse` are
    never stored (they can hold sensitive answers). `session_id` holds a keyed digest of the
    gateway's id (`session_events.session_event_id`), unique so a repeated notification is a
    no-op. `phone_hash` is set only for registration sessions and erased after 30 days; `language`
    is a language code only, kept for every session (it says nothing of who called).
    """

    __tablename__ = "ussd_session_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(String(SESSION_ID_LEN), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    hops: Mapped[int | None]
    duration_ms: Mapped[int | None]
    last_screen: Mapped[str | None] = mapped_column(String(LAST_SCREEN_LEN))
    network_code: Mapped[str | None] = mapped_column(String(16))
    service_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(String(ERROR_MESSAGE_LEN))
    phone_hash: Mapped[str | None] = mapped_column(String(PHONE_HASH_LEN))
    # The language the caller had chosen (`session_events.session_language`); None when the
    # session ended before any choice, or was stored before the column existed.
    language: Mapped[str | None] = mapped_column(String(LANGUAGE_LEN))
    received_at: Mapped[dt.datetime] = mapped_column(TZDateTime(), default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<UssdSessionEvent {self.status} hops={self.hops}>"


class PhonePreference(Base):
    """The language a phone chose, so its next dial skips the language screen.

    `phone_hash` holds a keyed digest of the phone hash under its own purpose
    (`preferences.preference_key`), never the phone hash itself, so a reporter's language choice
    joins to nothing else; times are kept to the day.
    """

    __tablename__ = "phone_preferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(PHONE_HASH_LEN), unique=True)
    language: Mapped[str] = mapped_column(String(LANGUAGE_LEN))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
