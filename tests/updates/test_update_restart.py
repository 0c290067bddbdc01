"""A restart in the middle of an incident loses and repeats nothing: the update clock and a
snoozed reminder live in the scheduler's job store in the database; missed ticks coalesce into
one update; the ledger keeps a second process start from sending any slot twice.

(A crash *during* a fan-out is covered in test_delivery_recovery.py.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.updates import subscriptions
from tests.harness import ADMIN, ONCALL, VIEWER, BotHarness
from tests.incidents.helpers import JobRuns, clock_at, prepare, settle, wait_until
from tests.incidents.test_lifecycle import declare
from tests.updates.test_reminders import reminders_in

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def updates_to(bot: BotHarness, user: str) -> list[str]:
    return [m.plain() for m in bot.slack.dms(user) if "INC-1" in m.plain()]


async def restart(bot: BotHarness) -> None:
    await bot.restart_bot()
    prepare(bot, without_registry=True)


async def test_restart_in_the_middle_loses_and_duplicates_nothing(bot: BotHarness) -> None:
    with clock_at(T0):
        ts = await declare(bot, "sev1 Setosa predictions are all wrong")
        for user in (VIEWER, ADMIN):
            await bot.command("subscribe INC-1", user=user)
            await bot.slack.wait_for_text("will get updates on INC-1", user=user)
    with clock_at(T0 + timedelta(minutes=30, seconds=2)):
        assert await JobRuns(bot).wake(expect=1) == ["incident-update-1"]
    assert [len(updates_to(bot, u)) for u in (VIEWER, ADMIN)] == [1, 1]

    # Down from 09:31 to 10:50: the 10:00 and 10:30 ticks are missed, the last one by 20 minutes.
    # However late, the missed runs become one update at start-up.
    with clock_at(T0 + timedelta(minutes=31)):
        await bot.app.stop()
    with clock_at(T0 + timedelta(minutes=110)):
        await restart(bot)
        await wait_until(lambda: len(updates_to(bot, VIEWER)) == 2, timeout=10)
        await wait_until(lambda: len(updates_to(bot, ADMIN)) == 2, timeout=10)
        await settle(bot)
        # A second start right away (a crash loop, or a second process): nothing is due again.
        await restart(bot)
        assert await JobRuns(bot).wake(expect=0) == []
        await settle(bot)
    assert [len(updates_to(bot, u)) for u in (VIEWER, ADMIN)] == [2, 2]
    assert len([m for m in bot.slack.messages("ml-stakeholders") if "INC-1" in m.plain()]) == 2

    # A snooze survives a restart too: the 11:00 tick sends the update but no reminder, and
    # the snooze's end at 11:21 reminds the commander, once.
    [first, second] = reminders_in(bot, ts)  # 09:30, and the coalesced run at 10:50
    with clock_at(T0 + timedelta(minutes=111)):
        await bot.slack.click(ONCALL, second, "incident.reminder.snooze")
        await bot.slack.wait_for_text("snoozed until 11:21", user=ONCALL)
        await restart(bot)
    with clock_at(T0 + timedelta(minutes=120, seconds=5)):
        assert await JobRuns(bot).wake(expect=1) == ["incident-update-1"]
        await settle(bot)
    assert len(updates_to(bot, VIEWER)) == 3
    assert len(reminders_in(bot, ts)) == 2
    with clock_at(T0 + timedelta(minutes=141, seconds=5)):
        assert await JobRuns(bot).wake(expect=1) == ["incident-reminder-1"]
        await settle(bot)
    assert len(reminders_in(bot, ts)) == 3

    with clock_at(T0 + timedelta(minutes=142)):
        await bot.command("incident resolve INC-1 rolled back to v1")
        await settle(bot)
        await wait_until(lambda: len(updates_to(bot, VIEWER)) == 4)
    assert "INC-1 resolved" in updates_to(bot, VIEWER)[-1]
    ledger = await bot.app.services.incidents._db(subscriptions.delivered, incident_id=1)  # type: ignore[union-attr]
    slots = [(who, slot) for who, slot, _ in ledger]
    assert len(slots) == len(set(slots)) == 12  # 3 recipients x (3 scheduled + the resolution)
    assert {state for _, _, state in ledger} == {"sent"}
    # Every update sent is on the timeline.
    incident = await bot.app.services.incidents.get(incident_id=1)  # type: ignore[union-attr]
    assert incident is not None
    sent = [e.data for e in incident.events if e.kind == "update_sent"]
    assert [(d["kind"], d["recipients"]) for d in sent] == [
        ("scheduled", 3),
        ("scheduled", 3),
        ("scheduled", 3),
        ("resolved", 3),
    ]
