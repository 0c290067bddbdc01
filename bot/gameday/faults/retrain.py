"""Retrain drill: a landing file whose labels are noise, then a retrain on it.

The candidate trained on it must fail the regression gate and nothing may be promoted. The
clean-up deletes the drill's rows from the data set (and its archived file), so later retrains
never learn from them, and leaves the rejected candidate tagged with the drill.
"""

from __future__ import annotations

import asyncio
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete

from bot.data.models import Sample
from bot.gameday.context import DrillContext
from bot.gameday.kinds import Fault, KindRegistry, KindSpec, Param
from bot.training import iris


def landing_folder(ctx: DrillContext) -> Path:
    return Path(ctx.deps.settings.oncall_data_dir) / "landing"


def write_noisy_file(path: Path, *, rows: int, seed: int) -> None:
    """Feature rows of the training data, each with a random label."""
    split = iris.holdout_split()
    rng = np.random.default_rng(seed)
    picks = split.X_train[rng.integers(0, len(split.X_train), size=rows)]
    labels = rng.choice(iris.CLASSES, size=rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*iris.FEATURES, "species"])
        for row, label in zip(picks, labels, strict=True):
            writer.writerow([*(f"{v:.1f}" for v in row), label])


@dataclass(frozen=True)
class LabelNoise:
    rows: int
    estimator: str

    async def inject(self, ctx: DrillContext) -> dict[str, Any]:
        name = f"gameday-{ctx.run_id}-label-noise.csv"
        await asyncio.to_thread(
            write_noisy_file, landing_folder(ctx) / name, rows=self.rows, seed=ctx.run_id
        )
        run = await ctx.deps.engine.start(
            "retrain",
            {"estimator": self.estimator, "include": "landing", "force": True},
            actor=ctx.owner,
            channel=ctx.channel,
            thread_ts=ctx.thread_ts,
        )
        return {"file": name, "run_id": run.id}

    async def revert(self, ctx: DrillContext, state: dict[str, Any]) -> None:
        name = state.get("file")
        if not name:
            return
        samples = Sample.__table__

        def forget() -> None:
            with ctx.deps.db.engine.begin() as conn:
                conn.execute(
                    delete(samples).where(
                        samples.c.source == "landing", samples.c.source_ref == name
                    )
                )
            for folder in (landing_folder(ctx), landing_folder(ctx) / "processed"):
                (folder / name).unlink(missing_ok=True)

        await asyncio.to_thread(forget)


def register(faults: KindRegistry[Fault]) -> None:
    faults.add(
        KindSpec(
            "retrain.label_noise",
            "drop a landing file of random labels and retrain on it",
            lambda a: LabelNoise(int(a["rows"]), a["estimator"]),
            {
                "rows": Param("int", default=200),
                "estimator": Param(
                    "str", default="logistic_regression", choices=tuple(iris.ESTIMATORS)
                ),
            },
        )
    )
