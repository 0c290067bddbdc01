"""Feature contracts and missing-feature policies at prediction time.

Fast path: the request parses under the contract's ranges (the same hand-rolled validator as
before, with the contract's bounds) and costs one counter and a deque append more. Only a request
with a missing or out-of-contract value takes the slow path, where each row is judged on its own
under the policy of each feature: `reject` (422 naming the field), `impute` (the version's
training median) or `fallback` (the row is answered by a version that does not use the feature).

Policies come from the bot's database (`quality_policies`), polled every `poll_seconds`: a
change from Slack is in force within that time, with no restart and no call into the server.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select

from bot.db import Database
from bot.model_registry.schemas import FeatureSpec
from bot.model_registry.service import ModelService
from bot.quality.contract import Contract, ContractError, contract_from_json, default_contract
from bot.quality.models import FeaturePolicy
from bot.quality.overrides import QualityFile
from bot.quality.schema import warm_up
from bot.serving.quality_metrics import FeatureMetrics
from bot.serving.validation import InputError, RecordValidator
from bot.training.iris import FEATURES

log = logging.getLogger(__name__)

# Batches smaller than this are not judged by their missing share (one row of two is 50 %).
MIN_ROWS_FOR_SHARE = 10
NAN = float("nan")
SAMPLES = 20


class LenientValidator(RecordValidator):
    """Like RecordValidator, but a missing/null value becomes NaN and ranges are not checked:
    the gate judges those under the feature's policy. Wrong types are still refused here."""

    def record(self, rec: Any, path: str) -> list[float]:
        if type(rec) is not dict:
            return super().record(rec, path)  # raises the usual "must be an object"
        row: list[float] = []
        for name, _, _, _ in self.bounds:
            value = rec.get(name)
            if value is None:
                row.append(NAN)
                continue
            kind = type(value)
            if kind is not float and kind is not int:
                self._fail_type(rec, name, value, path)
            row.append(float(value))
        if any(k not in self._nameset for k in rec):
            extra = sorted(k for k in rec if k not in self._nameset)
            raise InputError(
                f"{path}.{extra[0]}" if path else extra[0],
                f"unknown field; expected only {', '.join(self.names)}",
            )
        return row


@dataclass(frozen=True)
class VersionView:
    """One version as the gate uses it: contract, validators, bounds, and (fallbacks) model."""

    version: int
    contract: Contract
    strict: RecordValidator
    lenient: LenientValidator
    lo: np.ndarray
    hi: np.ndarray
    model: Any = None
    classes: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return self.contract.names


@dataclass
class Plan:
    """The slow path's verdict: values (imputed where needed) and who answers each row."""

    X: np.ndarray
    imputed: list[list[str]]
    fallback_of: list[int | None]
    groups: dict[int, list[int]] = field(default_factory=dict)


def build_view(
    service: ModelService, version: int, quality: QualityFile, *, load: bool
) -> VersionView:
    """Read a version's contract (and its model, for fallbacks) from the registry; blocking."""
    described = service.describe(version)
    names = described.features or [f.name for f in service.input_signature(version).features]
    try:
        contract = (
            contract_from_json(described.quality_contract, names)
            if described.quality_contract
            else default_contract(names)
        )
    except ContractError as exc:
        log.warning("v%s: %s; using the default contract", version, exc)
        contract = default_contract(names)
    contract = contract.with_overrides(quality.features)
    specs = [
        FeatureSpec(name=f.name, minimum=f.minimum, maximum=f.maximum, unit=f.unit)
        for f in contract.features
    ]
    model = service.load(version) if load else None
    return VersionView(
        version=version,
        contract=contract,
        strict=RecordValidator(specs, max_batch=1000),
        lenient=LenientValidator(specs, max_batch=1000),
        lo=np.array([f.minimum for f in contract.features]),
        hi=np.array([f.maximum for f in contract.features]),
        model=model,
        classes=tuple(str(c) for c in model.classes_) if model is not None else (),
    )


class QualityGate:
    """See the module docstring. `judge` runs on the event loop; `follow` keeps it current."""

    def __init__(
        self,
        *,
        service: ModelService,
        db: Database,
        quality: QualityFile,
        metrics: FeatureMetrics,
        poll_seconds: float = 0.5,
        max_batch: int = 1000,
    ) -> None:
        self.service = service
        self.db = db
        self.quality = quality
        self.metrics = metrics
        self.poll_seconds = poll_seconds
        self.max_batch = max_batch
        self.views: dict[int, VersionView] = {}
        self.policies: dict[str, tuple[str, int | None]] = {}
        self.serving: int | None = None
        # The latest rows with a problem, redacted to the contract's features (incident samples).
        self.samples: deque[dict[str, float | str | None]] = deque(maxlen=SAMPLES)
        metrics.contract = lambda: (
            self.views[self.serving].contract if self.serving in self.views else None
        )

    # --- keeping current ---------------------------------------------------------------------
    async def follow(self, current: Callable[[], int | None]) -> None:
        """Poll policies and contracts forever; errors keep what was loaded."""
        await asyncio.to_thread(warm_up)
        while True:
            try:
                await asyncio.to_thread(self.refresh, current())
            except Exception as exc:
                log.warning("quality refresh failed, keeping the last policies: %s", exc)
            await asyncio.sleep(self.poll_seconds)

    def refresh(self, serving: int | None) -> None:
        """One poll: policies from the database, views of the served and fallback versions."""
        with self.db.session() as session:
            rows = session.execute(select(FeaturePolicy)).scalars().all()
            policies = {r.feature: (r.policy, r.fallback_version) for r in rows}
        views = dict(self.views)
        wanted = {serving} | {v for p, v in policies.values() if p == "fallback" and v}
        for version in wanted - {None}:
            assert version is not None
            fallback = version != serving
            if version not in views or (fallback and views[version].model is None):
                try:
                    views[version] = build_view(self.service, version, self.quality, load=fallback)
                except Exception as exc:  # an unknown fallback stays unloaded: rows are refused
                    log.warning("cannot load v%s for the quality gate: %s", version, exc)
        self.views, self.policies, self.serving = views, policies, serving

    # --- the request path --------------------------------------------------------------------
    def judge(self, body: bytes, served: Any) -> tuple[list[list[float]], Plan | None]:
        """(rows, None) when every value is within contract; (rows, plan) when a policy acted."""
        view = self.views.get(served.version)
        if view is None:  # contract not loaded yet (first poll after a swap): the plain checks
            rows, _ = served.validator.parse(body)
            return rows, None
        try:
            rows, _ = view.strict.parse(body)
        except InputError as first:
            return self._slow(body, view, first)
        self.metrics.checked(rows)
        return rows, None

    def _slow(
        self, body: bytes, view: VersionView, first: InputError
    ) -> tuple[list[list[float]], Plan]:
        names, metrics = view.names, self.metrics
        try:
            rows, is_batch = view.lenient.parse(body)
        except InputError as exc:
            feature = exc.field.rsplit(".", 1)[-1]
            if feature in names:
                metrics.count(feature, "rejected")
            raise
        metrics.checked(rows)
        X = np.array(rows, dtype=np.float64)
        n = len(rows)
        missing = np.isnan(X)
        with np.errstate(invalid="ignore"):
            issue = missing | (view.lo > X) | (view.hi < X)
        for j, name in enumerate(names):
            metrics.count(name, "missing", int(missing[:, j].sum()))
            metrics.count(name, "out_of_range", int((issue[:, j] & ~missing[:, j]).sum()))
        for i in np.flatnonzero(issue.any(axis=1))[:SAMPLES]:
            self.samples.append({name: _shown(X[i, j]) for j, name in enumerate(names)})
        prefix = "" if body.lstrip()[:1] == b"[" else "instances"

        def where(i: int, name: str) -> str:
            return f"{prefix}[{i}].{name}" if is_batch else name

        if is_batch and n >= MIN_ROWS_FOR_SHARE:
            for j, feature in enumerate(view.contract.features):
                share = float(missing[:, j].mean())
                if share > feature.max_missing_share:
                    metrics.count(feature.name, "rejected", n)
                    raise InputError(
                        prefix or "body",
                        f"{feature.name} is missing in {share:.0%} of the {n} rows; a batch may "
                        f"miss it in at most {feature.max_missing_share:.0%}",
                    )
        plan = Plan(X=X, imputed=[[] for _ in range(n)], fallback_of=[None] * n)
        for j, feature in enumerate(view.contract.features):
            bad = np.flatnonzero(issue[:, j])
            if not bad.size:
                continue
            name = feature.name
            policy, fallback = self.policies.get(name, ("reject", None))
            target = self.views.get(fallback) if fallback is not None else None
            if policy == "impute" and feature.median is not None:
                X[bad, j] = feature.median
                for i in bad:
                    plan.imputed[i].append(name)
                metrics.count(name, "imputed", int(bad.size))
            elif (
                policy == "fallback"
                and target is not None
                and target.model is not None
                and name not in target.names
            ):
                for i in bad:
                    plan.fallback_of[i] = plan.fallback_of[i] or fallback
                metrics.count(name, "fallback", int(bad.size))
            else:
                metrics.count(name, "rejected", int(bad.size))
                i = int(bad[0])
                raise InputError(
                    where(i, name),
                    _refusal(X[i, j], missing[i, j], feature, policy, fallback, target),
                )
        for i, version in enumerate(plan.fallback_of):
            if version is None:
                continue
            target = self.views[version]
            for name in target.names:
                j = names.index(name)
                if issue[i, j] and name not in plan.imputed[i]:
                    metrics.count(name, "rejected")
                    raise InputError(
                        where(i, name),
                        f"{_what(X[i, j], missing[i, j], view.contract.features[j])}; fallback v{version} needs it too",
                    )
            plan.groups.setdefault(version, []).append(i)
        return rows, plan

    def predict(self, plan: Plan, served: Any) -> tuple[np.ndarray, list[int]]:
        """Probabilities in the served version's class order, and the rows it answered itself."""
        n = len(plan.fallback_of)
        proba = np.zeros((n, len(served.classes)))
        own = [i for i in range(n) if plan.fallback_of[i] is None]
        if own:
            proba[own] = served.model.predict_proba(plan.X[own])
        primary_names = self.views[served.version].names
        for version, rows in plan.groups.items():
            target = self.views[version]
            cols = [primary_names.index(name) for name in target.names]
            answered = target.model.predict_proba(plan.X[np.ix_(rows, cols)])
            order = [target.classes.index(c) for c in served.classes]
            proba[rows] = answered[:, order]
        return proba, own


def _shown(value: float) -> float | str | None:
    """A value as JSON can carry it: NaN (missing) as null, infinities as text."""
    if math.isnan(value):
        return None
    return value if math.isfinite(value) else str(value)


def _what(value: float, missing: bool, feature: Any) -> str:
    if missing:
        return "missing field (or null / NaN)"
    if not np.isfinite(value):
        return "must be a finite number"
    return (
        f"out of range: {value:g} {feature.unit}; expected {feature.minimum:g}–"
        f"{feature.maximum:g} {feature.unit}"
    )


def _refusal(
    value: float, missing: bool, feature: Any, policy: str, fallback: int | None, target: Any
) -> str:
    what = _what(value, missing, feature)
    if policy == "impute":
        return f"{what}; policy impute, but this version stores no training median"
    if policy == "fallback":
        if target is None or target.model is None:
            return f"{what}; policy fallback, but v{fallback} is not loaded"
        return f"{what}; policy fallback, but v{fallback} needs {feature.name}"
    return what


def quality_answer(
    gate: QualityGate, plan: Plan, served: Any, new_ids: Callable[[int], list[str]]
) -> tuple[dict[str, Any], list[int], list[str], list[str], list[float]]:
    """The response of a request a policy acted on: every row says what was done to it.

    Returns the body, and for the recorder the rows the served version answered itself with
    their ids, labels and confidences.
    """
    proba, own = gate.predict(plan, served)
    classes = served.classes
    best = proba.argmax(axis=1).tolist()
    probs = proba.round(6).tolist()
    ids = new_ids(len(best))
    out: list[dict[str, Any]] = []
    for i, (b, p, pid) in enumerate(zip(best, probs, ids, strict=True)):
        row: dict[str, Any] = {
            "class": classes[b],
            "probabilities": dict(zip(classes, p, strict=True)),
            "id": pid,
        }
        if plan.imputed[i]:
            row["imputed"] = plan.imputed[i]
        if plan.fallback_of[i] is not None:
            row["served_by"] = f"v{plan.fallback_of[i]} (fallback)"
        out.append(row)
    body = {"model_version": served.version, "predictions": out}
    return (
        body,
        own,
        [ids[i] for i in own],
        [classes[best[i]] for i in own],
        [probs[i][best[i]] for i in own],
    )


def gate_factory(
    *, service: ModelService, db: Database, quality: QualityFile, poll_seconds: float
) -> Callable[[Any], QualityGate]:
    """What create_model_app calls with its ServerMetrics: the gate, counters on its registry."""

    def make(server_metrics: Any) -> QualityGate:
        metrics = FeatureMetrics(server_metrics.registry, FEATURES, quality.monitor)
        return QualityGate(
            service=service, db=db, quality=quality, metrics=metrics, poll_seconds=poll_seconds
        )

    return make
