"""A registration reaches the partners the directory says, once each, with no name or number
(issue 10): real database, Redis and RQ worker, the Africa's Talking SDK against the stand-in.

partners.example.yaml: IOM is the programme partner (every registration); Skillshare takes
livelihood and skills everywhere; MoH Leribe takes clinic needs in Leribe; MoH Maseru clinic
needs in Maseru; MWA documents and other in Maseru, Mafeteng and Mohale's Hoek.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from tests.integration.alerts_support import drain, outbox_rows
from tests.integration.test_alert_cases import Inbox
from tests.standin import AtStandIn
from ussd_app.bootstrap import Container
from ussd_app.cases.models import CaseEvent
from ussd_app.db import utcnow
from ussd_app.returnees.models import Registration
from ussd_app.returnees.registrations import register_returnee
from ussd_app.runtime.maintenance import run_maintenance

RETURNEE = "+26658444555"
NAME = "Palesa"
IOM = "+26659990121"
SKILLSHARE = "+26659990101"
MOH_LERIBE = "+26659990131"
MOH_MASERU = "+26659990141"
MWA = "+26659990111"


def answers(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "consent": "yes",
        "share_partners": "yes",
        "home_district": "LS-C",  # Leribe
        "came_from": "ZA-GP",
        "stay_intent": "staying",
        "entry_point": "maputsoe_bridge",
        "travel_document": "passport_valid",
        "needs": ["livelihood", "clinic"],
        "sex": "female",
        "age_band": "18_35",
        "name": NAME,
        "sms_opt_in": "no",
    }
    base.update(over)
    return base


def register(container: Container, **over: Any) -> str:
    return register_returnee(
        container.services, phone=RETURNEE, language="en", answers=answers(**over)
    )


def registration(container: Container, ref: str) -> Registration:
    with container.services.uow() as uow:
        row = uow.session.scalars(select(Registration).where(Registration.ref == ref)).one()
        uow.session.expunge(row)
        return row


def _no_personal_data(standin: AtStandIn) -> None:
    for m in standin.messages:
        assert NAME not in m.text
        assert "58444555" not in m.text and RETURNEE not in m.text
        assert m.number != RETURNEE


def test_leribe_livelihood_and_clinic_reach_exactly_the_directorys_partners(
    alert_container: Container, standin: AtStandIn
) -> None:
    ref = register(alert_container)
    drain(alert_container)
    to = sorted(m.number for m in standin.messages)
    assert to == sorted([IOM, SKILLSHARE, MOH_LERIBE])  # once each; not Maseru, not MWA
    texts = {m.number: m.text for m in standin.messages}
    assert texts[IOM] == f"New returnee {ref}, Leribe: clinic, livelihood. Details on desk. " + (
        f"Reply ACK {ref}"
    )
    assert texts[SKILLSHARE].startswith(f"New returnee {ref}, Leribe: livelihood.")
    assert texts[MOH_LERIBE].startswith(f"New returnee {ref}, Leribe: clinic.")
    _no_personal_data(standin)
    reg = registration(alert_container, ref)
    rows = outbox_rows(alert_container, registration_id=reg.id)
    assert {r.partner_code for r in rows} == {"iom-lesotho", "skillshare-lesotho", "moh-leribe"}
    assert all(r.contact_id and r.purpose == "alert" for r in rows)
    # Registering again (an update) tells nobody twice.
    register(alert_container, stay_intent="visiting")
    drain(alert_container)
    assert len(standin.messages) == 3


def test_without_sharing_consent_only_the_programme_partner_hears(
    alert_container: Container, standin: AtStandIn
) -> None:
    register(alert_container, share_partners="no")
    drain(alert_container)
    assert [m.number for m in standin.messages] == [IOM]
    _no_personal_data(standin)


def test_an_unacknowledged_registration_is_renotified_once_on_time(
    alert_container: Container, standin: AtStandIn
) -> None:
    ref = register(alert_container)
    drain(alert_container)
    assert len(standin.messages) == 3
    created = registration(alert_container, ref).created_at
    # Just before 3 days: nothing; after: one reminder to each partner told; then never again.
    run_maintenance(alert_container, now=created + dt.timedelta(hours=71))
    drain(alert_container)
    assert len(standin.messages) == 3
    for hours in (73, 74, 200):
        run_maintenance(alert_container, now=created + dt.timedelta(hours=hours))
        drain(alert_container)
    reminders = [m for m in standin.messages if m.text.startswith("Reminder")]
    assert sorted(m.number for m in reminders) == sorted([IOM, SKILLSHARE, MOH_LERIBE])
    assert all(ref in m.text for m in reminders)
    _no_personal_data(standin)
    with alert_container.services.uow() as uow:
        events = uow.session.scalars(select(CaseEvent).where(CaseEvent.action == "escalated")).all()
        assert len(events) == 1


def test_a_taken_registration_is_not_renotified(
    alert_container: Container, standin: AtStandIn
) -> None:
    ref = register(alert_container)
    drain(alert_container)
    Inbox(alert_container).send(SKILLSHARE, f"ACK {ref}")
    drain(alert_container)
    run_maintenance(alert_container, now=utcnow() + dt.timedelta(days=4))
    drain(alert_container)
    assert not [m for m in standin.messages if m.text.startswith("Reminder")]


def test_ack_by_sms_takes_the_registration(alert_container: Container, standin: AtStandIn) -> None:
    ref = register(alert_container)
    drain(alert_container)
    inbox = Inbox(alert_container)
    inbox.send(MOH_LERIBE, f"ACK {ref}")
    drain(alert_container)
    reg = registration(alert_container, ref)
    assert reg.status == "contacted" and reg.holder_partner_code == "moh-leribe"
    assert any(f"You have taken case {ref}" in m.text for m in standin.messages)
    # A second partner is told who has it; a partner never told is refused.
    inbox.send(SKILLSHARE, f"ACK {ref}")
    inbox.send(MOH_MASERU, f"ACK {ref}")
    drain(alert_container)
    replies = {m.number: m.text for m in standin.messages if m.number in (SKILLSHARE, MOH_MASERU)}
    assert "already taken" in replies[SKILLSHARE]
    assert "was not sent to your organisation" in replies[MOH_MASERU]
    assert registration(alert_container, ref).holder_partner_code == "moh-leribe"


def test_delete_my_data_removes_referrals_notes_and_notices(
    alert_container: Container, standin: AtStandIn
) -> None:
    from ussd_app.cases import actions
    from ussd_app.cases.authority import Actor
    from ussd_app.messaging.models import OutboundSms
    from ussd_app.returnees.account import delete_registration
    from ussd_app.returnees.referrals import Referral

    services = alert_container.services
    ref = register(alert_container)
    drain(alert_container)
    Inbox(alert_container).send(SKILLSHARE, f"ACK {ref}")
    actor = Actor("desk", partner_code="skillshare-lesotho", user_id=None)
    with services.uow() as uow:
        reg = uow.session.scalars(select(Registration).where(Registration.ref == ref)).one()
        assert actions.refer(services, uow, reg, actor, need="livelihood", status="referred").done
        assert actions.add_note(services, uow, reg, actor, "Met at the office").done
        uow.commit()
        reg_id = reg.id
    assert delete_registration(services, RETURNEE)
    with services.uow() as uow:
        assert uow.session.get(Registration, reg_id) is None
        assert not uow.session.scalars(select(Referral)).all()
        assert not uow.session.scalars(
            select(CaseEvent).where(CaseEvent.registration_id == reg_id)
        ).all()
        bodies = [row.body for row in uow.session.scalars(select(OutboundSms))]
    assert not [b for b in bodies if ref in b and "returnee" in b]  # notices and reminders gone


def test_a_notice_to_an_invalid_number_goes_to_the_partners_next_contact(
    alert_container: Container, standin: AtStandIn
) -> None:
    standin.set_invalid(IOM)
    ref = register(alert_container, share_partners="no")
    drain(alert_container)
    iom = outbox_rows(alert_container, partner_code="iom-lesotho")
    assert [r.status for r in iom] == ["failed", "sent"]
    (text,) = [m.text for m in standin.messages if m.number == "+26659990122"]
    assert text.startswith(f"New returnee {ref}")
