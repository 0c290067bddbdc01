"""Block Kit builders that templates call, and Slack's size limits applied on the way out.

Templates build blocks with `{% do section("...") %}`; these helpers make the dicts, so no template
ever hand-writes JSON (and can never produce malformed JSON). Limits are applied here so long
content is truncated instead of being rejected by Slack with `invalid_blocks`.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTION_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_FALLBACK_TEXT = 3900
MAX_INPUT_TEXT = 3000
MAX_INPUT_LABEL = 2000
MAX_PLACEHOLDER_TEXT = 150
MAX_VIEW_TITLE = 24
ELLIPSIS = "…"

Block = dict[str, Any]


def clip(text: object, limit: int) -> str:
    """Cut text to Slack's limit, marking the cut."""
    value = str(text)
    return value if len(value) <= limit else value[: limit - 1] + ELLIPSIS


def mrkdwn(text: object, limit: int = MAX_SECTION_TEXT) -> dict[str, str]:
    return {"type": "mrkdwn", "text": clip(text, limit) or " "}


def plain(text: object, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def button(
    text: str,
    action_id: str,
    value: str = "",
    style: str | None = None,
    url: str | None = None,
) -> Block:
    """A button element; `style` is primary or danger."""
    element: Block = {
        "type": "button",
        "text": plain(text, MAX_BUTTON_TEXT),
        "action_id": action_id,
    }
    if value:
        element["value"] = clip(value, 2000)
    if style in ("primary", "danger"):
        element["style"] = style
    if url:
        element["url"] = url
    return element


class BlockCollector:
    """Collects the blocks one template render produces."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.truncated = False

    def _add(self, block: Block) -> str:
        # The last slot is kept for a "truncated" marker, so a long list never exceeds the limit.
        if len(self.blocks) >= MAX_BLOCKS - 1:
            self.truncated = True
            return ""
        self.blocks.append(block)
        return ""

    def header(self, text: str) -> str:
        return self._add({"type": "header", "text": plain(text, MAX_HEADER_TEXT)})

    def section(
        self, text: str = "", fields: list[str] | None = None, accessory: Block | None = None
    ) -> str:
        block: Block = {"type": "section"}
        if text:
            block["text"] = mrkdwn(text)
        if fields:
            block["fields"] = [mrkdwn(f, MAX_FIELD_TEXT) for f in fields[:MAX_FIELDS]]
        if "text" not in block and "fields" not in block:
            block["text"] = mrkdwn(" ")
        if accessory:
            block["accessory"] = accessory
        return self._add(block)

    def long_section(self, text: str) -> str:
        """A section that splits long text over several blocks instead of cutting it."""
        remaining = str(text)
        while remaining:
            cut = remaining[:MAX_SECTION_TEXT]
            if len(remaining) > MAX_SECTION_TEXT and "\n" in cut:
                cut = cut[: cut.rindex("\n")]
            self.section(cut)
            remaining = remaining[len(cut) :].lstrip("\n")
        return ""

    def context(self, *texts: str) -> str:
        elements = [mrkdwn(t, MAX_FIELD_TEXT) for t in texts if t][:MAX_CONTEXT_ELEMENTS]
        return self._add({"type": "context", "elements": elements}) if elements else ""

    def divider(self) -> str:
        return self._add({"type": "divider"})

    def actions(self, *elements: Block, block_id: str | None = None) -> str:
        items = [e for e in elements if e][:MAX_ACTION_ELEMENTS]
        if not items:
            return ""
        block: Block = {"type": "actions", "elements": items}
        if block_id:
            block["block_id"] = block_id
        return self._add(block)

    def text_input(
        self,
        label: str,
        *,
        block_id: str,
        action_id: str,
        initial: str = "",
        placeholder: str = "",
        multiline: bool = False,
    ) -> str:
        """A plain-text input (modals): what a person types comes back in the view's state."""
        element: Block = {
            "type": "plain_text_input",
            "action_id": action_id,
            "multiline": multiline,
            "max_length": MAX_INPUT_TEXT,
        }
        if initial:
            element["initial_value"] = clip(initial, MAX_INPUT_TEXT)
        if placeholder:
            element["placeholder"] = plain(placeholder, MAX_PLACEHOLDER_TEXT)
        return self._add(
            {
                "type": "input",
                "block_id": block_id,
                "label": plain(label, MAX_INPUT_LABEL),
                "element": element,
            }
        )

    def finish(self) -> list[Block]:
        if self.truncated:
            self.blocks.append(
                {
                    "type": "context",
                    "elements": [mrkdwn("_Message shortened: too long for Slack._")],
                }
            )
        return self.blocks
