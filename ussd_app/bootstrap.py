"""Composition root: builds the engine, Redis, services, menu and hop service from Settings.

Both the web app (`create_app`) and the worker call `bootstrap()`, so they build identical
dependencies. Nothing here runs at import time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from pathlib import Path

import redis
from sqlalchemy import Engine, event

import handlers
from ussd_app import metrics
from ussd_app.cases.alerts import CaseSmsObserver, ReportAlerts
from ussd_app.config import Settings
from ussd_app.container import Enqueuer, Limiter, MissingCollaborator, Services
from ussd_app.crypto import Cipher
from ussd_app.db import make_engine, make_session_factory
from ussd_app.menu.loader import load_menu
from ussd_app.menu.model import Menu
from ussd_app.messaging.backends.base import SmsSender, make_sms_sender
from ussd_app.messaging.queues import Dispatcher
from ussd_app.rate_limits import OpenLimits, RateLimits
from ussd_app.redis_wire import WriteBehind
from ussd_app.ussd.hops import HopService
from ussd_app.ussd.session_store import SessionStore

log = logging.getLogger(__name__)


@dataclass
class Container:
    """Everything a process needs, built once."""

    settings: Settings
    engine: Engine
    redis: redis.Redis
    services: Services
    menu: Menu
    hops: HopService
    sms_sender: SmsSender
    dispatcher: Dispatcher
    store: SessionStore
    embedded_redis: object | None = None

    def __post_init__(self) -> None:
        missing = [
            f.name
            for f in fields(self)
            if f.name != "embedded_redis" and getattr(self, f.name) is None
        ]
        if missing:
            raise MissingCollaborator(f"Container built without: {', '.join(missing)}")

    def close(self) -> None:
        self.store.close()  # the write-behind's held saves go out first
        self.redis.close()
        self.engine.dispose()
        stop = getattr(self.embedded_redis, "stop", None)
        if stop is not None:
            stop()


def resolve_redis(settings: Settings) -> tuple[str, object | None]:
    """The Redis URL to use, starting the embedded server when none is configured."""
    if settings.redis_url:
        return settings.redis_url, None
    from ussd_app.embedded import EmbeddedRedis

    server = EmbeddedRedis(Path(settings.instance_dir) / "redis" / "redis.db")
    return server.url, server


def load_app_menu(settings: Settings) -> Menu:
    """Compile menus.yaml against the registered handlers; raises MenuError if it is invalid."""
    registry = handlers.load_all()
    return load_menu(
        settings.menus_path, known_handlers=set(registry), budget=settings.screen_budget
    )


def prepare_settings(settings: Settings) -> Settings:
    """Fill development secrets (never in production) and create the instance folder."""
    if not settings.is_production:
        settings = settings.with_dev_secrets()
    Path(settings.instance_dir).mkdir(parents=True, exist_ok=True)
    return settings


def build_services(
    settings: Settings,
    enqueuer: Enqueuer,
    *,
    for_worker: bool = False,
    limits: Limiter | None = None,
) -> tuple[Services, Engine]:
    """The database-backed service layer with the real alert path and `enqueuer`.

    Operator commands that have no Redis pass `LeaveForSweeper()`: rows they stage are sent by
    the sweeper, and the command says so; they have no rate limits either (`OpenLimits`).
    """
    engine = make_engine(settings.resolved_database_url, for_worker=for_worker)
    # Statements counted for /metrics (db_statements_total): what a hop costs the database.
    event.listen(engine, "before_cursor_execute", metrics.count_statement)
    services = Services(
        settings=settings,
        session_factory=make_session_factory(engine),
        cipher=Cipher(settings.data_keys),
        alerts=ReportAlerts(),
        enqueuer=enqueuer,
        sms_events=CaseSmsObserver(),
        limits=limits if limits is not None else OpenLimits(),
    )
    return services, engine


def bootstrap(settings: Settings, *, for_worker: bool = False) -> Container:
    """Build the container. Settings without secrets get development ones (never in production)."""
    settings = prepare_settings(settings)
    menu = load_app_menu(settings)
    redis_url, embedded = resolve_redis(settings)
    conn = redis.Redis.from_url(
        redis_url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
    )
    # The web process holds each hop's save and routing job for the next command (one round trip
    # per ordinary hop; redis_wire). Workers and commands write through.
    wire = WriteBehind(conn, 0.0 if for_worker else settings.hop_write_behind_ms / 1000)
    dispatcher = Dispatcher(conn, settings.sms_retry_delays, wire=wire)
    limits = RateLimits(conn, settings.rate_limits)
    services, engine = build_services(settings, dispatcher, for_worker=for_worker, limits=limits)
    store = SessionStore(
        conn,
        services.cipher,
        session_ttl_s=settings.session_ttl_s,
        resume_window_s=settings.resume_window_s,
        lock_timeout_s=settings.hop_lock_timeout_s,
        slot_secret=settings.phone_hash_key,
        wire=wire,
    )
    hops = HopService(services, store, menu, handlers.REGISTRY)
    container = Container(
        settings=settings,
        engine=engine,
        redis=conn,
        services=services,
        menu=menu,
        hops=hops,
        sms_sender=make_sms_sender(settings),
        dispatcher=dispatcher,
        store=store,
        embedded_redis=embedded,
    )
    return container
