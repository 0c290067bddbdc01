"""The shape of the `bot` package read from its source: modules, imports between them, lengths.

Used by tests/test_architecture.py and scripts/house_report.py. Every `import` statement counts,
wherever it sits (inside a function, under `if TYPE_CHECKING:`), because each one is a dependency
a reader has to follow, and a cycle hidden in a function is still a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Import:
    """One import statement inside the package, resolved to the module it loads."""

    source: str
    target: str
    line: int
    in_function: bool
    type_checking: bool


@dataclass
class Package:
    """Every module of a package (`bot.a.b` -> file) and the imports among them."""

    root: Path
    files: dict[str, Path] = field(default_factory=dict)
    trees: dict[str, ast.Module] = field(default_factory=dict)

    @classmethod
    def read(cls, root: Path = ROOT, name: str = "bot") -> Package:
        package = cls(root)
        for path in sorted((root / name).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            package.files[module] = path
            package.trees[module] = ast.parse(path.read_text(encoding="utf-8"), str(path))
        return package

    def is_package(self, module: str) -> bool:
        return self.files[module].name == "__init__.py"

    def _resolve(self, module: str, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = module.split(".")
        if not self.is_package(module):
            base = base[:-1]
        base = base[: len(base) - node.level + 1]
        return ".".join(base + ([node.module] if node.module else []))

    def _targets(self, module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                while name and name not in self.files:
                    name = name.rpartition(".")[0]
                if name:
                    yield name
            return
        base = self._resolve(module, node)
        if base not in self.files:
            return
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            # `from bot.x import y` loads the submodule y when there is one, else a name of x.
            yield sub if sub in self.files else base

    def imports(self) -> list[Import]:
        found: list[Import] = []
        for module, tree in self.trees.items():
            found.extend(_Walker(self, module).walk(tree))
        return found

    def graph(self) -> dict[str, set[str]]:
        edges: dict[str, set[str]] = {module: set() for module in self.files}
        for imp in self.imports():
            for target in self._entered(imp.source, imp.target):
                if target != imp.source:
                    edges[imp.source].add(target)
        return edges

    def _entered(self, source: str, target: str) -> Iterator[str]:
        """The target, and the packages whose `__init__` runs first when it is imported from
        `source`: every package above it that `source` is not itself inside (those are running
        already). A package `__init__` that imports its parts eagerly joins cycles this way."""
        yield target
        parts = target.split(".")
        for depth in range(1, len(parts)):
            package = ".".join(parts[:depth])
            if package in self.files and not (
                source == package or source.startswith(package + ".")
            ):
                yield package

    def lines(self, module: str) -> int:
        return len(self.files[module].read_text(encoding="utf-8").splitlines())

    def functions(self) -> list[tuple[int, str]]:
        """(length in lines, `module:Class.function`) of every function, nested ones included."""
        out: list[tuple[int, str]] = []
        for module, tree in self.trees.items():
            stack: list[tuple[ast.AST, str]] = [(tree, "")]
            while stack:
                node, prefix = stack.pop()
                for child in ast.iter_child_nodes(node):
                    name = prefix
                    if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                        name = f"{prefix}{child.name}."
                        if not isinstance(child, ast.ClassDef):
                            length = (child.end_lineno or child.lineno) - child.lineno + 1
                            out.append((length, f"{module}:{name[:-1]}"))
                    stack.append((child, name))
        return sorted(out, reverse=True)


class _Walker:
    def __init__(self, package: Package, module: str) -> None:
        self.package, self.module = package, module
        self.found: list[Import] = []

    def walk(self, tree: ast.Module) -> list[Import]:
        self._visit(tree, in_function=False, type_checking=False)
        return self.found

    def _visit(self, node: ast.AST, *, in_function: bool, type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in self.package._targets(self.module, child):
                    self.found.append(
                        Import(self.module, target, child.lineno, in_function, type_checking)
                    )
            inner_function = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            inner_tc = type_checking or (isinstance(child, ast.If) and _is_type_checking(child))
            self._visit(child, in_function=inner_function, type_checking=inner_tc)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def connect(node: str) -> None:
        nonlocal counter
        # Iterative, so a deep import chain cannot hit the recursion limit.
        work = [(node, iter(sorted(graph.get(node, ()))))]
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        while work:
            current, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[current] = min(low[current], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[current])
                if low[current] == index[current]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == current:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)
