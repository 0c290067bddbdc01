"""Preflight: may this version replace production? Pure checks over registry facts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bot.registry.schemas import InputSignature, ModelVersion


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
    require_gate: bool = False,
) -> PreflightReport:
    """Every check, each with a sentence a person can act on. `loads` is None or the load error."""
    checks = [
        Check(
            "loads",
            loads is None,
            "the model artifact loads" if loads is None else f"cannot load: {loads}",
        )
    ]
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
    if require_gate:
        status = candidate.validation_status
        checks.append(
            Check("validation_gate", status == "passed", f"validation status is {status}")
        )
    return PreflightReport(
        version=candidate.version,
        from_version=production.version if production is not None else None,
        checks=checks,
    )
