"""`ussd-app users ...` on the real database: create prints a link that works, list, disable,
reset-2fa; and the banner `serve` prints."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from tests.desk.conftest import add_partners, enrol
from ussd_app.cli import main
from ussd_app.container import Services
from ussd_app.staff import accounts, audit
from ussd_app.staff.accounts import PasswordCheck
from ussd_app.staff.audit import Action, AuditFilter
from ussd_app.staff.cli import add_users_commands, desk_banner


class _Engine:
    def dispose(self) -> None:
        return None


@pytest.fixture
def cli(services: Services) -> click.Group:
    add_partners(services)
    group = click.Group("ussd-app")
    add_users_commands(group, lambda: (services, _Engine()))  # type: ignore[arg-type,return-value]
    return group


def run(cli: click.Group, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_the_real_cli_has_the_users_group() -> None:
    assert "users" in main.commands
    assert set(main.commands["users"].commands) == {"create", "list", "disable", "reset-2fa"}  # type: ignore[attr-defined]


def test_create_prints_a_one_time_link(cli: click.Group, services: Services) -> None:
    code, out = run(
        cli, "users", "create", "--role", "admin", "--partner", "LMPS-DESK", "--name", "Ada Admin"
    )
    assert code == 0, out
    link = re.search(r"http://127\.0\.0\.1:8000/desk/enrol/(\S+)", out)
    assert link and "ada.admin" in out and "UTC" in out
    account = accounts.account_for_enrolment(services, link.group(1))
    assert account is not None and account.role == "admin"
    rows = audit.query(services, AuditFilter(action=Action.USER_CREATE))
    assert len(rows) == 1 and rows[0].actor_id is None


def test_create_refuses_bad_input(cli: click.Group) -> None:
    code, out = run(cli, "users", "create", "--role", "admin", "--partner", "NOPE", "--name", "X")
    assert code == 1 and "no partner" in out
    code, out = run(cli, "users", "create", "--role", "root", "--partner", "NGO-A", "--name", "X")
    assert code == 2  # not a role


def test_list_disable_and_reset(cli: click.Group, services: Services) -> None:
    code, out = run(cli, "users", "list")
    assert code == 0 and "no users yet" in out
    staff = enrol(services, "officer", "NGO-A", "Olu Officer")
    code, out = run(cli, "users", "list")
    assert code == 0 and "olu.officer" in out and "officer" in out and "NGO-A" in out
    code, out = run(cli, "users", "reset-2fa", "olu.officer")
    assert code == 0 and "/desk/enrol/" in out
    assert (
        accounts.check_password(services, staff.username, staff.password).outcome
        is PasswordCheck.NOT_ENROLLED
    )
    code, out = run(cli, "users", "disable", "olu.officer")
    assert code == 0 and "disabled" in out
    assert (
        accounts.check_password(services, staff.username, staff.password).outcome
        is PasswordCheck.WRONG
    )
    code, out = run(cli, "users", "disable", "nobody")
    assert code == 1 and "no user" in out


def test_serve_banner_tells_how_to_make_the_first_user(services: Services) -> None:
    add_partners(services)
    lines = desk_banner(services, "http://127.0.0.1:8000/desk/")
    assert lines[0] == "Staff desk on http://127.0.0.1:8000/desk/"
    assert any("ussd-app users create --role admin" in line for line in lines)
    enrol(services, "admin", "LMPS-DESK", "Ada Admin")
    assert desk_banner(services, "http://x/desk/") == ["Staff desk on http://x/desk/"]
