"""Issue 8, items 2 and 3: what the service keeps cannot be joined to a reporter's phone.

Every test drives the real webhooks (USSD and SMS) with the real menus, handlers, database,
Redis, RQ and the console SMS backend (its `sms.log` in the instance folder), then dumps
everything a person with access could read: every column of every table (and every encrypted
column decrypted, as someone holding DATA_KEYS would), every Redis key with its value decoded,
every file in the instance folder, and every log line as the real masking handler writes it and
as the code emitted it. In none may the reporter's number (in any format), its phone hash, or
the gateway's session id appear, except where the retention table (README "Retention") says so.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.functional.conftest import Phone
from tests.held_writes import flush_held_writes
from tests.integration.alerts_support import PARTNERS_FILE, drain, later
from ussd_app import logging_setup, phones
from ussd_app.bootstrap import Container
from ussd_app.db import Base
from ussd_app.partners.importer import import_partners
from ussd_app.runtime import jobs
from ussd_app.runtime.maintenance import run_maintenance

REPORTER = "+26658123456"
PLATE = "QX 417 ZT"  # the vehicle answer: must never be readable in Redis
# A report with danger now (so the urgent marker is written too), a plate, call-back: no.
REPORT_KEYS = ["2", "2", "1", "3", "28", "1", "1", "3", PLATE, "1"]
# English, register, consent, Berea, Gauteng, Maseru Bridge, passport, clinic, woman 18-35, SMS only
REGISTER_KEYS = ["2", "1", "1", "1", "1", "1", "1", "1", "1", "2"]
DELETE_KEYS = ["5", "1", "1"]


def number_forms(e164: str) -> list[str]:
    """The number as anyone might write it (E.164, without +, 00, national, spaced, dashed)."""
    national = e164[4:]
    return [
        e164,
        e164[1:],
        "00" + e164[1:],
        national,
        f"{national[:4]} {national[4:]}",
        f"{national[:4]}-{national[4:]}",
        f"+266 {national[:4]} {national[4:]}",
    ]


@dataclass
class Dump:
    """Everything readable, as (where, text) pairs."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        self.items.append((where, str(value)))

    def find(self, needles: list[str]) -> list[str]:
        return [
            f"{where}: {needle!r} in {text[:120]!r}"
            for where, text in self.items
            for needle in needles
            if needle and needle in text
        ]


def dump_tables(container: Container, *, decrypt: bool) -> Dump:
    dump = Dump()
    cipher = container.services.cipher
    with container.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)).mappings():
                for column, value in row.items():
                    where = f"{table.name}.{column}"
                    dump.add(where, json.dumps(value, default=str))
                    if decrypt and column.endswith("_enc") and value:
                        dump.add(where + " (decrypted)", cipher.decrypt(value))
    return dump


def dump_redis(conn: redis.Redis) -> Dump:
    flush_held_writes()  # what the hops wrote, held saves and routing jobs included
    dump = Dump()
    for key in conn.scan_iter("*"):
        name = key.decode()
        dump.add(f"redis key {name}", name)
        kind = conn.type(key).decode()
        values: list[Any] = []
        if kind == "string":
            values = [conn.get(key)]
        elif kind == "hash":
            for k, v in conn.hgetall(key).items():
                values += [k, v]
                with contextlib.suppress(zlib.error):  # RQ keeps job data zlib-compressed
                    values.append(zlib.decompress(v))
        elif kind == "list":
            values = conn.lrange(key, 0, -1)
        elif kind == "set":
            values = list(conn.smembers(key))
        elif kind == "zset":
            values = [m for m, _ in conn.zrange(key, 0, -1, withscores=True)]
        for value in values:
            dump.add(f"redis {name}", value)
    return dump


def dump_files(folder: Path) -> Dump:
    dump = Dump()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            dump.add(f"file {path.relative_to(folder)}", path.read_bytes())
    return dump


class Logs:
    """Log lines as the real handler writes them, and as the code emitted them (unmasked)."""

    def __init__(self, mask_key: str, caplog: pytest.LogCaptureFixture) -> None:
        phones.set_mask_key(mask_key)
        self.stream = io.StringIO()
        self.handler = logging_setup.build_handler(self.stream, json_output=True)
        self.caplog = caplog

    def dump(self) -> Dump:
        dump = Dump()
        for line in self.stream.getvalue().splitlines():
            dump.add("log line", line)
        for record in self.caplog.records:
            dump.add("log record (before masking)", f"{record.name} {record.getMessage()}")
        return dump


@pytest.fixture
def logs(container: Container, caplog: pytest.LogCaptureFixture) -> Iterator[Logs]:
    captured = Logs(container.settings.phone_hash_key, caplog)
    root = logging.getLogger()
    root.addHandler(captured.handler)
    caplog.set_level(logging.DEBUG)
    try:
        yield captured
    finally:
        root.removeHandler(captured.handler)


@pytest.fixture
def live(container: Container) -> Container:
    """The container with the example partners (so alerts go out) and the send job wired."""
    jobs.configure(container)
    import_partners(container.services.session_factory, PARTNERS_FILE)
    return container


def end_session(client: FlaskClient, phone: Phone, status: str, screens: str) -> None:
    res = client.post(
        "/ussd/events",
        data={
            "sessionId": phone.session_id,
            "serviceCode": "*384*1234#",
            "phoneNumber": phone.number,
            "networkCode": "99999",
            "status": status,
            "hopsCount": "10",
            "durationInMillis": "40000",
            "hopsMetadata": screens,
            "input": "|".join(REPORT_KEYS),
            "lastAppResponse": "END Report ...",
        },
    )
    assert res.status_code == 200


def run(phone: Phone, keys: list[str]) -> str:
    reply = phone.dial("")
    for key in keys:
        reply = phone.send(key)
    return reply


def secrets_of(container: Container, phone: Phone) -> list[str]:
    return [
        *number_forms(phone.number),
        container.services.hash_phone(phone.number),
        phone.session_id,
    ]


def tag_of(number: str) -> str:
    return phones.mask(number).rsplit("#", 1)[1]


def test_a_report_without_call_back_leaves_nothing_that_leads_to_the_phone(
    client: FlaskClient, live: Container, logs: Logs
) -> None:
    phone = Phone(client, number=REPORTER)
    reply = run(phone, REPORT_KEYS)
    assert reply.startswith("END Report T-"), reply
    ref = reply.split()[2]
    end_session(client, phone, "Success", "language|main|report_danger|report_done_urgent")
    drain(live)  # the alerts go out through the console backend (instance/sms.log)
    assert (Path(live.settings.instance_dir) / "sms.log").exists()
    needles = secrets_of(live, phone)

    found = [
        *dump_tables(live, decrypt=False).find(needles),
        *dump_redis(live.redis).find([*needles, PLATE]),
        *dump_files(Path(live.settings.instance_dir)).find(needles),
        *logs.dump().find(needles),
    ]
    assert found == [], "\n".join(found)

    # With DATA_KEYS, the number is readable in exactly one place, for the 7 days the retention
    # table allows: the reporter's contact row. Nothing else decrypts to it.
    decrypted = dump_tables(live, decrypt=True).find(number_forms(REPORTER))
    assert decrypted and all(
        f.startswith("reporter_contacts.phone_enc (decrypted)") for f in decrypted
    )

    # No log line puts the caller's keyed tag beside the report's reference or a session.
    tag = tag_of(REPORTER)
    beside = [
        text
        for _, text in logs.dump().items
        if tag in text and (ref in text or "session" in text or "report" in text)
    ]
    assert beside == []


def test_after_the_purge_an_sms_reporters_number_is_in_no_table_and_no_file(
    client: FlaskClient, live: Container, logs: Logs
) -> None:
    res = client.post(
        "/sms/inbound",
        data={
            "id": "ATXid_privacy_1",
            "from": REPORTER,
            "to": "38413",
            "text": "REPORT two girls in a grey minibus at Maseru Bridge",
            "date": "2026-12-02 05:00:00",
        },
    )
    assert res.status_code == 200, res.get_data(as_text=True)
    drain(live)  # the alerts and the "Thank you. Your reference is ..." reply are sent
    folder = Path(live.settings.instance_dir)
    sent = (folder / "sms.log").read_text()
    assert "Thank you" in sent and phones.mask(REPORTER) in sent  # the reply, to a masked number
    # Before the purge the reply's recipient is still held, encrypted (7 days).
    assert dump_tables(live, decrypt=True).find([REPORTER])

    # No log line names the reporter, not even by their keyed tag.
    assert [t for _, t in logs.dump().items if tag_of(REPORTER) in t] == []

    result = run_maintenance(live, now=later(8 * 24 * 60))
    assert result.purged == 1  # the reporter's contact

    needles = [*number_forms(REPORTER), live.services.hash_phone(REPORTER)]
    found = [
        *dump_tables(live, decrypt=True).find(needles),
        *dump_files(folder).find(needles),
        *dump_redis(live.redis).find(needles),
        *logs.dump().find(needles),
    ]
    assert found == [], "\n".join(found)


def test_delete_my_data_leaves_no_trace_of_the_number(
    client: FlaskClient, live: Container, logs: Logs
) -> None:
    phone = Phone(client, number="+26658765432")
    assert run(phone, REGISTER_KEYS).startswith("END You are registered.")
    end_session(client, phone, "Success", "language|main|reg_consent|reg_contact")
    # An SMS command from the same phone, and the confirmation SMS, leave their own copies.
    client.post(
        "/sms/inbound", data={"id": "ATXid_privacy_2", "from": phone.number, "text": "HELP"}
    )
    drain(live)
    assert dump_tables(live, decrypt=False).find([live.services.hash_phone(phone.number)])

    assert "deleted" in run(phone, DELETE_KEYS)
    end_session(client, phone, "Success", "main|delete_confirm|delete_done")

    needles = [*number_forms(phone.number), live.services.hash_phone(phone.number)]
    found = [
        *dump_tables(live, decrypt=True).find(needles),
        *dump_files(Path(live.settings.instance_dir)).find(needles),
        *logs.dump().find(needles),
    ]
    assert found == [], "\n".join(found)


def test_every_redis_key_of_a_session_has_a_ttl_and_holds_no_answer_in_clear(
    client: FlaskClient, live: Container
) -> None:
    conn = live.redis
    phone = Phone(client, number=REPORTER)
    phone.dial("")
    for key in REPORT_KEYS:
        phone.send(key)
        live.store.flush()  # the hop's save, held after the reply (write-behind), is applied
        for name in conn.scan_iter("*"):
            text = name.decode()
            if text.startswith("rq:"):
                continue  # RQ's own bookkeeping: outbox row ids only (checked below)
            assert conn.ttl(name) > 0, f"{text} has no TTL after sending {key!r}"
        values = dump_redis(conn)
        leaks = values.find([PLATE, PLATE.replace(" ", ""), "danger_now", "maseru_bridge"])
        assert leaks == [], "\n".join(leaks)
    assert phone.post().startswith("END Report T-")  # (a retry: the cached reply, sealed)
    for name in conn.scan_iter("rq:job:*"):
        assert conn.ttl(name) > 0 or conn.ttl(name) == -1  # queued jobs wait for a worker
    drain(live)
    for name in conn.scan_iter("rq:job:*"):
        assert conn.ttl(name) > 0, f"{name.decode()} kept after its job ran"
    assert not dump_redis(conn).find([PLATE, "danger_now", phone.session_id, REPORTER[1:]])


def test_delete_my_data_leaves_no_trace_of_the_follow_up(
    client: FlaskClient, live: Container, logs: Logs
) -> None:
    """Issue 10, item 7: after a case worker took the registration, a service was arranged and
    the 90-day check-in was asked and answered by SMS, delete-my-data leaves neither the number
    (in any form, its hash, or the tag of its mask in sms.log) nor the answers anywhere."""
    import datetime as dt

    from ussd_app.cases import actions, staging
    from ussd_app.cases.authority import Actor
    from ussd_app.messaging.models import OutboundSms
    from ussd_app.returnees.checkins import CheckIn
    from ussd_app.returnees.models import Registration

    services = live.services
    phone = Phone(client, number="+26658765433")
    assert run(phone, REGISTER_KEYS).startswith("END You are registered.")
    with services.uow() as uow:
        reg = uow.session.scalars(select(Registration)).one()
        reg.contact_by, reg.sms_opt_in = "sms", True  # whatever the contact screen asks today
        uow.commit()
        ref, created, reg_id = reg.ref, reg.created_at, reg.id
    staging.route(services, "registration", reg_id)  # as the worker would, first thing
    iom = "+26659990121"  # the programme partner's on-duty contact: told of every registration
    client.post("/sms/inbound", data={"id": "ATXid_fu_1", "from": iom, "text": f"ACK {ref}"})
    actor = Actor("desk", partner_code="iom-lesotho", user_id=None)
    with services.uow() as uow:
        reg = uow.session.scalars(select(Registration)).one()
        need = reg.needs[0]
        for status in ("referred", "accepted"):
            assert actions.refer(services, uow, reg, actor, need=need, status=status).done
        uow.commit()
    run_maintenance(live, now=created + dt.timedelta(days=91))
    client.post(
        "/sms/inbound", data={"id": "ATXid_fu_2", "from": phone.number, "text": "CHECK 1 2 1 2"}
    )
    drain(live)
    sent = (Path(live.settings.instance_dir) / "sms.log").read_text()
    assert tag_of(phone.number) in sent and "Check-in" in sent and "case worker" in sent
    with services.uow() as uow:
        assert uow.session.scalars(select(CheckIn)).one().answers()["housing"] == "no"

    assert "deleted" in run(phone, DELETE_KEYS)

    needles = [*number_forms(phone.number), services.hash_phone(phone.number)]
    # The mask's tag too in every table and file (sms.log writes recipients as masks); the
    # process logs keep masked lines by design (README "Who may see what"), not the number.
    tagged = [*needles, tag_of(phone.number)]
    found = [
        *dump_tables(live, decrypt=True).find(tagged),
        *dump_files(Path(live.settings.instance_dir)).find(tagged),
        *logs.dump().find(needles),
    ]
    assert found == [], "\n".join(found)
    with services.uow() as uow:
        assert uow.session.scalars(select(CheckIn)).all() == []  # the answers went with it
        bodies = list(uow.session.scalars(select(OutboundSms.body)))
        # What was sent to the person, and the notices about them, are gone; a partner's own
        # "You have taken case R-..." reply stays as directory traffic (it names no one).
        assert not [b for b in bodies if ref in b and not b.startswith("You have taken case")]
    assert ref not in (Path(live.settings.instance_dir) / "sms.log").read_text()
