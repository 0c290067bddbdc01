"""Ack latency of `/iris` over HTTP: the bot against two bare Bolt apps, all driven by wrk.

    .venv/bin/python bench/ack_latency.py            # 2 s warm-up + 8 s per concurrency level
    .venv/bin/python bench/ack_latency.py --quick    # 2 s smoke run
    .venv/bin/python bench/ack_latency.py --duration 15 --concurrency 1,10,50,100

Four rows are measured one after the other in the same run, each target alone on the machine,
with the same load generator:

  bare-default  a Bolt AsyncApp whose `/iris` listener only acks (process_before_response=False:
                Bolt's async runner polls for the ack every 10 ms)
  bare-pbr      the same app with process_before_response=True: the baseline the bot is read
                against (the bot runs with process_before_response=True too)
  bot-status    `oncall-bot serve`: `/iris status` by an oncall engineer. Parsed, role checked,
                answered inside the ack; its audit row is queued and written in a batch after it
  bot-deny      the same process: `/iris deploy v1` by a viewer. Parsed, role checked, refused;
                the denial's audit row is INSERTed and committed before the ack goes out

The bare apps (bench/ack/bare_bolt.py) are served like the bot serves itself (Starlette + Bolt's
Starlette adapter under uvicorn with httptools on uvloop, no access log), so the difference is the
listener's work. Bolt's one-time `auth.test` goes to the project's Slack stand-in
(`bot.localslack.LocalSlack`), run in a background thread of this process; both bot commands are
answered inside the ack, so the stand-in sees nothing else. The bot gets a fresh SQLite database
in a temporary ONCALL_DATA_DIR. Everything listens on 127.0.0.1 only.

Load generator: Debian's `wrk` (`wrk -t1 -cN -dS --latency -s <lua>`), not a Python client, which
would saturate before the server on a 2-core machine. It is installed with apt-get when missing.

Signing: Slack signs `v0:{timestamp}:{body}` with HMAC-SHA256 of the signing secret and Bolt
rejects timestamps older than 5 minutes. wrk's LuaJIT has no HMAC, so at the start of every wrk run
this script pre-signs, in Python, a pool of a few hundred distinct slash-command bodies (each with
its own `trigger_id`), each with its timestamp and `X-Slack-Signature`, and writes them into a
generated Lua script whose `request()` cycles through them (one run is far shorter than 5 minutes).

Before measuring, each row's request must get 200 once (the bot's answers must contain the status
text, or the denial); anything else means the signing or the set-up is wrong and the run stops.
Each row is warmed up (`--warmup`, 2 s) before its measurements.

Output: a table of req/s, p50 and p99 per row and concurrency, plus CPU/req (the target process's
own user+system CPU time per request, from /proc: steadier than latency when the machine is
shared, and the figure that bounds throughput), each bot row's p50 and CPU/req as a multiple of
bare-pbr's at the same concurrency, the goals for the bot with PASS/MISS, and the figures as JSON
in bench/out/ack_latency.json. Every figure comes from this run. Exit status 0 when the benchmark
ran (even if a goal is missed: it is a measurement), 1 when it could not run, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


from bench.ack.load import (  # noqa: E402
    BOT_TOKEN,
    HOST,
    SCENARIOS,
    SIGNING_SECRET,
    USER_ID,
    BenchError,
    Scenario,
    Wrk,
    WrkResult,
    ensure_wrk,
    signed_pool,
)
from bench.ack.processes import (  # noqa: E402
    StandIn,
    Target,
    _clean_env,
    free_port,
    http_request,
    load_avg,
    process_cpu_seconds,
)

OUT_FILE = REPO / "bench" / "out" / "ack_latency.json"
BARE_APP = REPO / "bench" / "ack" / "bare_bolt.py"

# Goals for the bot's rows (targets, not measurements).
GOAL_P50_C1_MS = 2.0
GOAL_P99_C50_MS = 50.0
GOAL_RPS_C50 = 1500.0

BASELINE = "bare-pbr"
BOT_ROWS = ("bot-status", "bot-deny")
ALL_ROWS = ("bare-default", "bare-pbr", *BOT_ROWS)


def verify(target: Target, scenario: Scenario, api_url: str) -> str:
    """One signed request must get 200 (and the expected text); anything else stops the run."""
    ((timestamp, signature, body),) = signed_pool(1, api_url=api_url, scenario=scenario)
    status, text = http_request(
        target.port,
        "POST",
        "/slack/events",
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        },
    )
    if status != 200:
        raise BenchError(
            f"{scenario.name}: a signed /iris {scenario.text} request got HTTP {status} (body {text[:300]!r}). "
            "A 401 means the signature or timestamp is wrong; see the target's log:\n"
            + target.log_tail()
        )
    if scenario.expect is not None and scenario.expect not in text:
        raise BenchError(
            f"{scenario.name}: the ack does not contain {scenario.expect!r}: {text[:500]!r}\n{target.log_tail()}"
        )
    return text


def make_targets(api_url: str, tmp: Path, rows: list[str]) -> list[Target]:
    """The processes the chosen rows need, in order; both bot rows share one bot process."""
    python = sys.executable
    venv_bin = Path(python).parent
    bot_exe = venv_bin / "oncall-bot"
    if not bot_exe.exists():
        found = shutil.which("oncall-bot")
        if found is None:
            raise BenchError(
                f"oncall-bot is not installed next to {python}; run `uv sync` and use .venv/bin/python"
            )
        bot_exe = Path(found)
    env = _clean_env()
    env.update(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": api_url,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
    )
    bot_dir = tmp / "bot"
    bot_dir.mkdir()
    bot_env = {
        **env,
        "ONCALL_DATA_DIR": str(bot_dir / "var"),  # fresh SQLite database
        "ONCALL_ENGINEERS": USER_ID,
        "LOG_LEVEL": "WARNING",
        "HOST": HOST,
    }
    targets = []
    for pbr in (False, True):
        name = "bare-pbr" if pbr else "bare-default"
        if name not in rows:
            continue
        port = free_port()
        cmd = [python, str(BARE_APP), "--port", str(port)] + (
            ["--process-before-response"] if pbr else []
        )
        targets.append(
            Target(
                name=name,
                description=f"bare Bolt AsyncApp, ack only, process_before_response={pbr}",
                cmd=cmd,
                env=env,
                cwd=tmp,
                scenarios=[SCENARIOS[name]],
                port=port,
            )
        )
    bot_rows = [SCENARIOS[name] for name in rows if name in BOT_ROWS]
    if not bot_rows:
        return targets
    port = free_port()
    targets.append(
        Target(
            name="bot",
            description="oncall-bot serve: parse, role check, audit, answer in the ack",
            # cwd is a scratch folder so a stray oncall.toml in the checkout cannot change settings.
            cmd=[str(bot_exe), "serve", "--port", str(port)],
            env=bot_env,
            cwd=bot_dir,
            scenarios=bot_rows,
            port=port,
        )
    )
    return targets


# --- report -----------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return (
        f"{value * 1000:.0f} us"
        if value < 1
        else f"{value:.2f} ms"
        if value < 100
        else f"{value:.0f} ms"
    )


def _times(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "-"
    return f"x{value / base:.1f}"


def table(results: list[WrkResult], rows: list[str], levels: list[int]) -> str:
    """Every row measured, and each row's p50 and CPU/req as a multiple of the baseline's."""
    by = {(r.target, r.concurrency): r for r in results}
    head = (
        f"{'row':<14}{'conc':>5}{'req/s':>11}{'p50':>11}{'p99':>11}{'CPU/req':>10}"
        f"{'requests':>10}{'errors':>7}   p50 / CPU vs {BASELINE}"
    )
    lines = [head, "-" * len(head)]
    for name in rows:
        for c in levels:
            r = by.get((name, c))
            if r is None:
                continue
            base = by.get((BASELINE, c))
            vs = (
                f"{_times(r.p50_ms, base.p50_ms):>7} {_times(r.server_cpu_ms_per_req, base.server_cpu_ms_per_req):>6}"
                if base is not None and name != BASELINE
                else ""
            )
            lines.append(
                f"{name:<14}{c:>5}{r.rps:>11,.0f}{_ms(r.p50_ms):>11}{_ms(r.p99_ms):>11}"
                f"{_ms(r.server_cpu_ms_per_req):>10}{r.requests:>10,}{r.errors:>7}   {vs}"
            )
        lines.append("")
    lines.append("rows:")
    lines.extend(f"  {name:<13} {SCENARIOS[name].label}" for name in rows)
    return "\n".join(lines).rstrip()


def goals(results: list[WrkResult], row: str) -> list[dict[str, Any]]:
    by = {(r.target, r.concurrency): r for r in results}
    c1, c50 = by.get((row, 1)), by.get((row, 50))
    checks = [
        (
            "p50 at concurrency 1",
            f"<= {GOAL_P50_C1_MS:g} ms",
            c1.p50_ms if c1 else None,
            "ms",
            lambda v: v <= GOAL_P50_C1_MS,
        ),
        (
            "p99 at concurrency 50",
            f"<= {GOAL_P99_C50_MS:g} ms",
            c50.p99_ms if c50 else None,
            "ms",
            lambda v: v <= GOAL_P99_C50_MS,
        ),
        (
            "throughput at concurrency 50",
            f">= {GOAL_RPS_C50:,.0f} req/s",
            c50.rps if c50 else None,
            "req/s",
            lambda v: v >= GOAL_RPS_C50,
        ),
    ]
    out = []
    for name, goal, value, unit, ok in checks:
        verdict = "n/a" if value is None else ("PASS" if ok(value) else "MISS")
        out.append(
            {
                "row": row,
                "goal": name,
                "target": goal,
                "value": value,
                "unit": unit,
                "verdict": verdict,
            }
        )
    return out


def _fmt_goal(g: dict[str, Any]) -> str:
    if g["value"] is None:
        shown = "not measured in this run (that concurrency was not run)"
    elif g["unit"] == "ms":
        shown = "measured " + _ms(g["value"])
    else:
        shown = f"measured {g['value']:,.0f} req/s"
    return f"  {g['verdict']:<5} {g['row']:<11} {g['goal']:<30} {g['target']:<16} {shown}"


# --- main -------------------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration", type=float, default=8.0, help="seconds per concurrency level (default 8)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of warm-up per target (default 2)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2 s per level, 1 s warm-up"
    )
    parser.add_argument(
        "--concurrency", default="1,10,50", help="comma-separated levels (default 1,10,50)"
    )
    parser.add_argument(
        "--pool", type=int, default=300, help="distinct pre-signed requests per wrk run"
    )
    parser.add_argument(
        "--rows",
        default=",".join(ALL_ROWS),
        help=f"which rows, in order (default all: {','.join(ALL_ROWS)})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=OUT_FILE,
        help=f"JSON output (default {OUT_FILE.relative_to(REPO)})",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = 2.0, 1.0
    try:
        args.levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    except ValueError:
        parser.error("--concurrency takes integers, e.g. 1,10,50")
    if not args.levels or min(args.levels) < 1:
        parser.error("--concurrency needs at least one level >= 1")
    args.rows = [t.strip() for t in args.rows.split(",") if t.strip()]
    unknown = set(args.rows) - set(ALL_ROWS)
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    return args


def _raise_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def measure(
    wrk: Wrk, target: Target, scenario: Scenario, url: str, concurrency: int, duration: float
) -> WrkResult:
    """One wrk run against a started target, with the target's own CPU time per request."""
    assert target.proc is not None
    cpu_before = process_cpu_seconds(target.proc.pid)
    r = wrk.run(url, concurrency=concurrency, duration=duration, scenario=scenario)
    cpu_after = process_cpu_seconds(target.proc.pid)
    if cpu_before is not None and cpu_after is not None and r.requests:
        r.server_cpu_ms_per_req = (cpu_after - cpu_before) * 1000 / r.requests
    r.load_avg_1m = load_avg()
    note = f"  ({r.non_2xx} non-2xx, {r.socket_errors} socket errors)" if r.errors else ""
    print(
        f"    c={concurrency:<3} {r.rps:>8,.0f} req/s  p50 {_ms(r.p50_ms):>9}  p99 {_ms(r.p99_ms):>9}"
        f"  server CPU {_ms(r.server_cpu_ms_per_req):>9}/req{note}",
        flush=True,
    )
    return r


def run(args: argparse.Namespace) -> int:
    exe = ensure_wrk()
    version = subprocess.run([exe, "-v"], capture_output=True, text=True)
    wrk_version = version.stdout.splitlines()[:1]
    standin = StandIn()
    targets: list[Target] = []
    wrk: Wrk | None = None
    results: list[WrkResult] = []
    tmp = Path(tempfile.mkdtemp(prefix="ack-bench-"))
    try:
        standin.start()
        targets = make_targets(standin.api_url, tmp, args.rows)
        wrk = Wrk(exe, tmp, standin.api_url, args.pool)
        print(
            f"ack latency of /iris: {', '.join(args.rows)}; concurrency "
            f"{', '.join(map(str, args.levels))}; {args.warmup:g} s warm-up, {args.duration:g} s each; "
            f"wrk -t1, {args.pool} pre-signed requests per run; {os.cpu_count()} CPUs",
            flush=True,
        )
        busy = load_avg()
        if busy is not None and busy >= 0.5 * (os.cpu_count() or 1):
            print(
                f"warning: the machine is busy before the run (1-min load average {busy} on {os.cpu_count()} CPUs); "
                "figures will be noisy. CPU/req (the target's own CPU time per request) is the steadier figure.",
                flush=True,
            )
        for target in targets:
            print(
                f"\n[{target.name}] {target.description}: starting on port {target.port} ...",
                flush=True,
            )
            target.start(tmp)
            url = f"{target.base}/slack/events"
            for scenario in target.scenarios:
                print(f"  {scenario.name}: {scenario.label}", flush=True)
                verify(target, scenario, standin.api_url)
                warmup = min(10, max(args.levels))
                wrk.run(url, concurrency=warmup, duration=args.warmup, scenario=scenario)
                for c in args.levels:
                    results.append(measure(wrk, target, scenario, url, c, args.duration))
            if target.proc is not None and target.proc.poll() is not None:
                raise BenchError(f"{target.name} died during the run:\n{target.log_tail()}")
            target.stop()
            if "Traceback" in target.log_tail(200):
                print(
                    f"  note: {target.name} logged a traceback; see below\n{target.log_tail()}",
                    flush=True,
                )

        report_goals = [g for row in args.rows if row in BOT_ROWS for g in goals(results, row)]
        print("\n" + table(results, args.rows, args.levels))
        if BASELINE not in args.rows:
            print(f"(no {BASELINE} row in this run: nothing to compare the bot's rows with)")
        if report_goals:
            print("\nGoals for the bot's rows (targets, not measurements):")
            for g in report_goals:
                print(_fmt_goal(g))
        errors = sum(r.errors for r in results)
        if errors:
            print(
                f"\nwarning: {errors} requests failed (non-2xx or socket errors); see the errors column"
            )
        calls = standin.api_calls()
        print(
            f"\nSlack stand-in saw {len(calls)} API calls ({', '.join(sorted(set(calls))) or 'none'})"
        )

        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(
                {
                    "benchmark": "ack_latency",
                    "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "settings": {
                        "duration_s": args.duration,
                        "warmup_s": args.warmup,
                        "concurrency": args.levels,
                        "pool": args.pool,
                        "wrk": wrk_version[0] if wrk_version else "wrk",
                        "wrk_threads": 1,
                        "cpus": os.cpu_count(),
                        "load_avg_1m_at_start": busy,
                        "python": platform.python_version(),
                        "platform": platform.platform(),
                    },
                    "rows": {name: SCENARIOS[name].label for name in args.rows},
                    "baseline": BASELINE,
                    "results": [
                        {k: v for k, v in asdict(r).items() if k != "raw"} for r in results
                    ],
                    "goals": report_goals,
                    "slack_api_calls": len(calls),
                },
                indent=2,
            )
            + "\n"
        )
        print(f"figures written to {args.out}")
        return 0
    finally:
        if wrk is not None:
            wrk.stop()
        for target in targets:
            with contextlib.suppress(Exception):
                target.stop()
        standin.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)  # SIGTERM cleans up like Ctrl-C
    # Also when started in the background by a shell that ignores SIGINT (`cmd &`), Ctrl-C/SIGINT
    # must reach the clean-up below.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run(args)
    except BenchError as exc:
        print(f"\nack_latency: cannot run the benchmark: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nack_latency: interrupted; subprocesses stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
