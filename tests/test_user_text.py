"""No user-visible words in Python: what the bot posts to Slack comes from `templates/`.

The scan reads every module under `bot/` with `ast` and looks at the places text leaves for Slack:
the `text=`, `summary=`, `detail=` and `message=` arguments of any call, and the positional
arguments of the calls that post or carry a message (`say`, `respond`, `chat_postMessage`, `ActionResult`, `ActionFailed`...).
A string literal or f-string there that holds a letter is words written in Python; it belongs in a
template, rendered with facts (see `DeployRefused` and `templates/deploy_step.j2`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"

# Calls whose positional arguments are (or become) text someone reads in Slack; their other
# keywords (channel, ts, template names) are not words.
MESSAGE_CALLS = frozenset(
    {
        "ActionResult",
        "ActionFailed",
        "Rendered",
        "respond",
        "say",
        "chat_postMessage",
        "chat_postEphemeral",
        "chat_update",
        "views_open",
        "views_update",
    }
)
# Keyword arguments that carry text to Slack whatever the call.
TEXT_KEYWORDS = frozenset({"text", "summary", "detail", "message"})
# The local Slack stand-in speaks for Slack, not for the bot: its texts are Slack's own.
NOT_THE_BOT = ("localslack/",)


# (file, text) pairs allowed, each with why.
NOT_WORDS: dict[tuple[str, str], str] = {
    ("incidents/status.py", "not checked yet"): (
        "the public status page, not Slack: `detail` is also a field of its JSON, which "
        "has no renderer; the HTML page words the rest in status_page.html.j2"
    ),
}

WORD = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class Offence:
    file: str
    line: int
    where: str
    text: str

    def __str__(self) -> str:
        return (
            f"bot/{self.file}:{self.line}: {self.text!r} passed to {self.where}; "
            "move the words to a template in templates/ (with a sample in templates/samples/) "
            "and pass facts, or render the template and pass its text"
        )


def _literal_words(node: ast.AST) -> Iterator[tuple[int, str]]:
    """String literals with words in an expression that is itself the text."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if WORD.search(node.value):
            yield node.lineno, node.value
    elif isinstance(node, ast.JoinedStr):
        parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
        if WORD.search("".join(str(p) for p in parts)):
            yield node.lineno, ast.unparse(node)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        yield from _literal_words(node.left)
        if isinstance(node.op, ast.Add):
            yield from _literal_words(node.right)
    elif isinstance(node, ast.IfExp):
        yield from _literal_words(node.body)
        yield from _literal_words(node.orelse)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from _literal_words(value)


def _callee(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def offences_in(source: str, file: str) -> list[Offence]:
    found: list[Offence] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _callee(node)
        targets: list[tuple[str, ast.AST]] = []
        if name in MESSAGE_CALLS:
            targets += [(f"{name}()", arg) for arg in node.args]
        targets += [
            (f"{name}({kw.arg}=)", kw.value) for kw in node.keywords if kw.arg in TEXT_KEYWORDS
        ]
        for where, expr in targets:
            for line, text in _literal_words(expr):
                found.append(Offence(file, line, where, text))
    return sorted(found, key=lambda o: o.line)


def _allowed(offence: Offence) -> bool:
    return (offence.file, offence.text) in NOT_WORDS


def scan() -> list[Offence]:
    found: list[Offence] = []
    for path in sorted(BOT.rglob("*.py")):
        file = path.relative_to(BOT).as_posix()
        if file.startswith(NOT_THE_BOT):
            continue
        found += offences_in(path.read_text(encoding="utf-8"), file)
    return found


def test_no_words_posted_to_slack_outside_templates() -> None:
    offences = [o for o in scan() if not _allowed(o)]
    assert not offences, "user-visible text written in Python:\n" + "\n".join(map(str, offences))


def test_allowlist_has_no_stale_entries() -> None:
    """An entry nothing needs any more is removed, so the list only shrinks."""
    found = scan()
    stale = [key for key in NOT_WORDS if not any((o.file, o.text) == key for o in found)]
    assert not stale, f"remove these from NOT_WORDS: {stale}"


def test_the_scan_finds_words_in_each_place_text_leaves() -> None:
    source = """
async def handler(say, respond, client, ctx):
    await say(f"deployed v{version}")
    await respond(text="no such run")
    await client.chat_postMessage(channel=c, text="Deploy " + str(v))
    raise ActionFailed(f"v{target} cannot be loaded: {exc}")
    return ActionResult(summary="lock released" if released else "lock was already free")
    section(detail=detail or "nothing to show")
"""
    texts = [o.text for o in offences_in(source, "x.py")]
    assert texts == [
        "f'deployed v{version}'",
        "no such run",
        "Deploy ",
        "f'v{target} cannot be loaded: {exc}'",
        "lock released",
        "lock was already free",
        "nothing to show",
    ]


def test_the_scan_lets_facts_and_rendered_text_through() -> None:
    source = """
async def handler(say, client, renderer):
    message = renderer.render("runbook_started", run=run)
    await say(**message.as_kwargs())
    await client.chat_postMessage(channel=c, text=message.text, blocks=message.blocks)
    raise ActionFailed(str(exc))
    return ActionResult(template="deploy_step", facts={"kind": "lock_released"})
    await client.chat_update(channel=c, ts=ts, text=" ")
"""
    assert offences_in(source, "x.py") == []
