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
import asyncio
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import wrkload  # noqa: E402

HOST = "127.0.0.1"
SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"
USER_ID = "U0ONCALL"  # in ONCALL_ENGINEERS
VIEWER_ID = "U0VIEWER"  # in no role list: a viewer
OUT_FILE = REPO / "bench" / "out" / "ack_latency.json"
BARE_APP = REPO / "bench" / "ack" / "bare_bolt.py"

# Goals for the bot's rows (targets, not measurements).
GOAL_P50_C1_MS = 2.0
GOAL_P99_C50_MS = 50.0
GOAL_RPS_C50 = 1500.0

BASELINE = "bare-pbr"
BOT_ROWS = ("bot-status", "bot-deny")
ALL_ROWS = ("bare-default", "bare-pbr", *BOT_ROWS)


@dataclass(frozen=True)
class Scenario:
    """One measured row: which process, and the command it is sent."""

    name: str
    label: str
    user_id: str
    text: str
    expect: str | None = None  # text the ack body must contain


SCENARIOS = {
    "bare-default": Scenario(
        "bare-default", "bare Bolt, ack only, process_before_response=False", USER_ID, "status"
    ),
    "bare-pbr": Scenario(
        "bare-pbr", "bare Bolt, ack only, process_before_response=True", USER_ID, "status"
    ),
    "bot-status": Scenario(
        "bot-status",
        "bot, /iris status by oncall: answered in the ack, audit row batched after it",
        USER_ID,
        "status",
        "Oncall bot",
    ),
    "bot-deny": Scenario(
        "bot-deny",
        "bot, /iris deploy v1 by a viewer: denied, audit row committed before the ack",
        VIEWER_ID,
        "deploy v1",
        "needs the oncall role",
    ),
}


class BenchError(Exception):
    """The benchmark could not run; the message says why."""


# --- signing and the wrk script -------------------------------------------------------------


def slash_body(trigger_id: str, *, api_url: str, scenario: Scenario) -> str:
    return urllib.parse.urlencode(
        {
            "token": "bench-verification-token",
            "team_id": "T0LOCAL",
            "team_domain": "local",
            "channel_id": "C0ONCALL",
            "channel_name": "oncall",
            "user_id": scenario.user_id,
            "user_name": scenario.user_id.lower(),
            "command": "/iris",
            "text": scenario.text,
            "api_app_id": "A0BENCH",
            # Stand-in URL: both bot commands answer inside the ack, so nothing is posted here.
            "response_url": f"{api_url.rstrip('/').removesuffix('/api')}/response/bench",
            "trigger_id": trigger_id,
        }
    )


def sign(body: str, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_pool(size: int, *, api_url: str, scenario: Scenario) -> list[tuple[str, str, str]]:
    """`size` distinct (timestamp, signature, body) triples, signed now."""
    timestamp = str(int(time.time()))
    salt = os.urandom(4).hex()
    pool = []
    for i in range(size):
        body = slash_body(
            f"{salt}.{i:05d}.{os.urandom(6).hex()}", api_url=api_url, scenario=scenario
        )
        pool.append((timestamp, sign(body, timestamp), body))
    return pool


def _lua_str(value: str) -> str:
    # The values are ASCII (form-encoded bodies, hex, digits): JSON's escaping is valid Lua.
    return json.dumps(value)


def write_lua(path: Path, pool: list[tuple[str, str, str]]) -> None:
    """A wrk script whose request() cycles through the pre-signed pool (formatted once in init)."""
    entries = ",\n".join(
        f"  {{{_lua_str(ts)}, {_lua_str(sig)}, {_lua_str(body)}}}" for ts, sig, body in pool
    )
    path.write_text(
        "-- generated by bench/ack_latency.py: pre-signed /iris requests\n"
        f"local pool = {{\n{entries}\n}}\n"
        "local reqs = {}\n"
        "local n = #pool\n"
        "local i = 0\n"
        "function init(args)\n"
        "  for k, p in ipairs(pool) do\n"
        '    reqs[k] = wrk.format("POST", "/slack/events", {\n'
        '      ["Content-Type"] = "application/x-www-form-urlencoded",\n'
        '      ["X-Slack-Request-Timestamp"] = p[1],\n'
        '      ["X-Slack-Signature"] = p[2],\n'
        "    }, p[3])\n"
        "  end\n"
        "end\n"
        "function request()\n"
        "  i = i % n + 1\n"
        "  return reqs[i]\n"
        "end\n"
    )


# --- wrk ------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    try:
        return wrkload.ensure_wrk()
    except wrkload.WrkUnavailable as exc:
        raise BenchError(str(exc)) from None


@dataclass
class WrkResult:
    target: str
    concurrency: int
    duration_s: float
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    requests: int
    non_2xx: int
    socket_errors: int
    server_cpu_ms_per_req: float | None = None  # the target process's CPU time / requests served
    load_avg_1m: float | None = None  # the machine's 1-minute load average when the run ended
    raw: str = field(repr=False, default="")

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def parse_wrk(text: str, *, target: str, concurrency: int, duration: float) -> WrkResult:
    try:
        report = wrkload.parse_report(text)
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    return WrkResult(
        target=target,
        concurrency=concurrency,
        duration_s=duration,
        rps=report.rps,
        p50_ms=report.p50_ms,
        p99_ms=report.p99_ms,
        requests=report.requests,
        non_2xx=report.non_2xx,
        socket_errors=report.socket_errors,
        raw=text,
    )


class Wrk:
    def __init__(self, exe: str, workdir: Path, api_url: str, pool_size: int) -> None:
        self.exe = exe
        self.workdir = workdir
        self.api_url = api_url
        self.pool_size = pool_size
        self.proc: subprocess.Popen[str] | None = None

    def run(self, url: str, *, concurrency: int, duration: float, scenario: Scenario) -> WrkResult:
        lua = self.workdir / "slash.lua"
        # Fresh timestamps and signatures for every run.
        write_lua(lua, signed_pool(self.pool_size, api_url=self.api_url, scenario=scenario))
        cmd = [
            self.exe,
            "-t1",
            f"-c{concurrency}",
            f"-d{duration:g}s",
            "--latency",
            "--timeout",
            "5s",
            "-s",
            str(lua),
            url,
        ]
        # Own session: a Ctrl-C reaches only this script, which then stops wrk itself.
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        try:
            out, _ = self.proc.communicate(timeout=duration + 30)
        finally:
            self.stop()
        if self.proc.returncode != 0:
            raise BenchError(f"wrk exited with {self.proc.returncode}:\n{out}")
        return parse_wrk(out, target=scenario.name, concurrency=concurrency, duration=duration)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --- the Slack stand-in -----------------------------------------------------------------------


class StandIn:
    """`bot.localslack.LocalSlack` on its own event loop in a daemon thread of this process."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="localslack", daemon=True)
        self.slack: Any = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        from bot.localslack import LocalSlack

        async def _start() -> Any:
            slack = LocalSlack(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, request_url=None)
            await slack.start(host=HOST, port=0)
            return slack

        self.thread.start()
        self.slack = asyncio.run_coroutine_threadsafe(_start(), self.loop).result(timeout=15)

    @property
    def api_url(self) -> str:
        return str(self.slack.api_url)

    def api_calls(self) -> list[str]:
        return [name for name, _ in list(self.slack.calls)]

    def stop(self) -> None:
        if not self.thread.is_alive():
            return
        if self.slack is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self.slack.stop(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


# --- targets ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    """This process's environment without any of the bot's settings (ours are set explicitly)."""
    try:
        from bot.config import Settings

        names = {name.upper() for name in Settings.model_fields}
    except Exception:  # pragma: no cover - the bench still runs without the import
        names = set()
    return {k: v for k, v in os.environ.items() if k.upper() not in names}


@dataclass
class Target:
    name: str
    description: str
    cmd: list[str]
    env: dict[str, str]
    cwd: Path
    scenarios: list[Scenario] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, logdir: Path, timeout: float = 90.0) -> None:
        self.log_path = logdir / f"{self.name}.log"
        log = self.log_path.open("wb")
        # Own session: Ctrl-C goes to this script, which stops the target in its `finally`.
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.name} exited with {self.proc.returncode} before it was healthy:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _ = http_request(self.port, "GET", "/healthz", timeout=2)
                if status == 200:
                    return
            time.sleep(0.1)
        raise BenchError(
            f"{self.name} did not answer GET /healthz with 200 within {timeout:.0f}s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no output)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:]) or "(no output)"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (all its threads), from /proc; None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def load_avg() -> float | None:
    with contextlib.suppress(OSError, AttributeError):
        return round(os.getloadavg()[0], 2)
    return None


def http_request(
    port: int,
    method: str,
    path: str,
    *,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, str]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


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
        shown = "not measured"
    elif g["unit"] == "ms":
        shown = _ms(g["value"])
    else:
        shown = f"{g['value']:,.0f} req/s"
    return f"  {g['verdict']:<5} {g['row']:<11} {g['goal']:<30} {g['target']:<16} measured {shown}"


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
