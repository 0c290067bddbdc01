"""Preconditions and small transitions the engine shares between its entry points.

The checks raise the `RunError` subclasses with a kind and facts, which the Slack layer words for
the person who clicked (`templates/run_not_waiting.j2`).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from bot.runbook import service
from bot.runbook.errors import AlreadyConfirmedError, RunStateError
from bot.runbook.models import RunbookRun
from bot.runbook.schema import Runbook, RunState, RunStatus, StepStatus

Authorize = Callable[[RunState, str], bool | Awaitable[bool]]


def runbook_mismatch(run: RunbookRun, runbook: Runbook | None) -> str | None:
    """Why the run cannot continue with the loaded runbook, as a `runbook_step.j2` kind, or None."""
    # A run started with one version of a runbook cannot continue with a reshaped one.
    if runbook is None:
        return "runbook_gone"
    if [s.step_id for s in run.steps] != [s.id for s in runbook.all_steps()]:
        return "runbook_changed"
    return None


def finish_cancelled(session: Any, run: RunbookRun) -> None:
    """End the run as cancelled: the waiting or running step cancelled, the rest skipped."""
    for step in run.steps:
        if step.status in (StepStatus.WAITING_CONFIRMATION.value, StepStatus.RUNNING.value):
            service.mark_step_finished_as(
                session=session, run=run, index=step.index, status=StepStatus.CANCELLED
            )
    service.skip_pending(session=session, run=run)
    service.set_run_status(session=session, run=run, status=RunStatus.CANCELLED)


def check_confirmable(state: RunState, step_id: str) -> None:
    """Raise unless `step_id` is the step the run is waiting on."""
    try:
        step = state.step(step_id)
    except KeyError:
        raise RunStateError("no_such_step", run=state.id, step=step_id) from None
    if step.confirmed_by is not None:
        raise AlreadyConfirmedError("already_confirmed", step=step.title, by=step.confirmed_by)
    if state.status.finished:
        raise RunStateError("already_finished", run=state.id, status=state.status.value)
    if step.status is not StepStatus.WAITING_CONFIRMATION:
        raise RunStateError("step_not_waiting", step=step.title)


def check_cancellable(state: RunState) -> None:
    """Raise unless the run may be cancelled now."""
    if state.status.finished:
        raise RunStateError("already_finished", run=state.id, status=state.status.value)
    if state.status is RunStatus.ROLLING_BACK:
        raise RunStateError("rolling_back", run=state.id)
    if state.cancelled_by is not None:
        raise RunStateError("being_cancelled", run=state.id, by=state.cancelled_by)


async def call_authorize(authorize: Authorize, state: RunState, user: str) -> bool:
    """Call a sync or async authorize callback."""
    result = authorize(state, user)
    if inspect.isawaitable(result):
        result = await result
    return bool(result)
