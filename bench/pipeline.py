"""Pipeline failure detection and rerun speed, against a real Dagster started here.

    .venv/bin/python bench/pipeline.py

A real Dagster (webserver + daemon, SQLite storage in a temp DAGSTER_HOME) and the bot (its web
app on a random port, the Slack stand-in in this process) run side by side on a fresh data dir.

1. Detect latency, by push and by poll, in alternating rounds (two of each). A landing file with a broken header fails the ingest run.
   *Push*: the run-failure sensor posts to the bot's `/pipelines/dagster`; the clock runs from the
   run's end (Dagster's own end time) to the incident header in the incidents channel. *Poll* (the
   baseline, the backstop when a push is lost): the sensor is pointed at a dead address and the
   bot polls every POLL_SECONDS (as PIPELINE_POLL_SECONDS does); same clock.
2. Rerun from failure against a full rerun, on the same data: both failed runs get their file
   fixed (same size, same number of rows, different rows so the content hash does not skip one);
   one is re-executed FROM_FAILURE (its landing_files output reused), the other ALL_STEPS. The clock
   runs from the launch to the end of the run, as Dagster reports it.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.app import BotApp  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.migrate import upgrade_to_head  # noqa: E402
from bot.localslack import LocalSlack  # noqa: E402
from bot.pipelines.embedded import EmbeddedDagster, free_port  # noqa: E402
from bot.pipelines.ingest import wait_for_run  # noqa: E402
from bot.servers import ServerTask  # noqa: E402

SECRET = "bench-secret"
TOKEN = "xoxb-bench"
PUSH_TOKEN = "bench-push"
POLL_SECONDS = 10.0
# Alternating, so that neither way of detecting always runs on a warmer machine.
MODES = ("push", "poll", "push", "poll")
DAYS = ("2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05")
JOB = "ingest_landing"
BROKEN = "sepal_length,sepal_width,petal_length,species\n5.1,3.5,1.4,setosa\n"
HEADER = "sepal_length,sepal_width,petal_length,petal_width,species\n"


def fixed(seed: int) -> str:
    rows = [f"{5.0 + (i % 9) / 10:.1f},3.{(i + seed) % 10},1.4,0.2,setosa\n" for i in range(2000)]
    return HEADER + "".join(rows)


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    data = root / "var"
    data.mkdir()
    url = f"sqlite:///{(data / 'oncall.db').resolve()}"
    upgrade_to_head(url)
    dagster = EmbeddedDagster(
        home=root / "dagster", data_dir=data, database_url=url, daemon_interval=1.0, schedules=False
    )
    dagster.start()
    slack = LocalSlack(
        bot_token=TOKEN, app_token="xapp-bench", signing_secret=SECRET, request_url=None
    )
    await slack.start(host="127.0.0.1", port=0)
    try:
        print("starting Dagster (webserver, then daemon)...", flush=True)
        if not await asyncio.to_thread(dagster.wait_ready, 300):
            raise SystemExit("Dagster did not start; see " + str(root / "dagster"))
        settings = Settings(
            slack_bot_token=TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=slack.api_url,
            oncall_data_dir=data,
            dagster_url=dagster.url,
            pipeline_webhook_token=PUSH_TOKEN,
            pipeline_poll_seconds=0,
            ingest_interval_seconds=0,
            monitor_interval_seconds=0,
            port=0,
            log_level="WARNING",
        )
        app = BotApp.build(settings)
        await app.start()
        server = ServerTask(app.web, host="127.0.0.1", port=0)
        await server.start()
        slack.request_url = f"http://127.0.0.1:{server.port}/slack/events"
        try:
            await measure(app, slack, dagster, data, server.port)
        finally:
            await server.stop()
            await app.stop()
    finally:
        await slack.stop()
        dagster.stop()


async def fail_once(app: BotApp, data: Path, day: str) -> tuple[str, float]:
    """A broken file for `day`, its ingest run launched and failed: (run id, end time)."""
    folder = data / "landing" / day
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "batch.csv").write_text(BROKEN)
    service = app.services.pipelines.service
    run_id = await service.launch(job=JOB, partition=day)
    run = await wait_for_run(service, run_id, timeout=600, poll=0.2)
    assert run.failed and run.ended_at is not None, run
    return run_id, run.ended_at.timestamp()


async def header_after(slack: LocalSlack, day: str, timeout: float) -> float:
    await slack.wait_for(
        lambda m: f"Pipeline {JOB} failed for {day}" in m.plain() and m.thread_ts is None,
        timeout=timeout,
    )
    return time.time()


async def measure(
    app: BotApp, slack: LocalSlack, dagster: EmbeddedDagster, data: Path, port: int
) -> None:
    monitor = app.services.pipelines.monitor
    incidents = app.services.incidents

    # The first incident header pays one-time costs (the registry's first connection): pay them
    # before the clock runs, so push and poll are measured alike.
    await asyncio.to_thread(app.services.models.connect)
    push_url = f"http://127.0.0.1:{port}/pipelines/dagster"
    dead_url = f"http://127.0.0.1:{free_port()}/pipelines/dagster"

    async def poll() -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            await monitor.check()

    latencies: dict[str, list[float]] = {"push": [], "poll": []}
    failed_runs: list[str] = []
    for n, (mode, day) in enumerate(zip(MODES, DAYS, strict=True)):
        # Push: the sensor posts to this bot. Poll: its posts go nowhere; the bot polls.
        if mode == "push":
            dagster.register_bot(url=push_url, token=PUSH_TOKEN)
        else:
            dagster.register_bot(url=dead_url, token="x")
        poller = asyncio.get_running_loop().create_task(poll()) if mode == "poll" else None
        try:
            run_id, ended = await fail_once(app, data, day)
            latencies[mode].append(await header_after(slack, day, timeout=300) - ended)
        finally:
            if poller is not None:
                poller.cancel()
        failed_runs.append(run_id)
        for view in await incidents.listing(open_only=True):
            await incidents.resolve(incident_id=view.id, actor=None)
        monitor.problems.clear()
        print(f"  round {n + 1}: {mode} {latencies[mode][-1]:.2f} s", flush=True)

    # 2. Reruns on the same data: fixed files of the same size, one from failure, one whole.
    (data / "landing" / DAYS[0] / "batch.csv").write_text(fixed(1))
    (data / "landing" / DAYS[1] / "batch.csv").write_text(fixed(2))
    service = app.services.pipelines.service
    timings = {}
    for label, run_id, from_failure in (
        ("from failure", failed_runs[0], True),
        ("all steps", failed_runs[1], False),
    ):
        start = time.time()
        new = await service.reexecute(run_id=run_id, from_failure=from_failure)
        run = await wait_for_run(service, new, timeout=600, poll=0.2)
        assert run.status == "SUCCESS", run
        steps = ", ".join(f"{s.key} {s.seconds:.2f}s" for s in run.steps if s.seconds is not None)
        timings[label] = (run.ended_at.timestamp() - start, steps)  # type: ignore[union-attr]

    print()
    print("Failure -> incident thread (run end to incident header in Slack)")
    for mode, label in (
        ("push", "by push (run-failure sensor)"),
        ("poll", f"by poll (baseline, every {POLL_SECONDS:g} s)"),
    ):
        values = latencies[mode]
        each = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {label}: mean {statistics.mean(values):6.2f} s  ({each})")
    print("Rerun of a failed ingest run on the same data (launch to run end)")
    for label, (seconds, steps) in timings.items():
        print(f"  {label:13s} {seconds:6.2f} s   steps: {steps}")
    base = timings["all steps"][0]
    print(f"  from failure vs all steps (baseline): {timings['from failure'][0] / base:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
