"""Alert storm: 10,000 Alertmanager notifications over 100 groups, the bot against the plainest intake.

    .venv/bin/python bench/alerts.py                      # 10,000 notifications, 100 groups
    .venv/bin/python bench/alerts.py --notifications 2000 --groups 20 --concurrency 32

Two targets, measured one after the other in the same run, each alone, with the same payloads and
the same load generator (an aiohttp client in this process with bounded concurrency):

  bot   `oncall-bot serve --port P` (HTTP mode, a fresh SQLite database migrated by the project's
        migrations in a temporary ONCALL_DATA_DIR, monitors and ingestion off), talking to the
        project's Slack stand-in (`bot.localslack.LocalSlack`) on its own event loop in a thread
        of this process: it groups alerts into incidents, keeps their timelines and posts to Slack
  bare  bench/intake/bare_alerts.py: one bare Starlette route that checks the token, parses the
        JSON with `json.loads` and upserts each alert into the same `incident_alerts` table of a
        database the project's migrations created; nothing else

The notification mix is what a storm looks like to Alertmanager's receiver: each group is sent
again and again (repeat_interval, retries), its alerts grow from one to three over the run, and in
the last fifth they all resolve. Most notifications therefore change nothing.

Printed for both: alerts/s (alerts carried by the notifications, not notifications, per second of
the storm), notifications/s, p50/p99 response time, the server process's own CPU time per alert
(from /proc: steadier than rates when the machine is shared), errors; the ratios between them;
incidents opened (must equal --groups) and Slack Web API calls for the bot, rows stored for the
bare intake; PASS/MISS against the bot's goal (>= 1,000 alerts/s). Exit status 0 when the
benchmark ran (a miss is a measurement), 1 when it could not run or the baseline stored less than
every alert. Everything listens on 127.0.0.1 only.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.localslack import LocalSlack  # noqa: E402
from tests.incidents.helpers import alert, notification, resolved  # noqa: E402

TOKEN = "bench-alert-token"
BARE_INTAKE = ROOT / "bench" / "intake" / "bare_alerts.py"
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


async def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
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


def count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def clean_env() -> dict[str, str]:
    """This environment without the bot's own settings: each target gets only what is set here."""
    from bot.config import Settings

    names = {name.upper() for name in Settings.model_fields}
    return {k: v for k, v in os.environ.items() if k.upper() not in names}


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from /proc; None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Run:
    """One target's figures; every one measured in this run."""

    name: str
    label: str
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    cpu_seconds: float | None = None
    checks: dict[str, Any] = field(default_factory=dict)

    def figures(self, alerts: int, notifications: int) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "alerts_per_second": alerts / self.elapsed,
            "notifications_per_second": notifications / self.elapsed,
            "p50_ms": statistics.median(lat) * 1000,
            "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
            "server_cpu_ms_per_alert": None
            if self.cpu_seconds is None
            else self.cpu_seconds * 1000 / alerts,
            "errors": self.errors,
        }


def start(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(
    name: str,
    label: str,
    proc: subprocess.Popen[bytes],
    url: str,
    bodies: list[bytes],
    concurrency: int,
    log: Path,
) -> Run:
    """Wait for the target, fire every notification at it, and read its CPU time around that."""
    try:
        asyncio.run(wait_healthy(url, proc))
    except RuntimeError as exc:
        raise RuntimeError(f"{name}: {exc}\n{log.read_text(errors='replace')[-2000:]}") from None
    run = Run(name, label)
    cpu_before = process_cpu_seconds(proc.pid)
    run.elapsed, run.latencies, run.errors = asyncio.run(fire(url, bodies, concurrency))
    cpu_after = process_cpu_seconds(proc.pid)
    if cpu_before is not None and cpu_after is not None:
        run.cpu_seconds = cpu_after - cpu_before
    return run


def run_bot(args: argparse.Namespace, bodies: list[bytes], tmp: Path, exe: Path) -> Run:
    data_dir = tmp / "bot"
    data_dir.mkdir()
    stand_in = StandIn()
    proc: subprocess.Popen[bytes] | None = None
    try:
        api_url = stand_in.start()
        prepare_database(data_dir)
        port = free_port()
        env = {
            **clean_env(),
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": "bench-secret",
            "SLACK_API_URL": api_url,
            "ONCALL_DATA_DIR": str(data_dir),
            "ALERT_WEBHOOK_TOKEN": TOKEN,
            "MONITOR_INTERVAL_SECONDS": "0",
            "INGEST_INTERVAL_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
        }
        log = tmp / "bot.log"
        proc = start([str(exe), "serve", "--port", str(port)], env, data_dir, log)
        run = measure(
            "bot",
            "oncall-bot serve: parse, group, open incidents, timeline, Slack",
            proc,
            f"http://127.0.0.1:{port}",
            bodies,
            args.concurrency,
            log,
        )
        wait_quiet(stand_in)
        run.checks = {
            "incidents": count(data_dir / "oncall.db", "incidents"),
            "slack_calls": stand_in.calls(),
        }
        return run
    finally:
        stop(proc)
        stand_in.stop()


def run_bare(args: argparse.Namespace, bodies: list[bytes], tmp: Path) -> Run:
    data_dir = tmp / "bare"
    data_dir.mkdir()
    port = free_port()
    env = {**clean_env(), "ALERT_WEBHOOK_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    db_path = data_dir / "oncall.db"
    log = tmp / "bare.log"
    cmd = [
        sys.executable,
        str(BARE_INTAKE),
        "--port",
        str(port),
        "--database-url",
        f"sqlite:///{db_path}",
    ]
    proc = start(cmd, env, data_dir, log)
    try:
        run = measure(
            "bare",
            "bare Starlette route: json.loads, upsert each alert into incident_alerts",
            proc,
            f"http://127.0.0.1:{port}",
            bodies,
            args.concurrency,
            log,
        )
        run.checks = {"alert_rows": count(db_path, "incident_alerts")}
        return run
    finally:
        stop(proc)


def rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


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
    bodies = storm(args.notifications, args.groups)
    alerts = sum(len(json.loads(b)["alerts"]) for b in bodies)
    distinct = args.groups * 3
    print(
        f"alert storm: {len(bodies):,} notifications carrying {alerts:,} alerts ({distinct} distinct)"
        f" over {args.groups} groups; aiohttp client, concurrency {args.concurrency}; the bot,"
        " then the bare intake, each alone",
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    try:
        bot = run_bot(args, bodies, tmp, exe)
        bare = run_bare(args, bodies, tmp)
    except RuntimeError as exc:
        print(f"alerts: cannot run the benchmark: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    figures = {r.name: r.figures(alerts, len(bodies)) for r in (bot, bare)}
    print()
    print(
        f"{'':<6}{'alerts/s':>10}{'notif/s':>10}{'p50':>10}{'p99':>10}{'CPU/alert':>11}{'errors':>8}"
    )
    for run in (bot, bare):
        f = figures[run.name]
        cpu = (
            "n/a"
            if f["server_cpu_ms_per_alert"] is None
            else f"{f['server_cpu_ms_per_alert']:.3f} ms"
        )
        print(
            f"{run.name:<6}{f['alerts_per_second']:>10,.0f}{f['notifications_per_second']:>10,.0f}"
            f"{f['p50_ms']:>8.1f}ms{f['p99_ms']:>8.1f}ms{cpu:>11}{f['errors']:>8}"
        )
    bot_f, bare_f = figures["bot"], figures["bare"]
    line = f"bot / bare: alerts/s x{bot_f['alerts_per_second'] / bare_f['alerts_per_second']:.2f}"
    if bot_f["server_cpu_ms_per_alert"] and bare_f["server_cpu_ms_per_alert"]:
        cpu = bot_f["server_cpu_ms_per_alert"] / bare_f["server_cpu_ms_per_alert"]
        line += f", server CPU per alert x{cpu:.2f}"
    print(f"  bot   {bot.label}")
    print(f"  bare  {bare.label}")
    print(line)
    opened, calls, rows = (
        bot.checks["incidents"],
        bot.checks["slack_calls"],
        bare.checks["alert_rows"],
    )
    print(
        f"bot:  incidents opened {opened} (must be {args.groups}); Slack calls {calls} ({calls / max(opened, 1):.1f} per incident)"
    )
    print(f"bare: alert rows stored {rows} (must be {distinct})")
    rate = figures["bot"]["alerts_per_second"]
    print(
        f"goal (a target, not a measurement): the bot takes >= {GOAL_ALERTS_PER_SECOND:,.0f} alerts/s"
    )
    passed = rate >= GOAL_ALERTS_PER_SECOND and opened == args.groups and bot.errors == 0
    result = {
        "alerts": alerts,
        "notifications": len(bodies),
        **figures,
        "incidents": opened,
        "slack_calls": calls,
        "bare_alert_rows": rows,
    }
    print(json.dumps(rounded(result)))
    print("PASS" if passed else "MISS")
    if rows != distinct or bare.errors:
        print(
            "alerts: the bare intake did not store every alert; its figures are no baseline",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
