"""Alertmanager-shaped payloads, a client that posts them like Alertmanager does, and the
test clock (time-machine plus a woken scheduler) of the update and reminder tests."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import time_machine
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent

from tests.harness import BotHarness

TOKEN = "alert-token"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def alert(
    name: str = "ModelInputDrift",
    *,
    status: str = "firing",
    severity: str = "warning",
    starts: datetime = T0,
    ends: datetime | None = None,
    summary: str | None = None,
    description: str | None = None,
    **labels: str,
) -> dict[str, Any]:
    all_labels = {"alertname": name, "severity": severity, "model": "iris_classifier", **labels}
    fingerprint = hashlib.sha256(repr(sorted(all_labels.items())).encode()).hexdigest()[:16]
    annotations = {}
    if summary:
        annotations["summary"] = summary
    if description:
        annotations["description"] = description
    return {
        "status": status,
        "labels": all_labels,
        "annotations": annotations,
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
        "endsAt": (ends or datetime(1, 1, 1, tzinfo=UTC)).isoformat().replace("+00:00", "Z"),
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint,
    }


def resolved(a: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
    ends = at or T0 + timedelta(minutes=5)
    return {**a, "status": "resolved", "endsAt": ends.isoformat().replace("+00:00", "Z")}


def notification(group: str, alerts: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{group}"}}',
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "oncall-bot",
        "groupLabels": {"alertname": group},
        "commonLabels": {"alertname": group},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
        **extra,
    }


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post(
    bot: BotHarness, payload: Any, *, headers: dict[str, str] | None = None
) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"{bot.url}/alerts/alertmanager",
            json=payload,
            headers=auth() if headers is None else headers,
        )


def prepare(bot: BotHarness, *, debounce: float = 0.05, without_registry: bool = False) -> None:
    """Shorten the debounce (and optionally detach the model registry) for quick tests."""
    bot.app.services.incidents.publisher.debounce = debounce
    if without_registry:
        # The plain harness has no MLflow store; its first use costs seconds per test.
        bot.app.services.incidents.models = None
        if bot.app.services.incidents.postmortems is not None:
            bot.app.services.incidents.postmortems.models = None


async def settle(bot: BotHarness) -> None:
    """Wait until the incidents are published and the updates they caused are sent (an update
    sent writes a timeline line, which is published in turn)."""
    incidents, updates = bot.app.services.incidents, bot.app.services.updates
    assert incidents is not None and updates is not None
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        await incidents.idle(timeout=30)
        await updates.idle(timeout=30)
        if not incidents.publisher.tasks() and not updates.busy():
            return


class JobRuns:
    """Counts finished incident jobs (updates, reminders), so that a test can wait for the ones
    it woke; the bot's other jobs (monitors, ingestion) run on their own clocks."""

    def __init__(self, bot: BotHarness) -> None:
        self.done: list[str] = []
        self.scheduler = bot.app.services.scheduler
        self.scheduler.add_listener(self._finished, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def _finished(self, event: JobExecutionEvent) -> None:
        if event.job_id.startswith("incident-"):
            assert event.exception is None, event.exception
            self.done.append(event.job_id)

    async def wake(self, *, expect: int) -> list[str]:
        """Let the scheduler run what is due now; wait for `expect` jobs to finish."""
        before = len(self.done)
        self.scheduler.wakeup()
        deadline = asyncio.get_running_loop().time() + 15
        while len(self.done) < before + expect:
            assert asyncio.get_running_loop().time() < deadline, self.done[before:]
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # a job that was not expected would have finished by now
        return self.done[before:]


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    with time_machine.travel(moment, tick=True):
        yield


async def wait_until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
