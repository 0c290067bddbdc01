from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from bot.messages import TemplateRenderer
from bot.runbook import (
    AlreadyConfirmedError,
    ConfirmDeniedError,
    RunbookEngine,
    RunbookInputError,
    RunError,
    RunNotFoundError,
    RunState,
    RunStateError,
    RunStatus,
    StepStatus,
)
from bot.runbook import service as runs
from tests.runbook.fakes import FakeActions, RecordingReporter


def said(error: BaseException) -> str:
    """What the person who clicked reads for a refused confirm or cancel."""
    assert isinstance(error, RunError)
    return TemplateRenderer().render("run_not_waiting", kind=error.kind, **error.facts).text


def statuses(state: RunState) -> dict[str, str]:
    return {s.step_id: s.status.value for s in state.steps}


async def start_deploy(engine: RunbookEngine, **params: str) -> RunState:
    state = await engine.start(
        "deploy", {"version": "iris_classifier_v2", **params}, actor="U1", channel="C1"
    )
    return await engine.wait(state.id)


async def test_deploy_pauses_for_confirmation_then_succeeds(
    engine: RunbookEngine, fakes: FakeActions, reporter: RecordingReporter
) -> None:
    started = await engine.start(
        "deploy", {"version": "v2", "reason": "better recall"}, actor="U1", channel="C1"
    )
    assert started.status is RunStatus.PENDING
    assert started.params == {
        "version": 2,
        "reason": "better recall",
        "require_gate": False,
        "force": False,
    }

    waiting = await engine.wait(started.id)
    assert waiting.status is RunStatus.WAITING_CONFIRMATION
    assert waiting.step("preflight").status is StepStatus.SUCCEEDED
    confirm = waiting.step("confirm")
    assert confirm.status is StepStatus.WAITING_CONFIRMATION
    assert confirm.summary == "Promote v2 to production (currently v1)?"
    assert fakes.names() == ["deploy.acquire_lock", "model.preflight"]

    await engine.confirm(started.id, "confirm", "U2")
    done = await engine.wait(started.id)

    assert done.status is RunStatus.SUCCEEDED
    assert done.finished_at is not None
    assert fakes.names() == [
        "deploy.acquire_lock",
        "model.preflight",
        "model.set_production",
        "serving.wait_for_version",
        "serving.smoke_test",
        "deploy.record",
        "deploy.release_lock",
    ]
    assert done.step("confirm").confirmed_by == "U2"
    assert all(s.status is StepStatus.SUCCEEDED for s in done.main_steps)
    assert all(s.status is StepStatus.SKIPPED for s in done.rollback_steps)
    # Outputs flow into later arguments, keeping their native types.
    record = next(c for c in fakes.calls if c.action == "deploy.record")
    assert record.args == {
        "from_version": 1,
        "to_version": 2,
        "outcome": "succeeded",
        "reason": "better recall",
    }
    lock = next(c for c in fakes.calls if c.action == "deploy.acquire_lock")
    assert lock.args == {} and lock.run_id == started.id  # the lock is held by the run
    assert lock.confirmed_by is None  # ctx.confirmed_by is about the step's own confirmation
    assert done.step("confirm").outputs == {"confirmed_by": "U2"}
    assert done.step("smoke").outputs == {"latency_ms": 12.5}
    assert done.step("smoke").summary == "serving.smoke_test ok"

    # The reporter saw the run evolve, and the checklist message ts was stored on the run.
    seen = [s.status for s in reporter.states]
    assert seen[0] is RunStatus.RUNNING
    assert RunStatus.WAITING_CONFIRMATION in seen
    assert seen[-1] is RunStatus.SUCCEEDED
    assert any(s.step("smoke").status is StepStatus.RUNNING for s in reporter.states)
    assert done.message_ts == f"ts-{started.id}"
    assert all(s.message_ts == done.message_ts for s in reporter.states[1:])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "missing required parameter `version`"),
        ({"version": "2", "colour": "blue"}, "unknown parameter `colour`"),
        ({"version": "latest"}, "`version` must be a model version"),
    ],
)
async def test_start_rejects_bad_params(
    engine: RunbookEngine, db, params: dict[str, str], message: str
) -> None:
    with pytest.raises(RunbookInputError, match=message):
        await engine.start("deploy", params, actor="U1")
    with db.session() as session:
        assert runs.list_runs(session=session) == []


async def test_start_unknown_runbook(engine: RunbookEngine) -> None:
    with pytest.raises(RunbookInputError, match="unknown runbook `deploi`"):
        await engine.start("deploi", {}, actor="U1")


async def test_get_unknown_run(engine: RunbookEngine) -> None:
    with pytest.raises(RunNotFoundError):
        engine.get(999)


async def test_cancel_while_waiting(engine: RunbookEngine, fakes: FakeActions) -> None:
    waiting = await start_deploy(engine)
    cancelled = await engine.cancel(waiting.id, "U3")
    assert cancelled.status is RunStatus.CANCELLED
    assert cancelled.cancelled_by == "U3"
    assert cancelled.step("confirm").status is StepStatus.CANCELLED
    assert cancelled.step("promote").status is StepStatus.SKIPPED
    with pytest.raises(RunStateError) as refused:
        await engine.confirm(waiting.id, "confirm", "U2")
    assert "already cancelled" in said(refused.value)
    with pytest.raises(RunStateError):
        await engine.cancel(waiting.id, "U3")
    assert fakes.names() == ["deploy.acquire_lock", "model.preflight"]


async def test_cancel_while_a_step_runs_stops_at_the_step_boundary(
    engine: RunbookEngine, fakes: FakeActions, reporter: RecordingReporter
) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    fakes.block["serving.smoke_test"] = (started, release)
    state = await engine.start("abc", {"value": "x"}, actor="U1")
    await started.wait()

    requested = await engine.cancel(state.id, "U3")
    assert requested.status is RunStatus.RUNNING  # the action in flight is not interrupted
    assert requested.cancelled_by == "U3"
    assert reporter.states[-1].cancelled_by == "U3"  # the checklist shows the request at once

    release.set()
    done = await engine.wait(state.id)
    assert done.status is RunStatus.CANCELLED
    assert statuses(done) == {"a": "succeeded", "b": "succeeded", "c": "skipped"}
    assert fakes.count("test.echo") == 0


async def test_arguments_see_parameters_earlier_outputs_and_the_run(
    engine: RunbookEngine, fakes: FakeActions
) -> None:
    state = await engine.start("abc", {"value": "x"}, actor="U1")
    assert (await engine.wait(state.id)).status is RunStatus.SUCCEEDED
    echo = next(c for c in fakes.calls if c.action == "test.echo")
    assert echo.args == {"value": "x-1", "extra": f"run-{state.id}"}


async def test_stop_on_failure(engine: RunbookEngine, fakes: FakeActions) -> None:
    fakes.fail["model.preflight"] = "v2 did not pass validation"
    done = await start_deploy(engine)
    assert done.status is RunStatus.FAILED
    assert done.error == "Preflight checks: v2 did not pass validation"
    assert done.step("preflight").error == "v2 did not pass validation"
    assert done.step("confirm").status is StepStatus.SKIPPED
    assert fakes.names() == ["deploy.acquire_lock", "model.preflight"]


async def test_continue_on_failure(engine: RunbookEngine, fakes: FakeActions) -> None:
    fakes.fail["deploy.record"] = "audit store unavailable"
    waiting = await start_deploy(engine)
    await engine.confirm(waiting.id, "confirm", "U2")
    done = await engine.wait(waiting.id)
    assert done.status is RunStatus.SUCCEEDED
    assert done.step("record").status is StepStatus.FAILED
    assert done.step("unlock").status is StepStatus.SUCCEEDED


async def test_rollback_on_failure(engine: RunbookEngine, fakes: FakeActions) -> None:
    fakes.fail["serving.smoke_test"] = "predicted setosa for a virginica"
    waiting = await start_deploy(engine)
    await engine.confirm(waiting.id, "confirm", "U2")
    done = await engine.wait(waiting.id)

    assert done.status is RunStatus.ROLLED_BACK
    assert done.error == "Smoke test production: predicted setosa for a virginica"
    assert statuses(done) == {
        "lock": "succeeded",
        "preflight": "succeeded",
        "confirm": "succeeded",
        "promote": "succeeded",
        "wait_serving": "succeeded",
        "smoke": "failed",
        "record": "skipped",
        "unlock": "skipped",
        "restore": "succeeded",
        "wait_restored": "succeeded",
        "record_rollback": "succeeded",
        "unlock_after_rollback": "succeeded",
    }
    productions = [c.args["version"] for c in fakes.calls if c.action == "model.set_production"]
    assert productions == [2, 1]  # promoted, then restored to the preflight's from_version
    record = next(c for c in fakes.calls if c.action == "deploy.record")
    assert record.args["outcome"] == "reverted"
    assert record.args["reason"] == done.error


async def test_rollback_skips_restore_when_nothing_was_in_production(
    engine: RunbookEngine, fakes: FakeActions
) -> None:
    fakes.outputs["model.preflight"] = {"from_version": None, "to_version": 2}
    fakes.fail["serving.wait_for_version"] = "model server still serves nothing"
    waiting = await start_deploy(engine)
    assert waiting.step("confirm").summary == "Promote v2 to production (currently nothing)?"
    await engine.confirm(waiting.id, "confirm", "U2")
    done = await engine.wait(waiting.id)
    assert done.status is RunStatus.ROLLED_BACK
    assert done.step("restore").status is StepStatus.SKIPPED
    assert done.step("wait_restored").status is StepStatus.SKIPPED
    assert [c.args["version"] for c in fakes.calls if c.action == "model.set_production"] == [2]


async def test_failing_rollback_step_ends_rollback_failed(
    engine: RunbookEngine, fakes: FakeActions
) -> None:
    # rollback.md: the target fails its smoke test and putting back the old version fails too.
    fakes.fail["serving.smoke_test"] = "wrong answers"
    fakes.fail["serving.wait_for_version"] = "model server unreachable"
    state = await engine.start("rollback", {}, actor="U1")
    await engine.wait(state.id)
    await engine.confirm(state.id, "confirm", "U2")
    done = await engine.wait(state.id)
    # wait_serving fails first (on_failure: rollback); the rollback's wait fails (continue).
    assert done.status is RunStatus.ROLLBACK_FAILED
    assert done.step("wait_serving").status is StepStatus.FAILED
    assert done.step("restore").status is StepStatus.SUCCEEDED
    assert done.step("wait_restored").status is StepStatus.FAILED
    assert done.step("unlock_after_rollback").status is StepStatus.SUCCEEDED
    resolve = next(c for c in fakes.calls if c.action == "model.resolve_rollback_target")
    assert resolve.args == {"version": None}  # empty optional version stays None, not "None"


async def test_double_confirm_runs_the_step_once(engine: RunbookEngine, fakes: FakeActions) -> None:
    waiting = await start_deploy(engine)
    results = await asyncio.gather(
        engine.confirm(waiting.id, "confirm", "U2"),
        engine.confirm(waiting.id, "confirm", "U3"),
        return_exceptions=True,
    )
    assert isinstance(results[0], RunState)
    assert isinstance(results[1], AlreadyConfirmedError)
    assert "already confirmed by U2" in said(results[1])
    done = await engine.wait(waiting.id)
    assert done.status is RunStatus.SUCCEEDED
    assert fakes.count("deploy.acquire_lock") == 1
    assert fakes.count("model.set_production") == 1
    with pytest.raises(AlreadyConfirmedError):
        await engine.confirm(waiting.id, "confirm", "U2")


async def test_confirm_wrong_step_or_not_waiting(engine: RunbookEngine) -> None:
    waiting = await start_deploy(engine)
    with pytest.raises(RunStateError) as refused:
        await engine.confirm(waiting.id, "promote", "U2")
    assert "not waiting" in said(refused.value)
    with pytest.raises(RunStateError) as refused:
        await engine.confirm(waiting.id, "nope", "U2")
    assert "no step 'nope'" in said(refused.value)


async def test_authorize_callback(engine: RunbookEngine, fakes: FakeActions) -> None:
    waiting = await start_deploy(engine)
    seen: list[tuple[int, str]] = []

    def deny(state: RunState, user: str) -> bool:
        seen.append((state.id, user))
        return False

    with pytest.raises(ConfirmDeniedError):
        await engine.confirm(waiting.id, "confirm", "U9", authorize=deny)
    assert seen == [(waiting.id, "U9")]
    assert engine.get(waiting.id).status is RunStatus.WAITING_CONFIRMATION

    async def allow(state: RunState, user: str) -> bool:
        return user == "U2"

    await engine.confirm(waiting.id, "confirm", "U2", authorize=allow)
    assert (await engine.wait(waiting.id)).status is RunStatus.SUCCEEDED


async def test_unexpected_exception_fails_the_step_cleanly(
    engine: RunbookEngine, fakes: FakeActions, caplog: pytest.LogCaptureFixture
) -> None:
    fakes.crash.add("model.preflight")
    with caplog.at_level(logging.ERROR, logger="bot.runbook"):
        done = await start_deploy(engine)
    assert done.status is RunStatus.FAILED
    error = done.step("preflight").error or ""
    assert error == "unexpected error (RuntimeError); details are in the bot log"
    assert "hunter2" not in error
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)


async def test_not_ok_result_fails_with_its_summary(
    engine: RunbookEngine, fakes: FakeActions
) -> None:
    fakes.not_ok.add("model.preflight")
    done = await start_deploy(engine)
    assert done.step("preflight").error == "model.preflight said no"


async def test_undefined_output_fails_the_step(engine: RunbookEngine, fakes: FakeActions) -> None:
    fakes.outputs["model.preflight"] = {}  # no from_version for step c's template
    state = await engine.start("abc", {"value": "x"}, actor="U1")
    done = await engine.wait(state.id)
    assert done.status is RunStatus.FAILED
    assert "could not render the arguments" in (done.step("c").error or "")
    assert "from_version" in (done.step("c").error or "")


async def test_step_timeout(
    make_engine: Callable[..., RunbookEngine], runbooks, fakes: FakeActions
) -> None:
    fakes.block["serving.smoke_test"] = (asyncio.Event(), asyncio.Event())  # never released
    abc = runbooks["abc"]
    steps = [s.model_copy(update={"timeout_seconds": 0.01}) for s in abc.steps]
    engine = make_engine(runbooks={"abc": abc.model_copy(update={"steps": steps})})
    state = await engine.start("abc", {"value": "x"}, actor="U1")
    done = await engine.wait(state.id, timeout=5)
    assert done.status is RunStatus.FAILED
    assert done.step("b").error == "timed out after 0.01s"


async def test_reporter_failure_does_not_break_the_run(
    make_engine: Callable[..., RunbookEngine], fakes: FakeActions
) -> None:
    broken = RecordingReporter(fail=True)
    engine = make_engine(reporter=broken)
    state = await engine.start("abc", {"value": "x"}, actor="U1")
    done = await engine.wait(state.id)
    assert done.status is RunStatus.SUCCEEDED
    assert done.message_ts is None
    assert len(broken.states) >= 4
    assert fakes.calls[-1].args["value"] == "x-1"


async def test_list_runs_by_status(engine: RunbookEngine, db) -> None:
    waiting = await start_deploy(engine)
    done = await engine.wait((await engine.start("abc", {"value": "x"}, actor="U1")).id)
    with db.session() as session:
        assert [r.id for r in runs.list_runs(session=session)] == [done.id, waiting.id]
        only = runs.list_runs(session=session, status=RunStatus.WAITING_CONFIRMATION)
        assert [r.id for r in only] == [waiting.id]
        assert [r.id for r in runs.incomplete_runs(session=session)] == [waiting.id]
