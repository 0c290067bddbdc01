"""Dagster beside the bot: `dagster-webserver` and the daemon on SQLite storage in the data dir.

`make run` starts it with the bot (in the background: the bot does not wait for it); tests start
one per session. With DAGSTER_URL set the bot uses a team's own Dagster and starts nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.config import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_FILE = "iris-bot-webhook.json"  # read by pipelines/settings.py:webhook_target
# --max-parallel N of a backfill: a run tag whose value is the backfill, limited to N runs each.
MAX_PARALLEL = 8
PARALLEL_TAG = "iris/parallel-{n}"


def dagster_yaml(home: Path, *, runs_in_daemon: bool = False) -> str:
    """The instance config: SQLite under DAGSTER_HOME, a queue with per-backfill limits.

    `runs_in_daemon` executes dequeued runs inside the daemon process (Dagster's own
    SyncInMemoryRunLauncher) instead of one new Python process per run: one at a time and no
    isolation, but no interpreter start-up per run. The test session uses it; `make run` does not.
    """
    limits = [
        {"key": PARALLEL_TAG.format(n=n), "value": {"applyLimitPerUniqueValue": True}, "limit": n}
        for n in range(1, MAX_PARALLEL + 1)
    ]
    config: dict[str, Any] = {
        "telemetry": {"enabled": False},
        "storage": {"sqlite": {"base_dir": str(home / "storage")}},
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "dequeue_interval_seconds": 1,
                "max_concurrent_runs": 4,
                "tag_concurrency_limits": limits,
            },
        },
        "run_monitoring": {"enabled": True, "poll_interval_seconds": 5},
    }
    if runs_in_daemon:
        config["run_launcher"] = {
            "module": "dagster._core.launcher.sync_in_memory_run_launcher",
            "class": "SyncInMemoryRunLauncher",
        }
    return json.dumps(config, indent=2)  # JSON is YAML


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedDagster:
    """The two Dagster processes, started and stopped by their process group ids."""

    home: Path
    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 0
    daemon_interval: float | None = None
    schedules: bool = True
    partitions_start: str | None = None
    log_dir: Path | None = None
    runs_in_daemon: bool = False
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _stopped: bool = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DAGSTER_HOME=str(self.home),
            PIPELINE_DATABASE_URL=self.database_url,
            PIPELINE_DATA_DIR=str(self.data_dir.resolve()),
            PIPELINE_SCHEDULES="on" if self.schedules else "off",
            PYTHONPATH=os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p),
        )
        if self.daemon_interval:
            env["PIPELINE_DAEMON_INTERVAL"] = str(self.daemon_interval)
        if self.partitions_start:
            env["PIPELINE_PARTITIONS_START"] = self.partitions_start
        return env

    def start(self) -> None:
        """Spawn the webserver; returns at once. `wait_ready` starts the daemon after it, since
        both would otherwise create the same fresh SQLite storage at once."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "dagster.yaml").write_text(
            dagster_yaml(self.home, runs_in_daemon=self.runs_in_daemon)
        )
        (self.data_dir / "landing").mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        self._spawn("webserver", ["-m", "dagster_webserver", "-m", "pipelines",
                                  "-h", self.host, "-p", str(self.port)])  # fmt: skip

    def _spawn(self, name: str, args: list[str]) -> None:
        logs = self.log_dir or self.home
        with (logs / f"dagster-{name}.log").open("ab") as out:
            self._procs.append(
                subprocess.Popen(
                    [sys.executable, *args],
                    cwd=PROJECT_ROOT,
                    env=self.environment(),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own group: stop() ends its children too
                )
            )

    def wait_ready(self, timeout: float = 120.0) -> bool:
        """Block until the webserver answers with the code location loaded (or timeout)."""
        deadline = time.monotonic() + timeout
        query = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }"
        while time.monotonic() < deadline:
            if self._stopped or any(p.poll() is not None for p in self._procs):
                return False
            with contextlib.suppress(httpx.HTTPError, ValueError):
                reply = httpx.post(f"{self.url}/graphql", json={"query": query}, timeout=5.0)
                nodes = reply.json()["data"]["repositoriesOrError"].get("nodes")
                if nodes:
                    if len(self._procs) == 1:
                        self._spawn("daemon", ["-m", "pipelines.daemon", "run", "-m", "pipelines"])
                    return True
            time.sleep(0.3)
        return False

    def register_bot(self, *, url: str, token: str) -> None:
        """Tell the failure sensor where this bot's endpoint is (it rereads the file each tick)."""
        self.home.mkdir(parents=True, exist_ok=True)
        path = self.home / WEBHOOK_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": url, "token": token}))
        tmp.replace(path)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopped = True  # a start-up still waiting in the background gives up
        for proc in self._procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self._procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._procs.clear()


def beside_bot(settings: Settings) -> tuple[EmbeddedDagster | None, Settings]:
    """Start Dagster beside the bot unless DAGSTER_URL names one (or DAGSTER_EMBEDDED=false).

    Returns at once with the settings pointed at it: the webserver and then the daemon come up
    in the background while the bot already answers (pipeline commands say the engine is not
    answering until then).
    """
    if settings.dagster_url or not settings.dagster_embedded:
        return None, settings
    token = settings.pipeline_webhook_token or secrets.token_hex(16)
    dagster = EmbeddedDagster(
        home=(settings.oncall_data_dir / "dagster").resolve(),
        data_dir=settings.oncall_data_dir,
        database_url=settings.resolved_database_url,
        host=settings.host if settings.host != "0.0.0.0" else "127.0.0.1",
        port=settings.dagster_port,
        # One machine: backfills start within seconds rather than Dagster's 30 s default.
        daemon_interval=5.0,
    )
    dagster.start()
    threading.Thread(target=dagster.wait_ready, name="dagster-start", daemon=True).start()
    return dagster, settings.model_copy(
        update={"dagster_url": dagster.url, "pipeline_webhook_token": token}
    )
