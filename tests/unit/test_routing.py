"""Routing rules, case by case, over a small hand-built directory (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ussd_app.partners.file_format import read_partners_file
from ussd_app.partners.routing import (
    Recipient,
    ReportFacts,
    escalation_targets,
    facts_from_report,
    next_contact,
    route_report,
)
from ussd_app.partners.snapshot import (
    ContactInfo,
    DirectorySnapshot,
    PartnerInfo,
    directory_from_specs,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "partners.example.yaml"

_ids = iter(range(1, 10_000))


def contact(
    code: str,
    n: int,
    *,
    on_duty: bool = True,
    escalation: bool = False,
    position: int | None = None,
) -> ContactInfo:
    contact_id = next(_ids)
    return ContactInfo(
        id=contact_id,
        partner_code=code,
        name=f"{code} {n}",
        phone=f"+2665999{contact_id:04d}",  # unique per contact, like the database's constraint
        on_duty=on_duty,
        is_escalation=escalation,
        position=n if position is None else position,
    )


def partner(
    code: str,
    kind: str = "police",
    *,
    desk: bool = False,
    districts: tuple[str, ...] = (),
    posts: tuple[str, ...] = (),
    kinds: tuple[str, ...] = ("trafficking", "child"),
    contacts: tuple[ContactInfo, ...] | None = None,
) -> PartnerInfo:
    if contacts is None:
        contacts = (contact(code, 1), contact(code, 2, on_duty=False, escalation=True))
    return PartnerInfo(
        id=next(_ids),
        code=code,
        name=code,
        kind=kind,
        is_national_desk=desk,
        districts=frozenset(districts),
        border_posts=frozenset(posts),
        case_kinds=frozenset(kinds),
        contacts=contacts,
    )


DESK = partner("desk", desk=True)
MASERU = partner("lmps-maseru", districts=("LS-A",))
LERIBE = partner("lmps-leribe", districts=("LS-C",))
MAPUTSOE_POST = partner("lmps-maputsoe-bridge", posts=("maputsoe_bridge",))
BDS = partner("bds", "ngo", posts=("maputsoe_bridge", "maseru_bridge"))
CHILD = partner("cgpu", kinds=("child",))
CHILD_NGO_LERIBE = partner("child-ngo", "ngo", districts=("LS-C",), kinds=("child",))
RETURNEES = partner("skillshare", "ngo", kinds=("returnee",))
DIRECTORY = DirectorySnapshot(
    (DESK, MASERU, LERIBE, MAPUTSOE_POST, BDS, CHILD, CHILD_NGO_LERIBE, RETURNEES)
)


def facts(**kw: object) -> ReportFacts:
    values: dict[str, object] = {"ref": "T-5307", "priority": "P2", "child_involved": "no"}
    values.update(kw)
    return ReportFacts(**values)  # type: ignore[arg-type]


def codes(recipients: list[Recipient]) -> list[str]:
    return [r.partner_code for r in recipients]


def test_national_desk_always_gets_the_report_even_with_no_place() -> None:
    routed = route_report(facts(place=None), DIRECTORY)
    assert codes(routed) == ["desk"]
    assert routed[0].role == "duty_desk"


def test_district_report_goes_to_that_districts_focal_point_only() -> None:
    routed = route_report(facts(place="LS-A"), DIRECTORY)
    assert codes(routed) == ["desk", "lmps-maseru"]
    assert routed[1].role == "focal_point"


def test_border_post_report_goes_to_post_and_its_district_and_monitoring_ngo() -> None:
    routed = route_report(facts(place="maputsoe_bridge"), DIRECTORY)
    assert codes(routed) == ["desk", "lmps-leribe", "lmps-maputsoe-bridge", "bds"]
    assert [r.role for r in routed] == ["duty_desk", "focal_point", "focal_point", "ngo"]


def test_border_post_without_its_own_focal_point_still_reaches_the_district() -> None:
    routed = route_report(facts(place="maseru_bridge"), DIRECTORY)
    assert codes(routed) == ["desk", "lmps-maseru", "bds"]


def test_ngo_at_posts_does_not_get_district_reports() -> None:
    assert "bds" not in codes(route_report(facts(place="LS-C"), DIRECTORY))


def test_other_place_uses_the_district_answered() -> None:
    routed = route_report(facts(place="other", district="LS-C"), DIRECTORY)
    assert codes(routed) == ["desk", "lmps-leribe"]


def test_informal_crossing_without_district_goes_to_the_desk() -> None:
    assert codes(route_report(facts(place="informal"), DIRECTORY)) == ["desk"]


@pytest.mark.parametrize("child", ["yes", "unsure"])
def test_child_protection_partners_hear_when_a_child_may_be_involved(child: str) -> None:
    routed = route_report(facts(place="LS-C", child_involved=child), DIRECTORY)
    assert codes(routed) == ["desk", "cgpu", "lmps-leribe", "child-ngo"]


@pytest.mark.parametrize("child", ["no", None])
def test_child_protection_partners_do_not_hear_otherwise(child: str | None) -> None:
    routed = route_report(facts(place="LS-C", child_involved=child), DIRECTORY)
    assert "cgpu" not in codes(routed)
    assert "child-ngo" not in codes(routed)


def test_child_ngo_is_limited_to_its_districts() -> None:
    routed = route_report(facts(place="LS-A", child_involved="yes"), DIRECTORY)
    assert codes(routed) == ["desk", "cgpu", "lmps-maseru"]


def test_returnee_partners_never_get_trafficking_reports() -> None:
    for place in ("LS-A", "maputsoe_bridge", None):
        assert "skillshare" not in codes(
            route_report(facts(place=place, child_involved="yes"), DIRECTORY)
        )


def test_p1_sends_full_detail_to_everyone_and_p2_p3_brief() -> None:
    for priority, detail in (("P1", "full"), ("P2", "brief"), ("P3", "brief")):
        routed = route_report(facts(place="maputsoe_bridge", priority=priority), DIRECTORY)
        assert {r.detail for r in routed} == {detail}


def test_first_on_duty_contact_by_position_is_chosen_and_only_one_per_partner() -> None:
    c_off = contact("p", 1, on_duty=False, position=1)
    c_late = contact("p", 2, position=5)
    c_early = contact("p", 3, position=2)
    c_esc = contact("p", 4, on_duty=False, escalation=True, position=9)
    p = partner("p", districts=("LS-A",), contacts=(c_off, c_late, c_early, c_esc))
    routed = route_report(facts(place="LS-A"), DirectorySnapshot((DESK, p)))
    assert [r.contact_id for r in routed if r.partner_code == "p"] == [c_early.id]


def test_partner_with_nobody_on_duty_falls_back_to_its_escalation_contact() -> None:
    esc = contact("p", 2, on_duty=False, escalation=True)
    p = partner("p", districts=("LS-A",), contacts=(contact("p", 1, on_duty=False), esc))
    routed = route_report(facts(place="LS-A"), DirectorySnapshot((DESK, p)))
    assert routed[1].contact_id == esc.id


def test_partner_with_no_reachable_contact_is_skipped() -> None:
    p = partner("p", districts=("LS-A",), contacts=(contact("p", 1, on_duty=False),))
    assert codes(route_report(facts(place="LS-A"), DirectorySnapshot((DESK, p)))) == ["desk"]


def test_the_same_phone_is_never_alerted_twice() -> None:
    shared = contact("a", 1)
    a = partner("a", districts=("LS-A",), contacts=(shared,))
    b = partner(
        "b",
        districts=("LS-A",),
        contacts=(ContactInfo(999_001, "b", "b", shared.phone, True, True, 1),),
    )
    routed = route_report(facts(place="LS-A"), DirectorySnapshot((DESK, a, b)))
    assert [r.phone for r in routed].count(shared.phone) == 1


def test_no_desk_in_the_directory_still_routes_to_focal_points() -> None:
    assert codes(route_report(facts(place="LS-A"), DirectorySnapshot((MASERU,)))) == ["lmps-maseru"]


def test_next_contact_walks_on_duty_then_escalation_contacts() -> None:
    c1, c2 = contact("p", 1), contact("p", 2)
    esc = contact("p", 3, on_duty=False, escalation=True)
    off = contact("p", 4, on_duty=False)
    p = partner("p", contacts=(c1, c2, esc, off))
    directory = DirectorySnapshot((p,))
    assert next_contact("p", c1.id, directory) == c2
    assert next_contact(p, c2.id, directory) == esc
    assert next_contact("p", esc.id, directory) is None
    assert next_contact("p", c1.id, directory, exclude={c2.id}) == esc
    assert next_contact("gone", c1.id, directory) is None


def test_next_contact_after_an_unknown_contact_starts_at_the_top() -> None:
    c1 = contact("p", 1)
    p = partner("p", contacts=(c1,))
    assert next_contact("p", 123_456, DirectorySnapshot((p,))) == c1


def test_recipient_with_contact_keeps_role_and_detail() -> None:
    r = route_report(facts(place="LS-A", priority="P1"), DIRECTORY)[1]
    other = MASERU.contacts[1]
    moved = r.with_contact(other)
    assert (moved.contact_id, moved.phone, moved.role, moved.detail) == (
        other.id,
        other.phone,
        "focal_point",
        "full",
    )


def test_escalation_targets_are_the_supervisor_and_the_desk() -> None:
    targets = escalation_targets("lmps-leribe", DIRECTORY)
    assert [(t.partner_code, t.role) for t in targets] == [
        ("lmps-leribe", "escalation"),
        ("desk", "duty_desk"),
    ]
    assert targets[0].contact_id == LERIBE.contacts[1].id
    assert targets[1].contact_id == DESK.contacts[0].id


def test_escalation_for_the_desk_goes_to_its_own_supervisor() -> None:
    targets = escalation_targets("desk", DIRECTORY)
    assert [(t.partner_code, t.contact_id) for t in targets] == [("desk", DESK.contacts[1].id)]


def test_escalation_for_an_unknown_partner_goes_to_the_desk() -> None:
    assert codes(escalation_targets("gone", DIRECTORY)) == ["desk"]


def test_example_file_routes_a_maputsoe_child_report_as_documented() -> None:
    directory = directory_from_specs(read_partners_file(EXAMPLE))
    routed = route_report(
        facts(place="maputsoe_bridge", child_involved="yes", priority="P1"), directory
    )
    assert codes(routed) == [
        "lmps-atu-desk",
        "lmps-cgpu",
        "lmps-leribe",
        "lmps-maputsoe-bridge",
        "bds-maputsoe",
    ]
    assert len({r.phone for r in routed}) == len(routed)


@pytest.mark.parametrize(
    "bad",
    [
        {"ref": "T 5307"},
        {"ref": ""},
        {"priority": "P4"},
        {"flags": ["F10"]},
        {"district": "LS-Z"},
        {"child_involved": "maybe"},
        {"when_seen": "soon"},
    ],
)
def test_report_facts_refuse_values_outside_the_codes(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"reference|priority|red-flag|district|child|when"):
        facts(**bad)


def test_facts_from_report_copies_only_known_codes() -> None:
    report = {
        "ref": "T-5307",
        "priority": "P1",
        "place": "maseru_bridge",
        "district": "LS-Z",
        "child_involved": "yes",
        "flags": ["f1", "F8", "F42"],
        "when_seen": "now",
        "incomplete": 1,
        "reporter_phone": "+26658123456",
    }
    f = facts_from_report(report)
    assert f == ReportFacts(
        "T-5307", "P1", "maseru_bridge", None, "yes", frozenset({"F1", "F8"}), "now", True
    )


def test_facts_from_report_reads_attributes_and_flag_strings() -> None:
    class Row:
        ref = "T-1"
        priority = "P9"
        place = None
        district = "LS-A"
        child_involved = None
        flags = "F2, F3"
        when_seen = None
        incomplete = False

    f = facts_from_report(Row())
    assert (f.priority, f.flags, f.place_district) == ("P3", frozenset({"F2", "F3"}), "LS-A")
