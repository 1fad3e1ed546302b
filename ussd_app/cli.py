"""The `ussd-app` command: serve, simulate, menus check, db upgrade, and operator tasks."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ussd_app.config import ConfigError, Settings
from ussd_app.logging_setup import configure_logging

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ussd_app.bootstrap import Container
    from ussd_app.container import Services
    from ussd_app.runtime.embedded_worker import EmbeddedWorker

log = logging.getLogger(__name__)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


@click.group()
def main() -> None:
    """USSD/SMS service: returnee registration and confidential trafficking reports."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the service on its configured (or embedded) database, Redis and worker."""
    from werkzeug.serving import make_server

    from ussd_app import create_app
    from ussd_app.bootstrap import bootstrap
    from ussd_app.menu.loader import MenuError
    from ussd_app.migrate import upgrade

    settings = _settings()
    configure_logging(settings.log_level)
    try:
        container = bootstrap(settings)
    except MenuError as exc:
        _print_menu_problems(exc)
        raise click.ClickException("menus.yaml is invalid; the service will not start") from None
    upgrade(container.settings.resolved_database_url)
    _example_partners_for_demo(container)
    app = create_app(container=container)
    background = _start_embedded_worker(container)
    server = make_server(host, port, app, threaded=True)
    click.echo(f"USSD service on http://{host}:{port}/ussd  (health: /healthz)")
    click.echo(f"  database: {_describe_db(container.settings.resolved_database_url)}")
    click.echo(f"  redis:    {'embedded' if container.embedded_redis else 'REDIS_URL'}")
    click.echo(f"  sms:      {container.settings.sms_backend}")
    click.echo(f"Try it: ussd-app simulate --url http://{host}:{port}/ussd")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        if background is not None:
            background.stop()
        container.close()


def _example_partners_for_demo(container: Container) -> None:
    """On the embedded default with no directory yet, load the fictitious example partners so
    a report made in the simulator shows its alerts. Never with a real SMS backend."""
    from sqlalchemy import func, select

    from ussd_app.partners.directory import import_partners
    from ussd_app.partners.models import Partner

    settings = container.settings
    example = Path(settings.menus_path).with_name("partners.example.yaml")
    if settings.is_production or settings.sms_backend != "console" or not example.exists():
        return
    with container.services.uow() as uow:
        if uow.session.scalar(select(func.count(Partner.id))):
            return
    import_partners(container.services.session_factory, example)
    click.echo(
        f"  partners: none yet, so loaded {example.name} (fictitious numbers, console SMS only);"
        " load yours with `ussd-app partners import FILE`"
    )


def _start_embedded_worker(container: Container) -> EmbeddedWorker | None:
    """Start the in-process alert worker unless EMBEDDED_WORKER=no."""
    from ussd_app.runtime.embedded_worker import start_embedded_worker

    return start_embedded_worker(container)


def _describe_db(url: str) -> str:
    return (
        url.split("://", 1)[0]
        + "://"
        + (url.rsplit("/", 1)[-1] if url.startswith("sqlite") else "…")
    )


@main.command()
@click.option("--url", default="http://127.0.0.1:8000/ussd", show_default=True)
@click.option("--phone", default="+26658000001", show_default=True, help="Caller's number.")
@click.option("--service-code", default="*384*1234#", show_default=True)
@click.option("--network-code", default="99999", show_default=True)
@click.option("--token", default="", help="GATEWAY_TOKEN, if the service requires one.")
@click.option("--no-events", is_flag=True, help="Do not post the end-of-session notification.")
@click.option("--budget", default=160, show_default=True, type=int)
def simulate(
    url: str,
    phone: str,
    service_code: str,
    network_code: str,
    token: str,
    no_events: bool,
    budget: int,
) -> None:
    """A terminal phone: dial the service and answer screens like the gateway's simulator."""
    from ussd_app.ussd.simulator import SimulatedSession, run_interactive

    hop_url = url + (("&" if "?" in url else "?") + f"token={token}" if token else "")
    events_url = None
    if not no_events:
        base, _, query = hop_url.partition("?")
        events_url = base.rstrip("/") + "/events" + ("?" + query if query else "")
    session = SimulatedSession(
        url=hop_url,
        phone=phone,
        service_code=service_code,
        network_code=network_code,
        budget=budget,
    )
    run_interactive(session, read=input, write=click.echo, events_url=events_url)
    if session.status == "Failed":
        sys.exit(1)


@main.group()
def menus() -> None:
    """Check menus.yaml."""


@menus.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def menus_check(path: str | None) -> None:
    """Validate menus.yaml (or PATH); exit 1 naming each screen and fault."""
    import handlers
    from ussd_app.menu.check import run_check

    settings = _settings()
    code = run_check(
        path or settings.menus_path,
        known_handlers=set(handlers.load_all()),
        budget=settings.screen_budget,
    )
    sys.exit(code)


def _print_menu_problems(exc: Exception) -> None:
    for problem in getattr(exc, "problems", []):
        click.echo(f"  {problem}", err=True)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply Alembic migrations up to the newest."""
    from ussd_app.migrate import upgrade

    settings = _settings()
    if not settings.database_url:
        Path(settings.instance_dir).mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    click.echo("database is up to date")


def _services_only(settings: Settings) -> tuple[Services, Engine]:
    """Database-backed services without Redis or menus (for operator commands), migrated."""
    from ussd_app.bootstrap import build_services, prepare_settings
    from ussd_app.migrate import upgrade

    settings = prepare_settings(settings)
    upgrade(settings.resolved_database_url)
    return build_services(settings)


@main.group()
def partners() -> None:
    """The partners directory: police desks and NGOs who receive alerts."""


@partners.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def partners_check(path: str) -> None:
    """Validate a partners file (YAML or CSV) without importing it."""
    from ussd_app.partners.directory import PartnersFileError, read_partners_file

    try:
        specs = read_partners_file(path)
    except PartnersFileError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    contacts = sum(len(s.contacts) for s in specs)
    click.echo(f"{path}: OK: {len(specs)} partners, {contacts} contacts")


@partners.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def partners_import(path: str) -> None:
    """Make the directory match FILE (all or nothing); exit 1 naming each bad entry."""
    from ussd_app.partners.directory import PartnersFileError, import_partners

    services, engine = _services_only(_settings())
    try:
        summary = import_partners(services.session_factory, path)
    except PartnersFileError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        click.echo("nothing was imported", err=True)
        sys.exit(1)
    finally:
        engine.dispose()
    click.echo(str(summary))


@main.group()
def alerts() -> None:
    """Alert delivery: the sweeper and the state of the outbox."""


@alerts.command("sweep")
@click.option("--every", type=int, default=0, help="Repeat every N seconds (0: once).")
def alerts_sweep(every: int) -> None:
    """Re-enqueue stuck messages, escalate late cases, file abandoned urgent reports."""
    import time

    from ussd_app.bootstrap import bootstrap
    from ussd_app.runtime.maintenance import run_maintenance

    settings = _settings()
    configure_logging(settings.log_level)
    container = bootstrap(settings)
    try:
        while True:
            result = run_maintenance(container)
            click.echo(
                f"freed {result.freed}, enqueued {result.enqueued}, "
                f"escalated {len(result.escalated)}, abandoned filed {len(result.abandoned_filed)}"
            )
            if every <= 0:
                break
            time.sleep(every)
    finally:
        container.close()


@alerts.command("status")
def alerts_status() -> None:
    """Count outbox messages by purpose and state."""
    from sqlalchemy import func, select

    from ussd_app.messaging.models import OutboundSms

    services, engine = _services_only(_settings())
    try:
        with services.uow() as uow:
            rows = uow.session.execute(
                select(OutboundSms.purpose, OutboundSms.status, func.count())
                .group_by(OutboundSms.purpose, OutboundSms.status)
                .order_by(OutboundSms.purpose, OutboundSms.status)
            ).all()
    finally:
        engine.dispose()
    if not rows:
        click.echo("no messages yet")
    for purpose, status, count in rows:
        click.echo(f"{purpose:<13} {status:<10} {count}")


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker (same as `python worker.py`)."""
    from ussd_app.runtime.worker_main import run_worker

    run_worker(_settings(), burst=burst)


@main.command(
    "at-standin", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.pass_context
def at_standin(ctx: click.Context) -> None:
    """A local stand-in for the Africa's Talking SMS API (demos; see --help of the tool)."""
    from tests.standin import main as standin_main

    sys.exit(standin_main(list(ctx.args)))


if __name__ == "__main__":  # pragma: no cover
    main()
