"""Runbook 8, the end of an incident: actions on its timeline, the postmortem draft in its thread
and in the data dir, and the stakeholder status page over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.harness import ONCALL, ModelBotHarness, start_model_harness
from tests.incidents.helpers import prepare, settle


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[ModelBotHarness]:
    harness = await start_model_harness(tmp_path)
    prepare(harness)
    try:
        yield harness
    finally:
        await harness.stop()


async def confirm(bot: ModelBotHarness, prompt: str) -> str:
    card = await bot.slack.wait_for(lambda m: prompt in m.plain() and bool(m.buttons), timeout=15)
    await bot.slack.click(ONCALL, card, "runbook.confirm")
    await bot.slack.wait_for_text("done", thread_ts=card.thread_ts or card.ts, timeout=20)
    return card.ts


async def status(bot: ModelBotHarness) -> tuple[str, dict]:  # type: ignore[type-arg]
    async with httpx.AsyncClient() as client:
        html = await client.get(f"{bot.url}/status")
        data = await client.get(f"{bot.url}/status.json")
    assert html.status_code == 200 and data.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    return html.text, data.json()


async def test_actions_postmortem_and_status_page(bot: ModelBotHarness) -> None:
    await bot.command("incident declare sev2 Accuracy <b>dropped</b> after deploy")
    await bot.slack.wait_for_text("You are the commander", user=ONCALL)
    await settle(bot)
    header = bot.slack.messages("incidents")[-1]
    await bot.command("incident update INC-1 investigating the v2 deploy")

    # A deploy started elsewhere while the incident is open reaches its timeline.
    await bot.command("deploy v2")
    await confirm(bot, "Promote v2 to production")
    # The rollback from the incident's button runs in its thread; its steps reach the timeline.
    await bot.slack.click(ONCALL, header, "incident.rollback")
    await confirm(bot, "Roll production back from v2")
    await settle(bot)
    thread = "\n".join(m.plain() for m in bot.slack.thread("incidents", header.ts))
    assert "started a rollback" in thread
    assert "outside this thread" in thread  # the deploy from #oncall
    assert "ended: *succeeded*" in thread

    incident = await bot.app.services.incidents.get(number=1)  # type: ignore[union-attr]
    assert incident is not None
    kinds = [e.kind for e in incident.events]
    assert kinds.count("run_finished") == 2 and "run_step" in kinds

    # Open: on the status page with its latest update; the HTML is escaped.
    html, data = await status(bot)
    assert data["overall"] == "incident" and data["model"]["production"] == "v1"
    [open_one] = data["open_incidents"]
    assert open_one["ref"] == "INC-1"
    assert open_one["latest_update"]["text"] == "investigating the v2 deploy"
    assert "investigating the v2 deploy" in html and "&lt;b&gt;dropped&lt;/b&gt;" in html
    assert "<b>dropped</b>" not in html

    # Resolve: the postmortem draft lands in the thread as a file and in the data dir.
    await bot.command("incident resolve INC-1 rolled back to v1, accuracy is back")
    await bot.slack.wait_for_text("INC-1 is resolved", user=ONCALL)
    await settle(bot)
    posted = await bot.slack.wait_for(
        lambda m: m.thread_ts == header.ts and bool(m.files), timeout=10
    )
    assert posted.files[0]["name"] == "INC-1-postmortem.md"
    content = bot.slack.file_content(posted.files[0]["id"])
    assert content is not None
    draft = content.decode()
    stored = bot.settings.oncall_data_dir / "postmortems" / "INC-1.md"
    assert stored.read_text() == draft
    for expected in (
        "# INC-1 postmortem (draft)",
        "rolled back to v1, accuracy is back",  # summary
        "## Timeline",
        "In production when it opened: v1 — holdout accuracy",
        "In production when it was resolved: v1",
        "deploy v1 → v2: **succeeded**",
        "rollback v2 → v1: **succeeded**",
        "## Metrics before and after",
        "Runbook `rollback`",
        "## Root cause",
        "## Follow-ups",
    ):
        assert expected in draft, (expected, draft)

    # Regenerated on demand.
    stored.unlink()
    await bot.command("postmortem INC-1")
    await bot.slack.wait_for_text("postmortem draft of INC-1", user=ONCALL, timeout=10)
    assert stored.exists()
    files = [m for m in bot.slack.thread("incidents", header.ts) if m.files]
    assert len(files) == 2

    # Resolved: listed among the last 7 days, no open incident left.
    html, data = await status(bot)
    assert data["open_incidents"] == [] and data["overall"] == "operational"
    assert [i["ref"] for i in data["resolved_incidents"]] == ["INC-1"]
    assert "rolled back to v1, accuracy is back" in html


async def test_the_status_page_never_fails(
    bot: ModelBotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken() -> list[int]:
        raise RuntimeError("database went away")

    # A part that fails shows "unavailable".
    monkeypatch.setattr(bot.app.services.incidents, "open_ids", broken)
    html, data = await status(bot)
    assert data["incidents_available"] is False and data["overall"] == "unknown"
    assert "Incidents unavailable" in html and data["model"]["production"] == "v1"
