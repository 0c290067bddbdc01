"""Storage on both databases: migrations, the audit trail, and the production lock."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import inspect

from bot.audit import service as audit
from bot.db import Database
from bot.db.migrate import upgrade_to_head
from bot.deploy import service as deploy
from bot.runbook.models import RunbookRun


def _run(db: Database, status: str = "running") -> int:
    with db.session() as session:
        run = RunbookRun(runbook_id="deploy", actor="U1", status=status, params={})
        session.add(run)
        session.flush()
        return run.id


def test_migrations_create_every_table_and_are_repeatable(db: Database, db_url: str) -> None:
    upgrade_to_head(db_url)  # a second start changes nothing
    tables = set(inspect(db.engine).get_table_names())
    assert {
        "audit_records",
        "runbook_runs",
        "runbook_steps",
        "deploy_records",
        "deploy_locks",
        "served_predictions",
    } <= tables


def test_audit_records_round_trip(db: Database) -> None:
    with db.connection() as conn:
        first = audit.record(
            conn,
            actor="U1",
            action="deploy",
            arguments="deploy v2",
            channel="C1",
            result="accepted",
        )
        audit.record(conn, actor="U2", action="status", result="ok")
    with db.connection() as conn:
        audit.complete(conn, record_id=first, result="ok", detail="deployed")
    with db.session() as session:
        entries = audit.recent(session, limit=10)
        mine = audit.recent(session, actor="U1")
    assert [e.action for e in entries] == ["status", "deploy"]
    assert (mine[0].result, mine[0].detail) == ("ok", "deployed")


def test_the_lock_is_exclusive_until_its_run_ends(db: Database) -> None:
    first, second = _run(db), _run(db)
    with db.session() as session:
        deploy.acquire_lock(
            session, run_id=first, holder="U1", purpose="deploy run #1", ttl_seconds=600
        )
    with db.session() as session, pytest.raises(deploy.LockHeld) as held:
        deploy.acquire_lock(
            session, run_id=second, holder="U2", purpose="rollback run #2", ttl_seconds=600
        )
    assert held.value.lock.holder == "U1" and held.value.lock.acquired_at is not None
    with db.session() as session:  # taking it again for the same run is a no-op (idempotent step)
        deploy.acquire_lock(
            session, run_id=first, holder="U1", purpose="deploy run #1", ttl_seconds=600
        )
    with db.session() as session:
        session.get(RunbookRun, first).status = "failed"  # type: ignore[union-attr]
    with db.session() as session:  # a finished run's lock is free: a crash never wedges deploys
        assert deploy.current_lock(session) is None
        deploy.acquire_lock(
            session, run_id=second, holder="U2", purpose="rollback run #2", ttl_seconds=600
        )
    with db.session() as session:
        assert deploy.release_lock(session, run_id=second)
        assert not deploy.release_lock(session, run_id=second)
        assert deploy.current_lock(session) is None


def test_an_expired_lock_is_free(db: Database) -> None:
    first, second = _run(db), _run(db)
    with db.session() as session:
        deploy.acquire_lock(session, run_id=first, holder="U1", purpose="stuck", ttl_seconds=-1)
    with db.session() as session:
        deploy.acquire_lock(session, run_id=second, holder="U2", purpose="next", ttl_seconds=600)


def test_two_processes_racing_for_the_lock_get_it_once(db: Database, db_url: str) -> None:
    """Two Database objects (as two bot processes would have) race from many threads."""
    runs = [_run(db) for _ in range(8)]
    others = [Database(db_url), Database(db_url)]
    winners: list[int] = []
    barrier = threading.Barrier(len(runs))

    def attempt(i: int, run_id: int) -> None:
        barrier.wait()
        try:
            with others[i % 2].session() as session:
                deploy.acquire_lock(
                    session, run_id=run_id, holder=f"U{i}", purpose="race", ttl_seconds=600
                )
            winners.append(run_id)
        except deploy.LockHeld:
            pass

    threads = [threading.Thread(target=attempt, args=(i, r)) for i, r in enumerate(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for other in others:
        other.dispose()
    assert len(winners) == 1


def test_deploy_history_and_previous_production(db: Database) -> None:
    with db.session() as session:
        deploy.record_deploy(
            session,
            kind="deploy",
            actor="U1",
            from_version=1,
            to_version=2,
            outcome="succeeded",
            run_id=1,
        )
        deploy.record_deploy(
            session,
            kind="deploy",
            actor="U1",
            from_version=1,
            to_version=2,
            outcome="succeeded",
            run_id=1,
        )
        deploy.record_deploy(
            session,
            kind="deploy",
            actor="U1",
            from_version=2,
            to_version=3,
            outcome="reverted",
            run_id=2,
        )
    with db.session() as session:
        assert (
            len(deploy.history(session)) == 2
        )  # the repeated record (a resumed step) is not duplicated
        assert deploy.previous_production(session, current=2) == 1
        assert deploy.previous_production(session, current=3) is None
