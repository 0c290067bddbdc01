"""What a first-time user types, read the way they meant it: one
bot on the Slack stand-in, each command answered in its ack."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import ONCALL, VIEWER, BotHarness, start_harness
from tests.incidents.helpers import prepare, settle


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    harness = await start_harness(tmp_path)
    prepare(harness, without_registry=True)
    try:
        yield harness
    finally:
        await harness.stop()


async def said(bot: BotHarness, text: str, *, user: str = ONCALL) -> str:
    """The ack's text, as the user reads it (blocks joined)."""
    ack = await bot.command(text, user=user)
    assert ack.ok, ack
    body = json.loads(ack.body)
    texts = [body.get("text", "")]
    for block in body.get("blocks", []):
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [e.get("text", "") for e in block.get("elements", [])]
    return "\n".join(texts)


async def test_words_are_read_as_meant(bot: BotHarness) -> None:
    # A word left over is named as unexpected, whatever else the command says about it.
    answer = await said(bot, "rollback v1 --reason “smart quotes” extra")
    assert "Unexpected `extra`" in answer
    answer = await said(bot, "deploy v2 --reason “smart quotes” extra")
    assert "Unexpected `extra`" in answer and "Name one version" not in answer

    # An em dash (what macOS and iOS type for `--`) starts an option: `x` is its value.
    answer = await said(bot, "deploy v2 —reason x extra")
    assert "Unexpected `extra`" in answer and "—reason" not in answer, answer

    # Full-width letters and digits are read the same everywhere (NFKC).
    answer = await said(bot, "ｄｅｐｌｏｙ v2 extra")
    assert "Unexpected `extra`" in answer and "/iris deploy" in answer, answer
    answer = await said(bot, "rollback v２ ｖ1")
    assert "Unexpected `v1`" in answer, answer

    # A 5,000-character argument is echoed as a short prefix, not in full.
    for typed in ("rollback v1 " + "v" * 5000, "w" * 5000, "runbook show " + "r" * 5000):
        answer = await said(bot, typed)
        assert not any(c * 100 in answer for c in "vwr"), answer[:300]
        assert len(answer) < 800, answer

    # Every subcommand is in its parent's help.
    answer = await said(bot, "help data")
    assert "data ingest" in answer
    assert "runbook run" in await said(bot, "help runbook")


async def test_a_denial_names_the_role_and_who_has_it(bot: BotHarness) -> None:
    answer = await said(bot, "audit", user=ONCALL)
    assert "needs the *admin* role" in answer
    assert "<@U0ADMIN>" in answer and "ask the oncall engineer" not in answer
    answer = await said(bot, "deploy v2", user=VIEWER)
    assert "<@U0ONCALL>" in answer and "<@U0ADMIN>" in answer


async def test_postmortem_names_people_and_says_what_happened(bot: BotHarness) -> None:
    await bot.command("incident declare sev2 Predictions for setosa are all wrong")
    await bot.slack.wait_for_text("Declared", user=ONCALL, timeout=10)
    await bot.command("incident resolve INC-1 rolled back to v1")
    await bot.slack.wait_for_text("INC-1 is resolved", user=ONCALL, timeout=10)
    await settle(bot)
    stored = await bot.app.services.incidents.postmortem(incident_id=1)
    assert stored is not None
    draft = stored.read_text()
    assert "| Commander | @bob |" in draft, draft  # bob's display name, not U0ONCALL
    assert "U0ONCALL" not in draft
    assert "**Opened**" in draft and "**opened**" not in draft and "**resolved**" not in draft
