"""Tables for collected samples, quarantined rows and ingested files.

The schema itself is created and changed by the migrations in bot/db/migrations, which must
match these definitions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, utcnow

# BIGINT on PostgreSQL (a million-row file per day adds up); SQLite only auto-increments an
# INTEGER PRIMARY KEY.
_ID = BigInteger().with_variant(Integer, "sqlite")


class IngestedFile(Base):
    """One landing file ingested, keyed by its content hash so re-drops add nothing."""

    __tablename__ = "ingested_files"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    # Last physical line read: a later version that only appends is ingested from here on.
    lines: Mapped[int] = mapped_column(Integer)
    skipped_lines: Mapped[int] = mapped_column(Integer, default=0)
    rows: Mapped[int] = mapped_column(Integer)
    quarantined: Mapped[int] = mapped_column(Integer)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Sample(Base):
    """One valid, labelled sample collected from a landing file or feedback."""

    __tablename__ = "samples"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))  # landing | feedback
    source_ref: Mapped[str | None] = mapped_column(String(255), index=True)
    line: Mapped[int | None] = mapped_column(Integer)
    sepal_length: Mapped[float] = mapped_column(Float)
    sepal_width: Mapped[float] = mapped_column(Float)
    petal_length: Mapped[float] = mapped_column(Float)
    petal_width: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[int | None] = mapped_column(_ID, ForeignKey("ingested_files.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


class QuarantinedRow(Base):
    """A row that failed validation, with where it came from and why."""

    __tablename__ = "quarantined_rows"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))
    source_ref: Mapped[str | None] = mapped_column(String(255))
    line: Mapped[int | None] = mapped_column(Integer)
    raw: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    file_id: Mapped[int | None] = mapped_column(_ID, ForeignKey("ingested_files.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
