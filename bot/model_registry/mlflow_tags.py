"""How registry metadata is laid out in MLflow model-version tags, both directions.

Tags rather than run metrics: one `get_model_version` call returns everything `describe`
needs, and a version's lineage stays with the version even if its run is deleted.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.model_registry.lineage import code_version
from bot.model_registry.schemas import Evaluation, ModelVersion
from bot.quality.contract import CONTRACT_TAG
from bot.training import iris

# Model-version tags we own; users may not overwrite them (except validation_status).
T_ESTIMATOR = "estimator"
T_PARAMS = "params"
T_ACCURACY = "holdout.accuracy"
T_MACRO_F1 = "holdout.macro_f1"
T_RECALL = "holdout.recall."
T_CONFUSION = "holdout.confusion_matrix"
T_HOLDOUT_VERSION = "holdout.version"
T_HOLDOUT_N = "holdout.n"
T_DATA_HASH = "training_data_hash"
T_TRAINED_BY = "trained_by"
T_TRAINED_AT = "trained_at"
T_CODE_VERSION = "code_version"
T_VALIDATION = "validation_status"
T_FEATURES = "features"
T_CLASSES = "classes"
T_CONTRACT = CONTRACT_TAG
# Free tags that record how a version fared on its way to production (set by the bot, not at
# registration): why the gate or a person rejected it, who discarded it, who overrode the policy.
T_VALIDATION_REASONS = "validation_reasons"
T_DISCARDED_BY = "discarded_by"
T_DEPLOYED_AT = "deployed_at"
T_FORCED_BY = "forced_by"
T_FORCE_REASON = "force_reason"
T_FORCED_OVER = "forced_over"
RESERVED_TAGS = frozenset(
    {T_ESTIMATOR, T_PARAMS, T_ACCURACY, T_MACRO_F1, T_CONFUSION, T_HOLDOUT_VERSION, T_HOLDOUT_N}
    | {T_DATA_HASH, T_TRAINED_BY, T_TRAINED_AT, T_CODE_VERSION, T_FEATURES, T_CLASSES}
    | {T_CONTRACT}
)
VALIDATION_STATUSES = ("pending", "passed", "failed", "rejected", "unknown")


def tags_for_registration(
    *,
    estimator: str,
    params: dict[str, Any],
    metrics: Evaluation,
    trained_by: str,
    training_data_hash: str | None,
    classes: list[str],
    user_tags: dict[str, str],
    features: list[str] | None = None,
    contract: str | None = None,
) -> dict[str, str]:
    """Every tag a new version gets: metrics, lineage, signature, then the caller's tags."""
    return {
        T_ESTIMATOR: estimator,
        T_PARAMS: json.dumps(params, sort_keys=True, default=str),
        T_ACCURACY: repr(metrics.accuracy),
        T_MACRO_F1: repr(metrics.macro_f1),
        T_CONFUSION: json.dumps(metrics.confusion_matrix),
        T_HOLDOUT_VERSION: metrics.holdout_version,
        T_HOLDOUT_N: str(metrics.n),
        T_DATA_HASH: training_data_hash or "",
        T_TRAINED_BY: trained_by,
        T_TRAINED_AT: datetime.now(UTC).isoformat(timespec="seconds"),
        T_CODE_VERSION: code_version(),
        T_VALIDATION: "pending",
        T_FEATURES: json.dumps(features or iris.FEATURES),
        T_CLASSES: json.dumps(classes),
        **{f"{T_RECALL}{c}": repr(r) for c, r in metrics.per_class_recall.items()},
        # The feature contract derived from the training rows (bot/quality/contract.py).
        **({T_CONTRACT: contract} if contract else {}),
        **user_tags,
    }


def version_from_mlflow(mv: Any, aliases: list[str] | None = None) -> ModelVersion:
    """An MLflow ModelVersion entity (plus the model's alias map entry) as our schema."""
    tags: dict[str, str] = dict(mv.tags or {})
    recall = {k.removeprefix(T_RECALL): float(v) for k, v in tags.items() if k.startswith(T_RECALL)}

    def num(key: str, cast: Any = float) -> Any:
        return cast(tags[key]) if key in tags else None

    user = {
        k: v
        for k, v in tags.items()
        if k not in RESERVED_TAGS and k != T_VALIDATION and not k.startswith(T_RECALL)
    }
    status = tags.get(T_VALIDATION, "unknown")
    return ModelVersion(
        version=int(mv.version),
        name=mv.name,
        aliases=sorted(aliases if aliases is not None else (mv.aliases or [])),
        created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=UTC),
        estimator=tags.get(T_ESTIMATOR),
        params=json.loads(tags[T_PARAMS]) if T_PARAMS in tags else {},
        accuracy=num(T_ACCURACY),
        macro_f1=num(T_MACRO_F1),
        per_class_recall=recall,
        confusion_matrix=json.loads(tags[T_CONFUSION]) if T_CONFUSION in tags else None,
        holdout_version=tags.get(T_HOLDOUT_VERSION),
        holdout_n=num(T_HOLDOUT_N, int),
        training_data_hash=tags.get(T_DATA_HASH),
        trained_by=tags.get(T_TRAINED_BY),
        trained_at=datetime.fromisoformat(tags[T_TRAINED_AT]) if T_TRAINED_AT in tags else None,
        code_version=tags.get(T_CODE_VERSION),
        validation_status=status if status in VALIDATION_STATUSES else "unknown",
        features=json.loads(tags[T_FEATURES]) if T_FEATURES in tags else None,
        quality_contract=tags.get(T_CONTRACT),
        tags=user,
    )


def encode_reasons(reasons: list[dict[str, Any]]) -> str:
    """The `validation_reasons` tag: a JSON list of `{kind, facts}`, worded when shown."""
    return json.dumps(
        [{"kind": r["kind"], "facts": dict(r.get("facts") or {})} for r in reasons],
        sort_keys=True,
    )


def decode_reasons(tag: str | None) -> list[dict[str, Any]]:
    """The reasons a `validation_reasons` tag holds, as `{kind, facts}`.

    Tags written before the reasons were facts hold plain text; that text is one reason of
    kind "text", shown as it was written.
    """
    if not tag:
        return []
    try:
        value = json.loads(tag)
    except ValueError:
        value = None
    if isinstance(value, list) and all(
        isinstance(r, dict) and isinstance(r.get("kind"), str) for r in value
    ):
        return [{"kind": r["kind"], "facts": dict(r.get("facts") or {})} for r in value]
    return [{"kind": "text", "facts": {"text": tag}}]
