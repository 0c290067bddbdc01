"""Deploy drill: a version that passes every offline check but is wrong on the golden samples.

A 1-nearest-neighbour model trained with one golden sample relabelled: its holdout figures are
honest and as good as production's, so preflight passes; in production the smoke test sends the
golden samples, one comes back wrong, and the deploy runbook must roll back by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.gameday.context import DrillContext
from bot.gameday.kinds import Fault, KindRegistry, KindSpec, Param
from bot.runbook.errors import RunError
from bot.training import iris

WRONG_CLASS = {"setosa": "versicolor", "versicolor": "virginica", "virginica": "versicolor"}


def wrong_on_golden_model(sample: int) -> tuple[Any, iris.Evaluation]:
    """A fitted model wrong on golden sample `sample` only, and its honest holdout evaluation."""
    split = iris.holdout_split()
    golden = iris.GOLDEN_SAMPLES[sample]
    point = np.array([golden.features[f] for f in iris.FEATURES])
    keep = ~np.all(np.isclose(split.X_train, point), axis=1)
    X = np.vstack([split.X_train[keep], point[None, :]])
    y = np.concatenate([split.y_train[keep], np.array([WRONG_CLASS[golden.expected]])])
    params = iris.validate_params("knn", {"n_neighbors": 1})
    model = iris.train("knn", params, X, y)
    metrics = iris.evaluate(
        model, split.X_holdout, split.y_holdout, holdout_version=split.holdout_version
    )
    return model, metrics


@dataclass(frozen=True)
class WrongOnGolden:
    sample: int

    def _register(self, ctx: DrillContext) -> int:
        model, metrics = wrong_on_golden_model(self.sample)
        version = ctx.deps.models.register(
            model,
            estimator="knn",
            params={"n_neighbors": 1},
            metrics=metrics,
            trained_by=f"gameday:{ctx.scenario}",
            tags={"gameday": str(ctx.run_id)},
        )
        return version.version

    async def inject(self, ctx: DrillContext) -> dict[str, Any]:
        version = await asyncio.to_thread(self._register, ctx)
        run = await ctx.deps.engine.start(
            "deploy",
            {"version": version, "reason": f"game day drill {ctx.run_id}"},
            actor=ctx.owner,
            channel=ctx.channel,
            thread_ts=ctx.thread_ts,
        )
        return {"version": version, "run_id": run.id}

    async def revert(self, ctx: DrillContext, state: dict[str, Any]) -> None:
        models, engine = ctx.deps.models, ctx.deps.engine
        if state.get("run_id") is not None:
            # A run still waiting for its Confirm must not deploy after the drill; a finished
            # one cannot be cancelled, which is fine.
            with contextlib.suppress(RunError):
                await engine.cancel(int(state["run_id"]), ctx.owner)
        before = ctx.vars.get("production_before")
        if before is not None and state.get("version") is not None:
            production = await asyncio.to_thread(models.production_version)
            if production == state["version"]:  # the rollback did not happen: undo by hand
                await asyncio.to_thread(models.set_production, int(before))
        if state.get("version") is not None:
            await asyncio.to_thread(
                models.set_tags,
                int(state["version"]),
                {
                    "gameday": str(ctx.run_id),
                    "gameday.note": "drill fault: wrong on golden samples",
                },
            )


def register(faults: KindRegistry[Fault]) -> None:
    faults.add(
        KindSpec(
            "deploy.wrong_on_golden",
            "register a version wrong on one golden sample and start its deploy",
            lambda a: WrongOnGolden(int(a["sample"])),
            {"sample": Param("int", default=2)},
        )
    )
