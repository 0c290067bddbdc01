"""Running one step: the template context it sees and the call to its action.

Kept apart from the engine's state machine so "what an action sees and how its failures are
turned into one line for the channel" can be read (and tested) on its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from jinja2 import TemplateError

from bot.runbook.actions import ActionContext, ActionFailed, ActionRegistry, ActionResult
from bot.runbook.models import RunbookRun
from bot.runbook.schema import RunState, Step, StepStatus
from bot.runbook.templating import render_value

log = logging.getLogger(__name__)


def template_context(run: RunbookRun) -> dict[str, Any]:
    """Parameters (bare and as `params`), succeeded steps' outputs as `steps`, and `run` facts."""
    # Failed and skipped steps have no outputs here: a template that needs them fails loudly
    # (StrictUndefined) instead of passing an empty value to an action.
    params = dict(run.params or {})
    steps = {
        s.step_id: dict(s.outputs or {})
        for s in run.steps
        if s.status == StepStatus.SUCCEEDED.value
    }
    meta = {
        "id": run.id,
        "runbook_id": run.runbook_id,
        "actor": run.actor,
        "channel": run.channel,
        "incident_id": run.incident_id,
        # Why the run is rolling back, for rollback steps that record it.
        "error": run.error,
    }
    return {**params, "params": params, "steps": steps, "run": meta}


async def call_action(
    actions: ActionRegistry,
    step: Step,
    state: RunState,
    context: dict[str, Any],
    confirmed_by: str | None,
) -> tuple[ActionResult | None, str | None]:
    """Render the args and call the action; (result, None) or (None, message for humans)."""
    try:
        args = render_value(step.args, context)
    except TemplateError as exc:
        return None, f"could not render the arguments: {exc}"
    if step.action not in actions:
        return None, f"unknown action '{step.action}'"
    spec = actions.get(step.action)
    ctx = ActionContext(
        run_id=state.id,
        runbook_id=state.runbook_id,
        step_id=step.id,
        actor=state.actor,
        params=dict(state.params),
        outputs=dict(context["steps"]),
        confirmed_by=confirmed_by,
        channel=state.channel,
        thread_ts=state.thread_ts,
        incident_id=state.incident_id,
    )
    deadline = asyncio.timeout(step.timeout_seconds)
    try:
        async with deadline:
            result = await spec.fn(ctx, **args)
    except ActionFailed as exc:
        return None, exc.message
    except TimeoutError:
        if deadline.expired():
            return None, f"timed out after {step.timeout_seconds:g}s"
        log.exception("runbook run %s: action %s raised", state.id, step.action)
        return None, "unexpected error (TimeoutError); details are in the bot log"
    except Exception as exc:
        log.exception("runbook run %s: action %s raised", state.id, step.action)
        return None, f"unexpected error ({type(exc).__name__}); details are in the bot log"
    if result is None:
        result = ActionResult()
    if not isinstance(result, ActionResult):
        return None, f"action returned {type(result).__name__}, not an ActionResult"
    if not result.ok:
        return None, result.summary or "the action reported a failure"
    try:
        # Outputs are stored as JSON and fed to later templates; make them JSON now.
        outputs = json.loads(json.dumps(dict(result.outputs), default=str))
    except (TypeError, ValueError) as exc:
        return None, f"action outputs are not serialisable: {exc}"
    return ActionResult(ok=True, summary=result.summary, outputs=outputs), None
