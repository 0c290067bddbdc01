"""Start-up says what it is doing: `make run` runs `oncall-bot migrate` and
`oncall-bot bootstrap` before `oncall-bot run`; none of them is silent while it works."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.cli import main
from bot.startup import FIRST_START, Progress


def test_migrate_says_what_it_does_and_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "var"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ONCALL_DATA_DIR", str(data))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["migrate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"oncall-bot: applying database migrations in {data}…"
    assert lines[-1] == "database is up to date"


def test_local_start_up_steps_are_numbered_and_timed() -> None:
    out = io.StringIO()
    progress = Progress(2, out=out)
    progress.note(FIRST_START)
    with progress.step("database migrations"):
        pass
    progress.begin("model server: loading the production model")
    progress.end()
    progress.finished()
    lines = out.getvalue().splitlines()
    assert "The first start trains and registers two models (about a minute)" in lines[0]
    assert lines[1] == "oncall-bot: [1/2] database migrations…"
    assert lines[2].startswith("oncall-bot: [1/2] done in ") and lines[2].endswith(" s")
    assert lines[3] == "oncall-bot: [2/2] model server: loading the production model…"
    assert lines[-1].startswith("oncall-bot: ready in ")
