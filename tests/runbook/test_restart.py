"""A restarted bot resumes runs from the step they were on, without re-running finished steps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.db import Database
from bot.runbook import RunbookEngine, RunStatus, StepStatus
from bot.runbook import service as runs
from bot.runbook.schema import Runbook, Step
from tests.runbook.fakes import RecordingReporter, fake_actions


async def test_resume_a_run_interrupted_mid_step(
    make_engine: Callable[..., RunbookEngine], db_url: str, runbooks: dict[str, Runbook]
) -> None:
    before = fake_actions()
    started, release = asyncio.Event(), asyncio.Event()
    before.block["serving.smoke_test"] = (started, release)
    first = make_engine(actions=before.registry)
    state = await first.start("abc", {"value": "x"}, actor="U1")
    await started.wait()
    await first.aclose()  # the process dies while step b runs

    stuck = first.get(state.id)
    assert stuck.status is RunStatus.RUNNING
    assert [s.status for s in stuck.steps] == [
        StepStatus.SUCCEEDED,
        StepStatus.RUNNING,
        StepStatus.PENDING,
    ]

    after = fake_actions()
    reporter = RecordingReporter()
    second = make_engine(db=Database(db_url), actions=after.registry, reporter=reporter)
    assert await second.resume_incomplete() == [state.id]
    done = await second.wait(state.id)

    assert done.status is RunStatus.SUCCEEDED
    assert before.names() == ["model.preflight", "serving.smoke_test"]
    # Step a is not re-run; b is (actions are idempotent); c still sees a's persisted outputs.
    assert after.names() == ["serving.smoke_test", "test.echo"]
    assert after.calls[-1].args["value"] == "x-1"
    # The new process keeps editing the same checklist message.
    assert all(s.message_ts == f"ts-{state.id}" for s in reporter.states)


async def test_resume_a_persisted_run_at_step_2(
    make_engine: Callable[..., RunbookEngine], db: Database, runbooks: dict[str, Runbook]
) -> None:
    with db.session() as session:
        run = runs.create_run(
            session=session, runbook=runbooks["abc"], params={"value": "y"}, actor="U1"
        )
        runs.set_run_status(session=session, run=run, status=RunStatus.RUNNING)
        for index, outputs in ((0, {"from_version": 7}), (1, {})):
            runs.mark_step_running(session=session, run=run, index=index)
            runs.mark_step_succeeded(
                session=session, run=run, index=index, summary="done", outputs=outputs
            )
        runs.advance(session=session, run=run, to_index=2)
        runs.mark_step_running(session=session, run=run, index=2)
        run_id = run.id

    fakes = fake_actions()
    engine = make_engine(actions=fakes.registry)
    assert await engine.resume_incomplete() == [run_id]
    done = await engine.wait(run_id)
    assert done.status is RunStatus.SUCCEEDED
    assert fakes.names() == ["test.echo"]
    assert fakes.calls[0].args == {"value": "y-7", "extra": f"run-{run_id}"}


async def test_waiting_runs_stay_waiting_and_accept_the_click_after_restart(
    make_engine: Callable[..., RunbookEngine], db_url: str
) -> None:
    before = fake_actions()
    first = make_engine(actions=before.registry)
    state = await first.start("deploy", {"version": "2"}, actor="U1")
    assert (await first.wait(state.id)).status is RunStatus.WAITING_CONFIRMATION
    await first.aclose()

    after = fake_actions()
    second = make_engine(db=Database(db_url), actions=after.registry)
    assert await second.resume_incomplete() == []
    assert second.get(state.id).status is RunStatus.WAITING_CONFIRMATION

    await second.confirm(state.id, "confirm", "U2")
    done = await second.wait(state.id)
    assert done.status is RunStatus.SUCCEEDED
    assert before.names() == ["deploy.acquire_lock", "model.preflight"]
    assert "model.preflight" not in after.names()
    # from_version came from the preflight output persisted by the first process.
    record = next(c for c in after.calls if c.action == "deploy.record")
    assert record.args["from_version"] == 1


async def test_cancel_requested_before_a_crash_is_honoured(
    make_engine: Callable[..., RunbookEngine], db: Database, runbooks: dict[str, Runbook]
) -> None:
    with db.session() as session:
        run = runs.create_run(
            session=session, runbook=runbooks["abc"], params={"value": "y"}, actor="U1"
        )
        runs.set_run_status(session=session, run=run, status=RunStatus.RUNNING)
        runs.request_cancel(session=session, run=run, user="U3")
        run_id = run.id

    fakes = fake_actions()
    engine = make_engine(actions=fakes.registry)
    await engine.resume_incomplete()
    done = await engine.wait(run_id)
    assert done.status is RunStatus.CANCELLED
    assert fakes.names() == []


async def test_a_run_whose_runbook_changed_fails_instead_of_guessing(
    make_engine: Callable[..., RunbookEngine], db: Database, runbooks: dict[str, Runbook]
) -> None:
    with db.session() as session:
        run = runs.create_run(
            session=session, runbook=runbooks["abc"], params={"value": "y"}, actor="U1"
        )
        runs.set_run_status(session=session, run=run, status=RunStatus.RUNNING)
        run_id = run.id

    abc = runbooks["abc"]
    reshaped = abc.model_copy(update={"steps": [*abc.steps, Step(id="d", action="test.echo")]})
    fakes = fake_actions()
    engine = make_engine(runbooks={"abc": reshaped}, actions=fakes.registry)
    await engine.resume_incomplete()
    done = await engine.wait(run_id)
    assert done.status is RunStatus.FAILED
    assert "changed since this run started" in (done.error or "")
    assert fakes.names() == []
