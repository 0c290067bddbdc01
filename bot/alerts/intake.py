"""Alert intake: one Alertmanager notification in, incidents updated, Slack work scheduled.

`AlertIntake.deliver(payload)` is the bot's one entry point for alerts. The HTTP endpoint calls it
for Prometheus Alertmanager, and the bot's own monitors call it with Alertmanager-shaped payloads,
so both are handled alike. It returns as soon as the notification is applied in the database;
anything that talks to Slack happens later (and coalesced) through `on_change`.

Database work runs on a small dedicated thread pool: one thread on SQLite, where writers
serialise anyway and a queue is cheaper than lock contention; a few on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.alerts.apply import Applied, RunbookChooser, apply_notification
from bot.alerts.payload import AlertmanagerPayload, PayloadError, parse_payload
from bot.db import Database, utcnow

log = logging.getLogger(__name__)

# Two deliveries racing to open one group (or to take one number) collide on a unique constraint;
# the loser retries and then sees the winner's incident.
MAX_ATTEMPTS = 8
# Alertmanager re-sends every group (repeat_interval, retries, one notification per receiver).
# A repeat identical to the last notification applied for its group is answered from memory for
# this long (after which it goes to the database again, refreshing the alerts' last_seen).
REPEAT_MEMORY_SECONDS = 60.0
REPEAT_MEMORY_GROUPS = 10_000


def _digest(payload: AlertmanagerPayload) -> tuple[Any, ...]:
    """What decides what a notification does: each alert's identity, state and start."""
    return (
        payload.status,
        tuple(sorted((a.key(), a.status, a.starts_at, a.ends_at) for a in payload.alerts)),
    )


class IntakeUnavailable(Exception):
    """The notification could not be stored (database down): the sender should retry."""


@dataclass(frozen=True)
class DeliveryResult:
    """What one notification did: `outcome` is opened | updated | unchanged | ignored."""

    outcome: str
    incident: str | None = None
    incident_id: int | None = None
    reason: str = ""
    changes: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "accepted", "outcome": self.outcome}
        if self.incident:
            body["incident"] = self.incident
        if self.reason:
            body["reason"] = self.reason
        if self.changes:
            body["changes"] = self.changes
        return body


class AlertSink(Protocol):
    """What monitors need from the intake (`services.alert_sink`)."""

    async def deliver(self, payload: dict[str, Any]) -> DeliveryResult: ...


class AlertIntake:
    def __init__(
        self,
        *,
        db: Database,
        model: str,
        choose_runbook: RunbookChooser,
        on_change: Callable[[int], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        threads: int | None = None,
    ) -> None:
        self.db = db
        self.model = model
        self.choose_runbook = choose_runbook
        self.on_change = on_change
        self.clock = clock
        size = threads or (4 if db.is_postgres else 1)
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="alert-intake")
        self.counts: dict[str, int] = {}
        # group key -> (digest of its last applied notification, when, the answer to a repeat)
        self._recent: dict[str, tuple[tuple[Any, ...], float, DeliveryResult]] = {}

    async def deliver(self, payload: dict[str, Any] | AlertmanagerPayload) -> DeliveryResult:
        """Apply one notification; raises PayloadError (bad shape) or IntakeUnavailable."""
        parsed = payload if isinstance(payload, AlertmanagerPayload) else parse_payload(payload)
        return await self._deliver(parsed)

    async def deliver_json(self, body: bytes) -> DeliveryResult:
        """The HTTP endpoint's path: raw JSON bytes validated in one pass."""
        return await self._deliver(parse_payload(body))

    async def _deliver(self, payload: AlertmanagerPayload) -> DeliveryResult:
        digest = _digest(payload)
        now = time.monotonic()
        cached = self._recent.get(payload.group_key)
        if cached is not None and cached[0] == digest and now - cached[1] < REPEAT_MEMORY_SECONDS:
            # The same group with the same alerts in the same states as the last notification we
            # applied: applying it again is a no-op by construction, so skip the database.
            self.counts["unchanged"] = self.counts.get("unchanged", 0) + 1
            return cached[2]
        loop = asyncio.get_running_loop()
        applied = await loop.run_in_executor(self._pool, self._apply, payload)
        self.counts[applied.outcome] = self.counts.get(applied.outcome, 0) + 1
        changed = applied.outcome in ("opened", "updated") and applied.incident_id is not None
        if changed and self.on_change is not None:
            self.on_change(applied.incident_id)  # type: ignore[arg-type]
        result = DeliveryResult(
            outcome=applied.outcome,
            incident=f"INC-{applied.number}" if applied.number is not None else None,
            incident_id=applied.incident_id,
            reason=applied.reason,
            changes=applied.changes,
        )
        repeat = (
            result
            if applied.outcome in ("unchanged", "ignored")
            else replace(result, outcome="unchanged", changes={})
        )
        if len(self._recent) >= REPEAT_MEMORY_GROUPS:
            self._recent.pop(next(iter(self._recent)))
        self._recent.pop(payload.group_key, None)
        self._recent[payload.group_key] = (digest, now, repeat)
        return result

    def _apply(self, payload: AlertmanagerPayload) -> Applied:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.db.connection() as conn:
                    return apply_notification(
                        conn,
                        payload=payload,
                        now=self.clock(),
                        model=self.model,
                        choose_runbook=self.choose_runbook,
                    )
            except IntegrityError:
                if attempt == MAX_ATTEMPTS:
                    log.exception("alert group %r kept colliding", payload.group_key)
                    raise IntakeUnavailable("concurrent deliveries kept colliding") from None
            except SQLAlchemyError as exc:
                log.exception("could not store an alert notification")
                raise IntakeUnavailable(str(exc).splitlines()[0]) from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


__all__ = ["AlertIntake", "AlertSink", "DeliveryResult", "IntakeUnavailable", "PayloadError"]
