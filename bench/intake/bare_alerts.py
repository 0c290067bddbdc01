"""The plainest alert intake: the baseline for bench/alerts.py.

One bare Starlette route that checks the bearer token, parses the Alertmanager JSON with
`json.loads` and stores every alert's latest state in `incident_alerts` (one upsert per alert,
one transaction per notification, on a worker thread), under a single placeholder incident: no
grouping, no incidents opened, no timeline, no Slack. Served as the bot serves itself (uvicorn
with httptools on uvloop, no access log, no lifespan), on a database the project's migrations
created, through the project's engine settings (`bot.db.Database`).

    python bench/intake/bare_alerts.py --port 3301 --database-url sqlite:///path/oncall.db

Environment: ALERT_WEBHOOK_TOKEN (the bearer token to accept).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.db import Database  # noqa: E402
from bot.db.migrate import upgrade_to_head  # noqa: E402
from bot.incidents.models import Incident, IncidentAlert  # noqa: E402

PLACEHOLDER_INCIDENT = 1


def _when(value: str | None) -> datetime | None:
    if not value or value.startswith("0001-"):
        return None
    return datetime.fromisoformat(value)


def _fingerprint(alert: dict[str, Any]) -> str:
    if alert.get("fingerprint"):
        return str(alert["fingerprint"])[:64]
    labels = sorted((alert.get("labels") or {}).items())
    return hashlib.sha256(repr(labels).encode()).hexdigest()[:16]


def build(db: Database, token: str) -> Starlette:
    table = IncidentAlert.__table__
    expected = f"Bearer {token}".encode()

    upsert = (postgresql_insert if db.is_postgres else sqlite_insert)(table)
    upsert = upsert.on_conflict_do_update(
        index_elements=["incident_id", "fingerprint"],
        set_={
            "status": upsert.excluded.status,
            "ends_at": upsert.excluded.ends_at,
            "last_seen": upsert.excluded.last_seen,
        },
    )

    def store(rows: list[dict[str, Any]]) -> None:
        with db.engine.begin() as conn:
            for row in rows:
                conn.execute(upsert, row)

    async def intake(request: Request) -> Response:
        header = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(header, expected):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            payload = json.loads(await request.body())
            alerts = payload["alerts"]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "not an Alertmanager notification"}, status_code=400)
        now = datetime.now(UTC)
        rows = [
            {
                "incident_id": PLACEHOLDER_INCIDENT,
                "fingerprint": _fingerprint(a),
                "alertname": str((a.get("labels") or {}).get("alertname", ""))[:200],
                "status": str(a.get("status", "firing")),
                "labels": a.get("labels") or {},
                "annotations": a.get("annotations") or {},
                "starts_at": _when(a.get("startsAt")) or now,
                "ends_at": _when(a.get("endsAt")),
                "first_seen": now,
                "last_seen": now,
            }
            for a in alerts
        ]
        await asyncio.to_thread(store, rows)
        return JSONResponse({"stored": len(rows)})

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/alerts/alertmanager", intake, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def prepare(url: str) -> Database:
    """The migrated database with the one incident every stored alert belongs to."""
    upgrade_to_head(url)
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(
            insert(Incident.__table__),
            {
                "id": PLACEHOLDER_INCIDENT,
                "number": 0,
                "title": "bare intake baseline",
                "severity": "SEV3",
                "status": "investigating",
                "group_key": "bench",
            },
        )
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    db = prepare(args.database_url)
    uvicorn.run(
        build(db, os.environ["ALERT_WEBHOOK_TOKEN"]),
        host=args.host,
        port=args.port,
        http="httptools",
        loop="uvloop",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
