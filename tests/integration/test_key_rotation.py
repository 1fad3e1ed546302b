"""`ussd-app keys rotate`: every `_enc` column of every model is re-encrypted with the newest key
in DATA_KEYS, in batches, idempotently, with counts; and the old key can then be dropped."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
)

from tests.doubles import NoAlerts, QuietSmsObserver, RecordingEnqueuer
from tests.integration.test_services_registrations import register
from ussd_app.cli import main
from ussd_app.container import Services
from ussd_app.crypto import Cipher
from ussd_app.db import Base, make_session_factory
from ussd_app.rate_limits import OpenLimits
from ussd_app.returnees.models import Registration
from ussd_app.runtime.key_rotation import encrypted_columns, rotate_data_keys

OLD = Cipher.generate_key()
NEW = Cipher.generate_key()


def test_every_model_column_ending_in_enc_is_found() -> None:
    found = {f"{t.name}.{c.name}" for t, cols in encrypted_columns() for c in cols}
    expected = {
        f"{t.name}.{c.name}"
        for t in Base.metadata.tables.values()
        for c in t.columns
        if c.name.endswith("_enc")
    }
    assert found == expected
    assert {"registrations.phone_enc", "registrations.name_enc"} <= found


def test_rotation_rewrites_old_rows_with_the_newest_key(
    services: Services, clean_db: Engine
) -> None:
    old = dataclasses.replace(services, cipher=Cipher([OLD]))
    register(old, phone="+26658123456")
    register(old, phone="+26658123457", name="")
    engine = clean_db

    reports = rotate_data_keys(engine, Cipher([NEW, OLD]), batch_size=1)
    by_name = {r.name: r for r in reports}
    assert by_name["registrations.phone_enc"].rotated == 2
    assert by_name["registrations.name_enc"].rotated == 1  # one row has no name
    assert all(r.unreadable == 0 for r in reports)

    new_only = Cipher([NEW])
    with services.uow() as uow:
        rows = list(uow.session.scalars(select(Registration).order_by(Registration.id)))
        phones = [new_only.decrypt(r.phone_enc) for r in rows]
        names = [new_only.decrypt_optional(r.name_enc) for r in rows]
    assert phones == ["+26658123456", "+26658123457"]
    assert names[0] == "Palesa Mokoena" and names[1] is None

    again = {r.name: r for r in rotate_data_keys(engine, Cipher([NEW, OLD]))}
    assert sum(r.rotated for r in again.values()) == 0  # idempotent
    assert again["registrations.phone_enc"].current == 2


@pytest.fixture
def scratch(tmp_path: Path) -> tuple[MetaData, Table, object]:
    """A table of our own with a composite key and two encrypted columns."""
    metadata = MetaData()
    table = Table(
        "scratch",
        metadata,
        Column("a", Integer, primary_key=True),
        Column("b", String(10), primary_key=True),
        Column("secret_enc", String(300)),
        Column("other_enc", String(300)),
        Column("plain", String(10)),
    )
    engine = create_engine(f"sqlite:///{tmp_path / 'scratch.db'}")
    metadata.create_all(engine)
    return metadata, table, engine


def test_batches_unreadable_values_and_composite_keys(
    scratch: tuple[MetaData, Table, object],
) -> None:
    metadata, table, engine = scratch
    old, new, stranger = Cipher([OLD]), Cipher([NEW]), Cipher([Cipher.generate_key()])
    rows: list[dict[str, object]] = [
        {"a": i % 3, "b": f"k{i}", "secret_enc": old.encrypt(f"s{i}"), "other_enc": None}
        for i in range(7)
    ]
    for row in rows:
        row["plain"] = "x"
    rows[0]["other_enc"] = new.encrypt("already")
    rows[1]["other_enc"] = stranger.encrypt("lost")
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(insert(table), rows)
    seen: list[int] = []
    reports = rotate_data_keys(
        engine,  # type: ignore[arg-type]
        Cipher([NEW, OLD]),
        batch_size=3,
        metadata=metadata,
        progress=lambda r: seen.append(r.rotated) if r.column == "secret_enc" else None,
    )
    by_column = {r.column: r for r in reports}
    assert (by_column["secret_enc"].rotated, by_column["secret_enc"].current) == (7, 0)
    assert by_column["other_enc"].current == 1 and by_column["other_enc"].unreadable == 1
    assert seen == [3, 6, 7]  # three batches
    with engine.connect() as conn:  # type: ignore[attr-defined]
        stored = conn.execute(select(table).order_by(table.c.b)).mappings().all()
    assert sorted(new.decrypt(r["secret_enc"]) for r in stored) == sorted(f"s{i}" for i in range(7))
    assert all(r["plain"] == "x" for r in stored)


def test_the_cli_reports_counts_and_fails_on_unreadable_values(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    env = {"DATABASE_URL": url, "INSTANCE_DIR": str(tmp_path), "DATA_KEYS": OLD}
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    from ussd_app.config import Settings

    settings = Settings(database_url=url, instance_dir=str(tmp_path), data_keys=(OLD,))
    services = Services(
        settings=settings.with_dev_secrets(),
        session_factory=make_session_factory(create_engine(url)),
        cipher=Cipher([OLD]),
        alerts=NoAlerts(),
        enqueuer=RecordingEnqueuer(),
        sms_events=QuietSmsObserver(),
        limits=OpenLimits(),
    )
    register(services)

    result = runner.invoke(main, ["keys", "rotate"], env={**env, "DATA_KEYS": f"{NEW},{OLD}"})
    assert result.exit_code == 0, result.output
    assert "registrations.phone_enc" in result.stdout
    assert "re-encrypted 2, already current 0, unreadable 0" in result.stdout

    result = runner.invoke(main, ["keys", "rotate"], env={**env, "DATA_KEYS": f"{NEW},{OLD}"})
    assert "re-encrypted 0, already current 2, unreadable 0" in result.stdout

    stranger = Cipher.generate_key()
    result = runner.invoke(main, ["keys", "rotate"], env={**env, "DATA_KEYS": stranger})
    assert result.exit_code == 1
    assert "unreadable 2" in result.stdout and "keep the key" in result.stderr
