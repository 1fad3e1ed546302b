"""A pooled connection is pinged only after sitting idle (db.ping_when_idle): one round trip
less per transaction in steady use, and a connection that died in the pool is replaced, never
handed to a caller."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from ussd_app import db


def _engines(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    yield "sqlite", create_engine(f"sqlite:///{tmp_path / 'ping.db'}")
    url = os.environ.get("TEST_DATABASE_URL", "")
    if url.startswith("postgresql"):
        yield "postgresql", create_engine(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    engines = dict(_engines(tmp_path))
    if request.param not in engines:
        pytest.skip("TEST_DATABASE_URL is not PostgreSQL (.ci/run sets it)")
    chosen = engines[request.param]
    db.ping_when_idle(chosen)
    yield chosen
    for e in engines.values():
        e.dispose()


def _pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    seen: list[object] = []
    real = engine.dialect.do_ping

    def spy(dbapi_conn: object) -> bool:
        seen.append(dbapi_conn)
        return real(dbapi_conn)

    monkeypatch.setattr(engine.dialect, "do_ping", spy)
    return seen


def _kill(engine: Engine, dbapi_conn: object) -> None:
    """Break the pooled connection from underneath, as a database restart would."""
    if engine.dialect.name == "postgresql":
        pid = dbapi_conn.info.backend_pid  # type: ignore[attr-defined]
        with create_engine(engine.url).connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            other.commit()
    else:
        dbapi_conn.close()  # type: ignore[attr-defined]


def test_a_connection_used_a_moment_ago_is_not_pinged(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = _pings(engine, monkeypatch)
    for _ in range(5):
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    assert pings == []


def test_a_connection_that_died_while_idle_is_replaced_before_use(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with engine.connect() as conn:
        first = conn.connection.dbapi_connection
        conn.execute(text("SELECT 1"))
    _kill(engine, first)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # it has been idle "long enough"
    pings = _pings(engine, monkeypatch)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
        assert conn.connection.dbapi_connection is not first
    assert pings[:1] == [first]  # the dead one was pinged, found gone and dropped
