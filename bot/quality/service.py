"""QualityService: the data-quality domain of one bot, as the adapters see it.

Runs the quality monitor and the source-cadence checks (scheduled), answers `/iris quality`,
checks and starts policy changes, and says what late sources hold.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.db import Database
from bot.incidents.models import Incident
from bot.model_registry.service import ModelService
from bot.monitoring.alerts import AlertTracker, Finding
from bot.monitoring.sink import AlertSink
from bot.quality.contract import Contract, ContractError, contract_from_json, default_contract
from bot.quality.monitor import RUNBOOK, Counters, QualityMonitor, camel
from bot.quality.overrides import QualityFile
from bot.quality.policy import PolicyInForce, check_policy, policies_in_force
from bot.quality.sources import SourceClock, SourceState
from bot.training.iris import FEATURES

HOUR = 3600.0
log = logging.getLogger(__name__)


class ThreadPoster(Protocol):
    """Posts a quality alert's details (rate, samples, policy, buttons) in an incident thread."""

    async def post_details(
        self, *, channel: str, thread_ts: str, facts: dict[str, Any]
    ) -> None: ...


def late_alert(source: str) -> str:
    return f"DataSourceLate{camel(source)}"


@dataclass(frozen=True)
class FeatureReport:
    """One line of `/iris quality`."""

    feature: str
    contract: Any
    policy: PolicyInForce
    rows: int
    rates: dict[str, float]


@dataclass(frozen=True)
class QualityReport:
    """`/iris quality`: per feature contract, last hour's rates and policy; sources; alerts."""

    version: int | None
    contract_source: str
    features: list[FeatureReport]
    sources: list[SourceState]
    firing: list[str]
    window_failed: dict[str, list[str]] = field(default_factory=dict)
    server_problem: str = ""


class QualityService:
    """See the module docstring."""

    def __init__(
        self,
        *,
        db: Database,
        models: ModelService,
        quality: QualityFile,
        model_server_url: str,
        sources: SourceClock,
        sink: AlertSink,
        model: str,
        repeat_seconds: float,
        describe_alert: Callable[..., str],
        describe_source: Callable[[SourceState], str],
        poster: ThreadPoster,
        header_wait_seconds: float = 30.0,
    ) -> None:
        self.db = db
        self.models = models
        self.quality = quality
        self.monitor = QualityMonitor(
            model=model,
            model_server_url=model_server_url,
            limits=quality.monitor,
            sink=sink,
            repeat_seconds=repeat_seconds,
            notify=self,
            describe=describe_alert,
        )
        self.poster = poster
        self.header_wait_seconds = header_wait_seconds
        self._posts: set[asyncio.Task[None]] = set()
        self.sources = sources
        self.sink = sink
        self.describe_source = describe_source
        self.source_tracker = AlertTracker(model=model, repeat_seconds=repeat_seconds)
        # (monotonic time, counters) of past scrapes, for the last hour's rates.
        self.history: deque[tuple[float, Counters]] = deque(maxlen=512)
        self._lock = asyncio.Lock()

    async def run(self) -> None:
        """One scheduled run: quality alerts, then late sources."""
        async with self._lock:
            await self.monitor.run()
            if self.monitor.last is not None:
                self.history.append((time.monotonic(), self.monitor.last))
            await self.check_sources()

    async def check_sources(self) -> list[SourceState]:
        """Alert on late sources (resolve when data arrives); the states."""
        states = await asyncio.to_thread(self.sources.states)
        findings = []
        for state in states:
            summary, _, description = self.describe_source(state).partition("\n")
            findings.append(
                Finding(
                    late_alert(state.source),
                    state.late,
                    "warning",
                    summary,
                    description.strip(),
                    {"source": state.source, "runbook": RUNBOOK},
                )
            )
        for payload in self.source_tracker.update(findings):
            try:
                await self.sink.deliver(payload)
            except Exception:
                self.source_tracker.undelivered(payload)
        return states

    async def held(self, what: str) -> list[SourceState]:
        """The late sources holding `what` ("scheduled retrains", "automatic promotion")."""
        return await asyncio.to_thread(self.sources.held, what)

    async def check_policy(
        self, *, feature: str, policy: str, version_text: str | None
    ) -> dict[str, Any]:
        """The policy checked against the registry (PolicyRefused if it cannot work)."""
        return await asyncio.to_thread(
            check_policy, self.models, feature=feature, policy=policy, version_text=version_text
        )

    async def report(self) -> QualityReport:
        """Everything `/iris quality` shows; a fresh scrape of the model server first."""
        async with self._lock:
            await self.monitor.run()
            now = time.monotonic()
            if self.monitor.last is not None:
                self.history.append((now, self.monitor.last))
        production = await asyncio.to_thread(self.models.production_version)
        contract = await asyncio.to_thread(self._contract, production)
        with self.db.session() as session:
            policies = policies_in_force(session)
        rows, rates = self._hour_rates(now)
        states = await asyncio.to_thread(self.sources.states)
        snapshot = self.monitor.latest
        features = [
            FeatureReport(name, contract.get(name), policies[name], rows, rates.get(name, {}))
            for name in FEATURES
        ]
        return QualityReport(
            version=production,
            contract_source=contract.source,
            features=features,
            sources=states,
            firing=sorted(self.monitor.tracker.firing() + self.source_tracker.firing()),
            window_failed={
                f: r.window_failed for f, r in snapshot.rates.items() if r.window_failed
            },
            server_problem=snapshot.problem,
        )

    def _contract(self, version: int | None) -> Contract:
        if version is None:
            return default_contract(FEATURES).with_overrides(self.quality.features)
        described = self.models.describe(version)
        names = described.features or FEATURES
        try:
            base = (
                contract_from_json(described.quality_contract, names)
                if described.quality_contract
                else default_contract(names)
            )
        except ContractError:
            base = default_contract(names)
        return base.with_overrides(self.quality.features)

    def _hour_rates(self, now: float) -> tuple[int, dict[str, dict[str, float]]]:
        recent = [(t, c) for t, c in self.history if now - t <= HOUR]
        if not recent:
            return 0, {}
        # One scrape only: its counters count from the server's start.
        first = recent[0][1] if len(recent) > 1 else Counters()
        last = recent[-1][1]
        rows = int(last.rows - first.rows)
        rates: dict[str, dict[str, float]] = {}
        for (feature, kind), value in last.issues.items():
            delta = value - first.issues.get((feature, kind), 0.0)
            rates.setdefault(feature, {})[kind] = delta / rows if rows else 0.0
        return rows, rates

    async def current_contract(self) -> Contract:
        """The production version's contract with quality.toml's overrides."""
        production = await asyncio.to_thread(self.models.production_version)
        return await asyncio.to_thread(self._contract, production)

    def fallbacks_for(self, feature: str) -> list[int]:
        """Versions registered without `feature` (candidates for its fallback policy)."""
        return [
            v.version
            for v in self.models.list_versions()
            if v.features is not None and feature not in v.features
        ]

    async def alert_opened(self, *, incident_id: int, facts: dict[str, Any]) -> None:
        """A quality alert opened an incident: post the details in its thread (background)."""
        task = asyncio.get_running_loop().create_task(self._post_details(incident_id, facts))
        self._posts.add(task)
        task.add_done_callback(self._posts.discard)

    async def _post_details(self, incident_id: int, facts: dict[str, Any]) -> None:
        deadline = time.monotonic() + self.header_wait_seconds
        where = None
        while time.monotonic() < deadline:
            where = await asyncio.to_thread(self._thread_of, incident_id)
            if where is not None:
                break
            await asyncio.sleep(0.1)
        if where is None:
            log.warning(
                "incident %s has no Slack thread yet; quality details not posted", incident_id
            )
            return
        fallbacks = await asyncio.to_thread(self.fallbacks_for, facts["feature"])
        try:
            await self.poster.post_details(
                channel=where[0], thread_ts=where[1], facts={**facts, "fallbacks": fallbacks}
            )
        except Exception:
            log.warning("quality details not posted in incident %s", incident_id, exc_info=True)

    def _thread_of(self, incident_id: int) -> tuple[str, str] | None:
        with self.db.session() as session:
            row = session.get(Incident, incident_id)
            if row is None or not row.channel or not row.header_ts:
                return None
            return row.channel, row.header_ts

    async def aclose(self) -> None:
        for task in list(self._posts):
            task.cancel()
        await self.monitor.aclose()
