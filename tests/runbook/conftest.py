from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.db import Database
from bot.runbook import RunbookEngine, load_runbook, parse_runbook
from bot.runbook.schema import Runbook
from tests.runbook.fakes import FakeActions, RecordingReporter, fake_actions

REPO = Path(__file__).resolve().parents[2]
# The engine runs the shipped deploy and rollback runbooks with fake actions (whose parameters
# test_bundled holds to the real ones), so these tests follow the runbooks people read.
SHIPPED_RUNBOOKS = [REPO / "runbooks" / "deploy.md", REPO / "runbooks" / "rollback.md"]

# A small runbook for engine mechanics no shipped runbook needs: a -> b -> c, a parameter, an
# earlier step's output and the run itself flowing into c's arguments.
ABC = """\
---
id: abc
title: A B C
parameters:
  value: {type: string, required: true}
steps:
  - id: a
    action: model.preflight
    args: {version: "2"}
  - id: b
    action: serving.smoke_test
  - id: c
    action: test.echo
    args: {value: "{{ value }}-{{ steps.a.from_version }}", extra: "run-{{ run.id }}"}
---
Body.
"""


@pytest.fixture
def fakes() -> FakeActions:
    return fake_actions()


@pytest.fixture
def reporter() -> RecordingReporter:
    return RecordingReporter()


@pytest.fixture
def runbooks(fakes: FakeActions) -> dict[str, Runbook]:
    books = {path.stem: load_runbook(path, actions=fakes.registry) for path in SHIPPED_RUNBOOKS}
    books["abc"] = parse_runbook(ABC, path="abc.md", actions=fakes.registry)
    return books


@pytest.fixture
async def make_engine(
    db: Database, runbooks: dict[str, Runbook], fakes: FakeActions, reporter: RecordingReporter
) -> AsyncIterator[Callable[..., RunbookEngine]]:
    engines: list[RunbookEngine] = []

    def factory(**overrides: object) -> RunbookEngine:
        kwargs: dict[str, object] = {
            "db": db,
            "runbooks": runbooks,
            "actions": fakes.registry,
            "reporter": reporter,
        }
        kwargs.update(overrides)
        engine = RunbookEngine(**kwargs)  # type: ignore[arg-type]
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        await engine.aclose()


@pytest.fixture
def engine(make_engine: Callable[..., RunbookEngine]) -> RunbookEngine:
    return make_engine()
