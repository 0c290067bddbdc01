"""The production policy on every path that moves `production`, and preflight's own measurement.

A version the regression gate rejected, or that someone discarded, reaches production only through
an admin's `--force --reason`, which the audit trail records. Read each test as a chat transcript.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.roles import Role
from bot.audit import service as audit
from bot.deploy.guard import OVERRIDE_AUDIT_ACTION
from bot.deploy.policy import GateFacts, ProductionAction, decide
from bot.deploy.preflight import HoldoutAgreement
from bot.runbook import RunStatus
from tests.harness import ADMIN, BOT_TOKEN, ONCALL, ModelBotHarness, start_model_harness
from tests.incidents.helpers import prepare, settle
from tests.test_deploy_e2e import confirm_card, production, register_model, wait_run

WAY_OUT = "promote v2 --force --reason"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[ModelBotHarness]:
    harness = await start_model_harness(tmp_path)
    try:
        yield harness
    finally:
        await harness.stop()


def reject_v2(bot: ModelBotHarness) -> None:
    """What the retrain gate writes when it rejects a candidate."""
    bot.app.services.models.set_tags(  # type: ignore[union-attr]
        2,
        {
            "validation_status": "rejected",
            "validation_reasons": "macro-F1 0.801 below the floor 0.850",
        },
    )


def discard(bot: ModelBotHarness, version: int) -> None:
    """What the Discard button writes."""
    bot.app.services.models.set_tags(  # type: ignore[union-attr]
        version,
        {
            "validation_status": "rejected",
            "validation_reasons": f"discarded by <@{ONCALL}>",
            "discarded_by": ONCALL,
        },
    )


def overrides(bot: ModelBotHarness) -> list[audit.AuditEntry]:
    with bot.app.services.db.session() as session:
        return audit.recent(session, action=OVERRIDE_AUDIT_ACTION)


async def assert_forced_through(bot: ModelBotHarness, card_prompt: str) -> None:
    card = await confirm_card(bot, card_prompt, user=ADMIN)
    await bot.slack.wait_for_text("done", thread_ts=card.ts, timeout=20)
    assert production(bot) == 2
    [row] = overrides(bot)
    assert row.actor == ADMIN and row.arguments.startswith("v2 run #")
    assert "gate_rejected" in row.detail and "INC-9 v1 mislabels virginica" in row.detail
    tags = bot.app.services.models.describe(2).tags  # type: ignore[union-attr]
    assert tags["forced_by"] == ADMIN and tags["force_reason"] == "INC-9 v1 mislabels virginica"


# --- the policy itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "discarded", "action", "history", "expected"),
    [
        ("passed", False, ProductionAction.DEPLOY, False, "allowed"),
        ("pending", False, ProductionAction.DEPLOY, False, "allowed"),
        ("rejected", False, ProductionAction.DEPLOY, False, "gate_rejected"),
        ("rejected", True, ProductionAction.DEPLOY, False, "discarded"),
        ("failed", False, ProductionAction.DEPLOY, False, "validation_failed"),
        ("pending", False, ProductionAction.PROMOTE, False, "not_passed"),
        ("passed", False, ProductionAction.PROMOTE, False, "allowed"),
        ("pending", False, ProductionAction.ROLLBACK, False, "never_validated"),
        ("pending", False, ProductionAction.ROLLBACK, True, "allowed"),
        ("rejected", False, ProductionAction.ROLLBACK, True, "gate_rejected"),
    ],
)
def test_policy_for_oncall(
    status: str, discarded: bool, action: ProductionAction, history: bool, expected: str
) -> None:
    facts = GateFacts(
        3, status, discarded_by=ONCALL if discarded else None, ever_in_production=history
    )
    decision = decide(facts, action=action, role=Role.ONCALL, force=False, reason="")
    assert decision.kind == expected
    assert decision.allowed is (expected == "allowed")
    if not decision.allowed:
        assert decision.template == "production_refused" and decision.facts["version"] == "v3"


def test_force_is_an_admins_with_a_reason_and_names_what_it_overrode() -> None:
    rejected = GateFacts(3, "rejected", reasons="accuracy below the floor")
    for role in (Role.VIEWER, Role.ONCALL):
        refused = decide(
            rejected, action=ProductionAction.DEPLOY, role=role, force=True, reason="x"
        )
        assert refused.kind == "force_needs_admin" and not refused.allowed
    no_reason = decide(
        rejected, action=ProductionAction.DEPLOY, role=Role.ADMIN, force=True, reason="  "
    )
    assert no_reason.kind == "force_needs_reason"
    forced = decide(
        rejected, action=ProductionAction.PROMOTE, role=Role.ADMIN, force=True, reason="INC-9"
    )
    assert forced.allowed and forced.overridden == "gate_rejected"
    plain = decide(
        rejected, action=ProductionAction.DEPLOY, role=Role.ADMIN, force=False, reason=""
    )
    assert not plain.allowed and plain.facts["admin"] is True  # an admin must say --force too


def test_holdout_agreement_tolerance() -> None:
    assert HoldoutAgreement(stored=0.977778, measured=0.977778).ok
    assert not HoldoutAgreement(stored=0.99, measured=0.977778).ok
    assert not HoldoutAgreement(stored=None, measured=0.9).ok


# --- every path, as the oncall engineer and as an admin -----------------------------------------


async def test_deploy_and_promote_of_a_gate_rejected_version(bot: ModelBotHarness) -> None:
    reject_v2(bot)
    await bot.command("deploy v2")
    refused = await bot.slack.wait_for_text("has not passed the retrain gate", user=ONCALL)
    assert "macro-F1 0.801 below the floor" in refused.plain() and WAY_OUT in refused.plain()
    assert "Only an admin" in refused.plain()

    await bot.command("promote v2")
    refused = await bot.slack.wait_for_text("has not passed the retrain gate", user=ONCALL)
    assert WAY_OUT in refused.plain()
    await bot.command('promote v2 --force --reason "trust me"')
    await bot.slack.wait_for_text("needs the *admin* role", user=ONCALL)

    await bot.command("deploy v2", user=ADMIN)  # an admin too has to say --force
    refused = await bot.slack.wait_for_text("has not passed the retrain gate", user=ADMIN)
    assert "To ship it anyway" in refused.plain()
    await bot.command("promote v2 --force", user=ADMIN)
    await bot.slack.wait_for_text("--force needs a reason", user=ADMIN)
    assert production(bot) == 1 and overrides(bot) == []

    await bot.command('promote v2 --force --reason "INC-9 v1 mislabels virginica"', user=ADMIN)
    await assert_forced_through(bot, "Promote v2 to production")


async def test_deploy_of_a_discarded_version(bot: ModelBotHarness) -> None:
    discard(bot, 2)
    await bot.command("deploy v2")
    refused = await bot.slack.wait_for_text("was discarded by", user=ONCALL)
    assert f"<@{ONCALL}>" in refused.blocks[0]["text"]["text"] and WAY_OUT in refused.plain()
    assert production(bot) == 1


async def test_rollback_to_a_version_never_validated(bot: ModelBotHarness) -> None:
    v3 = register_model(bot, shuffled_labels=False, claim_good_metrics=False)  # pending
    await bot.command(f"rollback v{v3}")
    refused = await bot.slack.wait_for_text("was never validated", user=ONCALL)
    assert f"promote v{v3} --force --reason" in refused.plain()
    assert f"deploy v{v3}" in refused.plain()  # deploy runs preflight; rollback does not
    reject_v2(bot)
    await bot.command("rollback v2")
    refused = await bot.slack.wait_for_text("has not passed the retrain gate", user=ONCALL)
    assert WAY_OUT in refused.plain()
    assert production(bot) == 1


async def test_runbook_run_goes_through_the_same_policy(bot: ModelBotHarness) -> None:
    reject_v2(bot)
    await bot.command("runbook run deploy version=v2")
    failed = await bot.slack.wait_for(
        lambda m: "has not passed the retrain gate" in m.plain() and m.thread_ts is not None,
        timeout=15,
    )
    assert WAY_OUT in failed.plain()
    await wait_run(bot, RunStatus.FAILED)

    await bot.command('runbook run deploy version=v2 force=true reason="because"')
    await bot.slack.wait_for(
        lambda m: "needs the *admin* role" in m.plain() and m.thread_ts is not None, timeout=15
    )
    v3 = register_model(bot, shuffled_labels=False, claim_good_metrics=False)
    await bot.command(f"runbook run rollback to_version=v{v3}")
    await bot.slack.wait_for(
        lambda m: "was never validated" in m.plain() and m.thread_ts is not None, timeout=15
    )
    await wait_run(bot, RunStatus.FAILED)
    assert production(bot) == 1 and overrides(bot) == []

    await bot.command(
        'runbook run deploy version=v2 force=true reason="INC-9 v1 mislabels virginica"',
        user=ADMIN,
    )
    await assert_forced_through(bot, "Promote v2 to production")


async def test_confirm_button_asks_again_when_the_version_was_discarded_meanwhile(
    bot: ModelBotHarness,
) -> None:
    await bot.command("deploy v2")
    card = await bot.slack.wait_for(
        lambda m: "Promote v2 to production" in m.plain() and bool(m.buttons), timeout=15
    )
    discard(bot, 2)  # someone clicks Discard on the retrain report while the card waits
    await bot.slack.click(ONCALL, card, "runbook.confirm")
    await bot.slack.wait_for(
        lambda m: "was discarded by" in m.plain() and m.thread_ts == card.ts, timeout=20
    )
    await wait_run(bot, RunStatus.ROLLED_BACK)
    assert production(bot) == 1


async def test_promote_button_of_a_rejected_version(bot: ModelBotHarness) -> None:
    reject_v2(bot)
    # An old report's Promote button (or a crafted one): the click itself is checked.
    client = AsyncWebClient(token=BOT_TOKEN, base_url=bot.slack.api_url)
    posted = await client.chat_postMessage(
        channel=bot.slack.channel_id("oncall"),
        text="Retrain report",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "retrain.promote",
                        "text": {"type": "plain_text", "text": "Promote v2"},
                        "value": "2",
                    }
                ],
            }
        ],
    )
    await bot.slack.click(ONCALL, str(posted["ts"]), "retrain.promote")
    refused = await bot.slack.wait_for_text("has not passed the retrain gate", user=ONCALL)
    assert WAY_OUT in refused.plain()
    assert production(bot) == 1


async def test_incident_rollback_button_to_a_discarded_version(bot: ModelBotHarness) -> None:
    prepare(bot)
    await bot.command("deploy v2")
    card = await confirm_card(bot, "Promote v2 to production")
    await bot.slack.wait_for_text("done", thread_ts=card.ts, timeout=20)
    discard(bot, 1)  # the version the rollback would go back to
    await bot.command("incident declare sev2 Accuracy dropped after the v2 deploy")
    await bot.slack.wait_for_text("You are the commander", user=ONCALL)
    await settle(bot)
    header = bot.slack.messages("incidents")[-1]
    await bot.slack.click(ONCALL, header, "incident.rollback")
    refused = await bot.slack.wait_for(
        lambda m: "v1 was discarded by" in m.plain() and m.thread_ts == header.ts, timeout=15
    )
    assert "promote v1 --force --reason" in refused.plain()
    assert production(bot) == 2


# --- preflight measures instead of trusting the stored figures ----------------------------------


async def test_preflight_refuses_a_version_whose_stored_accuracy_is_not_its_own(
    bot: ModelBotHarness,
) -> None:
    liar = register_model(bot, shuffled_labels=True, claim_good_metrics=True)
    stored = bot.app.services.models.describe(liar).accuracy  # type: ignore[union-attr]
    await bot.command(f"deploy v{liar}")
    refusal = await bot.slack.wait_for(
        lambda m: "preflight refused" in m.plain() and m.thread_ts is not None, timeout=15
    )
    text = refusal.plain()
    assert f"stored holdout accuracy is {stored:.3f}" in text and "scores 0." in text
    run = await wait_run(bot, RunStatus.FAILED)
    assert "evaluated on the fixed holdout now" in (run.error or "")
    assert production(bot) == 1


async def test_preflight_refuses_a_tampered_accuracy_tag(bot: ModelBotHarness) -> None:
    models = bot.app.services.models
    models.client.set_model_version_tag(models.model_name, "2", "holdout.accuracy", "1.0")  # type: ignore[union-attr]
    await bot.command("deploy v2")
    refusal = await bot.slack.wait_for(
        lambda m: "preflight refused v2" in m.plain() and m.thread_ts is not None, timeout=15
    )
    assert "stored holdout accuracy is 1.000" in refusal.plain()
    assert production(bot) == 1


async def test_an_honest_version_passes_preflight(bot: ModelBotHarness) -> None:
    honest = register_model(bot, shuffled_labels=False, claim_good_metrics=False)
    await bot.command(f"deploy v{honest}")
    card = await confirm_card(bot, f"Promote v{honest} to production")
    assert "matches the stored figure" in card.plain()
    await bot.slack.wait_for_text("done", thread_ts=card.ts, timeout=20)
    assert production(bot) == honest
