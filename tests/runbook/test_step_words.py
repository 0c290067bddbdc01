"""A step's line comes from a template named by its action, rendered when the step ends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.messages import TemplateRenderer
from bot.runbook import (
    ActionContext,
    ActionFailed,
    ActionResult,
    RunbookEngine,
    RunStatus,
    parse_runbook,
)
from tests.runbook.fakes import FakeActions

WORDS = """---
id: words
title: Words
steps:
  - id: lock
    title: Take the lock
    action: test.lock
  - id: smoke
    title: Smoke test
    action: test.smoke
---
# Words
"""


def _register(fakes: FakeActions) -> None:
    async def lock(ctx: ActionContext) -> ActionResult:
        return ActionResult(
            template="deploy_step",
            facts={"kind": "lock_taken", "purpose": f"words run #{ctx.run_id}"},
            outputs={"holder": ctx.actor},
        )

    async def smoke(ctx: ActionContext) -> ActionResult:
        raise ActionFailed(
            template="deploy_step", facts={"kind": "smoke_failed", "problems": ["slow", "wrong"]}
        )

    fakes.registry.register("test.lock", lock)
    fakes.registry.register("test.smoke", smoke)


async def _run(engine: RunbookEngine) -> object:
    state = await engine.start("words", {}, actor="U1")
    return await engine.wait(state.id)


async def test_result_and_failure_lines_are_rendered_and_stored(
    make_engine: Callable[..., RunbookEngine], fakes: FakeActions, runbooks: dict
) -> None:
    _register(fakes)
    runbooks["words"] = parse_runbook(WORDS, path="words.md", actions=fakes.registry)
    done = await _run(make_engine())
    assert done.status is RunStatus.FAILED
    lock, smoke = done.main_steps
    assert lock.summary == f"lock taken for words run #{done.id}"
    assert lock.outputs == {"holder": "U1"}
    assert smoke.error == "smoke test failed: slow; wrong"
    assert done.error == "Smoke test: smoke test failed: slow; wrong"


async def test_an_operators_template_words_the_steps(
    make_engine: Callable[..., RunbookEngine],
    fakes: FakeActions,
    runbooks: dict,
    tmp_path: Path,
) -> None:
    _register(fakes)
    runbooks["words"] = parse_runbook(WORDS, path="words.md", actions=fakes.registry)
    (tmp_path / "deploy_step.j2").write_text(
        '{% if kind == "lock_taken" %}verrou pris{% else %}échec : {{ problems | join(", ") }}'
        "{% endif %}"
    )
    (tmp_path / "runbook_step.j2").write_text("{{ title }} — {{ error }}")
    done = await _run(make_engine(renderer=TemplateRenderer(tmp_path)))
    assert [s.summary for s in done.main_steps][:1] == ["verrou pris"]
    assert done.main_steps[1].error == "échec : slow, wrong"
    assert done.error == "Smoke test — échec : slow, wrong"


async def test_a_broken_template_still_ends_the_step(
    make_engine: Callable[..., RunbookEngine],
    fakes: FakeActions,
    runbooks: dict,
    tmp_path: Path,
) -> None:
    _register(fakes)
    runbooks["words"] = parse_runbook(WORDS, path="words.md", actions=fakes.registry)
    (tmp_path / "deploy_step.j2").write_text("{{ no_such_fact }}")
    done = await _run(make_engine(renderer=TemplateRenderer(tmp_path)))
    assert done.status is RunStatus.FAILED
    assert done.main_steps[0].summary == "deploy_step: lock_taken"
    assert done.main_steps[1].error == "deploy_step: smoke_failed"
