"""Runbook 2, end to end: collected data → retrain → gate → report → promote, through the Slack
stand-in, a real MLflow store and a real model server. Read each test as a chat transcript."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from bot.data.service import record_feedback
from bot.deploy import service as deploy_service
from bot.runbook import RunStatus
from bot.runbook.models import RunbookRun
from bot.training import iris
from tests.harness import ADMIN, ONCALL, VIEWER, ModelBotHarness, start_model_harness

HEADER = "sepal_length,sepal_width,petal_length,petal_width,species\n"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[ModelBotHarness]:
    harness = await start_model_harness(tmp_path, ingest_interval_seconds=0)
    try:
        yield harness
    finally:
        pool = harness.app.services.pool.current
        await harness.stop()
        _kill_workers(pool)


def _kill_workers(pool) -> None:  # type: ignore[no-untyped-def]
    # A test that leaves a big fit running must not leave its worker burning CPU afterwards.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            os.kill(process.pid, signal.SIGKILL)


def production(bot: ModelBotHarness) -> int | None:
    return bot.app.services.models.production_version()  # type: ignore[union-attr]


def landing(bot: ModelBotHarness) -> Path:
    folder = bot.settings.oncall_data_dir / "landing"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def rows_csv(X: np.ndarray, y: np.ndarray) -> str:
    return "".join(
        f"{a:.3f},{b:.3f},{c:.3f},{d:.3f},{label}\n"
        for (a, b, c, d), label in zip(X, y, strict=True)
    )


def jittered_training_rows(copies: int, seed: int, *, shuffle_labels: bool = False) -> str:
    split = iris.holdout_split()
    rng = np.random.default_rng(seed)
    X = np.tile(split.X_train, (copies, 1)) + rng.normal(0, 0.02, (copies * len(split.y_train), 4))
    y = np.tile(split.y_train, copies)
    if shuffle_labels:
        y = rng.permutation(y)
    return rows_csv(np.round(np.abs(X) + 0.05, 3), y)


def last_run(bot: ModelBotHarness) -> RunbookRun:
    with bot.app.services.db.session() as session:
        run = session.query(RunbookRun).order_by(RunbookRun.id.desc()).first()
        assert run is not None
        session.expunge_all()
        return run


async def report(bot: ModelBotHarness, timeout: float = 40) -> object:
    return await bot.slack.wait_for(lambda m: "Retrain report" in m.plain(), timeout=timeout)


async def test_collect_ingest_retrain_report_and_promote(bot: ModelBotHarness) -> None:
    assert production(bot) == 1
    bad = "5.1,abc,1.4,0.2,setosa\n5.0,3.3,1.4,0.2,tulip\n99,3.0,5.0,1.8,virginica\n"
    (landing(bot) / "october.csv").write_text(HEADER + jittered_training_rows(2, seed=1) + bad)
    db = bot.app.services.db
    record_feedback(
        db,
        label="setosa",
        features={"sepal_length": 5.0, "sepal_width": 3.4, "petal_length": 1.5, "petal_width": 0.2},
    )
    record_feedback(
        db,
        label="virginica",
        features={"sepal_length": 6.9, "sepal_width": 3.1, "petal_length": 5.4, "petal_width": 2.1},
    )

    await bot.command("data ingest")
    ingested = await bot.slack.wait_for_text("rows taken", user=ONCALL, timeout=10)
    assert "*3* quarantined" in ingested.plain() and "Quarantine reasons" in ingested.plain()

    await bot.command("data", user=VIEWER)
    summary = await bot.slack.wait_for_text("Training data", user=VIEWER, timeout=10)
    assert "landing" in summary.plain() and "new since v1" in summary.plain()
    assert "quarantined" in summary.plain()

    await bot.command("retrain")
    await bot.slack.wait_for_text("Started *Retrain", user=ONCALL, timeout=10)
    message = await report(bot)
    text = message.plain()  # type: ignore[attr-defined]
    assert "v3 vs v1" in text and "Gate passed" in text and "recall virginica" in text
    assert [b[0] for b in message.buttons] == ["retrain.promote", "retrain.discard"]  # type: ignore[attr-defined]

    v3 = bot.app.services.models.describe(3)  # type: ignore[union-attr]
    assert v3.validation_status == "passed" and v3.trained_by == ONCALL
    assert v3.training_data_hash and v3.holdout_version == iris.holdout_split().holdout_version
    assert v3.code_version and v3.estimator == "logistic_regression"
    assert production(bot) == 1  # a retrain never moves production by itself

    await bot.slack.click(ONCALL, message, "retrain.promote")  # type: ignore[arg-type]
    card = await bot.slack.wait_for(
        lambda m: "Promote v3 to production" in m.plain() and bool(m.buttons), timeout=15
    )
    await bot.slack.click(ONCALL, card, "runbook.confirm")
    await bot.slack.wait_for_text("done", thread_ts=card.ts, timeout=20)
    assert production(bot) == 3


async def test_shuffled_labels_are_rejected_and_only_an_admin_can_force(
    bot: ModelBotHarness,
) -> None:
    (landing(bot) / "mixed_up.csv").write_text(
        HEADER + jittered_training_rows(10, seed=2, shuffle_labels=True)
    )
    await bot.command("retrain")
    message = await report(bot, timeout=60)
    assert "Gate rejected" in message.plain()  # type: ignore[attr-defined]
    assert [b[0] for b in message.buttons] == ["retrain.discard"]  # type: ignore[attr-defined]
    assert bot.app.services.models.describe(3).validation_status == "rejected"  # type: ignore[union-attr]
    assert production(bot) == 1

    await bot.command("promote v3")
    refused = await bot.slack.wait_for_text(
        "has not passed the retrain gate", user=ONCALL, timeout=10
    )
    assert "rejected" in refused.plain() and "accuracy" in refused.plain()
    await bot.command('promote v3 --force --reason "trust me"')
    await bot.slack.wait_for_text("needs the *admin* role", user=ONCALL, timeout=10)
    await bot.command("promote v3 --force", user=ADMIN)
    await bot.slack.wait_for_text("--force needs a reason", user=ADMIN, timeout=10)

    # A candidate that is sane but loses virginica recall against v1 (svc): rejected by the gate
    # alone, so an admin's override can take it through preflight and the smoke test.
    await bot.command("retrain --estimator svc --include feedback --force")
    message = await bot.slack.wait_for(lambda m: "v4 vs v1" in m.plain(), timeout=40)
    assert "virginica recall" in message.plain()  # type: ignore[attr-defined]
    await bot.command("promote v4")
    await bot.slack.wait_for_text("has not passed", user=ONCALL, timeout=10)
    await bot.command('promote v4 --force --reason "svc calibrates better; INC-7"', user=ADMIN)
    card = await bot.slack.wait_for(
        lambda m: "Promote v4 to production" in m.plain() and bool(m.buttons), timeout=15
    )
    await bot.slack.click(ADMIN, card, "runbook.confirm")
    await bot.slack.wait_for_text("done", thread_ts=card.ts, timeout=20)
    assert production(bot) == 4
    with bot.app.services.db.session() as session:
        history = deploy_service.history(session)
    assert history[0].reason == "svc calibrates better; INC-7" and history[0].actor == ADMIN


async def test_nothing_new_bad_options_and_discard(bot: ModelBotHarness) -> None:
    await bot.command("retrain")
    await bot.slack.wait_for_text("Nothing new since v1 was trained", user=ONCALL, timeout=10)
    await bot.command("retrain --estimator random_forest n_estimators=-5 bogus=1")
    problems = await bot.slack.wait_for_text("can't start that retrain", user=ONCALL, timeout=10)
    assert "n_estimators" in problems.plain() and "bogus" in problems.plain()
    await bot.command("retrain", user=VIEWER)
    await bot.slack.wait_for_text("needs the *oncall* role", user=VIEWER, timeout=10)

    await bot.command("retrain --force")
    message = await report(bot)
    # The confusion matrix is a small aligned table with the class names, not one line.
    table = message.plain().split("Confusion matrix of v3")[1].split("```")[1]  # type: ignore[attr-defined]
    rows = [line.split() for line in table.strip().splitlines()]
    classes = ["setosa", "versicolor", "virginica"]
    assert rows[0][1:] == classes and [r[0] for r in rows[1:]] == classes, table
    assert all(len(r) == 4 and all(c.isdigit() for c in r[1:]) for r in rows[1:]), table
    await bot.slack.click(ONCALL, message, "retrain.discard")  # type: ignore[arg-type]
    await bot.slack.wait_for_text("v3 discarded", timeout=10)
    v3 = bot.app.services.models.describe(3)  # type: ignore[union-attr]
    assert v3.validation_status == "rejected" and ONCALL in v3.tags["validation_reasons"]
    await bot.command("promote v3")
    await bot.slack.wait_for_text("discarded by", user=ONCALL, timeout=10)
    # One click, said once (in the report's thread), however many places could have shown it.
    said = [m for m in bot.slack.workspace.all_messages() if "v3 discarded by" in m.plain()]
    assert len(said) == 1 and said[0].thread_ts in (message.ts, message.thread_ts), said  # type: ignore[attr-defined]
    # Who trained a version is a person: a mention (Slack shows the name), not a bare id.
    mark = bot.slack.workspace.seq
    await bot.command("models")
    listing = await bot.slack.wait_for_text("Versions of", user=ONCALL, since=mark, timeout=10)
    assert f"by <@{ONCALL}>" in str(listing.blocks) and f"by {ONCALL}" not in str(listing.blocks)


async def test_a_big_retrain_never_delays_acks_and_a_dead_worker_fails_cleanly(
    bot: ModelBotHarness,
) -> None:
    rng = np.random.default_rng(3)
    split = iris.holdout_split()
    idx = rng.integers(0, len(split.y_train), 300_000)
    X = np.round(split.X_train[idx] + rng.normal(0, 0.05, (len(idx), 4)), 2).clip(0.1, 20)
    lines = [HEADER] + [
        f"{a},{b},{c},{d},{label}\n"
        for (a, b, c, d), label in zip(X.tolist(), split.y_train[idx], strict=True)
    ]
    (landing(bot) / "bulk.csv").write_text("".join(lines))

    await bot.command("retrain --estimator random_forest n_estimators=200")
    deadline = asyncio.get_running_loop().time() + 60
    while True:  # until the fit is running in a worker process
        run = last_run(bot)
        step = {s.step_id: s.status for s in run.steps}
        pool = bot.app.services.pool.current
        if (
            step.get("train") == "running"
            and pool is not None
            and getattr(pool, "_processes", None)
        ):
            break
        assert run.status in ("pending", "running"), run.error
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)

    ack = await bot.command("status", user=VIEWER)
    assert ack.status == 200 and ack.latency_ms < 3000
    await bot.slack.wait_for_text("Oncall bot", user=VIEWER, timeout=5)
    assert {s.step_id: s.status for s in last_run(bot).steps}["train"] == "running"

    _kill_workers(bot.app.services.pool.current)  # the kernel's OOM killer, say
    failed = await bot.slack.wait_for(
        lambda m: "training worker process died" in m.plain() and m.thread_ts is not None,
        timeout=30,
    )
    assert failed is not None
    assert last_run(bot).status == RunStatus.FAILED.value
    statuses = [v.validation_status for v in bot.app.services.models.list_versions()]  # type: ignore[union-attr]
    assert len(statuses) == 2  # nothing registered, so nothing can be marked passed
