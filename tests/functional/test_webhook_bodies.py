"""Every webhook answers 4xx to bad input and 2xx to what it has already seen; never 5xx for
something a retry cannot fix (issue 7, item 5).

Hypothesis posts random bodies (any bytes, NUL included, up to 1 MB) and random forms (NUL and
control characters, over-long ids) to /ussd, /ussd/events, /sms/inbound and /sms/delivery, each
twice, and checks that no answer is a 5xx and that the second post stores nothing.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, OperationalError

from ussd_app.bootstrap import Container
from ussd_app.messaging import delivery_reports
from ussd_app.messaging.models import DeliveryReport, InboundSms, OutboundSms
from ussd_app.reports.models import TraffickingReport
from ussd_app.returnees.models import Registration
from ussd_app.ussd.models import UssdSessionEvent

WEBHOOKS = ("/ussd", "/ussd/events", "/sms/inbound", "/sms/delivery")
BODY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MODELS = (
    TraffickingReport,
    Registration,
    InboundSms,
    DeliveryReport,
    OutboundSms,
    UssdSessionEvent,
)

# Any bytes, from nothing to 1 MB: mostly small, sometimes just over the 4 KB limit, sometimes huge.
raw_bodies = st.one_of(
    st.binary(max_size=512),
    st.binary(min_size=3_900, max_size=4_300),
    st.integers(min_value=4_097, max_value=1_000_000)
    .map(lambda n: (secrets.token_bytes(64) + b"\x00=&%") * (n // 68 + 1))
    .map(lambda b: b[:1_000_000]),
)
# Field values with what breaks naive code: NUL and other control characters, long runs.
hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200),
    st.sampled_from(
        ["\x00", "a\x00b", "\x1b[2J", "\x7f", "\x85", "T-1234\x00", "+266\x0058000001"]
    ),
    st.integers(min_value=120, max_value=400).map(lambda n: "x" * n),
)


def _form_for(path: str, values: list[str]) -> dict[str, str]:
    """A form with the fields `path` expects, each replaced by a hostile value in turn."""
    v = iter(values)
    if path == "/ussd":
        keys = ("sessionId", "serviceCode", "phoneNumber", "networkCode", "text")
    elif path == "/ussd/events":
        keys = ("sessionId", "phoneNumber", "status", "hopsCount", "hopsMetadata")
    elif path == "/sms/inbound":
        keys = ("id", "from", "to", "text", "date")
    else:
        keys = ("id", "status", "failureReason", "phoneNumber", "networkCode")
    return {key: next(v, "") for key in keys}


def _counts(container: Container) -> tuple[int, ...]:
    with container.services.uow() as uow:
        return tuple(
            int(uow.session.scalar(select(func.count()).select_from(m)) or 0) for m in MODELS
        )


def _check_twice(client: FlaskClient, container: Container, path: str, **kw: Any) -> int:
    first = client.post(path, **kw)
    assert first.status_code < 500, (path, first.status_code, first.get_data(as_text=True))
    after_first = _counts(container)
    second = client.post(path, **kw)
    assert second.status_code < 500, (path, second.status_code, second.get_data(as_text=True))
    assert _counts(container) == after_first, f"{path}: the second post stored something"
    return first.status_code


class TestHostileBodies:
    @pytest.mark.parametrize("path", WEBHOOKS)
    @BODY_SETTINGS
    @given(body=raw_bodies)
    def test_any_bytes_up_to_a_megabyte_never_get_a_5xx_or_are_stored_twice(
        self, client: FlaskClient, container: Container, path: str, body: bytes
    ) -> None:
        status = _check_twice(
            client,
            container,
            path,
            data=body,
            content_type="application/x-www-form-urlencoded",
        )
        if len(body) > 4096:
            assert status == 413

    @pytest.mark.parametrize("path", WEBHOOKS)
    @BODY_SETTINGS
    @given(values=st.lists(hostile_text, min_size=1, max_size=5))
    def test_hostile_field_values_never_get_a_5xx_or_are_stored_twice(
        self, client: FlaskClient, container: Container, path: str, values: list[str]
    ) -> None:
        _check_twice(client, container, path, data=_form_for(path, values))

    @pytest.mark.parametrize("path", WEBHOOKS)
    def test_a_nul_in_any_field_is_a_400(
        self, client: FlaskClient, container: Container, path: str
    ) -> None:
        good = {
            "/ussd": ["ATUid_nul", "*384*1234#", "+26658000001", "99999", ""],
            "/ussd/events": ["ATUid_nul", "+26658000001", "Incomplete", "3", "main"],
            "/sms/inbound": ["ATXid_nul", "+26658000001", "12345", "HELP", "2026-01-01"],
            "/sms/delivery": ["ATXid_nul", "Success", "", "+26658000001", "99999"],
        }[path]
        for i in range(len(good)):
            values = list(good)
            values[i] = values[i] + "\x00"
            res = client.post(path, data=_form_for(path, values))
            assert res.status_code == 400, (path, i, res.get_data(as_text=True))
        assert _counts(container) == (0,) * len(MODELS)

    def test_an_inbound_id_too_long_for_its_keys_is_a_400_and_stores_nothing(
        self, client: FlaskClient, container: Container
    ) -> None:
        form = {"id": "A" * 155, "from": "+26658000001", "to": "12345", "text": "REPORT a van"}
        res = client.post("/sms/inbound", data=form)
        assert res.status_code == 400 and "id" in res.get_data(as_text=True)
        assert _counts(container) == (0,) * len(MODELS)
        ok = client.post("/sms/inbound", data={**form, "id": "A" * 120})
        assert ok.status_code == 200
        again = client.post("/sms/inbound", data={**form, "id": "A" * 120})
        assert again.status_code == 200 and "duplicate" in again.get_data(as_text=True)


class TestUnavailable:
    def test_database_down_is_a_503_so_the_gateway_retries(
        self, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def down(*_a: Any, **_k: Any) -> str:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))

        monkeypatch.setattr(delivery_reports, "record_delivery_report", down)
        res = client.post("/sms/delivery", data={"id": "ATXid_1", "status": "Success"})
        assert res.status_code == 503

    def test_a_value_the_database_refuses_is_a_400_not_a_retry(
        self, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def refused(*_a: Any, **_k: Any) -> str:
            raise DataError("INSERT", {}, Exception("value too long"))

        monkeypatch.setattr(delivery_reports, "record_delivery_report", refused)
        res = client.post("/sms/delivery", data={"id": "ATXid_1", "status": "Success"})
        assert res.status_code == 400


class TestUnknownDeliveryReports:
    def test_kept_for_a_bounded_time_then_dropped_by_the_sweeper_with_a_count(
        self, client: FlaskClient, container: Container
    ) -> None:
        from ussd_app.db import utcnow
        from ussd_app.runtime.maintenance import run_maintenance

        for i in range(3):
            res = client.post(
                "/sms/delivery", data={"id": f"ATXid_unknown{i}", "status": "Success"}
            )
            assert res.status_code == 200 and "stored" in res.get_data(as_text=True)
        assert run_maintenance(container).unmatched_dropped == 0  # kept a while
        later = utcnow() + delivery_reports.UNMATCHED_KEEP + dt.timedelta(minutes=1)
        assert run_maintenance(container, now=later).unmatched_dropped == 3
        assert run_maintenance(container, now=later).unmatched_dropped == 0
        with container.services.uow() as uow:
            assert uow.session.scalar(select(func.count(DeliveryReport.id))) == 0
