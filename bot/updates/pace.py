"""How long a minute of the update cadence lasts.

One minute, always, except while a game day drill compresses waiting (`--speed N`): then the
update clock, the slots it names and the commander reminders all run on a shorter minute, so a
SEV1's half-hourly updates come every 30 s at speed 60 through the very same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

MINUTE = timedelta(minutes=1)


@dataclass
class UpdatePace:
    minute: timedelta = field(default=MINUTE)

    def minutes(self, count: float) -> timedelta:
        return self.minute * count

    def count(self, span: timedelta) -> int:
        """Whole cadence minutes in `span` (an interval the clock stored)."""
        return int(round(span / self.minute))
