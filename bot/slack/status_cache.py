"""What `/iris status` keeps between asks: status is what people (and dashboards) ask most, so its
rendered answer is reused for a second and its health facts for a couple of seconds."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.messages import Rendered


@dataclass
class StatusCache:
    answer_at: float = float("-inf")
    answer: Rendered | None = None
    health_at: float = float("-inf")
    health: dict[str, object] = field(default_factory=dict)
