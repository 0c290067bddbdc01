"""Block Kit validation with Slack's limits, so a bad message fails here and not in production.

Only the checks that catch real bot bugs are implemented (unknown types, missing ids, length
limits, element counts); each failure is reported the way Slack does, as a message ending in
`[json-pointer:/blocks/N/...]`, which makes the offending block easy to find.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .api_errors import ApiError

BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "rich_text",
        "section",
        "video",
        "markdown",
        "call",
    }
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
MAX_TEXT_LENGTH = 40_000


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, message: str, pointer: str) -> None:
        self.errors.append(f"{message} [json-pointer:{pointer}]")

    def text_object(
        self,
        obj: Any,
        pointer: str,
        *,
        max_len: int,
        plain_only: bool = False,
        required: bool = True,
    ) -> None:
        if obj is None:
            if required:
                self.fail("missing required field: text", pointer)
            return
        if not isinstance(obj, dict) or obj.get("type") not in TEXT_TYPES:
            self.fail("must be a text object (plain_text or mrkdwn)", pointer)
            return
        if plain_only and obj["type"] != "plain_text":
            self.fail("must be a plain_text object", pointer + "/type")
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            self.fail("must be more than 0 characters", pointer + "/text")
        elif len(text) > max_len:
            self.fail(f"must be less than {max_len + 1} characters", pointer + "/text")

    def element(self, element: Any, pointer: str, action_ids: set[str]) -> None:
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            self.fail("must be an element object with a type", pointer)
            return
        action_id = element.get("action_id")
        if action_id is not None:
            if not isinstance(action_id, str) or not action_id or len(action_id) > 255:
                self.fail("must be 1-255 characters", pointer + "/action_id")
            elif action_id in action_ids:
                self.fail(f"duplicate action_id {action_id!r} in block", pointer + "/action_id")
            else:
                action_ids.add(action_id)
        if element["type"] == "button":
            # Slack would invent an action_id; requiring one keeps handlers routable.
            if action_id is None:
                self.fail("missing required field: action_id", pointer)
            self.text_object(element.get("text"), pointer + "/text", max_len=75, plain_only=True)
            value = element.get("value")
            if value is not None and (not isinstance(value, str) or len(value) > 2000):
                self.fail("must be a string of at most 2000 characters", pointer + "/value")
            if element.get("style") not in (None, "primary", "danger"):
                self.fail("must be one of primary, danger", pointer + "/style")
            url = element.get("url")
            if url is not None and (not isinstance(url, str) or len(url) > 3000):
                self.fail("must be a URL of at most 3000 characters", pointer + "/url")

    def block(self, block: Any, pointer: str, block_ids: set[str]) -> None:
        if not isinstance(block, dict):
            self.fail("must be an object", pointer)
            return
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            self.fail(f"unsupported type: {kind!r}", pointer + "/type")
            return
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not block_id or len(block_id) > 255:
                self.fail("must be 1-255 characters", pointer + "/block_id")
            elif block_id in block_ids:
                self.fail(f"duplicate block_id {block_id!r}", pointer + "/block_id")
            else:
                block_ids.add(block_id)
        action_ids: set[str] = set()
        if kind == "section":
            fields = block.get("fields")
            if block.get("text") is None and not fields:
                self.fail("must provide either text or fields", pointer)
            self.text_object(block.get("text"), pointer + "/text", max_len=3000, required=False)
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > 10:
                    self.fail("must be a list of at most 10 items", pointer + "/fields")
                else:
                    for i, fld in enumerate(fields):
                        self.text_object(fld, f"{pointer}/fields/{i}", max_len=2000)
            if "accessory" in block:
                self.element(block["accessory"], pointer + "/accessory", action_ids)
        elif kind == "header":
            self.text_object(block.get("text"), pointer + "/text", max_len=150, plain_only=True)
        elif kind in ("actions", "context"):
            limit = 25 if kind == "actions" else 10
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.fail("must provide at least 1 element", pointer + "/elements")
            elif len(elements) > limit:
                self.fail(f"must be at most {limit} items", pointer + "/elements")
            elif kind == "actions":
                for i, element in enumerate(elements):
                    self.element(element, f"{pointer}/elements/{i}", action_ids)
        elif kind == "input":
            self.text_object(block.get("label"), pointer + "/label", max_len=2000, plain_only=True)
            self.element(block.get("element"), pointer + "/element", action_ids)
        elif kind == "image":
            if not (block.get("image_url") or block.get("slack_file")):
                self.fail("missing required field: image_url", pointer)
            if not isinstance(block.get("alt_text"), str):
                self.fail("missing required field: alt_text", pointer)


def validate_blocks(blocks: Any, *, max_blocks: int = 50, seed: str = "") -> list[dict[str, Any]]:
    """Check `blocks` and return a copy where every block has a block_id (Slack fills them in).

    Raises ApiError("invalid_blocks") listing every problem found.
    """
    checker = _Checker()
    if not isinstance(blocks, list):
        raise ApiError("invalid_blocks", errors=["must be an array [json-pointer:/blocks]"])
    if len(blocks) > max_blocks:
        checker.fail(f"must be at most {max_blocks} items", "/blocks")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        checker.block(block, f"/blocks/{i}", block_ids)
    if checker.errors:
        raise ApiError(
            "invalid_blocks",
            errors=checker.errors,
            response_metadata={"messages": [f"[ERROR] {e}" for e in checker.errors]},
        )
    out: list[dict[str, Any]] = []
    for i, block in enumerate(blocks):
        if "block_id" not in block:
            # Deterministic stand-in for Slack's random 4-5 character ids.
            digest = hashlib.sha1(f"{seed}:{i}".encode()).hexdigest()[:5]
            block = {**block, "block_id": digest}
        out.append(block)
    return out


def validate_content(
    text: Any,
    blocks: Any,
    attachments: Any,
    *,
    seed: str = "",
    require_content: bool = True,
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """The text/blocks/attachments of a chat.* call, validated like Slack does."""
    text = "" if text is None else str(text)
    if len(text) > MAX_TEXT_LENGTH:
        raise ApiError("msg_too_long")
    checked_blocks = validate_blocks(blocks, seed=seed) if blocks is not None else []
    checked_attachments: list[dict[str, Any]] = []
    if attachments is not None:
        if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
            raise ApiError("invalid_attachments")
        checked_attachments = attachments
    if require_content and not text and not checked_blocks and not checked_attachments:
        raise ApiError("no_text")
    return text, checked_blocks, checked_attachments
