"""Issue 8, item 7: `/metrics` for operators, protected, with the series README "Metrics" lists."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
import redis
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from tests.functional.conftest import Phone
from tests.integration.alerts_support import PARTNERS_FILE, drain, file_report
from ussd_app import create_app, metrics
from ussd_app.bootstrap import Container, bootstrap
from ussd_app.config import Settings
from ussd_app.partners.importer import import_partners
from ussd_app.runtime import jobs

TOKEN = "m3tr1cs-T0ken-for-tests-0123456789abcdefXYZ"
BDS = "+26659990071"  # a partner contact of partners.example.yaml


@pytest.fixture
def container(settings: Settings, clean_db: Engine, redis_conn: redis.Redis) -> Iterator[Container]:
    built = bootstrap(replace(settings, metrics_token=TOKEN))
    jobs.configure(built)
    import_partners(built.services.session_factory, PARTNERS_FILE)
    yield built
    built.close()  # held Redis writes go out first (write-behind)


@pytest.fixture
def client(container: Container) -> FlaskClient:
    return create_app(container=container).test_client()


def scrape(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    res = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(res.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_refuse_without_the_right_token(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 403
    assert client.get(f"/metrics?token={TOKEN}").status_code == 403
    assert client.get("/healthz").status_code == 200  # unchanged, open to the balancer


def test_without_a_token_only_loopback_and_never_in_production(container: Container) -> None:
    container.settings = replace(container.settings, metrics_token="")
    client = create_app(container=container).test_client()
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    far = {"REMOTE_ADDR": "196.201.214.10"}
    assert client.get("/metrics", environ_overrides=far).status_code == 403
    container.settings = replace(container.settings, app_env="production")
    assert client.get("/metrics").status_code == 404


def test_one_hop_counts_once_and_every_series_is_exposed(
    client: FlaskClient, container: Container
) -> None:
    hops_before = value("ussd_hops_total", screen="language")
    Phone(client, number="+26658000777").dial("")
    samples = scrape(client)
    assert samples[("ussd_hops_total", (("screen", "language"),))] - hops_before == 1

    # Errors by screen: a hop that fails inside counts against the screen it was on.
    errors_before = value("ussd_hop_errors_total", screen="_new")
    with pytest.raises(RuntimeError), container.store.hop("ATUid_boom", "somehash"):
        raise RuntimeError("boom")
    assert value("ussd_hop_errors_total", screen="_new") - errors_before == 1

    # Limit hits: the hook rate limits call.
    hits_before = value("limit_hits_total", limit="status_per_sender")
    metrics.limit_hit("status_per_sender")

    # Alerts by state and queue depth are read at scrape time.
    ref = file_report(container)
    container.store.flush()  # its routing job, held by the write-behind, reaches the queue
    samples = scrape(client)
    alerts = {
        labels: v for (name, labels), v in samples.items() if name == "sms_messages" and v > 0
    }
    assert (("purpose", "alert"), ("state", "pending")) in alerts
    queued = samples[("rq_queue_jobs", (("kind", "queued"), ("queue", "alerts")))]
    # ... and the report's routing job, which file_report already ran (running it again: no-op).
    assert queued == alerts[(("purpose", "alert"), ("state", "pending"))] + 1
    assert ("rq_queue_jobs", (("kind", "scheduled"), ("queue", "messages"))) in samples
    assert samples[("limit_hits_total", (("limit", "status_per_sender"),))] - hits_before == 1
    assert samples[("metrics_source_up", (("source", "database"),))] == 1
    assert samples[("metrics_source_up", (("source", "redis"),))] == 1

    # Time to acknowledge: observed when a partner takes the case.
    acks_before = value("case_time_to_acknowledge_seconds_count", kind="report", priority="P1")
    drain(container)
    res = client.post(
        "/sms/inbound", data={"id": "in-ack-1", "from": BDS, "to": "12345", "text": f"ACK {ref}"}
    )
    assert res.status_code == 200
    samples = scrape(client)
    key = (
        "case_time_to_acknowledge_seconds_count",
        (("kind", "report"), ("priority", "P1")),
    )
    assert samples[key] - acks_before == 1
    assert samples[("sms_messages", (("purpose", "alert"), ("state", "sent")))] >= 1
    # Labels are codes: no number, reference or answer ever names a series.
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(True)
    assert ref not in text and "58000777" not in text and BDS[1:] not in text
