"""Bulk INSERT of plain tuples through the DBAPI cursor, compiled once per dialect.

SQLAlchemy's per-row bind processing costs about as much again as the INSERT itself; at a
million rows per file that is the difference between seconds and tens of seconds. This is the
same technique the prediction recorder uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert

Writer = Callable[[Connection, Sequence[tuple[Any, ...]]], None]


def db_time(conn: Connection, when: datetime) -> Any:
    """A timestamp as the driver should receive it for a DateTime(timezone=True) column."""
    if conn.dialect.name == "sqlite":
        # SQLAlchemy's own SQLite text format (naive UTC), so Core/ORM reads parse it back.
        return when.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return when


def bulk_writer(conn: Connection, table: Table, columns: Sequence[str]) -> Writer:
    """A function writing tuples (in `columns` order) with one DBAPI executemany."""
    cols = list(columns)
    compiled = insert(table).values({c: bindparam(c) for c in cols}).compile(dialect=conn.dialect)
    sql = str(compiled)
    positional = compiled.positional
    if positional and list(compiled.positiontup or []) != cols:
        raise RuntimeError(f"unexpected insert parameter order: {compiled.positiontup}")

    def write(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        params: Any = rows if positional else [dict(zip(cols, r, strict=True)) for r in rows]
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, params)
        finally:
            cursor.close()

    return write
