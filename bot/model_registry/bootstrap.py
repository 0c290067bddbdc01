"""First-run setup: register v1 (logistic regression) and v2 (random forest), production → v1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.model_registry.mlflow_backend import MlflowModelService
from bot.model_registry.schemas import ModelVersion
from bot.model_registry.service import ModelService
from bot.training import iris

# Each bootstrap version is recognised by this tag, so a re-run registers nothing new.
BOOTSTRAP_TAG = "bootstrap_slot"
BOOTSTRAP_PLAN: tuple[tuple[str, str], ...] = (
    ("v1", "logistic_regression"),
    ("v2", "random_forest"),
)


@dataclass(frozen=True)
class BootstrapResult:
    """What bootstrap found or created; `created` is empty on a re-run."""

    versions: dict[str, int]
    created: list[int]
    production: int | None

    @property
    def summary(self) -> str:
        created = ", ".join(f"v{v}" for v in self.created) or "nothing new"
        return f"model registry ready: registered {created}; production is v{self.production}"


def bootstrap(
    service: ModelService, *, actor: str = "bootstrap", accuracy_floor: float = 0.85
) -> BootstrapResult:
    """Train, evaluate and register the two starter versions once; idempotent."""
    existing = {
        v.tags.get(BOOTSTRAP_TAG): v for v in service.list_versions() if BOOTSTRAP_TAG in v.tags
    }
    split = iris.holdout_split()
    train_hash = iris.data_hash(split.X_train, split.y_train)
    found: dict[str, int] = {}
    created: list[int] = []
    for slot, estimator in BOOTSTRAP_PLAN:
        if slot in existing:
            found[slot] = existing[slot].version
            continue
        mv = _register_one(
            service,
            slot=slot,
            estimator=estimator,
            split=split,
            train_hash=train_hash,
            actor=actor,
            floor=accuracy_floor,
        )
        found[slot] = mv.version
        created.append(mv.version)
    production = service.production_version()
    # Only when nobody has chosen a production version: a re-run must not undo a deploy.
    if production is None:
        service.set_production(found["v1"])
        production = found["v1"]
    return BootstrapResult(versions=found, created=created, production=production)


def _register_one(
    service: ModelService,
    *,
    slot: str,
    estimator: str,
    split: iris.Split,
    train_hash: str,
    actor: str,
    floor: float,
) -> ModelVersion:
    params = iris.validate_params(estimator, {})
    model = iris.train(estimator, params, split.X_train, split.y_train)
    evaluation = iris.evaluate(
        model, split.X_holdout, split.y_holdout, holdout_version=split.holdout_version
    )
    passed = evaluation.accuracy >= floor and evaluation.macro_f1 >= floor
    return service.register(
        model,
        estimator=estimator,
        params=params,
        metrics=evaluation,
        tags={BOOTSTRAP_TAG: slot, "validation_status": "passed" if passed else "failed"},
        trained_by=actor,
        training_data_hash=train_hash,
        training_data=split.X_train,
    )


def bootstrap_from_settings(settings: Any, *, actor: str = "bootstrap") -> BootstrapResult:
    """`oncall-bot bootstrap`: bootstrap the MLflow registry named by Settings."""
    settings.oncall_data_dir.mkdir(parents=True, exist_ok=True)
    service = MlflowModelService.from_settings(settings)
    return bootstrap(service, actor=actor, accuracy_floor=settings.accuracy_floor)
