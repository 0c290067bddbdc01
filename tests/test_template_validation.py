"""Every template is rendered with sample data at start-up and held to Slack's Block Kit rules."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.app import BotApp
from bot.messages import (
    TemplateError,
    TemplateRenderer,
    check_templates,
    require_valid_templates,
    validate_blocks,
)
from bot.messages.blocks import MAX_BLOCKS, button
from bot.messages.check import MISSING_SAMPLE, check_template
from bot.messages.samples import known_templates, load_samples, samples_for
from bot.messages.validate import validate_text
from tests.harness import make_settings

CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("SLACK_", "ONCALL_", "DATABASE_", "PORT", "TEMPLATES_DIR"))
}


def _problems(override: Path) -> list[str]:
    return [str(p) for p in check_templates(TemplateRenderer(override))]


# --- the bundled templates ------------------------------------------------------------------------


def test_every_bundled_template_passes() -> None:
    assert _problems(Path("/nonexistent")) == []


def test_every_bundled_message_template_has_samples() -> None:
    renderer = TemplateRenderer()
    names = [n for n in renderer.names() if "." not in n.removesuffix(".j2")]
    assert names and set(names) <= known_templates()


def test_long_samples_are_cut_or_split_within_limits() -> None:
    renderer = TemplateRenderer()
    cases = [("runbook_run", "600 steps"), ("audit", "2,000 records"), ("status", "60 sections")]
    for name, label in cases:
        sample = next(s for s in samples_for(name) or [] if s.label == label)
        rendered = renderer.render(name, **sample.context)
        assert validate_blocks(rendered.blocks) == [], (name, label)
        sections = [b for b in rendered.blocks if b["type"] == "section"]
        assert len(sections) > 3  # split over several blocks, not cut to one
    # Too many sections for one message: cut at 50 blocks, the last one saying so.
    assert len(rendered.blocks) == MAX_BLOCKS
    assert "shortened" in rendered.blocks[-1]["elements"][0]["text"]
    sample = next(s for s in samples_for("registry_unavailable") or [] if "10,000" in s.label)
    rendered = renderer.render("registry_unavailable", **sample.context)
    assert len(sample.context["problem"]) == 10_000
    assert validate_blocks(rendered.blocks) == [] and validate_text(rendered.text) == []


# --- operator overrides ---------------------------------------------------------------------------


def test_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "mention.j2").write_text('{% do section("hi") %}\n{% do section("x" }}\nHi')
    assert _problems(tmp_path) == [f"{tmp_path}/mention.j2:2: unexpected '}}', expected ')'"]


def test_syntax_error_in_a_macro_library_names_the_library(tmp_path: Path) -> None:
    (tmp_path / "_runbook.j2").write_text("{% macro headline(run) %}\n{{ run.id }\n{% endmacro %}")
    problems = _problems(tmp_path)
    assert problems and all(p.startswith(f"{tmp_path}/_runbook.j2:2: ") for p in problems)


def test_undefined_variable_names_the_file_line_and_variable(tmp_path: Path) -> None:
    (tmp_path / "mention.j2").write_text('{% do section("hi") %}\nHi {{ user.name }}')
    [problem] = _problems(tmp_path)
    assert problem.startswith(f"{tmp_path}/mention.j2:2: ")
    assert "'user' is undefined" in problem


def test_override_of_a_known_name_uses_its_sample(tmp_path: Path) -> None:
    (tmp_path / "working.j2").write_text('{% do context("Busy: " ~ text) %}{{ slash }} {{ text }}')
    assert _problems(tmp_path) == []


def test_sixty_sections_are_truncated_by_the_collector_and_pass(tmp_path: Path) -> None:
    (tmp_path / "mention.j2").write_text(
        '{% for i in range(60) %}{% do section("line " ~ i) %}{% endfor %}Hi'
    )
    assert _problems(tmp_path) == []
    rendered = TemplateRenderer(tmp_path).render("mention", slash="/iris")
    assert len(rendered.blocks) == MAX_BLOCKS
    assert "shortened" in rendered.blocks[-1]["elements"][0]["text"]


def test_empty_fallback_text_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "mention.j2").write_text('{% do section("hi") %}')
    [problem] = _problems(tmp_path)
    assert problem.startswith(f"{tmp_path}/mention.j2: fallback text is empty")


def test_duplicate_buttons_are_a_problem(tmp_path: Path) -> None:
    (tmp_path / "mention.j2").write_text(
        '{% do actions(button("A", "x.go")) %}{% do actions(button("B", "x.go")) %}'
        '{% do actions(button("C", "x.stop"), block_id="b") %}'
        '{% do actions(button("D", "x.more"), block_id="b") %}Hi'
    )
    problems = _problems(tmp_path)
    assert any("action_id 'x.go' is used twice" in p for p in problems)
    assert any("block 3 (actions): block_id 'b' is used twice" in p for p in problems)


def test_a_template_without_samples_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "shiny_new.j2").write_text('{% do section("new") %}New')
    renderer = TemplateRenderer(tmp_path)
    # An operator's extra file the bot never renders is only a warning...
    assert check_templates(renderer) == []
    assert "shiny_new.j2" in caplog.text
    # ...but a bundled template without samples stops start-up.
    renderer.is_bundled = lambda name: True  # type: ignore[method-assign]
    problems = [str(p) for p in check_templates(renderer)]
    assert problems == [f"{tmp_path}/shiny_new.j2: {MISSING_SAMPLE}"]
    assert [str(p) for p in check_template(TemplateRenderer(), "nope.j2")] == [
        f"templates/nope.j2: {MISSING_SAMPLE}"
    ]


def test_document_templates_without_samples_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "status_page.html.j2").write_text("<p>{{ nothing_provides_this }}</p>")
    (tmp_path / "postmortem.md.j2").write_text("# {{ incident.ref }}")
    assert _problems(tmp_path) == []


def test_sample_folder_is_not_a_template(tmp_path: Path) -> None:
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "mention.j2").write_text("{{ broken")
    renderer = TemplateRenderer(tmp_path)
    assert not any("/" in n for n in renderer.names())
    assert check_templates(renderer) == []


# --- validate_blocks: raw blocks the collector would never produce ---------------------------------


def _section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_validate_blocks_accepts_what_the_collector_builds() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Title"}},
        _section("hello"),
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "small"}]},
        {"type": "actions", "block_id": "a", "elements": [button("Go", "x.go", "1", "primary")]},
    ]
    assert validate_blocks(blocks) == []


def test_validate_blocks_reports_each_raw_violation() -> None:
    blocks = [_section("x")] * 7 + [
        _section("y" * 3412),
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}},
        {"type": "header", "text": {"type": "mrkdwn", "text": "*h*"}},
        {"type": "table"},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11},
        {"type": "actions", "elements": [button(f"b{i}", f"a{i}") for i in range(26)]},
        {
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b" * 76}}],
        },
        {"type": "section"},
    ]
    problems = validate_blocks(blocks)
    expected = [
        "block 7 (section): text is 3,412 characters, the limit is 3,000",
        "block 8 (header): text is 151 characters, the limit is 150",
        "block 9 (header): text must be plain_text, not mrkdwn",
        "block 10: unknown block type 'table'",
        "block 11 (section): 11 fields, the limit is 10",
        "block 12 (section): field 0 is 2,001 characters, the limit is 2,000",
        "block 13 (context): 11 elements, the limit is 10",
        "block 14 (actions): 26 elements, the limit is 25",
        "block 15 (actions) element 0: button has no action_id",
        "block 15 (actions) element 0: button text is 76 characters, the limit is 75",
        "block 16 (section): needs text or fields",
    ]
    for line in expected:
        assert any(p.startswith(line) for p in problems), (line, problems)
    assert len(problems) == len(expected)


def test_validate_blocks_counts_blocks() -> None:
    assert validate_blocks([_section("x")] * 51) == ["51 blocks, the limit is 50"]
    assert validate_blocks("nope") == ["blocks must be a list"]


def test_fallback_text_limits() -> None:
    assert validate_text("  ") == ["fallback text is empty"]
    assert validate_text("x" * 40_001) == [
        "fallback text is 40,001 characters, the limit is 40,000"
    ]
    assert validate_text("fine") == []


# --- start-up ---------------------------------------------------------------------------------------


def test_build_refuses_broken_templates(tmp_path: Path) -> None:
    broken = tmp_path / "tpl"
    broken.mkdir()
    (broken / "stale_button.j2").write_text("{{ what_is_this }}")
    settings = make_settings(tmp_path, templates_dir=broken)
    with pytest.raises(TemplateError, match=r"stale_button\.j2:1: 'what_is_this' is undefined"):
        BotApp.build(settings, migrate=False)
    with pytest.raises(TemplateError):
        require_valid_templates(TemplateRenderer(broken))


def test_cli_run_exits_2_with_the_file_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "tpl"
    broken.mkdir()
    (broken / "help.j2").write_text('{% do header("Help") %}\n{% do section("x" }}\nHelp')
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--no-shell"],
        env={**CLEAN_ENV, "TEMPLATES_DIR": str(broken)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"oncall-bot: template error: {broken}/help.j2:2: unexpected '}}', expected ')'"
    ]


# --- sample files ----------------------------------------------------------------------------------


def test_sample_files_build_objects_enums_durations_and_long_lists(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(
        "- label: one\n"
        "  context:\n"
        "    run: !obj {id: 42, status: !enum rolled_back}\n"
        "    quiet: !timedelta 90\n"
        "    rows: !repeat {times: 5, items: [a, b]}\n"
    )
    [sample] = load_samples(path)
    run = sample.context["run"]
    assert run.id == 42 and run.status == "rolled_back" and run.status.value == "rolled_back"
    assert sample.context["quiet"] == timedelta(seconds=90)
    assert sample.context["rows"] == ["a", "b", "a", "b", "a"]
    path.write_text("- label: no context\n")
    with pytest.raises(ValueError, match="entry 0 needs a `label` and a `context`"):
        load_samples(path)
    path.write_text("- !!python/object:os.system {}\n")
    with pytest.raises(yaml.YAMLError):
        load_samples(path)
