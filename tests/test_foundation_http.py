"""The bot over real HTTP with the Slack stand-in: signed requests in, Web API calls observed."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time

import httpx
from sqlalchemy import select

from bot.audit.models import AuditRecord
from bot.commands.context import Command, CommandContext
from tests.harness import ADMIN, ONCALL, SIGNING_SECRET, VIEWER, BotHarness


def _audit(bot: BotHarness) -> list[AuditRecord]:
    bot.app.services.audit_buffer.flush()  # read-only commands' rows are written in batches
    with bot.app.services.db.session() as session:
        return list(session.scalars(select(AuditRecord).order_by(AuditRecord.at, AuditRecord.id)))


def _signed_headers(
    body: bytes, *, timestamp: int | None = None, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


SLASH_BODY = b"command=%2Firis&text=status&user_id=U0ONCALL&channel_id=C0ONCALL&team_id=T0LOCAL&response_url=http%3A%2F%2F127.0.0.1%3A1%2Fx&trigger_id=1.2.3"


async def test_help_lists_every_registered_command(bot: BotHarness) -> None:
    ack = await bot.command("help", user=VIEWER)
    assert ack.status == 200 and not ack.timed_out
    message = await bot.slack.wait_for_text("Commands for /iris", user=VIEWER)
    for command in bot.app.commands.sorted():
        assert f"/iris {command.usage}" in message.plain()
    # Usage lines come from the declared arguments, summaries from templates/_commands.j2.
    assert '/iris deploy <version> [--reason "..."]`  Deploy a version to production' in (
        message.plain()
    )
    assert "/iris incident commander [INC-n] @user`  Hand the incident commander" in message.plain()
    assert "Your role: *viewer*" in message.plain()


async def test_help_for_one_command_shows_usage_and_role(bot: BotHarness) -> None:
    await bot.command("help audit", user=VIEWER)
    message = await bot.slack.wait_for_text("/iris audit", user=VIEWER)
    assert "Needs the *admin* role" in message.plain()
    assert "/iris audit [count] [@user]" in message.plain()
    assert "/iris audit 50 @bob" in message.plain()  # an example, from _commands.j2
    await bot.command("help incident", user=VIEWER)
    group = await bot.slack.wait_for_text("Commands for /iris incident", user=VIEWER)
    assert "/iris incident declare [sev1..sev4] <title>" in group.plain()
    await bot.command("help frobnicate", user=VIEWER)
    await bot.slack.wait_for_text("There is no command `frobnicate`", user=VIEWER)


async def test_arguments_are_checked_before_the_handler_runs(bot: BotHarness) -> None:
    """Counts and kinds of arguments come from the declaration; the answer names the usage."""
    await bot.command("deploy")
    missing = await bot.slack.wait_for_text("Name one version to deploy", user=ONCALL)
    assert 'Usage: `/iris deploy <version> [--reason "..."]`' in missing.plain()
    await bot.command("rollback v1 v2")
    await bot.slack.wait_for_text("Name at most one version", user=ONCALL)
    await bot.command("audit lots", user=ADMIN)
    await bot.slack.wait_for_text("`lots` is neither a count nor a @user", user=ADMIN)
    await bot.command("runbook show")
    await bot.slack.wait_for_text("Which runbook?", user=ONCALL)
    await bot.command("status now")
    extra = await bot.slack.wait_for_text("Unexpected `now`", user=ONCALL)
    assert "Usage: `/iris status`" in extra.plain()
    records = _audit(bot)[-5:]
    assert [(r.action, r.result) for r in records] == [
        ("deploy", "invalid"),
        ("rollback", "invalid"),
        ("audit", "invalid"),
        ("runbook show", "invalid"),
        ("status", "invalid"),
    ]


async def test_empty_command_is_help(bot: BotHarness) -> None:
    await bot.command("", user=VIEWER)
    await bot.slack.wait_for_text("Commands for /iris", user=VIEWER)


async def test_status_reports_health(bot: BotHarness) -> None:
    ack = await bot.command("status")
    assert ack.status == 200
    message = await bot.slack.wait_for_text("Oncall bot", user=ONCALL)
    text = message.plain()
    assert "http" in text and "sqlite" in text and "running" in text


async def test_unknown_command_gets_usage_and_a_suggestion(bot: BotHarness) -> None:
    await bot.command("stauts")
    message = await bot.slack.wait_for_text("not a command I know", user=ONCALL)
    assert "Did you mean `/iris status`" in message.plain()
    assert _audit(bot)[-1].result == "invalid"


async def test_denied_command_names_the_role_and_is_audited(bot: BotHarness) -> None:
    await bot.command("audit", user=VIEWER)
    message = await bot.slack.wait_for_text("needs the *admin* role", user=VIEWER)
    assert "you have *viewer*" in message.plain()
    record = _audit(bot)[-1]
    assert (record.actor, record.action, record.result) == (VIEWER, "audit", "denied")


async def test_every_command_is_audited_with_its_outcome(bot: BotHarness) -> None:
    await bot.command("status", user=VIEWER)
    await bot.slack.wait_for_text("Oncall bot", user=VIEWER)
    await bot.command("audit 5", user=ADMIN)
    message = await bot.slack.wait_for_text("Audit trail", user=ADMIN)
    assert "`status`" in message.plain()
    records = _audit(bot)
    assert [(r.action, r.result) for r in records][-2:] == [("status", "ok"), ("audit", "ok")]
    assert records[-2].actor == VIEWER and records[-2].arguments == "status"


async def test_unparseable_text_is_answered(bot: BotHarness) -> None:
    await bot.command('help "unclosed')
    await bot.slack.wait_for_text("close the quote", user=ONCALL)


async def test_wrong_signature_is_401_and_does_nothing(bot: BotHarness) -> None:
    before = len(_audit(bot))
    async with httpx.AsyncClient() as client:
        forged = await client.post(
            f"{bot.url}/slack/events",
            content=SLASH_BODY,
            headers=_signed_headers(SLASH_BODY, secret="wrong"),
        )
        unsigned = await client.post(
            f"{bot.url}/slack/events",
            content=SLASH_BODY,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        stale = await client.post(
            f"{bot.url}/slack/events",
            content=SLASH_BODY,
            headers=_signed_headers(SLASH_BODY, timestamp=int(time.time()) - 301),
        )
        good = await client.post(
            f"{bot.url}/slack/events", content=SLASH_BODY, headers=_signed_headers(SLASH_BODY)
        )
    assert (forged.status_code, unsigned.status_code, stale.status_code) == (401, 401, 401)
    assert good.status_code == 200
    assert len(_audit(bot)) == before + 1  # only the good one


async def test_replayed_request_with_tampered_body_is_rejected(bot: BotHarness) -> None:
    headers = _signed_headers(SLASH_BODY)
    tampered = SLASH_BODY.replace(b"text=status", b"text=audit")
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{bot.url}/slack/events", content=tampered, headers=headers)
    assert response.status_code == 401


async def test_slow_command_acks_in_budget_and_answers_via_response_url(
    bot: BotHarness, monkeypatch
) -> None:
    import bot.slack.commands as commands_module

    monkeypatch.setattr(commands_module, "ACK_BUDGET", 0.2)
    release = asyncio.Event()

    async def slowpoke(ctx: CommandContext):  # type: ignore[no-untyped-def]
        await release.wait()
        return bot.app.services.renderer.render("mention", slash=ctx.slash)

    bot.app.commands.add(Command("slowpoke", slowpoke))

    ack = await bot.command("slowpoke")
    assert ack.status == 200 and ack.latency_ms < 3000
    await bot.slack.wait_for_text("Working on `/iris slowpoke`", user=ONCALL)
    release.set()
    await bot.slack.wait_for_text("I answer `/iris` commands", user=ONCALL)


async def test_a_crashing_command_answers_with_an_error_id_not_a_trace(bot: BotHarness) -> None:
    async def boom(ctx: CommandContext):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals")

    bot.app.commands.add(Command("boom", boom))

    ack = await bot.command("boom")
    assert ack.status == 200
    message = await bot.slack.wait_for_text("Something went wrong", user=ONCALL)
    assert "secret internals" not in message.plain() and "Traceback" not in message.plain()
    assert _audit(bot)[-1].result == "error"
    # The bot keeps serving.
    await bot.command("status")
    await bot.slack.wait_for_text("Oncall bot", user=ONCALL)


async def test_health_and_metrics_endpoints(bot: BotHarness) -> None:
    await bot.command("status")
    await bot.slack.wait_for_text("Oncall bot", user=ONCALL)
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{bot.url}/healthz")
        metrics = await client.get(f"{bot.url}/metrics")
    assert health.status_code == 200 and health.json()["database"] == "ok"
    assert 'oncall_bot_commands_total{command="status",result="ok"}' in metrics.text
    assert "oncall_bot_ack_seconds_bucket" in metrics.text


async def test_signed_garbage_is_not_a_500(bot: BotHarness) -> None:
    async with httpx.AsyncClient() as client:
        for body in (b"\xff\xfe\x00garbage", b"payload=%7Bnot-json", b"{}", b"payload=%5B%5D"):
            response = await client.post(
                f"{bot.url}/slack/events", content=body, headers=_signed_headers(body)
            )
            assert response.status_code < 500, body
        health = await client.get(f"{bot.url}/healthz")
    assert health.status_code == 200


async def test_text_that_cannot_be_read_gets_a_worded_answer(bot: BotHarness) -> None:
    await bot.command('incident declare "broken')
    await bot.slack.wait_for_text("A quote is not closed", user=ONCALL)
    await bot.command("deploy v2 --reason")
    answer = await bot.slack.wait_for_text("`--reason` needs a value", user=ONCALL)
    assert "Usage: `/iris deploy <version>" in answer.plain()
    assert [r.result for r in _audit(bot)[-2:]] == ["invalid", "invalid"]
