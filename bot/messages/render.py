"""Render a template into Block Kit blocks plus a plain-text fallback.

A template's output text is the notification/fallback text; the blocks are whatever the template
added with the builder calls (`header`, `section`, `context`, `divider`, `actions`, `button`).
Operators restyle the bot by pointing TEMPLATES_DIR at their own copies: files there win over the
bundled ones, name by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.messages.blocks import MAX_FALLBACK_TEXT, Block, BlockCollector, clip
from bot.messages.environment import BUNDLED_TEMPLATES, template_environment

__all__ = ["BUNDLED_TEMPLATES", "Rendered", "TemplateRenderer"]


@dataclass(frozen=True)
class Rendered:
    """A message ready for chat.postMessage / ack / response_url."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


class TemplateRenderer:
    """Loads templates once; each render gets a fresh block collector."""

    def __init__(self, override_dir: Path | None = None) -> None:
        self.override_dir = override_dir
        self.env = template_environment(override_dir)

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

    def render_document(self, name: str, **context: Any) -> str:
        """A Markdown or HTML document (the postmortem draft, the status page), not a message."""
        text = self.env.get_template(name).render(**context)
        return text if text.endswith("\n") else text + "\n"
