"""Render a template into Block Kit blocks plus a plain-text fallback.

A template's output text is the notification/fallback text; the blocks are whatever the template
added with the builder calls (`header`, `section`, `context`, `divider`, `actions`, `button`).
Operators restyle the bot by pointing TEMPLATES_DIR at their own copies: files there win over the
bundled ones, name by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from bot.messages.blocks import MAX_FALLBACK_TEXT, Block, BlockCollector, button, clip

BUNDLED_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@dataclass(frozen=True)
class Rendered:
    """A message ready for chat.postMessage / ack / response_url."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def _ago(value: datetime | None, now: datetime | None = None) -> str:
    """'3m ago' style age of a timestamp."""
    if value is None:
        return "never"
    now = now or datetime.now(value.tzinfo)
    seconds = int((now - value).total_seconds())
    return _duration(seconds) + " ago"


def _duration(seconds: float | int | None) -> str:
    if seconds is None:
        return "n/a"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60}s" if seconds < 600 else f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def escape_mrkdwn(value: object) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup, for text people typed."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


class TemplateRenderer:
    """Loads templates once; each render gets a fresh block collector."""

    def __init__(self, override_dir: Path | None = None) -> None:
        self.override_dir = override_dir
        loaders: list[jinja2.BaseLoader] = []
        if override_dir is not None:
            loaders.append(jinja2.FileSystemLoader(str(override_dir)))
        loaders.append(jinja2.FileSystemLoader(str(BUNDLED_TEMPLATES)))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            extensions=["jinja2.ext.do"],
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # Slack mrkdwn, not HTML
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            # Templates are read once; an operator restarts the bot after restyling.
            auto_reload=False,
        )
        self.env.filters.update(
            esc=escape_mrkdwn, ago=_ago, duration=_duration, pct=_pct, clip=clip, tojson=json.dumps
        )
        self.env.globals.update(button=button)

    def names(self) -> list[str]:
        """Message templates: not the `_` macro libraries, nothing in a folder (like samples/)."""
        return sorted(n for n in self.all_files() if not n.startswith("_"))

    def all_files(self) -> list[str]:
        """Every `.j2` file at the top of either folder, macro libraries included."""
        return sorted(n for n in self.env.list_templates() if n.endswith(".j2") and "/" not in n)

    def is_bundled(self, name: str) -> bool:
        return (BUNDLED_TEMPLATES / name).is_file()

    def path_of(self, name: str) -> Path:
        """The file a name resolves to: the operator's copy when there is one."""
        if self.override_dir is not None and (self.override_dir / name).is_file():
            return self.override_dir / name
        return BUNDLED_TEMPLATES / name

    def render(self, name: str, **context: Any) -> Rendered:
        template = self.env.get_template(name if name.endswith(".j2") else f"{name}.j2")
        collector = BlockCollector()
        builders = {
            "header": collector.header,
            "section": collector.section,
            "long_section": collector.long_section,
            "context": collector.context,
            "divider": collector.divider,
            "actions": collector.actions,
            "text_input": collector.text_input,
        }
        text = template.render(**builders, **context).strip()
        return Rendered(text=clip(text, MAX_FALLBACK_TEXT) or " ", blocks=collector.finish())
