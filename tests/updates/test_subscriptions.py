"""Runbook 8, communicate: stakeholders subscribe and get status updates by DM (and in
STAKEHOLDER_CHANNEL), at a cadence set by severity, exactly once each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.interval import IntervalTrigger

from bot.db import Database
from bot.updates import subscriptions
from bot.updates.scheduled import send_due_updates
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


async def test_severity_preference_follows_the_incidents_current_severity(
    bot: BotHarness,
) -> None:
    await bot.command("subscribe sev2", user=VIEWER)
    await bot.slack.wait_for_text(
        "will get updates on every incident at SEV2 or worse as direct messages", user=VIEWER
    )
    await bot.command("subscribe", user=ADMIN)
    await bot.slack.wait_for_text("will get updates on every incident as", user=ADMIN)
    await declare(bot, "sev3 Versicolor recall is slipping")

    assert await run_job(bot) == 2  # ADMIN and the stakeholder channel, not VIEWER (SEV3)
    assert texts(bot, VIEWER) == []
    assert len(texts(bot, ADMIN)) == 1 and len(stakeholder_texts(bot)) == 1

    await bot.command("incident sev INC-1 2")
    await settle(bot)
    assert await run_job(bot) == 3  # the next run sees SEV2: VIEWER too
    assert len(texts(bot, VIEWER)) == 1 and "Update on INC-1" in texts(bot, VIEWER)[0]
    assert len(texts(bot, ADMIN)) == 2 and len(stakeholder_texts(bot)) == 2

    await bot.command("subscriptions", user=VIEWER)
    listing = await bot.slack.wait_for_text("You get updates on", user=VIEWER)
    assert "every incident at SEV2 or worse" in listing.plain(), listing.plain()

    await bot.command("subscribe SEV-1", user=VIEWER)
    await bot.slack.wait_for_text(
        "Changed: you now get updates on every incident at SEV1 or worse", user=VIEWER
    )
    await bot.command("subscribe sev1", user=VIEWER)
    await bot.slack.wait_for_text(
        "already get updates on every incident at SEV1 or worse", user=VIEWER
    )
    mine = await bot.app.services.incidents._db(subscriptions.of_subscriber, subscriber=VIEWER)  # type: ignore[union-attr]
    assert [(s.scope, s.min_severity) for s in mine] == [("all", "SEV1")]

    await bot.command("subscribe INC-1 sev2", user=VIEWER)
    refused = await bot.slack.wait_for_text("A severity goes with", user=VIEWER)
    assert "Usage: `/iris subscribe [INC-n] [#channel] [sev1" in refused.plain(), refused.plain()
    await bot.command("subscribe sev5", user=VIEWER)
    await bot.slack.wait_for_text("`sev5` is not a severity", user=VIEWER)
    await bot.command("subscribe 1", user=VIEWER)  # a bare number is an incident
    await bot.slack.wait_for_text("will get updates on INC-1", user=VIEWER)


def test_for_incident_filters_by_severity_preference(db: Database) -> None:
    now = datetime.now(UTC)
    with db.connection() as conn:

        def sub(who: str, scope: str = subscriptions.ALL, sev: str | None = None) -> str:
            kind = "channel" if who.startswith("C") else "user"
            return subscriptions.subscribe(
                conn, subscriber=who, kind=kind, scope=scope, min_severity=sev, now=now
            )

        assert [sub("U1"), sub("U2", sev="SEV2"), sub("U3", sev="SEV1")] == ["subscribed"] * 3
        assert [sub("U3", "5"), sub("C4", sev="SEV3")] == ["subscribed"] * 2
        assert [sub("U2", sev="SEV2"), sub("U5", sev="SEV4"), sub("U5")] == [
            "already",
            "subscribed",
            "changed",  # back to every severity
        ]

        def audience(incident_id: int, severity: str | None) -> list[str]:
            found = subscriptions.for_incident(conn, incident_id=incident_id, severity=severity)
            return sorted(s.id for s in found)

        assert audience(6, "SEV1") == ["C4", "U1", "U2", "U3", "U5"]
        assert audience(6, "SEV2") == ["C4", "U1", "U2", "U5"]
        assert audience(5, "SEV2") == ["C4", "U1", "U2", "U3", "U5"]  # U3 follows INC 5 itself
        assert audience(6, "SEV3") == ["C4", "U1", "U5"]
        assert audience(6, "SEV4") == ["U1", "U5"]
        assert audience(6, None) == ["C4", "U1", "U2", "U3", "U5"]  # unknown: no one left out
        listed = subscriptions.of_subscriber(conn, subscriber="U3")
        assert [(s.scope, s.min_severity) for s in listed] == [("all", "SEV1"), ("5", None)]
