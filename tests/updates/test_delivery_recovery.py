"""Stakeholder updates after a crash: no update lost, none sent twice (runbook 8, communicate).

A crash between a post and its ledger mark leaves the row `sending`; the recovery looks for the
message in the recipient's conversation by its metadata and posts only what is not there. The
crashes are simulated where they happen: the ledger write after the post fails, or Slack answers
a post with a 502 (outcome unknown, nothing posted).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from bot.db import Database
from bot.incidents.models import Incident
from bot.updates import subscriptions
from bot.updates.flows import IncidentUpdates
from bot.updates.subscriptions import Delivery
from tests.harness import ADMIN, ONCALL, VIEWER, BotHarness
from tests.incidents.helpers import prepare
from tests.incidents.test_lifecycle import declare
from tests.updates.test_subscriptions import run_job, stakeholder_texts, texts

SUBSCRIBERS = [VIEWER, ADMIN]


def updates_of(bot: BotHarness) -> IncidentUpdates:
    assert bot.app.services.incidents is not None
    updates = bot.app.services.updates
    assert updates is not None
    return updates


async def states(bot: BotHarness) -> list[str]:
    rows = await updates_of(bot)._db(subscriptions.delivered, incident_id=1)
    return sorted(state for _, _, state in rows)


async def subscribed(bot: BotHarness) -> None:
    await declare(bot)
    for user in SUBSCRIBERS:
        await bot.command("subscribe INC-1", user=user)
        await bot.slack.wait_for_text("will get updates on INC-1", user=user)


def assert_everyone_got_exactly_one(bot: BotHarness) -> None:
    for user in SUBSCRIBERS:
        got = texts(bot, user)
        assert len(got) == 1 and "Update on INC-1" in got[0], got
    assert len(stakeholder_texts(bot)) == 1, stakeholder_texts(bot)
    assert texts(bot, ONCALL) == []


def history_calls(bot: BotHarness) -> list[dict[str, Any]]:
    return [p for m, p in bot.slack.calls if m == "conversations.history"]


async def run_job_while_posts_fail(bot: BotHarness) -> int:
    """The update job while every chat.postMessage answers 502 (outcome unknown to the bot)."""
    bot.slack.inject_faults(method="chat.postMessage", status=502, rate=1.0)
    try:
        return await run_job(bot)
    finally:
        bot.slack.clear_faults()


async def restart(bot: BotHarness) -> IncidentUpdates:
    """A new bot process on the same database and the same Slack (its memory is gone)."""
    await bot.restart_bot()
    prepare(bot, without_registry=True)
    return updates_of(bot)


async def test_posted_before_the_crash_is_found_after_a_restart_and_not_sent_again(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await subscribed(bot)
    real_finish = subscriptions.finish_all

    def crash(conn: Any, **kwargs: Any) -> int:
        if kwargs["finished"]:
            raise RuntimeError("process died between the posts and the ledger mark")
        return real_finish(conn, **kwargs)

    monkeypatch.setattr(subscriptions, "finish_all", crash)
    assert await run_job(bot) == 0  # the job failed (logged)
    monkeypatch.setattr(subscriptions, "finish_all", real_finish)
    assert await states(bot) == ["sending"] * 3
    assert_everyone_got_exactly_one(bot)  # the posts did happen

    updates = await restart(bot)
    # The composition root's start-up call; the rows are seconds old, so for this test the grace
    # period (another process might still be sending them) is over.
    updates.delivery.recovery_grace = timedelta(0)
    assert await updates.recover() == 3
    assert_everyone_got_exactly_one(bot)  # found by their metadata: nothing posted again
    assert await states(bot) == ["sent"] * 3
    lookups = history_calls(bot)
    assert len(lookups) == 3 and all(p["include_all_metadata"] in ("1", 1, True) for p in lookups)
    assert bot.slack.call_count("conversations.open") == 2  # the new process learns the DM ids

    assert await updates.recover() == 0  # nothing left to settle
    assert await run_job(bot) == 0  # and the slot is done
    assert_everyone_got_exactly_one(bot)


async def test_not_posted_is_posted_by_the_recovery_exactly_once(bot: BotHarness) -> None:
    await subscribed(bot)
    # A 502: Slack may or may not have taken the post (here it did not); the rows stay `sending`.
    assert await run_job_while_posts_fail(bot) == 0
    assert await states(bot) == ["sending"] * 3
    assert texts(bot, VIEWER) == texts(bot, ADMIN) == stakeholder_texts(bot) == []

    updates = updates_of(bot)
    updates.delivery.recovery_grace = timedelta(0)
    assert await updates.recover() == 3
    assert_everyone_got_exactly_one(bot)
    assert await states(bot) == ["sent"] * 3
    assert len(history_calls(bot)) == 3
    assert await updates.recover() == 0
    assert await run_job(bot) == 0
    assert_everyone_got_exactly_one(bot)


async def test_claimed_but_never_started_is_posted_without_a_lookup(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await subscribed(bot)

    def crash(conn: Any, **kwargs: Any) -> set[str]:
        raise RuntimeError("process died right after the claim")

    monkeypatch.setattr(subscriptions, "start_all", crash)
    assert await run_job(bot) == 0
    monkeypatch.undo()
    assert await states(bot) == ["queued"] * 3

    updates = updates_of(bot)
    updates.delivery.recovery_grace = timedelta(0)
    assert await updates.recover() == 3
    assert_everyone_got_exactly_one(bot)
    assert await states(bot) == ["sent"] * 3
    assert history_calls(bot) == []  # a queued row was never handed to Slack


async def test_the_next_scheduled_run_recovers_first(bot: BotHarness) -> None:
    await subscribed(bot)
    await run_job_while_posts_fail(bot)
    updates = updates_of(bot)
    updates.delivery.recovery_grace = timedelta(0)
    assert await run_job(bot) == 0  # the slot is claimed already; the recovery posted it
    assert_everyone_got_exactly_one(bot)
    assert await states(bot) == ["sent"] * 3


async def test_a_fresh_sending_row_is_left_to_its_sender(bot: BotHarness) -> None:
    await subscribed(bot)
    await run_job_while_posts_fail(bot)
    updates = updates_of(bot)
    # Seconds old and not this process's: another sender may be in the middle of posting them.
    assert await updates.recover() == 0
    assert history_calls(bot) == [] and await states(bot) == ["sending"] * 3
    assert texts(bot, VIEWER) == []

    real_clock = updates.clock
    updates.clock = lambda: real_clock() + updates.delivery.recovery_grace + timedelta(seconds=1)
    assert await updates.recover() == 3  # older than the grace period: its sender is gone
    assert_everyone_got_exactly_one(bot)


async def test_at_start_up_the_recovery_waits_for_fresh_rows_to_age(bot: BotHarness) -> None:
    await subscribed(bot)
    await run_job_while_posts_fail(bot)
    updates = updates_of(bot)
    updates.delivery.recovery_grace = timedelta(seconds=0.5)  # a crash just before the restart
    assert await updates.recover(wait_for_fresh=True) == 3
    assert_everyone_got_exactly_one(bot)


async def test_rows_this_process_is_sending_are_never_recovered(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await subscribed(bot)
    updates = updates_of(bot)
    updates.delivery.recovery_grace = timedelta(0)  # age alone would let the recovery take them
    release = asyncio.Event()
    real_send = updates.delivery.notifier.send

    async def slow_send(*args: Any, **kwargs: Any) -> None:
        await release.wait()
        await real_send(*args, **kwargs)

    monkeypatch.setattr(updates.delivery.notifier, "send", slow_send)
    job = asyncio.create_task(run_job(bot))
    for _ in range(500):
        if await states(bot) == ["sending"] * 3:
            break
        await asyncio.sleep(0.01)
    assert await states(bot) == ["sending"] * 3
    assert await updates.recover() == 0
    assert history_calls(bot) == []
    release.set()
    assert await job == 3
    assert_everyone_got_exactly_one(bot)
    assert await states(bot) == ["sent"] * 3


async def test_two_runs_of_one_slot_at_once_post_once(bot: BotHarness) -> None:
    await subscribed(bot)
    first, second = await asyncio.gather(run_job(bot), run_job(bot))
    assert first + second == 3
    assert_everyone_got_exactly_one(bot)
    assert await states(bot) == ["sent"] * 3


async def test_fan_out_is_bounded_and_needs_no_conversations_open(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await declare(bot)
    updates = updates_of(bot)
    users = [f"U1{i:04d}" for i in range(60)]
    for i, user in enumerate(users):
        bot.slack.add_user(user, f"user{i}")
        assert await updates.subscribe(subscriber=user, kind="user", incident_id=None)
    in_flight = peak = 0
    real_send = updates.delivery.notifier.send

    async def counted(*args: Any, **kwargs: Any) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.005)
            await real_send(*args, **kwargs)
        finally:
            in_flight -= 1

    monkeypatch.setattr(updates.delivery.notifier, "send", counted)
    assert await run_job(bot) == 61
    assert peak == updates.delivery.concurrency
    assert all(len(bot.slack.dms(u)) == 1 for u in users)
    assert bot.slack.call_count("conversations.open") == 0
    updates_posted = [p for m, p in bot.slack.calls if m == "chat.postMessage" and "metadata" in p]
    assert len(updates_posted) == 61  # one call per subscriber
    assert len(stakeholder_texts(bot)) == 1


# --- the ledger itself, on SQLite and PostgreSQL ---------------------------------------------------
def test_ledger_claims_once_and_moves_by_compare_and_set(db: Database) -> None:
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    t1, t2 = t0 + timedelta(seconds=1), t0 + timedelta(seconds=2)
    key = {"incident_id": 1, "slot": "every60m@x#0"}
    with db.connection() as conn:
        conn.execute(
            insert(Incident.__table__).values(
                id=1, number=1, title="t", severity="SEV2", status="open", group_key="g"
            )
        )
        assert subscriptions.claim_all(conn, subscribers=["U1", "U2", "C1"], now=t0, **key) == {
            "U1",
            "U2",
            "C1",
        }
        assert subscriptions.claim_all(conn, subscribers=["U1", "U2", "C1"], now=t0, **key) == set()
        assert subscriptions.start_all(conn, subscribers=["U1", "U2", "C1"], now=t1, **key) == {
            "U1",
            "U2",
            "C1",
        }
        assert subscriptions.start_all(conn, subscribers=["U1"], now=t1, **key) == set()
        # U1 sent; U2 failed; a stale finish of C1 (it was taken over) changes nothing.
        finished = [("U1", True, t1), ("U2", False, t1), ("C1", True, t0)]
        assert subscriptions.finish_all(conn, finished=finished, now=t2, **key) == 2
        assert subscriptions.claim_all(conn, subscribers=["U1", "U2", "C1"], now=t2, **key) == {
            "U2"
        }
        left = subscriptions.unfinished(conn)
        assert {(u.delivery.subscriber, u.state, u.kind) for u in left} == {
            ("U2", "queued", "user"),
            ("C1", "sending", "channel"),
        }
        c1 = next(u for u in left if u.delivery.subscriber == "C1")
        assert c1.since == t1
        # The recovery found nothing for C1: back to queued, once (a second settle is stale).
        assert subscriptions.settle(conn, found=[], missing=[(c1.delivery, c1.since)], now=t2) == [
            Delivery(1, "C1", key["slot"])
        ]
        assert subscriptions.settle(conn, found=[(c1.delivery, c1.since)], missing=[], now=t2) == []
        assert sorted(s for _, _, s in subscriptions.delivered(conn, incident_id=1)) == [
            "queued",
            "queued",
            "sent",
        ]
