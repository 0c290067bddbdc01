"""Pipeline problems as Alertmanager-shaped payloads for the bot's one incident path.

One incident per pipeline (job): the group key names the job, so a failure and a stale asset of
the same job share one incident. Each alert's start is its run's end (or the moment the asset
went stale), so a repeated push or poll of the same problem is the same notification, and the
intake treats it as a repeat.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Literal

FAILED = "PipelineRunFailed"
STALE = "PipelineDataStale"
RECEIVER = "oncall-bot-pipelines"
ZERO_TIME = "0001-01-01T00:00:00Z"
# What a job holds back decides the severity: training data blocks retrains (SEV2).
SEVERITY = {"ingest_landing": "high", "training_set_snapshot": "high"}
DEFAULT_SEVERITY = "warning"


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def group_key(job: str) -> str:
    return f'{{}}:{{pipeline="{job}"}}'


def pipeline_payload(
    *,
    alertname: str,
    job: str,
    status: Literal["firing", "resolved"],
    starts_at: datetime,
    summary: str,
    description: str,
    generator_url: str = "",
    partition: str | None = None,
    ends_at: datetime | None = None,
) -> dict[str, Any]:
    """An Alertmanager v4 payload with one pipeline alert in the job's group."""
    labels = {
        "alertname": alertname,
        "pipeline": job,
        "severity": SEVERITY.get(job, DEFAULT_SEVERITY),
        "runbook": "pipeline",
    }
    if partition:
        labels["partition"] = partition
    key = "\x1f".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "severity")
    annotations = {"summary": summary, "description": description}
    return {
        "version": "4",
        "groupKey": group_key(job),
        "status": status,
        "receiver": RECEIVER,
        "groupLabels": {"pipeline": job},
        "commonLabels": dict(labels),
        "commonAnnotations": dict(annotations),
        "externalURL": "",
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": annotations,
                "startsAt": _ts(starts_at),
                "endsAt": _ts(ends_at) if ends_at is not None else ZERO_TIME,
                "generatorURL": generator_url,
                "fingerprint": hashlib.sha256(key.encode()).hexdigest()[:16],
            }
        ],
        "truncatedAlerts": 0,
    }
