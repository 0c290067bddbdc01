"""The `ray` serving engine: the model server app as a Ray Serve deployment.

Each replica runs today's model app (`build_model_app`, alias follower included) behind Serve's
HTTP proxy, so the API is the same as the local engine's. The application is deployed through
Serve's REST API from a config (`import_path` = this module's `app`), which keeps its
`deployed_app_config` readable: the bot's `RayServeEngine` edits that config in place to scale,
and sends every other application back unchanged. Ray itself is imported only here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from ray import serve

from bot.capacity.ray_tasks import ADDRESS_FILE
from bot.config import load_settings
from bot.serving.server import build_model_app
from bot.serving.workers import free_port

APP = "iris"
DEPLOYMENT = "ModelServer"


def _build_asgi_app() -> Any:
    """Runs on each replica: Settings from the env the deployment config carries."""
    return build_model_app(load_settings())


ModelServer = serve.deployment(name=DEPLOYMENT)(serve.ingress(_build_asgi_app)())
app = ModelServer.bind()


def serve_config(settings: Any, *, port: int, replicas: int, env: dict[str, str]) -> dict:
    """The Serve REST API body that deploys the model server app."""
    return {
        "http_options": {"host": settings.host, "port": port},
        "applications": [
            {
                "name": APP,
                "route_prefix": "/",
                "import_path": "bot.serving.ray_app:app",
                "runtime_env": {"env_vars": env},
                "deployments": [
                    {
                        "name": DEPLOYMENT,
                        "num_replicas": replicas,
                        "max_ongoing_requests": settings.serving_worker_concurrency,
                        "max_queued_requests": settings.serving_queue_limit,
                        # Fractional CPUs: a small box still places several replicas.
                        "ray_actor_options": {"num_cpus": 0.5},
                    }
                ],
            }
        ],
    }


def start_local_ray(dashboard_port: int, *, num_cpus: int = 2) -> tuple[subprocess.Popen, str]:
    """`ray start --head --block` on this machine (when no RAY_ADDRESS is given).

    Its own GCS port and temp dir, so it never joins or stops another Ray on the machine;
    terminating the returned process stops what it started.
    """
    gcs = free_port()
    temp = tempfile.mkdtemp(prefix="oncall-ray-")
    head = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "ray"),
            "start",
            "--head",
            "--block",
            f"--port={gcs}",
            f"--temp-dir={temp}",
            f"--num-cpus={num_cpus}",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard_port}",
            "--disable-usage-stats",
        ],
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )
    return head, f"127.0.0.1:{gcs}"


def deploy(dashboard_url: str, config: dict, *, timeout: float = 300.0) -> None:
    """PUT the config and wait until the application runs."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=dashboard_url, timeout=30.0) as client:
        while True:  # the dashboard's Serve module answers a few seconds after `ray start`
            try:
                response = client.put("/api/serve/applications/", json=config)
                if response.status_code < 400:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("Ray Serve did not accept the application")
            time.sleep(1.0)
        while time.monotonic() < deadline:
            body = client.get("/api/serve/applications/").json()
            status = (body.get("applications") or {}).get(APP, {}).get("status")
            if status == "RUNNING":
                return
            if status == "DEPLOY_FAILED":
                raise RuntimeError(str(body["applications"][APP].get("message")))
            time.sleep(1.0)
    raise RuntimeError("Ray Serve did not start the application in time")


def run_ray_serve(settings: Any, *, port: int, replicas: int, env: dict[str, str]) -> None:
    """Serve on RAY_ADDRESS, or on a local Ray started here (and stopped on exit)."""
    dashboard = settings.ray_dashboard_url.rstrip("/")
    head = None
    if settings.ray_address is None:
        head, address = start_local_ray(int(dashboard.rsplit(":", 1)[1]))
        # Where the bot submits training tasks (bot.capacity.ray_tasks reads it).
        (settings.oncall_data_dir / ADDRESS_FILE).write_text(address)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        deploy(
            dashboard,
            serve_config(settings, port=port, replicas=replicas, env=env),
        )
        print(f"oncall-bot: Ray Serve model server on http://{settings.host}:{port}", flush=True)
        stop.wait()
    finally:
        if head is not None:
            head.terminate()
            try:
                head.wait(timeout=60)
            except subprocess.TimeoutExpired:
                head.kill()
