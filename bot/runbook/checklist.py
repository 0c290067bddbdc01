"""Turn a RunState into a checklist view model: what the one Slack progress message shows.

Pure data in, pure data out, and no words: the Slack layer renders it with a Jinja2 template
(`templates/runbook_run.j2`), which names the statuses and maps the markers ("done", "running",
...) to whatever emoji or Block Kit elements it likes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.runbook.schema import RunState, RunStatus, StepState, StepStatus

STEP_MARKERS: dict[StepStatus, str] = {
    StepStatus.PENDING: "todo",
    StepStatus.RUNNING: "running",
    StepStatus.WAITING_CONFIRMATION: "waiting",
    StepStatus.SUCCEEDED: "done",
    StepStatus.FAILED: "failed",
    StepStatus.SKIPPED: "skipped",
    StepStatus.CANCELLED: "cancelled",
}

RUN_MARKERS: dict[RunStatus, str] = {
    RunStatus.PENDING: "running",
    RunStatus.RUNNING: "running",
    RunStatus.WAITING_CONFIRMATION: "waiting",
    RunStatus.ROLLING_BACK: "running",
    RunStatus.SUCCEEDED: "done",
    RunStatus.FAILED: "failed",
    RunStatus.ROLLED_BACK: "failed",
    RunStatus.ROLLBACK_FAILED: "failed",
    RunStatus.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class ChecklistItem:
    """One line of the checklist."""

    step_id: str
    title: str
    marker: str
    status: str
    summary: str | None
    error: str | None
    confirmed_by: str | None
    duration_seconds: float | None
    is_current: bool


@dataclass(frozen=True)
class PendingConfirmation:
    """The step a Confirm/Cancel button pair should be shown for."""

    run_id: int
    step_id: str
    title: str
    prompt: str


@dataclass(frozen=True)
class ChecklistView:
    """Everything the checklist template needs, nothing Slack-specific."""

    run_id: int
    runbook_id: str
    title: str
    status: str
    marker: str
    actor: str
    # Values as given; the template shows None, True and False in words.
    params: list[tuple[str, Any]]
    items: list[ChecklistItem]
    # Shown only once a rollback started; otherwise empty.
    rollback_items: list[ChecklistItem]
    done_count: int
    total_count: int
    finished: bool
    error: str | None
    cancelled_by: str | None
    confirmation: PendingConfirmation | None

    @property
    def progress(self) -> str:
        return f"{self.done_count}/{self.total_count}"


def _duration(started: datetime | None, finished: datetime | None) -> float | None:
    if started is None or finished is None:
        return None
    return max((finished - started).total_seconds(), 0.0)


def _item(step: StepState, current: int, run_active: bool) -> ChecklistItem:
    return ChecklistItem(
        step_id=step.step_id,
        title=step.title,
        marker=STEP_MARKERS[step.status],
        status=step.status.value,
        summary=step.summary,
        error=step.error,
        confirmed_by=step.confirmed_by,
        duration_seconds=_duration(step.started_at, step.finished_at),
        is_current=run_active and step.index == current,
    )


def build_checklist(run: RunState) -> ChecklistView:
    """The checklist view of a run: header, one item per step, rollback items once rolling back."""
    active = not run.status.finished
    main = [_item(s, run.current_step, active) for s in run.main_steps]
    rollback_started = any(
        s.status not in (StepStatus.PENDING, StepStatus.SKIPPED) for s in run.rollback_steps
    ) or run.status in (RunStatus.ROLLING_BACK, RunStatus.ROLLED_BACK, RunStatus.ROLLBACK_FAILED)
    rollback = (
        [_item(s, run.current_step, active) for s in run.rollback_steps] if rollback_started else []
    )
    waiting = run.waiting_step
    confirmation = (
        PendingConfirmation(
            run_id=run.id,
            step_id=waiting.step_id,
            title=waiting.title,
            # The engine stores the rendered question as the waiting step's summary.
            prompt=waiting.summary or "",
        )
        if waiting is not None and run.status is RunStatus.WAITING_CONFIRMATION
        else None
    )
    counted = main + rollback
    return ChecklistView(
        run_id=run.id,
        runbook_id=run.runbook_id,
        title=run.runbook_title,
        status=run.status.value,
        marker=RUN_MARKERS[run.status],
        actor=run.actor,
        params=list(run.params.items()),
        items=main,
        rollback_items=rollback,
        done_count=sum(1 for i in counted if i.status in ("succeeded", "failed", "skipped")),
        total_count=len(counted),
        finished=run.status.finished,
        error=run.error,
        cancelled_by=run.cancelled_by,
        confirmation=confirmation,
    )
