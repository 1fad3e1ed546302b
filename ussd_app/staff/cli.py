"""`ussd-app users ...`: the operator's commands for staff accounts.

    ussd-app users create --role admin --partner LMPS-ATU --name "Mpho Mokoena"
    ussd-app users list [--partner CODE]
    ussd-app users disable USERNAME
    ussd-app users reset-2fa USERNAME

`create` and `reset-2fa` print a one-time enrolment link (valid DESK_ENROLMENT_TTL_S) through
which the person sets their password and authenticator app. Give it to them directly (in person
or by a channel you trust); it is shown only once. These commands are audited with no actor
(the operator's command line).

`add_users_commands(main, open_services)` attaches the group to the main CLI; `open_services`
returns the service context and its engine (the CLI's own migrated, Redis-free builder).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from ussd_app.staff.roles import ASSIGNABLE_ROLES

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ussd_app.config import Settings
    from ussd_app.container import Services
    from ussd_app.staff.accounts import Enrolment, StaffAccount

ServicesOpener = Callable[[], "tuple[Services, Engine]"]
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def enrolment_link(settings: Settings, token: str) -> str:
    """The link printed for an operator (DESK_BASE_URL, else the local `serve` address)."""
    base = (settings.desk_base_url or DEFAULT_BASE_URL).rstrip("/")
    return f"{base}/desk/enrol/{token}"


def _print_enrolment(settings: Settings, enrolment: Enrolment) -> None:
    a = enrolment.account
    click.echo(f"user {a.username} (id {a.id}, {a.role}, partner {a.partner_code})")
    click.echo("One-time enrolment link (password and two-step sign-in); shown only this once:")
    click.echo(f"  {enrolment_link(settings, enrolment.token)}")
    click.echo(f"It works until {enrolment.expires_at:%Y-%m-%d %H:%M} UTC.")


def _account_or_fail(services: Services, username: str) -> StaffAccount:
    from ussd_app.staff import accounts

    account = accounts.find_account(services, username)
    if account is None:
        raise click.ClickException(f"no user {username!r} (see `ussd-app users list`)")
    return account


def desk_banner(services: Services, desk_url: str) -> list[str]:
    """What `ussd-app serve` prints about the desk: where it is, and how to make the first
    user when there is none yet."""
    from ussd_app.staff import accounts

    lines = [f"Staff desk on {desk_url}"]
    if not accounts.list_accounts(services):
        lines.append(
            "  no staff users yet; create the first admin (partner codes: the partners file):"
        )
        lines.append(
            '  ussd-app users create --role admin --partner CODE --name "Your Name"'
            "   (prints a one-time enrolment link)"
        )
    return lines


def add_users_commands(main: click.Group, open_services: ServicesOpener) -> click.Group:
    """Add the `users` group to `main`; returns it."""
    from ussd_app.staff import accounts
    from ussd_app.staff.accounts import AccountError

    @main.group()
    def users() -> None:
        """Staff accounts for the desk: create, list, disable, reset two-step sign-in."""

    @users.command("create")
    @click.option("--role", required=True, type=click.Choice([r.value for r in ASSIGNABLE_ROLES]))
    @click.option("--partner", "partner_code", required=True, help="Partner code (agency).")
    @click.option("--name", "display_name", required=True, help="The person's full name.")
    @click.option("--username", default=None, help="Sign-in name (default: from the name).")
    def create(role: str, partner_code: str, display_name: str, username: str | None) -> None:
        """Create an account and print its one-time enrolment link."""
        services, engine = open_services()
        try:
            enrolment = accounts.create_user(
                services,
                partner_code=partner_code,
                role=role,
                display_name=display_name,
                username=username,
            )
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            engine.dispose()
        _print_enrolment(services.settings, enrolment)

    @users.command("list")
    @click.option("--partner", "partner_code", default=None, help="Only this partner's users.")
    def list_(partner_code: str | None) -> None:
        """List accounts: username, role, partner, status, last sign-in."""
        services, engine = open_services()
        try:
            rows = accounts.list_accounts(services)
        finally:
            engine.dispose()
        if partner_code:
            rows = [r for r in rows if r.partner_code == partner_code]
        if not rows:
            click.echo("no users yet: ussd-app users create --role admin --partner CODE --name ...")
            return
        for r in rows:
            status = "active" if r.active else "disabled"
            if r.active and not r.totp_enrolled:
                status += ", not enrolled"
            last = f"{r.last_sign_in_at:%Y-%m-%d %H:%M}" if r.last_sign_in_at else "never"
            click.echo(
                f"{r.id:>4}  {r.username:<24} {r.role:<10} {r.partner_code:<16} {status:<22} {last}"
            )

    @users.command("disable")
    @click.argument("username")
    def disable(username: str) -> None:
        """Disable an account; its open desk sessions end at once (each is refused on its very
        next request, because the account's credentials epoch has moved on)."""
        services, engine = open_services()
        try:
            account = _account_or_fail(services, username)
            accounts.disable_user(services, account.id, actor_id=None)
        finally:
            engine.dispose()
        click.echo(f"user {account.username} is disabled")

    @users.command("reset-2fa")
    @click.argument("username")
    def reset_2fa(username: str) -> None:
        """Forget the account's authenticator and recovery codes; print a new enrolment link
        (also the way to set a forgotten password)."""
        services, engine = open_services()
        try:
            account = _account_or_fail(services, username)
            enrolment = accounts.reset_2fa(services, account.id, actor_id=None)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            engine.dispose()
        _print_enrolment(services.settings, enrolment)

    return users
