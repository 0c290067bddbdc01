"""A fallback version: the same estimator trained without one feature, registered as a version.

When a feature goes missing upstream, `/iris quality policy <feature> fallback <version>` answers
the rows without it from such a version. Its registered feature list is what proves it does not
need the feature (the policy check reads it).
"""

from __future__ import annotations

from bot.model_registry.schemas import ModelVersion
from bot.model_registry.service import ModelService
from bot.training import iris

FALLBACK_TAG = "fallback_without"


def register_fallback(
    models: ModelService, *, without: str, estimator: str = "logistic_regression", actor: str
) -> ModelVersion:
    """Train `estimator` on every feature but `without`, evaluate on the holdout, register."""
    if without not in iris.FEATURES:
        raise ValueError(f"unknown feature {without}; the features are {', '.join(iris.FEATURES)}")
    keep = [f for f in iris.FEATURES if f != without]
    cols = [iris.FEATURES.index(f) for f in keep]
    split = iris.holdout_split()
    params = iris.validate_params(estimator, {})
    model = iris.train(estimator, params, split.X_train[:, cols], split.y_train)
    evaluation = iris.evaluate(
        model, split.X_holdout[:, cols], split.y_holdout, holdout_version=split.holdout_version
    )
    return models.register(
        model,
        estimator=estimator,
        params=params,
        metrics=evaluation,
        tags={FALLBACK_TAG: without, "validation_status": "passed"},
        trained_by=actor,
        training_data_hash=iris.data_hash(split.X_train[:, cols], split.y_train),
        features=keep,
        training_data=split.X_train[:, cols],
    )
