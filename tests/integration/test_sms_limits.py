"""The SMS reply limit (issue 8, item 5): a burst of STATUS guesses from one number is answered
only up to the limit and every hit is counted; a burst of SMS reports from one number is still
filed in full and every report reaches the duty desk; other senders are not affected."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from tests.integration.alerts_support import PARTNERS_FILE, drain
from tests.standin import AtStandIn
from ussd_app import create_app
from ussd_app.bootstrap import Container, bootstrap
from ussd_app.config import Settings
from ussd_app.messaging.models import OutboundSms, SmsPurpose
from ussd_app.partners.importer import import_partners
from ussd_app.reports.models import TraffickingReport
from ussd_app.runtime import jobs

GUESSER = "+26658777777"
NEIGHBOUR = "+26658777778"
DESK = "+26659990001"


@pytest.fixture
def limited(alert_settings: Settings, clean_db: Any, redis_conn: Any) -> Iterator[Container]:
    container = bootstrap(replace(alert_settings, sms_reply_limit="3 per hour"))
    jobs.configure(container)
    import_partners(container.services.session_factory, PARTNERS_FILE)
    yield container
    container.close()  # held Redis writes go out first (write-behind)


def hits() -> float:
    return REGISTRY.get_sample_value("limit_hits_total", {"limit": "sms_replies"}) or 0.0


def send(container: Container, sender: str, text: str, n: int, tag: str) -> None:
    client = create_app(container=container).test_client()
    for i in range(n):
        res = client.post(
            "/sms/inbound", data={"from": sender, "to": "12345", "text": text, "id": f"{tag}{i}"}
        )
        assert res.status_code == 200, res.get_data(as_text=True)


def replies(container: Container) -> int:
    with container.services.uow() as uow:
        return int(
            uow.session.scalar(
                select(func.count(OutboundSms.id)).where(
                    OutboundSms.purpose == SmsPurpose.REPLY.value
                )
            )
            or 0
        )


def test_status_guesses_beyond_the_limit_get_no_reply_and_are_counted(
    limited: Container,
) -> None:
    before = hits()
    send(limited, GUESSER, "STATUS T-12345678", 10, "guess-")
    assert replies(limited) == 3
    assert hits() - before == 7
    # Another number is not slowed by the first one's flood.
    send(limited, NEIGHBOUR, "HELP", 1, "other-")
    assert replies(limited) == 4


def test_a_burst_of_reports_is_filed_in_full_and_reaches_the_duty_desk(
    limited: Container, standin: AtStandIn
) -> None:
    send(limited, GUESSER, "REPORT girls in a taxi at Maputsoe, scared", 6, "rep-")
    drain(limited)
    with limited.services.uow() as uow:
        filed = uow.session.scalar(select(func.count(TraffickingReport.id)))
    assert filed == 6  # never dropped
    words = {w.strip(".,:;") for m in standin.messages if m.number == DESK for w in m.text.split()}
    to_desk = {w for w in words if w.startswith("T-")}
    # Each report reached the national desk: 5 alerts, and the 6th (over REPORT_LIMIT, 5 an
    # hour) in a possible-flood batch alert (tests/integration/test_floods.py).
    assert len(to_desk) == 6
    assert replies(limited) == 3  # only the thank-you replies are limited
