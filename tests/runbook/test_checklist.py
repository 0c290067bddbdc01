from __future__ import annotations

import json

from bot.messages import TemplateRenderer
from bot.runbook import RunbookEngine, RunState, RunStatus, build_checklist
from tests.runbook.fakes import FakeActions


def shown(state: RunState, template: str = "runbook_run") -> str:
    """Everything the checklist message shows: its fallback text and its blocks."""
    message = TemplateRenderer().render(
        template, slash="/iris", run=state, view=build_checklist(state)
    )
    return message.text + "\n" + json.dumps(message.blocks, ensure_ascii=False)


async def test_checklist_while_waiting(engine: RunbookEngine) -> None:
    state = await engine.wait((await engine.start("deploy", {"version": "2"}, actor="U1")).id)
    view = build_checklist(state)
    assert view.status == "waiting_confirmation"
    assert view.marker == "waiting"
    assert [i.marker for i in view.items[:4]] == ["done", "done", "waiting", "todo"]
    assert view.items[2].is_current
    assert view.rollback_items == []
    assert view.confirmation is not None
    assert view.confirmation.step_id == "confirm"
    assert view.confirmation.prompt == "Promote v2 to production (currently v1)?"
    assert view.params == [
        ("version", 2),
        ("reason", ""),
        ("require_gate", False),
        ("force", False),
    ]
    assert view.progress == "2/8"
    text = shown(state)
    assert text.startswith("Deploy v1 → v2: Waiting for confirmation (2/8 steps)")
    # What the run was asked, in words: no `name=value` internals, no empty inputs.
    assert "Version: v2" in text
    assert "require_gate" not in text and "reason=" not in text and "force" not in text
    assert ":raised_hand: Promote v2 to production (currently v1)?" in text


async def test_checklist_after_rollback(engine: RunbookEngine, fakes: FakeActions) -> None:
    fakes.fail["serving.smoke_test"] = "bad answers"
    state = await engine.wait((await engine.start("deploy", {"version": "2"}, actor="U1")).id)
    await engine.confirm(state.id, "confirm", "U2")
    done = await engine.wait(state.id)
    assert done.status is RunStatus.ROLLED_BACK
    view = build_checklist(done)
    assert view.status == "rolled_back"
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
    assert shown(done).startswith("Deploy v1 → v2: Rolled back")
    assert "*Rolling back*" in shown(done)
    assert ":warning: Smoke test production: bad answers" in shown(done)
    assert "Why:* Smoke test production: bad answers" in shown(done, "runbook_done")


async def test_checklist_hides_unused_rollback(engine: RunbookEngine) -> None:
    state = await engine.wait((await engine.start("abc", {"value": "x"}, actor="U1")).id)
    view = build_checklist(state)
    assert view.status == "succeeded"
    assert view.rollback_items == []
    assert ": Succeeded (3/3 steps)" in shown(state)
    assert view.progress == "3/3"
