"""Processes to kill with SIGKILL: a bot or a model server in a process of its own.

Importing the bot (MLflow above all) takes seconds, too long to pay for every kill in a loop of
delays. So one "zygote" process imports everything once per test session and forks a fresh child
for each process a test wants; the child runs a real bot (or model server) on its own event loop
and HTTP port, and the test kills it with SIGKILL, so no clean-up code of it runs.

Run as a script, this module is the zygote: one JSON request per stdin line, each answered by the
forked child with one line `{"pid": ..., "port": ...}` on stdout once it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Child:
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    async def kill(self) -> None:
        """SIGKILL, then wait until the kernel has reaped it (its locks and sockets are gone)."""
        self.signal(signal.SIGKILL)
        async with asyncio.timeout(10):
            while self.alive():
                await asyncio.sleep(0.005)


class Zygote:
    """The parent of the processes a test kills; see the module docstring."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.crash"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self._lock = threading.Lock()
        self.children: list[Child] = []

    def _spawn(self, request: dict[str, Any]) -> Child:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        with self._lock:
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the zygote process died")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"child failed to start: {answer['error']}")
        child = Child(pid=int(answer["pid"]), port=int(answer["port"]))
        self.children.append(child)
        return child

    async def bot(self, tmp_path: Path, **settings: Any) -> Child:
        """A bot built by `tests.harness.make_settings(tmp_path, **settings)`, serving HTTP."""
        request = {"kind": "bot", "tmp_path": str(tmp_path), "settings": settings}
        return await asyncio.wait_for(asyncio.to_thread(self._spawn, request), 120)

    async def model_server(self, tmp_path: Path, **settings: Any) -> Child:
        """A model server built from the same settings, serving HTTP."""
        request = {"kind": "model_server", "tmp_path": str(tmp_path), "settings": settings}
        return await asyncio.wait_for(asyncio.to_thread(self._spawn, request), 120)

    def close(self) -> None:
        for child in self.children:
            child.signal(signal.SIGKILL)
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


# --- the zygote and its children ---------------------------------------------------------------


async def _serve_child(kind: str, tmp_path: Path, settings: dict[str, Any]) -> None:
    from bot.app import BotApp
    from bot.servers import ServerTask
    from bot.serving.server import build_model_app
    from tests.harness import make_settings

    config = make_settings(tmp_path, **settings)
    if kind == "bot":
        app = BotApp.build(config)
        await app.start()
        await app.start_monitoring()  # as `oncall-bot serve` does
        server = ServerTask(app.web, host="127.0.0.1", port=0)
    else:
        server = ServerTask(build_model_app(config), host="127.0.0.1", port=0, lifespan="on")
    await server.start()
    print(json.dumps({"pid": os.getpid(), "port": server.port}), flush=True)
    await asyncio.Event().wait()  # until killed


def _child(request: dict[str, Any]) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the bot waits for its own children
    with contextlib.suppress(Exception):  # Linux: die with the zygote, never outlive a test run
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    try:
        asyncio.run(_serve_child(request["kind"], Path(request["tmp_path"]), request["settings"]))
    except BaseException as exc:  # the parent test waits for one line: tell it why
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
    finally:
        os._exit(1)


def _warm_up() -> None:
    """Pay once, in the zygote, what every child would otherwise pay on its own: the imports the
    bot makes lazily (MLflow, scikit-learn, pandas, skops: seconds each) and the start-up check of
    every template (its memo is inherited by each fork)."""
    import httpcore  # noqa: F401
    import mlflow  # noqa: F401
    import mlflow.artifacts  # noqa: F401
    import mlflow.sklearn  # noqa: F401
    import pandas  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import skops.io  # noqa: F401
    import uvicorn.lifespan.off  # noqa: F401
    import uvicorn.lifespan.on  # noqa: F401
    import uvicorn.protocols.http.httptools_impl  # noqa: F401
    import uvicorn.protocols.websockets.auto  # noqa: F401
    from apscheduler.executors import asyncio as _executor  # noqa: F401
    from mlflow import MlflowClient  # noqa: F401

    from bot.messages import TemplateRenderer, require_valid_templates

    require_valid_templates(TemplateRenderer())


def main() -> None:
    import bot.app  # noqa: F401  (the expensive import, paid once for every child)
    import bot.serving.server  # noqa: F401

    _warm_up()

    # Children are reaped by the kernel as they die, so a killed child never lingers as a zombie.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the test
    for line in sys.stdin:
        request = json.loads(line)
        if os.fork() == 0:
            _child(request)


if __name__ == "__main__":
    main()
