"""No user-visible words in Python: what the bot posts to Slack comes from `templates/`.

The scan reads every module under `bot/` with `ast` and looks at the places text leaves for Slack:
the `text=`, `summary=`, `detail=` and `message=` arguments of any call, and the positional
arguments of the calls that post or carry a message (`say`, `respond`, `chat_postMessage`, `ActionResult`, `ActionFailed`...).
A string literal or f-string there that holds a letter is words written in Python; it belongs in a
template, rendered with facts (see `DeployRefused` and `templates/deploy_step.j2`).

Words also reach Slack one step removed, and two more rules follow them there:
- carried by an object: a sentence passed positionally to a dataclass field named like text
  (`detail`, `reason`...), as preflight and gate checks once did (`Check(name, ok, "...")`);
- carried by an exception: a sentence given to an exception class (or a subclass of one) whose
  `str()` a Slack handler passes on (`except RunError as exc: ... problem=str(exc)`).
A sentence is a literal with two words in a row; a kind such as `"no_such_step"` is not one.
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


# Field names of objects whose text is shown in Slack.
TEXT_FIELDS = TEXT_KEYWORDS | {"reason", "problem"}
# The layer that shows exceptions' text to people.
SHOWN_BY = ("slack/", "commands/")
# Packages whose objects speak to other readers than Slack: `data/` answers the feedback HTTP API
# and writes quarantine records; `messages/` reports broken templates on stderr at start-up.
OTHER_READERS = ("data/", "messages/")
SENTENCE = re.compile(r"[A-Za-z]+\s+[A-Za-z{]")

# (file, text) of exception messages written before this rule, each still to be moved into a
# template; the list may only shrink (test_allowlist_has_no_stale_entries).
NOT_YET_MOVED: frozenset[tuple[str, str]] = frozenset(
    {
        ("runbook/params.py", "f'`{name}` must be {_describe(param.type)} (got {raw!r})'"),
        ("runbook/params.py", "f'`{name}` must be one of {choices} (got {raw!r})'"),
        (
            "runbook/params.py",
            "f'unknown parameter `{unknown[0]}` for runbook {runbook.id} (parameters: {known})'",
        ),
        ("runbook/params.py", "f'missing required parameter `{name}`{hint}'"),
        ("runbook/engine.py", "f'unknown runbook `{runbook_id}` (available: {known})'"),
        ("model_registry/mlflow_backend.py", "f'MLflow registry failed to {what}: {exc}'"),
        (
            "model_registry/mlflow_backend.py",
            "f\"these tags are set at registration and cannot change: {', '.join(protected)}\"",
        ),
        (
            "model_registry/mlflow_backend.py",
            "f\"validation_status must be one of {', '.join(VALIDATION_STATUSES)}\"",
        ),
        ("model_registry/mlflow_backend.py", "f\"reserved tag names: {', '.join(bad)}\""),
        (
            "model_registry/mlflow_backend.py",
            "f'v{version} is stored as {fmt!r}; only skops models are loaded (no pickle)'",
        ),
        (
            "model_registry/mlflow_backend.py",
            "f'v{version} has no readable sklearn MLmodel: {exc}'",
        ),
        ("commands/parser.py", "f'{exc}: close the quote or remove it'"),
        ("commands/parser.py", "f'--{name} needs a value'"),
        ("monitoring/checks.py", "f'feedback unreadable: {exc}'"),
    }
)


def _sentence(node: ast.AST) -> str | None:
    """The first literal in the expression that is a sentence (words, not a kind), or None."""
    for _, text in _literal_words(node):
        if SENTENCE.search(text):
            return text
    return None


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def _with_subclasses(names: set[str], bases: dict[str, list[str]]) -> set[str]:
    found = set(names)
    while True:
        more = {c for c, parents in bases.items() if c not in found and set(parents) & found}
        if not more:
            return found
        found |= more


def carried_offences(sources: dict[str, str]) -> list[Offence]:
    """Sentences that reach Slack inside an object or an exception (the module docstring)."""
    trees = {file: ast.parse(source) for file, source in sources.items()}
    bases: dict[str, list[str]] = {}
    text_positions: dict[str, set[int]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            bases[node.name] = [_name(b) for b in node.bases]
            if any("dataclass" in ast.unparse(d) for d in node.decorator_list):
                fields = [
                    f.target.id
                    for f in node.body
                    if isinstance(f, ast.AnnAssign) and isinstance(f.target, ast.Name)
                ]
                text_positions[node.name] = {
                    i for i, field in enumerate(fields) if field in TEXT_FIELDS
                }
    shown: set[str] = set()
    for file, tree in trees.items():
        if not file.startswith(SHOWN_BY):
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ExceptHandler) and node.name and node.type):
                continue
            passed_on = any(
                isinstance(n, ast.Call)
                and _name(n.func) == "str"
                and any(isinstance(a, ast.Name) and a.id == node.name for a in n.args)
                for statement in node.body
                for n in ast.walk(statement)
            )
            if passed_on:
                types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
                shown |= {_name(t) for t in types} & set(bases)
    shown = _with_subclasses(shown, bases)
    found: list[Offence] = []
    for file, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                call, name = node.exc, _name(node.exc.func)
                if name in shown and call.args and (text := _sentence(call.args[0])):
                    found.append(Offence(file, node.lineno, f"raise {name}()", text))
            elif (
                isinstance(node, ast.Call)
                and _name(node.func) in text_positions
                and not file.startswith(OTHER_READERS)
            ):
                name = _name(node.func)
                for i, arg in enumerate(node.args):
                    if i in text_positions[name] and (text := _sentence(arg)):
                        found.append(Offence(file, node.lineno, f"{name}() field {i}", text))
    return sorted(found, key=lambda o: (o.file, o.line))


def _allowed(offence: Offence) -> bool:
    return (offence.file, offence.text) in NOT_WORDS.keys() | NOT_YET_MOVED


def scan() -> list[Offence]:
    sources: dict[str, str] = {}
    for path in sorted(BOT.rglob("*.py")):
        file = path.relative_to(BOT).as_posix()
        if not file.startswith(NOT_THE_BOT):
            sources[file] = path.read_text(encoding="utf-8")
    found: list[Offence] = []
    for file, source in sources.items():
        found += offences_in(source, file)
    return found + carried_offences(sources)


def test_no_words_posted_to_slack_outside_templates() -> None:
    offences = [o for o in scan() if not _allowed(o)]
    assert not offences, "user-visible text written in Python:\n" + "\n".join(map(str, offences))


def test_allowlist_has_no_stale_entries() -> None:
    """An entry nothing needs any more is removed, so the list only shrinks."""
    found = scan()
    allowed = NOT_WORDS.keys() | NOT_YET_MOVED
    stale = [key for key in allowed if not any((o.file, o.text) == key for o in found)]
    assert not stale, f"remove these from NOT_WORDS or NOT_YET_MOVED: {stale}"


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


def test_the_scan_follows_words_carried_by_checks_and_exceptions() -> None:
    """What preflight, the gate and the runbook guards did before their words moved."""
    sources = {
        "deploy/preflight.py": """
@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

def run_checks(loads):
    return [Check("loads", loads is None, f"cannot load: {loads}"), Check("signature", True, "")]
""",
        "runbook/errors.py": """
class RunError(Exception):
    pass

class RunStateError(RunError):
    pass
""",
        "runbook/guards.py": """
def check_cancellable(state):
    if state.finished:
        raise RunStateError(f"run #{state.id} is already {state.status}")
    raise RunStateError("rolling_back", run=state.id)
""",
        "slack/handlers/runbooks.py": """
async def on_cancel(click):
    try:
        await engine.cancel(int(click.value), click.user_id)
    except RunError as exc:
        return renderer.render("run_not_waiting", problem=str(exc))
""",
    }
    found = [(o.file, o.where, o.text) for o in carried_offences(sources)]
    assert found == [
        ("deploy/preflight.py", "Check() field 2", "f'cannot load: {loads}'"),
        (
            "runbook/guards.py",
            "raise RunStateError()",
            "f'run #{state.id} is already {state.status}'",
        ),
    ]
    # Once the handler words the kind and facts itself, the exception carries no words to Slack.
    sources["slack/handlers/runbooks.py"] = sources["slack/handlers/runbooks.py"].replace(
        "problem=str(exc)", "kind=exc.kind, **exc.facts"
    )
    assert [o.file for o in carried_offences(sources)] == ["deploy/preflight.py"]
