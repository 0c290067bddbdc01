"""Slack's Block Kit rules as a pure check, so a template that would be rejected fails at start-up.

`validate_blocks` knows the rules that matter for what the bot sends (block types, counts, text
lengths, ids); it is stricter than Slack in one place: every button needs an `action_id`, because
a button without one could never be routed to a handler.
"""

from __future__ import annotations

from typing import Any

from bot.messages.blocks import (
    MAX_ACTION_ELEMENTS,
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_CONTEXT_ELEMENTS,
    MAX_FIELD_TEXT,
    MAX_FIELDS,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
)

BLOCK_TYPES = frozenset(
    {
        "section",
        "header",
        "context",
        "divider",
        "actions",
        "image",
        "input",
        "rich_text",
        "file",
        "video",
    }
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
# Slack truncates the top-level `text` of chat.postMessage at 40,000 characters.
MAX_MESSAGE_TEXT = 40_000
MAX_ID = 255


def _n(value: int) -> str:
    return f"{value:,}"


class _Check:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.action_ids: set[str] = set()
        self.block_ids: set[str] = set()

    def text(
        self, where: str, obj: Any, limit: int, *, what: str = "text", plain_only: bool = False
    ) -> None:
        if not isinstance(obj, dict) or obj.get("type") not in TEXT_TYPES:
            self.problems.append(f"{where}: {what} is not a plain_text or mrkdwn text object")
            return
        if plain_only and obj["type"] != "plain_text":
            self.problems.append(f"{where}: {what} must be plain_text, not {obj['type']}")
        value = obj.get("text")
        if not isinstance(value, str) or not value:
            self.problems.append(f"{where}: {what} is empty")
        elif len(value) > limit:
            self.problems.append(
                f"{where}: {what} is {_n(len(value))} characters, the limit is {_n(limit)}"
            )

    def element(self, where: str, element: Any) -> None:
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            self.problems.append(f"{where}: not an element object with a type")
            return
        action_id = element.get("action_id")
        if action_id is not None:
            if not isinstance(action_id, str) or not action_id or len(action_id) > MAX_ID:
                self.problems.append(f"{where}: action_id must be 1-{MAX_ID} characters")
            elif action_id in self.action_ids:
                self.problems.append(f"{where}: action_id {action_id!r} is used twice")
            else:
                self.action_ids.add(action_id)
        if element["type"] == "button":
            if action_id is None:
                self.problems.append(f"{where}: button has no action_id")
            self.text(
                where, element.get("text"), MAX_BUTTON_TEXT, what="button text", plain_only=True
            )
            value = element.get("value")
            if value is not None and (not isinstance(value, str) or len(value) > 2000):
                self.problems.append(f"{where}: button value must be at most 2,000 characters")
            if element.get("style") not in (None, "primary", "danger"):
                self.problems.append(f"{where}: button style must be primary or danger")

    def block(self, index: int, block: Any) -> None:
        if not isinstance(block, dict):
            self.problems.append(f"block {index}: not an object")
            return
        kind = block.get("type")
        where = f"block {index} ({kind})"
        if kind not in BLOCK_TYPES:
            self.problems.append(
                f"block {index}: unknown block type {kind!r}; "
                f"Slack accepts {', '.join(sorted(BLOCK_TYPES))}"
            )
            return
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not block_id or len(block_id) > MAX_ID:
                self.problems.append(f"{where}: block_id must be 1-{MAX_ID} characters")
            elif block_id in self.block_ids:
                self.problems.append(f"{where}: block_id {block_id!r} is used twice")
            else:
                self.block_ids.add(block_id)
        if kind == "section":
            self.section(where, block)
        elif kind == "header":
            self.text(where, block.get("text"), MAX_HEADER_TEXT, plain_only=True)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.problems.append(f"{where}: needs at least one element")
            elif len(elements) > MAX_CONTEXT_ELEMENTS:
                self.problems.append(
                    f"{where}: {len(elements)} elements, the limit is {MAX_CONTEXT_ELEMENTS}"
                )
            else:
                for i, element in enumerate(elements):
                    if isinstance(element, dict) and element.get("type") in TEXT_TYPES:
                        self.text(where, element, MAX_FIELD_TEXT, what=f"element {i}")
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.problems.append(f"{where}: needs at least one element")
            else:
                if len(elements) > MAX_ACTION_ELEMENTS:
                    self.problems.append(
                        f"{where}: {len(elements)} elements, the limit is {MAX_ACTION_ELEMENTS}"
                    )
                for i, element in enumerate(elements):
                    self.element(f"{where} element {i}", element)

    def section(self, where: str, block: dict[str, Any]) -> None:
        text, fields = block.get("text"), block.get("fields")
        if text is None and not fields:
            self.problems.append(f"{where}: needs text or fields")
        if text is not None:
            self.text(where, text, MAX_SECTION_TEXT)
        if fields is not None:
            if not isinstance(fields, list):
                self.problems.append(f"{where}: fields must be a list")
            else:
                if len(fields) > MAX_FIELDS:
                    self.problems.append(
                        f"{where}: {len(fields)} fields, the limit is {MAX_FIELDS}"
                    )
                for i, field in enumerate(fields):
                    self.text(where, field, MAX_FIELD_TEXT, what=f"field {i}")
        if "accessory" in block:
            self.element(f"{where} accessory", block["accessory"])


def validate_blocks(blocks: Any) -> list[str]:
    """Every way these blocks break Slack's rules, one readable problem each; empty when fine."""
    if not isinstance(blocks, list):
        return ["blocks must be a list"]
    check = _Check()
    if len(blocks) > MAX_BLOCKS:
        check.problems.append(f"{len(blocks)} blocks, the limit is {MAX_BLOCKS}")
    for index, block in enumerate(blocks):
        check.block(index, block)
    return check.problems


def validate_text(text: Any) -> list[str]:
    """The plain-text fallback: Slack needs one for notifications and screen readers."""
    if not isinstance(text, str) or not text.strip():
        return ["fallback text is empty"]
    if len(text) > MAX_MESSAGE_TEXT:
        return [f"fallback text is {_n(len(text))} characters, the limit is {_n(MAX_MESSAGE_TEXT)}"]
    return []
