"""Alert storm: 10,000 Alertmanager notifications over 100 groups against `oncall-bot serve`.

    .venv/bin/python bench/alerts.py                      # 10,000 notifications, 100 groups
    .venv/bin/python bench/alerts.py --notifications 2000 --groups 20 --concurrency 32

The bot runs as its own process (`oncall-bot serve --port P`, HTTP mode, a fresh SQLite database in
a temporary ONCALL_DATA_DIR, monitors and ingestion off) and talks to the project's Slack stand-in
(`bot.localslack.LocalSlack`), which runs on its own event loop in a thread of this process. The
load generator is an aiohttp client in this process with bounded concurrency; everything listens
on 127.0.0.1 only.

The notification mix is what a storm looks like to Alertmanager's receiver: each group is sent
again and again (repeat_interval, retries), its alerts grow from one to three over the run, and in
the last fifth they all resolve. Most notifications therefore change nothing.

Prints alerts/s, p50/p99 response time, incidents opened (must equal --groups), Slack Web API
calls made, and PASS/MISS against the goal (>= 1,000 alerts/s). Exit status 0 when the benchmark
ran (a miss is a measurement), 1 when it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.localslack import LocalSlack  # noqa: E402
from tests.incidents.helpers import alert, notification, resolved  # noqa: E402

TOKEN = "bench-alert-token"
GOAL_ALERTS_PER_SECOND = 1000.0


class StandIn:
    """LocalSlack on its own event loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.slack = LocalSlack(
            bot_token="xoxb-bench", signing_secret="bench-secret", request_url=None
        )

    def start(self) -> str:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.slack.start("127.0.0.1", 0), self.loop).result(10)
        return self.slack.api_url

    def calls(self) -> int:
        return self.slack.call_count() - self.slack.call_count("auth.test")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.slack.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def storm(notifications: int, groups: int) -> list[bytes]:
    names = [f"Storm{g}" for g in range(groups)]
    members = {n: [alert(n, instance=f"pod-{i}") for i in range(3)] for n in names}
    bodies = []
    for i in range(notifications):
        name = names[i % groups]
        progress = i / notifications
        alerts = members[name][: 1 + min(2, int(progress * 3.75))]
        if progress >= 0.8:
            alerts = [resolved(a) for a in members[name]]
        bodies.append(json.dumps(notification(name, alerts)).encode())
    return bodies


def prepare_database(data_dir: Path) -> str:
    """A migrated database for the bot."""
    from bot.db.migrate import upgrade_to_head

    url = f"sqlite:///{data_dir / 'oncall.db'}"
    upgrade_to_head(url)
    return url


async def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"oncall-bot exited with {proc.returncode}")
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status in (200, 503):
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("oncall-bot did not come up")


async def fire(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    queue = iter(bodies)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            for body in queue:
                started = time.perf_counter()
                async with session.post(
                    f"{url}/alerts/alertmanager", data=body, headers=headers
                ) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, errors


def wait_quiet(stand_in: StandIn, settle: float = 2.0, timeout: float = 120) -> None:
    """Until the bot has made no Slack call for `settle` seconds (its flushes are done)."""
    deadline = time.monotonic() + timeout
    last, since = stand_in.calls(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = stand_in.calls()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle:
            return


def incidents_opened(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "oncall.db") as conn:
        return int(conn.execute("SELECT count(*) FROM incidents").fetchone()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    exe = Path(sys.executable).parent / "oncall-bot"
    if not exe.exists():
        print(f"oncall-bot is not installed next to {sys.executable}; run `uv sync`")
        return 1
    data_dir = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    stand_in = StandIn()
    proc: subprocess.Popen[bytes] | None = None
    try:
        api_url = stand_in.start()
        prepare_database(data_dir)
        port = free_port()
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": "bench-secret",
            "SLACK_API_URL": api_url,
            "ONCALL_DATA_DIR": str(data_dir),
            "ALERT_WEBHOOK_TOKEN": TOKEN,
            "MONITOR_INTERVAL_SECONDS": "0",
            "INGEST_INTERVAL_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
        }
        proc = subprocess.Popen(
            [str(exe), "serve", "--port", str(port)], env=env, cwd=data_dir, start_new_session=True
        )
        url = f"http://127.0.0.1:{port}"
        asyncio.run(wait_healthy(url, proc))
        bodies = storm(args.notifications, args.groups)
        elapsed, latencies, errors = asyncio.run(fire(url, bodies, args.concurrency))
        wait_quiet(stand_in)
        opened = incidents_opened(data_dir)
        calls = stand_in.calls()
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        stand_in.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    rate = len(bodies) / elapsed
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    ok_rate = rate >= GOAL_ALERTS_PER_SECOND
    ok_incidents = opened == args.groups
    print(
        f"alert storm: {len(bodies):,} notifications over {args.groups} groups, "
        f"concurrency {args.concurrency}"
    )
    print(f"  alerts/s        {rate:,.0f}   (goal >= {GOAL_ALERTS_PER_SECOND:,.0f})")
    print(f"  response p50    {p50:.1f} ms")
    print(f"  response p99    {p99:.1f} ms")
    print(f"  errors          {errors}")
    print(f"  incidents       {opened}   (must be {args.groups})")
    print(f"  Slack calls     {calls}   ({calls / max(opened, 1):.1f} per incident)")
    result: dict[str, Any] = {
        "alerts_per_second": round(rate, 1),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "errors": errors,
        "incidents": opened,
        "slack_calls": calls,
    }
    print(json.dumps(result))
    passed = ok_rate and ok_incidents and errors == 0
    print("PASS" if passed else "MISS")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
