"""Builds the game days of one bot: the kinds, the scenarios (checked at start) and GameDays."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from bot.config import Settings
from bot.gameday.cleanups import register_cleanups
from bot.gameday.context import BotControl, GamedayDeps
from bot.gameday.faults import register_faults
from bot.gameday.flows import GameDays
from bot.gameday.kinds import GamedayKinds
from bot.gameday.ports import DrillReporter, Pacer, Responder
from bot.gameday.probes import register_probes
from bot.gameday.scenario import load_scenarios
from bot.messages import TemplateRenderer

BUNDLED_GAMEDAYS = Path(__file__).resolve().parents[2] / "gamedays"


def gameday_kinds() -> GamedayKinds:
    """Every fault, probe and clean-up kind of this build."""
    kinds = GamedayKinds()
    register_faults(kinds.faults)
    register_probes(kinds.probes)
    register_cleanups(kinds.cleanups)
    return kinds


def build_gamedays(
    settings: Settings,
    *,
    deps_without_http: Callable[[httpx.AsyncClient], GamedayDeps],
    reporter: DrillReporter,
    pacer: Pacer,
    renderer: TemplateRenderer,
    local: bool,
    scripted: Callable[[], Responder] | None,
    control: BotControl | None = None,
) -> GameDays:
    """GameDays with its scenarios loaded; a bad scenario file stops start-up (ScenarioError)."""
    kinds = gameday_kinds()
    scenarios = load_scenarios(settings.gamedays_dir or BUNDLED_GAMEDAYS, kinds=kinds)
    enabled = settings.gameday_enabled if settings.gameday_enabled is not None else local
    return GameDays(
        deps=deps_without_http(httpx.AsyncClient()),
        kinds=kinds,
        scenarios=scenarios,
        reporter=reporter,
        pacer=pacer,
        renderer=renderer,
        enabled=enabled,
        reports_dir=settings.oncall_data_dir / "gamedays",
        scripted=scripted,
        control=control,
    )
