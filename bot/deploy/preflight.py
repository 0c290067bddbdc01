"""Preflight: may this version replace production? Pure checks over registry facts."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    """One check: its name, whether it passed, and the facts its line shows.

    No words here: `templates/preflight_check.j2` (deploy) and `templates/gate_check.j2` (the
    retrain gate) turn a check into its line, chosen by the name.
    """

    name: str
    ok: bool
    facts: dict[str, Any] = field(default_factory=dict)

    def as_facts(self) -> dict[str, Any]:
        """The check as a template reads it (`check.kind`, `check.ok`, `check.facts`); JSON."""
        return {"kind": self.name, "ok": self.ok, "facts": dict(self.facts)}


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
            "checks": [c.as_facts() for c in self.checks],
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
    """Every check, each with the facts a person needs to act on. `loads` is None or the load
    error.

    `measured` is the candidate re-evaluated on the holdout; the gate itself is the production
    policy's business (bot.deploy.policy), not a preflight check.
    """
    checks = [Check("loads", loads is None, {"problem": loads})]
    if measured is not None:
        checks.append(
            Check(
                "holdout_agrees",
                measured.ok,
                {"measured": measured.measured, "stored": measured.stored},
            )
        )
    if candidate_signature is not None and production_signature is not None:
        same = _signature_key(candidate_signature) == _signature_key(production_signature)
        checks.append(Check("signature", same))
    accuracy = candidate.accuracy
    checks.append(
        Check(
            "accuracy_floor",
            accuracy is not None and accuracy >= floor,
            {"accuracy": accuracy, "floor": floor},
        )
    )
    if accuracy is not None and production is not None and production.accuracy is not None:
        worse_by = production.accuracy - accuracy
        checks.append(
            Check(
                "no_regression",
                worse_by <= tolerance + 1e-12,
                {
                    "accuracy": accuracy,
                    "production": production.accuracy,
                    "worse_by": worse_by,
                    "tolerance": tolerance,
                },
            )
        )
    return PreflightReport(
        version=candidate.version,
        from_version=production.version if production is not None else None,
        checks=checks,
        holdout=measured.as_facts() if measured is not None else {},
    )
