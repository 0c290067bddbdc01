"""Scenario files are checked at start like runbooks: a bad one names its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import BotApp
from bot.gameday.scenario import ScenarioError, load_scenarios, parse_scenario
from bot.gameday.wiring import BUNDLED_GAMEDAYS, gameday_kinds
from tests.harness import make_settings

KINDS = gameday_kinds()

GOOD = """---
id: demo
title: Demo
runbook: deploy
hypothesis: it holds
steady_state:
  - kind: bot_state
    check: deploy_lock_free
fault:
  kind: deploy.wrong_on_golden
detect:
  - kind: runbook_run
    runbook: deploy
    status: failed
---
# Demo
"""


def parse(text: str, name: str = "demo.md") -> object:
    return parse_scenario(text, path=Path(name), kinds=KINDS)


def test_the_bundled_scenarios_load_and_4_to_7_wait_for_their_runbooks() -> None:
    scenarios = load_scenarios(BUNDLED_GAMEDAYS, kinds=KINDS)
    ready = {s.id for s in scenarios.values() if s.waiting_for(KINDS) is None}
    waiting = {s.runbook for s in scenarios.values() if s.waiting_for(KINDS) is not None}
    assert {"deploy-smoke-rollback", "retrain-label-noise", "monitoring-drift"} <= ready
    assert {"monitoring-accuracy"} <= ready
    assert waiting == {"pipeline", "scaling", "data-quality", "access"}


def test_a_good_file_parses() -> None:
    scenario = parse(GOOD)
    assert scenario.fault.kind == "deploy.wrong_on_golden"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        (
            "  kind: deploy.wrong_on_golden",
            "  kind: deploy.wrong_on_gold",
            10,
            "unknown fault kind",
        ),
        ("  - kind: runbook_run", "  - kind: runbook_walk", 12, "unknown probe kind"),
        ("    check: deploy_lock_free", "    check: lock_free", 8, "is one of"),
        (
            "    status: failed",
            "    status: failed\n    colour: red",
            15,
            "unknown argument `colour`",
        ),
        ("runbook: deploy", "runbook: deploy\nowner: me", 5, "unknown key `owner`"),
        ("id: demo\n", "", 2, "missing `id`"),
        ("fault:\n  kind", "fault:\n  sample: x\n  kind", 10, "must be a int"),
    ],
)
def test_bad_files_name_the_file_and_the_line(old: str, new: str, line: int, words: str) -> None:
    assert old in GOOD
    with pytest.raises(ScenarioError) as caught:
        parse(GOOD.replace(old, new, 1))
    assert caught.value.line == line, str(caught.value)
    assert words in str(caught.value) and str(caught.value).startswith(f"demo.md:{line}:")


def test_a_scenario_waiting_for_its_runbook_may_name_a_fault_not_built_yet() -> None:
    text = GOOD.replace("runbook: deploy", "runbook: pipeline\nwaits_for: pipeline", 1).replace(
        "deploy.wrong_on_golden", "pipeline.broken_landing_file"
    )
    scenario = parse(text)
    assert scenario.waiting_for(KINDS) == "pipeline"  # type: ignore[attr-defined]


def test_a_bad_scenario_stops_start_up(tmp_path: Path) -> None:
    folder = tmp_path / "gamedays"
    folder.mkdir()
    (folder / "broken.md").write_text(GOOD.replace("deploy.wrong_on_golden", "nope"))
    with pytest.raises(ScenarioError, match=r"broken\.md:10: unknown fault kind `nope`"):
        BotApp.build(make_settings(tmp_path, gamedays_dir=folder))
