"""The benchmarks' own parts: tables from migrations, honest wording, a baseline that stores.

Nothing here is timed; the benchmarks measure, these tests only check what they are built from.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select

from bench import ack_latency
from bench.alerts import storm
from bench.intake import bare_alerts
from bot.incidents.models import IncidentAlert

REPO = Path(__file__).resolve().parents[1]
BENCH_SCRIPTS = sorted((REPO / "bench").rglob("*.py"))


def _code(path: Path) -> str:
    return path.read_text()


@pytest.mark.parametrize("path", BENCH_SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_benchmarks_create_tables_through_the_migrations(path: Path) -> None:
    code = _code(path)
    assert "create_all(" not in code, f"{path.name}: use bot.db.migrate.upgrade_to_head"
    assert not re.search(r"\bCREATE\s+TABLE\b", code, re.I), f"{path.name}: hand-written DDL"
    if re.search(r"\bDatabase\(|sqlite3\.connect\(", code):
        # A benchmark that opens a database itself also brings it to the latest migration.
        assert "upgrade_to_head" in code, f"{path.name} opens a database it did not migrate"


# Words that would describe how the project was made rather than what it is.
_HISTORY = re.compile(
    r"\bintegrat" + r"or\b|\bsub-?agent\b|\bcoding agent\b|\bhelper session\b|\bissue #?\d+\b",
    re.I,
)


def test_the_project_speaks_only_of_itself() -> None:
    files = [REPO / "README.md", REPO / "Makefile"]
    for folder in ("bot", "tests", "bench", "scripts", "templates", "runbooks", "deploy"):
        files.extend(p for p in (REPO / folder).rglob("*") if p.is_file())
    found = []
    for path in files:
        if path.suffix in {".pyc", ".db", ".png"} or "__pycache__" in path.parts:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if _HISTORY.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("row", ["bot-status", "bot-deny"])
def test_ack_bench_signs_each_rows_own_command(row: str) -> None:
    scenario = ack_latency.SCENARIOS[row]
    pool = ack_latency.signed_pool(3, api_url="http://127.0.0.1:1/api", scenario=scenario)
    verifier = SignatureVerifier(ack_latency.SIGNING_SECRET)
    assert len({body for _, _, body in pool}) == 3
    for timestamp, signature, body in pool:
        assert verifier.is_valid(body, timestamp, signature)
        form = {k: v[0] for k, v in parse_qs(body).items()}
        assert (form["user_id"], form["text"]) == (scenario.user_id, scenario.text)


def test_the_deny_row_is_sent_by_someone_without_a_role() -> None:
    deny = ack_latency.SCENARIOS["bot-deny"]
    assert deny.user_id != ack_latency.USER_ID
    assert deny.text.split()[0] == "deploy"


async def test_bare_alert_intake_stores_each_alerts_latest_state(db_url: str) -> None:
    db = bare_alerts.prepare(db_url)
    try:
        bodies = storm(200, 5)
        transport = httpx.ASGITransport(app=bare_alerts.build(db, "tok"))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            url = "/alerts/alertmanager"
            headers = {"Authorization": "Bearer tok", "Content-Type": "application/json"}
            assert (await client.post(url, content=bodies[0])).status_code == 401
            assert (await client.post(url, content=b"{", headers=headers)).status_code == 400
            for body in bodies:
                response = await client.post(url, content=body, headers=headers)
                assert response.status_code == 200
                assert response.json() == {"stored": len(json.loads(body)["alerts"])}
        with db.engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(IncidentAlert)).scalar_one()
            statuses = set(conn.execute(select(IncidentAlert.status)).scalars())
        assert rows == 5 * 3  # every distinct alert once, in its latest state
        assert statuses == {"resolved"}
    finally:
        db.dispose()
