from __future__ import annotations

import asyncio
import math

import pytest

from bot.serving.app import create_model_app
from tests.serving.conftest import RECORD, FakeService, running

CLASSES = {"setosa", "versicolor", "virginica"}


async def _settled_health(c):
    """/healthz once the first poll has finished (the reason is no longer 'starting')."""
    for _ in range(200):
        r = await c.get("/healthz")
        if not r.json().get("reason", "").startswith("starting"):
            return r
        await asyncio.sleep(0.01)
    return r


async def test_single_record(client):
    r = await client.post("/v1/predict", json=RECORD)
    assert r.status_code == 200
    body = r.json()
    assert body["model_version"] == 1
    [pred] = body["predictions"]
    assert pred["class"] == "setosa"
    assert set(pred["probabilities"]) == CLASSES
    assert math.isclose(sum(pred["probabilities"].values()), 1.0, abs_tol=1e-4)
    assert len(pred["id"]) == 32


async def test_batch_as_instances_and_bare_list(client):
    records = [
        RECORD,
        {"sepal_length": 7.7, "sepal_width": 3.0, "petal_length": 6.1, "petal_width": 2.3},
    ]
    for payload in ({"instances": records}, records):
        r = await client.post("/v1/predict", json=payload)
        assert r.status_code == 200, r.text
        preds = r.json()["predictions"]
        assert [p["class"] for p in preds] == ["setosa", "virginica"]
        assert len({p["id"] for p in preds}) == 2


async def test_integers_are_numbers(client):
    r = await client.post(
        "/v1/predict",
        json={"sepal_length": 5, "sepal_width": 3, "petal_length": 1, "petal_width": 0},
    )
    assert r.status_code == 200


def _with(**changes):
    rec = dict(RECORD)
    for key, value in changes.items():
        if value is ...:
            rec.pop(key)
        else:
            rec[key] = value
    return rec


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        (_with(petal_width=...), "petal_width", "missing field"),
        (_with(sepal_length="5.1"), "sepal_length", "must be a number, got a string"),
        (_with(sepal_length=None), "sepal_length", "must be a number, got null"),
        (_with(sepal_length=True), "sepal_length", "must be a number, got a boolean"),
        (_with(petal_length=-1.0), "petal_length", "must not be negative"),
        (_with(petal_length=1e6), "petal_length", "out of range"),
        (_with(colour="blue"), "colour", "unknown field"),
        (
            {"instances": [RECORD, RECORD, RECORD, _with(petal_width="x")]},
            "instances[3].petal_width",
            "must be a number",
        ),
        ([RECORD, _with(sepal_width=...)], "[1].sepal_width", "missing field"),
        ({"instances": []}, "instances", "empty batch"),
        ([], "body", "empty batch"),
        ({"instances": [RECORD] * 1001}, "instances", "batch too large"),
        ({"instances": RECORD}, "instances", "must be an array"),
        ({"instances": [RECORD, 3]}, "instances[1]", "must be an object"),
        ("hello", "body", "must be a JSON object or array"),
    ],
)
async def test_invalid_input_is_422_naming_the_field(client, body, field, problem):
    r = await client.post("/v1/predict", json=body)
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["field"] == field and problem in err["problem"] and err["error"]


@pytest.mark.parametrize(
    ("raw", "field", "problem"),
    [
        (
            b'{"sepal_length": NaN, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}',
            "sepal_length",
            "finite",
        ),
        (
            b'{"sepal_length": 5.1, "sepal_width": Infinity, "petal_length": 1.4, "petal_width": 0.2}',
            "sepal_width",
            "finite",
        ),
        (
            b'{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1e999, "petal_width": 0.2}',
            "petal_length",
            "finite",
        ),
        (b'{"sepal_length": 5.1,', "body", "not valid JSON"),
        (b"", "body", "empty body"),
        (b"\xff\xfe\x00", "body", "not valid JSON"),
        (b"[" * 100_000, "body", "not valid JSON"),
    ],
)
async def test_malformed_bodies_are_422(client, raw, field, problem):
    r = await client.post("/v1/predict", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and problem in r.json()["problem"]


async def test_healthz_ok(client):
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json() == {
        "status": "ok",
        "model": "iris_classifier",
        "version": 1,
    }


async def test_healthz_503_until_a_model_is_in_production():
    app = create_model_app(service=FakeService(production=None), poll_seconds=0.05)
    async with running(app, ready=False) as c:
        r = await _settled_health(c)
        assert (
            r.status_code == 503
            and r.json()["version"] is None
            and "production alias" in r.json()["reason"]
        )
        r = await c.post("/v1/predict", json=RECORD)
        assert r.status_code == 503 and r.json()["error"] == "model not loaded"


async def test_a_broken_model_is_never_served():
    class Broken:
        classes_ = ["setosa", "versicolor", "virginica"]

        def predict_proba(self, X):
            raise RuntimeError("corrupt weights")

    app = create_model_app(service=FakeService(production=3, model=Broken()), poll_seconds=0.05)
    async with running(app, ready=False) as c:
        r = await _settled_health(c)
        assert r.status_code == 503 and "corrupt weights" in r.json()["reason"]


async def test_metrics_text(client):
    await client.post("/v1/predict", json=RECORD)
    await client.post("/v1/predict", json={"instances": [RECORD, RECORD]})
    await client.post("/v1/predict", json={"nope": 1})
    text = (await client.get("/metrics")).text
    assert 'model_server_requests_total{endpoint="predict",status="200"} 2.0' in text
    assert 'model_server_requests_total{endpoint="predict",status="422"} 1.0' in text
    assert 'model_server_predictions_total{class="setosa"} 3.0' in text
    assert 'model_server_errors_total{endpoint="predict",kind="invalid_input"} 1.0' in text
    assert "model_server_model_version 1.0" in text
    assert 'model_server_request_seconds_bucket{endpoint="predict",le="0.02"}' in text


async def test_apps_have_separate_metric_registries(service):
    a = create_model_app(service=service, poll_seconds=1)
    b = create_model_app(service=service, poll_seconds=1)
    assert a.state.metrics.registry is not b.state.metrics.registry
