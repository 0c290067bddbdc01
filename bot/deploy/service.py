"""Plain functions over a session: the production lock and the deploy history.

The lock is one row updated with a single conditional UPDATE, so taking it is atomic on SQLite
and on PostgreSQL alike, and two bot processes sharing a database never both hold it. A lock
whose run has finished (or that expired) counts as free: a crash can never wedge deploys.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.deploy.models import DeployEntry, DeployLock, DeployRecord, LockInfo
from bot.runbook.models import RunbookRun
from bot.runbook.schema import FINISHED_RUN_STATUSES

PRODUCTION_LOCK = "production"


class LockHeld(Exception):
    """Someone else's deploy or rollback holds the production lock."""

    def __init__(self, lock: LockInfo) -> None:
        self.lock = lock
        super().__init__(
            f"the deploy lock is held by {lock.holder} ({lock.purpose}) since {lock.acquired_at}"
        )


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _info(row: DeployLock) -> LockInfo:
    return LockInfo(
        run_id=row.run_id,
        holder=row.holder,
        purpose=row.purpose,
        acquired_at=_aware(row.acquired_at),
        expires_at=_aware(row.expires_at),
    )


def _free_condition(now: datetime, run_id: int) -> Any:
    finished = select(RunbookRun.id).where(
        RunbookRun.status.in_([s.value for s in FINISHED_RUN_STATUSES])
    )
    return or_(
        DeployLock.run_id.is_(None),
        DeployLock.run_id == run_id,
        DeployLock.expires_at < now,
        DeployLock.run_id.in_(finished),
    )


def acquire_lock(
    session: Session, *, run_id: int, holder: str, purpose: str, ttl_seconds: float
) -> LockInfo:
    """Take the production lock for a run, or raise LockHeld naming who has it and since when."""
    now = utcnow()
    try:
        with session.begin_nested():
            session.execute(insert(DeployLock).values(name=PRODUCTION_LOCK, purpose=""))
    except IntegrityError:
        pass  # the row exists already
    result = session.execute(
        update(DeployLock)
        .where(and_(DeployLock.name == PRODUCTION_LOCK, _free_condition(now, run_id)))
        .values(
            run_id=run_id,
            holder=holder,
            purpose=purpose[:200],
            acquired_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
        .execution_options(synchronize_session=False)
    )
    row = session.get(DeployLock, PRODUCTION_LOCK, populate_existing=True)
    assert row is not None
    if result.rowcount != 1:
        raise LockHeld(_info(row))
    return _info(row)


def release_lock(session: Session, *, run_id: int) -> bool:
    """Free the lock if this run holds it; a no-op otherwise (safe to repeat)."""
    result = session.execute(
        update(DeployLock)
        .where(DeployLock.name == PRODUCTION_LOCK, DeployLock.run_id == run_id)
        .values(run_id=None, holder=None, purpose="", acquired_at=None, expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def current_lock(session: Session) -> LockInfo | None:
    """The lock if a live run holds it; None when it is free."""
    row = session.get(DeployLock, PRODUCTION_LOCK, populate_existing=True)
    if row is None or row.run_id is None:
        return None
    now = utcnow()
    expires = _aware(row.expires_at)
    if expires is not None and expires < now:
        return None
    run = session.get(RunbookRun, row.run_id)
    if run is None or run.status in {s.value for s in FINISHED_RUN_STATUSES}:
        return None
    return _info(row)


def record_deploy(
    session: Session,
    *,
    kind: str,
    actor: str,
    from_version: int | None,
    to_version: int | None,
    outcome: str,
    reason: str = "",
    preflight: dict[str, Any] | None = None,
    smoke: dict[str, Any] | None = None,
    run_id: int | None = None,
    started_at: datetime | None = None,
) -> DeployEntry:
    """Add one entry to the deploy history (idempotent per run and outcome)."""
    if run_id is not None:
        existing = session.scalars(
            select(DeployRecord).where(
                DeployRecord.run_id == run_id, DeployRecord.outcome == outcome
            )
        ).first()
        if existing is not None:
            return DeployEntry.model_validate(existing)
    row = DeployRecord(
        kind=kind,
        actor=actor,
        from_version=from_version,
        to_version=to_version,
        outcome=outcome,
        reason=reason,
        preflight=preflight or {},
        smoke=smoke or {},
        run_id=run_id,
        started_at=started_at or utcnow(),
        finished_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return DeployEntry.model_validate(row)


def history(session: Session, *, limit: int = 20) -> list[DeployEntry]:
    """Newest deploys and rollbacks first."""
    rows = session.scalars(select(DeployRecord).order_by(DeployRecord.id.desc()).limit(limit))
    return [DeployEntry.model_validate(r) for r in rows]


def previous_production(session: Session, *, current: int | None) -> int | None:
    """The version that was in production before `current`, from the deploy history."""
    rows = session.scalars(
        select(DeployRecord)
        .where(DeployRecord.outcome == "succeeded", DeployRecord.to_version == current)
        .order_by(DeployRecord.id.desc())
        .limit(1)
    )
    row = rows.first()
    return row.from_version if row is not None else None


def was_in_production(session: Session, *, version: int) -> bool:
    """Whether a recorded deploy or rollback ever made `version` the production version."""
    rows = session.scalars(
        select(DeployRecord.id)
        .where(DeployRecord.outcome == "succeeded", DeployRecord.to_version == version)
        .limit(1)
    )
    return rows.first() is not None
