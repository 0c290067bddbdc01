"""The grants table: one row per request, from asking to the end of the grant.

States: pending (waiting for an approver) -> approved (yes, not yet in force: the provider is
being called or retried) -> active -> revoking (the deadline passed or someone revoked; retried
until the provider agrees) -> revoked. A request can also end denied or lapsed (nobody answered).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow

PENDING, APPROVED, ACTIVE, REVOKING = "pending", "approved", "active", "revoking"
REVOKED, DENIED, LAPSED = "revoked", "denied", "lapsed"
# A grant that could not be made (no such account), and an approved extension folded into its grant.
FAILED, MERGED = "failed", "merged"
# States in which the user may hold access at the provider (reconciled at start-up).
LIVE = (APPROVED, ACTIVE, REVOKING)
OPEN = (PENDING, *LIVE)


class AccessGrant(Base):
    __tablename__ = "access_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    resource: Mapped[str] = mapped_column(String(128), index=True)
    level: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)
    approved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    denied_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    deny_reason: Mapped[str] = mapped_column(Text, default="")
    break_glass: Mapped[bool] = mapped_column(Boolean, default=False)
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_seconds: Mapped[int] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    granted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    end_reason: Mapped[str] = mapped_column(String(32), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    card_channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    card_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reminders: Mapped[list[str]] = mapped_column(JSON, default=list)
    drift: Mapped[str] = mapped_column(String(64), default="")
    policy_version: Mapped[int] = mapped_column(Integer, default=1)
    extends_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class GrantView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: str
    resource: str
    level: str
    reason: str
    requested_by: str
    state: str
    approved_by: str | None
    denied_by: str | None
    deny_reason: str
    break_glass: bool
    incident_id: int | None
    duration_seconds: int
    requested_at: datetime
    granted_at: datetime | None
    until: datetime | None
    ended_at: datetime | None
    end_reason: str
    attempts: int
    last_error: str
    card_channel: str | None
    card_ts: str | None
    reminders: list[str]
    drift: str
    policy_version: int
    extends_id: int | None

    _aware_times = field_validator(
        "requested_at", "granted_at", "until", "ended_at", mode="before"
    )(_aware)

    @property
    def ref(self) -> str:
        return f"G-{self.id}"

    def as_row(self) -> dict[str, Any]:
        """The export form: every column, times as ISO strings."""
        return {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in self.model_dump().items()
        }
