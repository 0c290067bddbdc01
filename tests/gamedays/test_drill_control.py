"""Starting, refusing, aborting and resuming drills, through the Slack stand-in."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.gameday import service
from bot.gameday.models import DrillOutcome
from bot.updates import subscriptions
from tests.gamedays.harness import SPEED, GamedayHarness, start_gameday_harness
from tests.harness import ADMIN, ONCALL, VIEWER, BotHarness, start_harness


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[GamedayHarness]:
    harness = await start_gameday_harness(tmp_path)
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture
async def plain_bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """A bot in HTTP mode with no scripted responder: drills are off by default."""
    harness = await start_harness(tmp_path, mode="http")
    try:
        yield harness
    finally:
        await harness.stop()


def active(bot: GamedayHarness) -> service.DrillRow | None:
    with bot.app.services.db.engine.connect() as conn:
        return service.active(conn)


async def start_unattended_deploy_drill(bot: GamedayHarness) -> service.DrillRow:
    """The deploy drill with a person as responder: it waits at the runbook's Confirm."""
    await bot.command(f"gameday run deploy-smoke-rollback --speed {SPEED:g}", user=ADMIN)
    await bot.slack.wait_for(lambda m: "Promote v3" in m.plain() and bool(m.buttons), timeout=20)
    row = active(bot)
    assert row is not None and row.state.get("phase") == "injected"
    return row


async def test_one_drill_at_a_time_and_the_owner_can_abort(bot: GamedayHarness) -> None:
    row = await start_unattended_deploy_drill(bot)
    await bot.command("gameday run monitoring-drift", user=ADMIN)
    await bot.slack.wait_for_text(
        f"Drill #{row.id} (`deploy-smoke-rollback`) is still running", user=ADMIN
    )

    drill_message = bot.slack.find(row.thread_ts)  # type: ignore[arg-type]
    assert drill_message is not None and "DRILL" in drill_message.plain()
    await bot.slack.click(VIEWER, drill_message, "gameday.abort")
    await bot.slack.wait_for_text("That button needs the *admin* role", user=VIEWER)
    await bot.slack.click(ADMIN, drill_message, "gameday.abort")
    report = await bot.app.services.gameday.wait(row.id, timeout=30)
    assert report is not None and report["outcome"] == DrillOutcome.ABORTED.value
    assert report["steady_state_after"]  # the clean-up cancelled the deploy waiting to confirm
    assert bot.app.services.models.production_version() == 1
    assert active(bot) is None
    assert "aborted" in bot.slack.find(row.thread_ts).plain()  # type: ignore[arg-type, union-attr]


async def test_a_real_open_incident_refuses_a_drill_unless_forced(bot: GamedayHarness) -> None:
    await bot.command("incident declare sev2 Setosa predictions look wrong", user=ONCALL)
    await bot.slack.wait_for_text("Setosa predictions look wrong", timeout=10)
    await bot.command("gameday run deploy-smoke-rollback", user=ADMIN)
    await bot.slack.wait_for_text("A real incident is open (INC-1)", user=ADMIN)
    assert active(bot) is None
    await bot.command("gameday run pipeline-broken-file --force", user=ADMIN)
    await bot.slack.wait_for_text("comes with the pipeline runbook", user=ADMIN)
    await bot.command("gameday run deploy-smoke-rollback --force --speed 60", user=ADMIN)
    await bot.slack.wait_for_text("started: follow it in its thread", user=ADMIN)
    row = active(bot)
    assert row is not None and row.forced
    await bot.command("gameday abort", user=ADMIN)
    report = await bot.app.services.gameday.wait(row.id, timeout=30)
    assert report is not None and report["outcome"] == "aborted"


async def test_a_drill_survives_a_restart_and_a_person_responds(bot: GamedayHarness) -> None:
    row = await start_unattended_deploy_drill(bot)
    await bot.restart_bot()  # mid-drill: the fault is in place, nothing detected yet
    card = await bot.slack.wait_for(
        lambda m: "Promote v3" in m.plain() and bool(m.buttons), timeout=20
    )
    await bot.slack.click(ADMIN, card, "runbook.confirm")  # the person responding
    report = await bot.app.services.gameday.wait(row.id, timeout=60)
    assert report is not None and report["outcome"] == "passed", report
    assert report["chat_actions"] == 1
    assert bot.app.services.models.production_version() == 1
    reports = [m for m in bot.slack.thread("oncall", row.thread_ts) if "DRILL report" in m.plain()]  # type: ignore[arg-type]
    assert len(reports) == 1  # reported once, by the bot that finished it
    kinds = [e["kind"] for e in report["events"]]
    assert kinds.count("fault_injected") == 1 and kinds.count("cleaned_up") == 1


async def test_a_drill_stopped_before_its_fault_is_cleaned_up_at_start(bot: GamedayHarness) -> None:
    days = bot.app.services.gameday
    with bot.app.services.db.engine.begin() as conn:
        from datetime import UTC, datetime

        run_id = service.create(
            conn, scenario="monitoring-drift", owner=ADMIN, speed=SPEED, forced=False,
            now=datetime.now(UTC),
        )  # fmt: skip
        assert run_id is not None
        service.save(conn, run_id=run_id, state={"phase": "injecting", "started": time.time()})
    assert await days.recover() == [run_id]
    report = await days.wait(run_id, timeout=30)
    assert report is not None and report["outcome"] == "interrupted"
    assert report["reason"] == "stopped_before_fault"
    assert [e["kind"] for e in report["events"]][-1] == "cleaned_up"
    assert active(bot) is None


async def test_drills_are_off_unless_allowed(plain_bot: BotHarness) -> None:
    await plain_bot.command("gameday run deploy-smoke-rollback", user=ADMIN)
    await plain_bot.slack.wait_for_text("Game day drills are off on this bot", user=ADMIN)
    await plain_bot.command("gameday list", user=VIEWER)
    listing = await plain_bot.slack.wait_for_text("Game day scenarios", user=VIEWER)
    assert "waits for the pipeline runbook" in listing.plain()
    await plain_bot.command("gameday run deploy-smoke-rollback", user=ONCALL)
    await plain_bot.slack.wait_for_text("needs the *admin* role", user=ONCALL)


async def test_subscribers_can_opt_out_of_drill_updates(plain_bot: BotHarness) -> None:
    for user in (VIEWER, ONCALL):
        await plain_bot.command("subscribe", user=user)
        await plain_bot.slack.wait_for_text("You will get updates on every incident", user=user)
    await plain_bot.command("gameday drills off", user=VIEWER)
    await plain_bot.slack.wait_for_text("no updates about drills (1 subscriptions)", user=VIEWER)
    with plain_bot.app.services.db.engine.begin() as conn:
        real = subscriptions.for_incident(conn, incident_id=1, severity="SEV1")
        drill = subscriptions.for_incident(conn, incident_id=1, severity="SEV1", drill=True)
    assert {s.id for s in real} == {VIEWER, ONCALL}
    assert {s.id for s in drill} == {ONCALL}
    await plain_bot.command("gameday drills on", user=VIEWER)
    await plain_bot.slack.wait_for_text("updates about drills again", user=VIEWER)
