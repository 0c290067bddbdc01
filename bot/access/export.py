"""`/iris access audit`: the grants and the access audit records since a time, as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

from sqlalchemy.engine import Connection

from bot.access import service

COLUMNS = [
    "id",
    "user_id",
    "resource",
    "level",
    "reason",
    "requested_by",
    "approved_by",
    "denied_by",
    "deny_reason",
    "state",
    "break_glass",
    "incident_id",
    "requested_at",
    "granted_at",
    "until",
    "ended_at",
    "end_reason",
    "drift",
    "policy_version",
]
EVENT_COLUMNS = ["at", "actor", "action", "arguments", "result", "detail"]


def export_grants(conn: Connection, *, since: datetime, fmt: str, now: datetime) -> tuple[str, str]:
    """(content, file name): JSON holds grants and events; CSV the grants, then the events."""
    grants = service.since(conn, since=since)
    events = service.audit_since(conn, since=since)
    stamp = now.strftime("%Y%m%d-%H%M")
    if fmt == "json":
        body = {
            "since": since.isoformat(),
            "grants": [g.as_row() for g in grants],
            "events": events,
        }
        return json.dumps(body, indent=2, sort_keys=True), f"access-audit-{stamp}.json"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for grant in grants:
        writer.writerow(grant.as_row())
    out.write("\n")
    events_writer = csv.DictWriter(out, fieldnames=EVENT_COLUMNS)
    events_writer.writeheader()
    for event in events:
        events_writer.writerow(event)
    return out.getvalue(), f"access-audit-{stamp}.csv"
