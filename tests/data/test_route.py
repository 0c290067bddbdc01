"""`POST /v1/feedback`: single, batch, and the 422 cases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from bot.data.feedback_route import feedback_route
from bot.db import Database
from tests.data.test_feedback import FEATURES, served


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=[feedback_route(db)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_single_feedback_by_prediction_id(client: httpx.AsyncClient, db: Database) -> None:
    pid = served(db)
    r = await client.post("/v1/feedback", json={"prediction_id": pid, "label": "virginica"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 1 and body["quarantined"] == 0
    assert body["results"][0]["accepted"] is True and body["results"][0]["sample_id"] > 0


async def test_batch_mixes_accepted_and_rejected(client: httpx.AsyncClient, db: Database) -> None:
    payload = {
        "feedback": [
            {**FEATURES, "species": "setosa"},
            {**FEATURES, "class": "rose"},
            {"prediction_id": "missing", "label": "setosa"},
        ]
    }
    r = await client.post("/v1/feedback", json=payload)
    assert r.status_code == 200
    body = r.json()
    assert (body["accepted"], body["quarantined"]) == (1, 2)
    assert "unknown class 'rose'" in body["results"][1]["reason"]
    assert "unknown prediction" in body["results"][2]["reason"]


@pytest.mark.parametrize(
    ("content", "field", "problem"),
    [
        (b"{nope", "body", "not valid JSON"),
        (b"", "body", "empty body"),
        (b"[1, 2]", "body", "must be a JSON object"),
        (b'{"sepal_length": 5.0}', "label", "missing"),
        (b'{"prediction_id": "x", "label": 3}', "label", "must be a string"),
        (b'{"prediction_id": 7, "label": "setosa"}', "prediction_id", "must be a string"),
        (b'{"label": "setosa"}', "prediction_id", "send a prediction_id"),
        (b'{"feedback": {}}', "feedback", "must be an array"),
        (b'{"feedback": []}', "feedback", "is empty"),
        (b'{"feedback": [{"label": "setosa", "prediction_id": "x"}, 5]}', "feedback[1]", "object"),
    ],
)
async def test_wrong_shapes_are_422(
    client: httpx.AsyncClient, content: bytes, field: str, problem: str
) -> None:
    r = await client.post("/v1/feedback", content=content)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid feedback" and body["field"] == field
    assert problem in body["problem"]


async def test_only_post(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/feedback")).status_code == 405
