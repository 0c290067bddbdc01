"""Templates render Block Kit within Slack's limits, and an operator's copies override ours."""

from __future__ import annotations

from pathlib import Path

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
