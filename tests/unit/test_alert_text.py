"""Alert and confirmation texts: one GSM-7 SMS each, codes only, never the reporter's details."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ussd_app.cases.texts import (
    SMS_LIMIT,
    alert_text,
    escalation_text,
    reporter_confirmation_text,
    returnee_confirmation_text,
)
from ussd_app.codes import (
    BORDER_POSTS,
    CHILD_INVOLVED,
    DISTRICTS,
    NEEDS,
    PRIORITIES,
    RED_FLAGS,
    WHEN_SEEN,
)
from ussd_app.gsm7 import is_gsm7, septets
from ussd_app.partners.routing import ReportFacts, facts_from_report

refs = st.one_of(
    st.from_regex(r"[TR]-[0-9]{4,8}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9-]{1,16}", fullmatch=True),
)
places = st.one_of(
    st.none(),
    st.sampled_from([*DISTRICTS, *BORDER_POSTS, "other"]),
    st.text(max_size=30),  # any code at all, even nonsense, must still give a valid text
)


def facts_with(ref_strategy: st.SearchStrategy[str]) -> st.SearchStrategy[ReportFacts]:
    return st.builds(
        ReportFacts,
        ref=ref_strategy,
        priority=st.sampled_from(PRIORITIES),
        place=places,
        district=st.one_of(st.none(), st.sampled_from(list(DISTRICTS))),
        child_involved=st.one_of(st.none(), st.sampled_from(CHILD_INVOLVED)),
        flags=st.frozensets(st.sampled_from(list(RED_FLAGS))),
        when_seen=st.one_of(st.none(), st.sampled_from(WHEN_SEEN)),
        incomplete=st.booleans(),
    )


report_facts = facts_with(refs)


def _all_alert_texts(facts: ReportFacts) -> list[str]:
    return [
        alert_text(facts, "full"),
        alert_text(facts, "brief"),
        escalation_text(facts, 15),
        escalation_text(facts, 24 * 60),
    ]


def _fits_one_sms(text: str) -> bool:
    return is_gsm7(text) and septets(text) <= SMS_LIMIT


@given(report_facts)
@settings(max_examples=300)
def test_every_alert_text_fits_one_gsm7_sms(facts: ReportFacts) -> None:
    for text in _all_alert_texts(facts):
        assert _fits_one_sms(text), text
        assert facts.ref in text
        assert f"Reply ACK {facts.ref}" in text
        assert facts.priority in text
        assert ("INCOMPLETE" in text) == facts.incomplete


@given(report_facts)
def test_full_text_lists_every_flag_and_brief_text_none(facts: ReportFacts) -> None:
    full, brief = alert_text(facts, "full"), alert_text(facts, "brief")
    for flag in facts.flags:
        assert flag in full.replace(",", " ").replace(".", " ").split()
    assert "Flags" not in brief
    assert brief.startswith(f"New {facts.priority} report {facts.ref} ")
    assert brief.endswith(f"Details on desk. Reply ACK {facts.ref}")


lesotho_mobiles = st.from_regex(r"\+266[56][0-9]{7}", fullmatch=True)
free_texts = st.from_regex(r"[a-z]{4,10}( [a-z]{4,10}){2,6}", fullmatch=True)


# Real references only here: a random ref like "AAAA" could coincide with generated free text.
report_facts_real_refs = facts_with(st.from_regex(r"T-[0-9]{4,6}", fullmatch=True))


@given(facts=report_facts_real_refs, phone=lesotho_mobiles, free=free_texts, consent=st.booleans())
@settings(max_examples=300)
def test_reporter_number_and_free_text_never_reach_an_alert(
    facts: ReportFacts, phone: str, free: str, consent: bool
) -> None:
    national = str(phonenumbers.parse(phone).national_number)
    report = {
        "ref": facts.ref,
        "priority": facts.priority,
        "place": facts.place,
        "district": facts.district,
        "child_involved": facts.child_involved,
        "flags": sorted(facts.flags),
        "when_seen": facts.when_seen,
        "incomplete": facts.incomplete,
        # Everything below must stay out of every alert.
        "msisdn": phone,
        "reporter_phone": phone,
        "phone_number": phone,
        "callback_consent": consent,
        "flag_other_text": free,
        "place_text": free,
        "vehicle_text": free,
        "sms_text": free,
        "notes": f"call me on {phone}: {free}",
    }
    built = facts_from_report(report)
    # Alerts are a function of the facts alone, so nothing else in the report can reach them.
    assert built == facts
    for text in _all_alert_texts(built):
        assert phone not in text
        assert national not in text
        assert national[-7:] not in text
        assert free not in text
        assert free.split()[0] + " " + free.split()[1] not in text


@pytest.mark.parametrize("lang", ["en", "st"])
@given(ref=refs, code=st.sampled_from([None, "*123#", "*120*4455#"]))
def test_reporter_confirmation_is_short_and_neutral(lang: str, ref: str, code: str | None) -> None:
    text = reporter_confirmation_text(ref, lang, code)
    assert _fits_one_sms(text)
    assert ref in text
    _assert_neutral(text)


@pytest.mark.parametrize("lang", ["en", "st"])
@given(
    ref=refs,
    needs=st.lists(st.sampled_from(NEEDS), unique=True),
    code=st.sampled_from([None, "*123#", "*120*4455#"]),
)
def test_returnee_confirmation_is_short_and_neutral(
    lang: str, ref: str, needs: list[str], code: str | None
) -> None:
    text = returnee_confirmation_text(ref, lang, needs, code)
    assert _fits_one_sms(text)
    assert ref in text
    if code:
        assert code in text
    _assert_neutral(text)


def _assert_neutral(text: str) -> None:
    lowered = text.lower()
    for word in ("traffick", "police", "polesa", "alert", "report", "tlaleh", "victim", "abuse"):
        assert word not in lowered, text


def test_examples_read_as_documented() -> None:
    facts = ReportFacts(
        "T-5307", "P1", "maputsoe_bridge", None, "yes", frozenset({"F8", "F1", "F3"}), "now"
    )
    assert alert_text(facts, "full") == (
        "P1 ALERT T-5307: MaputsoeBr. Seen now. Flags F1,F3,F8. Child: yes. Reply ACK T-5307"
    )
    p2 = ReportFacts("T-5307", "P2", "LS-A", incomplete=True)
    assert (
        alert_text(p2, "brief")
        == "New P2 report T-5307 Maseru INCOMPLETE. Details on desk. Reply ACK T-5307"
    )
    assert (
        alert_text(p2, "full")
        == "P2 ALERT T-5307: Maseru. INCOMPLETE. Flags none. Reply ACK T-5307"
    )
    vague = ReportFacts("T-1", "P3", "other", "LS-F")
    assert "MohHoek" in alert_text(vague, "brief")
    assert escalation_text(facts, 15).startswith(
        "ESCALATION P1 T-5307 MaputsoeBr: not acknowledged after 15 min."
    )
    assert (
        reporter_confirmation_text("T-5307", "en")
        == "Thank you. Your reference is T-5307. Keep it safe."
    )
    assert returnee_confirmation_text("R-482913", "en", ["skills", "documents"], "*123#") == (
        "Welcome home. Your reference is R-482913. A case worker may contact you about: training, "
        "documents. To check or delete your details, dial *123#."
    )


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        reporter_confirmation_text("T-1", "fr")
