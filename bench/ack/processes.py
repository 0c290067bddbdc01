"""The processes bench/ack_latency.py measures, the Slack stand-in they call, and /proc readings."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.ack.load import BOT_TOKEN, HOST, SIGNING_SECRET, BenchError, Scenario

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
