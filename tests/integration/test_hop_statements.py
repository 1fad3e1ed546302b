"""Issue 12: what a hop costs the database, counted with a SQLAlchemy event listener.

A registration's and a report's last hop each issue at most 5 SQL statements (the report with
its contact and consent, the registration with its consents; routing runs after, in a job); a
first dial and every hop before the last issue none (the language is read from Redis, and a
choice is written to the database by the maintenance pass). Statements, not time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from tests.integration.test_never_wrong import Session
from ussd_app import create_app
from ussd_app.bootstrap import Container
from ussd_app.reports.models import TraffickingReport
from ussd_app.returnees.models import Registration
from ussd_app.runtime.maintenance import run_maintenance
from ussd_app.ussd.models import PhonePreference
from ussd_app.ussd.preferences import preference_key

LAST_HOP_MAX_STATEMENTS = 5
# On PostgreSQL a filing is nextval + one statement of CTEs (autocommit). On SQLite a report is
# four statements (report, its reference, contact, consent), a registration three (upsert, its
# reference, the consents).
REPORT_STATEMENTS = {"postgresql": 2, "sqlite": 4}
REGISTRATION_STATEMENTS = {"postgresql": 2, "sqlite": 3}
# The answers scripts/bench_ussd.py types (English first; see its FLOWS).
REGISTRATION = ("2", "1", "1", "5", "1", "1", "1", "13", "1", "1")
REPORT = ("2", "2", "2", "2", "13", "1", "2", "2", "1", "1")


class StatementLog:
    """Every statement the engine sends, as its SQL text (no parameters)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    @contextmanager
    def counting(self, container: Container) -> Iterator[list[str]]:
        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            self.statements.append(statement[:48])

        self.statements = []
        event.listen(container.engine, "before_cursor_execute", record)
        try:
            yield self.statements
        finally:
            event.remove(container.engine, "before_cursor_execute", record)


def _flow(container: Container, session_id: str, phone: str, answers: tuple[str, ...]) -> Any:
    """Run one complete session; returns per-hop statement lists (dial first)."""
    client = create_app(container=container).test_client()
    log = StatementLog()
    per_hop: list[list[str]] = []
    with log.counting(container) as seen:
        session = Session(client, session_id, phone)
    per_hop.append(list(seen))
    for answer in answers:
        with log.counting(container) as seen:
            session.send(answer)
        per_hop.append(list(seen))
    return per_hop, session.last


def test_a_report_s_last_hop_is_at_most_five_statements_and_the_others_none(
    alert_container: Container,
) -> None:
    per_hop, last = _flow(alert_container, "ATUid_count_report", "+26658100200", REPORT)
    assert last.startswith("END") and "T-" in last, last
    assert len(per_hop[-1]) <= LAST_HOP_MAX_STATEMENTS, per_hop[-1]
    assert len(per_hop[-1]) == REPORT_STATEMENTS[alert_container.engine.dialect.name], per_hop[-1]
    assert per_hop[0] == []  # the first dial: no language look-up in the database
    assert all(hop == [] for hop in per_hop[1:-1]), per_hop  # the language choice included
    with alert_container.services.uow() as uow:
        report = uow.session.scalar(select(TraffickingReport))
        assert report is not None and report.routed_at is None  # routed by the job, later


def test_a_registration_s_last_hop_is_at_most_five_statements(
    alert_container: Container,
) -> None:
    per_hop, last = _flow(alert_container, "ATUid_count_reg", "+26658100300", REGISTRATION)
    assert last.startswith("END") and "R-" in last, last
    assert len(per_hop[-1]) <= LAST_HOP_MAX_STATEMENTS, per_hop[-1]
    assert len(per_hop[-1]) == REGISTRATION_STATEMENTS[alert_container.engine.dialect.name], (
        per_hop[-1]
    )
    assert all(hop == [] for hop in per_hop[:-1]), per_hop
    with alert_container.services.uow() as uow:
        assert uow.session.scalar(select(Registration.id)) is not None


def test_a_remembered_language_skips_the_database_and_the_language_screen(
    alert_container: Container,
) -> None:
    phone = "+26658100400"
    _flow(alert_container, "ATUid_lang_first", phone, REPORT)
    client = create_app(container=alert_container).test_client()
    log = StatementLog()
    with log.counting(alert_container) as seen:
        session = Session(client, "ATUid_lang_again", phone)
    assert seen == []
    assert "Welcome" in session.last and "Sesotho" not in session.last, session.last


def test_the_language_choice_reaches_the_database_with_the_maintenance_pass(
    alert_container: Container,
) -> None:
    phone = "+26658100500"
    client = create_app(container=alert_container).test_client()
    Session(client, "ATUid_lang_db", phone).send("1")  # Sesotho
    services = alert_container.services
    key = preference_key(services, services.hash_phone(phone))

    def stored() -> str | None:
        with services.uow() as uow:
            return uow.session.scalar(
                select(PhonePreference.language).where(PhonePreference.phone_hash == key)
            )

    assert stored() is None  # not written on the caller's hop
    run_maintenance(alert_container)
    assert stored() == "st"
    assert alert_container.store.pending_languages(10) == []
    run_maintenance(alert_container)  # nothing left to do
    assert stored() == "st"
