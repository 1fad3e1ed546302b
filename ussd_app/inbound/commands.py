"""Inbound SMS commands (`POST /sms/inbound`): ACK, CLOSE, STATUS, REPORT, HELP, STOP, START,
and CHECK (a returnee's answers to the 90-day check-in, `ussd_app.cases.checkin_sms`).

The gateway retries an inbound message every minute for 12 hours until it gets a 200, so each
message is handled once, keyed on the gateway's id. Keywords are case-insensitive, in English or
Sesotho. Staff commands (ACK, CLOSE) are accepted only from a partner contact's number; anyone may
ask STATUS with a reference, which shows the coarse status only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ussd_app import sms_texts
from ussd_app.cases import actions, checkin_sms, lookups
from ussd_app.cases.authority import Actor, may_see
from ussd_app.cases.machine import Outcome
from ussd_app.container import Services
from ussd_app.db import UnitOfWork
from ussd_app.digests import RATE_LIMIT, keyed_digest
from ussd_app.gateway import MAX_GATEWAY_ID_LEN
from ussd_app.messaging import outbox
from ussd_app.messaging.models import InboundSms, SmsOptOut, SmsPurpose
from ussd_app.partners.models import Partner, PartnerContact
from ussd_app.phones import InvalidPhoneNumber, mask
from ussd_app.references import looks_like_reference, normalise_reference
from ussd_app.reports.models import TraffickingReport
from ussd_app.returnees.checkins import parse_reply_codes
from ussd_app.returnees.models import Registration

log = logging.getLogger(__name__)

# Keyword -> (command, language of the reply). Sesotho keywords need a native speaker's review.
KEYWORDS: dict[str, tuple[str, str]] = {
    "ACK": ("ACK", "en"),
    "AMOHELA": ("ACK", "st"),  # REVIEW(st): "accept/receive"
    "CLOSE": ("CLOSE", "en"),
    "KOALA": ("CLOSE", "st"),  # REVIEW(st): "close"
    "STATUS": ("STATUS", "en"),
    "BOEMO": ("STATUS", "st"),  # REVIEW(st): "state/condition"
    "REPORT": ("REPORT", "en"),
    "TLALEHA": ("REPORT", "st"),
    "HELP": ("HELP", "en"),
    "THUSO": ("HELP", "st"),
    "STOP": ("STOP", "en"),
    "EMISA": ("STOP", "st"),  # REVIEW(st): "stop"
    "START": ("START", "en"),
    "QALA": ("START", "st"),  # REVIEW(st): "start/begin"
    "CHECK": ("CHECK", "en"),
    "SHEBA": ("CHECK", "st"),  # REVIEW(st): "look/check" (the check-in reply)
}

# Replies, kept plain and neutral: a phone may be shared. No reply names trafficking except to
# partner staff. The texts are in ussd_app/sms_texts.yaml (reviewed through `ussd-app copy`).
REPLIES: dict[str, dict[str, str]] = sms_texts.section("replies")

# Staff replies are English (partners' working language) and may name the case type.
STAFF_REPLIES: dict[str, str] = {
    key: by_lang["en"] for key, by_lang in sms_texts.section("staff_replies").items()
}


@dataclass(frozen=True)
class ParsedCommand:
    command: str  # canonical, e.g. ACK; "UNKNOWN" when not recognised
    lang: str
    args: str  # the rest of the message, trimmed


def parse(text: str) -> ParsedCommand:
    """Split an SMS into a known command and its arguments (case-insensitive)."""
    stripped = (text or "").strip()
    word, _, rest = stripped.partition(" ")
    found = KEYWORDS.get(word.upper().strip(".,:;!"))
    if found is None:
        return ParsedCommand("UNKNOWN", "en", stripped)
    return ParsedCommand(found[0], found[1], rest.strip())


# Set for the message being handled when its sender is over the reply limit.
_withhold: ContextVar[bool] = ContextVar("sms_reply_withheld", default=False)


class BadInboundSms(ValueError):
    """The inbound message lacks what we need."""


def handle_inbound(
    services: Services,
    form: Mapping[str, str],
    *,
    allow_reply: Callable[[str], bool] | None = None,
) -> str:
    """Handle one inbound SMS exactly once; returns the command (or "duplicate").

    `allow_reply(key)` is the reply limit, keyed by a digest of the number made for this purpose
    only: when it says no, the command is still handled (a REPORT is filed and alerted, an ACK
    takes the case) but no reply is staged, so a flood of STATUS guesses buys nothing.
    """
    token = _withhold.set(False)
    try:
        return _handle_inbound(services, form, allow_reply)
    finally:
        _withhold.reset(token)


def _handle_inbound(
    services: Services, form: Mapping[str, str], allow_reply: Callable[[str], bool] | None
) -> str:
    gateway_id = (form.get("id") or "").strip()
    sender_raw = (form.get("from") or "").strip()
    if not gateway_id:
        raise BadInboundSms("missing form field 'id'")
    if len(gateway_id) > MAX_GATEWAY_ID_LEN:
        # Stored and part of the reply's and the report's keys: never cut short (two ids would
        # then be one), so refused: a 400, which the gateway does not retry.
        raise BadInboundSms(f"form field 'id' is longer than {MAX_GATEWAY_ID_LEN} characters")
    if not sender_raw:
        raise BadInboundSms("missing form field 'from'")
    try:
        sender = services.normalise_phone(sender_raw)
    except InvalidPhoneNumber:
        raise BadInboundSms("form field 'from' is not a phone number") from None
    parsed = parse((form.get("text") or "")[:918])
    limit_key = keyed_digest(services.settings.phone_hash_key, RATE_LIMIT, sender)
    if allow_reply is not None and not allow_reply(limit_key):
        _withhold.set(True)
    filed_ref: str | None = None
    if parsed.command == "REPORT" and parsed.args:
        # File first: it is idempotent on the gateway id, so a crash before the dedupe row
        # below is committed is repaired by the gateway's retry, and no report is ever lost.
        filed_ref = _file_sms_report(services, sender, parsed, gateway_id)
    with services.uow() as uow:
        uow.session.add(
            InboundSms(
                gateway_id=gateway_id,
                from_hash=services.hash_phone(sender),
                command=parsed.command,
            )
        )
        try:
            uow.session.flush()
        except IntegrityError:
            return "duplicate"
        if filed_ref is not None:
            thanks = _text(
                "report_thanks",
                parsed.lang,
                ref=filed_ref,
                emergency=services.settings.emergency_number,
            )
            _reply(uow, services, sender, gateway_id, thanks)
        else:
            _HANDLERS.get(parsed.command, _unknown)(uow, services, sender, parsed, gateway_id)
        uow.commit()
    # A report's sender is never logged (issue 8, item 2): the line would tie it to the report;
    # nor a check-in's (the line would say this phone belongs to a returnee).
    sender_tag = "-" if parsed.command in ("REPORT", "CHECK") else mask(sender)
    log.info("inbound sms %s from %s handled", parsed.command, sender_tag)
    return parsed.command


def _reply(uow: UnitOfWork, services: Services, to: str, gateway_id: str, body: str) -> None:
    if _withhold.get():
        log.info("sms reply withheld: the sender is over the SMS reply limit")
        return
    outbox.stage(
        uow,
        services,
        to=to,
        body=body,
        purpose=SmsPurpose.REPLY,
        key=f"reply:{gateway_id}",
    )


def _text(key: str, lang: str, **values: str) -> str:
    return REPLIES[key][lang].format(**values)


def _staff(uow: UnitOfWork, sender: str) -> PartnerContact | None:
    return uow.session.scalar(
        select(PartnerContact)
        .join(Partner)
        .where(PartnerContact.phone == sender, PartnerContact.active, Partner.active)
    )


def _ref_arg(parsed: ParsedCommand) -> tuple[str | None, str]:
    first, _, rest = parsed.args.partition(" ")
    if not looks_like_reference(first):
        return None, parsed.args
    # A reference with a wrong check digit (a typo) matches no case: "No case ... was found".
    return normalise_reference(first) or first.upper()[:16], rest.strip()


def _staff_case(
    uow: UnitOfWork, services: Services, sender: str, parsed: ParsedCommand, gid: str, cmd: str
) -> tuple[PartnerContact, TraffickingReport | Registration, str] | None:
    """The partner contact, the case and the rest of the message for a staff command.

    Replies (and returns None) when the sender is not staff, the reference is missing, or no
    such case exists.
    """
    contact = _staff(uow, sender)
    if contact is None:
        _reply(uow, services, sender, gid, _text("not_staff", parsed.lang))
        return None
    ref, rest = _ref_arg(parsed)
    if ref is None:
        _reply(uow, services, sender, gid, _text("need_ref", parsed.lang, cmd=cmd))
        return None
    report: TraffickingReport | Registration | None = uow.session.scalar(
        select(TraffickingReport).where(TraffickingReport.ref == ref)
    )
    if report is None:  # a returnee registration (ACK R-482913) is a case too
        report = uow.session.scalar(select(Registration).where(Registration.ref == ref))
    if report is None:
        _reply(uow, services, sender, gid, _text("no_such_ref", parsed.lang, ref=ref))
        return None
    return contact, report, rest


def _actor(contact: PartnerContact) -> Actor:
    return Actor("sms", partner_code=contact.partner.code, contact_id=contact.id)


def _ack(uow: UnitOfWork, services: Services, sender: str, parsed: ParsedCommand, gid: str) -> None:
    found = _staff_case(uow, services, sender, parsed, gid, "ACK")
    if found is None:
        return None
    contact, report, _ = found
    result = actions.acknowledge(services, uow, report, _actor(contact))
    if result.outcome is Outcome.REFUSED:
        body = STAFF_REPLIES["not_yours"].format(ref=report.ref)
    elif result.outcome is Outcome.NOT_NOW:
        holder = actions.partner_name(uow, report.holder_partner_code)
        if report.status == "closed":
            body = STAFF_REPLIES["already_closed"].format(ref=report.ref)
        else:
            body = STAFF_REPLIES["already"].format(ref=report.ref, partner=holder)
    else:
        body = STAFF_REPLIES["acked"].format(ref=report.ref)
    _reply(uow, services, sender, gid, body)
    return None


def _close(
    uow: UnitOfWork, services: Services, sender: str, parsed: ParsedCommand, gid: str
) -> None:
    found = _staff_case(uow, services, sender, parsed, gid, "CLOSE")
    if found is None:
        return None
    contact, report, note = found
    result = actions.close(services, uow, report, _actor(contact), note=note or None)
    if result.outcome is Outcome.REFUSED:
        # Only a partner alerted to the case may learn who holds it.
        if report.holder_partner_code and may_see(uow.session, report, contact.partner.code):
            body = STAFF_REPLIES["not_holder"].format(
                ref=report.ref, partner=actions.partner_name(uow, report.holder_partner_code)
            )
        else:
            body = STAFF_REPLIES["not_yours"].format(ref=report.ref)
    elif result.outcome is Outcome.NOT_NOW:
        body = STAFF_REPLIES["already_closed"].format(ref=report.ref)
    else:
        body = STAFF_REPLIES["closed"].format(ref=report.ref)
    _reply(uow, services, sender, gid, body)
    return None


def _status(
    uow: UnitOfWork, services: Services, sender: str, parsed: ParsedCommand, gid: str
) -> None:
    ref, _ = _ref_arg(parsed)
    if ref is None:
        _reply(uow, services, sender, gid, _text("need_ref", parsed.lang, cmd="STATUS"))
        return None
    # Guessing references is slowed: one limit per phone for USSD checks and STATUS together.
    checks_key = keyed_digest(services.settings.phone_hash_key, RATE_LIMIT, sender)
    if not services.limits.allow("reference_checks", checks_key):
        _reply(uow, services, sender, gid, _text("checks_limited", parsed.lang))
        return None
    status = lookups.check_reference(services, ref, phone=sender)
    if status is None:
        _reply(uow, services, sender, gid, _text("no_such_ref", parsed.lang, ref=ref))
    else:
        label = lookups.status_label(status, parsed.lang)
        _reply(uow, services, sender, gid, _text("status", parsed.lang, ref=ref, status=label))
    return None


def _help(
    uow: UnitOfWork, services: Services, sender: str, parsed: ParsedCommand, gid: str
) -> None:
    """The commands this sender can use: a partner contact's (ACK, CLOSE), else the public ones."""
    if _staff(uow, sender) is not None:
        _reply(uow, services, sender, gid, STAFF_REPLIES["help"])
        return
    _reply(uow, services, sender, gid, _text("help", parsed.lang))


def _unknown(
    uow: UnitOfWork, services: Services, sender: str, parsed: ParsedCommand, gid: str
) -> None:
    # A basic-phone reply to the check-in may be just the digits ("1 2 1 2"): taken as CHECK
    # when the sender has a check-in to answer; anything else gets the help line.
    if parse_reply_codes(parsed.args) is not None:
        reg = checkin_sms.registration_of(uow, services, sender)
        if reg is not None and checkin_sms.answerable(uow, reg) is not None:
            _check(uow, services, sender, parsed, gid)
            return
    _reply(uow, services, sender, gid, _text("unknown", parsed.lang))


def _check(
    uow: UnitOfWork, services: Services, sender: str, parsed: ParsedCommand, gid: str
) -> None:
    """CHECK 1 2 1 2: the answers to the 90-day check-in from the phone that registered.

    The phone is matched by its keyed hash. A reference before the answers is allowed and
    ignored (the phone decides whose check-in it is). The answers are never logged or echoed.
    """
    reg = checkin_sms.registration_of(uow, services, sender)
    lang = reg.language if reg is not None and reg.language in ("en", "st") else parsed.lang
    if reg is None or checkin_sms.answerable(uow, reg) is None:
        _reply(uow, services, sender, gid, _text("checkin_none", lang))
        return
    args = parsed.args
    first, _, rest = args.partition(" ")
    if first[:1].isalpha() and looks_like_reference(first):  # "CHECK R-1234567 1 2 1 2"
        args = rest
    answers = parse_reply_codes(args)
    if answers is None:
        _reply(uow, services, sender, gid, _text("checkin_help", lang))
        return
    checkin_sms.record_reply(uow, reg, answers)
    _reply(uow, services, sender, gid, _text("checkin_saved", lang))


def _stop(
    uow: UnitOfWork, services: Services, sender: str, parsed: ParsedCommand, gid: str
) -> None:
    phone_hash = services.hash_phone(sender)
    if uow.session.scalar(select(SmsOptOut).where(SmsOptOut.phone_hash == phone_hash)) is None:
        uow.session.add(SmsOptOut(phone_hash=phone_hash))
    checkin_sms.stop(uow, services, sender)  # a check-in waiting for a reply ends here
    _reply(uow, services, sender, gid, _text("stopped", parsed.lang))


def _start(
    uow: UnitOfWork, services: Services, sender: str, parsed: ParsedCommand, gid: str
) -> None:
    uow.session.execute(
        delete(SmsOptOut).where(SmsOptOut.phone_hash == services.hash_phone(sender))
    )
    _reply(uow, services, sender, gid, _text("started", parsed.lang))


def _report(
    uow: UnitOfWork, services: Services, sender: str, parsed: ParsedCommand, gid: str
) -> None:
    """REPORT with no text (a report with text is filed before this runs)."""
    _reply(uow, services, sender, gid, _text("report_empty", parsed.lang))


def _file_sms_report(services: Services, sender: str, parsed: ParsedCommand, gid: str) -> str:
    """File a report sent by SMS (P2 unless its words are enough to say more); its reference."""
    from ussd_app.reports.intake import submit_report

    ref, _priority = submit_report(
        services,
        phone=sender,
        language=parsed.lang,
        answers={},
        channel="sms",
        sms_text=parsed.args,
        idempotency_key=f"sms:{gid}",
        default_priority="P2",
    )
    return ref


_HANDLERS = {
    "ACK": _ack,
    "CLOSE": _close,
    "STATUS": _status,
    "HELP": _help,
    "STOP": _stop,
    "START": _start,
    "REPORT": _report,
    "CHECK": _check,
}
