"""The drill runs table: one row per game day drill, with what it needs to resume or clean up.

`active` is 1 while a drill runs and NULL once it finished; its unique key is what refuses a
second drill while one runs, across processes and on SQLite and PostgreSQL alike (both allow
many NULLs in a unique column).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow


class DrillStatus(enum.StrEnum):
    RUNNING = "running"  # steady state, fault, waiting for detection and mitigation
    CLEANING = "cleaning"  # the clean-up runs (after success, failure, abort or a restart)
    FINISHED = "finished"


class DrillOutcome(enum.StrEnum):
    PASSED = "passed"  # detected and mitigated as the scenario expects
    FAILED = "failed"  # an expectation was not met in time
    ABORTED = "aborted"  # the owner pressed Abort, or the abort condition held
    INTERRUPTED = "interrupted"  # the bot stopped mid-drill and the drill could not resume


class GamedayRun(Base):
    __tablename__ = "gameday_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    active: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    owner: Mapped[str] = mapped_column(String(64))
    speed: Mapped[float] = mapped_column(Float)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    thread_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # What the fault changed (to undo it), the marks of the timeline, the phase reached.
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
