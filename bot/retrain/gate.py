"""The regression gate: may a retrained candidate replace production? A pure function."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.deploy.preflight import Check
from bot.model_registry.schemas import Evaluation

EPSILON = 1e-9


@dataclass(frozen=True)
class GateVerdict:
    """Every check with a sentence; `passed` only when all of them are ok."""

    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def status(self) -> str:
        return "passed" if self.passed else "rejected"

    @property
    def reasons(self) -> list[str]:
        """Why it was rejected (empty when it passed)."""
        return [c.detail for c in self.checks if not c.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "status": self.status,
            "reasons": self.reasons,
            "checks": [asdict(c) for c in self.checks],
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
                f"evaluated on different holdouts ({candidate.holdout_version} vs "
                f"{production.holdout_version})",
            )
        )
    for name, label in (("accuracy", "accuracy"), ("macro_f1", "macro-F1")):
        value = float(getattr(candidate, name))
        ok = value + EPSILON >= floor
        checks.append(
            Check(
                f"{name}_floor",
                ok,
                f"{label} {value:.3f} {'≥' if ok else '<'} floor {floor:.3f}",
            )
        )
        if production is not None:
            base = float(getattr(production, name))
            worse_by = base - value
            ok = worse_by <= tolerance + EPSILON
            detail = f"{label} {value:.3f} vs production {base:.3f}"
            detail += (
                " (within tolerance)"
                if ok
                else f" (worse by {worse_by:.3f} > tolerance {tolerance:.3f})"
            )
            checks.append(Check(f"{name}_regression", ok, detail))
    if production is not None:
        drops = []
        for cls, base in production.per_class_recall.items():
            value = candidate.per_class_recall.get(cls, 0.0)
            drop = base - value
            if drop > recall_tolerance + EPSILON:
                drops.append(
                    f"{cls} recall {value:.3f} vs production {base:.3f} "
                    f"(drop {drop:.3f} > tolerance {recall_tolerance:.3f})"
                )
        checks.append(
            Check(
                "recall_regression",
                not drops,
                "; ".join(drops) if drops else "no class recall dropped beyond tolerance",
            )
        )
    return GateVerdict(checks)
