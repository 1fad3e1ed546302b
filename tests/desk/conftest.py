"""Fixtures for the desk: partners, enrolled staff users, the real app and a signed-in client.

Everything runs on the suite's real database and Redis (SQLite + embedded Redis by default,
PostgreSQL + Redis with TEST_DATABASE_URL / TEST_REDIS_URL).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pyotp
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from ussd_app import create_app
from ussd_app.bootstrap import Container, bootstrap
from ussd_app.config import Settings
from ussd_app.container import Services
from ussd_app.partners.models import Partner
from ussd_app.staff import accounts
from ussd_app.staff.accounts import StaffAccount
from ussd_app.staff.models import StaffUser

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Staff:
    """An enrolled test user and what they need to sign in."""

    account: StaffAccount
    password: str
    secret: str
    recovery_codes: list[str]

    @property
    def username(self) -> str:
        return self.account.username

    @property
    def id(self) -> int:
        return self.account.id


def add_partners(services: Services) -> None:
    with services.uow() as uow:
        uow.session.add_all(
            [
                Partner(
                    code="LMPS-DESK",
                    name="LMPS duty desk",
                    kind="police",
                    is_national_desk=True,
                    districts=[],
                    border_posts=[],
                    case_kinds=[],
                ),
                Partner(
                    code="NGO-A",
                    name="NGO A",
                    kind="ngo",
                    districts=[],
                    border_posts=[],
                    case_kinds=[],
                ),
                Partner(
                    code="NGO-B",
                    name="NGO B",
                    kind="ngo",
                    districts=[],
                    border_posts=[],
                    case_kinds=[],
                ),
            ]
        )
        uow.commit()


def enrol(services: Services, role: str, partner: str, name: str) -> Staff:
    """Create and fully enrol a user through the services (enrolment uses the previous TOTP
    step, so codes of the current and next step are still good for sign-ins)."""
    enrolment = accounts.create_user(services, partner_code=partner, role=role, display_name=name)
    accounts.set_password_with_token(services, enrolment.token, PASSWORD)
    secret = accounts.new_totp_secret()
    earlier = time.time() - 30
    codes = accounts.confirm_totp(
        services, enrolment.token, secret, pyotp.TOTP(secret).at(earlier), now=earlier
    )
    account = accounts.get_account(services, enrolment.account.id)
    assert account is not None
    return Staff(account, PASSWORD, secret, codes)


def next_code(services: Services, staff: Staff) -> str:
    """A TOTP code the server has not seen yet (each step is good once)."""
    with services.uow() as uow:
        last = uow.session.scalar(select(StaffUser.totp_last_step).where(StaffUser.id == staff.id))
    step = max(int(time.time() // 30) - 1, (last or 0) + 1)
    assert step <= int(time.time() // 30) + 1, "no fresh TOTP step left in the window"
    return pyotp.TOTP(staff.secret).at(step * 30)


def is_signed_in(client: FlaskClient) -> bool:
    """Whether the desk's landing page (wherever it redirects a signed-in user) opens."""
    page = client.get("/desk/", follow_redirects=True)
    return page.status_code == 200 and page.request.path != "/desk/sign-in"


def csrf_of(client: FlaskClient, path: str) -> str:
    page = client.get(path, follow_redirects=True)
    found = CSRF.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path} ({page.status_code})"
    return found.group(1)


def sign_in(
    client: FlaskClient, services: Services, staff: Staff, *, code: str | None = None
) -> int:
    """Sign in through the real pages; returns the final status (303 on success)."""
    token = csrf_of(client, "/desk/sign-in")
    first = client.post(
        "/desk/sign-in",
        data={"csrf_token": token, "username": staff.username, "password": staff.password},
    )
    if first.status_code != 303:
        return first.status_code
    token = csrf_of(client, "/desk/sign-in/code")
    second = client.post(
        "/desk/sign-in/code",
        data={"csrf_token": token, "code": code or next_code(services, staff)},
    )
    return second.status_code


@pytest.fixture
def desk_settings(settings: Settings) -> Settings:
    return replace(settings, desk_signin_max_delay_s=0.0)


@pytest.fixture
def desk_container(
    desk_settings: Settings, clean_db: Engine, redis_conn: redis.Redis
) -> Iterator[Container]:
    built = bootstrap(desk_settings)
    add_partners(built.services)
    yield built
    built.close()  # held Redis writes go out first (write-behind)


@pytest.fixture
def desk_services(desk_container: Container) -> Services:
    return desk_container.services


@pytest.fixture
def app(desk_container: Container) -> Flask:
    return create_app(container=desk_container)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def admin(desk_services: Services) -> Staff:
    return enrol(desk_services, "admin", "LMPS-DESK", "Ada Admin")


@pytest.fixture
def officer(desk_services: Services) -> Staff:
    return enrol(desk_services, "officer", "NGO-A", "Olu Officer")
