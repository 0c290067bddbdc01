"""Lineage helpers shared by registry backends: which code trained a model."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from bot import __version__


@cache
def code_version() -> str:
    """`ONCALL_CODE_VERSION` if set (CI/images), else the package version plus the git commit."""
    if env := os.environ.get("ONCALL_CODE_VERSION"):
        return env
    sha = _git_head(Path(__file__).resolve().parents[2])
    return f"{__version__}+{sha[:12]}" if sha else __version__


def _git_head(root: Path) -> str | None:
    # Read .git directly: no subprocess, and no git binary needed in the container.
    try:
        head = (root / ".git" / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        ref_file = root / ".git" / ref
        if ref_file.exists():
            return ref_file.read_text().strip()
        for line in (root / ".git" / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    except OSError:
        return None
    return None
