"""Daily partition keys (`YYYY-MM-DD`): parsing a range a person typed, expanding one."""

from __future__ import annotations

from datetime import date, timedelta


def parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def expand(start: str, end: str) -> list[str]:
    """Every day from start to end, both included; [] when they are not days."""
    first, last = parse_day(start), parse_day(end)
    if first is None or last is None or last < first:
        return []
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
