"""The border health desk through the real app (issue 10): a health worker at a post finds a
registration by the reference the returnee gives and records services given (never a result);
only staff of a partner running a border health desk may use it."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from tests.desk.conftest import enrol
from tests.desk.test_cases_web import (  # noqa: F401  (fixtures)
    audit_rows,
    cases_app,
    cases_container,
    client_for,
    post,
    svc,
)
from tests.desk.test_registrations_web import NAME, RETURNEE, register
from ussd_app.container import Services
from ussd_app.returnees.account import delete_registration
from ussd_app.returnees.health import HealthService


def test_a_health_worker_finds_a_registration_and_records_a_tb_screening(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
) -> None:
    ref = register(svc)
    nurse = client_for(cases_app, svc, enrol(svc, "officer", "moh-border-health", "Nurse N"))
    page = nurse.get(f"/desk/border-health?ref={ref}").get_data(as_text=True)
    assert ref in page and "Leribe" in page and "Clinic services" in page
    assert NAME not in page and "58444555" not in page
    (lookup,) = audit_rows(svc, "health.lookup")
    assert lookup.record_ref == ref and lookup.detail == "found"
    text = post(
        nurse,
        f"/desk/border-health/{ref}",
        f"/desk/border-health?ref={ref}",
        service="tb_screening",
        post="maputsoe_bridge",
    )
    assert "1 service(s) recorded." in text and "TB screening, Maputsoe Bridge" in text
    assert "result" not in {c.name.lower() for c in HealthService.__table__.columns}
    # A partner following the registration sees it on the registration page.
    iom = client_for(cases_app, svc, enrol(svc, "officer", "iom-lesotho", "Ina IOM"))
    assert "TB screening" in iom.get(f"/desk/returnees/{ref}").get_data(as_text=True)
    # Nothing ticked, or a post the desk does not run: nothing recorded.
    post(nurse, f"/desk/border-health/{ref}", f"/desk/border-health?ref={ref}", post="sani_pass")
    with svc.uow() as uow:
        assert len(uow.session.scalars(select(HealthService)).all()) == 1
    # Delete-my-data takes the services with the registration.
    assert delete_registration(svc, RETURNEE)
    with svc.uow() as uow:
        assert uow.session.scalars(select(HealthService)).all() == []


def test_an_unknown_reference_and_a_partner_without_a_health_desk(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
) -> None:
    ref = register(svc)
    nurse = client_for(cases_app, svc, enrol(svc, "officer", "moh-border-health", "Nurse N"))
    text = nurse.get("/desk/border-health?ref=R-000000").get_data(as_text=True)
    assert "No registration has that reference" in text
    skill = client_for(cases_app, svc, enrol(svc, "officer", "skillshare-lesotho", "Lineo S"))
    assert skill.get(f"/desk/border-health?ref={ref}").status_code == 403
    assert audit_rows(svc, "access.refused")
