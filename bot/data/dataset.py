"""Read the dataset: the training set (base Iris minus holdout plus collected rows) and counts.

Reads go through Core in chunks straight into numpy arrays, so a million collected rows cost
tens of megabytes, not a million ORM objects.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Connection, case, func, select

from bot.data.models import IngestedFile, QuarantinedRow, Sample
from bot.data.schemas import SOURCES, DatasetSummary, TrainingSet
from bot.data.validation import FEATURES
from bot.db import Database
from bot.training.iris import CLASSES, holdout_split

READ_CHUNK = 20_000
HASH_CHUNK = 100_000
COLLECTED = ("landing", "feedback")
RECENT_QUARANTINE = 5

_S = Sample.__table__
_Q = QuarantinedRow.__table__
_F = IngestedFile.__table__
_CODE = {name: i for i, name in enumerate(CLASSES)}


def training_set(db: Database, *, include: Iterable[str] = SOURCES) -> TrainingSet:
    """Base Iris minus the holdout plus the collected valid rows of the included sources.

    Rows whose features equal a holdout row are dropped whatever their label (the holdout never
    enters training). Order is deterministic: base first, then samples by id.
    """
    wanted = tuple(dict.fromkeys(include))
    unknown = [s for s in wanted if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown source {unknown[0]!r}; choose from {', '.join(SOURCES)}")
    split = holdout_split()
    collected = [s for s in COLLECTED if s in wanted]
    with db.engine.connect() as conn:
        expected = 0
        if collected:
            where = _S.c.source.in_(collected)
            expected = int(conn.scalar(select(func.count()).select_from(_S).where(where)) or 0)
        n_base = len(split.y_train) if "base" in wanted else 0
        # One allocation for the final arrays (base rows first): no concatenate copies.
        X = np.empty((n_base + expected, 4), dtype=np.float64)
        codes = np.empty(n_base + expected, dtype=np.uint8)
        srcs = np.empty(n_base + expected, dtype=np.uint8)
        X[:n_base] = split.X_train[:n_base]
        codes[:n_base] = [_CODE[c] for c in split.y_train[:n_base]]
        srcs[:n_base] = 0
        n = n_base
        if collected:
            X, codes, srcs, n = _read_samples(conn, collected, split.X_holdout, X, codes, srcs, n)
    X, codes, srcs = X[:n], codes[:n], srcs[:n]
    y = np.asarray(CLASSES)[codes]
    counts = np.bincount(codes, minlength=len(CLASSES))
    return TrainingSet(
        X=X,
        y=y,
        data_hash=_data_hash(X, codes),
        rows_by_source={s: int(np.count_nonzero(srcs == SOURCES.index(s))) for s in wanted},
        class_counts={c: int(k) for c, k in zip(CLASSES, counts, strict=True)},
        holdout_version=split.holdout_version,
    )


def _read_samples(
    conn: Connection,
    sources: list[str],
    holdout: np.ndarray,
    X: np.ndarray,
    codes: np.ndarray,
    srcs: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Append collected rows (by id) to the arrays, holdout rows dropped; returns the new end."""
    # Class and source as small integers computed by the database: every fetched value is a
    # number, so a chunk becomes a float array in one C-level conversion.
    label_code = case(_CODE, value=_S.c.label, else_=-1)
    source_code = case({s: SOURCES.index(s) for s in COLLECTED}, value=_S.c.source, else_=-1)
    query = (
        select(*(_S.c[f] for f in FEATURES), label_code, source_code)
        .where(_S.c.source.in_(sources))
        .order_by(_S.c.id)
    )
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    driver = conn.connection.driver_connection
    # PostgreSQL: a named (server-side) cursor, so the result streams instead of arriving whole.
    cursor = (
        driver.cursor(name="training_set") if conn.dialect.name == "postgresql" else driver.cursor()
    )  # type: ignore[union-attr]
    held = np.round(holdout, 9)
    try:
        cursor.execute(sql)
        while part := cursor.fetchmany(READ_CHUNK):
            chunk = np.array(part, dtype=np.float64)
            chunk = chunk[(chunk[:, 4] >= 0) & ~_in_holdout(chunk[:, :4], held)]
            m = len(chunk)
            if n + m > len(X):  # rows committed after the count: grow instead of failing
                size = max(n + m, 2 * len(X))
                X, codes, srcs = _grow(X, size), _grow(codes, size), _grow(srcs, size)
            X[n : n + m] = chunk[:, :4]
            codes[n : n + m] = chunk[:, 4]
            srcs[n : n + m] = chunk[:, 5]
            n += m
    finally:
        cursor.close()
    return X, codes, srcs, n


def _in_holdout(chunk: np.ndarray, held: np.ndarray) -> np.ndarray:
    rounded = np.round(chunk, 9)
    hit = np.zeros(len(chunk), dtype=bool)
    # Cheap prefilter on one column; only candidate rows get the full comparison.
    candidates = np.flatnonzero(np.isin(rounded[:, 2], held[:, 2]))
    if len(candidates):
        rows = rounded[candidates]
        hit[candidates] = (rows[:, None, :] == held[None, :, :]).all(axis=2).any(axis=1)
    return hit


def _data_hash(X: np.ndarray, codes: np.ndarray) -> str:
    """`bot.training.iris.data_hash(X, y)`, computed in chunks so it needs no label strings."""
    digest = hashlib.sha256()
    for start in range(0, len(X), HASH_CHUNK):
        digest.update(np.round(X[start : start + HASH_CHUNK], 9).tobytes())
    digest.update(str(X.shape).encode())
    names = np.asarray([c.encode() for c in CLASSES], dtype=object)
    for start in range(0, len(codes), HASH_CHUNK):
        if start:
            digest.update(b"\x1f")
        digest.update(b"\x1f".join(names[codes[start : start + HASH_CHUNK]]))
    return digest.hexdigest()[:16]


def _grow(array: np.ndarray, size: int) -> np.ndarray:
    grown = np.empty((size, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def _utc(when: datetime) -> datetime:
    # Naive times are taken as UTC, like every timestamp the bot writes.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def rows_since(db: Database, *, since: datetime | None) -> int:
    """Collected valid rows added after `since` (all when None): 'new since the production model was trained'."""
    query = select(func.count()).select_from(_S)
    if since is not None:
        query = query.where(_S.c.created_at > _utc(since))
    with db.connection() as conn:
        return int(conn.scalar(query) or 0)


def dataset_summary(db: Database, *, since: datetime | None = None) -> DatasetSummary:
    """Rows per source and class, new rows since a time, quarantine counts and recent reasons."""
    split = holdout_split()
    by_class: dict[str, dict[str, int]] = {"base": dict(Counter(str(c) for c in split.y_train))}
    with db.connection() as conn:
        for source, label, count in conn.execute(
            select(_S.c.source, _S.c.label, func.count()).group_by(_S.c.source, _S.c.label)
        ):
            by_class.setdefault(source, {})[label] = int(count)
        reasons = {
            category: int(count)
            for category, count in conn.execute(
                select(_Q.c.category, func.count()).group_by(_Q.c.category)
            )
        }
        recent = conn.execute(
            select(_Q.c.source, _Q.c.source_ref, _Q.c.line, _Q.c.reason)
            .order_by(_Q.c.id.desc())
            .limit(RECENT_QUARANTINE)
        ).all()
        files = int(conn.scalar(select(func.count()).select_from(_F)) or 0)
    by_class = {s: {c: by_class.get(s, {}).get(c, 0) for c in CLASSES} for s in SOURCES}
    return DatasetSummary(
        rows_by_source={s: sum(by_class[s].values()) for s in SOURCES},
        rows_by_class=by_class,
        new_since=rows_since(db, since=since) if since is not None else None,
        quarantined=sum(reasons.values()),
        quarantine_reasons=reasons,
        recent_quarantine=[
            f"{r.source} {r.source_ref or '-'}{f' line {r.line}' if r.line else ''}: {r.reason}"
            for r in recent
        ],
        files=files,
    )
