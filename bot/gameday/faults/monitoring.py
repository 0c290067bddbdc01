"""Monitoring drills: real traffic to the model server that the monitors must catch.

- `monitoring.input_shift`: requests whose feature is shifted by N standard deviations of the
  training data -> the drift monitor fires -> a DRILL incident.
- `monitoring.label_drop`: ordinary requests, then delayed labels (feedback by prediction id)
  that disagree with a share of the predictions -> the accuracy monitor fires.

The drill's rows (served predictions, feedback samples) are remembered by prediction id and
deleted when the fault is reverted, so the monitors see the steady state again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select

from bot.data.models import Sample
from bot.gameday.context import DrillContext
from bot.gameday.kinds import Fault, KindRegistry, KindSpec, Param
from bot.serving.models import ServedPrediction
from bot.training import iris

BATCH = 50
RECORD_WAIT_SECONDS = 10.0


async def _predict(ctx: DrillContext, rows: np.ndarray) -> list[dict[str, Any]]:
    """Send rows to the model server in batches; the predictions (with their ids)."""
    url = ctx.deps.settings.model_server_url.rstrip("/") + "/v1/predict"
    out: list[dict[str, Any]] = []
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        instances = [dict(zip(iris.FEATURES, map(float, r), strict=True)) for r in chunk]
        response = await ctx.deps.http.post(url, json={"instances": instances}, timeout=10.0)
        response.raise_for_status()
        out.extend(response.json()["predictions"])
    return out


async def _recorded(ctx: DrillContext, ids: list[str]) -> None:
    """Wait until the model server's recorder stored these predictions (it flushes in batches)."""
    served = ServedPrediction.__table__
    deadline = time.monotonic() + RECORD_WAIT_SECONDS
    while time.monotonic() < deadline:
        with ctx.deps.db.engine.connect() as conn:
            count = conn.execute(
                select(func.count()).where(served.c.prediction_id.in_(ids))
            ).scalar_one()
        if count >= len(ids):
            return
        await asyncio.sleep(0.05)


def _forget(ctx: DrillContext, ids: list[str]) -> None:
    """Delete the drill's served predictions and the feedback given on them."""
    served, samples = ServedPrediction.__table__, Sample.__table__
    with ctx.deps.db.engine.begin() as conn:
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            conn.execute(
                delete(samples).where(
                    samples.c.source == "feedback", samples.c.source_ref.in_(part)
                )
            )
            conn.execute(delete(served).where(served.c.prediction_id.in_(part)))


def _rows(count: int, seed: int) -> np.ndarray:
    split = iris.holdout_split()
    rng = np.random.default_rng(seed)
    return split.X_train[rng.integers(0, len(split.X_train), size=count)]


@dataclass(frozen=True)
class InputShift:
    feature: str
    std: float
    requests: int

    async def inject(self, ctx: DrillContext) -> dict[str, Any]:
        split = iris.holdout_split()
        column = iris.FEATURES.index(self.feature)
        rows = _rows(self.requests, ctx.run_id).copy()
        rows[:, column] += self.std * float(split.X_train[:, column].std())
        predictions = await _predict(ctx, rows)
        ids = [p["id"] for p in predictions]
        await _recorded(ctx, ids)
        return {"prediction_ids": ids}

    async def revert(self, ctx: DrillContext, state: dict[str, Any]) -> None:
        await asyncio.to_thread(_forget, ctx, list(state.get("prediction_ids", [])))


@dataclass(frozen=True)
class LabelDrop:
    share_wrong: float
    requests: int

    async def inject(self, ctx: DrillContext) -> dict[str, Any]:
        predictions = await _predict(ctx, _rows(self.requests, ctx.run_id))
        ids = [p["id"] for p in predictions]
        await _recorded(ctx, ids)
        wrong = int(round(self.share_wrong * len(predictions)))
        feedback = []
        for n, p in enumerate(predictions):
            label = p["class"]
            if n < wrong:  # a delayed label that says the model was wrong
                label = iris.CLASSES[(iris.CLASSES.index(label) + 1) % len(iris.CLASSES)]
            feedback.append({"prediction_id": p["id"], "label": label})
        url = ctx.deps.settings.model_server_url.rstrip("/") + "/v1/feedback"
        response = await ctx.deps.http.post(url, json={"feedback": feedback}, timeout=10.0)
        response.raise_for_status()
        return {"prediction_ids": ids, "wrong": wrong}

    async def revert(self, ctx: DrillContext, state: dict[str, Any]) -> None:
        await asyncio.to_thread(_forget, ctx, list(state.get("prediction_ids", [])))


def register(faults: KindRegistry[Fault]) -> None:
    faults.add(
        KindSpec(
            "monitoring.input_shift",
            "send requests with one feature shifted by N training standard deviations",
            lambda a: InputShift(a["feature"], float(a["std"]), int(a["requests"])),
            {
                "feature": Param("str", default="petal_length", choices=tuple(iris.FEATURES)),
                "std": Param("float", default=2.0),
                "requests": Param("int", default=60),
            },
        )
    )
    faults.add(
        KindSpec(
            "monitoring.label_drop",
            "send ordinary requests, then delayed labels saying a share of them were wrong",
            lambda a: LabelDrop(float(a["share_wrong"]), int(a["requests"])),
            {"share_wrong": Param("float", default=0.5), "requests": Param("int", default=60)},
        )
    )
