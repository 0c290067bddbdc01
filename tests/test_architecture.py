"""The house rules that code review forgets: no import cycles, short modules, domains free of
Slack, HTTP and scheduler libraries. Each allowlist below names what exists today with the reason;
work on the code shrinks them, and a stale entry fails the test so the list cannot rot.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.import_graph import Package, cycles

# Each entry is one strongly connected component of today's import graph (imports inside functions
# and under TYPE_CHECKING included), as its sorted module names.
ALLOWED_CYCLES: dict[tuple[str, ...], str] = {}

MAX_LINES = 400
# Module -> why it is longer than MAX_LINES.
LONG_MODULES: dict[str, str] = {
    "bot.app": (
        "the composition root: every domain built in dependency order in one function, so the "
        "order is read in one place rather than followed across files"
    ),
    "bot.retrain.actions": (
        "one action per step of runbooks/retrain.md (ingest, train, register, gate, promote, "
        "reject), sharing the registry helpers they call"
    ),
    "bot.model_registry.mlflow_backend": (
        "one class behind ModelService, including skops loading with the trusted-type list; "
        "its halves share the client and the lock"
    ),
    "bot.runbook.engine": (
        "the run state machine (drive loop, confirm, cancel, rollback) reads best in one place"
    ),
}

FORBIDDEN_IN_DOMAINS = ("slack_bolt", "slack_sdk", "starlette", "apscheduler")
# The adapters and the composition root: the only places that may speak Slack, HTTP or cron.
ADAPTERS = (
    "bot.slack",  # Bolt listeners, the Slack Web API client
    "bot.localslack",  # the local Slack stand-in, an HTTP server by nature
    "bot.app",  # composition root
    "bot.runtime",
    "bot.services",
    "bot.cli",
    "bot.servers",
    "bot.web",  # the bot's Starlette app
    "bot.request_body",  # bounded reading of HTTP request bodies, shared by every route
    "bot.scheduling",  # the APScheduler adapter
    "bot.local_jobs",  # the local workspace's run-due-jobs route (Starlette)
    "bot.serving.app",  # the model server's own Starlette front
    "bot.serving.front",  # the local engine's front process (Starlette), before the workers
    "bot.serving.engines",  # runs the chosen serving engine (uvicorn/Starlette)
    "bot.serving.reload",  # the model server's reload-now route
)
# Domain module -> which of the libraries above it imports today, and why.
DOMAIN_EXCEPTIONS: dict[str, str] = {
    "bot.config": "apscheduler: a cron setting is checked with APScheduler's own parser",
    "bot.data.feedback_route": "starlette: the feedback HTTP route sits beside the data domain",
    "bot.alerts.webhook": "starlette: the alert webhook route sits beside the alerts domain",
    "bot.updates.scheduled": "apscheduler: update and reminder jobs add their own triggers",
    "bot.monitoring.scheduled": "apscheduler: monitoring jobs add their own triggers",
    "bot.retrain.scheduled": "apscheduler: retrain jobs add their own triggers",
    "bot.access.scheduled": "apscheduler: grant deadline, retry and reminder jobs add their own triggers",
    "bot.quality.scheduled": "apscheduler: the quality monitor job adds its own trigger",
    "bot.serving.quality_routes": "starlette: the model server's GET /v1/quality beside the gate",
    "bot.pipelines.scheduled": "apscheduler: the pipeline poll adds its own trigger",
    "bot.pipelines.webhook": "starlette: the failure sensor's route sits beside the pipeline domain",
    "bot.gameday.scheduled": "apscheduler: a drill's --speed reschedules the monitor job",
    "bot.capacity.scheduled": "apscheduler: the capacity/burn job adds its own trigger",
}


@pytest.fixture(scope="module")
def package() -> Package:
    return Package.read()


def test_no_import_cycles_beyond_the_allowlist(package: Package) -> None:
    found = {tuple(c) for c in cycles(package.graph())}
    new = sorted(found - set(ALLOWED_CYCLES))
    gone = sorted(set(ALLOWED_CYCLES) - found)
    assert not new, (
        "import cycle(s) in bot/: "
        + "; ".join(" <-> ".join(c) for c in new)
        + ". Break it: move the shared type to a module both can import, pass the dependency in "
        "as a constructor argument, or merge the two modules. Imports inside functions and under "
        "TYPE_CHECKING count too; moving an import there does not break a cycle."
    )
    assert not gone, (
        "these allowed cycles no longer exist (or changed members): "
        + "; ".join(" <-> ".join(c) for c in gone)
        + ". Remove (or update) their entries in ALLOWED_CYCLES in tests/test_architecture.py."
    )


def test_no_module_over_400_lines_without_a_reason(package: Package) -> None:
    long = {m for m in package.files if package.lines(m) > MAX_LINES}
    new = sorted(long - set(LONG_MODULES))
    assert not new, (
        f"over {MAX_LINES} lines: "
        + ", ".join(f"{m} ({package.lines(m)})" for m in new)
        + ". Split the module by what changes together, or add it to LONG_MODULES in "
        "tests/test_architecture.py with the reason it reads better as one file."
    )
    stale = sorted(set(LONG_MODULES) - long)
    assert not stale, f"no longer over {MAX_LINES} lines: {stale}; remove them from LONG_MODULES"


def _is_adapter(module: str) -> bool:
    return any(module == a or module.startswith(a + ".") for a in ADAPTERS)


def test_domains_import_no_slack_http_or_scheduler_library(package: Package) -> None:
    offenders: dict[str, set[str]] = {}
    for module, tree in package.trees.items():
        if _is_adapter(module):
            continue
        for name in _imported_names(tree):
            if name.split(".")[0] in FORBIDDEN_IN_DOMAINS:
                offenders.setdefault(module, set()).add(name.split(".")[0])
    new = sorted(set(offenders) - set(DOMAIN_EXCEPTIONS))
    assert not new, (
        "domain modules importing adapter libraries: "
        + ", ".join(f"{m} ({', '.join(sorted(offenders[m]))})" for m in new)
        + ". A domain takes and returns plain values: move the Slack/HTTP/scheduler code into an "
        "adapter (bot/slack, bot/web.py, bot/scheduling.py) and call the domain from there."
    )
    stale = sorted(set(DOMAIN_EXCEPTIONS) - set(offenders))
    assert not stale, f"these no longer import adapter libraries: {stale}; remove the exceptions"


def _imported_names(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.append(node.module)
    return names


# --- the graph reader itself, on a package small enough to check by hand --------------------------


def test_graph_resolves_relative_function_level_and_type_checking_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "bot"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .a import x\n")
    (pkg / "sub" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.sub.b import y\nx = 1\n"
    )
    (pkg / "sub" / "b.py").write_text("def f():\n    from .. import c\n    return c\ny = 2\n")
    (pkg / "c.py").write_text("import bot.sub.a\nfrom bot.sub import b\n")
    package = Package.read(tmp_path)
    graph = package.graph()
    assert graph == {
        "bot": set(),
        "bot.sub": {"bot.sub.a"},
        "bot.sub.a": {"bot.sub.b"},
        "bot.sub.b": {"bot.c"},  # `from .. import c` loads the submodule
        # Entering bot.sub from outside runs its __init__ first, which imports a.
        "bot.c": {"bot.sub", "bot.sub.a", "bot.sub.b"},
    }
    # A cycle through a function-level import and a TYPE_CHECKING one is still a cycle.
    assert cycles(graph) == [["bot.c", "bot.sub", "bot.sub.a", "bot.sub.b"]]
    (pkg / "sub" / "b.py").write_text("from bot import sub\ny = 2\n")
    graph = Package.read(tmp_path).graph()
    assert graph["bot.sub.b"] == {"bot.sub"} and cycles(graph) == [
        ["bot.sub", "bot.sub.a", "bot.sub.b"]
    ]
    imports = package.imports()
    assert any(i.source == "bot.sub.b" and i.in_function for i in imports)
    assert any(i.source == "bot.sub.a" and i.type_checking for i in imports)
    assert not any(i.source == "bot.c" and (i.in_function or i.type_checking) for i in imports)
