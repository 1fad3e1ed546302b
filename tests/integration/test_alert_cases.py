"""Taking responsibility for a case: ACK and CLOSE by SMS, escalation when nobody does, the
other SMS commands, abandoned urgent sessions, and confirmations only to those who asked."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.integration.alerts_support import (
    REPORTER,
    drain,
    file_report,
    later,
    outbox_rows,
    report_row,
    session_clock_passes,
)
from tests.standin import AtStandIn
from ussd_app import create_app
from ussd_app.bootstrap import Container
from ussd_app.cases.models import CaseEvent
from ussd_app.messaging.models import SmsPurpose
from ussd_app.reports.models import TraffickingReport
from ussd_app.runtime.maintenance import run_maintenance

DESK = "+26659990001"
BDS = "+26659990071"
STRANGER = "+26658999999"
SKILLSHARE = "+26659990101"  # a returnee-only NGO: never alerted to trafficking reports
QUTHING = "+26659990041"  # a district focal point far from a Maputsoe report


# A P2 report (seen this week, no danger now) at the district of Maseru.
P2_ANSWERS: dict[str, Any] = {
    "danger_now": "no",
    "child_involved": "unsure",
    "flags": ["F5"],
    "place": "LS-A",
    "when_seen": "this_week",
    "persons_count": "1",
    "callback_consent": "no",
}


class Inbox:
    """Sends inbound SMS to the webhook the way the gateway does, with fresh ids."""

    def __init__(self, container: Container) -> None:
        self.client: FlaskClient = create_app(container=container).test_client()
        self.count = 0

    def send(self, sender: str, text: str, gateway_id: str | None = None) -> str:
        self.count += 1
        res = self.client.post(
            "/sms/inbound",
            data={
                "from": sender,
                "to": "12345",
                "text": text,
                "date": "2026-11-22 10:11:12",
                "id": gateway_id or f"in-{self.count}",
                "networkCode": "99999",
            },
        )
        assert res.status_code == 200, res.get_data(as_text=True)
        return res.get_data(as_text=True)


def report_row_refs(container: Container) -> list[str]:
    with container.services.uow() as uow:
        return list(uow.session.scalars(select(TraffickingReport.ref)).all())


def _texts_to(standin: AtStandIn, number: str) -> list[str]:
    return [m.text for m in standin.messages if m.number == number]


def _events(container: Container, action: str) -> list[CaseEvent]:
    with container.services.uow() as uow:
        events = list(uow.session.scalars(select(CaseEvent).where(CaseEvent.action == action)))
        uow.session.expunge_all()
        return events


class TestAuthority:
    """Authority follows the alert (issue 8): only a partner alerted to a case, or holding it,
    acts on it; every refusal is recorded as a case event."""

    def test_an_unalerted_partners_ack_is_refused_and_recorded(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        ref = file_report(alert_container)
        drain(alert_container)
        Inbox(alert_container).send(SKILLSHARE, f"ACK {ref}")
        drain(alert_container)
        report = report_row(alert_container, ref)
        assert report.acknowledged_at is None and report.holder_partner_code is None
        assert any("not sent to your organisation" in t for t in _texts_to(standin, SKILLSHARE))
        (refusal,) = _events(alert_container, "refused")
        assert refusal.partner_code == "skillshare-lesotho" and refusal.detail == "acknowledged"
        assert refusal.channel == "sms" and refusal.report_id == report.id
        # Escalation is not stopped by a refused ACK.
        assert run_maintenance(alert_container, now=later(16)).escalated == [ref]

    def test_a_partner_from_elsewhere_cannot_close_and_the_case_stays_open(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        ref = file_report(alert_container)
        drain(alert_container)
        inbox = Inbox(alert_container)
        inbox.send(QUTHING, f"CLOSE {ref} nothing here")
        drain(alert_container)
        assert report_row(alert_container, ref).status != "closed"
        (refusal,) = _events(alert_container, "refused")
        assert refusal.partner_code == "lmps-quthing" and refusal.detail == "closed"
        assert refusal.note_enc is None  # a refused attempt keeps no words

    def test_a_refusal_never_names_the_holder_to_an_unalerted_partner(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        ref = file_report(alert_container)
        drain(alert_container)
        inbox = Inbox(alert_container)
        inbox.send(BDS, f"ACK {ref}")
        inbox.send(QUTHING, f"CLOSE {ref} nothing here")
        drain(alert_container)
        (reply,) = _texts_to(standin, QUTHING)
        assert "not sent to your organisation" in reply and "Beautiful" not in reply

    def test_only_the_holder_closes_a_taken_case(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        ref = file_report(alert_container)
        drain(alert_container)
        inbox = Inbox(alert_container)
        inbox.send(BDS, f"ACK {ref}")
        inbox.send(DESK, f"CLOSE {ref} done")  # alerted, but BDS holds it
        drain(alert_container)
        report = report_row(alert_container, ref)
        assert report.status == "acknowledged" and report.holder_partner_code == "bds-maputsoe"
        assert any("only they can close it" in t for t in _texts_to(standin, DESK))
        assert [e.detail for e in _events(alert_container, "refused")] == ["closed"]
        inbox.send(BDS, f"CLOSE {ref} done")
        assert report_row(alert_container, ref).status == "closed"


class TestAcknowledge:
    def test_ack_from_a_partner_takes_the_case_and_stops_escalation(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        ref = file_report(alert_container)
        drain(alert_container)
        inbox = Inbox(alert_container)
        inbox.send(BDS, f"ack {ref.lower()}")  # case-insensitive
        drain(alert_container)
        report = report_row(alert_container, ref)
        assert report.acknowledged_at is not None and report.status == "acknowledged"
        assert any("You have taken" in t for t in _texts_to(standin, BDS))
        # Everyone else alerted is told who took it, once.
        notices = outbox_rows(alert_container, purpose=SmsPurpose.NOTICE.value)
        assert len(notices) == 4
        assert any("Beautiful Dream" in t for t in _texts_to(standin, DESK))
        # The case is urgent (P1): nobody, the police least of all, is told to stand down.
        assert all("No action needed" not in n.body and "carry on" in n.body for n in notices)
        # Past the deadline nothing escalates: someone has it.
        result = run_maintenance(alert_container, now=later(16))
        assert result.escalated == []
        assert outbox_rows(alert_container, purpose=SmsPurpose.ESCALATION.value) == []

    def test_when_a_p2_case_is_taken_the_others_are_told_no_action_is_needed(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        answers = {**P2_ANSWERS, "place": "maputsoe_bridge"}
        ref = file_report(alert_container, answers=answers)
        assert report_row(alert_container, ref).priority == "P2"
        drain(alert_container)
        Inbox(alert_container).send(DESK, f"ACK {ref}")
        drain(alert_container)
        notices = outbox_rows(alert_container, purpose=SmsPurpose.NOTICE.value)
        assert notices and all("No action needed from you" in n.body for n in notices)

    def test_a_second_ack_is_told_who_took_it(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        ref = file_report(alert_container)
        drain(alert_container)
        inbox = Inbox(alert_container)
        inbox.send(BDS, f"ACK {ref}")
        inbox.send(DESK, f"ACK {ref}")
        drain(alert_container)
        assert any("already taken by" in t for t in _texts_to(standin, DESK))
        with alert_container.services.uow() as uow:
            acks = uow.session.scalar(select(func.count(CaseEvent.id)))
            assert acks == 1

    def test_ack_from_an_unknown_number_changes_nothing(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        ref = file_report(alert_container)
        drain(alert_container)
        Inbox(alert_container).send(STRANGER, f"ACK {ref}")
        drain(alert_container)
        assert report_row(alert_container, ref).acknowledged_at is None
        assert any("not on the partner list" in t for t in _texts_to(standin, STRANGER))
        assert run_maintenance(alert_container, now=later(16)).escalated == [ref]

    def test_the_gateways_retries_of_one_message_are_answered_once(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        ref = file_report(alert_container)
        drain(alert_container)
        inbox = Inbox(alert_container)
        for _ in range(3):
            inbox.send(BDS, f"ACK {ref}", gateway_id="same-id")
        drain(alert_container)
        assert len([t for t in _texts_to(standin, BDS) if "You have taken" in t]) == 1

    def test_close_records_a_note_and_the_status(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        ref = file_report(alert_container)
        drain(alert_container)
        inbox = Inbox(alert_container)
        inbox.send(BDS, f"ACK {ref}")
        inbox.send(BDS, f"CLOSE {ref} two women taken to Hope House")
        drain(alert_container)
        report = report_row(alert_container, ref)
        assert report.status == "closed" and report.closed_at is not None
        with alert_container.services.uow() as uow:
            event = uow.session.scalar(select(CaseEvent).where(CaseEvent.action == "closed"))
            assert event is not None and event.note_enc is not None
            assert "Hope House" not in event.note_enc  # encrypted
            note = alert_container.services.cipher.decrypt(event.note_enc)
            assert note == "two women taken to Hope House"


class TestEscalation:
    def test_an_unacknowledged_p1_escalates_on_time_and_once(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        ref = file_report(alert_container)
        drain(alert_container)
        assert run_maintenance(alert_container, now=later(14)).escalated == []
        assert run_maintenance(alert_container, now=later(16)).escalated == [ref]
        assert run_maintenance(alert_container, now=later(30)).escalated == []
        drain(alert_container)
        escalations = outbox_rows(alert_container, purpose=SmsPurpose.ESCALATION.value)
        numbers = {m.number for m in standin.messages if "Escalat" in m.text or "ESC" in m.text}
        assert escalations and len(numbers) == len(escalations)
        # The partners' escalation contacts (supervisors) and the desk hear of it.
        assert "+26659990072" in numbers  # BDS programme lead
        assert "+26659990062" in numbers  # Maputsoe station commander

    def test_a_p2_escalates_after_a_day_not_after_minutes(self, alert_container: Container) -> None:
        ref = file_report(alert_container, answers=P2_ANSWERS)
        assert report_row(alert_container, ref).priority == "P2"
        drain(alert_container)
        assert run_maintenance(alert_container, now=later(60)).escalated == []
        assert run_maintenance(alert_container, now=later(24 * 60 + 1)).escalated == [ref]


class TestOtherCommands:
    def test_status_shows_only_the_coarse_status(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        ref = file_report(alert_container)
        drain(alert_container)
        Inbox(alert_container).send(REPORTER, f"status {ref}")
        drain(alert_container)
        (reply,) = _texts_to(standin, REPORTER)
        assert reply.startswith(ref) and "police" in reply.lower()
        assert "F1" not in reply and "Maputsoe" not in reply

    def test_report_by_sms_is_p2_and_routed_with_a_neutral_reply(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        Inbox(alert_container).send(REPORTER, "REPORT girls in a white quantum at the rank")
        drain(alert_container)
        with alert_container.services.uow() as uow:
            report = uow.session.scalar(select(TraffickingReport))
            assert report is not None and report.channel == "sms" and report.priority == "P2"
            ref = report.ref
            assert "quantum" not in (report.sms_text_enc or "")
        (reply,) = _texts_to(standin, REPORTER)
        assert ref in reply and "trafficking" not in reply.lower()
        assert DESK in {m.number for m in standin.messages}
        assert all("quantum" not in m.text for m in standin.messages)

    def test_help_unknown_stop_and_start(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        inbox = Inbox(alert_container)
        inbox.send(STRANGER, "HELP")
        inbox.send(STRANGER, "what is this")
        inbox.send(STRANGER, "emisa")  # Sesotho STOP
        inbox.send(STRANGER, "START")
        drain(alert_container)
        replies = _texts_to(standin, STRANGER)
        assert len(replies) == 4
        assert "STATUS" in replies[0]
        assert "HELP" in replies[1]
        assert "QALA" in replies[2]  # answered in Sesotho
        assert "STOP" in replies[3]

    def test_help_from_a_partner_number_lists_the_partner_commands(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        inbox = Inbox(alert_container)
        inbox.send(BDS, "help")
        inbox.send(BDS, "ACK")  # no reference: shown one in today's format
        drain(alert_container)
        help_reply, need_ref = _texts_to(standin, BDS)
        assert "ACK <ref>" in help_reply and "CLOSE <ref>" in help_reply
        assert "STOP" not in help_reply  # the public commands are for the public
        assert "ACK T-12345678" in need_ref

    def test_a_message_without_a_sender_is_a_400(self, alert_container: Container) -> None:
        client = create_app(container=alert_container).test_client()
        assert client.post("/sms/inbound", data={"id": "x", "text": "HELP"}).status_code == 400


class TestAbandonedUrgentReports:
    def _walk(self, client: FlaskClient, session: str, phone: str, inputs: list[str]) -> str:
        text = ""
        body = ""
        for i, value in enumerate(["", *inputs]):
            text = value if i <= 1 else text + "*" + value
            body = client.post(
                "/ussd",
                data={
                    "sessionId": session,
                    "serviceCode": "*384*1234#",
                    "phoneNumber": phone,
                    "networkCode": "99999",
                    "text": text,
                },
            ).get_data(as_text=True)
        return body

    def test_session_end_after_danger_and_place_alerts_the_duty_desk(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        client = create_app(container=alert_container).test_client()
        # English, report, danger yes, child not sure, flag 1, place 1 (Maseru Bridge): then gone.
        self._walk(client, "ATUid_gone", REPORTER, ["2", "2", "1", "3", "1", "1"])
        res = client.post(
            "/ussd/events",
            data={
                "sessionId": "ATUid_gone",
                "phoneNumber": REPORTER,
                "status": "Incomplete",
                "hopsCount": "7",
                "durationInMillis": "40000",
                "hopsMetadata": "report_when",
            },
        )
        assert res.status_code == 200
        drain(alert_container)
        with alert_container.services.uow() as uow:
            report = uow.session.scalar(select(TraffickingReport))
            assert report is not None and report.incomplete and report.priority == "P1"
        assert {m.number for m in standin.messages} == {DESK}
        assert "INCOMPLETE" in standin.messages[0].text.upper()

    def test_a_silent_session_is_filed_by_the_sweeper(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        client = create_app(container=alert_container).test_client()
        self._walk(client, "ATUid_silent", REPORTER, ["2", "2", "1", "3", "1", "1"])
        assert run_maintenance(alert_container).abandoned_filed == []  # still in progress
        session_clock_passes(alert_container, 3)
        result = run_maintenance(alert_container)
        assert len(result.abandoned_filed) == 1
        session_clock_passes(alert_container, 3)
        assert run_maintenance(alert_container).abandoned_filed == []  # once
        drain(alert_container)
        assert {m.number for m in standin.messages} == {DESK}

    def test_a_finished_report_is_not_filed_again(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        client = create_app(container=alert_container).test_client()
        end = self._walk(
            client, "ATUid_done", REPORTER, ["2", "2", "1", "3", "1", "1", "1", "1", "1", "1"]
        )
        assert end.startswith("END ")
        client.post(
            "/ussd/events",
            data={"sessionId": "ATUid_done", "phoneNumber": REPORTER, "status": "Success"},
        )
        assert run_maintenance(alert_container, now=later(5)).abandoned_filed == []
        with alert_container.services.uow() as uow:
            assert uow.session.scalar(select(func.count(TraffickingReport.id))) == 1

    def test_finishing_after_a_resume_completes_the_same_case(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        client = create_app(container=alert_container).test_client()
        self._walk(client, "ATUid_drop", REPORTER, ["2", "2", "1", "3", "1", "1"])
        client.post(
            "/ussd/events",
            data={"sessionId": "ATUid_drop", "phoneNumber": REPORTER, "status": "Incomplete"},
        )
        drain(alert_container)
        first_ref = report_row_refs(alert_container)[0]
        # Redial: "Welcome back", 1 continue, then when/count/vehicle/call-back.
        end = self._walk(client, "ATUid_back", REPORTER, ["1", "1", "2", "1", "1"])
        assert end.startswith("END ") and first_ref in end
        assert report_row_refs(alert_container) == [first_ref]
        report = report_row(alert_container, first_ref)
        assert not report.incomplete and report.when_seen == "now" and report.priority == "P1"
        drain(alert_container)
        desk_texts = _texts_to(standin, DESK)
        assert len(desk_texts) == 2 and "INCOMPLETE" in desk_texts[0].upper()
        assert "INCOMPLETE" not in desk_texts[1].upper()
        assert len({m.number for m in standin.messages}) > 1  # now routed to everyone

    def test_no_danger_means_no_incomplete_report(self, alert_container: Container) -> None:
        client = create_app(container=alert_container).test_client()
        self._walk(client, "ATUid_calm", REPORTER, ["2", "2", "2", "2", "1", "1"])
        assert run_maintenance(alert_container, now=later(5)).abandoned_filed == []


class TestConfirmations:
    def _register(self, container: Container, sms_opt_in: str) -> Any:
        from ussd_app.returnees.registrations import register_returnee

        return register_returnee(
            container.services,
            phone="+26658333444",
            language="en",
            answers={
                "consent": "yes",
                "share_partners": "yes",
                "home_district": "LS-A",
                "came_from": "ZA-GP",
                "stay_intent": "staying",
                "entry_point": "maseru_bridge",
                "travel_document": "passport_valid",
                "needs": ["clinic", "skills"],
                "sex": "female",
                "age_band": "18_35",
                "name": None,
                "sms_opt_in": sms_opt_in,
            },
        )

    def test_a_returnee_who_opted_in_gets_their_reference(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        ref = self._register(alert_container, "yes")
        drain(alert_container)
        (text,) = _texts_to(standin, "+26658333444")
        assert ref in text

    def test_no_sms_without_opt_in(self, alert_container: Container, standin: AtStandIn) -> None:
        self._register(alert_container, "no")
        drain(alert_container)
        assert _texts_to(standin, "+26658333444") == []  # partners are told; the person is not

    def test_no_sms_to_a_ussd_reporter(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        file_report(alert_container)
        drain(alert_container)
        assert REPORTER not in {m.number for m in standin.messages}


class TestRetention:
    def _contact(self, container: Container) -> Any:
        from ussd_app.reports.models import ReporterContact

        with container.services.uow() as uow:
            row = uow.session.scalar(select(ReporterContact))
            assert row is not None
            uow.session.expunge(row)
            return row

    def test_a_number_without_call_back_consent_is_erased_after_a_week(
        self, alert_container: Container
    ) -> None:
        file_report(alert_container)
        assert self._contact(alert_container).phone_enc is not None
        assert run_maintenance(alert_container, now=later(6 * 24 * 60)).purged == 0
        assert run_maintenance(alert_container, now=later(8 * 24 * 60)).purged == 1
        contact = self._contact(alert_container)
        assert contact.phone_enc is None and contact.abuse_tag is None  # nothing joins it now

    def test_a_consenting_number_is_kept_until_30_days_after_close(
        self, alert_container: Container
    ) -> None:
        from tests.integration.alerts_support import P1_ANSWERS

        ref = file_report(alert_container, answers={**P1_ANSWERS, "callback_consent": "yes"})
        drain(alert_container)
        assert run_maintenance(alert_container, now=later(60 * 24 * 60)).purged == 0
        Inbox(alert_container).send(BDS, f"CLOSE {ref} done")
        assert run_maintenance(alert_container, now=later(29 * 24 * 60)).purged == 0
        assert run_maintenance(alert_container, now=later(31 * 24 * 60)).purged == 1
