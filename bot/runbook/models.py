"""Tables for runbook runs: one row per run, one row per step (main and rollback steps alike).

The run is a state machine persisted after every transition, so a restarted bot can resume it
(`RunbookEngine.resume_incomplete`) and keep updating the same Slack checklist (`message_ts`).
Step rows are created up front for every step, rollback steps included, so indexes never shift.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, utcnow


class RunbookRun(Base):
    __tablename__ = "runbook_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    runbook_id: Mapped[str] = mapped_column(String(64), index=True)
    runbook_title: Mapped[str] = mapped_column(String(200), default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), index=True)
    # Index into steps ordered by `index` (main steps first, then rollback steps).
    current_step: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    thread_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The one checklist message the reporter keeps editing.
    message_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # No foreign key: the incidents package owns its table and may be absent in some set-ups.
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Set as soon as cancel is requested, so a restart does not resume a run someone stopped.
    cancelled_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The lease of the engine instance driving the run (bot/runbook/leases.py): with several
    # processes on one database, a run is driven only by the holder of a fresh lease.
    driver: Mapped[str | None] = mapped_column(String(64), nullable=True)
    driver_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    steps: Mapped[list[RunbookStep]] = relationship(
        back_populates="run",
        order_by="RunbookStep.index",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class RunbookStep(Base):
    __tablename__ = "runbook_steps"
    __table_args__ = (UniqueConstraint("run_id", "index", name="uq_runbook_steps_run_id_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("runbook_runs.id", ondelete="CASCADE"), index=True
    )
    index: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(String(64))
    # Title and action are copied so run history stays readable after the runbook file changes.
    title: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(100), default="")
    phase: Mapped[str] = mapped_column(String(16), default="main")
    status: Mapped[str] = mapped_column(String(32), default="pending")
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    confirmed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)

    run: Mapped[RunbookRun] = relationship(back_populates="steps")
