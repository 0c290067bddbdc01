"""Benchmark the model server against the in-process floor and MLflow's scoring server.

    .venv/bin/python bench/serving.py [--duration 10] [--data-dir DIR]

Load comes from `wrk` (Debian: `apt-get install -y wrk`); a Python client saturates before the
server does on a 2-core box. Scenarios: single records and batches of 100 at concurrency 1 and 16.
All three are measured in the same run: (a) the production model's predict_proba called
in-process, (b) our server (`python -m bot.serving`, what `oncall-bot serve-model` runs), (c)
`mlflow models serve --env-manager local` on the same registry version (its scoring server needs
fastapi and uvicorn, which mlflow-skinny depends on). Prints a table and the goals.
Our server runs twice in the same run: with the feature contracts and missing-feature policies
on (the default; an `impute` policy is in force) and with them off (QUALITY_CHECKS=false), and
the quality column compares the two (goal: the checks cost at most 10 % of throughput).

Exit status 0 when everything was measured (a missed goal is a measurement, not a failure), 1
when a server could not start or answer, 2 when wrk is missing: the comparison is never dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lib import wrkload  # noqa: E402
from bot.training.iris import FEATURES, GOLDEN_SAMPLES  # noqa: E402

MODEL = "iris_classifier"
RECORDS = [g.features for g in GOLDEN_SAMPLES]
BATCH = [RECORDS[i % len(RECORDS)] for i in range(100)]
GOAL_RPS, GOAL_RATIO, GOAL_P99_MS = 1200.0, 5.0, 20.0
GOAL_QUALITY_COST = 0.10  # the contract checks and policies may cost at most 10 % of throughput
SCENARIOS = [("single", 1), ("single", 16), ("batch100", 1), ("batch100", 16)]


# --- setup --------------------------------------------------------------------------------------
def ensure_wrk() -> str | None:
    """Path to wrk (installed when we are root); None, with the reason printed, otherwise."""
    try:
        return wrkload.ensure_wrk()
    except wrkload.WrkUnavailable as exc:
        print(exc)
        return None


def prepare_store(data_dir: Path) -> int:
    """Bootstrap the registry and the bot database in data_dir; returns the production version."""
    from bot.db.migrate import upgrade_to_head
    from bot.model_registry.bootstrap import bootstrap
    from bot.model_registry.mlflow_backend import MlflowModelService

    service = MlflowModelService(
        f"sqlite:///{data_dir / 'mlflow.db'}", data_dir / "mlflow-artifacts", MODEL
    )
    result = bootstrap(service)
    upgrade_to_head(f"sqlite:///{data_dir / 'oncall.db'}")
    set_impute_policy(data_dir)
    return result.production or 1


def set_impute_policy(data_dir: Path) -> None:
    """A policy in force (impute petal_width), so the checked server also polls and holds one."""
    from bot.db import Database
    from bot.quality.policy import set_policy

    db = Database(f"sqlite:///{data_dir / 'oncall.db'}")
    with db.session() as session:
        set_policy(session, feature="petal_width", policy="impute", fallback_version=None,
                   actor="bench")  # fmt: skip
        session.commit()
    db.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def process(
    cmd: list[str], env: dict[str, str], ready_url: str, timeout: float = 120
) -> Iterator[subprocess.Popen]:
    """Start a server in its own process group, wait for ready_url to answer 200, stop it after."""
    fd, log_name = tempfile.mkstemp(prefix="bench-server-", suffix=".log")
    log = os.fdopen(fd, "w")
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{cmd[:4]} exited with {proc.returncode}; log: {log_name}\n{Path(log_name).read_text()[-2000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{cmd[:4]} not ready after {timeout}s; log: {log_name}")
            time.sleep(0.25)
        yield proc
    finally:
        # The whole group: `mlflow models serve` runs uvicorn as a child.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


# --- measuring -----------------------------------------------------------------------------------
def run_wrk(wrk: str, url: str, body: str, *, connections: int, duration: int) -> dict[str, float]:
    """One wrk run with a POST body; returns rps, p50/p99 in ms and the non-2xx/error count."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\nwrk.headers["Content-Type"] = "application/json"\n'
        )
    threads = 1 if connections == 1 else 2
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        lua.name,
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    os.unlink(lua.name)
    report = wrkload.parse_report(out)
    return {"rps": report.rps, "p50": report.p50_ms, "p99": report.p99_ms, "bad": report.errors}


def in_process(model: object, rows: int, *, concurrency: int, duration: float) -> dict[str, float]:
    """predict_proba on a numpy array from `concurrency` threads: the floor (no HTTP, no JSON)."""
    X = np.array(
        [[r[f] for f in FEATURES] for r in (RECORDS if rows == 1 else BATCH)][:rows],
        dtype=np.float64,
    )
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    stop = time.perf_counter() + duration

    def loop(out: list[float]) -> None:
        while (t := time.perf_counter()) < stop:
            model.predict_proba(X)
            out.append(time.perf_counter() - t)

    threads = [threading.Thread(target=loop, args=(lat,)) for lat in latencies]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    flat = sorted(x for lat in latencies for x in lat)
    return {
        "rps": len(flat) / elapsed,
        "p50": statistics.median(flat) * 1000,
        "p99": flat[int(len(flat) * 0.99) - 1] * 1000,
        "bad": 0,
    }


def checks_overhead(
    service: object, data_dir: Path, version: int, bodies: dict[str, str]
) -> dict[str, tuple[float, float]]:
    """Microseconds per request spent parsing, with the quality gate vs the plain validator,
    in-process (no HTTP): the checks' cost without the machine's load in the way."""
    from bot.db import Database
    from bot.quality.overrides import load_quality_file
    from bot.serving.metrics import ServerMetrics
    from bot.serving.quality_gate import gate_factory
    from bot.serving.validation import RecordValidator

    db = Database(f"sqlite:///{data_dir / 'oncall.db'}")
    gate = gate_factory(service=service, db=db, quality=load_quality_file(None), poll_seconds=1.0)(
        ServerMetrics()
    )
    gate.refresh(version)
    plain = RecordValidator(service.input_signature(version).features)  # type: ignore[attr-defined]

    class Served:  # what the gate reads of the served version
        validator = plain

    Served.version = version  # type: ignore[attr-defined]
    out: dict[str, tuple[float, float]] = {}
    for kind, text in bodies.items():
        body = text.encode()
        n = 3000 if kind == "single" else 300
        timings = []
        for parse in (
            lambda body=body: plain.parse(body),
            lambda body=body: gate.judge(body, Served),
        ):
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                for _ in range(n):
                    parse()
                best = min(best, (time.perf_counter() - start) / n * 1e6)
            timings.append(best)
        out[kind] = (timings[0], timings[1])
    db.dispose()
    return out


def mlflow_serving_missing() -> list[str]:
    """Python packages MLflow's scoring server needs that are not installed."""
    return [
        name for name in ("fastapi", "uvicorn", "pandas") if importlib.util.find_spec(name) is None
    ]


class CannotMeasure(Exception):
    """A target of the comparison could not be measured; the message is one line saying why."""


# --- main ----------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="reuse a data dir (default: a fresh temp dir)"
    )
    parser.add_argument(
        "--no-record", action="store_true", help="run our server without prediction recording"
    )
    args = parser.parse_args()

    wrk = ensure_wrk()
    if wrk is None:
        return 2
    missing = mlflow_serving_missing()
    if missing:
        print(
            f"serving: FAILED: MLflow's scoring server needs {', '.join(missing)}, not installed;"
            " run `uv sync` (they are in the locked dependencies)",
            file=sys.stderr,
        )
        return 1
    try:
        return measure(args, wrk)
    except CannotMeasure as exc:
        print(f"serving: FAILED: {exc}", file=sys.stderr)
        return 1


def measure(args: argparse.Namespace, wrk: str) -> int:
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="oncall-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"data dir {data_dir}; bootstrapping the registry (MLflow's first start takes seconds) ...",
        flush=True,
    )
    version = prepare_store(data_dir)
    from bot.model_registry.mlflow_backend import MlflowModelService
    from bot.serving.server import http_implementation, loop_implementation

    service = MlflowModelService(
        f"sqlite:///{data_dir / 'mlflow.db'}", data_dir / "mlflow-artifacts", MODEL
    )
    model = service.load(version)
    print(f"model: {MODEL} v{version} ({type(model).__name__}); cpus: {os.cpu_count()}; "
          f"uvicorn http={http_implementation()} loop={loop_implementation()}", flush=True)  # fmt: skip

    bodies = {"single": json.dumps(RECORDS[0]), "batch100": json.dumps({"instances": BATCH})}
    results: dict[str, dict[tuple[str, int], dict[str, float]]] = {
        "in-process": {},
        "ours": {},
        "ours-off": {},
        "mlflow": {},
    }

    for kind, conc in SCENARIOS:
        results["in-process"][(kind, conc)] = in_process(
            model, 1 if kind == "single" else 100, concurrency=conc, duration=min(args.duration, 5)
        )

    overhead = checks_overhead(service, data_dir, version, bodies)

    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env |= {
        "ONCALL_DATA_DIR": str(data_dir),
        "MLFLOW_TRACKING_URI": f"sqlite:///{data_dir / 'mlflow.db'}",
    }
    env |= {"LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    # Contracts and policies on (the default) and off, both servers up at once; each scenario
    # runs on, off, off, on (half the duration each) so load drifting on a shared machine
    # falls on both alike.
    servers = {}
    with contextlib.ExitStack() as stack:
        for target, checks in (("ours", "true"), ("ours-off", "false")):
            port = free_port()
            cmd = [sys.executable, "-m", "bot.serving", "--port", str(port)] + (
                ["--no-record"] if args.no_record else []
            )
            print(f"starting our server (QUALITY_CHECKS={checks}): {' '.join(cmd[1:])}", flush=True)
            try:
                stack.enter_context(
                    process(
                        cmd, env | {"QUALITY_CHECKS": checks}, f"http://127.0.0.1:{port}/healthz"
                    )
                )
            except RuntimeError as exc:
                print(exc, file=sys.stderr)
                raise CannotMeasure(
                    "our model server (python -m bot.serving) did not start"
                ) from None
            servers[target] = port
        half = max(1, args.duration // 2)
        for kind, conc in SCENARIOS:
            runs: dict[str, list[dict[str, float]]] = {"ours": [], "ours-off": []}
            for target in ("ours", "ours-off", "ours-off", "ours"):
                runs[target].append(
                    run_wrk(
                        wrk,
                        f"http://127.0.0.1:{servers[target]}/v1/predict",
                        bodies[kind],
                        connections=conc,
                        duration=half,
                    )
                )
            for target, measured in runs.items():
                results[target][(kind, conc)] = {
                    "rps": statistics.mean(m["rps"] for m in measured),
                    "p50": statistics.mean(m["p50"] for m in measured),
                    "p99": statistics.mean(m["p99"] for m in measured),
                    "bad": sum(m["bad"] for m in measured),
                }

    port = free_port()
    uri = f"models:/{MODEL}/{version}"
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        uri,
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    mlflow_bodies = {
        "single": json.dumps({"dataframe_records": [RECORDS[0]]}),
        "batch100": json.dumps({"dataframe_records": BATCH}),
    }
    print(
        f"starting MLflow's scoring server: mlflow models serve -m {uri} --env-manager local",
        flush=True,
    )
    try:
        with process(cmd, env, f"http://127.0.0.1:{port}/ping"):
            for kind, conc in SCENARIOS:
                results["mlflow"][(kind, conc)] = run_wrk(
                    wrk,
                    f"http://127.0.0.1:{port}/invocations",
                    mlflow_bodies[kind],
                    connections=conc,
                    duration=args.duration,
                )
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        raise CannotMeasure(
            f"`mlflow models serve -m {uri}` did not start, so there is no comparison"
        ) from None

    mlflow_errors = sum(r["bad"] for r in results["mlflow"].values())
    if mlflow_errors:
        print_table(results)
        raise CannotMeasure(
            f"MLflow's scoring server answered {mlflow_errors:.0f} requests with errors, so its"
            " figures are not a comparison"
        )
    print_table(results)
    print_goals(results, overhead)
    return 0


def print_table(results: dict[str, dict[tuple[str, int], dict[str, float]]]) -> None:
    print()
    print(
        f"{'target':<12} {'payload':<9} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    )
    print("-" * 62)
    for target, rows in results.items():
        for (kind, conc), r in rows.items():
            print(
                f"{target:<12} {kind:<9} {conc:>4} {r['rps']:>9.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['bad']:>7.0f}"
            )
    print("in-process  the floor: predict_proba on a numpy array, no HTTP, no JSON (req/s counts")
    print("            calls; a batch call scores 100 records)")
    print(
        "ours        python -m bot.serving (what `oncall-bot serve-model` runs): POST /v1/predict"
    )
    print("ours-off    the same with QUALITY_CHECKS=false: no feature contracts, no policies")
    print("mlflow      mlflow models serve --env-manager local, same version: POST /invocations")
    print("every figure above was measured in this run")


def print_goals(
    results: dict[str, dict[tuple[str, int], dict[str, float]]],
    overhead: dict[str, tuple[float, float]],
) -> None:
    """PASS/MISS against the goals (targets, not measurements); every value is from this run."""
    ours, peer = results["ours"], results["mlflow"]
    best_single = max(ours[("single", 1)]["rps"], ours[("single", 16)]["rps"])
    checks = [
        (
            f"single-record throughput ≥ {GOAL_RPS:.0f} req/s",
            best_single >= GOAL_RPS,
            f"{best_single:.0f} req/s",
        )
    ]
    p99 = ours[("single", 16)]["p99"]
    checks.append(
        (
            f"p99 ≤ {GOAL_P99_MS:.0f} ms at 16 concurrent (single)",
            p99 <= GOAL_P99_MS,
            f"{p99:.1f} ms",
        )
    )
    ratio = ours[("single", 16)]["rps"] / max(peer[("single", 16)]["rps"], 1e-9)
    checks.append(
        (
            f"≥ {GOAL_RATIO:.0f}× MLflow's scoring server (single, c16)",
            ratio >= GOAL_RATIO,
            f"{ratio:.1f}×",
        )
    )
    bratio = ours[("batch100", 16)]["rps"] / max(peer[("batch100", 16)]["rps"], 1e-9)
    print(f"(batch of 100 at c16: {bratio:.1f}× MLflow's scoring server)")
    off = results["ours-off"]
    print()
    print("quality column: contracts + policies on vs off (same run)")
    print(
        f"{'payload':<9} {'conc':>4} {'req/s on':>9} {'req/s off':>10} {'cost':>7} {'p99 on':>8} {'p99 off':>8}"
    )
    worst = -1.0
    for key in ours:
        on_rps, off_rps = ours[key]["rps"], off[key]["rps"]
        cost = 1 - on_rps / max(off_rps, 1e-9)
        worst = max(worst, cost)
        print(f"{key[0]:<9} {key[1]:>4} {on_rps:>9.0f} {off_rps:>10.0f} {cost:>7.1%} "
              f"{ours[key]['p99']:>8.2f} {off[key]['p99']:>8.2f}")  # fmt: skip
    print("in-process, per request (best of 3, no HTTP): parsing without / with the quality gate")
    share = 0.0
    for kind, (bare, gated) in overhead.items():
        per_request = 1e6 / max(off[(kind, 16)]["rps"], 1e-9)
        share = max(share, (gated - bare) / per_request)
        print(f"  {kind:<9} {bare:7.1f} µs / {gated:7.1f} µs: +{gated - bare:.1f} µs, "
              f"{(gated - bare) / per_request:.1%} of a request at c16 without checks")  # fmt: skip
    checks.append(
        (
            f"contracts + policies cost ≤ {GOAL_QUALITY_COST:.0%} of throughput (worst scenario)",
            worst <= GOAL_QUALITY_COST,
            f"{worst:.1%}",
        )
    )
    checks.append(
        (
            f"the gate's in-process cost ≤ {GOAL_QUALITY_COST:.0%} of a request (worst payload)",
            share <= GOAL_QUALITY_COST,
            f"{share:.1%}",
        )
    )
    errors = sum(r["bad"] for r in ours.values())
    checks.append(("no errors from our server", errors == 0, f"{errors:.0f}"))
    print()
    for name, ok, value in checks:
        print(f"[{'PASS' if ok else 'MISS'}] {name}: {value}")


if __name__ == "__main__":
    sys.exit(main())
