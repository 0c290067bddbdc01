"""The data pipeline runbook end to end against the session's real Dagster.

A broken landing file fails the ingest run; the failure sensor's push opens an incident with
the failed step; the file is fixed; Confirm on `pipeline rerun --from-failure` reruns only the
failed step; the asset is fresh and the incident resolves. A backfill of three missed days
fills exactly those partitions.
"""

from __future__ import annotations

from datetime import timedelta

from bot.incidents.models import IncidentStatus
from tests.harness import ONCALL, BotHarness
from tests.pipelines.conftest import PipelineWorld

HEADER = "sepal_length,sepal_width,petal_length,petal_width,species\n"
ROWS = "5.1,3.5,1.4,0.2,setosa\n6.3,3.3,6.0,2.5,virginica\n"
RUN_TIMEOUT = 150  # a run starts a Python process that imports Dagster: slow on a busy machine


async def test_broken_file_incident_rerun_from_failure_resolves(
    pipeline_bot: BotHarness, pipeline_world: PipelineWorld
) -> None:
    bot = pipeline_bot
    folder = pipeline_world.landing / pipeline_world.day(0)
    folder.mkdir(parents=True, exist_ok=True)
    batch = folder / "batch.csv"
    batch.write_text("sepal_length,sepal_width,petal_length,species\n5.1,3.5,1.4,setosa\n")

    await bot.command("data ingest")
    failed = await bot.slack.wait_for_text("The ingest run", user=ONCALL, timeout=RUN_TIMEOUT)
    assert "validated_rows" in failed.plain() and "petal_width" in failed.plain()

    # The run-failure sensor pushes it (this bot does not poll): an incident with the step.
    header = await bot.slack.wait_for(
        lambda m: "Pipeline ingest_landing failed" in m.plain() and "Diagnosis" in m.plain(),
        timeout=60,
    )
    assert "validated_rows" in header.plain() and "/runs/" in header.plain()
    assert "retrains are held" in header.plain()
    monitor = bot.app.services.pipelines.monitor
    assert monitor.pushed >= 1
    failed_run = next(iter(monitor.problems["ingest_landing"].failures.values()))[0]

    # While training data's pipeline is failed, a retrain is held with the reason.
    await bot.command("retrain")
    held = await bot.slack.wait_for_text("Retrain held", user=ONCALL, timeout=10)
    assert "ingest_landing" in held.plain()

    batch.write_text(HEADER + ROWS)
    await bot.command(f"pipeline rerun {failed_run.short_id} --from-failure")
    preview = await bot.slack.wait_for_text("Reused from the failed run", user=ONCALL, timeout=10)
    assert "*Will run:* validated_rows" in preview.plain()
    assert "landing_files" in preview.plain()  # reused, not run again
    await bot.slack.click(ONCALL, preview, "pipeline.rerun")
    done = await bot.slack.wait_for(
        lambda m: "Rerun" in m.plain() and ": success" in m.plain(), timeout=RUN_TIMEOUT
    )
    assert "ingest_landing" in done.plain()

    # The rerun's end makes the monitor look at once: fresh again, the incident resolves.
    await bot.slack.wait_for(
        lambda m: m.plain().startswith(":white_check_mark: INC-") and "ingest_landing" in m.plain(),
        timeout=30,
    )
    views = await bot.app.services.incidents.listing(limit=5)
    view = next(v for v in views if "ingest_landing" in (v.title or ""))
    assert view.status == IncidentStatus.RESOLVED and "ingest_landing" not in monitor.problems
    assert monitor.freshness["validated_rows"].state in ("fresh", "recovered")

    # The new run ran only the failed step; a rerun of a success is refused.
    rerun = (await bot.app.services.pipelines.service.runs(job="ingest_landing", limit=1))[0]
    assert [s.key for s in rerun.steps] == ["validated_rows"]
    assert rerun.parent_run_id == failed_run.run_id
    await bot.command(f"pipeline rerun {rerun.short_id}")
    refused = await bot.slack.wait_for_text("nothing to rerun", user=ONCALL, timeout=10)
    assert rerun.short_id in refused.plain()


async def test_backfill_of_three_missed_days_fills_exactly_those(
    pipeline_bot: BotHarness, pipeline_world: PipelineWorld
) -> None:
    bot = pipeline_bot
    days = [pipeline_world.day(n) for n in (12, 11, 10)]
    for day in days:
        (pipeline_world.landing / day).mkdir(parents=True, exist_ok=True)
        (pipeline_world.landing / day / f"{day}.csv").write_text(HEADER + ROWS)

    # Bad input first: clear answers, nothing started.
    await bot.command(f"pipeline backfill ingest_landing {days[-1]} {days[0]}")
    await bot.slack.wait_for_text("wrong way round", user=ONCALL, timeout=10)
    await bot.command("pipeline backfill ingest_landing 2020-01-01 2020-01-03")
    await bot.slack.wait_for_text("beyond the partitions", user=ONCALL, timeout=10)
    await bot.command(f"pipeline backfill no_such_job {days[0]} {days[-1]}")
    await bot.slack.wait_for_text("no pipeline job", user=ONCALL, timeout=10)

    await bot.command(f"pipeline backfill ingest_landing {days[0]} {days[-1]} --max-parallel 3")
    preview = await bot.slack.wait_for_text("Backfill ingest_landing", user=ONCALL, timeout=10)
    assert "*3* partitions" in preview.plain()
    await bot.slack.click(ONCALL, preview, "pipeline.backfill")
    await bot.slack.wait_for(lambda m: "Backfill ingest_landing" in m.plain() and "/3" in m.plain())

    # A second backfill over the same days while the first runs: refused.
    await bot.command(f"pipeline backfill ingest_landing {days[0]} {days[-1]}")
    await bot.slack.wait_for_text("already running over", user=ONCALL, timeout=10)

    bar = await bot.slack.wait_for(
        lambda m: "Backfill ingest_landing" in m.plain() and "3/3 done" in m.plain(),
        timeout=RUN_TIMEOUT,
    )
    assert "failed" not in bar.plain()
    assets = {a.key: a for a in await bot.app.services.pipelines.service.assets()}
    window = {pipeline_world.day(n) for n in range(9, 14)}
    assert assets["validated_rows"].materialized_partitions & window == set(days)

    await bot.command("pipeline show ingest_landing")
    shown = await bot.slack.wait_for_text("Job ingest_landing", user=ONCALL, timeout=10)
    assert days[0] not in shown.plain().split("Missing partitions:")[-1].split("Failed")[0]


async def test_stale_data_opens_an_incident_holds_retrains_and_recovers(
    pipeline_bot: BotHarness, pipeline_world: PipelineWorld
) -> None:
    """Freshness judged apart from failure: 31 h without new data is stale, whatever ran."""
    bot = pipeline_bot
    assets = {a.key: a for a in await bot.app.services.pipelines.service.assets()}
    if assets["validated_rows"].last_new is None:  # run alone: bring one day of data first
        folder = pipeline_world.landing / pipeline_world.day(0)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "late.csv").write_text(HEADER + "5.9,3.0,5.1,1.8,virginica\n")
        await bot.command("data ingest")
        await bot.slack.wait_for_text("rows taken", user=ONCALL, timeout=RUN_TIMEOUT)

    monitor = bot.app.services.pipelines.monitor
    await monitor.check()
    await bot.command("pipeline")
    card = (await bot.slack.wait_for_text("Iris data pipeline", user=ONCALL, timeout=30)).plain()
    assert "*ingest_landing* · daily partitions · last run" in card
    assert "`validated_rows` fresh" in card and "(warn 1d 2h, stale 1d 6h)" in card

    real_clock = monitor.clock
    monitor.clock = lambda: real_clock() + timedelta(hours=31)
    await monitor.check()
    assert monitor.freshness["validated_rows"].state == "stale"
    await bot.slack.wait_for_text("Data of ingest_landing is stale", timeout=60)
    assert monitor.retrain_hold() is not None
    await bot.command("retrain")
    await bot.slack.wait_for_text("Retrain held", user=ONCALL, timeout=10)

    monitor.clock = real_clock
    await monitor.check()
    assert monitor.freshness["validated_rows"].state == "recovered"
    assert monitor.retrain_hold() is None and "ingest_landing" not in monitor.problems
