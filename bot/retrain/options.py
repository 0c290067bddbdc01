"""`/iris retrain` options: estimator, hyper-parameters, which collected data, --force. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.model_registry.errors import InvalidParams, UnknownEstimator
from bot.training import iris

# The dataset store's sources; `base` (bundled Iris) is always in a training set.
COLLECTED_SOURCES: tuple[str, ...] = ("landing", "feedback")
ALL_SOURCES: tuple[str, ...] = ("base", *COLLECTED_SOURCES)


class RetrainOptionsError(ValueError):
    """One or more problems with the options; each is a sentence a person can act on."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class RetrainOptions:
    estimator: str
    params: dict[str, Any]
    include: tuple[str, ...] = ALL_SOURCES
    force: bool = False
    explicit_params: dict[str, str] = field(default_factory=dict)


def parse_include(text: str | None) -> tuple[str, ...]:
    """`landing,feedback` → ("base", "landing", "feedback"); unknown names raise."""
    if text is None or not text.strip():
        return ALL_SOURCES
    wanted = [w.strip().lower() for w in text.replace(" ", ",").split(",") if w.strip()]
    unknown = [w for w in wanted if w not in ALL_SOURCES]
    if unknown:
        raise RetrainOptionsError(
            [
                f"--include: unknown source {', '.join(unknown)}; "
                f"choose from {', '.join(COLLECTED_SOURCES)}"
            ]
        )
    return tuple(s for s in ALL_SOURCES if s == "base" or s in wanted)


def parse_retrain_options(
    *,
    params: Mapping[str, str],
    options: Mapping[str, str],
    flags: Iterable[str],
    positionals: Iterable[str] = (),
    default_estimator: str | None,
) -> RetrainOptions:
    """Check everything at once so the answer lists every problem, not only the first."""
    problems: list[str] = []
    flags = set(flags)
    extra = list(positionals)
    if extra:
        problems.append(
            f"unexpected {' '.join(extra)!r}: give hyper-parameters as key=value "
            "and the estimator as --estimator NAME"
        )
    unknown_flags = sorted(flags - {"force"})
    if unknown_flags:
        problems.append(f"unknown option --{', --'.join(unknown_flags)}")
    unknown_options = sorted(set(options) - {"estimator", "include"})
    if unknown_options:
        problems.append(f"unknown option --{', --'.join(unknown_options)}")
    estimator = (options.get("estimator") or default_estimator or "").strip().lower()
    validated: dict[str, Any] = {}
    if not estimator:
        problems.append(f"name an estimator with --estimator ({', '.join(iris.ESTIMATORS)})")
    else:
        try:
            validated = iris.validate_params(estimator, dict(params))
        except UnknownEstimator:
            problems.append(
                f"unknown estimator `{estimator}`; choose from {', '.join(iris.ESTIMATORS)}"
            )
        except InvalidParams as exc:
            problems.extend(f"`{k}`: {why}" for k, why in _problems(exc).items())
    include = ALL_SOURCES
    try:
        include = parse_include(options.get("include"))
    except RetrainOptionsError as exc:
        problems.extend(exc.problems)
    if problems:
        raise RetrainOptionsError(problems)
    return RetrainOptions(
        estimator=estimator,
        params=validated,
        include=include,
        force="force" in flags,
        explicit_params=dict(params),
    )


def _problems(exc: InvalidParams) -> dict[str, str]:
    found = getattr(exc, "problems", None)
    if isinstance(found, Mapping):
        return {str(k): str(v) for k, v in found.items()}
    return {"params": str(exc)}
