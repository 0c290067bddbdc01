"""Start-up check of every template: render it with its sample data, hold the result to Slack's rules.

A broken template (syntax error, a variable the sample does not provide, blocks Slack would
reject) stops start-up with the file and the problem, instead of failing the first time an
oncall engineer needs the message. Which templates to check comes from the sample data in
`templates/samples/*.yaml`, so adding a template (or an operator overriding one) needs no list
edited here.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from pathlib import Path

import jinja2

from bot.messages.render import BUNDLED_TEMPLATES, TemplateRenderer
from bot.messages.samples import SAMPLES_DIR, sample_file, samples_for
from bot.messages.validate import validate_blocks, validate_text

log = logging.getLogger(__name__)

MISSING_SAMPLE = "no sample data; add templates/samples/<name>.yaml"


@dataclass(frozen=True)
class TemplateProblem:
    """One thing wrong with one template file."""

    file: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class TemplateError(Exception):
    """Start-up found broken templates; the message is one line, the problems are all kept."""

    def __init__(self, problems: list[TemplateProblem]) -> None:
        self.problems = problems
        first = str(problems[0]) if problems else "unknown template problem"
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(first + more)


def display_path(path: str | Path | None, fallback: str) -> str:
    """`templates/foo.j2` for the bundled files, the operator's own path for theirs."""
    if not path:
        return fallback
    resolved = Path(path).resolve()
    if resolved.is_relative_to(BUNDLED_TEMPLATES):
        return f"templates/{resolved.relative_to(BUNDLED_TEMPLATES).as_posix()}"
    return str(path)


def is_block_kit(name: str) -> bool:
    """`status.html.j2` or `postmortem.md.j2` are documents, not chat messages."""
    return "." not in name.removesuffix(".j2")


def _problem_from(exc: Exception, renderer: TemplateRenderer, name: str) -> TemplateProblem:
    fallback = display_path(renderer.path_of(name), name)
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateProblem(
            display_path(exc.filename, fallback), exc.message or str(exc), exc.lineno
        )
    # Jinja rewrites tracebacks so template frames carry the template's file and line; the
    # innermost one is where it broke (possibly an imported macro library).
    file, line = fallback, None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(".j2"):
            file, line = display_path(frame.filename, fallback), frame.lineno
    detail = str(exc) if isinstance(exc, jinja2.TemplateError) else f"{type(exc).__name__}: {exc}"
    return TemplateProblem(file, detail, line)


def check_template(renderer: TemplateRenderer, name: str) -> list[TemplateProblem]:
    """Render one template with each of its samples; every problem found, none when it is fine."""
    file = display_path(renderer.path_of(name), name)
    try:
        samples = samples_for(name)
    except Exception as exc:  # noqa: BLE001 - a sample out of step with its types is a problem too
        return [
            TemplateProblem(file, f"building its sample data failed: {type(exc).__name__}: {exc}")
        ]
    if samples is None:
        return [TemplateProblem(file, MISSING_SAMPLE)]
    problems: list[TemplateProblem] = []
    for sample in samples:
        try:
            rendered = renderer.render(name, **sample.context)
        except jinja2.TemplateSyntaxError as exc:
            return [_problem_from(exc, renderer, name)]
        except Exception as exc:  # noqa: BLE001 - any failure of a template is reported, not raised
            problem = _problem_from(exc, renderer, name)
            problem = TemplateProblem(
                problem.file, f"{problem.message} (sample {sample.label!r})", problem.line
            )
            if problem not in problems:
                problems.append(problem)
            continue
        if not is_block_kit(name):
            continue
        for issue in validate_blocks(rendered.blocks) + validate_text(rendered.text):
            problems.append(TemplateProblem(file, f"{issue} (sample {sample.label!r})"))
    return problems


def check_templates(renderer: TemplateRenderer) -> list[TemplateProblem]:
    """Check every template the bot renders, in the bundled folder or the operator's."""
    problems: list[TemplateProblem] = []
    for name in renderer.all_files():
        # Macro libraries are checked through the templates that import them; compiling them
        # here as well reports a syntax error once, at its own file.
        if name.startswith("_"):
            try:
                renderer.env.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                problems.append(_problem_from(exc, renderer, name))
    for name in renderer.names():
        if not sample_file(name).is_file():
            if not renderer.is_bundled(name) and is_block_kit(name):
                log.warning(
                    "%s: the bot never renders a template of this name; ignored",
                    display_path(renderer.path_of(name), name),
                )
                continue
            if not is_block_kit(name):
                continue  # a document template without a sample: nothing to render it with
        for problem in check_template(renderer, name):
            if problem not in problems:
                problems.append(problem)
    return problems


def _fingerprint(renderer: TemplateRenderer) -> tuple[object, ...]:
    """What the check's answer depends on: every template file's name, size and change time."""
    parts: list[object] = []
    for folder, pattern in (
        (renderer.override_dir, "*.j2"),
        (BUNDLED_TEMPLATES, "*.j2"),
        (SAMPLES_DIR, "*.yaml"),
    ):
        if folder is None or not Path(folder).is_dir():
            parts.append(None)
            continue
        for path in sorted(Path(folder).glob(pattern)):
            stat = path.stat()
            parts.append((str(path.resolve()), stat.st_mtime_ns, stat.st_size))
    return tuple(parts)


# A memo, not state: the same files give the same answer. Compiling every template costs about
# a second, and tests build many bots in one process.
_CHECKED: dict[tuple[object, ...], tuple[TemplateProblem, ...]] = {}


def require_valid_templates(renderer: TemplateRenderer) -> None:
    """Raise TemplateError when any template is broken; an unchanged set is checked once."""
    key = _fingerprint(renderer)
    if key not in _CHECKED:
        if len(_CHECKED) >= 16:
            _CHECKED.clear()
        _CHECKED[key] = tuple(check_templates(renderer))
    problems = list(_CHECKED[key])
    if problems:
        raise TemplateError(problems)
