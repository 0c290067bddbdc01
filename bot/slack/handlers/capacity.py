"""`/iris capacity` and `/iris scale <N> | auto [min= max= target=] | manual [--for 2h]`, and the
buttons of the capacity card (Scale to N, Enable autoscaling, Shed load) and of the diff (Confirm).

A change is shown as a diff first; after Confirm the bot applies it, checks that every replica
serves within SCALE_CHECK_SECONDS and reverts when they do not; `--for` returns to the previous
setting afterwards and says so in the thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from bot.access.roles import Role
from bot.audit import service as audit
from bot.capacity.chart import render_chart
from bot.capacity.engine import AutoscalePolicy
from bot.capacity.service import CapacityRefused, ScaleChange
from bot.commands.context import Arg, Command, CommandContext, UserError
from bot.deploy.service import current_lock as lock_row
from bot.messages import Rendered
from bot.services import Services
from bot.slack.interactions import Button, Interaction

log = logging.getLogger(__name__)

Ctx = CommandContext[Services]
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([mh])$")


def _deploy_running(services: Services) -> bool:
    with services.db.session() as session:
        return lock_row(session) is not None


def _card(services: Services, view: Any, *, buttons: bool) -> Rendered:
    settings = services.settings
    return services.renderer.render(
        "capacity_card",
        view=view,
        model_name=settings.model_name,
        buttons=buttons,
        max_replicas=settings.max_replicas,
    )


async def upload_chart(client: Any, view: Any, *, channel: str, thread_ts: str | None) -> None:
    """The latency/replicas PNG in the thread; a chart failure never blocks the text."""
    try:
        png = await asyncio.to_thread(render_chart, view.history, slo_s=view.slo.threshold_s)
        await client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            content=png,
            filename="capacity.png",
            title="capacity-last-hour",
        )
    except Exception:
        log.warning("capacity chart failed", exc_info=True)


async def capacity_command(ctx: Ctx) -> Rendered | None:
    services = ctx.services
    view = await services.capacity.observe()
    rendered = _card(services, view, buttons=False)
    posted = await ctx.reply.post(ctx.channel_id, rendered)
    client = getattr(ctx.reply, "client", None)
    if client is not None:
        services.tasks.spawn(
            upload_chart(client, view, channel=posted.channel, thread_ts=posted.ts),
            name="capacity-chart",
        )
    return None


def _refused(ctx_slash: str, exc: CapacityRefused) -> UserError:
    return UserError(
        "capacity_refused", result="refused", slash=ctx_slash, kind=exc.kind, **exc.facts
    )


def parse_scale(words: list[str]) -> ScaleChange:
    """`3 [--for 2h]`, `auto [min=1 max=4 target=2]`, `manual`; CapacityRefused when malformed."""
    for_seconds = None
    if "--for" in words:
        i = words.index("--for")
        given = words[i + 1] if i + 1 < len(words) else ""
        match = DURATION.match(given)
        if not match:
            raise CapacityRefused("bad_duration", given=given or "(nothing)")
        for_seconds = float(match[1]) * (3600 if match[2] == "h" else 60)
        words = words[:i] + words[i + 2 :]
    head = words[0].lower() if words else ""
    if head == "manual":
        return ScaleChange("keep")
    if head == "auto":
        kv = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        try:
            policy = AutoscalePolicy(
                int(kv.get("min", 1)), int(kv.get("max", 4)), float(kv.get("target", 2))
            )
        except ValueError:
            raise CapacityRefused("not_a_number", given=" ".join(words[1:])) from None
        return ScaleChange("auto", policy=policy)
    try:
        replicas = int(head)
    except ValueError:
        raise CapacityRefused("not_a_number", given=head or "(nothing)") from None
    return ScaleChange("manual", replicas=replicas, for_seconds=for_seconds)


async def scale_command(ctx: Ctx) -> Rendered:
    services = ctx.services
    try:
        change = parse_scale(str(ctx.arg("what") or "").split())
        services.capacity.validate(change, deploy_running=_deploy_running(services))
    except CapacityRefused as exc:
        raise _refused(ctx.slash, exc) from None
    status = await services.capacity.engine.status()
    if not status.reachable:
        raise _refused(
            ctx.slash, CapacityRefused("engine_unreachable", unavailable=status.unavailable)
        )
    return _diff(services, change, status.config(), change.config(status))


def _diff(services: Services, change: ScaleChange, before: dict, after: dict) -> Rendered:
    value = json.dumps({"change": change.as_value(), "before": before})
    hours = (change.for_seconds or 0) / 3600
    for_text = (f"{hours:g}h" if hours >= 1 else f"{hours * 60:g}m") if change.for_seconds else None
    return services.renderer.render(
        "capacity_change",
        stage="confirm",
        model_name=services.settings.model_name,
        engine=services.capacity.engine.name,
        before=before,
        after=after,
        value=value,
        for_text=for_text,
    )


async def apply_and_check(services: Services, change: ScaleChange, *, user: str, post: Any) -> None:
    """Apply, report, check every replica serves; revert on failure; schedule `--for` expiry."""
    capacity, renderer = services.capacity, services.renderer
    before = (await capacity.engine.status()).config()
    try:
        status = await capacity.apply(change)
    except CapacityRefused as exc:
        await post(renderer.render("capacity_refused", slash="/iris", kind=exc.kind, **exc.facts))
        return
    after = status.config()
    with services.db.session() as session:
        audit.record(session, actor=user, action="scale", arguments=json.dumps(after), result="ok")
    await post(
        renderer.render("capacity_change", stage="applied", user=user, before=before, after=after)
    )
    healthy = await capacity.wait_healthy(timeout=capacity.check_seconds)
    if not healthy.healthy:
        await capacity.restore(before)
        await post(
            renderer.render(
                "capacity_change",
                stage="reverted",
                before=before,
                running=healthy.running,
                wanted=healthy.wanted,
                seconds=capacity.check_seconds,
            )
        )
        return
    await post(
        renderer.render(
            "capacity_change",
            stage="healthy",
            running=healthy.running,
            wanted=healthy.wanted,
            p99=healthy.p99,
            slo_s=capacity.slo.threshold_s,
        )
    )
    if change.for_seconds:
        hours = change.for_seconds / 3600
        for_text = f"{hours:g}h" if hours >= 1 else f"{hours * 60:g}m"

        async def expire() -> None:
            await asyncio.sleep(change.for_seconds or 0)
            await capacity.restore(before)
            await post(
                renderer.render("capacity_change", stage="expired", after=before, for_text=for_text)
            )

        old = capacity.reverts.pop("scale", None)
        if old is not None:
            old.cancel()
        capacity.reverts["scale"] = asyncio.get_running_loop().create_task(expire())


def _poster(click: Interaction) -> Any:
    thread = click.thread_ts or click.message_ts

    async def post(message: Rendered) -> None:
        await click.reply.post(click.channel_id, message, thread_ts=thread)

    return post


async def on_confirm(click: Interaction) -> Rendered | None:
    try:
        value = json.loads(click.value)
        change = ScaleChange.from_value(value["change"])
    except (ValueError, KeyError, TypeError):
        return click.services.renderer.render("capacity_refused", slash=click.slash, kind="expired")
    return await _start(click, change)


async def _start(click: Interaction, change: ScaleChange) -> Rendered | None:
    services = click.services
    try:
        services.capacity.validate(change, deploy_running=_deploy_running(services))
    except CapacityRefused as exc:
        return services.renderer.render(
            "capacity_refused", slash=click.slash, kind=exc.kind, **exc.facts
        )
    services.tasks.spawn(
        apply_and_check(services, change, user=click.user_id, post=_poster(click)), name="scale"
    )
    return None


async def on_cancel(click: Interaction) -> Rendered:
    return click.services.renderer.render("capacity_change", stage="cancelled")


async def on_scale_to(click: Interaction) -> Rendered | None:
    """The incident card's Scale to N: the click is the confirmation."""
    try:
        change = ScaleChange("manual", replicas=int(click.value))
    except ValueError:
        return click.services.renderer.render("capacity_refused", slash=click.slash, kind="expired")
    return await _start(click, change)


async def on_autoscale(click: Interaction) -> Rendered | None:
    cap = click.services.settings.max_replicas
    return await _start(click, ScaleChange("auto", policy=AutoscalePolicy(1, cap, 2.0)))


async def on_shed(click: Interaction) -> Rendered | None:
    services = click.services
    try:
        await services.capacity.shed()
    except CapacityRefused as exc:
        return services.renderer.render(
            "capacity_refused", slash=click.slash, kind=exc.kind, **exc.facts
        )
    await _poster(click)(
        services.renderer.render("capacity_change", stage="shed", user=click.user_id)
    )
    return None


COMMANDS = (
    Command("capacity", capacity_command, answers_in_ack=False),
    Command(
        "scale",
        scale_command,
        role=Role.ONCALL,
        args=(Arg("what", rest=True, shown="<N>|auto|manual"),),
        raw=True,
    ),
)

BUTTONS = (
    Button("capacity.confirm", on_confirm, role=Role.ONCALL),
    Button("capacity.cancel", on_cancel, role=Role.ONCALL),
    Button("capacity.scale_to", on_scale_to, role=Role.ONCALL),
    Button("capacity.autoscale", on_autoscale, role=Role.ONCALL),
    Button("capacity.shed", on_shed, role=Role.ONCALL),
)
