"""Templates render Block Kit within Slack's limits, an operator's copies override ours, and one
environment renders messages and documents (escaping HTML only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pytest

from bot.messages import TemplateRenderer
from bot.messages.blocks import MAX_BLOCKS, MAX_SECTION_TEXT, BlockCollector


def test_collector_caps_blocks_and_marks_the_cut() -> None:
    collector = BlockCollector()
    for i in range(200):
        collector.section(f"line {i}")
    blocks = collector.finish()
    assert len(blocks) == MAX_BLOCKS
    assert "shortened" in blocks[-1]["elements"][0]["text"]


def test_long_text_is_cut_or_split_never_over_the_limit() -> None:
    collector = BlockCollector()
    collector.section("x" * 10_000)
    collector.long_section("\n".join("y" * 100 for _ in range(100)))
    blocks = collector.finish()
    assert all(len(b["text"]["text"]) <= MAX_SECTION_TEXT for b in blocks)
    assert len(blocks) > 2  # the long section was split, not cut


def test_operator_override_wins(tmp_path: Path) -> None:
    (tmp_path / "mention.j2").write_text('{% do section("Custom hello") %}Custom hello')
    rendered = TemplateRenderer(tmp_path).render("mention", slash="/iris")
    assert rendered.text == "Custom hello"
    assert rendered.blocks[0]["text"]["text"] == "Custom hello"
    # Everything not overridden still comes from the bundled templates.
    assert (
        "Something went wrong"
        in TemplateRenderer(tmp_path)
        .render("error", slash="/iris", command=None, error_id="x")
        .text
    )


def test_one_environment_escapes_html_documents_only(tmp_path: Path) -> None:
    typed = "<b>dropped</b> & more"
    (tmp_path / "page.html.j2").write_text("<p>{{ title }}</p>")
    (tmp_path / "note.md.j2").write_text("# {{ title }}")
    (tmp_path / "shout.j2").write_text("{% do section(title | esc) %}{{ title }}")
    renderer = TemplateRenderer(tmp_path)
    assert renderer.render_document("page.html.j2", title=typed) == (
        "<p>&lt;b&gt;dropped&lt;/b&gt; &amp; more</p>\n"
    )
    assert renderer.render_document("note.md.j2", title=typed) == f"# {typed}\n"
    rendered = renderer.render("shout", title=typed)
    assert rendered.text == typed  # the fallback text is not HTML
    assert rendered.blocks[0]["text"]["text"] == "&lt;b&gt;dropped&lt;/b&gt; &amp; more"


def test_documents_are_strict_about_undefined_names(tmp_path: Path) -> None:
    (tmp_path / "page.html.j2").write_text("<p>{{ page.titel }}</p>")
    with pytest.raises(jinja2.UndefinedError):
        TemplateRenderer(tmp_path).render_document("page.html.j2", page=SimpleNamespace(title="x"))


def test_postmortem_draft_renders_with_nothing_but_the_incident() -> None:
    opened = datetime(2024, 5, 14, 9, 5, tzinfo=UTC)
    incident = SimpleNamespace(
        ref="INC-3",
        title="Accuracy <below> floor",
        severity="SEV2",
        status="resolved",
        created_at=opened,
        resolved_at=opened + timedelta(minutes=95),
        declared=False,
        alertnames=["ModelAccuracyBelowFloor"],
        commander=None,
        participants=[],
        model=None,
        summary="",
        impact="",
        events=[
            SimpleNamespace(
                at=opened,
                kind="alerts_changed",
                actor=None,
                text="",
                data={"added": ["ModelAccuracyBelowFloor"]},
            )
        ],
    )
    facts = SimpleNamespace(
        incident=incident,
        generated_at=opened + timedelta(hours=2),
        opened_version=None,
        resolved_version=None,
        deploys=[],
        deploys_error=None,
        monitor=None,
        runs=[],
    )
    draft = TemplateRenderer().render_document("postmortem.md.j2", facts=facts, i=incident)
    assert draft.startswith("# INC-3 postmortem (draft): Accuracy <below> floor\n")
    assert draft.endswith("edit it before sharing._\n")
    for expected in (
        "| Opened | 2024-05-14 09:05:00 UTC (by alerts: ModelAccuracyBelowFloor) |",
        "| Duration | 1h 35m |",
        "| Commander | nobody |",
        "**Alerts changed** — added: ModelAccuracyBelowFloor",
        "- In production when it opened: unknown",
        "No monitor snapshot was available.",
        "- No runbook runs were linked to this incident.",
    ):
        assert expected in draft, (expected, draft)
