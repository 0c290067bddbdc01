"""Scaling: throughput and p99 under a fixed overload with 1 and 2 replicas, per serving engine.

    .venv/bin/python bench/scaling.py                    # local engine, then Ray Serve
    .venv/bin/python bench/scaling.py --engines local --seconds 8

The model is CPU-bound on purpose: a 300-tree random forest registered as production on a fresh
bootstrapped registry. `oncall-bot serve-model --engine E` runs as its own process. The overload
is a closed loop of CLIENTS concurrent single-row predictions (more than two replicas answer at
once). For each engine, in one run:

1. one replica: throughput (answers per second) and p99 latency;
2. the change to two replicas, made through the engine's API as the bot's Confirm makes it: the
   time until the second replica serves, and every request that failed meanwhile (the load
   keeps running through the change);
3. two replicas: throughput and p99;
4. shedding: the queue limit set to 0, and the share of requests answered 503 + Retry-After.

The comparison is the one replica of the same run (the baseline). Goal: 1 -> 2 replicas gives at
least 1.5x the throughput on the local engine, with no failed request during the change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.capacity.engine import ServingEngine  # noqa: E402
from bot.capacity.local import LocalEngine  # noqa: E402
from bot.capacity.ray_engine import RayServeEngine  # noqa: E402
from bot.model_registry.mlflow_backend import MlflowModelService  # noqa: E402
from bot.training import iris  # noqa: E402

BIN = Path(sys.executable).parent / "oncall-bot"
MODEL = "iris_classifier"
CLIENTS = 8
GOAL_RATIO = 1.5
ROW = {"sepal_length": 6.1, "sepal_width": 2.8, "petal_length": 4.7, "petal_width": 1.2}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(var: Path, env: dict[str, str]) -> int:
    """Bootstrap the registry, register a 300-tree forest and make it production."""
    subprocess.run([str(BIN), "bootstrap"], env=env, cwd=var.parent, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    service = MlflowModelService(
        f"sqlite:///{(var / 'mlflow.db').resolve()}", (var / "mlflow-artifacts").resolve(), MODEL
    )
    split = iris.holdout_split()
    params = iris.validate_params("random_forest", {"n_estimators": 300})
    model = iris.train("random_forest", params, split.X_train, split.y_train)
    metrics = iris.evaluate(model, split.X_holdout, split.y_holdout)
    version = service.register(
        model, estimator="random_forest", params=params, metrics=metrics,
        tags={"validation_status": "passed"}, trained_by="bench",
    )  # fmt: skip
    service.set_production(version.version)
    return int(version.version)


class Overload:
    """CLIENTS closed-loop clients; records (finish time, latency, status) of every answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[tuple[float, float, int]] = []
        self._client = httpx.AsyncClient(timeout=60.0, limits=httpx.Limits(max_connections=64))
        self._tasks: list[asyncio.Task[None]] = []

    async def _loop(self) -> None:
        while True:
            start = time.perf_counter()
            try:
                response = await self._client.post(f"{self.url}/v1/predict", json=ROW)
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            self.answers.append((time.perf_counter(), time.perf_counter() - start, status))

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop()) for _ in range(CLIENTS)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()

    def window(self, start: float, end: float) -> list[tuple[float, float, int]]:
        return [a for a in self.answers if start <= a[0] < end]


def figures(answers: list[tuple[float, float, int]], seconds: float) -> dict[str, float]:
    ok = sorted(lat for _, lat, status in answers if status == 200)
    p99 = ok[min(int(0.99 * len(ok)), len(ok) - 1)] * 1000 if ok else float("nan")
    return {
        "throughput_rps": len(ok) / seconds,
        "p99_ms": p99,
        "failed": sum(1 for *_, status in answers if status not in (200, 503)),
        "shed": sum(1 for *_, status in answers if status == 503),
        "answers": len(answers),
    }


async def measure(engine_name: str, url: str, engine: ServingEngine, seconds: float) -> dict:
    load = Overload(url)
    load.start()
    try:
        await asyncio.sleep(2.0)  # warm-up
        t0 = time.perf_counter()
        await asyncio.sleep(seconds)
        one = figures(load.window(t0, time.perf_counter()), seconds)
        changed = time.perf_counter()
        await engine.scale(2)
        while (await engine.status()).running < 2:
            if time.perf_counter() - changed > 300:
                raise SystemExit(f"{engine_name}: the second replica never served")
            await asyncio.sleep(0.05)
        to_serving = time.perf_counter() - changed
        during = figures(load.window(changed, time.perf_counter()), max(to_serving, 1e-3))
        await asyncio.sleep(2.0)  # the new replica warms up
        t1 = time.perf_counter()
        await asyncio.sleep(seconds)
        two = figures(load.window(t1, time.perf_counter()), seconds)
        await engine.shed(0)
        await asyncio.sleep(1.0)
        t2 = time.perf_counter()
        await asyncio.sleep(min(seconds, 4.0))
        shed = figures(load.window(t2, time.perf_counter()), min(seconds, 4.0))
    finally:
        await load.stop()
    return {
        "one_replica": one,
        "scale_to_two_seconds": to_serving,
        "failed_during_change": during["failed"],
        "two_replicas": two,
        "shedding": shed,
    }


async def run_engine(name: str, tmp: Path, seconds: float) -> dict[str, Any]:
    var = tmp / name / "var"
    var.mkdir(parents=True)
    port, dashboard = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ONCALL_", "DATABASE_"))},
        "ONCALL_DATA_DIR": str(var),
        "LOG_LEVEL": "WARNING",
        "SERVING_WORKER_CONCURRENCY": "1",
        "SERVING_QUEUE_LIMIT": "64",
        "MAX_REPLICAS": "2",
        "RAY_DASHBOARD_URL": f"http://127.0.0.1:{dashboard}",
    }
    env.pop("RAY_ADDRESS", None)
    version = await asyncio.to_thread(prepare, var, env)
    log = open(tmp / f"{name}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(BIN), "serve-model", "--engine", name, "--port", str(port), "--replicas", "1"],
        env=env, cwd=var.parent, stdout=log, stderr=log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    engine: ServingEngine = (
        LocalEngine(url) if name == "local" else RayServeEngine(f"http://127.0.0.1:{dashboard}")
    )
    try:
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + 600
            while True:
                try:
                    body = (await client.get(f"{url}/healthz", timeout=2.0)).json()
                    if body.get("version") == version:
                        break
                except (httpx.HTTPError, ValueError):
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{name}: the model server did not serve v{version}")
                await asyncio.sleep(0.5)
        return await measure(name, url, engine, seconds)
    finally:
        await engine.aclose()
        proc.terminate()
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="local,ray")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="oncall-bench-scaling-"))
    results: dict[str, Any] = {}
    print(f"scaling benchmark: {CLIENTS} clients in a closed loop, 300-tree forest, "
          f"{args.seconds:.0f} s per phase")  # fmt: skip
    try:
        for name in args.engines.split(","):
            try:
                results[name] = asyncio.run(run_engine(name, tmp, args.seconds))
            except (SystemExit, Exception) as exc:  # one engine failing still reports the other
                results[name] = {"error": str(exc)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name, r in results.items():
        print(f"\n== {name} engine")
        if "error" in r:
            print(f"  not measured: {r['error']}")
            continue
        one, two = r["one_replica"], r["two_replicas"]
        print(
            f"  1 replica  (baseline): {one['throughput_rps']:7.1f} req/s   p99 {one['p99_ms']:7.0f} ms"
        )
        print(
            f"  2 replicas           : {two['throughput_rps']:7.1f} req/s   p99 {two['p99_ms']:7.0f} ms"
        )
        ratio = two["throughput_rps"] / one["throughput_rps"] if one["throughput_rps"] else 0.0
        print(f"  throughput 2 / 1     : {ratio:7.2f}x")
        print(f"  change -> 2nd replica serving: {r['scale_to_two_seconds'] * 1000:7.0f} ms,"
              f" failed requests during the change: {r['failed_during_change']}")  # fmt: skip
        s = r["shedding"]
        share = s["shed"] / s["answers"] if s["answers"] else 0.0
        print(
            f"  shedding (queue limit 0): {s['shed']} of {s['answers']} answered 503 ({share:.0%})"
        )
        if name == "local":
            ok = ratio >= GOAL_RATIO and r["failed_during_change"] == 0
            print(
                f"  {'PASS' if ok else 'MISS'}  goal: >= {GOAL_RATIO}x throughput with no failed request"
            )
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
