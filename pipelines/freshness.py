"""How old each asset may get before the bot warns and before it calls the data stale.

Declared here, beside the assets, and attached to each asset as metadata (`iris/warn_seconds`,
`iris/fail_seconds`), so the bot reads the SLA from Dagster and never keeps a second copy.
Age counts from the last materialization that brought new records: a run that succeeded but
wrote nothing new does not reset the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

HOUR = 3600


@dataclass(frozen=True)
class FreshnessSla:
    warn_seconds: int
    fail_seconds: int

    def metadata(self) -> dict[str, int]:
        return {"iris/warn_seconds": self.warn_seconds, "iris/fail_seconds": self.fail_seconds}


# The daily landing partition arrives once a day; two hours of slack before the warning.
LANDING = FreshnessSla(warn_seconds=26 * HOUR, fail_seconds=30 * HOUR)
VALIDATED = FreshnessSla(warn_seconds=26 * HOUR, fail_seconds=30 * HOUR)
TRAINING_SET = FreshnessSla(warn_seconds=50 * HOUR, fail_seconds=74 * HOUR)
SERVED_INPUTS = FreshnessSla(warn_seconds=2 * HOUR, fail_seconds=6 * HOUR)
MONITORING_WINDOW = FreshnessSla(warn_seconds=2 * HOUR, fail_seconds=6 * HOUR)
