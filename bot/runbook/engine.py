"""The runbook engine: runs steps in order, pauses for confirmations, applies failure policies.

The database is the source of truth. Each run is driven by at most one asyncio task that loops
"read the run, do the next transition, persist, report". The task exits when the run finishes or
waits for a confirmation; `confirm()` starts a new task. Because a waiting run has no task, a
restarted bot needs nothing in memory to accept the click, and a double click finds the step no
longer waiting (`AlreadyConfirmedError`) instead of running it twice.

Crash safety: a step is marked running before its action is called and finished (with the advance
to the next step) in one transaction after it. `resume_incomplete()` re-runs a step left running,
so actions must be idempotent. Runs waiting for a confirmation stay waiting; a confirmed one is
running again in the same transaction that records the click, so it resumes like any other.

Permissions stay outside: `confirm()` and `cancel()` take an optional `authorize(state, user)`
callback (sync or async) that is called under the run's lock with the current state; the Slack
layer passes its role check there. Without it, anyone may confirm.

Processes sharing the database drive a run one at a time: the drive loop holds the run's lease
(leases.py); another engine resumes the run only once the lease is free or stale.

Cancel takes effect at a step boundary; an action in flight is never interrupted (half a deploy is
worse than a finished one). Cancel is refused while rolling back, for the same reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from jinja2 import TemplateError

from bot.db import Database
from bot.messages import TemplateRenderer
from bot.runbook import leases, service
from bot.runbook.actions import STEP_WORDS, ActionCatalog
from bot.runbook.errors import (
    ConfirmDeniedError,
    RunbookInputError,
    RunNotFoundError,
    RunStateError,
)
from bot.runbook.execution import (
    call_action,
    failure_text,
    result_text,
    step_text,
    template_context,
)
from bot.runbook.guards import (
    Authorize,
    call_authorize,
    check_cancellable,
    check_confirmable,
    finish_cancelled,
    runbook_mismatch,
)
from bot.runbook.models import RunbookRun
from bot.runbook.params import coerce_params
from bot.runbook.reporter import NullReporter, ProgressReporter
from bot.runbook.schema import (
    OnFailure,
    Runbook,
    RunState,
    RunStatus,
    Step,
    StepPhase,
    StepStatus,
)
from bot.runbook.templating import evaluate, render_value

log = logging.getLogger(__name__)


class RunbookEngine:
    """Starts, drives, confirms, cancels and resumes runbook runs."""

    def __init__(
        self,
        db: Database,
        runbooks: Mapping[str, Runbook],
        actions: ActionCatalog,
        reporter: ProgressReporter | None = None,
        *,
        renderer: TemplateRenderer | None = None,
        reporter_timeout: float = 15.0,
        heartbeat: float = 10.0,
    ) -> None:
        self._db = db
        self._runbooks = dict(runbooks)
        self._actions = actions
        self._reporter: ProgressReporter = reporter or NullReporter()
        # Steps' lines are rendered when they end and stored as text, so a finished run reads
        # the same after the templates change and needs no renderer to show.
        self._renderer = renderer or TemplateRenderer()
        self._reporter_timeout = reporter_timeout
        self._tasks: dict[int, asyncio.Task[None]] = {}
        # Serialises confirm/cancel per run (their authorize callback may await).
        self._locks: dict[int, asyncio.Lock] = {}
        # Serialises reporter calls per run so the last chat.update shows the last state.
        self._report_locks: dict[int, asyncio.Lock] = {}
        self._leases = leases.DriverLeases(db, heartbeat=heartbeat, driven=self._driven)

    @property
    def driver(self) -> str:
        """This engine's driver id, as stored on the runs it drives."""
        return self._leases.driver

    @property
    def stale_after(self) -> float:
        """Seconds without a heartbeat after which another engine may take a run over."""
        return self._leases.stale_after.total_seconds()

    @property
    def runbooks(self) -> Mapping[str, Runbook]:
        return self._runbooks

    # --- Public API -------------------------------------------------------------------------

    async def start(
        self,
        runbook_id: str,
        params: Mapping[str, Any],
        *,
        actor: str,
        channel: str | None = None,
        thread_ts: str | None = None,
        incident_id: int | None = None,
    ) -> RunState:
        """Validate params, persist a new run and drive it in the background; returns at once."""
        runbook = self._runbooks.get(runbook_id)
        if runbook is None:
            known = ", ".join(sorted(self._runbooks)) or "none"
            raise RunbookInputError(f"unknown runbook `{runbook_id}` (available: {known})")
        values = coerce_params(runbook, params)
        with self._db.session() as session:
            run = service.create_run(
                session=session,
                runbook=runbook,
                params=values,
                actor=actor,
                channel=channel,
                thread_ts=thread_ts,
                incident_id=incident_id,
            )
            state = service.to_state(run)
        log.info("runbook run %s started: %s by %s", state.id, runbook_id, actor)
        self._spawn(state.id)
        return state

    def get(self, run_id: int) -> RunState:
        """The current state of a run (RunNotFoundError if none)."""
        with self._db.session() as session:
            run = service.get_run(session=session, run_id=run_id)
            if run is None:
                raise RunNotFoundError("no_such_run", run=run_id)
            return service.to_state(run)

    async def confirm(
        self, run_id: int, step_id: str, user: str, *, authorize: Authorize | None = None
    ) -> RunState:
        """Confirm the waiting step `step_id` as `user`; the run continues in the background.

        Database writes only, no network: when this returns, the confirmation is committed, so
        a caller may await it before acknowledging the click, and a crash right after cannot
        lose it (`resume_incomplete()` continues a confirmed run nobody drives).
        """
        async with self._lock(run_id):
            state = self.get(run_id)
            check_confirmable(state, step_id)
            if authorize is not None and not await call_authorize(authorize, state, user):
                raise ConfirmDeniedError("not_allowed", user=user, action="confirm")
            with self._db.session() as session:
                run = self._load(session, run_id)
                # Re-checked inside the transaction: the authorize callback may have awaited.
                check_confirmable(service.to_state(run), step_id)
                index = next(s.index for s in run.steps if s.step_id == step_id)
                confirmed = service.confirm_step(session=session, run=run, index=index, user=user)
            if not confirmed:
                # Another process confirmed (or cancelled) it since we read it: say which.
                check_confirmable(self.get(run_id), step_id)
                raise RunStateError("no_longer_waiting", run=run_id)
            log.info("runbook run %s: %s confirmed by %s", run_id, step_id, user)
            self._spawn(run_id)
        return self.get(run_id)

    async def cancel(
        self, run_id: int, user: str, *, authorize: Authorize | None = None
    ) -> RunState:
        """Cancel a run: at once if it is idle, else at the end of the step in flight."""
        async with self._lock(run_id):
            state = self.get(run_id)
            check_cancellable(state)
            if authorize is not None and not await call_authorize(authorize, state, user):
                raise ConfirmDeniedError("not_allowed", user=user, action="cancel")
            with self._db.session() as session:
                run = self._load(session, run_id)
                check_cancellable(service.to_state(run))
                service.request_cancel(session=session, run=run, user=user)
                if not self._busy(run_id):
                    finish_cancelled(session, run)
            log.info("runbook run %s: cancel requested by %s", run_id, user)
        # Also while a step is in flight: the checklist shows who asked to cancel right away.
        await self._report(run_id)
        return self.get(run_id)

    async def resume_incomplete(self) -> list[int]:
        """Resume runs left running by a stopped engine (re-running their current step).

        Skips runs a live engine drives (this one, or another process holding a fresh lease).
        """
        resumed: list[int] = []
        with self._db.session() as session:
            for run in service.incomplete_runs(session=session):
                if self._busy(run.id) or run.status == RunStatus.WAITING_CONFIRMATION.value:
                    continue
                if not self._leases.claim(run.id, session):
                    continue  # its driver is alive; marking its step pending would be wrong
                for step in run.steps:
                    if step.status == StepStatus.RUNNING.value:
                        # The action may or may not have completed; actions are idempotent.
                        service.mark_step_pending(session=session, run=run, index=step.index)
                resumed.append(run.id)
        for run_id in resumed:
            log.info("runbook run %s: resuming (its driver stopped)", run_id)
            self._spawn(run_id)
        return resumed

    async def wait(self, run_id: int, timeout: float | None = None) -> RunState:
        """Wait until the run is idle (finished or waiting for a confirmation); for tests and CLI."""
        async with asyncio.timeout(timeout):
            while (task := self._tasks.get(run_id)) is not None and not task.done():
                await asyncio.wait({task})
        return self.get(run_id)

    async def aclose(self) -> None:
        """Stop driving runs (shutdown); interrupted runs stay running in the DB and resume later."""
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()  # each releases its lease on the way out
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._leases.aclose()

    # --- Driving ----------------------------------------------------------------------------

    def _busy(self, run_id: int) -> bool:
        task = self._tasks.get(run_id)
        return task is not None and not task.done()

    def _driven(self) -> list[int]:
        return [run_id for run_id, task in self._tasks.items() if not task.done()]

    def _spawn(self, run_id: int) -> None:
        # At most one driver per run: a running driver picks up whatever changed on its next loop.
        if not self._busy(run_id):
            self._tasks[run_id] = asyncio.create_task(self._drive(run_id), name=f"runbook-{run_id}")

    def _lock(self, run_id: int) -> asyncio.Lock:
        return self._locks.setdefault(run_id, asyncio.Lock())

    def _load(self, session: Any, run_id: int) -> RunbookRun:
        run = service.get_run(session=session, run_id=run_id)
        if run is None:
            raise RunNotFoundError("no_such_run", run=run_id)
        return run

    async def _drive(self, run_id: int) -> None:
        try:
            if not self._leases.claim(run_id):
                log.info("runbook run %s: driven by another engine; leaving it", run_id)
                return
            # Re-claiming before each step renews the lease, and stops this loop if it went stale
            # (the loop or the database stalled) and another engine took the run over.
            while await self._advance(run_id):
                if not self._leases.claim(run_id):
                    log.warning("runbook run %s: lease lost to another engine", run_id)
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug here must not leave the run "running" forever with nobody told.
            log.exception("runbook run %s: engine error", run_id)
            try:
                with self._db.session() as session:
                    run = self._load(session, run_id)
                    service.skip_pending(session=session, run=run)
                    service.set_run_status(
                        session=session,
                        run=run,
                        status=RunStatus.FAILED,
                        error=self._words("engine_error"),
                    )
            except Exception:
                # The database itself is gone; resume_incomplete() picks the run up later.
                log.exception("runbook run %s: could not record the engine error", run_id)
                return
            await self._report(run_id)
        finally:
            self._leases.release(run_id)  # a no-op if another engine holds it

    async def _advance(self, run_id: int) -> bool:
        """Do one transition; False when the driver should exit (finished or waiting)."""
        # Everything up to the first await is synchronous, so the decision to exit cannot race
        # with confirm()/cancel(): they see either a live task or a finished one.
        ready: tuple[Step, dict[str, Any], str | None, RunState] | None = None
        with self._db.session() as session:
            run = service.get_run(session=session, run_id=run_id)
            if run is None or RunStatus(run.status).finished:
                return False
            status = RunStatus(run.status)
            runbook = self._runbooks.get(run.runbook_id)
            problem = runbook_mismatch(run, runbook)
            if problem is not None or runbook is None:
                service.skip_pending(session=session, run=run)
                service.set_run_status(
                    session=session,
                    run=run,
                    status=RunStatus.FAILED,
                    error=self._words(problem or "runbook_gone", runbook_id=run.runbook_id),
                )
            elif run.cancelled_by and status is not RunStatus.ROLLING_BACK:
                finish_cancelled(session, run)
            elif status is RunStatus.WAITING_CONFIRMATION:
                return False
            elif status is RunStatus.ROLLING_BACK and run.current_step >= len(run.steps):
                failed = any(
                    s.status == StepStatus.FAILED.value and s.phase == StepPhase.ROLLBACK.value
                    for s in run.steps
                )
                final = RunStatus.ROLLBACK_FAILED if failed else RunStatus.ROLLED_BACK
                service.set_run_status(session=session, run=run, status=final)
            elif status is not RunStatus.ROLLING_BACK and run.current_step >= len(runbook.steps):
                service.skip_pending(session=session, run=run)  # the unused rollback steps
                service.set_run_status(session=session, run=run, status=RunStatus.SUCCEEDED)
            else:
                if status is RunStatus.PENDING:
                    service.set_run_status(session=session, run=run, status=RunStatus.RUNNING)
                step = runbook.all_steps()[run.current_step]
                prepared = self._prepare_step(session, run, step)
                if prepared is not None:
                    ready = (step, *prepared)
        # The session above committed "running" before the action is called: that is what lets
        # resume_incomplete() find the step after a crash.
        await self._report(run_id)
        if ready is not None:
            await self._execute(run_id, *ready)
            await self._report(run_id)
        return True

    def _prepare_step(
        self, session: Any, run: RunbookRun, step: Step
    ) -> tuple[dict[str, Any], str | None, RunState] | None:
        """Handle `when` and confirmation; mark the step running and return what to run it with."""
        index = run.current_step
        row = run.steps[index]
        context = template_context(run)
        if row.status not in (StepStatus.PENDING.value, StepStatus.RUNNING.value):
            service.advance(session=session, run=run, to_index=index + 1)  # already done
            return None
        try:
            if step.when is not None and not evaluate(step.when, context):
                service.mark_step_finished_as(
                    session=session,
                    run=run,
                    index=index,
                    status=StepStatus.SKIPPED,
                    summary=self._words("skipped"),
                )
                service.advance(session=session, run=run, to_index=index + 1)
                return None
            if step.confirm and row.confirmed_by is None:
                prompt = (
                    render_value(step.confirm_prompt, context)
                    if step.confirm_prompt
                    else self._words("confirm_prompt", title=step.title)
                )
                service.mark_step_waiting(session=session, run=run, index=index, prompt=str(prompt))
                service.set_run_status(
                    session=session, run=run, status=RunStatus.WAITING_CONFIRMATION
                )
                return None
        except TemplateError as exc:
            service.mark_step_running(session=session, run=run, index=index)
            self._apply_failure(session, run, step, self._words("bad_condition", problem=str(exc)))
            return None
        service.mark_step_running(session=session, run=run, index=index)
        return context, row.confirmed_by, service.to_state(run)

    async def _execute(
        self,
        run_id: int,
        step: Step,
        context: dict[str, Any],
        confirmed_by: str | None,
        state: RunState,
    ) -> None:
        result, failure = await call_action(self._actions, step, state, context, confirmed_by)
        # Rendered before the transaction: a template is quick, but the session is not held
        # over anything that could be slow.
        if failure is None and result is not None:
            summary = result_text(self._renderer, result)
        else:
            error = failure_text(self._renderer, failure) if failure else ""
            error = error or self._words("reported_failure")
        with self._db.session() as session:
            run = self._load(session, run_id)
            index = run.current_step
            if failure is None and result is not None:
                service.mark_step_succeeded(
                    session=session,
                    run=run,
                    index=index,
                    summary=summary,
                    outputs=result.outputs,
                )
                service.advance(session=session, run=run, to_index=index + 1)
            else:
                log.info("runbook run %s: step %s failed: %s", run_id, step.id, error)
                self._apply_failure(session, run, step, error)

    def _words(self, kind: str, **facts: Any) -> str:
        """One of the engine's own lines about a step, from `templates/runbook_step.j2`."""
        return step_text(self._renderer, STEP_WORDS, {"kind": kind, **facts})

    def _apply_failure(self, session: Any, run: RunbookRun, step: Step, error: str) -> None:
        """Record the failure of the current step and apply its on_failure policy."""
        index = run.current_step
        service.mark_step_failed(session=session, run=run, index=index, error=error)
        message = self._words("step_failed", title=step.title, error=error)
        rolling_back = run.status == RunStatus.ROLLING_BACK.value
        if step.on_failure is OnFailure.CONTINUE:
            service.advance(session=session, run=run, to_index=index + 1)
        elif step.on_failure is OnFailure.ROLLBACK and not rolling_back:
            runbook = self._runbooks[run.runbook_id]
            service.skip_pending(session=session, run=run, phase=StepPhase.MAIN)
            service.set_run_status(
                session=session, run=run, status=RunStatus.ROLLING_BACK, error=message
            )
            service.advance(session=session, run=run, to_index=len(runbook.steps))
        else:
            service.skip_pending(session=session, run=run)
            final = RunStatus.ROLLBACK_FAILED if rolling_back else RunStatus.FAILED
            service.set_run_status(session=session, run=run, status=final, error=message)

    async def _report(self, run_id: int) -> None:
        """Send the latest state to the reporter; failures are logged and never break the run."""
        async with self._report_locks.setdefault(run_id, asyncio.Lock()):
            state = self.get(run_id)
            try:
                async with asyncio.timeout(self._reporter_timeout):
                    ts = await self._reporter.update(state)
            except Exception:
                log.warning("runbook run %s: progress reporter failed", run_id, exc_info=True)
                return
            if isinstance(ts, str) and ts and ts != state.message_ts:
                with self._db.session() as session:
                    run = self._load(session, run_id)
                    service.set_message_ts(session=session, run=run, message_ts=ts)
