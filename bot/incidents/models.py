"""Tables of the incident domain (incidents, their alerts, their timeline) and the read schemas.

`open_key` is the group key's SHA-256 while the incident is open and NULL once it is resolved; a
unique constraint on it is what keeps two deliveries of the same new alert group (two threads, two
processes, SQLite or PostgreSQL) from opening two incidents. Both databases allow many NULLs in a
unique column, so resolved incidents never collide.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow


class Severity(enum.StrEnum):
    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"


class IncidentStatus(enum.StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


OPEN_STATUSES = (
    IncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED,
    IncidentStatus.MONITORING,
)


def opened_during_drill(context: Any) -> bool:
    """An incident opened while a game day drill runs belongs to the drill (tagged DRILL).

    A column default, so every way of opening one (alert intake, declare) gets it in the same
    INSERT, before its header or any update goes out untagged.
    """
    running = context.connection.execute(
        sql_text("SELECT 1 FROM gameday_runs WHERE active IS NOT NULL")
    ).first()
    return running is not None


class Incident(Base):
    """One incident: opened by an alert group, shown as INC-<number>."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), index=True)
    commander: Mapped[str | None] = mapped_column(String(64), nullable=True)
    group_key: Mapped[str] = mapped_column(Text)
    open_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    header_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    model: Mapped[str] = mapped_column(String(128), default="")
    production_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    runbook_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_alert_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Timeline events up to this id are reflected in Slack (header + thread replies).
    published_event_id: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[str] = mapped_column(Text, default="")
    impact: Mapped[str] = mapped_column(Text, default="")
    # Slack user ids of everyone who acted on the incident, in the order they first did.
    participants: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Production version when it was resolved (the postmortem compares it with the opening one).
    resolved_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Caused by a game day drill: every message about it says DRILL (bot/gameday).
    drill: Mapped[bool] = mapped_column(Boolean, default=opened_during_drill)


class IncidentAlert(Base):
    """One alert (by Alertmanager fingerprint) of an incident, with its latest known state."""

    __tablename__ = "incident_alerts"
    __table_args__ = (
        UniqueConstraint("incident_id", "fingerprint"),
        Index("ix_incident_alerts_fingerprint_starts", "fingerprint", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64))
    alertname: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # firing | resolved
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IncidentEvent(Base):
    """One line of an incident's timeline: opened, alert changes, acknowledgements, actions."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# --- read schemas (plain values handed to flows, handlers and templates) -----------------------


@dataclass(frozen=True)
class AlertView:
    fingerprint: str
    alertname: str
    status: str
    labels: dict[str, Any]
    annotations: dict[str, Any]
    starts_at: datetime
    ends_at: datetime | None

    @property
    def summary(self) -> str:
        return str(self.annotations.get("summary") or self.annotations.get("description") or "")

    @property
    def description(self) -> str:
        return str(self.annotations.get("description") or "")


@dataclass(frozen=True)
class EventView:
    id: int
    kind: str
    text: str
    actor: str | None
    at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class IncidentView:
    id: int
    number: int
    title: str
    severity: str
    status: str
    commander: str | None
    group_key: str
    channel: str | None
    header_ts: str | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    model: str
    production_version: int | None
    runbook_id: str | None
    last_alert_at: datetime
    published_event_id: int
    summary: str
    alerts: list[AlertView] = field(default_factory=list)
    events: list[EventView] = field(default_factory=list)
    impact: str = ""
    participants: list[str] = field(default_factory=list)
    resolved_version: int | None = None
    drill: bool = False

    @property
    def ref(self) -> str:
        return f"INC-{self.number}"

    @property
    def firing(self) -> list[AlertView]:
        return [a for a in self.alerts if a.status == "firing"]

    @property
    def alertnames(self) -> list[str]:
        return sorted({a.alertname for a in self.alerts})

    @property
    def is_open(self) -> bool:
        return self.status != IncidentStatus.RESOLVED

    @property
    def declared(self) -> bool:
        """Opened by hand (`/iris incident declare`), not by an alert group."""
        return self.group_key.startswith("declared:")
