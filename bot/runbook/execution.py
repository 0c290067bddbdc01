"""Running one step: the template context it sees and the call to its action.

Kept apart from the engine's state machine so "what an action sees and how its failures are
turned into one line for the channel" can be read (and tested) on its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from jinja2 import TemplateError

from bot.messages import TemplateRenderer
from bot.runbook.actions import (
    STEP_WORDS,
    ActionCatalog,
    ActionContext,
    ActionFailed,
    ActionResult,
)
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


def _engine_failure(kind: str, **facts: Any) -> ActionFailed:
    return ActionFailed(template=STEP_WORDS, facts={"kind": kind, **facts})


async def call_action(
    actions: ActionCatalog,
    step: Step,
    state: RunState,
    context: dict[str, Any],
    confirmed_by: str | None,
) -> tuple[ActionResult | None, ActionFailed | None]:
    """Render the args and call the action; (result, None) or (None, the failure to show)."""
    try:
        args = render_value(step.args, context)
    except TemplateError as exc:
        return None, _engine_failure("bad_arguments", problem=str(exc))
    if step.action not in actions:
        return None, _engine_failure("unknown_action", action=step.action)
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
        return None, exc
    except TimeoutError:
        if deadline.expired():
            return None, _engine_failure("timed_out", seconds=step.timeout_seconds)
        log.exception("runbook run %s: action %s raised", state.id, step.action)
        return None, _engine_failure("unexpected_error", error="TimeoutError")
    except Exception as exc:
        log.exception("runbook run %s: action %s raised", state.id, step.action)
        return None, _engine_failure("unexpected_error", error=type(exc).__name__)
    if result is None:
        result = ActionResult()
    if not isinstance(result, ActionResult):
        return None, _engine_failure("not_a_result", returned=type(result).__name__)
    if not result.ok:
        if result.template or result.summary:
            return None, ActionFailed(result.summary, template=result.template, facts=result.facts)
        return None, _engine_failure("reported_failure")
    try:
        # Outputs are stored as JSON and fed to later templates; make them JSON now.
        outputs = json.loads(json.dumps(dict(result.outputs), default=str))
    except (TypeError, ValueError) as exc:
        return None, _engine_failure("outputs_not_json", problem=str(exc))
    return replace(result, ok=True, outputs=outputs), None


def step_text(renderer: TemplateRenderer, template: str | None, facts: Mapping[str, Any]) -> str:
    """The one line a step's template and facts make; a broken template is logged, not raised."""
    if template is None:
        return ""
    try:
        return renderer.render(template, **facts).text.strip()
    except Exception:
        # An operator's override may be broken in a way the start-up samples did not reach;
        # the run must still end, so the line falls back to the template's name and kind.
        log.exception("runbook step words %s could not be rendered", template)
        return f"{template}: {facts.get('kind', '')}".rstrip(": ")


def failure_text(renderer: TemplateRenderer, failure: ActionFailed) -> str:
    """The line a failed step shows: its template rendered, or the message it carried."""
    if failure.template is not None:
        return step_text(renderer, failure.template, failure.facts)
    return failure.message


def result_text(renderer: TemplateRenderer, result: ActionResult) -> str:
    """The line a succeeded step shows: its template rendered, or its summary."""
    if result.template is not None:
        return step_text(renderer, result.template, result.facts)
    return result.summary
