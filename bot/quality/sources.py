"""Delayed sources: the landing folder and feedback labels each have an expected cadence.

A source is late when nothing arrived for longer than its cadence (counted from the bot's start
when nothing ever arrived). While one is late, what depends on it is held: scheduled retrains
and automatic promotions wait (an admin may still run them with --force), and the accuracy
monitor says its labels are late instead of computing an accuracy from stale feedback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.data.models import IngestedFile, Sample
from bot.db import Database, utcnow
from bot.quality.overrides import load_quality_file

# What waits while a source is late.
HOLDS = {
    "landing": ("scheduled retrains", "automatic promotion"),
    "feedback": ("scheduled retrains", "automatic promotion", "the accuracy monitor"),
}


@dataclass(frozen=True)
class SourceState:
    """One source: when data last arrived, its cadence, and whether it is late."""

    source: str
    last_arrival: datetime | None
    cadence: timedelta
    late: bool
    late_by: timedelta
    holds: tuple[str, ...]

    @property
    def cadence_seconds(self) -> float:
        return self.cadence.total_seconds()


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=datetime.now().astimezone().tzinfo).astimezone()


def last_arrivals(session: Session, landing_dir: Path | None) -> dict[str, datetime | None]:
    """When each source last delivered: newest ingested landing file or file still waiting in
    the landing folder, and the newest feedback label."""
    ingested = session.execute(select(func.max(IngestedFile.ingested_at))).scalar()
    waiting = None
    if landing_dir is not None and landing_dir.is_dir():
        stamps = [p.stat().st_mtime for p in landing_dir.iterdir() if p.is_file()]
        if stamps:
            waiting = datetime.fromtimestamp(max(stamps)).astimezone()
    landing = max((m for m in (_aware(ingested), waiting) if m is not None), default=None)
    feedback = session.execute(
        select(func.max(Sample.created_at)).where(Sample.source == "feedback")
    ).scalar()
    return {"landing": landing, "feedback": _aware(feedback)}


def source_states(
    arrivals: Mapping[str, datetime | None],
    cadence_minutes: Mapping[str, float],
    *,
    now: datetime,
    started_at: datetime,
) -> list[SourceState]:
    """Each source with a cadence, judged at `now`."""
    states = []
    for source, minutes in cadence_minutes.items():
        if minutes <= 0:
            continue
        cadence = timedelta(minutes=minutes)
        last = arrivals.get(source)
        since = max(last, started_at) if last is not None else started_at
        late_by = now - since - cadence
        states.append(
            SourceState(
                source=source,
                last_arrival=last,
                cadence=cadence,
                late=late_by > timedelta(0),
                late_by=max(late_by, timedelta(0)),
                holds=HOLDS.get(source, ()),
            )
        )
    return states


def late_sources(states: list[SourceState]) -> list[SourceState]:
    return [s for s in states if s.late]


def labels_late(states: list[SourceState]) -> SourceState | None:
    """The feedback source when it is late (the accuracy monitor then reports that)."""
    return next((s for s in states if s.source == "feedback" and s.late), None)


class SourceClock:
    """The sources' states for this bot: its database, landing folder, cadences and start."""

    def __init__(
        self,
        *,
        db: Database,
        landing_dir: Path | None,
        cadence_minutes: Mapping[str, float],
        started_at: datetime | None = None,
    ) -> None:
        self.db = db
        self.landing_dir = landing_dir
        self.cadence_minutes = dict(cadence_minutes)
        self.started_at = started_at or utcnow()

    @classmethod
    def from_settings(cls, settings: Any, db: Database) -> SourceClock:
        """Cadences from quality.toml, the landing folder under the data directory."""
        return cls(
            db=db,
            landing_dir=Path(settings.oncall_data_dir) / "landing",
            cadence_minutes=load_quality_file(settings.quality_file).cadence_minutes,
        )

    def states(self, now: datetime | None = None) -> list[SourceState]:
        """Each source judged now; blocking (one query, one folder listing)."""
        with self.db.session() as session:
            arrivals = last_arrivals(session, self.landing_dir)
        return source_states(
            arrivals, self.cadence_minutes, now=now or utcnow(), started_at=self.started_at
        )

    def labels_late_reason(self) -> str | None:
        """Why the accuracy monitor does not judge now, when feedback labels are late."""
        late = labels_late(self.states())
        if late is None:
            return None
        arrived = late.last_arrival.strftime("%Y-%m-%d %H:%M UTC") if late.last_arrival else "never"
        return (
            f"feedback labels are late (last label {arrived}, expected every "
            f"{int(late.cadence.total_seconds() // 60)} min): no accuracy until they arrive"
        )

    def held(self, what: str) -> list[SourceState]:
        """The late sources that hold `what` (e.g. "scheduled retrains")."""
        return [s for s in late_sources(self.states()) if what in s.holds]
