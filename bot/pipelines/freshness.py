"""Freshness of one asset against its SLA: fresh, warn, stale, recovered, or unknown.

Judged apart from failure: age counts from the last materialization that brought new records,
so a run that succeeded but wrote nothing new does not make an asset fresh. `recovered` is the
first fresh verdict after warn or stale; `unknown` is what the bot says when the engine does not
answer (neither fresh nor stale).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.pipelines.models import AssetInfo

FRESH, WARN, STALE, RECOVERED, UNKNOWN = "fresh", "warn", "stale", "recovered", "unknown"
NO_SLA = "no_sla"


@dataclass(frozen=True)
class Freshness:
    asset: str
    state: str
    age_seconds: float | None
    warn_seconds: int | None
    fail_seconds: int | None
    last_new_at: datetime | None
    last_run_id: str | None = None

    @property
    def late(self) -> bool:
        return self.state in (WARN, STALE)


def judge(asset: AssetInfo, *, now: datetime, previous: str | None = None) -> Freshness:
    """The verdict for one asset now; `previous` is its last verdict (for `recovered`)."""
    last = asset.last_new
    age = (now - last.at).total_seconds() if last is not None else None
    if asset.fail_seconds is None or asset.warn_seconds is None:
        state = NO_SLA
    elif age is None or age >= asset.fail_seconds:
        state = STALE
    elif age >= asset.warn_seconds:
        state = WARN
    else:
        state = RECOVERED if previous in (WARN, STALE) else FRESH
    return Freshness(
        asset=asset.key,
        state=state,
        age_seconds=age,
        warn_seconds=asset.warn_seconds,
        fail_seconds=asset.fail_seconds,
        last_new_at=last.at if last is not None else None,
        last_run_id=last.run_id if last is not None else None,
    )


def unknown(asset: str, before: Freshness | None = None) -> Freshness:
    """What the bot knows when the engine does not answer: the SLA, not the state."""
    return Freshness(
        asset=asset,
        state=UNKNOWN,
        age_seconds=None,
        warn_seconds=before.warn_seconds if before else None,
        fail_seconds=before.fail_seconds if before else None,
        last_new_at=before.last_new_at if before else None,
    )
