"""A crash-recovery lookup that Slack refuses for good never leaves a delivery `sending`.

The stand-in grants the bot token what the workspace granted (here: the app manifest without
`im:history`, or a channel that is gone); the lookup of an update in a DM then answers
missing_scope, as real Slack does. The row ends `failed` with the reason, the incident's
timeline and `/iris incident show` say so, and nothing is posted twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from sqlalchemy import insert, select

from bot.db import Database
from bot.incidents.models import Incident
from bot.slack.updates_notifier import _refusal
from bot.updates import subscriptions
from bot.updates.models import IncidentUpdateDelivery
from bot.updates.subscriptions import Delivery
from tests.harness import ADMIN, VIEWER, BotHarness
from tests.updates.test_delivery_recovery import (
    assert_everyone_got_exactly_one,
    restart,
    run_job_while_posts_fail,
    states,
    subscribed,
    updates_of,
)
from tests.updates.test_subscriptions import run_job, texts


async def errors(bot: BotHarness) -> dict[str, str | None]:
    def read(conn: Any) -> dict[str, str | None]:
        table = IncidentUpdateDelivery.__table__
        return {
            r.subscriber: r.error for r in conn.execute(select(table.c.subscriber, table.c.error))
        }

    return await updates_of(bot)._db(read)


async def crash_after_posting(bot: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The posts happen; the process dies before the ledger says so (rows stay `sending`)."""
    real_finish = subscriptions.finish_all

    def crash(conn: Any, **kwargs: Any) -> int:
        if kwargs["finished"]:
            raise RuntimeError("process died between the posts and the ledger mark")
        return real_finish(conn, **kwargs)

    monkeypatch.setattr(subscriptions, "finish_all", crash)
    assert await run_job(bot) == 0
    monkeypatch.setattr(subscriptions, "finish_all", real_finish)
    assert await states(bot) == ["sending"] * 3


async def test_without_im_history_the_dm_rows_end_failed_with_the_reason(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await subscribed(bot)
    await crash_after_posting(bot, monkeypatch)
    assert_everyone_got_exactly_one(bot)

    updates = await restart(bot)
    bot.slack.bot_scopes.discard("im:history")  # an app installed without it
    updates.delivery.recovery_grace = timedelta(0)
    assert await updates.recover() == 3  # the channel's found, the two DMs' failed
    assert await states(bot) == ["failed", "failed", "sent"]
    refused = [c for c in bot.slack.api_log if c.error == "missing_scope"]
    assert [c.method for c in refused] == ["conversations.history"] * 2
    reason = "conversations.history: missing_scope (needs im:history)"
    assert await errors(bot) == {VIEWER: reason, ADMIN: reason, "ml-stakeholders": None}
    assert_everyone_got_exactly_one(bot)  # nothing was posted again

    assert await updates.recover() == 0  # nothing is left `sending`
    assert await run_job(bot) == 0  # the same slot again: a failed-unknown row is not re-posted
    assert_everyone_got_exactly_one(bot)

    await bot.command("incident show INC-1", user=VIEWER)
    shown = (await bot.slack.wait_for_text("INC-1 ·", user=VIEWER)).plain()
    for user in (VIEWER, ADMIN):
        assert f"update to @{user} *failed*" in shown, shown
    assert shown.count("missing_scope (needs im:history)") == 2, shown


async def test_a_channel_gone_ends_failed_and_the_others_are_posted_once(
    bot: BotHarness,
) -> None:
    await subscribed(bot)
    assert await run_job_while_posts_fail(bot) == 0  # nothing posted; rows `sending`
    assert await states(bot) == ["sending"] * 3
    del bot.slack.workspace.channels[bot.slack.channel_id("ml-stakeholders")]

    updates = updates_of(bot)
    updates.delivery.recovery_grace = timedelta(0)
    assert await updates.recover() == 3
    assert await states(bot) == ["failed", "sent", "sent"]
    assert (await errors(bot))["ml-stakeholders"] == "conversations.history: channel_not_found"
    for user in (VIEWER, ADMIN):
        got = texts(bot, user)
        assert len(got) == 1 and "Update on INC-1" in got[0], got

    await bot.command("incident show INC-1", user=VIEWER)
    shown = (await bot.slack.wait_for_text("INC-1 ·", user=VIEWER)).plain()
    assert "channel_not_found" in shown and "*failed*" in shown, shown


def _slack_error(status: int, body: dict[str, Any]) -> SlackApiError:
    response = AsyncSlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/conversations.history",
        req_args={},
        data=body,
        headers={},
        status_code=status,
    )
    return SlackApiError("failed", response)


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (
            200,
            {"ok": False, "error": "missing_scope", "needed": "im:history"},
            "conversations.history: missing_scope (needs im:history)",
        ),
        (200, {"ok": False, "error": "not_in_channel"}, "conversations.history: not_in_channel"),
        (200, {"ok": False, "error": "internal_error"}, None),  # Slack's "try again"
        (200, {"ok": False, "error": "ratelimited"}, None),
        (429, {"ok": False, "error": "ratelimited"}, None),
        (503, {"ok": False, "error": "service_unavailable"}, None),
    ],
)
def test_which_slack_answers_end_a_lookup(
    status: int, body: dict[str, Any], reason: str | None
) -> None:
    assert _refusal(_slack_error(status, body)) == reason


# --- the ledger, on SQLite and PostgreSQL --------------------------------------------------------
def test_a_refused_row_fails_once_and_is_never_claimed_again(db: Database) -> None:
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    t1, t2 = t0 + timedelta(seconds=1), t0 + timedelta(seconds=2)
    key = {"incident_id": 1, "slot": "resolved"}
    with db.connection() as conn:
        conn.execute(
            insert(Incident.__table__).values(
                id=1, number=1, title="t", severity="SEV2", status="open", group_key="g"
            )
        )
        subscriptions.claim_all(conn, subscribers=["U1", "U2"], now=t0, **key)
        subscriptions.start_all(conn, subscribers=["U1", "U2"], now=t1, **key)
        u1 = Delivery(1, "U1", "resolved")
        refused = [(u1, t1, "missing_scope")]
        assert subscriptions.fail_unknowable(conn, failed=refused, now=t2) == [u1]
        assert subscriptions.fail_unknowable(conn, failed=refused, now=t2) == []  # stale
        # U2's post failed for sure: a second claim of the slot retries it, never U1's.
        subscriptions.finish_all(conn, finished=[("U2", False, t1)], now=t2, **key)
        assert subscriptions.claim_all(conn, subscribers=["U1", "U2"], now=t2, **key) == {"U2"}
        assert subscriptions.delivered(conn, incident_id=1) == [
            ("U1", "resolved", "failed"),
            ("U2", "resolved", "queued"),
        ]
