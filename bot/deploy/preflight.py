"""Preflight: may this version replace production? Pure checks over registry facts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.model_registry.schemas import Evaluation, InputSignature, ModelVersion

# How far a version's stored holdout accuracy may be from what its artifact measures on the same
# fixed holdout now. Evaluation is deterministic and the tags keep 6 digits, so an honest version
# agrees almost exactly; 0.01 is below one Iris holdout row (1/45 = 0.022), so any larger gap
# means the stored figures do not belong to this artifact (tampered, or copied from another run).
HOLDOUT_AGREEMENT_TOLERANCE = 0.01


@dataclass(frozen=True)
class HoldoutAgreement:
    """The stored holdout accuracy beside the one measured now."""

    stored: float | None
    measured: float
    tolerance: float = HOLDOUT_AGREEMENT_TOLERANCE

    @property
    def difference(self) -> float | None:
        return None if self.stored is None else abs(self.stored - self.measured)

    @property
    def ok(self) -> bool:
        return self.difference is not None and self.difference <= self.tolerance + 1e-12

    def as_facts(self) -> dict[str, Any]:
        return {
            "stored_accuracy": self.stored,
            "measured_accuracy": self.measured,
            "difference": self.difference,
            "tolerance": self.tolerance,
        }


def holdout_agreement(candidate: ModelVersion, measured: Evaluation) -> HoldoutAgreement:
    """Compare the candidate's stored holdout accuracy with a fresh evaluation."""
    return HoldoutAgreement(stored=candidate.accuracy, measured=measured.accuracy)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class PreflightReport:
    version: int
    from_version: int | None
    checks: list[Check]
    # Stored and measured holdout accuracy (HoldoutAgreement.as_facts), when it was measured.
    holdout: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "from_version": self.from_version,
            "passed": self.passed,
            "checks": [asdict(c) for c in self.checks],
            "holdout": dict(self.holdout),
        }


def _signature_key(signature: InputSignature) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(f.name for f in signature.features), tuple(signature.classes)


def run_checks(
    *,
    candidate: ModelVersion,
    production: ModelVersion | None,
    loads: str | None,
    candidate_signature: InputSignature | None,
    production_signature: InputSignature | None,
    floor: float,
    tolerance: float,
    measured: HoldoutAgreement | None = None,
) -> PreflightReport:
    """Every check, each with a sentence a person can act on. `loads` is None or the load error.

    `measured` is the candidate re-evaluated on the holdout; the gate itself is the production
    policy's business (bot.deploy.policy), not a preflight check.
    """
    checks = [
        Check(
            "loads",
            loads is None,
            "the model artifact loads" if loads is None else f"cannot load: {loads}",
        )
    ]
    if measured is not None:
        checks.append(
            Check(
                "holdout_agrees",
                measured.ok,
                f"measured holdout accuracy {measured.measured:.3f} "
                + (
                    "matches the stored figure"
                    if measured.ok
                    else f"disagrees with the stored {measured.stored}"
                ),
            )
        )
    if candidate_signature is not None and production_signature is not None:
        same = _signature_key(candidate_signature) == _signature_key(production_signature)
        checks.append(
            Check(
                "signature",
                same,
                "same input features and classes as production"
                if same
                else "input features or classes differ from production",
            )
        )
    accuracy = candidate.accuracy
    if accuracy is None:
        checks.append(
            Check("accuracy_floor", False, "no holdout accuracy recorded for this version")
        )
    else:
        checks.append(
            Check(
                "accuracy_floor",
                accuracy >= floor,
                f"holdout accuracy {accuracy:.3f} {'≥' if accuracy >= floor else '<'} floor {floor:.3f}",
            )
        )
        if production is not None and production.accuracy is not None:
            worse_by = production.accuracy - accuracy
            ok = worse_by <= tolerance + 1e-12
            checks.append(
                Check(
                    "no_regression",
                    ok,
                    f"{accuracy:.3f} vs production {production.accuracy:.3f} "
                    + (
                        "(within tolerance)"
                        if ok
                        else f"(worse by {worse_by:.3f} > tolerance {tolerance:.3f})"
                    ),
                )
            )
    return PreflightReport(
        version=candidate.version,
        from_version=production.version if production is not None else None,
        checks=checks,
        holdout=measured.as_facts() if measured is not None else {},
    )
