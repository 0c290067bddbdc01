"""`/iris incident list|show|resolve`, and an incident that re-opens while monitoring."""

from __future__ import annotations

from datetime import timedelta

from tests.harness import ONCALL, VIEWER, BotHarness
from tests.incidents.helpers import T0, alert, notification, post, resolved, settle

DRIFT = alert("ModelInputDrift", summary="Inputs drifted")


async def test_list_show_and_resolve(bot: BotHarness) -> None:
    await post(bot, notification("drift", [DRIFT]))
    await post(bot, notification("latency", [alert("ModelServerLatency", severity="info")]))
    await settle(bot)

    await bot.command("incident list", user=VIEWER)
    listing = await bot.slack.wait_for_text("Incidents", user=VIEWER)
    assert "INC-1" in listing.plain() and "INC-2* SEV4" in listing.plain()

    await bot.command("incident show INC-1", user=VIEWER)
    shown = await bot.slack.wait_for_text("INC-1 · Inputs drifted", user=VIEWER)
    assert "Timeline" in shown.plain() and "opened" in shown.plain()

    await bot.command("incident resolve INC-1 done", user=VIEWER)
    await bot.slack.wait_for_text("needs the *oncall* role", user=VIEWER)
    await bot.command("incident resolve", user=ONCALL)
    await bot.slack.wait_for_text("Which incident?", user=ONCALL)
    await bot.command("incident resolve INC-9", user=ONCALL)
    await bot.slack.wait_for_text("There is no INC-9", user=ONCALL)

    await bot.command("incident resolve INC-1 rolled back to v1", user=ONCALL)
    await bot.slack.wait_for_text("INC-1 is resolved", user=ONCALL)
    await settle(bot)
    header = bot.slack.messages("incidents")[0]
    assert "Resolved" in header.plain() and not header.buttons
    await bot.slack.wait_for_text("rolled back to v1", thread_ts=header.ts)

    # The only open one now: resolve without naming it.
    await bot.command("incident resolve", user=ONCALL)
    await bot.slack.wait_for_text("INC-2 is resolved", user=ONCALL)


async def test_a_firing_alert_reopens_an_incident_in_monitoring(bot: BotHarness) -> None:
    await post(bot, notification("drift", [DRIFT]))
    await post(bot, notification("drift", [resolved(DRIFT)]))
    await settle(bot)
    header = bot.slack.messages("incidents")[0]
    assert "Monitoring" in header.plain()
    again = alert("ModelInputDrift", summary="Inputs drifted", starts=T0 + timedelta(hours=1))
    response = await post(bot, notification("drift", [again]))
    assert response.json()["incident"] == "INC-1"
    await settle(bot)
    assert "Investigating" in bot.slack.find(header.ts).plain()  # type: ignore[union-attr]
    await bot.slack.wait_for_text("back to *investigating*", thread_ts=header.ts)
    # A stale retry of the resolved notice changes nothing.
    stale = await post(bot, notification("drift", [resolved(DRIFT)]))
    assert stale.json()["outcome"] == "unchanged"
