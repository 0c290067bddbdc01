from __future__ import annotations

from bot.runbook import RunbookEngine, RunStatus, build_checklist, checklist_text
from tests.runbook.fakes import FakeActions


async def test_checklist_while_waiting(engine: RunbookEngine) -> None:
    state = await engine.wait((await engine.start("deploy", {"version": "2"}, actor="U1")).id)
    view = build_checklist(state)
    assert view.status_label == "Waiting for confirmation"
    assert view.marker == "waiting"
    assert [i.marker for i in view.items[:4]] == ["done", "done", "waiting", "todo"]
    assert view.items[2].is_current
    assert view.rollback_items == []
    assert view.confirmation is not None
    assert view.confirmation.step_id == "confirm"
    assert view.confirmation.prompt == "Promote v2 to production (currently v1)?"
    assert view.params == [
        ("version", "2"),
        ("reason", ""),
        ("require_gate", "no"),
        ("force", "no"),
    ]
    assert view.progress == "2/8"
    text = checklist_text(view)
    assert (
        text.splitlines()[0] == "Deploy a validated model (run #1): Waiting for confirmation [2/8]"
    )
    assert "[waiting] Confirm the deploy: Promote v2 to production (currently v1)?" in text


async def test_checklist_after_rollback(engine: RunbookEngine, fakes: FakeActions) -> None:
    fakes.fail["serving.smoke_test"] = "bad answers"
    state = await engine.wait((await engine.start("deploy", {"version": "2"}, actor="U1")).id)
    await engine.confirm(state.id, "confirm", "U2")
    done = await engine.wait(state.id)
    assert done.status is RunStatus.ROLLED_BACK
    view = build_checklist(done)
    assert view.status_label == "Rolled back"
    assert view.finished
    assert view.confirmation is None
    assert [i.marker for i in view.items] == [
        "done",
        "done",
        "done",
        "done",
        "done",
        "failed",
        "skipped",
        "skipped",
    ]
    assert [i.marker for i in view.rollback_items] == ["done"] * 4
    assert view.items[2].confirmed_by == "U2"
    assert view.items[5].error == "bad answers"
    assert not any(i.is_current for i in view.items)
    assert all(i.duration_seconds is not None for i in view.rollback_items)
    assert "Rollback:" in checklist_text(view)
    assert "Reason: Smoke test production: bad answers" in checklist_text(view)


async def test_checklist_hides_unused_rollback(engine: RunbookEngine) -> None:
    state = await engine.wait((await engine.start("abc", {"value": "x"}, actor="U1")).id)
    view = build_checklist(state)
    assert view.status_label == "Succeeded"
    assert view.rollback_items == []
    assert view.progress == "3/3"
