"""ARCHITECTURE.md and README's "How it is built" name only files and functions that exist.

Paths (`bot/...`, `templates/...`, `runbooks/...`, `tests/...`) must exist; `file.py:name` and
`file.py:Class.method` must be defined in that file; dotted `bot.x.y` must be a module (or a name
defined in one). A rename without a doc fix fails here, so the docs cannot drift from the code.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PATH = re.compile(r"(?<![\w/.-])((?:bot|templates|runbooks|tests)/[\w./*<>-]*)")
DEFINITION = re.compile(r"(?<![\w/.-])([\w/]+\.py):([A-Za-z_][\w.]*)")
DOTTED = re.compile(r"`(bot(?:\.[A-Za-z_]\w*)+)`")


def architecture() -> str:
    return (ROOT / "ARCHITECTURE.md").read_text()


def how_it_is_built() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## How it is built\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else None]


def paths(text: str) -> list[str]:
    """Concrete paths mentioned; globs and placeholders (`runbooks/*.md`, `<name>`) are patterns."""
    found = []
    for match in PATH.finditer(text):
        path = match.group(1).rstrip(".")
        if not any(c in path for c in "*<>"):
            found.append(path)
    return found


def definitions(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2).rstrip(".")) for m in DEFINITION.finditer(text)]


def defined_names(tree: ast.AST) -> dict[str, ast.AST]:
    """Top-level functions, classes and assignments of a module (or the body of a class)."""
    body = tree.body if isinstance(tree, ast.Module | ast.ClassDef) else []
    names: dict[str, ast.AST] = {}
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
    return names


def missing_name(file: Path, dotted: str) -> str | None:
    """None when `dotted` (`name` or `Class.method`) is defined in `file`, else what is missing."""
    scope: ast.AST = ast.parse(file.read_text())
    for part in dotted.split("."):
        node = defined_names(scope).get(part)
        if node is None:
            return part
        scope = node
    return None


def resolve_file(name: str) -> Path | None:
    """A path from the repository root, or a bare file name that is unique under bot/."""
    if (ROOT / name).is_file():
        return ROOT / name
    if "/" not in name:
        matches = list((ROOT / "bot").rglob(name))
        if len(matches) == 1:
            return matches[0]
    return None


def module_file(parts: list[str]) -> Path | None:
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def problems(text: str) -> list[str]:
    found = []
    for path in paths(text):
        if not (ROOT / path).exists():
            found.append(f"{path}: no such file or folder")
    for file_name, name in definitions(text):
        file = resolve_file(file_name)
        if file is None:
            found.append(f"{file_name}:{name}: no such file (or the bare name is not unique)")
        elif (missing := missing_name(file, name)) is not None:
            found.append(f"{file_name}:{name}: `{missing}` is not defined in {file_name}")
    for match in DOTTED.finditer(text):
        parts = match.group(1).split(".")
        # The longest prefix that is a module; the rest must be names defined in it.
        for cut in range(len(parts), 0, -1):
            if (file := module_file(parts[:cut])) is not None:
                rest = ".".join(parts[cut:])
                if rest and (missing := missing_name(file, rest)) is not None:
                    found.append(f"{match.group(1)}: `{missing}` is not defined in {file}")
                break
        else:
            found.append(f"{match.group(1)}: no such module")
    return found


@pytest.mark.parametrize(
    ("doc", "read"),
    [("ARCHITECTURE.md", architecture), ("README.md, How it is built", how_it_is_built)],
)
def test_every_file_and_function_the_docs_name_exists(doc: str, read: object) -> None:
    text = read()  # type: ignore[operator]
    assert paths(text), f"{doc} names no files: the section was not found or the reader broke"
    found = problems(text)
    assert not found, f"{doc} names what does not exist (fix the doc): " + "; ".join(found)


def test_the_architecture_walk_names_functions_not_only_files() -> None:
    refs = definitions(architecture())
    assert len(refs) >= 20
    assert ("bot/commands/dispatch.py", "Dispatcher.prepare") in refs


def test_a_renamed_file_or_function_is_caught() -> None:
    text = (
        "`bot/web.py` `bot/nowhere.py` `templates/*.j2` `runbooks/<id>.md` "
        "`bot/web.py:build_web_app` `bot/web.py:SlackSignature.valid` "
        "`bot/web.py:SlackSignature.gone` `bot/web.py:vanished` `dispatch.py:Dispatcher.prepare` "
        "`bot.alerts.intake.AlertIntake` `bot.alerts.nothing` `bot.web.missing`"
    )
    assert problems(text) == [
        "bot/nowhere.py: no such file or folder",
        "bot/web.py:SlackSignature.gone: `gone` is not defined in bot/web.py",
        "bot/web.py:vanished: `vanished` is not defined in bot/web.py",
        "bot.alerts.nothing: `nothing` is not defined in " + str(ROOT / "bot/alerts/__init__.py"),
        "bot.web.missing: `missing` is not defined in " + str(ROOT / "bot/web.py"),
    ]
