"""Issue 12, item 1: the caller's hop commits the report alone; routing runs after, never lost.

- A process killed (SIGKILL) right after the report's (or registration's) commit, before its
  routing job is enqueued: the sweeper routes it, and every expected alert is sent once.
- Redis down from the moment the report commits (session save and the routing job's enqueue
  both fail): the caller gets the reference, and once Redis is back the sweeper alerts everyone
  once; further sweeps, and the lost job turning up late, send nothing more.

Real parts: the database of the run (SQLite, or PostgreSQL with TEST_DATABASE_URL), Redis, an
RQ worker (burst), the Africa's Talking SDK against the stand-in, a real child process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rq import Queue
from sqlalchemy import select

from tests.integration.alerts_support import (
    P1_ANSWERS,
    REPORTER,
    drain,
    expected_recipients,
    outbox_rows,
)
from tests.integration.test_never_wrong import URGENT_FINISH, URGENT_START, FailAfter, Session
from tests.standin import AtStandIn
from ussd_app import create_app
from ussd_app.bootstrap import Container
from ussd_app.cases import staging
from ussd_app.db import utcnow
from ussd_app.messaging.queues import QUEUE_ALERTS
from ussd_app.reports.models import TraffickingReport
from ussd_app.returnees.models import Registration
from ussd_app.runtime import jobs
from ussd_app.runtime.maintenance import run_maintenance

REPO_ROOT = Path(__file__).resolve().parents[2]

# Runs in a child process: store one report or registration, and die by SIGKILL in the
# after-commit step that would have enqueued its routing job.
_CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from ussd_app.bootstrap import build_services
    from ussd_app.config import Settings
    from ussd_app.messaging.queues import LeaveForSweeper

    cfg = json.loads(sys.argv[1])
    settings = Settings(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})

    class KilledAfterCommit(LeaveForSweeper):
        def enqueue_routing(self, subject, subject_id):
            print(f"committed {subject} {subject_id}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
            return False

    services, _engine = build_services(settings, KilledAfterCommit())
    if sys.argv[2] == "report":
        from ussd_app.reports.intake import submit_report
        submit_report(services, phone=sys.argv[3], language="en",
                      answers=json.loads(sys.argv[4]), idempotency_key="ATUid_killed")
    else:
        from ussd_app.returnees.registrations import register_returnee
        register_returnee(services, phone=sys.argv[3], language="en",
                          answers=json.loads(sys.argv[4]))
    print("not killed", flush=True)
    """
)

REGISTRATION_ANSWERS: dict[str, Any] = {
    "consent": "yes",
    "share_partners": "yes",
    "sms_opt_in": "yes",
    "home_district": "LS-F",
    "came_from": "ZA-GP",
    "stay_intent": "staying",
    "entry_point": "maseru_bridge",
    "needs": ["skills", "clinic"],
}
RETURNEE = "+26658999000"


def _run_child_killed(code: str, *args: str) -> str:
    """Run `code` in a child process that must die by SIGKILL; its output."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, (done.stdout, done.stderr)
    return done.stdout


def _run_child_killed_after_commit(container: Container, subject: str) -> None:
    cfg = dataclasses.asdict(container.settings)
    answers = P1_ANSWERS if subject == "report" else REGISTRATION_ANSWERS
    phone = REPORTER if subject == "report" else RETURNEE
    out = _run_child_killed(_CHILD, json.dumps(cfg), subject, phone, json.dumps(answers))
    assert f"committed {subject}" in out and "not killed" not in out


def _sweep_later(container: Container) -> None:
    """One sweeper pass as if its grace period had gone by, then the worker drains."""
    run_maintenance(container, now=utcnow() + dt.timedelta(seconds=staging.SWEEP_GRACE_S + 5))
    drain(container)


def _report(container: Container) -> TraffickingReport:
    with container.services.uow() as uow:
        (report,) = uow.session.scalars(select(TraffickingReport)).all()
        uow.session.expunge(report)
        return report


def _alerted_numbers(standin: AtStandIn) -> Counter[str]:
    return Counter(m.number for m in standin.messages)


def test_killed_after_the_report_commit_the_sweeper_alerts_everyone_once(
    alert_container: Container, standin: AtStandIn
) -> None:
    _run_child_killed_after_commit(alert_container, "report")
    report = _report(alert_container)
    assert report.routed_at is None  # committed, never routed
    assert outbox_rows(alert_container) == []
    drain(alert_container)  # no job was ever enqueued: nothing happens on its own
    assert standin.messages == []

    _sweep_later(alert_container)
    expected = Counter(r.phone for r in expected_recipients(alert_container, report.ref))
    assert expected and _alerted_numbers(standin) == expected
    assert all(report.ref in m.text for m in standin.messages)
    assert _report(alert_container).routed_at is not None

    _sweep_later(alert_container)  # the next passes find nothing to do
    assert jobs.route_subject("report", report.id) is False  # nor does a late job
    drain(alert_container)
    assert _alerted_numbers(standin) == expected


def test_killed_after_the_registration_commit_the_sweeper_sends_its_notices_once(
    alert_container: Container, standin: AtStandIn
) -> None:
    _run_child_killed_after_commit(alert_container, "registration")
    with alert_container.services.uow() as uow:
        (reg,) = uow.session.scalars(select(Registration)).all()
        reg_id, reg_ref, routed = reg.id, reg.ref, reg.routed_at
    assert routed is None
    assert outbox_rows(alert_container) == []

    _sweep_later(alert_container)
    rows = outbox_rows(alert_container)
    # The returnee's confirmation (opted in) and at least one partner notice.
    assert {r.purpose for r in rows} == {"confirmation", "alert"}
    assert len(standin.messages) == len(rows)
    assert all(r.status == "sent" for r in outbox_rows(alert_container))
    assert all(reg_ref in m.text for m in standin.messages)
    before = _alerted_numbers(standin)

    _sweep_later(alert_container)
    assert jobs.route_subject("registration", reg_id) is False
    drain(alert_container)
    assert _alerted_numbers(standin) == before


def test_redis_down_after_the_commit_the_caller_has_the_reference_and_all_are_alerted_once(
    alert_container: Container,
    standin: AtStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import handlers.reports

    client = create_app(container=alert_container).test_client()
    session = Session(client, "ATUid_routing_redis_down")
    session.send(*URGENT_START, *URGENT_FINISH[:-1])
    failing = FailAfter(alert_container.redis)
    real_submit = handlers.reports.submit_report

    def submit_then_redis_goes(*args: Any, **kwargs: Any) -> Any:
        # Redis goes away inside the commit's after-steps: the routing job's enqueue fails.
        dead_queue = Queue(QUEUE_ALERTS, connection=failing)  # type: ignore[arg-type]
        queues = {**alert_container.dispatcher._queues, QUEUE_ALERTS: dead_queue}
        monkeypatch.setattr(alert_container.dispatcher, "_queues", queues)
        failing.armed = True
        return real_submit(*args, **kwargs)

    monkeypatch.setattr(handlers.reports, "submit_report", submit_then_redis_goes)
    monkeypatch.setattr(alert_container.store, "_redis", failing)
    body = session.send(URGENT_FINISH[-1])

    report = _report(alert_container)
    assert body.startswith("END Report T-") and report.ref in body, body
    assert failing.refused > 0
    assert report.routed_at is None
    monkeypatch.undo()  # Redis is back

    drain(alert_container)
    assert standin.messages == []  # the job was lost with Redis
    _sweep_later(alert_container)
    expected = Counter(r.phone for r in expected_recipients(alert_container, report.ref))
    assert expected and _alerted_numbers(standin) == expected
    _sweep_later(alert_container)
    assert _alerted_numbers(standin) == expected


# Runs in a child process: a whole USSD report through the real hop path (bootstrap, Flask,
# the session store's write-behind held for 60 s), then death by SIGKILL right after the last
# reply, while the report's routing job (and the hop's session save) are still held in memory.
_HOP_CHILD = textwrap.dedent(
    """
    import dataclasses, json, os, signal, sys
    from ussd_app import create_app
    from ussd_app.bootstrap import bootstrap
    from ussd_app.config import Settings

    cfg = json.loads(sys.argv[1])
    settings = Settings(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})
    settings = dataclasses.replace(settings, hop_write_behind_ms=1000, embedded_worker=False)
    container = bootstrap(settings)
    client = create_app(container=container).test_client()
    for text in json.loads(sys.argv[3]):
        form = {"sessionId": "ATUid_killed_hop", "serviceCode": "*384*1234#",
                "phoneNumber": sys.argv[2], "networkCode": "99999", "text": text}
        body = client.post("/ussd", data=form).get_data(as_text=True)
    print("reply:", body, flush=True)
    print("held:", container.store._wire.pending(), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_web_process_killed_with_the_routing_job_still_held_the_sweeper_alerts_once(
    alert_container: Container, standin: AtStandIn
) -> None:
    """Write-behind (redis_wire): the routing job of a report filed on a hop goes out with the
    process's next Redis command. Killed before that, the report is committed, the caller had
    its reference, and the sweeper alerts every expected partner once."""
    answers = [*URGENT_START, *URGENT_FINISH]
    texts = [""] + ["*".join(answers[: i + 1]) for i in range(len(answers))]
    out = _run_child_killed(
        _HOP_CHILD, json.dumps(dataclasses.asdict(alert_container.settings)), REPORTER,
        json.dumps(texts),
    )  # fmt: skip
    report = _report(alert_container)
    assert f"reply: END Report {report.ref}" in out, out
    assert "held: 2" in out  # the routing job and the last hop's save, never sent
    assert report.routed_at is None
    drain(alert_container)
    assert standin.messages == []  # no job reached Redis

    _sweep_later(alert_container)
    expected = Counter(r.phone for r in expected_recipients(alert_container, report.ref))
    assert expected and _alerted_numbers(standin) == expected
    _sweep_later(alert_container)
    assert _alerted_numbers(standin) == expected
