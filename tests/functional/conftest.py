"""Fixtures that run the real app (real menus.yaml, real handlers) against the test DB and Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from ussd_app import create_app
from ussd_app.bootstrap import Container, bootstrap
from ussd_app.config import Settings


@pytest.fixture
def container(settings: Settings, clean_db: Engine, redis_conn: redis.Redis) -> Iterator[Container]:
    built = bootstrap(settings)
    yield built
    built.close()  # held Redis writes go out first (write-behind)


@pytest.fixture
def app(container: Container) -> Flask:
    return create_app(container=container)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Phone:
    """Drives the webhook like the gateway: accumulates `text` with `*` per session."""

    def __init__(
        self, client: FlaskClient, number: str = "+26658000001", path: str = "/ussd"
    ) -> None:
        self.client = client
        self.number = number
        self.path = path
        self.session_id = ""
        self.text = ""
        self.count = 0

    def dial(self, text: str = "") -> str:
        self.count += 1
        self.session_id = f"ATUid_test{self.count:04d}{abs(hash(self.number)) % 10_000:04d}"
        self.text = text
        return self.post()

    def send(self, value: str) -> str:
        self.text = value if self.text == "" else self.text + "*" + value
        return self.post()

    def post(self, text: str | None = None) -> str:
        res = self.client.post(
            self.path,
            data={
                "sessionId": self.session_id,
                "serviceCode": "*384*1234#",
                "phoneNumber": self.number,
                "networkCode": "99999",
                "text": self.text if text is None else text,
            },
        )
        assert res.status_code == 200, res.get_data(as_text=True)
        return res.get_data(as_text=True)


@pytest.fixture
def phone(client: FlaskClient) -> Phone:
    return Phone(client)
