"""The access buttons and modals: Approve / Deny (a reason, in a modal) on a request card,
Request access from `/iris access check`, and Extend on an expiry reminder."""

from __future__ import annotations

import json
from typing import Any

from bot.access.policy import format_duration
from bot.access.requests import AccessRefused
from bot.access.roles import Role
from bot.messages import Rendered
from bot.slack.handlers.access import answer, flows, refused
from bot.slack.interactions import Button, Interaction, Modal, Submission

REASON_BLOCK, REASON_INPUT = "reason", "text"
DURATION_BLOCK, DURATION_INPUT = "duration", "text"


def _int(value: Any) -> int:
    try:
        return int(str(value).split()[0])
    except (ValueError, IndexError):
        raise refused(AccessRefused("unknown_grant", ref=str(value))) from None


async def _open(
    click: Interaction, template: str, callback: str, meta: dict[str, Any], **facts: Any
) -> None:
    rendered = click.services.renderer.render(template, slash=click.slash, **facts)
    title, submit, close = (rendered.text.splitlines() + ["", "", ""])[:3]
    view = {
        "type": "modal",
        "callback_id": callback,
        "title": {"type": "plain_text", "text": title[:24]},
        "submit": {"type": "plain_text", "text": submit[:24]},
        "close": {"type": "plain_text", "text": close[:24]},
        "blocks": rendered.blocks,
        "private_metadata": json.dumps({**meta, "channel": click.channel_id}),
    }
    # The trigger id lives 3 s from the click; nothing slow happens before this call.
    await click.reply.client.views_open(trigger_id=click.trigger_id, view=view)


async def on_approve(click: Interaction) -> Rendered:
    try:
        grant = await flows(click.services).approve(
            grant_id=_int(click.value), approver=click.user_id
        )
    except AccessRefused as exc:
        raise refused(exc) from None
    return answer(click.services, click.slash, "approved", grant=grant)


async def on_deny(click: Interaction) -> Rendered | None:
    try:
        grant = await flows(click.services).may_decide(
            grant_id=_int(click.value), approver=click.user_id
        )
    except AccessRefused as exc:
        raise refused(exc) from None
    await _open(click, "access_deny_modal", "access.deny.reason", {"grant": grant.id}, grant=grant)
    return None


def _needs_text(block: str, action: str) -> Any:
    def check(submission: Submission) -> dict[str, str] | None:
        if submission.text(block, action):
            return None
        message = answer(submission.services, submission.slash, "reason_missing")
        return {block: message.text}

    return check


async def on_deny_submitted(submission: Submission) -> Rendered:
    try:
        grant = await flows(submission.services).deny(
            grant_id=_int(submission.metadata.get("grant")),
            approver=submission.user_id,
            reason=submission.text(REASON_BLOCK, REASON_INPUT),
        )
    except AccessRefused as exc:
        raise refused(exc) from None
    return answer(submission.services, submission.slash, "denied", grant=grant)


async def on_request_button(click: Interaction) -> None:
    resource, _, level = click.value.partition(" ")
    policy = flows(click.services).policy
    known = policy.resource(resource)
    cap = known.levels.get(level) if known else None
    cap_text = format_duration(cap) if cap else None
    await _open(
        click,
        "access_request_modal",
        "access.request.form",
        {"resource": resource, "level": level},
        resource=resource,
        level=level,
        cap=cap_text,
    )


async def on_request_submitted(submission: Submission) -> Rendered:
    meta = submission.metadata
    words = [str(meta.get("resource") or ""), str(meta.get("level") or "")]
    duration = submission.text(DURATION_BLOCK, DURATION_INPUT)
    if duration:
        words += ["for", duration]
    words += ["because", submission.text(REASON_BLOCK, REASON_INPUT)]
    try:
        grant = await flows(submission.services).request(requester=submission.user_id, words=words)
    except AccessRefused as exc:
        raise refused(exc) from None
    return answer(submission.services, submission.slash, "requested", grant=grant)


async def on_extend(click: Interaction) -> Rendered:
    grant_id, _, text = click.value.partition(" ")
    try:
        grant = await flows(click.services).extend(
            grant_id=_int(grant_id), actor=click.user_id, text=text
        )
    except AccessRefused as exc:
        raise refused(exc) from None
    kind = "extend_requested" if grant.state == "pending" else "extended"
    return answer(click.services, click.slash, kind, grant=grant)


BUTTONS = (
    Button("access.approve", on_approve, role=Role.VIEWER),
    Button("access.deny", on_deny, role=Role.VIEWER),
    # One per missing access on the check's answer (a message's action ids must differ).
    *(Button(f"access.request.{n}", on_request_button, role=Role.VIEWER) for n in range(1, 6)),
    Button("access.extend", on_extend, role=Role.VIEWER),
    Modal(
        "access.deny.reason",
        on_deny_submitted,
        role=Role.VIEWER,
        check=_needs_text(REASON_BLOCK, REASON_INPUT),
    ),
    Modal(
        "access.request.form",
        on_request_submitted,
        role=Role.VIEWER,
        check=_needs_text(REASON_BLOCK, REASON_INPUT),
    ),
)
