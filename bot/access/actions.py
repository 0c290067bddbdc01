"""The access runbook's actions (runbooks/access.md): diagnose what the person who runs it can
reach, file the request, and wait until an approver's decision is in force."""

from __future__ import annotations

import asyncio
from functools import partial

from bot.access.flows import AccessFlows
from bot.access.models import ACTIVE, PENDING
from bot.access.requests import AccessRefused
from bot.runbook.actions import ActionCatalog, ActionContext, ActionFailed, ActionResult

STEP = "access_step"


async def diagnose(flows: AccessFlows, ctx: ActionContext, *, runbook: str = "") -> ActionResult:
    """Probe every resource for the runner; what the runbook named (or any) is missing."""
    report = await flows.check(ctx.actor)
    missing = {k: v for k, v in report.missing.items() if not runbook or k == runbook}
    needs = [f"{n.resource}:{n.level}" for needs in missing.values() for n in needs]
    first = next(iter(needs), "")
    return ActionResult(
        template=STEP,
        facts={"kind": "diagnosed", "missing": needs, "runbook": runbook},
        outputs={
            "missing": needs,
            "resource": first.rpartition(":")[0],
            "level": first.rpartition(":")[2],
        },
    )


async def request(
    flows: AccessFlows,
    ctx: ActionContext,
    *,
    resource: str,
    level: str = "",
    duration: str = "",
    reason: str,
) -> ActionResult:
    """File the request (idempotent: an open request for the same access is reused)."""
    if not resource:
        return ActionResult(template=STEP, facts={"kind": "nothing_missing"}, outputs={"grant": 0})
    words = [resource, *([level] if level else []), *(["for", duration] if duration else [])]
    try:
        grant = await flows.request(requester=ctx.actor, words=[*words, "because", reason])
    except AccessRefused as exc:
        if exc.kind == "already":
            grant = exc.facts["grant"]
        else:
            raise ActionFailed(
                template="access_refused", facts={"kind": exc.kind, **exc.facts}
            ) from None
    return ActionResult(
        template=STEP, facts={"kind": "requested", "grant": grant}, outputs={"grant": grant.id}
    )


async def wait_granted(flows: AccessFlows, ctx: ActionContext, *, grant: int) -> ActionResult:
    """Until the grant is in force (the step's timeout bounds the wait for an approver)."""
    grant_id = int(grant or 0)
    if not grant_id:
        return ActionResult(template=STEP, facts={"kind": "nothing_missing"})
    while True:
        view = await flows.get(grant_id)
        if view.state == ACTIVE:
            return ActionResult(template=STEP, facts={"kind": "granted", "grant": view})
        if view.state not in (PENDING, "approved"):
            raise ActionFailed(template=STEP, facts={"kind": "ended", "grant": view})
        await asyncio.sleep(1.0)


_ACTIONS = (
    ("access.diagnose", diagnose, {"runbook": False}, "Probe what the runner can reach"),
    (
        "access.request",
        request,
        {"resource": True, "level": False, "duration": False, "reason": True},
        "Ask the approvers for time-bound access",
    ),
    ("access.wait_granted", wait_granted, {"grant": True}, "Wait until access is in force"),
)


def register_access_actions(actions: ActionCatalog, flows: AccessFlows) -> None:
    """Register the access actions, each bound to the access flows."""
    for name, fn, params, description in _ACTIONS:
        actions.register(name, partial(fn, flows), params=params, description=description)
