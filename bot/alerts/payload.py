"""Prometheus Alertmanager's webhook payload (version 4), parsed with pydantic.

Unknown fields are accepted and ignored (Alertmanager adds fields between versions); the fields the
bot relies on are validated, and a problem is reported as one line naming the field,
`alerts[2].labels: field required`, because the person reading it is looking at a payload.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Alertmanager sends endsAt = 0001-01-01T00:00:00Z for an alert that is still firing.
_ZERO_YEAR = 1


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class PayloadError(ValueError):
    """The body is not an Alertmanager notification; the message names the field."""


class AlertIn(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(None, alias="endsAt")
    generator_url: str = Field("", alias="generatorURL")
    fingerprint: str = ""

    @field_validator("starts_at")
    @classmethod
    def _starts(cls, value: datetime) -> datetime:
        if value.year <= _ZERO_YEAR:
            raise ValueError("must be the time the alert started")
        return _utc(value)

    @field_validator("ends_at")
    @classmethod
    def _ends(cls, value: datetime | None) -> datetime | None:
        return None if value is None or value.year <= _ZERO_YEAR else _utc(value)

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "alert")

    def key(self) -> str:
        """Alertmanager's fingerprint, or a stable hash of the labels when a sender has none."""
        if self.fingerprint:
            return self.fingerprint[:64]
        raw = json.dumps(self.labels, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


class AlertmanagerPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str = "4"
    group_key: str = Field(alias="groupKey", min_length=1)
    truncated_alerts: int = Field(0, alias="truncatedAlerts")
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field("", alias="externalURL")
    alerts: list[AlertIn] = Field(max_length=10_000)

    @property
    def firing(self) -> list[AlertIn]:
        return [a for a in self.alerts if a.status == "firing"]


_ALIASES = {
    name: field.alias
    for model in (AlertIn, AlertmanagerPayload)
    for name, field in model.model_fields.items()
    if field.alias
}


def _location(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + _ALIASES.get(part, part)
    return out or "body"


def describe_error(exc: ValidationError) -> str:
    """`alerts[2].labels: field required` for the first problem (and how many more there are)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        return f"body: not valid JSON ({first.get('ctx', {}).get('error', first['msg'])})"
    where = _location(tuple(first["loc"]))
    message = str(first["msg"])
    message = message[:1].lower() + message[1:]
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where}: {message}{more}"


def parse_payload(data: dict[str, Any] | bytes) -> AlertmanagerPayload:
    """A validated notification from a dict or raw JSON bytes, or PayloadError."""
    try:
        if isinstance(data, bytes | bytearray | str):
            if not data:
                raise PayloadError("body: empty; send Alertmanager's webhook JSON")
            return AlertmanagerPayload.model_validate_json(data)
        if not isinstance(data, dict):
            raise PayloadError(f"body: must be a JSON object, got {type(data).__name__}")
        return AlertmanagerPayload.model_validate(data)
    except ValidationError as exc:
        if exc.errors()[0]["type"] == "model_type":
            raise PayloadError("body: must be a JSON object") from None
        raise PayloadError(describe_error(exc)) from None
    except RecursionError:
        raise PayloadError("body: nested too deeply") from None


SEVERITIES = {
    "critical": "SEV1",
    "page": "SEV1",
    "sev1": "SEV1",
    "high": "SEV2",
    "error": "SEV2",
    "sev2": "SEV2",
    "warning": "SEV3",
    "sev3": "SEV3",
    "info": "SEV4",
    "low": "SEV4",
    "sev4": "SEV4",
}
DEFAULT_SEVERITY = "SEV3"


def severity_of(labels: dict[str, str]) -> str:
    """SEV1..SEV4 from a `severity` label (default SEV3)."""
    return SEVERITIES.get(labels.get("severity", "").strip().lower(), DEFAULT_SEVERITY)
