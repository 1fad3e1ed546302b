"""Alembic, driven from code (no alembic.ini): upgrade on start, and a clean schema for tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision` (default: the newest)."""
    command.upgrade(alembic_config(url), revision)


def reset_schema_for_tests(engine: Engine) -> None:
    """Drop everything and rebuild the schema through the real migrations."""
    from ussd_app.db import Base

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Leftovers from an older schema (tables no model knows) would block drop_all.
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        else:
            Base.metadata.drop_all(conn)
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    if (MIGRATIONS_DIR / "versions").is_dir() and any((MIGRATIONS_DIR / "versions").glob("*.py")):
        upgrade(engine.url.render_as_string(hide_password=False))
    else:  # before the first migration exists
        Base.metadata.create_all(engine)
