"""Print the README's configuration table from the Settings fields (the single source of truth)."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings


def _default(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, frozenset | set):
        return "(none)" if not value else ",".join(sorted(value))
    if isinstance(value, Path):
        return f"`{value}`"
    return f"`{value}`"


def table() -> str:
    lines = ["| Setting | Default | What it does |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        lines.append(
            f"| `{name.upper()}` | {_default(field.default)} | {field.description or ''} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
