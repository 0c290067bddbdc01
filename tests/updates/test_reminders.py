"""Runbook 8, keep stakeholders informed: the SEV1 clock sends updates on time, and a silent
commander is reminded in the thread, with "Post update" (a prefilled modal) and "Snooze 30 min".

Time is moved with time-machine (wall clock only: asyncio's monotonic clock keeps running), and
the scheduler is woken to look at its jobs, as it would be by its own timer at that moment.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.incidents.models import EventView, IncidentView
from bot.localslack.models import Message
from bot.updates.reminders import ReminderView, due_slot
from tests.harness import ONCALL, VIEWER, BotHarness
from tests.incidents.helpers import JobRuns, clock_at, settle, wait_until
from tests.incidents.test_lifecycle import declare

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


# --- the decision, as a pure function -----------------------------------------------------------
def _incident(*updates: tuple[int, datetime]) -> IncidentView:
    events = [EventView(i, "update", "all good", "U1", at, {}) for i, at in updates]
    return IncidentView(
        id=1,
        number=1,
        title="t",
        severity="SEV1",
        status="investigating",
        commander="U1",
        group_key="declared:1",
        channel="C1",
        header_ts="1.0",
        created_at=T0,
        updated_at=T0,
        resolved_at=None,
        model="iris",
        production_version=1,
        runbook_id=None,
        last_alert_at=T0,
        published_event_id=0,
        summary="",
        events=events,
    )


def _reminder(rid: int, at: datetime, answer: str | None = None, until: datetime | None = None):  # type: ignore[no-untyped-def]
    return ReminderView(rid, 1, f"x{rid}", "U1", "C1", "2.0", at, answer, None, None, until)


def test_due_slot_chains_reminders_of_one_silence() -> None:
    interval = timedelta(minutes=30)
    quiet = _incident()
    assert due_slot(quiet, None, interval=interval, now=T0 + timedelta(minutes=20)) is None
    assert due_slot(quiet, None, interval=interval, now=T0 + timedelta(minutes=30)) == "u0"
    # A job a few seconds early still counts as one interval.
    assert due_slot(quiet, None, interval=interval, now=T0 + timedelta(minutes=29.5)) == "u0"

    first = _reminder(4, T0 + timedelta(minutes=30))
    at_40 = T0 + timedelta(minutes=40)
    assert due_slot(quiet, first, interval=interval, now=at_40) is None  # reminded already
    assert due_slot(quiet, first, interval=interval, now=T0 + HOUR) == "r4"  # ignored: again

    snoozed = _reminder(4, T0 + timedelta(minutes=30), "snoozed", T0 + timedelta(minutes=65))
    assert due_slot(quiet, snoozed, interval=interval, now=T0 + HOUR) is None
    assert due_slot(quiet, snoozed, interval=interval, now=T0 + timedelta(minutes=65)) == "r4"

    updated = _incident((9, T0 + timedelta(minutes=50)))
    assert due_slot(updated, first, interval=interval, now=T0 + HOUR) is None
    assert due_slot(updated, first, interval=interval, now=T0 + timedelta(minutes=80)) == "u9"


# --- end to end through the stand-in -----------------------------------------------------------
REMINDER_STATES = (
    "no update has gone to the stakeholders",  # asking
    "Reminder snoozed by",
    "sent an update to the stakeholders of",
)


def updates_to(bot: BotHarness, user: str) -> list[str]:
    return [m.plain() for m in bot.slack.dms(user)]


def reminders_in(bot: BotHarness, header_ts: str) -> list[Message]:
    """The reminders in the incident's thread, whatever answer they show now."""
    thread = bot.slack.thread("incidents", header_ts)
    return [m for m in thread if any(state in m.plain() for state in REMINDER_STATES)]


async def test_sev1_updates_on_time_reminder_snooze_and_modal_update(bot: BotHarness) -> None:
    runs = JobRuns(bot)
    with clock_at(T0):
        ts = await declare(bot, "sev1 Setosa predictions are all wrong")
        await bot.command("subscribe INC-1", user=VIEWER)
        await bot.slack.wait_for_text("will get updates on INC-1", user=VIEWER)
        await bot.command("incident note INC-1 feature pipeline restarted")
        await settle(bot)

    with clock_at(T0 + timedelta(minutes=29)):
        assert await runs.wake(expect=0) == []  # not yet
    assert bot.slack.dms(VIEWER) == []

    with clock_at(T0 + timedelta(minutes=30, seconds=2)):
        assert await runs.wake(expect=1) == ["incident-update-1"]
    got = [m.plain() for m in bot.slack.dms(VIEWER)]
    assert len(got) == 1 and "Update on INC-1" in got[0] and "feature pipeline restarted" in got[0]
    [reminder] = reminders_in(bot, ts)
    for expected in (f"@{ONCALL}", "no update has gone to the stakeholders of INC-1", "30m"):
        assert expected in reminder.plain(), (expected, reminder.plain())

    # Snooze: the buttons give way to who snoozed, until when.
    with clock_at(T0 + timedelta(minutes=35)):
        await bot.slack.click(ONCALL, reminder, "incident.reminder.snooze")
        await bot.slack.wait_for_text("snoozed until 10:05", user=ONCALL)
    edited = bot.slack.find(reminder.ts)
    assert edited is not None and not edited.buttons
    assert "snoozed by" in edited.plain() and "10:05 UTC" in edited.plain()

    # The 60-minute tick sends the update but no reminder: snoozed until 10:05.
    with clock_at(T0 + timedelta(minutes=60, seconds=2)):
        assert await runs.wake(expect=1) == ["incident-update-1"]
    assert len(bot.slack.dms(VIEWER)) == 2
    assert len(reminders_in(bot, ts)) == 1

    # The snooze ends: the commander is reminded again.
    with clock_at(T0 + timedelta(minutes=65, seconds=2)):
        assert await runs.wake(expect=1) == ["incident-reminder-1"]
    again = reminders_in(bot, ts)[-1]
    assert again.ts != reminder.ts and again.buttons

    with clock_at(T0 + timedelta(minutes=66)):
        # A viewer may not speak for the incident.
        await bot.slack.click(VIEWER, again, "incident.reminder.update")
        await bot.slack.wait_for_text("needs the *oncall* role", user=VIEWER)
        assert bot.slack.views(VIEWER) == []

        await bot.slack.click(ONCALL, again, "incident.reminder.update")
        await wait_until(lambda: bool(bot.slack.views(ONCALL)))
        [modal] = bot.slack.views(ONCALL)
        draft = modal.view["blocks"][1]["element"]["initial_value"]
        assert modal.view["title"]["text"] == "Update INC-1"
        for expected in ("Status: Investigating", "feature pipeline restarted", "Next: "):
            assert expected in draft, (expected, draft)

        empty = await bot.slack.submit_view(ONCALL, modal.id, {"update": {"text": "  "}})
        assert empty.payload and empty.payload["response_action"] == "errors"
        assert "Write the update" in empty.payload["errors"]["update"]
        assert bot.slack.views(ONCALL)  # still open

        text = draft + "rolling back to v1 at 10:15"
        sent = await bot.slack.submit_view(ONCALL, modal.id, {"update": {"text": text}})
        assert sent.ok and bot.slack.views(ONCALL) == []
        await bot.slack.wait_for_text("posted in its thread", user=ONCALL)
        await settle(bot)
    dms = [m.plain() for m in bot.slack.dms(VIEWER)]
    assert len(dms) == 3 and "rolling back to v1 at 10:15" in dms[-1]
    answered = bot.slack.find(again.ts)
    assert answered is not None and not answered.buttons
    assert "sent an update" in answered.plain()

    # The human update restarted the clock: next tick 30 minutes after it, with a reminder again.
    with clock_at(T0 + timedelta(minutes=80)):
        assert await runs.wake(expect=0) == []
    with clock_at(T0 + timedelta(minutes=96, seconds=30)):
        assert await runs.wake(expect=1) == ["incident-update-1"]
    scheduled = updates_to(bot, VIEWER)[-1]
    assert len(bot.slack.dms(VIEWER)) == 4 and "Next steps" in scheduled
    assert "rolling back to v1 at 10:15" in scheduled  # the "Next:" of the last human update
    assert len(reminders_in(bot, ts)) == 3

    # Snoozed, then resolved: the snooze job goes with the incident.
    with clock_at(T0 + timedelta(minutes=97)):
        await bot.slack.click(ONCALL, reminders_in(bot, ts)[-1], "incident.reminder.snooze")
        await bot.slack.wait_for_text("snoozed until 11:07", user=ONCALL)
        assert bot.app.services.scheduler.get_job("incident-reminder-1") is not None
        await bot.command("incident resolve INC-1 rolled back to v1")
        await settle(bot)
    assert bot.app.services.scheduler.get_job("incident-reminder-1") is None
    assert bot.app.services.scheduler.get_job("incident-update-1") is None


async def test_two_checks_at_once_post_one_reminder(bot: BotHarness) -> None:
    with clock_at(T0):
        ts = await declare(bot, "sev1 Versicolor recall dropped")
    updates = bot.app.services.updates  # type: ignore[union-attr]
    assert updates is not None and updates.reminders is not None
    with clock_at(T0 + timedelta(minutes=31)):
        posted = await asyncio.gather(*(updates.reminders.check(1) for _ in range(4)))
        await settle(bot)
    assert sum(r is not None for r in posted) == 1
    assert len(reminders_in(bot, ts)) == 1


async def test_no_reminders_without_a_cadence_or_after_an_update(bot: BotHarness) -> None:
    updates = bot.app.services.updates  # type: ignore[union-attr]
    assert updates is not None and updates.reminders is not None
    with clock_at(T0):
        await declare(bot, "sev4 A dashboard is slow")
        await declare(bot, "sev1 Virginica never predicted")
    with clock_at(T0 + timedelta(minutes=20)):
        await bot.command("incident update INC-2 looking at the features")
        await bot.slack.wait_for_text("posted in its thread", user=ONCALL)
        await settle(bot)
    with clock_at(T0 + timedelta(hours=5)):
        assert await updates.reminders.check(1) is None  # SEV4: no cadence, no reminder
    with clock_at(T0 + timedelta(minutes=45)):
        assert await updates.reminders.check(2) is None  # an update 25 minutes ago
