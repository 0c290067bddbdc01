"""Tables of the stakeholder-updates domain: who subscribed, the delivery ledger of every update
sent, and the commander reminders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow


class IncidentSubscription(Base):
    """Who hears about incidents: a user (by DM) or a channel, for all of them (maybe only the
    severe ones) or one."""

    __tablename__ = "incident_subscriptions"
    __table_args__ = (UniqueConstraint("subscriber", "scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # user | channel
    scope: Mapped[str] = mapped_column(String(32))  # "all" or an incident id
    # Only incidents at this severity or worse (SEV1 is the worst); NULL: every severity.
    min_severity: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # Opted out of game day drills: no updates about incidents tagged DRILL.
    skip_drills: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IncidentUpdateDelivery(Base):
    """One update to one subscriber in one time slot: the row that makes a send happen once."""

    __tablename__ = "incident_update_deliveries"
    __table_args__ = (
        UniqueConstraint("incident_id", "subscriber", "slot"),
        # Every scheduled run looks for unfinished rows first (the recovery pass).
        Index("ix_incident_update_deliveries_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    subscriber: Mapped[str] = mapped_column(String(64))
    slot: Mapped[str] = mapped_column(String(96))
    state: Mapped[str] = mapped_column(String(8))  # queued | sending | sent | failed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Why a `failed` row failed, when the post's outcome could not be known (its lookup was
    # refused): such a row is never posted again. None: the post failed for sure.
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)


class IncidentReminder(Base):
    """A nudge to the commander: no human update went to stakeholders for one update interval.

    `slot` chains the reminders of one silence (bot/updates/reminders.py); its unique key is
    what makes two job runs that race for the same reminder post it once.
    """

    __tablename__ = "incident_reminders"
    __table_args__ = (UniqueConstraint("incident_id", "slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    slot: Mapped[str] = mapped_column(String(32))
    commander: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The reminder message in the incident's thread (edited once someone answers it).
    channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answer: Mapped[str | None] = mapped_column(String(16), nullable=True)  # snoozed | updated
    answered_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    snoozed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
