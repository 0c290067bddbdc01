"""The one Jinja2 environment for everything in `templates/`: chat messages and documents.

An operator's `TEMPLATES_DIR` is read first, then the bundled folder, name by name. Block Kit
messages (`name.j2`) and Markdown documents (`postmortem.md.j2`) render unescaped, since Slack
mrkdwn and Markdown are not HTML; HTML documents (`status_page.html.j2`) are autoescaped, so text
people typed (an incident title) cannot inject markup. Every template is strict about undefined
names, so a typo fails at start-up's check rather than printing nothing.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import jinja2
import jinja2.bccache

from bot.messages.blocks import button, clip

BUNDLED_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _ago(value: datetime | None, now: datetime | None = None) -> str:
    """'3m ago' style age of a timestamp."""
    if value is None:
        return "never"
    now = now or datetime.now(value.tzinfo)
    seconds = int((now - value).total_seconds())
    return _duration(seconds) + " ago"


def _duration(seconds: float | int | None) -> str:
    if seconds is None:
        return "n/a"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60}s" if seconds < 600 else f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def _when(value: datetime | None) -> str:
    """A timestamp as documents print it: '2024-05-14 09:05:00 UTC', '—' when there is none."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def escape_mrkdwn(value: object) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup, for text people typed."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


class _MemoryBytecodeCache(jinja2.BytecodeCache):
    """Compiled templates kept for the process, keyed by file and checked against its source.

    Jinja compares a checksum of the source before using an entry, so an edited file or an
    operator's override of the same name is compiled afresh; unchanged files are compiled once
    however many environments (bots, start-up checks) the process builds.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _MemoryBytecodeCache()


def template_environment(override_dir: Path | None = None) -> jinja2.Environment:
    """The environment over the operator's folder (when set) and the bundled one."""
    loaders: list[jinja2.BaseLoader] = []
    if override_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(override_dir)))
    loaders.append(jinja2.FileSystemLoader(str(BUNDLED_TEMPLATES)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        extensions=["jinja2.ext.do"],
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2", "html"), default_for_string=False, default=False
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        # An included row (`drift_row.j2`) must not bring its file's last newline along.
        keep_trailing_newline=False,
        # Templates are read once; an operator restarts the bot after restyling.
        auto_reload=False,
        bytecode_cache=_COMPILED,
    )
    env.filters.update(
        esc=escape_mrkdwn,
        ago=_ago,
        duration=_duration,
        pct=_pct,
        clip=clip,
        when=_when,
        # Plain JSON for Block Kit and Markdown; in an HTML document autoescape still applies.
        tojson=json.dumps,
    )
    env.globals.update(button=button)
    return env
