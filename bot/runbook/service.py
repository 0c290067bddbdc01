"""Plain functions over a Session for runbook runs. The engine is their only writer.

Functions change ORM objects and never commit: the caller's `Database.session()` block is the
transaction, so "step succeeded" and "advance to the next step" land together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.runbook.models import RunbookRun, RunbookStep
from bot.runbook.schema import (
    FINISHED_RUN_STATUSES,
    Runbook,
    RunState,
    RunStatus,
    StepPhase,
    StepState,
    StepStatus,
)


def create_run(
    *,
    session: Session,
    runbook: Runbook,
    params: dict[str, Any],
    actor: str,
    channel: str | None = None,
    thread_ts: str | None = None,
    incident_id: int | None = None,
) -> RunbookRun:
    """Insert a pending run with one pending row per step (main then rollback)."""
    run = RunbookRun(
        runbook_id=runbook.id,
        runbook_title=runbook.title,
        params=params,
        actor=actor,
        status=RunStatus.PENDING.value,
        current_step=0,
        channel=channel,
        thread_ts=thread_ts,
        incident_id=incident_id,
    )
    phases = [(StepPhase.MAIN, runbook.steps), (StepPhase.ROLLBACK, runbook.rollback)]
    index = 0
    for phase, steps in phases:
        for step in steps:
            run.steps.append(
                RunbookStep(
                    index=index,
                    step_id=step.id,
                    title=step.title,
                    action=step.action,
                    phase=phase.value,
                    status=StepStatus.PENDING.value,
                    outputs={},
                )
            )
            index += 1
    session.add(run)
    session.flush()
    return run


def get_run(*, session: Session, run_id: int) -> RunbookRun | None:
    """The run with that id, steps loaded, or None."""
    return session.get(RunbookRun, run_id)


def list_runs(
    *,
    session: Session,
    status: RunStatus | Iterable[RunStatus] | None = None,
    runbook_id: str | None = None,
    incident_id: int | None = None,
    limit: int = 50,
) -> list[RunbookRun]:
    """Runs newest first, optionally filtered by status(es), runbook and incident."""
    query = select(RunbookRun).order_by(RunbookRun.id.desc()).limit(limit)
    if status is not None:
        statuses = [status] if isinstance(status, RunStatus) else list(status)
        query = query.where(RunbookRun.status.in_([s.value for s in statuses]))
    if runbook_id is not None:
        query = query.where(RunbookRun.runbook_id == runbook_id)
    if incident_id is not None:
        query = query.where(RunbookRun.incident_id == incident_id)
    return list(session.scalars(query))


def incomplete_runs(*, session: Session) -> list[RunbookRun]:
    """Runs that have not finished (including those waiting for a confirmation), oldest first."""
    finished = [s.value for s in FINISHED_RUN_STATUSES]
    query = select(RunbookRun).where(RunbookRun.status.not_in(finished)).order_by(RunbookRun.id)
    return list(session.scalars(query))


def set_run_status(
    *, session: Session, run: RunbookRun, status: RunStatus, error: str | None = None
) -> None:
    """Move the run to `status`; finished statuses stamp finished_at."""
    run.status = status.value
    if error is not None:
        run.error = error
    if status in FINISHED_RUN_STATUSES:
        run.finished_at = utcnow()
    run.updated_at = utcnow()


def advance(*, session: Session, run: RunbookRun, to_index: int) -> None:
    """Point the run at step `to_index` (may be one past the end of a phase)."""
    run.current_step = to_index
    run.updated_at = utcnow()


def request_cancel(*, session: Session, run: RunbookRun, user: str) -> None:
    """Record that `user` asked to cancel; the engine stops at the next step boundary."""
    run.cancelled_by = user
    run.updated_at = utcnow()


def set_message_ts(*, session: Session, run: RunbookRun, message_ts: str) -> None:
    """Remember the checklist message so later updates (and restarts) edit it in place."""
    run.message_ts = message_ts


def _step(run: RunbookRun, index: int) -> RunbookStep:
    step = run.steps[index]
    assert step.index == index, "step rows must be contiguous"
    return step


def mark_step_pending(*, session: Session, run: RunbookRun, index: int) -> None:
    """Reset a step to pending (resume after a crash, or after a confirmation)."""
    step = _step(run, index)
    step.status = StepStatus.PENDING.value
    step.started_at = None


def mark_step_waiting(*, session: Session, run: RunbookRun, index: int, prompt: str) -> None:
    """Pause on a step until someone confirms; the prompt is shown as its summary."""
    step = _step(run, index)
    step.status = StepStatus.WAITING_CONFIRMATION.value
    step.summary = prompt


def confirm_step(*, session: Session, run: RunbookRun, index: int, user: str) -> bool:
    """Record who confirmed and let the run go on, if the step still waits; False if it does not.

    One conditional UPDATE per row, so of two confirmations racing across processes exactly one
    lands; the caller's transaction makes the click durable before Slack is told "ok".
    """
    step = _step(run, index)
    confirmed = session.execute(
        update(RunbookStep)
        .where(
            RunbookStep.id == step.id,
            RunbookStep.status == StepStatus.WAITING_CONFIRMATION.value,
            RunbookStep.confirmed_by.is_(None),
        )
        .values(status=StepStatus.PENDING.value, confirmed_by=user)
        .execution_options(synchronize_session=False)
    )
    if confirmed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    status = RunStatus.ROLLING_BACK if step.phase == StepPhase.ROLLBACK.value else RunStatus.RUNNING
    session.execute(
        update(RunbookRun)
        .where(RunbookRun.id == run.id, RunbookRun.status == RunStatus.WAITING_CONFIRMATION.value)
        .values(status=status.value, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.expire(step)  # the ORM copies are stale now; reload them if read again
    session.expire(run)
    return True


def mark_step_running(*, session: Session, run: RunbookRun, index: int) -> None:
    """The step's action is about to be called."""
    step = _step(run, index)
    step.status = StepStatus.RUNNING.value
    step.started_at = utcnow()
    step.finished_at = None
    step.error = None


def mark_step_succeeded(
    *, session: Session, run: RunbookRun, index: int, summary: str, outputs: dict[str, Any]
) -> None:
    """The action returned ok."""
    step = _step(run, index)
    step.status = StepStatus.SUCCEEDED.value
    step.summary = summary
    step.outputs = outputs
    step.finished_at = utcnow()


def mark_step_failed(*, session: Session, run: RunbookRun, index: int, error: str) -> None:
    """The action failed (ActionFailed, not ok, an exception, a timeout or a bad template)."""
    step = _step(run, index)
    step.status = StepStatus.FAILED.value
    step.error = error
    step.finished_at = utcnow()


def mark_step_finished_as(
    *, session: Session, run: RunbookRun, index: int, status: StepStatus, summary: str | None = None
) -> None:
    """Close a step without running it (skipped by `when`, or cancelled while waiting)."""
    step = _step(run, index)
    step.status = status.value
    if summary is not None:
        step.summary = summary
    step.finished_at = utcnow()


def skip_pending(*, session: Session, run: RunbookRun, phase: StepPhase | None = None) -> None:
    """Mark every still-pending step (of one phase, or all) skipped when a run ends early."""
    for step in run.steps:
        if step.status == StepStatus.PENDING.value and (phase is None or step.phase == phase.value):
            step.status = StepStatus.SKIPPED.value


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone=True columns; they were written as UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def to_state(run: RunbookRun) -> RunState:
    """A detached snapshot of the run for the engine's callers."""
    return RunState(
        id=run.id,
        runbook_id=run.runbook_id,
        runbook_title=run.runbook_title,
        params=dict(run.params or {}),
        actor=run.actor,
        status=RunStatus(run.status),
        current_step=run.current_step,
        channel=run.channel,
        thread_ts=run.thread_ts,
        message_ts=run.message_ts,
        incident_id=run.incident_id,
        error=run.error,
        cancelled_by=run.cancelled_by,
        created_at=_aware(run.created_at) or utcnow(),
        updated_at=_aware(run.updated_at) or utcnow(),
        finished_at=_aware(run.finished_at),
        steps=[
            StepState(
                index=s.index,
                step_id=s.step_id,
                title=s.title,
                action=s.action,
                phase=StepPhase(s.phase),
                status=StepStatus(s.status),
                summary=s.summary,
                outputs=dict(s.outputs or {}),
                error=s.error,
                started_at=_aware(s.started_at),
                finished_at=_aware(s.finished_at),
                confirmed_by=s.confirmed_by,
            )
            for s in run.steps
        ],
    )
