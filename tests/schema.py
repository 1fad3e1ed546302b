"""A clean schema for the test database, built through the real migrations (test-only: it drops
everything, so it lives here and not in the package)."""

from __future__ import annotations

from sqlalchemy import Engine

from ussd_app.migrate import MIGRATIONS_DIR, upgrade


def reset_schema(engine: Engine) -> None:
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
