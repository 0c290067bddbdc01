from __future__ import annotations

import asyncio
import socket

import httpx
import uvicorn

from bot.config import Settings
from bot.db import Base, Database
from bot.serving.server import build_model_app, http_implementation
from tests.serving.conftest import RECORD


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_real_uvicorn_server(service, tmp_path):
    settings = Settings(
        oncall_data_dir=tmp_path, mlflow_tracking_uri=service.tracking_uri, model_poll_seconds=0.05
    )
    Base.metadata.create_all(Database(settings.resolved_database_url).engine)
    app = build_model_app(settings)
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=http_implementation(),
        access_log=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(200):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            r = await client.post("/v1/predict", json={"instances": [RECORD] * 3})
            assert (
                r.status_code == 200
                and r.json()["model_version"] == 1
                and len(r.json()["predictions"]) == 3
            )
            bad = await client.post(
                "/v1/predict", content=b"{", headers={"content-type": "application/json"}
            )
            assert bad.status_code == 422
            assert "model_server_requests_total" in (await client.get("/metrics")).text
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
    assert app.state.recorder.written == 3
