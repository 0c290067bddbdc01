"""`PipelineService` over Dagster's GraphQL API (httpx). The only module that speaks Dagster."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.pipelines import graphql as q
from bot.pipelines.embedded import PARALLEL_TAG
from bot.pipelines.models import (
    ACTIVE,
    AssetInfo,
    BackfillInfo,
    EngineUnavailable,
    FailedStep,
    JobInfo,
    Materialization,
    PipelineRefused,
    PipelineRun,
    StepInfo,
)
from bot.pipelines.partitions import expand

log = logging.getLogger(__name__)

HIDDEN_JOB_PREFIX = "__"  # Dagster's implicit asset job


def _when(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


def _ms(value: str | float | None) -> datetime | None:
    return datetime.fromtimestamp(float(value) / 1000, UTC) if value else None


def _ints(entries: list[dict[str, Any]]) -> dict[str, int]:
    return {e["label"]: int(e["intValue"]) for e in entries if e.get("intValue") is not None}


def _root(error: dict[str, Any] | None) -> str:
    """The innermost cause's message: the database's own words, not Dagster's wrapper."""
    while error and error.get("cause"):
        error = error["cause"]
    return ((error or {}).get("message") or "").strip()


def _run(node: dict[str, Any]) -> PipelineRun:
    tags = {t["key"]: t["value"] for t in node.get("tags") or []}
    steps = tuple(
        StepInfo(
            key=s["stepKey"],
            status=s.get("status") or "",
            seconds=(s["endTime"] - s["startTime"])
            if s.get("endTime") and s.get("startTime")
            else None,
        )
        for s in node.get("stepStats") or []
    )
    return PipelineRun(
        run_id=node["runId"],
        job=node["jobName"],
        status=node["status"],
        started_at=_when(node.get("startTime")),
        ended_at=_when(node.get("endTime")),
        partition=tags.get("dagster/partition"),
        parent_run_id=node.get("parentRunId"),
        backfill_id=tags.get("dagster/backfill"),
        steps=steps,
    )


class DagsterPipelines:
    """The Dagster backend: `url` is the webserver (http://host:3000), GraphQL at /graphql."""

    def __init__(self, url: str | None, *, timeout: float = 1.5, ui_url: str | None = None) -> None:
        self.url = (url or "").rstrip("/")
        self.ui_url = (ui_url or url or "").rstrip("/")
        # A Dagster that is down answers "not answering" within the connect timeout (inside
        # Slack's ack budget); one that is up but busy gets `timeout` to answer.
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=1.0))
        self._repo: dict[str, Any] | None = None

    async def aclose(self) -> None:
        await self._client.aclose()

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_url}/runs/{run_id}"

    async def _query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        if not self.url:
            raise EngineUnavailable("not_configured", setting="DAGSTER_URL")
        try:
            reply = await self._client.post(
                f"{self.url}/graphql", json={"query": query, "variables": variables or {}}
            )
            body = reply.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise EngineUnavailable(
                "dagster_unreachable", error=type(exc).__name__, problem=str(exc)
            ) from None
        if reply.status_code >= 500 or "data" not in body or body.get("errors"):
            errors = body.get("errors") or [{}]
            message = errors[0].get("message")
            raise EngineUnavailable(
                "dagster_error",
                problem=str(message)[:300] if message else None,
                status=reply.status_code,
            )
        return body["data"]

    async def _repository(self) -> dict[str, Any]:
        if self._repo is None:
            data = (await self._query(q.REPOSITORIES))["repositoriesOrError"]
            nodes = data.get("nodes") or []
            if not nodes:
                raise EngineUnavailable("no_code_location", problem=data.get("message"))
            self._repo = nodes[0]
        return self._repo

    async def _selector(self, job: str) -> dict[str, Any]:
        repo = await self._repository()
        if job not in {j["name"] for j in repo["jobs"]} or job.startswith(HIDDEN_JOB_PREFIX):
            raise PipelineRefused("unknown_job", job=job, jobs=[j.name for j in await self.jobs()])
        return {
            "repositoryLocationName": repo["location"]["name"],
            "repositoryName": repo["name"],
            "pipelineName": job,
        }

    async def jobs(self) -> list[JobInfo]:
        repo = await self._repository()
        partitioned = {p["pipelineName"] for p in repo.get("partitionSets") or []}
        assets = await self.assets()
        return [
            JobInfo(
                name=j["name"],
                partitioned=j["name"] in partitioned,
                assets=tuple(a.key for a in assets if j["name"] in a.jobs),
            )
            for j in repo["jobs"]
            if not j["name"].startswith(HIDDEN_JOB_PREFIX)
        ]

    async def assets(self) -> list[AssetInfo]:
        nodes = (await self._query(q.ASSETS))["assetNodes"]
        out = []
        for node in nodes:
            sla = _ints(node.get("metadataEntries") or [])
            materialized: set[str] = set()
            failed: set[str] = set()
            statuses = node.get("assetPartitionStatuses") or {}
            for r in statuses.get("ranges") or []:
                keys = expand(r["startKey"], r["endKey"])
                (materialized if r["status"] == "MATERIALIZED" else failed).update(
                    keys if r["status"] in ("MATERIALIZED", "FAILED") else ()
                )
            out.append(
                AssetInfo(
                    key="/".join(node["assetKey"]["path"]),
                    jobs=tuple(j for j in node["jobNames"] if not j.startswith(HIDDEN_JOB_PREFIX)),
                    partitioned=bool(node["isPartitioned"]),
                    warn_seconds=sla.get("iris/warn_seconds"),
                    fail_seconds=sla.get("iris/fail_seconds"),
                    downstream=tuple("/".join(d["path"]) for d in node.get("dependedByKeys") or []),
                    materializations=tuple(
                        Materialization(
                            run_id=m["runId"],
                            at=_ms(m["timestamp"]) or datetime.now(UTC),
                            partition=m.get("partition"),
                            new_records=_ints(m.get("metadataEntries") or []).get("new_records", 0),
                        )
                        for m in node.get("assetMaterializations") or []
                    ),
                    materialized_partitions=frozenset(materialized),
                    failed_partitions=frozenset(failed - materialized),
                    partition_keys=tuple(
                        k
                        for d in (node.get("partitionKeysByDimension") or [])[:1]
                        for k in d.get("partitionKeys") or []
                    ),
                )
            )
        return out

    async def materialization_metadata(self, *, run_id: str, asset: str) -> dict[str, Any]:
        data = await self._query(q.RUN_MATERIALIZATIONS, {"key": {"path": asset.split("/")}})
        for mat in data["assetOrError"].get("assetMaterializations") or []:
            if mat["runId"] != run_id:
                continue
            out: dict[str, Any] = {}
            for entry in mat.get("metadataEntries") or []:
                if entry.get("intValue") is not None:
                    out[entry["label"]] = int(entry["intValue"])
                elif entry.get("jsonString") is not None:
                    out[entry["label"]] = json.loads(entry["jsonString"])
                elif entry.get("text") is not None:
                    out[entry["label"]] = entry["text"]
            return out
        return {}

    async def runs(self, *, job: str | None = None, limit: int = 20) -> list[PipelineRun]:
        run_filter: dict[str, Any] = {"pipelineName": job} if job else {}
        data = (await self._query(q.RUNS, {"filter": run_filter, "limit": limit}))["runsOrError"]
        return [_run(r) for r in data.get("results") or []]

    async def run(self, *, run_id: str) -> PipelineRun | None:
        run_id = run_id.strip()
        if len(run_id) < 36:  # a short id (the first 8 characters, as Dagster shows them)
            matches = [r for r in await self.runs(limit=200) if r.run_id.startswith(run_id)]
            return matches[0] if len(matches) == 1 and run_id else None
        data = (await self._query(q.RUN, {"runId": run_id}))["runOrError"]
        return _run(data) if data["__typename"] == "Run" else None

    async def failures(self, *, run_id: str) -> list[FailedStep]:
        data = (await self._query(q.RUN_FAILURES, {"runId": run_id}))["logsForRun"]
        steps = [
            FailedStep(step_key=e["stepKey"], error=_root(e.get("error")))
            for e in data.get("events") or []
            if e["__typename"] == "ExecutionStepFailureEvent"
        ]
        if not steps:  # a run that failed outside any step (timed out, could not start)
            steps = [
                FailedStep(step_key="", error=(e.get("message") or "").strip())
                for e in data.get("events") or []
                if e["__typename"] == "RunFailureEvent"
            ]
        return steps

    def _launched(self, result: dict[str, Any]) -> str:
        if result["__typename"] == "LaunchRunSuccess":
            return str(result["run"]["runId"])
        message = result.get("message") or "; ".join(
            e["message"] for e in result.get("errors") or []
        )
        raise PipelineRefused("engine_refused", message=message or result["__typename"])

    async def launch(self, *, job: str, partition: str | None = None) -> str:
        selector = await self._selector(job)
        tags = [{"key": "iris/launched-by", "value": "oncall-bot"}]
        if partition:
            tags.append({"key": "dagster/partition", "value": partition})
        params = {"selector": selector, "mode": "default", "executionMetadata": {"tags": tags}}
        return self._launched(
            (await self._query(q.LAUNCH, {"params": params}))["launchPipelineExecution"]
        )

    async def reexecute(self, *, run_id: str, from_failure: bool) -> str:
        params = {
            "parentRunId": run_id,
            "strategy": "FROM_FAILURE" if from_failure else "ALL_STEPS",
        }
        data = await self._query(q.REEXECUTE, {"params": params})
        return self._launched(data["launchRunReexecution"])

    async def terminate(self, *, run_id: str) -> None:
        data = (await self._query(q.TERMINATE, {"runId": run_id}))["terminateRun"]
        if data["__typename"] != "TerminateRunSuccess":
            raise PipelineRefused("engine_refused", message=data.get("message", ""))

    async def backfill(self, *, job: str, partitions: list[str], max_parallel: int) -> str:
        selector = await self._selector(job)
        repo = await self._repository()
        sets = [p["name"] for p in repo.get("partitionSets") or [] if p["pipelineName"] == job]
        if not sets:
            raise PipelineRefused("not_partitioned", job=job)
        # The tag's value is unique per backfill, and the instance limits each value to N runs.
        slot = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
        params = {
            "selector": {
                "partitionSetName": sets[0],
                "repositorySelector": {
                    "repositoryLocationName": selector["repositoryLocationName"],
                    "repositoryName": selector["repositoryName"],
                },
            },
            "partitionNames": partitions,
            "tags": [
                {"key": PARALLEL_TAG.format(n=max_parallel), "value": slot},
                {"key": "iris/launched-by", "value": "oncall-bot"},
            ],
            "title": f"iris {job} {partitions[0]}..{partitions[-1]}",
        }
        data = (await self._query(q.BACKFILL, {"params": params}))["launchPartitionBackfill"]
        if data["__typename"] != "LaunchBackfillSuccess":
            raise PipelineRefused("engine_refused", message=data.get("message", ""))
        return str(data["backfillId"])

    def _backfill(self, node: dict[str, Any]) -> BackfillInfo:
        results = (node.get("partitionStatuses") or {}).get("results") or []
        return BackfillInfo(
            backfill_id=node["id"],
            job=(node.get("partitionSet") or {}).get("pipelineName", ""),
            status=node["status"],
            partitions=tuple(node.get("partitionNames") or ()),
            run_status={
                r["partitionName"]: r.get("runStatus") or "QUEUED"
                for r in results
                if r.get("runId")
            },
        )

    async def backfill_status(self, *, backfill_id: str) -> BackfillInfo | None:
        data = (await self._query(q.BACKFILL_STATUS, {"id": backfill_id}))[
            "partitionBackfillOrError"
        ]
        return self._backfill(data) if data["__typename"] == "PartitionBackfill" else None

    async def active_backfills(self) -> list[BackfillInfo]:
        data = (await self._query(q.BACKFILLS, {"status": "REQUESTED"}))[
            "partitionBackfillsOrError"
        ]
        return [self._backfill(b) for b in data.get("results") or []]

    async def cancel_backfill(self, *, backfill_id: str) -> None:
        data = (await self._query(q.CANCEL_BACKFILL, {"id": backfill_id}))[
            "cancelPartitionBackfill"
        ]
        if data["__typename"] != "CancelBackfillSuccess":
            raise PipelineRefused("engine_refused", message=data.get("message", ""))
        # Runs it already queued would still start: withdraw them.
        for run in await self.runs(limit=200):
            if run.backfill_id == backfill_id and run.status in ACTIVE:
                try:
                    await self.terminate(run_id=run.run_id)
                except PipelineRefused:
                    log.info(
                        "run %s of backfill %s finished before it could be stopped",
                        run.run_id,
                        backfill_id,
                    )
