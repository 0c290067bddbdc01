"""Block Kit -> readable text, shared by `Message.plain()` (tests) and the terminal shell.

Rendering goes through a list of typed `Line`s so the same walk over blocks serves both plain
text (assertions) and ANSI styling (the shell); only `style_lines` knows about colours.
Buttons are numbered in one place (`find_buttons`) so "[2]" in the shell and `click(index=2)`
always mean the same button.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

LineKind = Literal["header", "text", "field", "context", "divider", "buttons", "image", "input"]
Resolver = Callable[[str], str | None]


@dataclass(frozen=True)
class Line:
    kind: LineKind
    text: str


@dataclass(frozen=True)
class Button:
    block_id: str | None
    action_id: str
    text: str
    value: str | None
    style: str | None
    url: str | None
    element: dict[str, Any]


def _text_of(obj: Any) -> str:
    """The string inside a text object (or a bare string)."""
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def _iter_elements(block: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """Interactive elements of a block in display order (accessory after the text)."""
    if block.get("type") == "actions":
        yield from (e for e in block.get("elements", []) if isinstance(e, dict))
    elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
        yield block["accessory"]


def find_buttons(blocks: Iterable[Any]) -> list[Button]:
    """Every button in the message, in reading order; `click(index=N)` is 1-based into this."""
    found: list[Button] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        for element in _iter_elements(block):
            if element.get("type") != "button":
                continue
            found.append(
                Button(
                    block_id=block.get("block_id"),
                    action_id=str(element.get("action_id", "")),
                    text=_text_of(element.get("text")),
                    value=element.get("value"),
                    style=element.get("style"),
                    url=element.get("url"),
                    element=element,
                )
            )
    return found


_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def mrkdwn(text: str, resolve: Resolver | None = None) -> str:
    """Slack's angle-bracket syntax to what a reader sees: <@U1> -> @bob, <url|label> -> label."""

    def repl(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            name = (resolve(target[1:]) if resolve else None) or label or target[1:]
            return f"@{name}"
        if target.startswith("#"):
            name = label or (resolve(target[1:]) if resolve else None) or target[1:]
            return f"#{name}"
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        return f"{label} ({target})" if label and label != target else target

    return _LINK.sub(repl, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _element_label(element: dict[str, Any]) -> str:
    kind = element.get("type", "")
    if kind in ("plain_text", "mrkdwn"):
        return _text_of(element)
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind in ("static_select", "users_select", "channels_select", "conversations_select"):
        return f"[{_text_of(element.get('placeholder')) or 'select'} ▾]"
    if kind == "overflow":
        return "[⋯]"
    return f"[{kind}]"


def block_lines(blocks: Iterable[Any], resolve: Resolver | None = None) -> list[Line]:
    """Walk blocks into typed lines; buttons are numbered across the whole message."""
    lines: list[Line] = []
    number = 0

    def button_line(elements: Iterable[dict[str, Any]]) -> None:
        nonlocal number
        labels: list[str] = []
        for element in elements:
            if element.get("type") == "button":
                number += 1
                labels.append(f"[{number}] {_text_of(element.get('text'))}")
            else:
                labels.append(_element_label(element))
        if labels:
            lines.append(Line("buttons", "  ".join(labels)))

    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "header":
            lines.append(Line("header", _text_of(block.get("text"))))
        elif kind == "section":
            if block.get("text"):
                for part in mrkdwn(_text_of(block["text"]), resolve).splitlines() or [""]:
                    lines.append(Line("text", part))
            for fld in block.get("fields") or []:
                lines.append(Line("field", mrkdwn(_text_of(fld), resolve).replace("\n", " ")))
            if isinstance(block.get("accessory"), dict):
                button_line([block["accessory"]])
        elif kind == "context":
            parts = [_element_label(e) for e in block.get("elements", []) if isinstance(e, dict)]
            lines.append(Line("context", mrkdwn("  ".join(parts), resolve)))
        elif kind == "divider":
            lines.append(Line("divider", ""))
        elif kind == "actions":
            button_line(e for e in block.get("elements", []) if isinstance(e, dict))
        elif kind == "image":
            lines.append(Line("image", f"[image: {block.get('alt_text', '')}]"))
        elif kind == "input":
            label = _text_of(block.get("label"))
            element = block.get("element") or {}
            lines.append(Line("input", f"{label}: {_element_label(element)}"))
        elif kind == "rich_text":
            lines.append(Line("text", _rich_text(block)))
        elif kind == "markdown":
            lines.append(Line("text", str(block.get("text", ""))))
    return lines


def _rich_text(block: dict[str, Any]) -> str:
    """Flatten rich_text (what Slack clients send for typed messages) to its characters."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                out.append(str(node.get("text", "")))
            elif node.get("type") == "user":
                out.append(f"@{node.get('user_id', '')}")
            elif node.get("type") == "link":
                out.append(str(node.get("text") or node.get("url", "")))
            for child in node.get("elements", []) or []:
                walk(child)

    walk(block)
    return "".join(out)


def message_lines(
    text: str,
    blocks: list[dict[str, Any]],
    attachments: list[dict[str, Any]] | None = None,
    resolve: Resolver | None = None,
) -> list[Line]:
    """Lines for a whole message: blocks, else text; then attachments (legacy colour bars)."""
    lines = block_lines(blocks, resolve) if blocks else []
    if not lines and text:
        lines = [Line("text", part) for part in mrkdwn(text, resolve).splitlines()]
    for attachment in attachments or []:
        if attachment.get("blocks"):
            lines.extend(block_lines(attachment["blocks"], resolve))
        for key in ("pretext", "title", "text"):
            if attachment.get(key):
                lines.append(Line("text", mrkdwn(str(attachment[key]), resolve)))
        for fld in attachment.get("fields") or []:
            lines.append(Line("field", f"{fld.get('title', '')}: {fld.get('value', '')}"))
        if attachment.get("footer"):
            lines.append(Line("context", str(attachment["footer"])))
    return lines


def plain(
    text: str,
    blocks: list[dict[str, Any]],
    attachments: list[dict[str, Any]] | None = None,
    resolve: Resolver | None = None,
) -> str:
    """Plain rendering for assertions: one line per block line, no styling."""
    out: list[str] = []
    for line in message_lines(text, blocks, attachments, resolve):
        out.append("---" if line.kind == "divider" else line.text)
    return "\n".join(out)


_STYLES: dict[str, str] = {
    "header": "\x1b[1;4m",
    "context": "\x1b[2m",
    "divider": "\x1b[2m",
    "buttons": "\x1b[36m",
    "input": "\x1b[33m",
}
RESET = "\x1b[0m"


def style_lines(lines: list[Line], *, color: bool, width: int = 60) -> list[str]:
    """Terminal rendering: bold/underlined headers, dimmed context, a rule for dividers."""
    out: list[str] = []
    for line in lines:
        if line.kind == "divider":
            body = "─" * width
        elif line.kind == "field":
            body = f"• {line.text}"
        elif line.kind == "header" and not color:
            body = f"{line.text}\n{'═' * min(width, max(len(line.text), 1))}"
        else:
            body = line.text
        prefix = _STYLES.get(line.kind, "") if color else ""
        out.extend(f"{prefix}{part}{RESET if prefix else ''}" for part in body.split("\n"))
    return out
