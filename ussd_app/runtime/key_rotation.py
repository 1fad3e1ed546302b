"""Re-encrypt every encrypted column with the newest key in DATA_KEYS (`ussd-app keys rotate`).

Rotation is: prepend a new key to DATA_KEYS (new rows are then written with it and old ones stay
readable), restart, then run this to rewrite the old rows, after which the old key can go.
Encrypted columns are found, not listed: every column whose name ends in `_enc`, in every table
of `Base.metadata` (`ussd_app.models` registers all models), so a new model is covered the day
it is added.

Rows are read in primary-key order, in batches, each batch in its own transaction. A value
already under the newest key is left alone, so a second run (or a run after an interruption)
rewrites nothing and reports it. Each update is a compare-and-set on the old token: a value the
service rewrote meanwhile (already under the newest key) is never overwritten with a stale one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Column, Engine, MetaData, Table, and_, bindparam, or_, select, tuple_, update

import ussd_app.models  # noqa: F401  (every model, so Base.metadata is complete)
from ussd_app.crypto import Cipher
from ussd_app.db import Base

ENCRYPTED_SUFFIX = "_enc"


@dataclass
class ColumnReport:
    """What rotation did to one encrypted column."""

    table: str
    column: str
    rotated: int = 0  # re-encrypted with the newest key
    current: int = 0  # already under the newest key (or rewritten by the service meanwhile)
    unreadable: int = 0  # no configured key can read it: left as it is

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


def encrypted_columns(metadata: MetaData | None = None) -> list[tuple[Table, list[Column[str]]]]:
    """Every table with `_enc` columns, and those columns, in dependency order."""
    found = []
    for table in (metadata or Base.metadata).sorted_tables:
        columns = [c for c in table.columns if c.name.endswith(ENCRYPTED_SUFFIX)]
        if columns:
            found.append((table, columns))
    return found


def rotate_data_keys(
    engine: Engine,
    cipher: Cipher,
    *,
    batch_size: int = 500,
    metadata: MetaData | None = None,
    progress: Callable[[ColumnReport], None] | None = None,
) -> list[ColumnReport]:
    """Re-encrypt every `_enc` value not yet under the newest key; returns counts per column.

    `progress` is called with a column's report after each batch that touched it.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    reports: list[ColumnReport] = []
    for table, columns in encrypted_columns(metadata):
        table_reports = {c.name: ColumnReport(table.name, c.name) for c in columns}
        reports.extend(table_reports.values())
        _rotate_table(engine, cipher, table, columns, table_reports, batch_size, progress)
    return reports


def _rotate_table(
    engine: Engine,
    cipher: Cipher,
    table: Table,
    columns: list[Column[str]],
    reports: dict[str, ColumnReport],
    batch_size: int,
    progress: Callable[[ColumnReport], None] | None,
) -> None:
    pk = list(table.primary_key.columns)
    if not pk:
        raise RuntimeError(f"{table.name} has encrypted columns but no primary key")
    key_expr = pk[0] if len(pk) == 1 else tuple_(*pk)
    last: tuple[object, ...] | None = None
    while True:
        query = (
            select(*pk, *columns)
            .where(or_(*(c.is_not(None) for c in columns)))
            .order_by(*pk)
            .limit(batch_size)
        )
        if last is not None:
            query = query.where(key_expr > (last[0] if len(pk) == 1 else tuple_(*last)))
        with engine.begin() as conn:
            rows = conn.execute(query).all()
            if not rows:
                return
            changes: dict[str, list[dict[str, object]]] = {c.name: [] for c in columns}
            for row in rows:
                ident = {f"_pk_{i}": row[i] for i in range(len(pk))}
                for offset, column in enumerate(columns, start=len(pk)):
                    token = row[offset]
                    if token is None:
                        continue
                    report = reports[column.name]
                    if cipher.is_current(token):
                        report.current += 1
                        continue
                    try:
                        fresh = cipher.rotate(token)
                    except ValueError:
                        report.unreadable += 1
                        continue
                    changes[column.name].append({**ident, "_old": token, "_new": fresh})
            for column in columns:
                batch = changes[column.name]
                if not batch:
                    continue
                statement = (
                    update(table)
                    .where(
                        and_(*(c == bindparam(f"_pk_{i}") for i, c in enumerate(pk))),
                        column == bindparam("_old"),
                    )
                    .values({column.name: bindparam("_new")})
                )
                result = conn.execute(statement, batch)
                report = reports[column.name]
                written = result.rowcount if result.rowcount >= 0 else len(batch)
                report.rotated += written
                report.current += len(batch) - written  # rewritten by the service meanwhile
        last = tuple(rows[-1][: len(pk)])
        if progress is not None:
            for report in reports.values():
                progress(report)
        if len(rows) < batch_size:
            return
