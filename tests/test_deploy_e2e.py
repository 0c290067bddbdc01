"""Runbook 1, end to end: deploy and roll back through the Slack stand-in, a real MLflow store and
a real model server. Read each test as a chat transcript."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from bot.deploy import service as deploy_service
from bot.runbook import RunStatus
from bot.training import iris
from tests.harness import ONCALL, VIEWER, ModelBotHarness, start_model_harness


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[ModelBotHarness]:
    harness = await start_model_harness(tmp_path)
    try:
        yield harness
    finally:
        await harness.stop()


async def served_version(bot: ModelBotHarness) -> int | None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{bot.settings.model_server_url}/healthz")
    return response.json().get("version")


def production(bot: ModelBotHarness) -> int | None:
    return bot.app.services.models.production_version()  # type: ignore[union-attr]


async def confirm_card(bot: ModelBotHarness, prompt: str, *, user: str = ONCALL):  # type: ignore[no-untyped-def]
    card = await bot.slack.wait_for(lambda m: prompt in m.plain() and bool(m.buttons), timeout=15)
    await bot.slack.click(user, card, "runbook.confirm")
    return card


async def wait_run(bot: ModelBotHarness, status: RunStatus, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    engine = bot.app.services.engine
    assert engine is not None
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with bot.app.services.db.session() as session:
            from bot.runbook.models import RunbookRun

            run = session.query(RunbookRun).order_by(RunbookRun.id.desc()).first()
            if run is not None and run.status == status.value:
                return run
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"last run is {run.status if run else None}, expected {status}")
        await asyncio.sleep(0.05)


def register_model(bot: ModelBotHarness, *, shuffled_labels: bool, claim_good_metrics: bool) -> int:
    """Register a v3: honest or lying about its holdout metrics."""
    split = iris.holdout_split()
    y = np.random.default_rng(0).permutation(split.y_train) if shuffled_labels else split.y_train
    model = iris.train(
        "logistic_regression", iris.validate_params("logistic_regression", {}), split.X_train, y
    )
    honest = iris.evaluate(
        model, split.X_holdout, split.y_holdout, holdout_version=split.holdout_version
    )
    if claim_good_metrics:
        good = iris.train("logistic_regression", {}, split.X_train, split.y_train)
        metrics = iris.evaluate(
            good, split.X_holdout, split.y_holdout, holdout_version=split.holdout_version
        )
    else:
        metrics = honest
    mv = bot.app.services.models.register(  # type: ignore[union-attr]
        model, estimator="logistic_regression", params={}, metrics=metrics, trained_by="test"
    )
    return mv.version


async def test_deploy_v2_then_roll_back_to_v1(bot: ModelBotHarness) -> None:
    assert production(bot) == 1 and await served_version(bot) == 1

    ack = await bot.command("deploy v2")
    assert ack.status == 200 and not ack.timed_out
    await bot.slack.wait_for_text("Started *Deploy a validated model*", user=ONCALL)
    card = await confirm_card(bot, "Promote v2 to production")
    assert "holdout accuracy" in card.plain()  # the preflight results are on the card
    assert "Deploy v1 → v2" in card.plain()
    report = await bot.slack.wait_for_text("done", thread_ts=card.ts, timeout=20)
    assert "Smoke test" in report.plain()
    assert production(bot) == 2 and await served_version(bot) == 2
    final = bot.slack.find(card.ts)
    assert final is not None and final.edited and not final.buttons  # one message, edited in place

    await bot.command('rollback --reason "testing the way back"')
    card = await confirm_card(bot, "Roll production back from v2")
    await bot.slack.wait_for_text("done", thread_ts=card.ts, timeout=20)
    assert production(bot) == 1 and await served_version(bot) == 1

    with bot.app.services.db.session() as session:
        history = deploy_service.history(session)
    assert [(h.kind, h.from_version, h.to_version, h.outcome) for h in history] == [
        ("rollback", 2, 1, "succeeded"),
        ("deploy", 1, 2, "succeeded"),
    ]
    assert history[0].reason == "testing the way back"
    assert history[1].smoke["passed"] is True and history[1].preflight["passed"] is True
    assert bot.app.services.models.describe(2).tags.get("deployed_by") == ONCALL  # type: ignore[union-attr]

    await bot.command("models", user=VIEWER)
    listing = await bot.slack.wait_for_text("Versions of iris_classifier", user=VIEWER)
    assert "production" in listing.plain() and "rollback v2 → v1" in listing.plain()


async def test_deploy_of_a_missing_version_lists_the_real_ones(bot: ModelBotHarness) -> None:
    await bot.command("deploy v7")
    message = await bot.slack.wait_for_text("There is no v7", user=ONCALL)
    assert "Versions are v1, v2" in message.plain()
    await bot.command("deploy iris_classifier_v9")
    await bot.slack.wait_for_text("There is no v9", user=ONCALL)


async def test_viewers_can_neither_deploy_nor_confirm(bot: ModelBotHarness) -> None:
    await bot.command("deploy v2", user=VIEWER)
    await bot.slack.wait_for_text("needs the *oncall* role", user=VIEWER)

    await bot.command("deploy v2", user=ONCALL)
    card = await bot.slack.wait_for(
        lambda m: "Promote v2" in m.plain() and bool(m.buttons), timeout=15
    )
    await bot.slack.click(VIEWER, card, "runbook.confirm")
    denied = await bot.slack.wait_for_text("That button needs the *oncall* role", user=VIEWER)
    assert "<@U0ONCALL>" in denied.text + str(denied.blocks)  # who can click it, by name
    await wait_run(bot, RunStatus.WAITING_CONFIRMATION)
    assert production(bot) == 1


async def test_a_worse_model_fails_preflight_and_nothing_changes(bot: ModelBotHarness) -> None:
    worse = register_model(bot, shuffled_labels=True, claim_good_metrics=False)
    await bot.command(f"deploy v{worse}")
    run = await wait_run(bot, RunStatus.FAILED)
    assert "preflight failed" in (run.error or "")
    card = await bot.slack.wait_for(
        lambda m: "preflight failed" in m.plain() and m.thread_ts is None, timeout=10
    )
    assert not card.buttons
    assert production(bot) == 1 and await served_version(bot) == 1


async def test_a_second_deploy_is_refused_while_the_first_holds_the_lock(
    bot: ModelBotHarness,
) -> None:
    await bot.command("deploy v2")
    await bot.slack.wait_for(lambda m: "Promote v2" in m.plain() and bool(m.buttons), timeout=15)
    await bot.command("deploy v2", user="U0ADMIN")
    refusal = await bot.slack.wait_for_text("holds the deploy lock", user="U0ADMIN")
    assert f"<@{ONCALL}>" in refusal.blocks[0]["text"]["text"] and "since" in refusal.plain()


async def test_deploying_production_again_is_a_no_op(bot: ModelBotHarness) -> None:
    await bot.command("deploy v1")
    await bot.slack.wait_for_text("already in production", user=ONCALL)


async def test_rollback_without_history_says_so(bot: ModelBotHarness) -> None:
    await bot.command("rollback")
    await bot.slack.wait_for_text("nothing before v1", user=ONCALL)


def register_golden_breaker(bot: ModelBotHarness) -> int:
    """Register a v3 honest about its holdout figures that still gets one golden sample wrong.

    A 3-nearest-neighbour model (distance-weighted) with two mislabelled copies of one golden
    sample: on the holdout it scores what v1 scores, so preflight lets it through, but it
    predicts that sample's exact features as the wrong class, so only the smoke test catches it.
    """
    split = iris.holdout_split()
    golden = iris.GOLDEN_SAMPLES[1]
    row = np.array([list(golden.features.values())])
    X = np.vstack([split.X_train, row, row])
    y = np.concatenate([split.y_train, ["versicolor", "versicolor"]])
    params = iris.validate_params("knn", {"n_neighbors": 3, "weights": "distance"})
    model = iris.train("knn", params, X, y)
    metrics = iris.evaluate(
        model, split.X_holdout, split.y_holdout, holdout_version=split.holdout_version
    )
    mv = bot.app.services.models.register(  # type: ignore[union-attr]
        model, estimator="knn", params=params, metrics=metrics, trained_by="test"
    )
    return mv.version


async def test_failed_smoke_test_rolls_back_automatically(bot: ModelBotHarness) -> None:
    # A version whose holdout figures are true but whose artifact fails a golden sample.
    breaker = register_golden_breaker(bot)
    await bot.command(f"deploy v{breaker}")
    card = await confirm_card(bot, f"Promote v{breaker} to production")
    report = await bot.slack.wait_for_text("rolled back", thread_ts=card.ts, timeout=25)
    assert "smoke test failed" in report.plain() and "golden samples wrong" in report.plain()
    assert production(bot) == 1 and await served_version(bot) == 1
    with bot.app.services.db.session() as session:
        outcomes = [h.outcome for h in deploy_service.history(session)]
    assert outcomes == ["reverted"]


async def test_a_deploy_waiting_for_confirmation_survives_a_restart(bot: ModelBotHarness) -> None:
    await bot.command("deploy v2")
    card = await bot.slack.wait_for(
        lambda m: "Promote v2" in m.plain() and bool(m.buttons), timeout=15
    )
    await bot.restart_bot()
    await bot.slack.click(ONCALL, card, "runbook.confirm")
    await bot.slack.wait_for_text("done", thread_ts=card.ts, timeout=20)
    assert production(bot) == 2


async def test_killing_the_bot_mid_deploy_never_promotes_a_version_that_failed_preflight(
    bot: ModelBotHarness,
) -> None:
    worse = register_model(bot, shuffled_labels=True, claim_good_metrics=False)
    await bot.command(f"deploy v{worse}")
    await bot.restart_bot()  # whatever step it was on, the new process resumes it
    await wait_run(bot, RunStatus.FAILED)
    assert production(bot) == 1


async def test_status_shows_the_model_and_its_server(bot: ModelBotHarness) -> None:
    await bot.command("status")
    message = await bot.slack.wait_for_text("Oncall bot", user=ONCALL)
    assert "production: *v1*" in message.blocks[-1]["text"]["text"]
    assert "model server serves v1" in message.plain()


async def test_runbook_commands(bot: ModelBotHarness) -> None:
    await bot.command("runbook list", user=VIEWER)
    listing = await bot.slack.wait_for_text("Runbooks", user=VIEWER)
    assert (
        "`deploy`" in listing.blocks[1]["text"]["text"]
        and "`rollback`" in listing.blocks[1]["text"]["text"]
    )
    await bot.command("runbook show deploy", user=VIEWER)
    shown = await bot.slack.wait_for_text("Preflight checks", user=VIEWER)
    assert "needs confirmation" in shown.plain()
    await bot.command("runbook show nope", user=VIEWER)
    await bot.slack.wait_for_text("There is no runbook `nope`", user=VIEWER)
    await bot.command("runbook run deploy", user=ONCALL)
    await bot.slack.wait_for_text("version", user=ONCALL)
    await bot.command("runbook run deploy version=v2", user=ONCALL)
    card = await confirm_card(bot, "Promote v2 to production")
    await bot.slack.wait_for_text("done", thread_ts=card.ts, timeout=20)
    assert production(bot) == 2
