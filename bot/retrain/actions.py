"""Runbook actions for retraining: what the steps in runbooks/retrain.md call.

Data store and registry calls block, so they run in a thread; fitting runs in the process pool
(`RetrainDeps.pool`, started on first use), so a training run never delays a Slack ack.
Every action is idempotent: re-running ingestion takes nothing twice, registration finds the
version this run already registered, tagging sets the same tags again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from bot.config import Settings
from bot.data.dataset import dataset_summary, training_set
from bot.db import Database
from bot.model_registry.errors import RegistryError
from bot.model_registry.mlflow_backend import SKOPS_TRUSTED_TYPES
from bot.model_registry.mlflow_tags import T_VALIDATION_REASONS, encode_reasons
from bot.model_registry.schemas import Evaluation, ModelVersion
from bot.model_registry.service import ModelService
from bot.pipelines.ingest import IngestFailed, Ingestor
from bot.pipelines.models import EngineUnavailable
from bot.process_pool import ProcessPool
from bot.quality.contract import derive_contract
from bot.retrain import jobs
from bot.retrain.gate import run_gate
from bot.retrain.options import ALL_SOURCES, parse_include
from bot.runbook import ActionCatalog, ActionContext, ActionFailed, ActionResult
from bot.runbook import service as run_service
from bot.training.iris import FEATURES

log = logging.getLogger(__name__)

RUN_TAG = "retrain_run"
REASONS_TAG = T_VALIDATION_REASONS
# Every line these steps show in the checklist, by `kind`.
STEP_WORDS = "retrain_step"


def _failed(kind: str, **facts: Any) -> ActionFailed:
    """A step failure whose line is `kind` in `templates/retrain_step.j2`."""
    return ActionFailed(template=STEP_WORDS, facts={"kind": kind, **facts})


def _done(kind: str, outputs: dict[str, Any] | None = None, **facts: Any) -> ActionResult:
    """A step result whose line is `kind` in `templates/retrain_step.j2`."""
    return ActionResult(template=STEP_WORDS, facts={"kind": kind, **facts}, outputs=outputs or {})


class RetrainReports(Protocol):
    """Posts the candidate-versus-production report of a run (in Slack: bot/slack)."""

    async def post_report(
        self, *, channel: str, thread_ts: str | None, facts: dict[str, Any]
    ) -> None: ...


@dataclass(frozen=True)
class RetrainDeps:
    """What the retrain actions use besides the step's own facts."""

    db: Database
    models: ModelService
    pool: ProcessPool  # fitting runs in a worker process
    reports: RetrainReports
    settings: Settings  # the data folder, the gate's floor and tolerances
    ingestor: Ingestor  # the pipeline's ingest job


def landing_dir(settings: Any) -> Path:
    return Path(settings.oncall_data_dir) / "landing"


def landing_files_since(settings: Any, since: datetime | None) -> int:
    """Landing files written after `since`: data the retrain's ingest step will take first."""
    folder = landing_dir(settings)
    if not folder.is_dir():
        return 0
    cutoff = since.timestamp() if since is not None else 0.0
    return sum(
        1
        for path in folder.iterdir()
        if path.suffix in (".csv", ".jsonl", ".json") and path.stat().st_mtime > cutoff
    )


def artifact_path(settings: Any, run_id: int) -> Path:
    return Path(settings.oncall_data_dir) / "retrain" / f"run-{run_id}.skops"


def production_facts(models: ModelService) -> ModelVersion | None:
    """The production version with its metadata, or None."""
    current = models.production_version()
    return models.describe(current) if current is not None else None


def trained_at(version: ModelVersion | None) -> Any:
    return None if version is None else (version.trained_at or version.created_at)


def _include(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        value = ",".join(value)
    return parse_include(str(value or ",".join(ALL_SOURCES)))


def _params(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        return dict(json.loads(value or "{}"))
    except (TypeError, ValueError):
        raise _failed("params_not_json", given=repr(value)) from None


def _run_message_ts(db: Any, run_id: int) -> str | None:
    with db.session() as session:
        run = run_service.get_run(session=session, run_id=run_id)
        return None if run is None else run.message_ts


async def ingest(deps: RetrainDeps, ctx: ActionContext) -> ActionResult:
    # The pipeline's ingest job (on Dagster, or in process without one): one ingestion path.
    landing_dir(deps.settings).mkdir(parents=True, exist_ok=True)
    try:
        report = await deps.ingestor.ingest()
    except IngestFailed as exc:
        step, error = (exc.steps[0].step_key, exc.steps[0].error) if exc.steps else ("", str(exc))
        raise _failed("ingest_failed", step=step, error=error[:300]) from None
    except EngineUnavailable as exc:
        raise _failed("pipeline_unavailable", unavailable=exc.as_facts()) from None
    top = sorted(report.reasons.items(), key=lambda kv: -kv[1])[:3]
    return _done(
        "ingested",
        {
            "files": list(report.files),
            "rows_added": report.rows_added,
            "rows_quarantined": report.rows_quarantined,
            "reasons": dict(report.reasons),
        },
        rows_added=report.rows_added,
        files=len(report.files),
        rows_quarantined=report.rows_quarantined,
        top_reasons=top,
    )


async def summarize(deps: RetrainDeps, ctx: ActionContext, include: Any = None) -> ActionResult:
    db, models = deps.db, deps.models
    production = await asyncio.to_thread(production_facts, models)
    since = trained_at(production)
    summary = await asyncio.to_thread(dataset_summary, db, since=since)
    sources = _include(include)
    rows = {s: int(n) for s, n in summary.rows_by_source.items() if s in sources}
    classes: dict[str, int] = {}
    for source, counts in summary.rows_by_class.items():
        if source in sources:
            for cls, n in counts.items():
                classes[cls] = classes.get(cls, 0) + int(n)
    new = summary.new_since
    new_total = sum(new.values()) if isinstance(new, dict) else int(new or 0)
    return _done(
        "summarized",
        {
            "rows_by_source": rows,
            "class_counts": classes,
            "new_since": new_total,
            "quarantined": summary.quarantined,
            "production_version": production.version if production else None,
        },
        rows_by_source=rows,
        class_counts=classes,
        new_since=new_total,
        production_label=production.label if production else None,
    )


async def train(
    deps: RetrainDeps,
    ctx: ActionContext,
    estimator: str,
    params: Any = "{}",
    include: Any = None,
    force: Any = False,
) -> ActionResult:
    db, models, settings = deps.db, deps.models, deps.settings
    sources = _include(include)
    hyper = _params(params)
    data = await asyncio.to_thread(training_set, db, include=sources)
    production = await asyncio.to_thread(production_facts, models)
    if (
        not _truthy(force)
        and production is not None
        and production.training_data_hash
        and production.training_data_hash == data.data_hash
    ):
        raise _failed(
            "nothing_new",
            production_label=production.label,
            trained_at=trained_at(production),
            data_hash=data.data_hash,
        )
    pool = deps.pool.executor()
    loop = asyncio.get_running_loop()
    try:
        fitted = await loop.run_in_executor(
            pool, jobs.fit_candidate, estimator, hyper, data.X, data.y
        )
    except BrokenProcessPool:
        raise _failed("worker_died") from None
    except Exception as exc:
        raise _failed(
            "training_failed",
            estimator=estimator,
            error=type(exc).__name__,
            problem=str(exc),
        ) from None
    path = artifact_path(settings, ctx.run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(path.write_bytes, fitted["model"])
    evaluation = Evaluation(**fitted["evaluation"])
    return _done(
        "trained",
        {
            "estimator": estimator,
            "params": hyper,
            "artifact": str(path),
            "evaluation": evaluation.model_dump(),
            "data_hash": data.data_hash,
            # The feature contract of these training rows, stored with the version it becomes.
            "contract": derive_contract(data.X, FEATURES).to_json(),
            "rows_by_source": {k: int(v) for k, v in dict(data.rows_by_source).items()},
            "class_counts": {k: int(v) for k, v in dict(data.class_counts).items()},
            "holdout_version": evaluation.holdout_version,
            "n_train": fitted["n_train"],
            "seconds": fitted["seconds"],
        },
        estimator=estimator,
        n_train=fitted["n_train"],
        seconds=fitted["seconds"],
        accuracy=evaluation.accuracy,
        macro_f1=evaluation.macro_f1,
    )


async def register(deps: RetrainDeps, ctx: ActionContext) -> ActionResult:
    models = deps.models
    trained = dict(ctx.outputs.get("train", {}))
    if not trained:
        raise _failed("nothing_to_register")
    try:
        version = await asyncio.to_thread(_register, models, ctx, trained)
    except RegistryError as exc:
        raise _failed("register_failed", problem=str(exc)) from None
    return _done(
        "registered",
        {"version": version.version, "data_hash": trained["data_hash"]},
        label=version.label,
    )


async def gate(deps: RetrainDeps, ctx: ActionContext, version: Any) -> ActionResult:
    models, settings = deps.models, deps.settings
    outputs = await asyncio.to_thread(_gate, models, settings, int(version))
    verdict = outputs["verdict"]
    if verdict["passed"]:
        return _done("gate_passed", outputs, version=version)
    return _done("gate_rejected", outputs, version=version, reasons=list(verdict["reasons"]))


async def reject(
    deps: RetrainDeps, ctx: ActionContext, version: Any, reason: Any = ""
) -> ActionResult:
    models = deps.models
    number = int(version)
    current = await asyncio.to_thread(models.describe, number)
    if current.validation_status == "passed":
        return _done("already_passed", version=number)
    # The runbook passes the failed step's error; without one, the gate did not run.
    given = {"kind": "given", "facts": {"reason": str(reason)}}
    why = given if reason else {"kind": "gate_did_not_run", "facts": {}}
    await asyncio.to_thread(
        models.set_tags,
        number,
        {"validation_status": "rejected", REASONS_TAG: encode_reasons([why])},
    )
    return _done("marked_rejected", version=number, reason=why)


async def report(deps: RetrainDeps, ctx: ActionContext) -> ActionResult:
    db, reporter = deps.db, deps.reports
    if not ctx.channel:
        return _done("no_channel")
    facts = {
        "run_id": ctx.run_id,
        "actor": ctx.actor,
        "summary": dict(ctx.outputs.get("summarize", {})),
        "train": {k: v for k, v in ctx.outputs.get("train", {}).items() if k != "artifact"},
        "version": ctx.outputs.get("register", {}).get("version"),
        "gate": dict(ctx.outputs.get("gate", {})),
    }
    thread_ts = ctx.thread_ts or await asyncio.to_thread(_run_message_ts, db, ctx.run_id)
    await reporter.post_report(channel=ctx.channel, thread_ts=thread_ts, facts=facts)
    return _done("report_posted", {"version": facts["version"]})


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in {"true", "1", "yes", "on"}


def _register(models: ModelService, ctx: ActionContext, trained: dict[str, Any]) -> ModelVersion:
    # skops takes seconds to import; only a registration needs it.
    import skops.io

    # Re-running this step after a crash must not register a second version for the same run.
    for existing in models.list_versions():
        if existing.tags.get(RUN_TAG) == str(ctx.run_id):
            return existing
    model = skops.io.loads(
        Path(trained["artifact"]).read_bytes(), trusted=list(SKOPS_TRUSTED_TYPES)
    )
    return models.register(
        model,
        estimator=trained["estimator"],
        params=dict(trained["params"]),
        metrics=Evaluation(**trained["evaluation"]),
        tags={
            RUN_TAG: str(ctx.run_id),
            "requested_by": ctx.actor,
            "data_sources": json.dumps(trained["rows_by_source"], sort_keys=True),
        },
        trained_by=ctx.actor,
        training_data_hash=trained["data_hash"],
        contract=trained.get("contract"),
    )


def _gate(models: ModelService, settings: Any, version: int) -> dict[str, Any]:
    candidate = models.evaluate(version)
    current = models.production_version()
    production = models.evaluate(current) if current is not None else None
    verdict = run_gate(
        candidate,
        production,
        floor=settings.accuracy_floor,
        tolerance=settings.accuracy_tolerance,
        recall_tolerance=settings.recall_tolerance,
    )
    reasons = encode_reasons(verdict.reasons)  # "[]" when it passed
    models.set_tags(version, {"validation_status": verdict.status, REASONS_TAG: reasons})
    return {
        "version": version,
        "production_version": current,
        "passed": verdict.passed,
        "status": verdict.status,
        "verdict": verdict.as_dict(),
        "candidate": candidate.model_dump(),
        "production": production.model_dump() if production else None,
    }


# Action name, function, its arguments (name -> required) and its description.
_ACTIONS: tuple[tuple[str, Callable[..., Awaitable[ActionResult]], dict[str, bool], str], ...] = (
    ("data.ingest", ingest, {}, "Take new files from the landing folder"),
    (
        "data.summarize",
        summarize,
        {"include": False},
        "Rows by source and class, and what is new since production was trained",
    ),
    (
        "model.train",
        train,
        {"estimator": True, "params": False, "include": False, "force": False},
        "Fit a candidate in the process pool and evaluate it on the holdout",
    ),
    ("model.register", register, {}, "Register the candidate as the next version"),
    (
        "model.gate",
        gate,
        {"version": True},
        "Evaluate candidate and production on the holdout; tag passed or rejected",
    ),
    (
        "model.reject",
        reject,
        {"version": True, "reason": False},
        "Mark a candidate rejected (its gate did not run)",
    ),
    ("retrain.report", report, {}, "Post the candidate vs production report"),
)


def register_retrain_actions(actions: ActionCatalog, deps: RetrainDeps) -> None:
    """Register the retrain actions, each bound to `deps`."""
    for name, fn, params, description in _ACTIONS:
        actions.register(name, partial(fn, deps), params=params, description=description)
