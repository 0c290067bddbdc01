"""What a stakeholder update says besides the timeline: the next steps and what was done.

Pure functions of an incident's view, shared by the update and resolution messages and the
commander reminder.
"""

from __future__ import annotations

import re

from bot.incidents.models import EventView, IncidentView

# "Next: ..." (or "Next steps: ...") in a human update, to the end of the text.
_NEXT = re.compile(r"^\s*next(?:\s+steps?)?\s*:\s*(?P<rest>.*)", re.IGNORECASE | re.MULTILINE)
# Timeline lines that are actions taken on the model or data (not talk about them).
ACTION_KINDS = frozenset({"run_finished", "rollback_started", "retrain_started"})


def last_human_update(incident: IncidentView) -> EventView | None:
    """The latest `/iris incident update` (or update modal) someone sent."""
    return next((e for e in reversed(incident.events) if e.kind == "update" and e.actor), None)


def next_steps(incident: IncidentView) -> str | None:
    """The "Next:" part of the latest human update, if it has one that says something."""
    update = last_human_update(incident)
    if update is None:
        return None
    matches = list(_NEXT.finditer(update.text))
    if not matches:
        return None
    rest = update.text[matches[-1].start("rest") :].strip()  # the last "Next:" wins
    return rest or None


def actions_taken(incident: IncidentView, limit: int = 10) -> list[EventView]:
    """Runbook runs that ended, rollbacks and retrains started: what was done about it."""
    return [e for e in incident.events if e.kind in ACTION_KINDS][-limit:]
