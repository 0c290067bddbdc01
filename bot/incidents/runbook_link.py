"""Runbook runs on incident timelines: a progress reporter that wraps the chat one.

The runbook engine reports every state change of a run to one `ProgressReporter`. The composition
root hands it this wrapper around the Slack checklist reporter: the checklist works as before, and
a run that belongs to an incident (started with `incident_id`, or in the incident's thread) adds
a timeline line for each step that succeeds or fails and for the run's end. Deploys, rollbacks
and retrains started elsewhere while incidents are open add their start and end to every open
incident's timeline. The engine itself knows nothing of incidents.
"""

from __future__ import annotations

import logging

from bot.incidents.flows import IncidentFlows
from bot.runbook import RunState
from bot.runbook.reporter import ProgressReporter
from bot.runbook.schema import StepStatus

log = logging.getLogger(__name__)

# Runbooks whose runs matter to every open incident, wherever they were started.
MODEL_CHANGING = frozenset({"deploy", "rollback", "retrain"})
_STEP_DONE = {StepStatus.SUCCEEDED: "succeeded", StepStatus.FAILED: "failed"}


class IncidentRunbookReporter:
    def __init__(self, inner: ProgressReporter, incidents: IncidentFlows) -> None:
        self.inner = inner
        self.incidents = incidents
        # run id → incident ids it reports to, step ids already on the timeline, ended?
        self._targets: dict[int, tuple[list[int], bool]] = {}
        self._steps: dict[int, set[str]] = {}
        self._ended: set[int] = set()

    async def update(self, run: RunState) -> str | None:
        ts = await self.inner.update(run)
        try:
            await self._record(run)
        except Exception:
            log.warning("run %s: incident timeline not updated", run.id, exc_info=True)
        return ts

    async def _record(self, run: RunState) -> None:
        flows = self.incidents
        if run.id in self._ended:
            return
        targets = self._targets.get(run.id)
        if targets is None:
            targets = await self._find(flows, run)
            self._targets[run.id] = targets
            linked = targets[1]
            for incident_id in targets[0]:
                await flows.record(
                    incident_id=incident_id,
                    kind="run_started",
                    actor=run.actor,
                    text=run.runbook_title,
                    data=self._data(run, linked=linked),
                )
        incident_ids, linked = targets
        if not incident_ids:
            return
        if linked:
            seen = self._steps.setdefault(run.id, set())
            for step in run.steps:
                outcome = _STEP_DONE.get(step.status)
                if outcome is None or step.step_id in seen:
                    continue
                seen.add(step.step_id)
                for incident_id in incident_ids:
                    await flows.record(
                        incident_id=incident_id,
                        kind="run_step",
                        text=step.title,
                        data={
                            **self._data(run, linked=True),
                            "step": step.step_id,
                            "outcome": outcome,
                            "detail": (step.error or step.summary or "")[:500],
                        },
                    )
        if run.status.finished:
            self._ended.add(run.id)
            self._steps.pop(run.id, None)
            for incident_id in incident_ids:
                await flows.record(
                    incident_id=incident_id,
                    kind="run_finished",
                    text=run.runbook_title,
                    data={
                        **self._data(run, linked=linked),
                        "status": run.status.value,
                        "error": (run.error or "")[:500],
                    },
                )

    @staticmethod
    def _data(run: RunState, *, linked: bool) -> dict[str, object]:
        return {"run_id": run.id, "runbook": run.runbook_id, "linked": linked}

    async def _find(self, flows: IncidentFlows, run: RunState) -> tuple[list[int], bool]:
        """The incident the run belongs to, else the open incidents if it changes the model."""
        if run.incident_id is not None:
            return [run.incident_id], True
        if run.channel and run.thread_ts:
            incident = await flows.by_thread(channel=run.channel, ts=run.thread_ts)
            if incident is not None:
                return [incident.id], True
        if run.runbook_id in MODEL_CHANGING:
            return await flows.open_ids(), False
        return [], False
