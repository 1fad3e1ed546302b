"""The `ussd-app` command: serve, simulate, menus check, db upgrade, and operator tasks."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ussd_app.config import ConfigError, Settings
from ussd_app.copy_kit.cli import add_copy_commands
from ussd_app.logging_setup import configure_logging_for
from ussd_app.staff.cli import add_users_commands, desk_banner

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from werkzeug.serving import BaseWSGIServer

    from ussd_app.bootstrap import Container
    from ussd_app.container import Services
    from ussd_app.menu.loader import MenuError
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
    configure_logging_for(settings)
    previous = _stop_on_signals()
    container: Container | None = None
    background: EmbeddedWorker | None = None
    server: BaseWSGIServer | None = None
    try:
        try:
            container = bootstrap(settings)
        except MenuError as exc:
            _print_menu_problems(exc)
            raise click.ClickException(
                f"{exc.path} is invalid (MENUS_PATH); the service will not start"
            ) from None
        configure_logging_for(container.settings)  # now with the development secrets, if any
        upgrade(container.settings.resolved_database_url)
        _example_partners_for_demo(container)
        app = create_app(container=container)
        background = _start_embedded_worker(container)
        server = make_server(host, port, app, threaded=True)
        click.echo(f"USSD service on http://{host}:{port}/ussd  (health: /healthz)")
        click.echo(f"  database: {_describe_db(container.settings.resolved_database_url)}")
        click.echo(f"  redis:    {_describe_redis(container)}")
        click.echo(f"  sms:      {container.settings.sms_backend}")
        click.echo(f"Try it: ussd-app simulate --url http://{host}:{port}/ussd")
        for line in desk_banner(container.services, f"http://{host}:{port}/desk/"):
            click.echo(line)
        server.serve_forever()  # returns on Ctrl-C: werkzeug swallows the KeyboardInterrupt
        click.echo(f"stopping ({_STOPPED_BY[-1] if _STOPPED_BY else 'server shut down'})")
    except KeyboardInterrupt:  # a signal during start-up
        click.echo(f"stopping ({_STOPPED_BY[-1] if _STOPPED_BY else 'Ctrl-C'}) during start-up")
    finally:
        _ignore_signals()  # a second Ctrl-C must not cut the clean-up short
        if server is not None:
            server.server_close()
        if background is not None:
            background.stop()
        if container is not None:
            container.close()
            _report_embedded_redis_stop(container)
        _restore_signals(previous)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_STOPPED_BY: list[str] = []


def _raise_stop(signum: int, _frame: object) -> None:
    """SIGTERM and SIGHUP take Ctrl-C's path: a KeyboardInterrupt in the main thread."""
    _STOPPED_BY.append("Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name)
    raise KeyboardInterrupt


def _stop_on_signals() -> dict[int, Any]:
    """Make SIGINT, SIGTERM and SIGHUP stop `serve` cleanly; returns the handlers replaced."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _raise_stop) for sig in _STOP_SIGNALS}


def _ignore_signals() -> None:
    if threading.current_thread() is threading.main_thread():
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _describe_redis(container: Container) -> str:
    embedded = container.embedded_redis
    if embedded is None:
        return "REDIS_URL"
    return f"embedded Redis (pid {getattr(embedded, 'pid', '?')}), stopped when serve stops"


def _report_embedded_redis_stop(container: Container) -> None:
    """Say on the console whether the embedded redis-server is gone (checked by its pid)."""
    from ussd_app.embedded import EmbeddedRedis, pid_alive

    embedded = container.embedded_redis
    if not isinstance(embedded, EmbeddedRedis) or not embedded.owned:
        return
    if embedded.pid and pid_alive(embedded.pid):
        click.echo(f"embedded Redis (pid {embedded.pid}) is STILL RUNNING", err=True)
    else:
        click.echo(f"embedded Redis stopped (pid {embedded.pid})")


def _example_partners_for_demo(container: Container) -> None:
    """On the embedded default with no directory yet, load the fictitious example partners so
    a report made in the simulator shows its alerts. Never with a real SMS backend."""
    from sqlalchemy import func, select

    from ussd_app.partners.importer import import_partners
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
@click.option(
    "--service-code",
    default="*384*1234#",
    show_default=True,
    help="What the caller dials; a direct dial such as '*384*1234*2#' is sent as the gateway "
    "sends it (serviceCode *384*1234#, first text 2).",
)
@click.option(
    "--base-code",
    default=None,
    help="The registered code, when it is not the shared-code form *NNN*NNNN# (e.g. '*123#').",
)
@click.option("--network-code", default="99999", show_default=True)
@click.option("--token", default="", help="GATEWAY_TOKEN, if the service requires one.")
@click.option("--no-events", is_flag=True, help="Do not post the end-of-session notification.")
@click.option("--budget", default=160, show_default=True, type=int)
def simulate(
    url: str,
    phone: str,
    service_code: str,
    base_code: str | None,
    network_code: str,
    token: str,
    no_events: bool,
    budget: int,
) -> None:
    """A terminal phone: dial the service and answer screens like the gateway's simulator.

    Ctrl-C or Ctrl-D hangs up (the end-of-session notification is posted); a service that cannot
    be reached is one line and exit status 1."""
    from ussd_app.ussd.simulator import SimulatedSession, run_interactive

    hop_url = url + (("&" if "?" in url else "?") + f"token={token}" if token else "")
    events_url = None
    if not no_events:
        base, _, query = hop_url.partition("?")
        events_url = base.rstrip("/") + "/events" + ("?" + query if query else "")
    session = SimulatedSession.dialling(
        hop_url,
        phone,
        service_code,
        base_code=base_code,
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


@menus.command("journeys")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def menus_journeys(path: str | None) -> None:
    """Print each flow's answers and worst-case seconds (12 s an answer), both languages, as the
    Markdown table in the README (from menus.yaml's `journeys:`)."""
    import handlers
    from ussd_app.menu.journeys import table
    from ussd_app.menu.loader import MenuError, format_problem, load_menu

    settings = _settings()
    menus_path = path or settings.menus_path
    try:
        menu = load_menu(
            Path(menus_path),
            known_handlers=set(handlers.load_all()),
            budget=settings.screen_budget,
        )
    except MenuError as exc:
        for problem in exc.problems:
            click.echo(format_problem(menus_path, problem), err=True)
        sys.exit(1)
    for line in table(menu, menu.journeys):
        click.echo(line)


def _print_menu_problems(exc: MenuError) -> None:
    """One `path:LINE: screen 'ID': message` line per problem, as `menus check` prints them."""
    from ussd_app.menu.loader import format_problem

    count = len(exc.problems)
    click.echo(f"{exc.path}: {count} problem{'s' if count != 1 else ''} found:", err=True)
    for problem in exc.problems:
        click.echo(f"  {format_problem(exc.path, problem)}", err=True)


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
    from ussd_app.messaging.queues import LeaveForSweeper
    from ussd_app.migrate import upgrade

    settings = prepare_settings(settings)
    upgrade(settings.resolved_database_url)
    return build_services(settings, LeaveForSweeper())


@main.group()
def partners() -> None:
    """The partners directory: police desks and NGOs who receive alerts."""


@partners.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def partners_check(path: str) -> None:
    """Validate a partners file (YAML or CSV) without importing it."""
    from ussd_app.partners.file_format import PartnersFileError, read_partners_file

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
    from ussd_app.partners.file_format import PartnersFileError
    from ussd_app.partners.importer import import_partners

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
    configure_logging_for(settings)
    container = bootstrap(settings)
    configure_logging_for(container.settings)
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


@main.group()
def demo() -> None:
    """Fictitious data for trying the desk's statistics (refused in production)."""


@demo.command("seed")
@click.option("--registrations", default=400, show_default=True, help="How many registrations.")
@click.option("--reports", default=300, show_default=True, help="How many reports.")
@click.option("--weeks", default=26, show_default=True, help="Spread over this many weeks.")
@click.option("--seed", "seed_value", default=1, show_default=True, help="Same seed, same data.")
def demo_seed(registrations: int, reports: int, weeks: int, seed_value: int) -> None:
    """Add fictitious registrations and reports (they alert nobody)."""
    from ussd_app.stats.demo import seed

    settings = _settings()
    if settings.is_production:
        click.echo("demo data is refused when APP_ENV=production", err=True)
        sys.exit(2)
    services, engine = _services_only(settings)
    try:
        made = seed(
            services, registrations=registrations, reports=reports, weeks=weeks, seed=seed_value
        )
    finally:
        engine.dispose()
    click.echo(f"demo data: {made.registrations} registrations and {made.reports} reports added")


@main.group()
def keys() -> None:
    """Secrets: generate fresh ones, re-encrypt stored data after adding a DATA_KEYS key."""


KEY_NAMES = ("GATEWAY_TOKEN", "PHONE_HASH_KEY", "DATA_KEYS")


@keys.command("generate")
@click.argument("names", nargs=-1, type=click.Choice(KEY_NAMES))
def keys_generate(names: tuple[str, ...]) -> None:
    """Print fresh values (all three, or the NAMES given) as VAR=value lines for the environment.

    Nothing is stored or changed: put the values into the service's environment yourself.
    """
    from ussd_app.crypto import Cipher, generate_secret

    makers = {
        "GATEWAY_TOKEN": generate_secret,
        "PHONE_HASH_KEY": generate_secret,
        "DATA_KEYS": Cipher.generate_key,
    }
    for name in names or KEY_NAMES:
        click.echo(f"{name}={makers[name]()}")
    click.echo(
        "# To rotate DATA_KEYS, put the new key first and keep the old ones after it"
        " (DATA_KEYS=new,old), restart, then run `ussd-app keys rotate`."
        " Never change PHONE_HASH_KEY on a live service: look-ups by phone would stop matching.",
        err=True,
    )


@keys.command("rotate")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(min=1))
def keys_rotate(batch_size: int) -> None:
    """Re-encrypt every encrypted column with the newest key in DATA_KEYS (the first one).

    Safe to run again: values already under the newest key are left alone. Exits 1 when a value
    can be read by no configured key (it is left as it is and counted).
    """
    from ussd_app.runtime.key_rotation import rotate_data_keys

    services, engine = _services_only(_settings())
    try:
        reports = rotate_data_keys(engine, services.cipher, batch_size=batch_size)
    finally:
        engine.dispose()
    width = max((len(r.name) for r in reports), default=10)
    click.echo(f"{'column':<{width}}  rotated  current  unreadable")
    for r in reports:
        click.echo(f"{r.name:<{width}}  {r.rotated:>7}  {r.current:>7}  {r.unreadable:>10}")
    rotated = sum(r.rotated for r in reports)
    current = sum(r.current for r in reports)
    unreadable = sum(r.unreadable for r in reports)
    click.echo(f"re-encrypted {rotated}, already current {current}, unreadable {unreadable}")
    if unreadable:
        click.echo(
            "some values cannot be read with any key in DATA_KEYS: keep the key that wrote them",
            err=True,
        )
        sys.exit(1)


# `ussd-app users create|list|disable|reset-2fa`: staff accounts for the desk.
add_users_commands(main, lambda: _services_only(_settings()))

# `ussd-app copy export|import`: the native-speaker review of every handset and SMS text.
add_copy_commands(main, _settings)


if __name__ == "__main__":  # pragma: no cover
    main()
