"""Applying one Alertmanager notification to the incidents: the hot path of alert intake.

One transaction of a few Core statements per notification. The common case in a storm (the same
group re-sent every `repeat_interval`, or retried) reads two indexed rows and writes nothing. The
rules that make delivery idempotent:

- an alert is identified by (fingerprint, startsAt): Alertmanager gives a re-fired alert a new
  startsAt, so a firing notice with a startsAt we already saw resolved is a stale retry;
- a group with no open incident opens one only for firing alerts never seen before, so the
  repeat of an alert whose incident someone already resolved opens nothing;
- two deliveries racing to open the same group collide on the unique `open_key` (and on the
  unique `number`), and the loser's caller retries the whole transaction, which then sees the
  winner's incident.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from bot.alerts.payload import AlertIn, AlertmanagerPayload, severity_of
from bot.incidents.models import Incident, IncidentAlert, IncidentEvent, IncidentStatus, aware

_INC = Incident.__table__
_ALERT = IncidentAlert.__table__
_EVENT = IncidentEvent.__table__

# A re-delivery refreshes `last_seen` at most this often, so repeats stay read-only.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


class RunbookChooser(Protocol):
    def __call__(self, alertname: str, labels: dict[str, str]) -> str | None: ...


@dataclass
class Applied:
    """What one notification did: `outcome` is opened | updated | unchanged | ignored."""

    outcome: str
    incident_id: int | None = None
    number: int | None = None
    reason: str = ""
    changes: dict[str, list[str]] = field(default_factory=dict)


def open_key(group_key: str) -> str:
    """The unique key of a group's open incident (a hash: group keys can be long)."""
    return hashlib.sha256(group_key.encode()).hexdigest()


def _alert_row(alert: AlertIn, incident_id: int, now: datetime) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "fingerprint": alert.key(),
        "alertname": alert.alertname[:200],
        "status": alert.status,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "first_seen": now,
        "last_seen": now,
    }


def _title(payload: AlertmanagerPayload, firing: list[AlertIn]) -> str:
    summary = payload.common_annotations.get("summary") or firing[0].annotations.get("summary")
    if summary:
        return summary[:200]
    return ", ".join(sorted({a.alertname for a in firing}))[:200]


def _severity(alerts: list[AlertIn]) -> str:
    return min(severity_of(a.labels) for a in alerts)


def apply_notification(
    conn: Connection,
    *,
    payload: AlertmanagerPayload,
    now: datetime,
    model: str,
    choose_runbook: RunbookChooser,
) -> Applied:
    """Apply one notification inside the caller's transaction (IntegrityError: retry it)."""
    key = open_key(payload.group_key)
    row = conn.execute(
        select(_INC.c.id, _INC.c.number, _INC.c.status, _INC.c.severity).where(
            _INC.c.open_key == key
        )
    ).first()
    if row is None:
        return _open(conn, payload=payload, key=key, now=now, model=model, choose=choose_runbook)
    return _update(conn, row=row, payload=payload, now=now)


def _open(
    conn: Connection,
    *,
    payload: AlertmanagerPayload,
    key: str,
    now: datetime,
    model: str,
    choose: RunbookChooser,
) -> Applied:
    firing = payload.firing
    if not firing:
        return Applied("ignored", reason="resolved alerts of a group with no open incident")
    keys = {a.key() for a in firing}
    seen = {
        (fp, aware(starts))
        for fp, starts in conn.execute(
            select(_ALERT.c.fingerprint, _ALERT.c.starts_at).where(_ALERT.c.fingerprint.in_(keys))
        )
    }
    if all((a.key(), a.starts_at) in seen for a in firing):
        return Applied("ignored", reason="these alerts already had an incident")
    number = conn.execute(select(func.coalesce(func.max(_INC.c.number), 0) + 1)).scalar_one()
    first = firing[0]
    runbook = first.labels.get("runbook") or choose(first.alertname, first.labels)
    model_name = first.labels.get("model") or payload.common_labels.get("model") or model
    incident_id = conn.execute(
        insert(_INC)
        .values(
            number=number,
            title=_title(payload, firing),
            severity=_severity(firing),
            status=IncidentStatus.INVESTIGATING.value,
            group_key=payload.group_key,
            open_key=key,
            created_at=now,
            updated_at=now,
            model=model_name[:128],
            runbook_id=runbook[:64] if runbook else None,
            last_alert_at=now,
            published_event_id=0,
            summary="",
        )
        .returning(_INC.c.id)
    ).scalar_one()
    by_key = {a.key(): a for a in payload.alerts}  # the last word on each fingerprint wins
    conn.execute(insert(_ALERT), [_alert_row(a, incident_id, now) for a in by_key.values()])
    names = sorted({a.alertname for a in firing})
    conn.execute(
        insert(_EVENT).values(
            incident_id=incident_id,
            kind="opened",
            text="",
            actor=None,
            at=now,
            data={"alertnames": names, "receiver": payload.receiver},
        )
    )
    return Applied("opened", incident_id, number, changes={"new": names})


def _update(conn: Connection, *, row: Any, payload: AlertmanagerPayload, now: datetime) -> Applied:
    incident_id, number, status, severity = row
    stored = {
        r.fingerprint: r
        for r in conn.execute(
            select(
                _ALERT.c.id,
                _ALERT.c.fingerprint,
                _ALERT.c.status,
                _ALERT.c.starts_at,
                _ALERT.c.last_seen,
            ).where(_ALERT.c.incident_id == incident_id)
        )
    }
    statuses = {fp: r.status for fp, r in stored.items()}
    new: list[AlertIn] = []
    resolved: list[str] = []
    refired: list[str] = []
    changed: list[dict[str, Any]] = []
    stale_seen: list[int] = []
    for alert in {a.key(): a for a in payload.alerts}.values():
        fp = alert.key()
        old = stored.get(fp)
        if old is None:
            if alert.status == "firing":
                new.append(alert)
                statuses[fp] = "firing"
            continue
        old_start = aware(old.starts_at)
        if alert.status == old.status and alert.starts_at == old_start:
            if aware(old.last_seen) < now - LAST_SEEN_RESOLUTION:  # type: ignore[operator]
                stale_seen.append(old.id)
            continue
        if old_start is not None and alert.starts_at < old_start:
            continue  # an older notification, retried after a newer one
        if alert.status == "firing":
            if old.status == "resolved" and alert.starts_at == old_start:
                continue  # a stale retry of the firing notice of an alert that has resolved
            refired.append(alert.alertname)
        elif old.status == "firing":
            resolved.append(alert.alertname)
        statuses[fp] = alert.status
        changed.append(
            {
                "b_id": old.id,
                "status": alert.status,
                "starts_at": alert.starts_at,
                "ends_at": alert.ends_at,
                "annotations": alert.annotations,
                "last_seen": now,
            }
        )
    if stale_seen:
        conn.execute(update(_ALERT).where(_ALERT.c.id.in_(stale_seen)).values(last_seen=now))
    if not new and not changed:
        return Applied("unchanged", incident_id, number)

    if new:
        conn.execute(insert(_ALERT), [_alert_row(a, incident_id, now) for a in new])
    if changed:
        conn.execute(
            update(_ALERT)
            .where(_ALERT.c.id == bindparam("b_id"))
            .values(
                status=bindparam("status"),
                starts_at=bindparam("starts_at"),
                ends_at=bindparam("ends_at"),
                annotations=bindparam("annotations"),
                last_seen=bindparam("last_seen"),
            ),
            changed,
        )
    changes = {
        "new": sorted({a.alertname for a in new}),
        "resolved": sorted(set(resolved)),
        "refired": sorted(set(refired)),
    }
    changes = {k: v for k, v in changes.items() if v}
    events: list[dict[str, Any]] = []
    if changes:
        events.append({"kind": "alerts_changed", "data": changes})
    any_firing = any(s == "firing" for s in statuses.values())
    new_status = status
    if status == IncidentStatus.MONITORING and (new or refired):
        new_status = IncidentStatus.INVESTIGATING.value
        events.append({"kind": "reopened", "data": {}})
    elif status != IncidentStatus.MONITORING and not any_firing:
        new_status = IncidentStatus.MONITORING.value
        events.append({"kind": "monitoring", "data": {}})
    values: dict[str, Any] = {"updated_at": now, "last_alert_at": now}
    if new_status != status:
        # Only a change: rewriting the status read above would undo a person's status change
        # (or resolution) committed since that read.
        values["status"] = new_status
    firing_new = [a for a in new if a.status == "firing"]
    if firing_new:
        values["severity"] = min(severity, _severity(firing_new))
    # The incident row before its events, as in service.add_event: see the comment there.
    conn.execute(update(_INC).where(_INC.c.id == incident_id).values(**values))
    if events:
        conn.execute(
            insert(_EVENT),
            [
                {"incident_id": incident_id, "text": "", "actor": None, "at": now, **e}
                for e in events
            ],
        )
    outcome = "updated" if events or new_status != status else "unchanged"
    return Applied(outcome, incident_id, number, changes=changes)
