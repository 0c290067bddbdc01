"""Tables of the deploy domain and their read schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow


class DeployRecord(Base):
    """One change of the production model (or an attempt at one)."""

    __tablename__ = "deploy_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # deploy | rollback
    actor: Mapped[str] = mapped_column(String(64))
    from_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    to_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # succeeded (the change is live) | reverted (smoke test failed, previous version restored) | failed
    outcome: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    preflight: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    smoke: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


class DeployLock(Base):
    """The one production lock: at most one deploy or rollback at a time, across processes."""

    __tablename__ = "deploy_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    holder: Mapped[str | None] = mapped_column(String(64), nullable=True)
    purpose: Mapped[str] = mapped_column(String(200), default="")
    acquired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DeployEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    actor: str
    from_version: int | None
    to_version: int | None
    outcome: str
    reason: str
    preflight: dict[str, Any]
    smoke: dict[str, Any]
    run_id: int | None
    started_at: datetime
    finished_at: datetime

    @property
    def duration_seconds(self) -> float:
        return max(0.0, (self.finished_at - self.started_at).total_seconds())


class LockInfo(BaseModel):
    run_id: int | None
    holder: str | None
    purpose: str
    acquired_at: datetime | None
    expires_at: datetime | None
