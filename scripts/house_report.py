"""Print the house's measurements: lines per package, import cycles, imports inside functions,
the longest functions. Run from the repository root: `python scripts/house_report.py [ROOT]`,
where ROOT is another checkout to measure (default: this one).
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.import_graph import Package, cycles  # noqa: E402


def _statements(package: Package) -> tuple[int, int]:
    """Import statements (any module) inside functions, and under `if TYPE_CHECKING:`."""
    in_function = type_checking = 0
    for tree in package.trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                in_function += sum(
                    isinstance(n, ast.Import | ast.ImportFrom)
                    for n in ast.walk(node)
                    if n is not node
                )
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                type_checking += sum(
                    isinstance(n, ast.Import | ast.ImportFrom) for n in ast.walk(node)
                )
    return in_function, type_checking


def report(root: Path) -> str:
    package = Package.read(root)
    lines: Counter[str] = Counter()
    files: Counter[str] = Counter()
    for module in package.files:
        parts = module.split(".")
        group = ".".join(parts[:2]) if len(parts) > 2 or package.is_package(module) else "bot (top)"
        lines[group] += package.lines(module)
        files[group] += 1
    out = ["lines per package (files):"]
    for group, count in sorted(lines.items(), key=lambda kv: -kv[1]):
        out.append(f"  {group:<24} {count:>6}  ({files[group]})")
    out.append(f"  {'total':<24} {sum(lines.values()):>6}  ({sum(files.values())})")
    over = sorted((package.lines(m), m) for m in package.files if package.lines(m) > 400)
    out.append(f"modules over 400 lines: {len(over)}")
    out += [f"  {n:>5}  {m}" for n, m in reversed(over)]
    found = cycles(package.graph())
    out.append(f"import cycles: {len(found)}")
    out += [f"  {' <-> '.join(c)}" for c in found]
    imports = package.imports()
    in_function, type_checking = _statements(package)
    out.append(
        f"import statements inside functions: {in_function} "
        f"({sum(i.in_function for i in imports)} of them import bot modules)"
    )
    out.append(f"import statements under TYPE_CHECKING: {type_checking}")
    out.append("longest functions (lines):")
    out += [f"  {n:>5}  {name}" for n, name in package.functions()[:10]]
    return "\n".join(out)


if __name__ == "__main__":
    print(report(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else REPO))
