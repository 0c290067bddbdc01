"""GameDays: list the scenarios, start a drill (or refuse it), abort it, resume it after a
restart. The composition root builds one and hands it to the Slack handlers and the CLI."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.gameday import service
from bot.gameday.context import BotControl, DrillContext, GamedayDeps
from bot.gameday.kinds import GamedayKinds
from bot.gameday.models import DrillOutcome
from bot.gameday.ports import DrillReporter, Pacer, Responder
from bot.gameday.runner import DrillRunner
from bot.gameday.scenario import Scenario
from bot.messages import TemplateRenderer

log = logging.getLogger(__name__)

MAX_SPEED = 3600.0


class DrillRefused(Exception):
    """A drill that may not start; `kind` and the facts render `gameday_refused.j2`."""

    def __init__(self, kind: str, **facts: Any) -> None:
        super().__init__(kind)
        self.kind, self.facts = kind, facts


@dataclass(frozen=True)
class ScenarioListing:
    id: str
    title: str
    runbook: str
    unattended: bool
    fault: str
    waiting: str | None  # the runbook it waits for


class _Recorded:
    """The reporter, plus the report's Markdown file and its line on each drill incident's
    timeline (which the postmortem draft quotes)."""

    def __init__(self, days: GameDays) -> None:
        self.days = days

    async def started(self, *, ctx: DrillContext, scenario: Scenario) -> tuple[str, str] | None:
        return await self.days.reporter.started(ctx=ctx, scenario=scenario)

    async def event(self, *, ctx: DrillContext, kind: str, facts: dict[str, Any]) -> None:
        await self.days.reporter.event(ctx=ctx, kind=kind, facts=facts)

    async def finished(self, *, ctx: DrillContext, report: dict[str, Any]) -> None:
        days = self.days
        path = days.reports_dir / f"drill-{ctx.run_id}-{ctx.scenario}.md"
        text = days.renderer.render_document("gameday_report.md.j2", report=report)

        def store() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

        await asyncio.to_thread(store)
        report["file"] = str(path)
        line = days.renderer.render("gameday_event", ctx=ctx, kind="report", facts=report).text
        for incident_id in report.get("incidents", []):
            await days.deps.incidents.record(
                incident_id=incident_id,
                kind="drill_report",
                actor=ctx.owner,
                text=line,
                data={k: report[k] for k in ("run_id", "scenario", "outcome", "file")},
            )
            # The draft was written when the clean-up resolved it: again, with the report.
            await days.deps.incidents.postmortem(incident_id=incident_id)
        await days.reporter.finished(ctx=ctx, report=report)


class GameDays:
    def __init__(
        self,
        *,
        deps: GamedayDeps,
        kinds: GamedayKinds,
        scenarios: dict[str, Scenario],
        reporter: DrillReporter,
        pacer: Pacer,
        renderer: TemplateRenderer,
        enabled: bool,
        reports_dir: Path,
        scripted: Callable[[], Responder] | None = None,
        control: BotControl | None = None,
    ) -> None:
        self.deps, self.kinds, self.scenarios = deps, kinds, scenarios
        self.reporter, self.pacer, self.renderer = reporter, pacer, renderer
        self.enabled, self.reports_dir = enabled, reports_dir
        # The scripted responder, where the host can click (the local workspace, tests).
        self.scripted = scripted
        self.driver = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # The host that can restart this bot (drills whose fault is a restart need it).
        self.control = control
        self._tasks: dict[int, asyncio.Task[DrillOutcome]] = {}
        self._aborts: dict[int, asyncio.Event] = {}

    def listing(self) -> list[ScenarioListing]:
        """Every scenario, with why it cannot run yet when it waits for its runbook."""
        return [
            ScenarioListing(
                s.id, s.title, s.runbook, s.unattended, s.fault.kind, s.waiting_for(self.kinds)
            )
            for s in sorted(self.scenarios.values(), key=lambda s: s.id)
        ]

    async def _db(self, fn: Any, **kwargs: Any) -> Any:
        def call() -> Any:
            with self.deps.db.engine.begin() as conn:
                return fn(conn, **kwargs)

        return await asyncio.to_thread(call)

    async def start(
        self,
        *,
        scenario_id: str,
        owner: str,
        speed: float = 1.0,
        force: bool = False,
        responder: Responder | None = None,
    ) -> int:
        """Check, store and start a drill in the background; its run id. DrillRefused if not."""
        if not self.enabled:
            raise DrillRefused("disabled")
        scenario = self.scenarios.get(scenario_id)
        if scenario is None:
            raise DrillRefused("unknown", wanted=scenario_id, known=sorted(self.scenarios))
        if (waiting := scenario.waiting_for(self.kinds)) is not None:
            raise DrillRefused(
                "waiting", scenario=scenario.id, fault=scenario.fault.kind, runbook=waiting
            )
        if not 0 < speed <= MAX_SPEED:
            raise DrillRefused("speed", speed=speed, most=MAX_SPEED)
        if not force and (open_ := await self._db(service.open_real_incidents)):
            raise DrillRefused("incident_open", incidents=open_)
        now = datetime.now(UTC)
        run_id = await self._db(
            service.create, scenario=scenario.id, owner=owner, speed=speed, forced=force, now=now
        )
        if run_id is None:
            current = await self._db(service.active)
            raise DrillRefused(
                "busy",
                run_id=current.id if current else None,
                scenario=current.scenario if current else "",
            )
        ctx = DrillContext(
            deps=self.deps, run_id=run_id, scenario=scenario.id, owner=owner, speed=speed,
            started=now.timestamp(), control=self.control,
        )  # fmt: skip
        try:
            where = await _Recorded(self).started(ctx=ctx, scenario=scenario)
        except Exception:
            log.warning("drill %s: could not post its thread", run_id, exc_info=True)
            where = None
        if where is not None:
            ctx.channel, ctx.thread_ts = where
            await self._db(service.save, run_id=run_id, channel=where[0], thread_ts=where[1])
        state = {"phase": "start", "driver": self.driver, "started": ctx.started}
        self._spawn(scenario, ctx, state, responder)
        return run_id

    def _spawn(
        self,
        scenario: Scenario,
        ctx: DrillContext,
        state: dict[str, Any],
        responder: Responder | None,
    ) -> None:
        abort = self._aborts.setdefault(ctx.run_id, asyncio.Event())
        runner = DrillRunner(self.kinds, scenario, ctx, _Recorded(self), responder, state, abort)

        async def drive() -> DrillOutcome:
            self.pacer.compress(ctx.speed)
            outcome = await runner.drive()  # cancelled: the bot stops and the drill pauses,
            self.pacer.restore()  # at its pace (the update jobs it started are stored with it)
            self._aborts.pop(ctx.run_id, None)
            return outcome

        task = asyncio.create_task(drive(), name=f"gameday-{ctx.run_id}")
        self._tasks[ctx.run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(ctx.run_id, None))

    async def wait(self, run_id: int, timeout: float | None = None) -> dict[str, Any] | None:
        """Until the drill finished (here or in another process); its report."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            task = self._tasks.get(run_id)
            if task is not None:
                await asyncio.wait({task}, timeout=0.5)
            row = await self._db(service.get, run_id=run_id)
            if row is not None and row.report is not None:
                return row.report
            if deadline is not None and time.monotonic() > deadline:
                return None
            if task is None:
                await asyncio.sleep(0.1)

    async def abort(self, *, user: str, run_id: int | None = None) -> int | None:
        """The owner stops the drill (its clean-up runs); the run id, or None if none runs."""
        row = await self._db(service.active)
        if row is None or (run_id is not None and row.id != run_id):
            return None
        await self._db(service.save, run_id=row.id, state={**row.state, "abort_requested_by": user})
        event = self._aborts.get(row.id)
        if event is not None:
            event.set()
        return row.id

    async def prepare(self) -> None:
        """At start-up, before anything reads the update clock: a drill left running keeps
        its compressed pace (its stored update jobs were scheduled with it)."""
        row = await self._db(service.active)
        if row is not None:
            self.pacer.compress(row.speed)

    async def recover(self) -> list[int]:
        """At start-up: resume the drill a stopped bot left running, or clean it up."""
        row = await self._db(service.active)
        if row is None or row.id in self._tasks:
            return []
        scenario = self.scenarios.get(row.scenario)
        state = dict(row.state)
        state["driver"] = self.driver
        ctx = DrillContext(
            deps=self.deps, run_id=row.id, scenario=row.scenario, owner=row.owner,
            speed=row.speed, channel=row.channel, thread_ts=row.thread_ts,
            vars=dict(state.get("vars", {})), started=float(state.get("started") or time.time()),
            fault_at=state.get("fault_at"), control=self.control,
        )  # fmt: skip
        if scenario is None:  # its file is gone: nothing to run the clean-up with
            await self._db(
                service.finish, run_id=row.id, outcome=DrillOutcome.INTERRUPTED,
                report={"scenario": row.scenario, "outcome": "interrupted"}, now=datetime.now(UTC),
            )  # fmt: skip
            return [row.id]
        if state.get("abort_requested_by"):
            self._aborts.setdefault(row.id, asyncio.Event()).set()
        if state.get("phase") in (None, "start", "injecting"):
            # Stopped before the fault was in place: nothing to resume, only to clean up.
            state["phase"] = "cleaning"
        log.info("resuming game day drill %s (%s) at %s", row.id, row.scenario, state["phase"])
        # An unattended drill resumes with the scripted responder, where there is one.
        responder = self.scripted() if self.scripted and scenario.unattended else None
        self._spawn(scenario, ctx, state, responder)
        return [row.id]

    async def aclose(self) -> None:
        """The bot stops: drills stop where they are and resume at the next start."""
        for task in list(self._tasks.values()):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=5.0)
        await self.deps.http.aclose()
