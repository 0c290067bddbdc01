"""Sample contexts for every template, read from `templates/samples/<template>.yaml`.

The samples are data shipped beside the templates, so start-up can render every template (the
bundled ones and an operator's overrides of them) without the messages package knowing any domain
type. Each file is a list of `{label, context}`; a context holds every variable the template reads,
since rendering is strict about undefined names. Templates that show lists or free text have a long
variant that proves truncation and splitting stay within Slack's limits.

Beyond plain YAML (mappings, lists, strings, numbers, timestamps, anchors) four tags cover what the
templates read from the bot's objects:

- `!obj {...}`: an object whose fields a template reads as attributes (`incident.ref`);
- `!enum word`: an enum member, a string that also answers `.value`;
- `!timedelta seconds`: a duration;
- `!repeat {times: N, items: [...]}`: a long list, the items repeated in turn to N entries.

A new template needs a sample file, or start-up reports it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from bot.messages.render import BUNDLED_TEMPLATES

SAMPLES_DIR = BUNDLED_TEMPLATES / "samples"


@dataclass(frozen=True)
class Sample:
    """One context to render a template with; `label` names the variant in problem reports."""

    label: str
    context: dict[str, Any]


class EnumWord(str):
    """Stands in for a `StrEnum` member: compares as its string and has `.value`."""

    @property
    def value(self) -> str:
        return str(self)


# libyaml when PyYAML was built with it (the wheels are): the samples are read at every start-up,
# and the pure-Python parser takes seconds over them.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SampleLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """Safe YAML plus the four sample tags; nothing in a sample file can run code."""


def _obj(loader: yaml.SafeLoader, node: yaml.MappingNode) -> SimpleNamespace:
    return SimpleNamespace(**loader.construct_mapping(node, deep=True))


def _enum(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> EnumWord:
    return EnumWord(loader.construct_scalar(node))


def _timedelta(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> timedelta:
    return timedelta(seconds=float(loader.construct_scalar(node)))


def _repeat(loader: yaml.SafeLoader, node: yaml.MappingNode) -> list[Any]:
    spec = loader.construct_mapping(node, deep=True)
    return list(itertools.islice(itertools.cycle(spec["items"]), int(spec["times"])))


_SampleLoader.add_constructor("!obj", _obj)
_SampleLoader.add_constructor("!enum", _enum)
_SampleLoader.add_constructor("!timedelta", _timedelta)
_SampleLoader.add_constructor("!repeat", _repeat)


def sample_file(name: str) -> Path:
    """Where the samples of a template (`audit` or `audit.j2`) live."""
    return SAMPLES_DIR / f"{name.removesuffix('.j2')}.yaml"


def load_samples(path: Path) -> list[Sample]:
    """Every sample in one file; a malformed file raises ValueError naming what is wrong."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SampleLoader)  # noqa: S506
    if not isinstance(data, list):
        raise ValueError(f"{path.name}: expected a list of {{label, context}}")
    samples = []
    for i, entry in enumerate(data):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("label"), str)
            and isinstance(entry.get("context"), dict)
        ):
            raise ValueError(f"{path.name}: entry {i} needs a `label` and a `context` mapping")
        samples.append(Sample(entry["label"], entry["context"]))
    return samples


def samples_for(name: str) -> list[Sample] | None:
    """The samples of a template (`audit` or `audit.j2`), or None when it has none."""
    path = sample_file(name)
    return load_samples(path) if path.is_file() else None


def known_templates() -> frozenset[str]:
    """File names (`audit.j2`) of every template the bot has sample data for."""
    return frozenset(f"{path.stem}.j2" for path in SAMPLES_DIR.glob("*.yaml"))
