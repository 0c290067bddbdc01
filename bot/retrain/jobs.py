"""What runs in the process pool: top-level functions over plain arrays, picklable both ways.

The child gets numpy arrays and a params dict and gives back skops bytes plus plain metrics, so
nothing from the bot (database, MLflow client, event loop) ever crosses the process boundary.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bot.training import iris


def fit_candidate(
    estimator: str, params: dict[str, Any], X: np.ndarray, y: np.ndarray
) -> dict[str, Any]:
    """Drop holdout rows, fit, evaluate on the fixed holdout; returns skops bytes and metrics."""
    import skops.io

    started = time.perf_counter()
    split = iris.holdout_split(X, y)
    model = iris.train(estimator, params, split.X_train, split.y_train)
    evaluation = iris.evaluate(
        model, split.X_holdout, split.y_holdout, holdout_version=split.holdout_version
    )
    return {
        "model": skops.io.dumps(model),
        "evaluation": evaluation.model_dump(),
        "n_train": int(len(split.y_train)),
        "seconds": round(time.perf_counter() - started, 3),
    }
