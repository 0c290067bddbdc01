from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.db import Database
from bot.runbook import RunbookEngine, load_runbooks, parse_runbook
from bot.runbook.schema import Runbook
from tests.runbook.fakes import FakeActions, RecordingReporter, fake_actions

REPO = Path(__file__).resolve().parents[2]
# The engine tests run their own copies of the deploy/rollback runbooks (with fake actions), so
# they keep testing the engine when the shipped runbooks change; test_bundled checks those.
RUNBOOKS_DIR = Path(__file__).with_name("fixtures")

# A small runbook for engine mechanics: a -> b -> c, outputs flowing from a to c.
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
    args: {value: "{{ value }}-{{ steps.a.from_version }}"}
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
    books = load_runbooks(RUNBOOKS_DIR, actions=fakes.registry)
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
            "extras": {"service": "fake"},
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
