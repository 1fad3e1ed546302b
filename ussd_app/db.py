"""Database plumbing: the declarative base, engine and session factory, and the unit of work.

Only services open a `UnitOfWork` and commit. Work that must follow a commit (feeding the RQ
queue) is registered with `uow.after_commit(...)` and runs only if the commit succeeded, so a job
can never run before its row exists.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Annotated, Any, ClassVar, cast

from sqlalchemy import DateTime, Engine, MetaData, Select, Table, create_engine, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Timezone-aware now, in UTC. All stored times are UTC."""
    return dt.datetime.now(dt.UTC)


class TZDateTime(TypeDecorator[dt.datetime]):
    """A UTC datetime that comes back timezone-aware on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use ussd_app.db.utcnow()")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


created_at = Annotated[dt.datetime, mapped_column(TZDateTime(), default=utcnow, nullable=False)]
updated_at = Annotated[
    dt.datetime, mapped_column(TZDateTime(), default=utcnow, onupdate=utcnow, nullable=False)
]


class Base(DeclarativeBase):
    """Declarative base for every model; constraint names are stable for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: TZDateTime()}


def make_engine(url: str, *, for_worker: bool = False) -> Engine:
    """Create the engine for `url`.

    SQLite gets WAL and a busy timeout so the web process and the in-process worker can share
    the file; forked RQ work horses use NullPool so no connection crosses a fork.
    """
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    if for_worker:
        kwargs["poolclass"] = NullPool
    engine = create_engine(url, **kwargs)
    if not url.startswith("sqlite"):
        ping_when_idle(engine)
    else:

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    return engine


# A pooled connection idle for longer than this is pinged before it is used again.
PING_AFTER_IDLE_S = 2.0


def ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection on checkout only when it has been idle for PING_AFTER_IDLE_S.

    SQLAlchemy's pool_pre_ping pings on every checkout: one more round trip per transaction,
    paid by the caller's last hop. A connection in steady use was alive milliseconds ago; the
    one worth pinging has sat in the pool (through a database restart, say). A failed ping
    raises DisconnectionError, on which the pool drops the connection and checks out a fresh
    one (SQLAlchemy's "pessimistic disconnect handling" with a custom checkout event).
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # just connected, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_conn, None):
                raise DisconnectionError("pooled connection is gone") from exc
            raise


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, future=True)


def table_of(model: type[Base]) -> Table:
    """A model's table, typed as one (for Core statements built once at import)."""
    return cast(Table, model.__table__)


def next_id(table: Table) -> Select[Any]:
    """SELECT nextval of `table`'s own id sequence (PostgreSQL): an id drawn before the insert
    is as unique as one the column's default would draw."""
    return select(func.nextval(func.pg_get_serial_sequence(table.name, "id")))


def upsert_into(dialect: str, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` that can take `.on_conflict_do_update()`, in `dialect` (a
    connection's `dialect.name`: PostgreSQL in production, SQLite on the embedded defaults; both
    spell ON CONFLICT alike)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class UnitOfWork:
    """One transaction: `with uow: ...; uow.commit()`. Leaving without commit rolls back.

    `after_commit(fn)` queues `fn` to run once the commit has succeeded; failures in those
    callbacks are logged, never raised, because the data is already safe (the sweeper repairs
    a missed enqueue).
    """

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory
        self._callbacks: list[Callable[[], None]] = []
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside its `with` block")
        return self._session

    def __enter__(self) -> UnitOfWork:
        self._session = self._session_factory()
        self._callbacks = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            session.rollback()
        finally:
            session.close()
            self._session = None
            self._callbacks = []

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._callbacks.append(fn)

    def commit(self) -> None:
        self.session.commit()
        # What was remembered for this transaction (`session.info`) does not outlive it.
        self.session.info.clear()
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            try:
                fn()
            except Exception:
                log.exception("after-commit step failed; the sweeper will retry it")
