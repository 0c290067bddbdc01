"""The unattended drills, end to end: `/iris gameday run <scenario> --scripted` in the stand-in,
a real model server, registry and monitors; the scripted responder clicks what the runbook
offers. Read each test as a game day transcript."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.gameday import service
from tests.gamedays.harness import SPEED, GamedayHarness, start_gameday_harness
from tests.harness import ADMIN, ONCALL, VIEWER


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[GamedayHarness]:
    harness = await start_gameday_harness(tmp_path)
    try:
        yield harness
    finally:
        await harness.stop()


async def run_drill(bot: GamedayHarness, scenario: str) -> dict:
    ack = await bot.command(f"gameday run {scenario} --speed {SPEED:g} --scripted", user=ADMIN)
    assert ack.status == 200
    await bot.slack.wait_for_text("started: follow it in its thread", user=ADMIN, timeout=10)
    days = bot.app.services.gameday
    with bot.app.services.db.engine.connect() as conn:
        row = service.active(conn)
    assert row is not None and row.scenario == scenario
    report = await days.wait(row.id, timeout=300)
    assert report is not None
    return report


async def test_deploy_drill_rolls_back_a_version_wrong_on_golden_samples(
    bot: GamedayHarness,
) -> None:
    models = bot.app.services.models
    assert models.production_version() == 1
    report = await run_drill(bot, "deploy-smoke-rollback")
    assert report["outcome"] == "passed", report["reason"]
    assert report["detect_seconds"] is not None and report["mitigate_seconds"] is not None
    assert report["chat_actions"] == 1  # the Confirm click
    assert report["lost"] == 0 and report["duplicated"] == 0
    assert models.production_version() == 1
    thread = await bot.slack.wait_for_text("DRILL report", timeout=10)
    assert "Passed" in thread.plain()
    assert Path(report["file"]).read_text().startswith("# DRILL report")


async def test_retrain_drill_rejects_the_noisy_candidate_and_promotes_nothing(
    bot: GamedayHarness,
) -> None:
    models = bot.app.services.models
    report = await run_drill(bot, "retrain-label-noise")

    assert report["outcome"] == "passed", report["reason"]
    assert report["chat_actions"] == 1  # Discard
    newest = max(models.list_versions(), key=lambda v: v.version)
    assert newest.version > 2 and newest.validation_status == "rejected"
    assert models.production_version() == 1


async def test_drift_drill_opens_a_drill_incident(
    bot: GamedayHarness,
) -> None:
    report = await run_drill(bot, "monitoring-drift")
    assert report["outcome"] == "passed", report["reason"]
    assert report["detect_seconds"] is not None  # how fast is the bench's business
    assert report["chat_actions"] == 1  # Acknowledge on the incident header
    assert report["incidents"]
    header = await bot.slack.wait_for_text("DRILL", timeout=5)
    assert "DRILL" in header.plain()
    draft = bot.settings.oncall_data_dir / "postmortems" / "INC-1.md"
    text = draft.read_text()
    assert "**DRILL**" in text and "Game day drill report" in text  # the report feeds the draft


async def test_accuracy_drill_opens_a_drill_incident(bot: GamedayHarness) -> None:
    report = await run_drill(bot, "monitoring-accuracy")
    assert report["outcome"] == "passed", report["reason"]
    assert report["detect_seconds"] is not None  # how fast is the bench's business
    assert report["chat_actions"] == 1


async def test_communication_drill_delivers_every_update_once_across_a_restart(
    bot: GamedayHarness,
) -> None:
    ack = await bot.command(
        "gameday run communication-sev1-restart --speed 600 --scripted", user=ADMIN
    )
    assert ack.status == 200
    await bot.slack.wait_for_text("started: follow it in its thread", user=ADMIN, timeout=10)
    with bot.app.services.db.engine.connect() as conn:
        row = service.active(conn)
    assert row is not None
    assert bot.control is not None
    while not bot.control.restarts:  # the fault restarts the bot after the first update
        await asyncio.sleep(0.05)
    await bot.control.restarts[0]
    report = await bot.app.services.gameday.wait(row.id, timeout=60)  # the new bot finishes it
    assert report is not None and report["outcome"] == "passed", (
        report["reason"],
        report["reason_detail"],
        report["events"],
    )
    assert report["lost"] == 0 and report["duplicated"] == 0
    assert report["messages"] >= 3 * 2  # three scheduled updates to two subscribers, and more
    for subscriber in (ONCALL, VIEWER):
        updates = [m for m in bot.slack.dms(subscriber) if "Update on" in m.plain()]
        slots = [m.metadata["event_payload"]["slot"] for m in updates]  # type: ignore[index]
        assert len(slots) == len(set(slots)) >= 3  # each scheduled update once
        assert all("DRILL" in m.plain() for m in updates)
    reminders = [m for m in bot.slack.all_messages() if "Snooze" in str(m.blocks)]
    assert reminders, "the commander was reminded"
