"""A CPU-bound production model (a 300-tree random forest) on a copy of the bootstrapped store."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.model_registry.mlflow_backend import MlflowModelService
from bot.training import iris
from tests.registry.store import MODEL, sqlite_uri, template_store


def forest_store(var: Path, *, trees: int = 300) -> int:
    """Copy the template store into `var`, register a `trees`-tree forest, make it production."""
    var.mkdir(parents=True, exist_ok=True)
    shutil.copy2(template_store() / "mlflow.db", var / "mlflow.db")
    service = MlflowModelService(sqlite_uri(var), template_store() / "artifacts", MODEL)
    split = iris.holdout_split()
    params = iris.validate_params("random_forest", {"n_estimators": trees})
    model = iris.train("random_forest", params, split.X_train, split.y_train)
    evaluation = iris.evaluate(
        model, split.X_holdout, split.y_holdout, holdout_version=split.holdout_version
    )
    version = service.register(
        model,
        estimator="random_forest",
        params=params,
        metrics=evaluation,
        tags={"validation_status": "passed"},
        trained_by="tests",
        training_data_hash="capacity-tests",
    )
    service.set_production(version.version)
    return int(version.version)
