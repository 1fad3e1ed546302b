"""The on-duty roster: a supervisor changes who receives the partner's alerts, never another
partner's, and never leaves nobody on duty; the next alert follows the roster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import Engine, select

from tests.desk.conftest import csrf_of, enrol, sign_in
from tests.integration.alerts_support import P1_ANSWERS
from ussd_app import create_app
from ussd_app.bootstrap import Container, bootstrap
from ussd_app.cases.staging import sweep_unrouted
from ussd_app.config import Settings
from ussd_app.container import Services
from ussd_app.messaging.models import OutboundSms
from ussd_app.partners.importer import import_partners
from ussd_app.partners.models import PartnerContact
from ussd_app.reports.intake import submit_report
from ussd_app.staff.models import AuditEvent

PARTNERS_FILE = Path(__file__).resolve().parents[2] / "partners.example.yaml"


@pytest.fixture
def container(
    desk_settings: Settings, clean_db: Engine, redis_conn: redis.Redis
) -> Iterator[Container]:
    built = bootstrap(desk_settings)
    import_partners(built.services.session_factory, PARTNERS_FILE)
    yield built
    built.close()  # held Redis writes go out first (write-behind)


@pytest.fixture
def app(container: Container) -> Flask:
    return create_app(container=container)


def contact_id(svc: Services, phone: str) -> int:
    with svc.uow() as uow:
        found = uow.session.scalar(select(PartnerContact.id).where(PartnerContact.phone == phone))
    assert found is not None
    return found


def test_a_supervisor_moves_the_duty_and_the_next_alert_follows(
    app: Flask, container: Container
) -> None:
    svc = container.services
    supervisor = enrol(svc, "supervisor", "lmps-atu-desk", "Palesa Desk")
    client = app.test_client()
    assert sign_in(client, svc, supervisor) == 303
    page = client.get("/desk/roster").get_data(as_text=True)
    assert "+26659990001" in page and "+26659990002" in page
    backup = contact_id(svc, "+26659990002")
    token = csrf_of(client, "/desk/roster")
    res = client.post(
        "/desk/roster", data={"csrf_token": token, "on_duty": [str(backup)]}, follow_redirects=True
    )
    assert "Roster saved." in res.get_data(as_text=True)
    submit_report(svc, phone="+26658111222", language="en", answers=P1_ANSWERS)
    sweep_unrouted(svc, older_than_s=0)  # its routing job, run now
    with svc.uow() as uow:
        to_desk = uow.session.scalars(
            select(OutboundSms.contact_id).where(OutboundSms.partner_code == "lmps-atu-desk")
        ).all()
        audit = uow.session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "roster.change")
        ).all()
    assert to_desk == [backup]  # the desk phone is off duty: the backup gets the alert
    assert len(audit) == 1 and str(contact_id(svc, "+26659990001")) in (audit[0] or "")


def test_nobody_on_duty_is_refused_and_other_partners_contacts_are_ignored(
    app: Flask, container: Container
) -> None:
    svc = container.services
    supervisor = enrol(svc, "supervisor", "lmps-atu-desk", "Palesa Desk")
    client = app.test_client()
    assert sign_in(client, svc, supervisor) == 303
    token = csrf_of(client, "/desk/roster")
    res = client.post("/desk/roster", data={"csrf_token": token}, follow_redirects=True)
    assert "At least one phone must stay on duty" in res.get_data(as_text=True)
    other = contact_id(svc, "+26659990071")  # BDS's phone
    token = csrf_of(client, "/desk/roster")
    client.post("/desk/roster", data={"csrf_token": token, "on_duty": [str(other)]})
    with svc.uow() as uow:
        assert uow.session.get(PartnerContact, other).on_duty  # unchanged
        desk = uow.session.get(PartnerContact, contact_id(svc, "+26659990001"))
        assert desk is not None and desk.on_duty


def test_officers_do_not_edit_the_roster(app: Flask, container: Container) -> None:
    svc = container.services
    officer = enrol(svc, "officer", "lmps-atu-desk", "Thabo Desk")
    client = app.test_client()
    assert sign_in(client, svc, officer) == 303
    assert client.get("/desk/roster").status_code == 403
