"""Prediction traffic for the monitoring tests: resampled training rows, optionally shifted."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np

from bot.serving.recorder import recent_served
from bot.training.iris import FEATURES, holdout_split
from tests.harness import ModelBotHarness

PETAL_LENGTH = FEATURES.index("petal_length")


def traffic(n: int, *, seed: int, shift_sd: float = 0.0) -> list[dict[str, float]]:
    """`n` records resampled from the training rows, petal_length moved by `shift_sd` sds."""
    reference = holdout_split().X_train
    rows = reference[np.random.default_rng(seed).integers(0, len(reference), n)].copy()
    rows[:, PETAL_LENGTH] += shift_sd * reference[:, PETAL_LENGTH].std()
    return [dict(zip(FEATURES, np.round(r, 2).tolist(), strict=True)) for r in rows]


async def send(bot: ModelBotHarness, records: list[dict[str, float]], *, batch: int = 10) -> None:
    """Predict in batches, then wait until the model server's recorder wrote them all."""
    async with httpx.AsyncClient(base_url=bot.settings.model_server_url) as client:
        for start in range(0, len(records), batch):
            response = await client.post(
                "/v1/predict", json={"instances": records[start : start + batch]}
            )
            assert response.status_code == 200, response.text
    last_id = response.json()["predictions"][-1]["id"]
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        with bot.app.services.db.session() as session:
            newest = recent_served(session, limit=1)
        if newest and newest[0].prediction_id == last_id:
            return
        assert asyncio.get_running_loop().time() < deadline, "the recorder did not flush"
        await asyncio.sleep(0.05)
