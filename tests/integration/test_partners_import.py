"""Importing the partners file: the example works, bad files are refused whole, re-import
updates."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from ussd_app.db import Base, UnitOfWork, make_session_factory
from ussd_app.partners.file_format import PartnersFileError, read_partners_file
from ussd_app.partners.importer import import_partners
from ussd_app.partners.models import Partner, PartnerContact
from ussd_app.partners.routing import ReportFacts, route_report
from ussd_app.partners.snapshot import load_directory

EXAMPLE = Path(__file__).resolve().parents[2] / "partners.example.yaml"


@pytest.fixture
def session_factory(clean_db: Engine) -> sessionmaker[Session]:
    # The lead's migrations will create these tables; until then build them here (idempotent).
    tables = [Base.metadata.tables["partners"], Base.metadata.tables["partner_contacts"]]
    Base.metadata.create_all(clean_db, tables=tables)
    return make_session_factory(clean_db)


def example() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return data


def write(tmp_path: Path, data: dict[str, Any], name: str = "partners.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def entry(data: dict[str, Any], code: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in data["partners"] if p["code"] == code)
    return found


def count(sf: sessionmaker[Session], model: type[Base]) -> int:
    with sf() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_example_file_imports_and_routes(session_factory: sessionmaker[Session]) -> None:
    summary = import_partners(session_factory, EXAMPLE)
    assert len(summary.created) == 16
    assert summary.updated == ()
    assert summary.contacts_created == count(session_factory, PartnerContact) == 33
    with session_factory() as session:
        directory = load_directory(session)
        desk = session.scalar(select(Partner).where(Partner.code == "lmps-atu-desk"))
        assert desk is not None
        assert desk.is_national_desk
        assert [c.phone for c in desk.contacts] == ["+26659990001", "+26659990002", "+26659990003"]
    assert directory.national_desk is not None
    assert directory.national_desk.code == "lmps-atu-desk"
    routed = route_report(ReportFacts("T-5307", "P1", "maseru_bridge"), directory)
    assert [r.partner_code for r in routed] == [
        "lmps-atu-desk",
        "lmps-maseru",
        "lmps-maseru-bridge",
        "bds-maseru",
    ]
    assert all(directory.contact(r.contact_id) for r in routed)


def test_import_accepts_a_unit_of_work(session_factory: sessionmaker[Session]) -> None:
    summary = import_partners(UnitOfWork(session_factory), EXAMPLE)
    assert len(summary.created) == 16


Mutation = Callable[[dict[str, Any]], None]


def _set(code: str, key: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        entry(data, code)[key] = value

    return mutate


def _set_contact(code: str, index: int, key: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        entry(data, code)["contacts"][index][key] = value

    return mutate


def _no_desk(data: dict[str, Any]) -> None:
    entry(data, "lmps-atu-desk")["national_desk"] = False


def _two_desks(data: dict[str, Any]) -> None:
    entry(data, "lmps-maseru")["national_desk"] = True


def _no_escalation(data: dict[str, Any]) -> None:
    for c in entry(data, "bds-maputsoe")["contacts"]:
        c["escalation"] = False


def _nobody_on_duty(data: dict[str, Any]) -> None:
    for c in entry(data, "bds-maputsoe")["contacts"]:
        c["on_duty"] = False


def _duplicate_code(data: dict[str, Any]) -> None:
    clone = copy.deepcopy(entry(data, "bds-maputsoe"))
    for i, c in enumerate(clone["contacts"]):
        c["phone"] = f"+2665888000{i}"
    data["partners"].append(clone)


# bds-maputsoe is entry 8 of the example file.
@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            _set("bds-maputsoe", "districts", ["LS-Z"]),
            "partners.yaml entry 8 (bds-maputsoe): unknown district 'LS-Z'",
        ),
        (
            _set("bds-maputsoe", "border_posts", ["ficksburg"]),
            "partners.yaml entry 8 (bds-maputsoe): unknown border post 'ficksburg'",
        ),
        (
            _set("bds-maputsoe", "case_kinds", ["smuggling"]),
            "partners.yaml entry 8 (bds-maputsoe): unknown case kind 'smuggling'",
        ),
        (
            _set("bds-maputsoe", "kind", "church"),
            "partners.yaml entry 8 (bds-maputsoe): kind 'church' must be one of police, ngo",
        ),
        (
            _set_contact("bds-maputsoe", 0, "phone", "+2665"),
            "partners.yaml entry 8 (bds-maputsoe) contact 1: bad phone number '+2665'",
        ),
        (
            _set_contact("bds-maputsoe", 0, "phone", 26659990071),
            "partners.yaml entry 8 (bds-maputsoe) contact 1: phone must be quoted text",
        ),
        (
            _set_contact("bds-maputsoe", 1, "phone", "+26659990001"),
            "partners.yaml entry 8 (bds-maputsoe) contact 2: duplicate contact number "
            "+26659990001 (also partners.yaml entry 1 (lmps-atu-desk) contact 1)",
        ),
        (
            _set_contact("bds-maputsoe", 1, "phone", "5999 0001"),  # national format, same number
            "partners.yaml entry 8 (bds-maputsoe) contact 2: duplicate contact number",
        ),
        (
            _set_contact("bds-maputsoe", 0, "escalaton", True),
            "partners.yaml entry 8 (bds-maputsoe) contact 1: unknown field 'escalaton'",
        ),
        (
            _no_escalation,
            "partners.yaml entry 8 (bds-maputsoe): no escalation contact",
        ),
        (_nobody_on_duty, "partners.yaml entry 8 (bds-maputsoe): no contact is on duty"),
        (_set("bds-maputsoe", "contacts", []), "partners.yaml entry 8 (bds-maputsoe): no contacts"),
        (
            _set("bds-maputsoe", "code", "BDS Maputsoe"),
            "partners.yaml entry 8 (BDS Maputsoe): code 'BDS Maputsoe' must be lower-case",
        ),
        (_duplicate_code, "partners.yaml entry 17 (bds-maputsoe): duplicate code 'bds-maputsoe'"),
        (_set("bds-maputsoe", "national_desk", "maybe"), "national_desk must be yes or no"),
        (_no_desk, "missing national duty desk"),
        (_two_desks, "more than one national duty desk: lmps-atu-desk, lmps-maseru"),
    ],
)
def test_each_kind_of_bad_file_names_the_entry(
    tmp_path: Path, mutate: Mutation, expected: str
) -> None:
    data = example()
    mutate(data)
    with pytest.raises(PartnersFileError) as info:
        read_partners_file(write(tmp_path, data))
    # One mistake, one problem: no knock-on complaints about the same entry.
    assert len(info.value.problems) == 1, info.value.problems
    assert info.value.problems[0].startswith(expected) or expected in info.value.problems[0]
    assert expected.split(":")[0] in str(info.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = example()
    entry(data, "bds-maputsoe")["districts"] = ["LS-Z"]
    entry(data, "lmps-leribe")["contacts"][0]["phone"] = "not a number"
    entry(data, "mwa-lesotho")["case_kinds"] = ["jobs"]
    with pytest.raises(PartnersFileError) as info:
        read_partners_file(write(tmp_path, data))
    assert len(info.value.problems) == 3
    assert "3 problem(s), nothing imported" in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("partners: [", "not valid YAML"),
        ("- just a list", "expected a mapping with a 'partners:' list"),
        ("partners: []", "the file lists no partners"),
        ("partners:\n  - 42\n", "partners.yaml entry 1: expected a mapping"),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "partners.yaml"
    path.write_text(text)
    with pytest.raises(PartnersFileError, match=expected):
        read_partners_file(path)


def test_missing_file_is_a_partners_file_error(tmp_path: Path) -> None:
    with pytest.raises(PartnersFileError, match="cannot read"):
        read_partners_file(tmp_path / "nope.yaml")


def test_a_bad_file_changes_nothing(tmp_path: Path, session_factory: sessionmaker[Session]) -> None:
    import_partners(session_factory, EXAMPLE)
    data = example()
    entry(data, "lmps-maseru")["name"] = "Renamed"
    data["partners"].append({"code": "new-ngo", "name": "New", "kind": "ngo", "contacts": []})
    with pytest.raises(PartnersFileError, match=r"entry 17 \(new-ngo\)"):
        import_partners(session_factory, write(tmp_path, data))
    with session_factory() as session:
        names = {p.code: p.name for p in session.scalars(select(Partner))}
    assert names["lmps-maseru"] == "LMPS Maseru district focal point"
    assert "new-ngo" not in names


def test_a_bad_first_import_leaves_the_database_empty(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    data = example()
    entry(data, "mwa-lesotho")["districts"] = ["Nowhere"]
    with pytest.raises(PartnersFileError):
        import_partners(session_factory, write(tmp_path, data))
    assert count(session_factory, Partner) == 0
    assert count(session_factory, PartnerContact) == 0


def test_reimport_updates_by_code_and_phone(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    import_partners(session_factory, EXAMPLE)
    with session_factory() as session:
        before = {c.phone: c.id for c in session.scalars(select(PartnerContact))}

    data = example()
    leribe = entry(data, "lmps-leribe")
    leribe["name"] = "LMPS Leribe focal point (Hlotse)"
    leribe["contacts"].reverse()  # the commander first now, still off duty
    # A contact moves from the desk to Leribe, and one leaves the desk.
    desk = entry(data, "lmps-atu-desk")
    moved = desk["contacts"].pop(1)
    leribe["contacts"].append(moved)
    # A partner leaves the file.
    data["partners"] = [p for p in data["partners"] if p["code"] != "mwa-lesotho"]
    summary = import_partners(session_factory, write(tmp_path, data))

    assert summary.created == ()
    # Only what really changed: Leribe (name, contacts) and the desk (lost a contact).
    assert summary.updated == ("lmps-atu-desk", "lmps-leribe")
    assert summary.deactivated == ("mwa-lesotho",)
    assert summary.contacts_created == 0
    # Leribe's two swapped places, the moved one, and the desk's last one moved up.
    assert summary.contacts_updated == 4
    assert summary.contacts_deactivated == 1  # the MWA contact
    with session_factory() as session:
        contacts = {c.phone: c for c in session.scalars(select(PartnerContact))}
        partners = {p.code: p for p in session.scalars(select(Partner))}
        assert partners["lmps-leribe"].name == "LMPS Leribe focal point (Hlotse)"
        assert not partners["mwa-lesotho"].active
        assert {c.phone: c.id for c in contacts.values()} == before  # ids kept
        assert contacts[moved["phone"]].partner_id == partners["lmps-leribe"].id
        assert contacts["+26659990022"].position == 1
        assert contacts["+26659990111"].active is False
        directory = load_directory(session)
    assert directory.partner("mwa-lesotho") is None
    leribe_info = directory.partner("lmps-leribe")
    assert leribe_info is not None
    assert [c.phone for c in leribe_info.contacts] == [
        "+26659990022",
        "+26659990021",
        moved["phone"],
    ]


def test_reimporting_the_same_file_changes_nothing(session_factory: sessionmaker[Session]) -> None:
    import_partners(session_factory, EXAMPLE)
    summary = import_partners(session_factory, EXAMPLE)
    assert summary.created == ()
    assert summary.updated == ()
    assert summary.deactivated == ()
    assert summary.contacts_updated == 0
    assert summary.contacts_deactivated == 0
    assert str(summary) == (
        "partners: 0 new, 0 updated, 0 deactivated; contacts: 0 new, 0 updated, 0 deactivated"
    )


def test_reimport_counts_only_the_rows_that_changed(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    import_partners(session_factory, EXAMPLE)
    data = example()
    entry(data, "lmps-leribe")["contacts"][1]["on_duty"] = True  # the commander on duty too
    entry(data, "bds-maseru")["districts"] = ["LS-A"]  # one partner's cover changes
    summary = import_partners(session_factory, write(tmp_path, data))
    assert summary.updated == ("lmps-leribe", "bds-maseru")
    assert summary.contacts_updated == 1
    assert "2 updated" in str(summary)
    # The same file again: nothing left to change.
    again = import_partners(session_factory, write(tmp_path, data))
    assert again.updated == () and again.contacts_updated == 0


def test_reactivating_a_partner_counts_as_an_update(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    import_partners(session_factory, EXAMPLE)
    data = example()
    data["partners"] = [p for p in data["partners"] if p["code"] != "mwa-lesotho"]
    import_partners(session_factory, write(tmp_path, data))
    summary = import_partners(session_factory, EXAMPLE)
    assert summary.created == ()
    assert summary.updated == ("mwa-lesotho",)
    assert summary.contacts_updated == 1


def test_csv_file_imports_like_yaml(tmp_path: Path, session_factory: sessionmaker[Session]) -> None:
    header = (
        "partner_code,partner_name,kind,national_desk,districts,border_posts,case_kinds,active,"
        "contact_name,phone,on_duty,escalation\n"
    )
    rows = (
        "desk,National desk,police,yes,,,trafficking;child,yes,Duty,+26659990001,yes,no\n"
        "desk,National desk,police,yes,,,trafficking;child,yes,Boss,+26659990002,no,yes\n"
        "bds,BDS,ngo,no,,maputsoe_bridge;Caledonspoort,trafficking,,Monitor,5999 0071,,yes\n"
    )
    path = tmp_path / "partners.csv"
    path.write_text(header + rows)
    summary = import_partners(session_factory, path)
    assert summary.created == ("desk", "bds")
    with session_factory() as session:
        directory = load_directory(session)
    bds = directory.partner("bds")
    assert bds is not None
    assert bds.border_posts == frozenset({"maputsoe_bridge", "caledonspoort"})
    assert [(c.phone, c.on_duty, c.is_escalation) for c in bds.contacts] == [
        ("+26659990071", True, True)
    ]


def test_csv_errors_name_the_row(tmp_path: Path) -> None:
    header = (
        "partner_code,partner_name,kind,national_desk,districts,border_posts,case_kinds,active,"
        "contact_name,phone,on_duty,escalation\n"
    )
    rows = (
        "desk,National desk,police,yes,,,trafficking,yes,Duty,+26659990001,yes,yes\n"
        "desk,National DESK,police,yes,,,trafficking,yes,Boss,+26659990002,no,yes\n"
        "bds,BDS,ngo,no,LS-Z,,trafficking,,Monitor,+26659990071,,yes\n"
    )
    path = tmp_path / "partners.csv"
    path.write_text(header + rows)
    with pytest.raises(PartnersFileError) as info:
        read_partners_file(path)
    assert info.value.problems == [
        "partners.csv row 3 (desk): partner columns differ from row 2",
        "partners.csv row 4 (bds): unknown district 'LS-Z'",
    ]


def test_csv_without_the_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "partners.csv"
    path.write_text("code,name\nx,y\n")
    with pytest.raises(PartnersFileError, match="missing column"):
        read_partners_file(path)
