"""One drill, phase by phase: steady state, fault, detection, mitigation, clean-up, report.

Every phase change is stored (gameday_runs.state) before it takes effect, so a bot stopped
mid-drill resumes where it was (the fault stays in place and the clock keeps its start) or,
when nothing can be resumed, cleans up. The clean-up runs in a `finally` and again on resume
until it is recorded as done: it is never skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.gameday import service
from bot.gameday.context import DrillContext
from bot.gameday.kinds import GamedayKinds, ProbeResult
from bot.gameday.models import DrillOutcome, DrillStatus
from bot.gameday.ports import DrillReporter, Responder
from bot.gameday.report import build_report
from bot.gameday.scenario import KindCall, Scenario

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05


class DrillStopped(Exception):
    """The drill ends early: aborted by its owner or its abort condition, or timed out.

    `reason` is a kind the report words; `probes` are the probes that did not hold (`probe_facts`),
    `detail` a technical line for logs and the command line.
    """

    def __init__(
        self,
        outcome: DrillOutcome,
        reason: str,
        detail: str = "",
        probes: list[list[Any]] | None = None,
    ) -> None:
        super().__init__(reason)
        self.outcome, self.reason, self.detail = outcome, reason, detail
        self.probes = probes or []


def probe_facts(results: list[tuple[str, ProbeResult]]) -> list[list[Any]]:
    """Probe results as stored and shown: `[probe kind, ok, ProbeResult.as_facts()]`; JSON."""
    return [[kind, result.ok, result.as_facts()] for kind, result in results]


@dataclass
class DrillRunner:
    kinds: GamedayKinds
    scenario: Scenario
    ctx: DrillContext
    reporter: DrillReporter
    responder: Responder | None
    state: dict[str, Any]
    abort: asyncio.Event

    # --- storage -----------------------------------------------------------------------------
    def _save(self, **values: Any) -> None:
        self.state.update(values)
        self.state["vars"] = self.ctx.vars
        with self.ctx.deps.db.engine.begin() as conn:
            service.save(conn, run_id=self.ctx.run_id, state=dict(self.state))

    def _status(self, status: DrillStatus) -> None:
        with self.ctx.deps.db.engine.begin() as conn:
            service.save(conn, run_id=self.ctx.run_id, status=status.value)

    async def _event(self, kind: str, **facts: Any) -> None:
        at = time.time()
        self.state.setdefault("events", []).append({"kind": kind, "at": at, **facts})
        self._save()
        try:
            await self.reporter.event(ctx=self.ctx, kind=kind, facts={"at": at, **facts})
        except Exception:  # the timeline in chat is best effort; the stored one is complete
            log.warning("drill %s: could not post %s", self.ctx.run_id, kind, exc_info=True)

    # --- probes ------------------------------------------------------------------------------
    async def probe(self, calls: list[KindCall]) -> list[tuple[str, ProbeResult]]:
        results = []
        for call in calls:
            spec = self.kinds.probes.get(call.kind)
            assert spec is not None  # the loader checked it
            try:
                result = await spec.make(call.args).check(self.ctx)
            except Exception as exc:  # a probe that breaks says so; the drill goes on
                result = ProbeResult(
                    False, "probe_failed", {"error": type(exc).__name__, "problem": str(exc)}
                )
            results.append((call.kind, result))
        return results

    async def _wait_for(self, calls: list[KindCall], *, deadline: float, what: str) -> float:
        """Poll until every probe holds; the time it did. Stops on abort and at the deadline."""
        while True:
            if self.abort.is_set():
                raise DrillStopped(DrillOutcome.ABORTED, "abort_pressed")
            results = await self.probe(calls)
            if all(r.ok for _, r in results):
                return time.time()
            if self.scenario.abort_when and all(
                r.ok for _, r in await self.probe(self.scenario.abort_when)
            ):
                raise DrillStopped(DrillOutcome.ABORTED, "abort_condition")
            if time.time() > deadline:
                failing = [(k, r) for k, r in results if not r.ok]
                raise DrillStopped(
                    DrillOutcome.FAILED,
                    f"not_{what}",
                    "; ".join(str(r) for _, r in failing),
                    probe_facts(failing),
                )
            await asyncio.sleep(POLL_SECONDS)

    # --- the phases --------------------------------------------------------------------------
    async def drive(self) -> DrillOutcome:
        """Run (or resume) the drill to its end, clean-up and report included."""
        outcome, reason, detail, probes = DrillOutcome.PASSED, "", "", []
        phase = self.state.get("phase")
        if phase == "cleaning":  # resumed after a restart: finish the clean-up it began
            stored = self.state.get("outcome") or DrillOutcome.INTERRUPTED.value
            reason = self.state.get("reason") or "stopped_before_fault"
            await self.clean_up(
                DrillOutcome(stored),
                reason,
                self.state.get("reason_detail", ""),
                self.state.get("reason_probes", []),
            )
            return DrillOutcome(stored)
        try:
            if phase == "mitigated":
                pass
            elif phase in (None, "start"):
                await self._steady_state_and_inject()
                await self._detect_and_mitigate()
            else:
                await self._detect_and_mitigate()
        except DrillStopped as stop:
            outcome, reason, detail, probes = stop.outcome, stop.reason, stop.detail, stop.probes
        except asyncio.CancelledError:
            # The bot stops: the stored phase lets the next start resume this drill.
            raise
        except Exception as exc:
            log.exception("drill %s failed", self.ctx.run_id)
            outcome, reason, detail = DrillOutcome.FAILED, "error", f"{type(exc).__name__}: {exc}"
        await self.clean_up(outcome, reason, detail, probes)
        return outcome

    async def _steady_state_and_inject(self) -> None:
        ctx = self.ctx
        await self._event("started", hypothesis=self.scenario.hypothesis)
        before = await self.probe(self.scenario.steady_state)
        await self._event("steady_state_before", probes=probe_facts(before))
        if not all(r.ok for _, r in before):
            failing = [(k, r) for k, r in before if not r.ok]
            raise DrillStopped(
                DrillOutcome.FAILED,
                "steady_state_before",
                "; ".join(str(r) for _, r in failing),
                probe_facts(failing),
            )
        production = await asyncio.to_thread(ctx.deps.models.production_version)
        versions = await asyncio.to_thread(ctx.deps.models.list_versions)
        ctx.vars["production_before"] = production
        ctx.vars["latest_version_before"] = max((v.version for v in versions), default=0)
        self._save(phase="injecting")
        spec = self.kinds.faults.get(self.scenario.fault.kind)
        assert spec is not None
        ctx.fault_at = time.time()
        fault_state = await spec.make(self.scenario.fault.args).inject(ctx)
        self._save(phase="injected", fault=fault_state, fault_at=ctx.fault_at)
        await self._event("fault_injected", fault=self.scenario.fault.kind)

    async def _detect_and_mitigate(self) -> None:
        ctx, scenario = self.ctx, self.scenario
        ctx.fault_at = float(self.state["fault_at"])
        deadline = ctx.fault_at + ctx.seconds(scenario.abort_after_seconds)
        responder = None
        if self.responder is not None and scenario.respond and not self.state.get("responded"):
            responder = asyncio.create_task(self._respond())
        try:
            if self.state.get("phase") == "injected":
                at = await self._wait_for(scenario.detect, deadline=deadline, what="detected")
                self._save(phase="detected", detected_at=at)
                await self._event("detected", seconds=at - ctx.fault_at)
            if scenario.revert_when == "detected" and not self.state.get("reverted"):
                await self._revert()
            mitigate_deadline = ctx.fault_at + ctx.seconds(scenario.mitigate_within_seconds)
            checks = [*scenario.mitigate, *scenario.steady_state]
            at = await self._wait_for(
                checks, deadline=min(deadline, mitigate_deadline), what="mitigated"
            )
            self._save(phase="mitigated", mitigated_at=at)
            await self._event("mitigated", seconds=at - ctx.fault_at)
        finally:
            if responder is not None and not responder.done():
                responder.cancel()

    async def _respond(self) -> None:
        assert self.responder is not None
        try:
            actions = await self.responder.respond(ctx=self.ctx, steps=self.scenario.respond)
        except Exception:
            log.warning("drill %s: the scripted responder failed", self.ctx.run_id, exc_info=True)
            return
        self._save(responded=True, responder_actions=actions)

    async def _revert(self) -> bool:
        """Undo the fault with what its injection stored; False when nothing was injected."""
        spec = self.kinds.faults.get(self.scenario.fault.kind)
        if spec is None or "fault" not in self.state:
            return False
        await spec.make(self.scenario.fault.args).revert(self.ctx, dict(self.state["fault"]))
        self._save(reverted=True)
        await self._event("fault_reverted")
        return True

    async def clean_up(
        self,
        outcome: DrillOutcome,
        reason: str,
        detail: str = "",
        probes: list[list[Any]] | None = None,
    ) -> None:
        """Revert the fault, run the scenario's clean-ups, check the steady state, report."""
        ctx = self.ctx
        probes = list(probes or [])
        self._status(DrillStatus.CLEANING)
        self._save(
            phase="cleaning",
            outcome=outcome.value,
            reason=reason,
            reason_detail=detail,
            reason_probes=probes,
        )
        done: list[str] = []
        if not self.state.get("reverted"):
            try:
                if await self._revert():
                    done.append("revert_fault: ok")
            except Exception as exc:
                log.exception("drill %s: reverting the fault failed", ctx.run_id)
                done.append(f"revert_fault: failed: {exc}")
        for call in self.scenario.cleanup:
            cleanup = self.kinds.cleanups.get(call.kind)
            assert cleanup is not None
            try:
                done.append(await cleanup.make(call.args).run(ctx))
            except Exception as exc:
                log.exception("drill %s: clean-up %s failed", ctx.run_id, call.kind)
                done.append(f"{call.kind}: failed: {exc}")
        # Updates the clean-up set off (a resolution) land before anything is counted as lost.
        await ctx.deps.updates.idle(timeout=10.0)
        subscribers = list(ctx.vars.get("subscribers", []))
        if self.responder is not None and subscribers:
            try:
                self._save(
                    duplicated=await self.responder.duplicates(ctx=ctx, subscribers=subscribers)
                )
            except Exception:
                log.warning("drill %s: could not count duplicates", ctx.run_id, exc_info=True)
        after = await self.probe(self.scenario.steady_state)
        await self._event("cleaned_up", steps=done, probes=probe_facts(after))
        now = datetime.now(UTC)
        report = await asyncio.to_thread(
            build_report,
            ctx=ctx,
            scenario=self.scenario,
            state=self.state,
            outcome=outcome,
            reason=reason,
            detail=detail,
            probes=probes,
            steady_after=all(r.ok for _, r in after),
            now=now,
        )
        try:  # the Markdown file, the incidents' timelines, the thread
            await self.reporter.finished(ctx=ctx, report=report)
        except Exception:
            log.warning("drill %s: could not post the report", ctx.run_id, exc_info=True)
        with ctx.deps.db.engine.begin() as conn:
            service.finish(conn, run_id=ctx.run_id, outcome=outcome, report=report, now=now)
