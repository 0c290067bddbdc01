"""The regression gate: may a retrained candidate replace production? A pure function.

Each check carries facts, not words: `templates/gate_check.j2` words a check, and the failed ones
are stored on the version (the `validation_reasons` tag, see `bot.model_registry.mlflow_tags`)
as `{kind, facts}`, worded again wherever they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.deploy.preflight import Check
from bot.model_registry.schemas import Evaluation

EPSILON = 1e-9


@dataclass(frozen=True)
class GateVerdict:
    """Every check with its facts; `passed` only when all of them are ok."""

    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def status(self) -> str:
        return "passed" if self.passed else "rejected"

    @property
    def reasons(self) -> list[dict[str, Any]]:
        """Why it was rejected, as `{kind, facts}` (empty when it passed)."""
        return [{"kind": c.name, "facts": dict(c.facts)} for c in self.checks if not c.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "status": self.status,
            "reasons": self.reasons,
            "checks": [c.as_facts() for c in self.checks],
        }


def run_gate(
    candidate: Evaluation,
    production: Evaluation | None,
    *,
    floor: float,
    tolerance: float,
    recall_tolerance: float,
) -> GateVerdict:
    """Accuracy and macro-F1 ≥ floor and within `tolerance` of production; no class recall drop
    beyond `recall_tolerance`. Both evaluations must come from the same holdout."""
    checks: list[Check] = []
    if production is not None and production.holdout_version != candidate.holdout_version:
        checks.append(
            Check(
                "same_holdout",
                False,
                {"candidate": candidate.holdout_version, "production": production.holdout_version},
            )
        )
    for metric in ("accuracy", "macro_f1"):
        value = float(getattr(candidate, metric))
        checks.append(
            Check(
                f"{metric}_floor",
                value + EPSILON >= floor,
                {"metric": metric, "value": value, "floor": floor},
            )
        )
        if production is not None:
            base = float(getattr(production, metric))
            worse_by = base - value
            checks.append(
                Check(
                    f"{metric}_regression",
                    worse_by <= tolerance + EPSILON,
                    {
                        "metric": metric,
                        "value": value,
                        "production": base,
                        "worse_by": worse_by,
                        "tolerance": tolerance,
                    },
                )
            )
    if production is not None:
        drops = []
        for cls, base in production.per_class_recall.items():
            value = candidate.per_class_recall.get(cls, 0.0)
            drop = base - value
            if drop > recall_tolerance + EPSILON:
                drops.append({"cls": cls, "value": value, "production": base, "drop": drop})
        checks.append(
            Check(
                "recall_regression",
                not drops,
                {"drops": drops, "tolerance": recall_tolerance},
            )
        )
    return GateVerdict(checks)
