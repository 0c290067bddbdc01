"""Access in Slack without outside servers, on the shipped policy: the manual provider's
checklist, Deny with a reason (in a modal), break-glass during an open incident."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.access import service
from bot.db.base import utcnow
from tests.harness import ADMIN, ONCALL, VIEWER, start_harness


async def test_deny_asks_a_reason_and_tells_the_requester(tmp_path: Path) -> None:
    bot = await start_harness(tmp_path)
    try:
        since = bot.slack.seq
        await bot.command(
            "access request dashboard:grafana for 2h because INC-3 graphs", user=ONCALL
        )
        card = await bot.slack.wait_for(
            lambda m: "Access request" in m.plain() and bool(m.buttons), timeout=10, since=since
        )
        await bot.slack.click(ONCALL, card, "access.deny")
        await bot.slack.wait_for_text("cannot decide your own request", timeout=10)
        await bot.slack.click(ADMIN, card, "access.deny")
        await bot.slack.wait_for_call("views.open", timeout=10)
        (view,) = bot.slack.views(ADMIN)
        empty = await bot.slack.submit_view(ADMIN, view.id, {"reason": {"text": ""}})
        assert (empty.payload or {}).get("response_action") == "errors"
        await bot.slack.submit_view(ADMIN, view.id, {"reason": {"text": "use the shared board"}})
        await bot.slack.wait_for_text("was denied by <@U0ADMIN>: use the shared board", timeout=10)
        with bot.app.services.db.connection() as conn:
            (grant,) = service.of_user(conn, user_id=ONCALL, states=["denied"])
        assert grant.denied_by == ADMIN
        # The card shows the outcome, and its buttons are gone.
        await bot.slack.wait_for(
            lambda m: m.ts == card.ts and "Denied by" in m.plain() and not m.buttons, timeout=10
        )
    finally:
        await bot.stop()


async def test_manual_grant_is_a_checklist_and_revocable(tmp_path: Path) -> None:
    bot = await start_harness(tmp_path)
    try:
        since = bot.slack.seq
        await bot.command("access request dashboard:grafana because look at latency", user=ONCALL)
        card = await bot.slack.wait_for(
            lambda m: "Access request" in m.plain() and bool(m.buttons), timeout=10, since=since
        )
        await bot.slack.click(ADMIN, card, "access.approve")
        await bot.slack.wait_for_text("*By hand:* give <@U0ONCALL> VIEW", timeout=10)
        await bot.command("access list", user=ONCALL)
        listed = await bot.slack.wait_for_text("Open access of <@U0ONCALL>", timeout=10)
        ref = listed.plain().split("*G-")[1].split("*")[0]
        # An hour before the end: a reminder with Extend; extending this one needs an approval.
        with bot.app.services.db.connection() as conn:
            service.set_fields(conn, grant_id=int(ref), until=utcnow() + timedelta(hours=1))
        assert await bot.app.services.access.lifecycle.remind(int(ref), "1h")
        assert not await bot.app.services.access.lifecycle.remind(int(ref), "1h")  # once
        reminder = await bot.slack.wait_for_text("ends in 1h", timeout=10)
        since = bot.slack.seq
        await bot.slack.click(ONCALL, reminder, "access.extend")
        await bot.slack.wait_for_text("Extending needs an approval", timeout=10)
        extension = await bot.slack.wait_for(
            lambda m: f"(extends G-{ref})" in m.plain() and bool(m.buttons), timeout=10, since=since
        )
        await bot.slack.click(ADMIN, extension, "access.approve")
        await bot.slack.wait_for_text(f"(G-{ref}) now lasts until", timeout=10)
        await bot.command(f"access revoke G-{ref}", user=VIEWER)
        await bot.slack.wait_for_text("is not yours", timeout=10)
        await bot.command(f"access revoke G-{ref}", user=ONCALL)
        await bot.slack.wait_for_text("*By hand:* remove VIEW", timeout=10)
    finally:
        await bot.stop()


async def test_break_glass_needs_an_open_incident_and_goes_on_its_timeline(tmp_path: Path) -> None:
    bot = await start_harness(tmp_path)
    try:
        glass = "access breakglass <@U0VIEWER> dashboard:grafana for 30m because see the graphs"
        await bot.command(glass, user=ONCALL)
        await bot.slack.wait_for_text("Break-glass needs an open incident", timeout=10)
        await bot.command("incident declare sev2 Iris accuracy dropped", user=ADMIN)
        await bot.slack.wait_for_text("INC-1", timeout=10)
        await bot.command(glass, user=ONCALL)  # not the commander (the admin declared it)
        await bot.slack.wait_for_text("Only the commander of INC-1", timeout=10)
        await bot.command(glass.replace("30m", "2h"), user=ADMIN)
        await bot.slack.wait_for_text("at most 1h; you asked for 2h", timeout=10)
        await bot.command(glass, user=ADMIN)
        await bot.slack.wait_for_text("Break-glass G-1", timeout=10)
        incident = await bot.app.services.incidents.get(number=1)
        assert incident is not None
        events = [e for e in incident.events if e.kind == "break_glass"]
        assert events and events[0].data["user"] == VIEWER
    finally:
        await bot.stop()


CHANNEL_POLICY = """
version = 1
pending_hours = 24
[resources."channel:war-room"]
provider = "slack"
target = "war-room"
levels = { MEMBER = "7d" }
approvers = "admins"
approvers_channel = "oncall"
"""


async def test_channel_grant_drift_and_lapsed_request(tmp_path: Path) -> None:
    policy = tmp_path / "access.toml"
    policy.write_text(CHANNEL_POLICY)
    bot = await start_harness(tmp_path, access_policy_file=policy)
    try:
        room = bot.slack.add_channel("war-room", private=True)
        since = bot.slack.seq
        await bot.command("access request channel:war-room for 2h because INC-4 room", user=ONCALL)
        card = await bot.slack.wait_for(
            lambda m: "Access request" in m.plain() and bool(m.buttons), timeout=10, since=since
        )
        await bot.slack.click(ADMIN, card, "access.approve")
        await bot.slack.wait_for_text("You have *MEMBER*", timeout=10)
        assert ONCALL in room.members  # conversations.invite at the stand-in
        flows = bot.app.services.access
        assert (await flows.lifecycle.reconcile())["drift"] == []
        room.members.discard(ONCALL)  # removed by hand, behind the bot's back
        assert len((await flows.lifecycle.reconcile())["drift"]) == 1
        await bot.slack.wait_for_text("was changed outside the bot", timeout=10)
        assert (await flows.lifecycle.reconcile())["drift"] == []  # reported once

        # A request nobody answers lapses after pending_hours, and the requester hears it.
        await bot.command("access request channel:war-room for 1h because later", user=VIEWER)
        await bot.slack.wait_for_text("Request G-2 sent", timeout=10)
        with bot.app.services.db.connection() as conn:
            service.set_fields(conn, grant_id=2, requested_at=utcnow() - timedelta(hours=25))
        assert await flows.sweep() == [2]
        await bot.slack.wait_for_text("lapsed: no approver answered", timeout=10)
    finally:
        await bot.stop()
