"""Golden transcripts: every flow, in both languages, through the real webhook.

Each file in `transcripts/` is a readable conversation: what the caller sends, what each reply
must (and must not) contain, and what must be stored at the end. See transcripts/README.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from tests.functional.conftest import Phone
from ussd_app import gsm7
from ussd_app.bootstrap import Container

REFERENCE = re.compile(r"\b[TR]-\d{8}\b")
TRANSCRIPTS = sorted((Path(__file__).parent / "transcripts").glob("*.yaml"))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(path: Path, client: Any, container: Container) -> None:
    script = _load(path)
    phone = Phone(client, number=str(script.get("phone", "+26658000001")))
    for setup in script.get("before", []):
        _run_steps(phone, setup["steps"], f"{path.name} (before)", container)
    _run_steps(phone, script["steps"], path.name, container)
    _check_stored(container, phone.number, script.get("stored", {}), path.name)


def _run_steps(phone: Phone, steps: list[dict[str, Any]], where: str, container: Container) -> None:
    for number, step in enumerate(steps, 1):
        if "dial" in step:
            reply = phone.dial(str(step["dial"]))
        elif "repeat" in step:  # the gateway re-sends the same hop
            reply = phone.post()
        elif "send_stored" in step:  # a value only known once stored, e.g. a random reference
            reply = phone.send(_stored_value(container, str(step["send_stored"]), where))
        elif "send_stored_digits" in step:  # the same, only its digits (no letter, no dash)
            value = _stored_value(container, str(step["send_stored_digits"]), where)
            reply = phone.send("".join(ch for ch in value if ch.isdigit()))
        else:
            reply = phone.send(str(step["send"]))
        context = f"{where} step {number} ({step}): got {reply!r}"
        assert reply.startswith(("CON ", "END ")), context
        assert gsm7.is_gsm7(reply), context
        assert gsm7.septets(reply) <= 160, context
        for fragment in step.get("expect", []):
            assert str(fragment) in reply, f"missing {fragment!r} in {context}"
        # A reference is random digits: "112" (the emergency number) may occur inside one by
        # chance, so what must NOT appear is looked for in the reply without its references.
        without_refs = REFERENCE.sub("<ref>", reply)
        for fragment in step.get("expect_not", []):
            assert str(fragment) not in without_refs, f"unexpected {fragment!r} in {context}"


def _stored_value(container: Container, what: str, where: str) -> str:
    """`report_ref` / `registration_ref`: the reference of the newest stored row."""
    from ussd_app.reports.models import TraffickingReport
    from ussd_app.returnees.models import Registration

    models: dict[str, Any] = {"report_ref": TraffickingReport, "registration_ref": Registration}
    assert what in models, f"{where}: send_stored must be one of {sorted(models)}, not {what!r}"
    model = models[what]
    with container.services.uow() as uow:
        ref = uow.session.scalar(select(model.ref).order_by(model.id.desc()).limit(1))
    assert ref is not None, f"{where}: send_stored {what!r} but nothing is stored yet"
    return str(ref)


def _check_counts(session: Any, stored: dict[str, Any], where: str) -> None:
    """`report_count`, `registration_count`, and `consents` (every consent record, in order)."""
    from ussd_app.consent import ConsentRecord
    from ussd_app.reports.models import TraffickingReport
    from ussd_app.returnees.models import Registration

    for key, model in (("report_count", TraffickingReport), ("registration_count", Registration)):
        if key in stored:
            got = session.scalar(select(func.count()).select_from(model))
            assert got == stored[key], f"{where}: {key} is {got}, want {stored[key]}"
    if "consents" in stored:
        rows = session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)).all()
        got_consents = [
            {"subject_type": r.subject_type, "purpose": r.purpose, "granted": r.granted}
            for r in rows
        ]
        assert got_consents == stored["consents"], f"{where}: consents are {got_consents}"


def _check_stored(container: Container, number: str, stored: dict[str, Any], where: str) -> None:
    from ussd_app.reports.models import ReporterContact, TraffickingReport
    from ussd_app.returnees.models import Registration
    from ussd_app.ussd.models import PhonePreference
    from ussd_app.ussd.preferences import flush_pending, preference_key

    services = container.services
    phone_hash = services.hash_phone(number)
    flush_pending(services, container.store)  # what the maintenance pass does with choices
    with services.uow() as uow:
        session = uow.session
        _check_counts(session, stored, where)
        if "language" in stored:
            pref = session.scalar(  # found by its own digest, not the phone hash
                select(PhonePreference).where(
                    PhonePreference.phone_hash == preference_key(services, phone_hash)
                )
            )
            if stored["language"] is None:  # nothing answered: no language remembered
                assert pref is None or pref.language is None, where
            else:
                assert pref is not None and pref.language == stored["language"], where
        if "registration" in stored:
            reg = session.scalar(select(Registration).where(Registration.phone_hash == phone_hash))
            expected = stored["registration"]
            if expected is None:
                assert reg is None, f"{where}: a registration exists but should not"
            else:
                assert reg is not None, f"{where}: no registration stored"
                for key, value in expected.items():
                    if key == "name":
                        got = services.cipher.decrypt_optional(reg.name_enc)
                    else:
                        got = getattr(reg, key)
                    assert got == value, f"{where}: registration.{key} is {got!r}, want {value!r}"
        if "report" in stored:
            reports = session.scalars(select(TraffickingReport)).all()
            expected = stored["report"]
            if expected is None:
                assert not reports, f"{where}: a report was stored but should not be"
            else:
                assert len(reports) == 1, f"{where}: {len(reports)} reports stored, want 1"
                report = reports[0]
                for key, value in expected.items():
                    if key == "vehicle":
                        got = services.cipher.decrypt_optional(report.vehicle_enc)
                    else:
                        got = getattr(report, key)
                    assert got == value, f"{where}: report.{key} is {got!r}, want {value!r}"
                contact = session.scalar(
                    select(ReporterContact).where(ReporterContact.report_id == report.id)
                )
                assert contact is not None, f"{where}: no reporter contact row"
                assert contact.phone_enc is not None, f"{where}: reporter number missing"
                assert services.cipher.decrypt(contact.phone_enc) == number, where
                # The report row itself must not hold the number in any form.
                for column in TraffickingReport.__table__.columns:
                    value = getattr(report, column.key)
                    assert number not in str(value), f"{where}: number in report.{column.key}"
                    assert phone_hash != value, f"{where}: phone hash in report.{column.key}"
