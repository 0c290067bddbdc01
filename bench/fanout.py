"""Stakeholder update fan-out: one update to 1,000 subscribers under Slack's rate limits.

    .venv/bin/python bench/fanout.py                       # 1,000 users, limits scaled 10x
    .venv/bin/python bench/fanout.py --scale 1             # Slack's real pace (takes minutes)
    .venv/bin/python bench/fanout.py --users 200 --post-per-minute 300 --skip-baseline

The bot runs as its own process (`oncall-bot serve`, HTTP mode, a fresh SQLite database in a
temporary ONCALL_DATA_DIR) and talks to the Slack stand-in (`bot.localslack.LocalSlack`) in this
process over real HTTP. 1,000 users are subscribed to every incident (rows written before the
bot starts; the subscribe command is tested elsewhere), STAKEHOLDER_CHANNEL gets every update
too, so one update is 1,001 deliveries. An oncall engineer declares a SEV1 and then types
`/iris incident update INC-1 ...`; the clock runs from that command to the last update posted.

Slack's limits, modelled per method in the stand-in (token buckets, one second of burst, 429 with
Retry-After when empty), per minute at --scale 1:

    chat.postMessage      600/min  Slack's "special" tier: 1/s per channel (every DM is its own
                                   channel, so that one does not bind here) and a workspace-wide
                                   cap Slack does not publish; 600/min is the figure modelled.
    conversations.open     50/min  Tier 3 (50+ per minute).
    conversations.history  50/min  Tier 3; only a recovery reads history.

--scale divides every window (10: ten times the rates), so the default run takes seconds, not
minutes. Retry-After stays whole seconds (as in Slack) and slack_sdk adds up to a second of
jitter to each wait, so a scaled run loses relatively more to each 429 than Slack's pace would.

Printed: time, Slack calls by method, 429s, the floor (calls beyond the first burst divided by
the method's rate: no client can be faster) and how close the run came to it, and the proof of
exactly-once: every subscriber has exactly one update DM, the stakeholder channel one update,
and the ledger 1,001 `sent` rows and nothing else.

Baseline, in the same run: the old fan-out's call pattern (conversations.open then
chat.postMessage per user, every subscriber at once, the bot's slack_sdk client and retry
handlers) against a fresh stand-in with the same limits; the ledger round trips it also made per
subscriber are not counted. A post whose retries ran out was lost there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.localslack import LocalSlack  # noqa: E402
from bot.localslack.models import Message  # noqa: E402
from bot.slack.client import make_web_client  # noqa: E402

BIN = Path(sys.executable).parent / "oncall-bot"
TOKEN = "xoxb-bench"
SECRET = "bench-secret"
ONCALL = "U0ONCALL"
STAKEHOLDERS = "ml-stakeholders"


@dataclass
class Limits:
    per_second: dict[str, float]

    def apply(self, slack: LocalSlack) -> None:
        for method, rate in self.per_second.items():
            slack.set_rate_limit(method, rate)  # burst: one second's worth (the default)

    def floor(self, ok_calls: Counter[str]) -> tuple[float, str]:
        """Seconds no client can beat, and the method that sets them."""
        worst = (0.0, "-")
        for method, rate in self.per_second.items():
            seconds = max(0.0, ok_calls.get(method, 0) - max(1.0, rate)) / rate
            worst = max(worst, (seconds, method))
        return worst


@dataclass
class Figures:
    seconds: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    ok: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)
    delivered: int = 0
    lost: int = 0


def users(n: int) -> list[str]:
    return [f"U1{i:05d}" for i in range(n)]


def stand_in(n: int, **kwargs: Any) -> LocalSlack:
    slack = LocalSlack(bot_token=TOKEN, signing_secret=SECRET, **kwargs)
    for i, user in enumerate(users(n)):
        slack.add_user(user, f"stakeholder{i}")
    return slack


def tally(slack: LocalSlack, start: int, figures: Figures) -> None:
    for call in slack.api_log[start:]:
        figures.calls[call.method] += 1
        if call.status == 200:
            figures.ok[call.method] += 1
        elif call.status == 429:
            figures.throttled[call.method] += 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_database(data_dir: Path, subscribers: list[str]) -> Path:
    """A migrated database with every user subscribed to every incident."""
    from bot.db.migrate import upgrade_to_head

    path = data_dir / "oncall.db"
    upgrade_to_head(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO incident_subscriptions (subscriber, kind, scope, created_at)"
            " VALUES (?, 'user', 'all', '2026-01-01 00:00:00.000000')",
            [(s,) for s in subscribers],
        )
    return path


def ledger(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT state, count(*) FROM incident_update_deliveries GROUP BY state"
        ).fetchall()
    return {state: int(n) for state, n in rows}


async def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"oncall-bot exited with {proc.returncode}")
            try:
                if (await client.get(url, timeout=1.0)).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not come up in {timeout:.0f}s")


# --- the bot's fan-out -------------------------------------------------------------------------
async def bot_fan_out(n: int, limits: Limits, timeout: float) -> tuple[Figures, dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="oncall-bench-fanout-"))
    data_dir = tmp / "var"
    data_dir.mkdir()
    port = free_port()
    slack = stand_in(n, request_url=f"http://127.0.0.1:{port}/slack/events")
    await slack.start("127.0.0.1", 0)
    db = prepare_database(data_dir, users(n))
    posted: list[float] = []

    def on_message(message: Message, change: str) -> None:
        if change == "new" and message.metadata:
            posted.append(time.perf_counter())

    slack.subscribe(on_message)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ONCALL_"))},
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "ONCALL_DATA_DIR": str(data_dir),
        "ONCALL_ENGINEERS": ONCALL,
        "STAKEHOLDER_CHANNEL": STAKEHOLDERS,
        "MONITOR_INTERVAL_SECONDS": "0",
        "INGEST_INTERVAL_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
    }
    logs = open(tmp / "bot.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)],
        env=env,
        cwd=tmp,
        stdout=logs,
        stderr=logs,
        start_new_session=True,
    )
    figures = Figures()
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        since = slack.seq
        await slack.slash(user=ONCALL, channel="oncall", text="incident declare sev1 bench fan-out")
        await slack.wait_for_text("You are the commander", user=ONCALL, timeout=30, since=since)
        limits.apply(slack)
        first_call = len(slack.api_log)
        started = time.perf_counter()
        ack = await slack.slash(
            user=ONCALL, channel="oncall", text="incident update INC-1 rolled back; watching"
        )
        assert ack.ok, ack
        deadline = started + timeout
        while True:
            states = ledger(db)
            if sum(states.values()) >= n + 1 and not states.keys() & {"queued", "sending"}:
                break
            if time.perf_counter() > deadline:
                raise SystemExit(f"the fan-out did not finish in {timeout:.0f}s: {states}")
            await asyncio.sleep(0.05)
        figures.seconds = (max(posted) if posted else time.perf_counter()) - started
        await asyncio.sleep(0.2)  # nothing may come after the ledger says done
        tally(slack, first_call, figures)
        dms = Counter(len(slack.dms(u)) for u in users(n))
        channel = [m for m in slack.messages(STAKEHOLDERS) if m.metadata]
        figures.delivered = sum(k * v for k, v in dms.items()) + len(channel)
        proof = {
            "users_with_exactly_one_dm": dms.get(1, 0),
            "users_with_other_counts": {k: v for k, v in dms.items() if k != 1},
            "stakeholder_channel_updates": len(channel),
            "ledger": ledger(db),
        }
        return figures, proof
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        logs.close()
        await slack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


# --- the baseline: the old fan-out's calls -----------------------------------------------------
async def old_fan_out(n: int, limits: Limits) -> Figures:
    """Every subscriber at once; users: conversations.open, then chat.postMessage to the DM."""
    slack = stand_in(n, request_url=None)
    await slack.start("127.0.0.1", 0)
    limits.apply(slack)
    client = make_web_client(token=TOKEN, base_url=slack.api_url)
    figures = Figures()

    async def deliver(subscriber: str, kind: str) -> bool:
        try:
            channel = subscriber
            if kind == "user":
                opened = await client.conversations_open(users=subscriber)
                channel = opened["channel"]["id"]
            await client.chat_postMessage(channel=channel, text="Update on INC-1")
        except Exception:
            return False
        return True

    try:
        started = time.perf_counter()
        audience = [(STAKEHOLDERS, "channel"), *((u, "user") for u in users(n))]
        results = await asyncio.gather(*(deliver(s, k) for s, k in audience))
        figures.seconds = time.perf_counter() - started
        tally(slack, 0, figures)
        figures.delivered, figures.lost = sum(results), len(results) - sum(results)
        return figures
    finally:
        await client.session.close() if client.session else None
        await slack.stop()


# --- report ------------------------------------------------------------------------------------
def report(name: str, figures: Figures, limits: Limits, deliveries: int) -> dict[str, Any]:
    floor, bound_by = limits.floor(figures.ok)
    close = floor / figures.seconds if figures.seconds else 0.0
    calls = ", ".join(f"{m} {c}" for m, c in sorted(figures.calls.items()))
    throttled = ", ".join(f"{m} {c}" for m, c in sorted(figures.throttled.items())) or "none"
    print(f"  {name}")
    print(f"    time            {figures.seconds:8.2f} s")
    print(f"    Slack calls     {sum(figures.calls.values()):8d}   ({calls})")
    print(f"    429 answers     {sum(figures.throttled.values()):8d}   ({throttled})")
    print(
        f"    floor           {floor:8.2f} s   (computed from the calls above: {bound_by}'s"
        " calls beyond one burst / its rate)"
    )
    print(f"    of the limit    {close:8.0%}   (floor / time)")
    print(f"    delivered       {figures.delivered:8d}   of {deliveries}, lost {figures.lost}")
    return {
        "seconds": round(figures.seconds, 3),
        "calls": dict(figures.calls),
        "throttled_429": dict(figures.throttled),
        "floor_seconds": round(floor, 3),
        "floor_method": bound_by,
        "share_of_limit": round(close, 3),
        "delivered": figures.delivered,
        "lost": figures.lost,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000, help="subscribed users (default 1000)")
    parser.add_argument("--scale", type=float, default=10.0, help="rates x this (default 10)")
    parser.add_argument("--post-per-minute", type=float, default=600.0)
    parser.add_argument("--open-per-minute", type=float, default=50.0)
    parser.add_argument("--history-per-minute", type=float, default=50.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after (seconds)")
    parser.add_argument("--skip-baseline", action="store_true", help="only the bot's fan-out")
    args = parser.parse_args()
    if not BIN.exists():
        print(f"oncall-bot is not installed next to {sys.executable}; run `make setup`")
        return 1
    per_second = {
        "chat.postMessage": args.post_per_minute / 60 * args.scale,
        "conversations.open": args.open_per_minute / 60 * args.scale,
        "conversations.history": args.history_per_minute / 60 * args.scale,
    }
    limits = Limits(per_second)
    deliveries = args.users + 1
    print(
        f"fan-out: one update to {args.users:,} users + {STAKEHOLDERS} = {deliveries:,} deliveries;"
        f" limits x{args.scale:g}: " + ", ".join(f"{m} {r:g}/s" for m, r in per_second.items())
    )
    figures, proof = asyncio.run(bot_fan_out(args.users, limits, args.timeout))
    result: dict[str, Any] = {"users": args.users, "limits_per_second": per_second}
    result["bot"] = report(
        "the bot (bounded fan-out, posts to user IDs)", figures, limits, deliveries
    )
    exact = (
        proof["users_with_exactly_one_dm"] == args.users
        and not proof["users_with_other_counts"]
        and proof["stakeholder_channel_updates"] == 1
        and proof["ledger"] == {"sent": deliveries}
    )
    print(
        f"    exactly once    {'YES' if exact else 'NO'}    "
        f"{proof['users_with_exactly_one_dm']:,}/{args.users:,} users have exactly one DM"
        f"{' (others: ' + str(proof['users_with_other_counts']) + ')' if proof['users_with_other_counts'] else ''}"
        f", {STAKEHOLDERS} {proof['stakeholder_channel_updates']}, ledger {proof['ledger']}"
    )
    result["bot"]["exactly_once"] = exact
    result["bot"]["proof"] = proof
    if not args.skip_baseline:
        old = asyncio.run(old_fan_out(args.users, limits))
        result["old"] = report(
            "baseline: the old calls (open + post per user, all at once)", old, limits, deliveries
        )
        full = (args.users - max(1.0, per_second["conversations.open"])) / per_second[
            "conversations.open"
        ]
        print(
            f"    to deliver all  >= {full:6.1f} s   (computed, not measured: the users' "
            "conversations.open calls beyond one burst, at its rate)"
        )
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "fanout.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "limits_per_second"}, default=str))
    print("PASS" if exact else "MISS")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
