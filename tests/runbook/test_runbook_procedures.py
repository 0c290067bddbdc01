"""Each shipped runbook says its procedure twice: the YAML steps the bot runs and the Markdown
table people read on GitHub. They must name the same steps, in the same order, with the same
actions and failure policies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.runbook.loader import split_front_matter

RUNBOOKS = sorted((Path(__file__).resolve().parents[2] / "runbooks").glob("*.md"))
HEADER = ["#", "Step", "Action", "What happens", "If it fails"]
# What the "If it fails" cell starts with for each on_failure policy; `rollback` reads as the
# undo the runbook describes below the table ("Roll back.", "Undo (below).", ...).
FAILURE_WORDS = {"stop": "Stop", "continue": "Continue"}


def procedure_table(body: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table under `## Procedure`, header first."""
    section = re.split(r"^## Procedure\s*$", body, maxsplit=1, flags=re.M)
    assert len(section) == 2, "no `## Procedure` section"
    rows: list[list[str]] = []
    for line in section[1].splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows or line.startswith("#"):
            break
    return [row for row in rows if not set("".join(row)) <= set("-: ")]


@pytest.mark.parametrize("path", RUNBOOKS, ids=[p.stem for p in RUNBOOKS])
def test_procedure_table_matches_the_steps(path: Path) -> None:
    front, body, _ = split_front_matter(path.read_text(encoding="utf-8"))
    steps = yaml.safe_load(front)["steps"]
    header, *rows = procedure_table(body)
    hint = f"{path.name}: keep the `## Procedure` table in step with the YAML steps"
    assert header == HEADER, f"{hint}; its columns are {' | '.join(HEADER)}"
    expected = [
        [str(i), s.get("title") or s["id"], f"`{s['action']}`"] for i, s in enumerate(steps, 1)
    ]
    assert [row[:3] for row in rows] == expected, f"{hint} (number, title, action per step)"
    for step, row in zip(steps, rows, strict=True):
        policy = step.get("on_failure", "stop")
        starts = {word: row[4].startswith(word) for word in FAILURE_WORDS.values()}
        if policy in FAILURE_WORDS:
            assert starts[FAILURE_WORDS[policy]], f"{hint}: step {row[0]} is on_failure {policy}"
        else:
            assert not any(starts.values()), f"{hint}: step {row[0]} is on_failure {policy}"


def test_a_table_out_of_step_is_caught() -> None:
    body = "## Procedure\n\n| # | Step |\n|---|---|\n| 1 | One |\n| 2 | Two |\n\n## After\n| x |\n"
    assert procedure_table(body) == [["#", "Step"], ["1", "One"], ["2", "Two"]]
