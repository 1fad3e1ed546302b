"""All models, imported here so `Base.metadata` is complete for Alembic and `create_all`."""

from __future__ import annotations

from ussd_app.db import Base

__all__ = ["Base"]
