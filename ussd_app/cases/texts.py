"""SMS texts: alerts to partners, and the neutral confirmations a caller may opt in to.

Every text fits one SMS (160 GSM-7 septets) and is built only from codes: alerts take
`ReportFacts`, which cannot hold the reporter's number or free text, so no alert can leak them.
Partner alerts never spell out the case either (officers' phones get shared and lost;
domain-lesotho.md 2.3-2.4): reference, priority, place, when, red-flag codes, and how to
acknowledge. Texts to the public (reporters, returnees) use neutral words only, with nothing
that shows what the service is about to someone else reading the phone.
"""

from __future__ import annotations

from collections.abc import Iterable

from ussd_app import sms_texts
from ussd_app.codes import BORDER_POSTS, DISTRICT_SHORT, place_short
from ussd_app.gsm7 import is_gsm7, septets
from ussd_app.partners.routing import Detail, ReportFacts

SMS_LIMIT = 160
ACK_KEYWORD = "ACK"
LANGUAGES = ("en", "st")
FLOOD_LIMIT_WIDTH = 24  # sms_texts.yaml placeholders: limit

# The words of every text below are in ussd_app/sms_texts.yaml (reviewed through `ussd-app copy`).
_WHEN_WORDS = {key: by_lang["en"] for key, by_lang in sms_texts.section("when_words").items()}


def _t(section: str, key: str, lang: str = "en", **values: str) -> str:
    return sms_texts.fill(sms_texts.text(section, key, lang), values)


def _checked(text: str) -> str:
    """Refuse a text that would not go out as one GSM-7 SMS (a bug, never user input).

    Raises rather than asserts so the check survives `python -O`.
    """
    if not is_gsm7(text):
        raise ValueError(f"non-GSM-7 character in SMS text: {text!r}")
    if septets(text) > SMS_LIMIT:
        raise ValueError(f"SMS text over {SMS_LIMIT} septets: {text!r}")
    return text


def place_label(facts: ReportFacts) -> str:
    """Short place name: the post or district; the answered district when the place is vague."""
    if facts.place in BORDER_POSTS or facts.place in DISTRICT_SHORT:
        return place_short(facts.place)
    if facts.district:
        return DISTRICT_SHORT[facts.district]
    return place_short(facts.place)


def ack_instruction(ref: str) -> str:
    """The reply that acknowledges an alert (parsed by the inbound SMS handler)."""
    return f"Reply {ACK_KEYWORD} {ref}"


def alert_text(facts: ReportFacts, detail: Detail) -> str:
    """The alert SMS to a partner contact.

    full:  "P1 ALERT T-5307: MaputsoeBr. Seen now. Flags F1,F3,F8. Child: yes. Reply ACK T-5307"
    brief: "New P2 report T-5307 MaputsoeBr. Details on desk. Reply ACK T-5307"
    Incomplete reports (the caller dropped before the end) say INCOMPLETE.
    """
    ack = ack_instruction(facts.ref)
    place = place_label(facts)
    if detail == "full":
        parts = [_t("alerts", "full", priority=facts.priority, ref=facts.ref, place=place)]
        if facts.incomplete:
            parts.append(_t("alerts", "incomplete"))
        if facts.when_seen:
            parts.append(_t("alerts", "seen", when=_WHEN_WORDS[facts.when_seen]))
        flags = ",".join(sorted(facts.flags, key=lambda f: int(f[1:]))) or "none"
        parts.append(_t("alerts", "flags", flags=flags))
        if facts.child_maybe:
            parts.append(_t("alerts", "child", child=str(facts.child_involved)))
        parts.append(ack)
        text = " ".join(parts)
        if septets(text) <= SMS_LIMIT:
            return _checked(text)
    # brief (and the fallback should a full text ever not fit)
    values = {"priority": facts.priority, "ref": facts.ref, "place": place, "ack": ack}
    return _checked(_t("alerts", "brief", marker=_marker(facts), **values))


def _marker(facts: ReportFacts) -> str:
    """The INCOMPLETE marker after the place in a brief alert or an escalation, if it applies."""
    return " " + _t("alerts", "incomplete").rstrip(".") if facts.incomplete else ""


def escalation_text(facts: ReportFacts, minutes_unacknowledged: int) -> str:
    """To a supervisor and the duty desk when an alert was not acknowledged in time."""
    values = {"priority": facts.priority, "ref": facts.ref, "place": place_label(facts)}
    return _checked(
        _t(
            "alerts",
            "escalation",
            marker=_marker(facts),
            minutes=str(minutes_unacknowledged),
            ack=ack_instruction(facts.ref),
            **values,
        )
    )


def flood_text(count: int, limit: str, first_ref: str, last_ref: str, *, update: bool) -> str:
    """To the duty desk about a possible flood: how many reports, the limit, first and last."""
    key = "flood_update" if update else "flood"
    limit = limit[:FLOOD_LIMIT_WIDTH]  # "5 per 1 hour"; a longer setting is cut, never refused
    values = {"count": str(count), "limit": limit, "ref": first_ref, "last": last_ref}
    text = _t("alerts", key, **values)
    if septets(text) > SMS_LIMIT:  # longer references or counts one day: the shorter text
        text = _t("alerts", "flood_update", **values)
    return _checked(text)


def flood_escalation_text(count: int, minutes: int, first_ref: str, last_ref: str) -> str:
    """To the duty desk's escalation contacts, once per flood, when its urgent reports are not
    taken in time (never one escalation SMS per report of a flood)."""
    values = {"count": str(count), "minutes": str(minutes), "ref": first_ref, "last": last_ref}
    return _checked(_t("alerts", "flood_escalation", **values))


# -- texts to the public: neutral words only ---------------------------------------------------


def _lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} is not one of {LANGUAGES}")
    return lang


def reporter_confirmation_text(ref: str, lang: str, service_code: str | None = None) -> str:
    """Sent only if the caller asked for an SMS: a reference and nothing about the subject."""
    lang = _lang(lang)
    text = _t("confirmations", "reporter", lang, ref=ref)
    if service_code:
        text += " " + _t("confirmations", "reporter_check", lang, service_code=service_code)
    return _checked(text)


# Returnee needs (reference.NEEDS) in the words of the next-steps text.
_NEED_WORDS: dict[str, dict[str, str]] = {
    lang: {need: words[lang] for need, words in sms_texts.section("need_words").items()}
    for lang in LANGUAGES
}


def returnee_confirmation_text(
    ref: str, lang: str, needs: Iterable[str] = (), service_code: str | None = None
) -> str:
    """Welcome and next steps after registration: reference, who may call, how to check/delete."""
    lang = _lang(lang)
    words = [_NEED_WORDS[lang][n] for n in needs if n in _NEED_WORDS[lang]]
    head = _t("confirmations", "returnee", lang, ref=ref)
    about = " " + _t("confirmations", "returnee_about", lang, needs=", ".join(words))
    about = about if words else ""
    tail = ""
    if service_code:
        tail = " " + _t("confirmations", "returnee_check", lang, service_code=service_code)
    text = head + about + tail
    if septets(text) > SMS_LIMIT:
        text = head + tail
    return _checked(text)


# -- registration notices to partners (issue 10): codes in words, never a name or number ------

# Returnee needs as partners read them in a notice.
NEED_NOTICE_WORDS: dict[str, str] = {
    "livelihood": "livelihood",
    "skills": "skills",
    "documents": "documents",
    "clinic": "clinic",
    "other": "other",
}


def registration_notice_text(
    ref: str, district: str | None, needs: Iterable[str], *, reminder: bool = False
) -> str:
    """The SMS telling a partner of a registration (or, once, that it is still not taken).

    "New returnee R-482913, Leribe: livelihood, skills. Details on desk. Reply ACK R-482913"
    """
    place = DISTRICT_SHORT.get(district or "", "district not given")
    words = ", ".join(NEED_NOTICE_WORDS[n] for n in needs if n in NEED_NOTICE_WORDS)
    about = f": {words}" if words else ""
    head = "Reminder, not yet taken: returnee" if reminder else "New returnee"
    return _checked(f"{head} {ref}, {place}{about}. Details on desk. {ack_instruction(ref)}")


# -- keeping a returnee informed (issue 10, items 5 and 6): neutral, in their language --------


def returnee_taken_text(ref: str, lang: str) -> str:
    """To a returnee who chose SMS when a partner takes their registration; names nobody."""
    return _checked(_t("confirmations", "returnee_taken", _lang(lang), ref=ref))


def returnee_arranged_text(ref: str, lang: str) -> str:
    """When a referral of theirs is accepted ("service arranged"); never the need or partner."""
    return _checked(_t("confirmations", "returnee_arranged", _lang(lang), ref=ref))


def returnee_checkin_text(ref: str, lang: str) -> str:
    """The 90-day check-in: four yes/no questions answered in one reply (inbound CHECK)."""
    return _checked(_t("confirmations", "returnee_checkin", _lang(lang), ref=ref))
