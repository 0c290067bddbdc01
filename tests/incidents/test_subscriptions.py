"""Runbook 8, communicate: stakeholders subscribe and get status updates by DM (and in
STAKEHOLDER_CHANNEL), at a cadence set by severity, exactly once each."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.triggers.interval import IntervalTrigger

from bot.incidents import subscriptions
from bot.incidents.scheduled import send_due_updates
from tests.harness import ADMIN, ONCALL, VIEWER, BotHarness
from tests.incidents.helpers import settle
from tests.incidents.test_lifecycle import declare


def job(bot: BotHarness, incident_id: int = 1):  # type: ignore[no-untyped-def]
    return bot.app.services.scheduler.get_job(f"incident-update-{incident_id}")


def texts(bot: BotHarness, user: str) -> list[str]:
    return [m.plain() for m in bot.slack.dms(user)]


def stakeholder_texts(bot: BotHarness) -> list[str]:
    return [m.plain() for m in bot.slack.messages("ml-stakeholders")]


async def run_job(bot: BotHarness, incident_id: int = 1) -> int:
    found = job(bot, incident_id)
    assert found is not None
    assert found.func is send_due_updates
    return await found.func(*found.args)


async def test_subscribe_unsubscribe_and_list(bot: BotHarness) -> None:
    await declare(bot)
    await bot.command("subscriptions", user=VIEWER)
    await bot.slack.wait_for_text("You have no subscriptions", user=VIEWER)

    await bot.command("subscribe", user=VIEWER)
    await bot.slack.wait_for_text("updates on every incident as direct messages", user=VIEWER)
    await bot.command("subscribe", user=VIEWER)
    await bot.slack.wait_for_text("already get updates on every incident", user=VIEWER)
    await bot.command("subscribe INC-1", user=VIEWER)
    await bot.slack.wait_for_text("will get updates on INC-1", user=VIEWER)
    await bot.command("subscribe INC-9", user=VIEWER)
    await bot.slack.wait_for_text("There is no INC-9", user=VIEWER)

    await bot.command("subscriptions", user=VIEWER)
    listing = await bot.slack.wait_for_text("You get updates on", user=VIEWER)
    for expected in ("every incident", "INC-1", "ml-stakeholders gets every update too"):
        assert expected in listing.plain(), (expected, listing.plain())

    await bot.command("unsubscribe INC-1", user=VIEWER)
    await bot.slack.wait_for_text("No more updates on INC-1", user=VIEWER)
    await bot.command("unsubscribe INC-1", user=VIEWER)
    await bot.slack.wait_for_text("There was no subscription to updates on INC-1", user=VIEWER)
    await bot.command("unsubscribe", user=VIEWER)
    await bot.slack.wait_for_text("No more updates on every incident", user=VIEWER)


async def test_subscribe_button_on_the_header(bot: BotHarness) -> None:
    ts = await declare(bot)
    await bot.slack.click(VIEWER, ts, "incident.subscribe")
    await bot.slack.wait_for_text("will get updates on INC-1 as direct messages", user=VIEWER)
    await bot.slack.click(VIEWER, ts, "incident.subscribe")
    await bot.slack.wait_for_text("already get updates on INC-1", user=VIEWER)


async def test_manual_update_goes_to_every_subscriber_at_once(bot: BotHarness) -> None:
    await declare(bot)
    await bot.command("subscribe", user=VIEWER)
    await bot.command("subscribe INC-1", user=ADMIN)
    await bot.slack.wait_for_text("will get updates on INC-1", user=ADMIN)
    before = job(bot).trigger.start_date

    await bot.command("incident update INC-1 rolled back to v1; watching accuracy")
    await bot.slack.wait_for_text("posted in its thread", user=ONCALL)
    await settle(bot)
    for got in (texts(bot, VIEWER), texts(bot, ADMIN), stakeholder_texts(bot)):
        assert len(got) == 1, got
        for expected in ("Update on INC-1", "rolled back to v1", "Impact", "next update"):
            assert expected in got[0], (expected, got[0])
    assert texts(bot, ONCALL) == []  # not subscribed
    assert job(bot).trigger.start_date >= before  # the clock started again


async def test_scheduled_job_cadence_reschedule_resolve_and_exactly_once(
    bot: BotHarness,
) -> None:
    ts = await declare(bot)  # SEV2
    found = job(bot)
    assert found is not None and isinstance(found.trigger, IntervalTrigger)
    assert found.trigger.interval == timedelta(minutes=60)
    header = bot.slack.find(ts)
    assert header is not None and "no scheduled updates" not in header.plain()

    await bot.command("subscribe", user=VIEWER)
    await bot.command("subscribe INC-1", user=ADMIN)
    await bot.slack.wait_for_text("will get updates on INC-1", user=ADMIN)
    await bot.command("incident note INC-1 feature pipeline restarted")
    await settle(bot)

    assert await run_job(bot) == 3  # two users and the stakeholder channel
    assert await run_job(bot) == 0  # the same slot again: nothing
    for got in (texts(bot, VIEWER), texts(bot, ADMIN), stakeholder_texts(bot)):
        assert len(got) == 1, got
        assert "Update on INC-1" in got[0] and "feature pipeline restarted" in got[0]

    await bot.command("incident sev INC-1 sev1")
    await settle(bot)
    assert job(bot).trigger.interval == timedelta(minutes=30)
    await bot.command("incident sev INC-1 sev4")
    await settle(bot)
    assert job(bot) is None  # SEV4: no scheduled updates
    await bot.command("incident sev INC-1 sev3")
    await settle(bot)
    assert job(bot).trigger.interval == timedelta(minutes=240)

    await bot.command("incident resolve INC-1 rolled back to v1, accuracy is back")
    await settle(bot)
    assert job(bot) is None
    for got in (texts(bot, VIEWER), texts(bot, ADMIN), stakeholder_texts(bot)):
        assert len(got) == 2, got
        assert "INC-1 resolved" in got[-1] and "rolled back to v1, accuracy is back" in got[-1]
        assert "lasted" in got[-1]
    assert await send_due_updates(1, bot.app.services.settings.resolved_database_url) == 0


async def test_rate_limited_posts_still_reach_everyone_exactly_once(bot: BotHarness) -> None:
    await declare(bot)
    users = [VIEWER, ADMIN, ONCALL]
    for user in users:
        await bot.command("subscribe INC-1", user=user)
        await bot.slack.wait_for_text("will get updates on INC-1", user=user)
    bot.slack.inject_faults(method="chat.postMessage", status=429, rate=0.3, retry_after=0)
    try:
        for _ in range(2):
            await run_job(bot)
    finally:
        bot.slack.clear_faults()
    for user in users:
        assert len(texts(bot, user)) == 1, texts(bot, user)
    assert len(stakeholder_texts(bot)) == 1
    states = await bot.app.services.incidents._db(subscriptions.delivered, incident_id=1)  # type: ignore[union-attr]
    assert sorted(s for _, _, s in states) == ["sent"] * 4
    assert any(c.status == 429 for c in bot.slack.api_log)  # the faults did happen
