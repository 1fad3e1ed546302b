"""The SMS sending interface, per-recipient outcomes and whole-request errors.

Africa's Talking answers one request for many recipients with one status per recipient
(reference africastalking.md 2.2), so `send()` returns a result per number rather than raising
on a partial failure. Only failures of the whole request raise, classified so the job can decide
between "retry later" (`TransientSmsError`), "fix the account, then retry" (`AccountSmsError`)
and "something we do not understand" (`SmsError`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ussd_app.config import Settings


class Outcome(enum.Enum):
    """What a recipient's status code means for the job that sent it."""

    ACCEPTED = "accepted"  # the gateway took the message; a delivery report may follow
    TRANSIENT = "transient"  # try the same number again later
    PERMANENT = "permanent"  # this number will not work: invalid, blacklisted, unroutable
    ACCOUNT = "account"  # our account or sender ID is at fault; retry after an operator fixes it


# Per-recipient `statusCode` values (africastalking.md 2.2 table).
STATUS_CODE_OUTCOMES: dict[int, Outcome] = {
    100: Outcome.ACCEPTED,  # Processed
    101: Outcome.ACCEPTED,  # Sent (status string "Success")
    102: Outcome.ACCEPTED,  # Queued
    401: Outcome.PERMANENT,  # RiskHold
    402: Outcome.ACCOUNT,  # InvalidSenderId
    403: Outcome.PERMANENT,  # InvalidPhoneNumber
    404: Outcome.PERMANENT,  # UnsupportedNumberType
    405: Outcome.ACCOUNT,  # InsufficientBalance
    406: Outcome.PERMANENT,  # UserInBlacklist (opted out)
    407: Outcome.PERMANENT,  # CouldNotRoute
    409: Outcome.PERMANENT,  # DoNotDisturbRejection
    500: Outcome.TRANSIENT,  # InternalServerError
    501: Outcome.TRANSIENT,  # GatewayError
    502: Outcome.PERMANENT,  # RejectedByGateway
}


class SmsError(Exception):
    """The send request failed in a way we do not recognise; a person should look."""


class TransientSmsError(SmsError):
    """The request did not get through (network, timeout, gateway 5xx); retrying is safe."""


class AccountSmsError(SmsError):
    """The gateway refused our credentials or account; retrying cannot help until it is fixed."""


@dataclass(frozen=True)
class RecipientResult:
    """The gateway's answer for one recipient of a send request."""

    number: str
    outcome: Outcome
    message_id: str | None
    status: str
    status_code: int | None
    cost: str | None

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


class SmsSender(Protocol):
    """Anything that can send one text to several numbers and say what happened to each."""

    def send(self, message: str, recipients: list[str]) -> list[RecipientResult]:
        """Send `message` to every number in `recipients` (E.164); one result per recipient.

        Raises `TransientSmsError`, `AccountSmsError` or `SmsError` when the whole request
        fails; per-recipient failures are reported in the results, not raised.
        """
        ...


def classify_status_code(code: int | None) -> Outcome:
    """Map a recipient `statusCode` to an outcome; unknown codes are judged by their class.

    An unknown 1xx is treated as accepted and an unknown 5xx as transient; anything else we do
    not know is permanent, because retrying an unknown refusal forever helps nobody.
    """
    if code is None:
        return Outcome.PERMANENT
    if code in STATUS_CODE_OUTCOMES:
        return STATUS_CODE_OUTCOMES[code]
    if 100 <= code < 200:
        return Outcome.ACCEPTED
    if 500 <= code < 600:
        return Outcome.TRANSIENT
    return Outcome.PERMANENT


def _text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text in ("", "None", "null") else text


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_send_response(
    data: Mapping[str, Any], recipients: Sequence[str]
) -> list[RecipientResult]:
    """Turn a send response body (africastalking.md 2.2) into one result per requested number.

    Results follow the order of `recipients`. A requested number missing from the response is
    reported TRANSIENT ("NoResponse"): the gateway did not say it took the message, so sending
    it again is the only way to make sure the partner hears about the report.

    Raises SmsError when the body does not have the documented shape.
    """
    try:
        entries = data["SMSMessageData"]["Recipients"]
    except (KeyError, TypeError):
        raise SmsError("send response has no SMSMessageData.Recipients") from None
    if not isinstance(entries, list):
        raise SmsError("send response Recipients is not a list")
    by_number: dict[str, list[Mapping[str, Any]]] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise SmsError("send response has a recipient that is not an object")
        by_number.setdefault(str(entry.get("number", "")), []).append(entry)
    results: list[RecipientResult] = []
    for number in recipients:
        queue = by_number.get(number)
        if not queue:
            results.append(
                RecipientResult(number, Outcome.TRANSIENT, None, "NoResponse", None, None)
            )
            continue
        entry = queue.pop(0)
        code = _int_or_none(entry.get("statusCode"))
        outcome = classify_status_code(code)
        message_id = _text_or_none(entry.get("messageId"))
        # An accepted entry without an id cannot be matched to delivery reports, but it stays
        # ACCEPTED: sending again would put a duplicate alert on the officer's phone.
        results.append(
            RecipientResult(
                number=number,
                outcome=outcome,
                message_id=message_id if outcome is Outcome.ACCEPTED else None,
                status=str(entry.get("status", "")),
                status_code=code,
                cost=_text_or_none(entry.get("cost")),
            )
        )
    return results


def make_sms_sender(settings: Settings) -> SmsSender:
    """The sender chosen by `settings.sms_backend` ("console" or "africastalking")."""
    if settings.sms_backend == "console":
        from ussd_app.messaging.backends.console import ConsoleSmsSender

        return ConsoleSmsSender(settings.resolved_sms_log_path)
    if settings.sms_backend == "africastalking":
        from ussd_app.messaging.backends.africastalking import AfricasTalkingSmsSender

        return AfricasTalkingSmsSender.from_settings(settings)
    raise ValueError(f"unknown SMS backend {settings.sms_backend!r}")
