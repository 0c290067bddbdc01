"""The README's first screen and configuration table stay true to the code."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_first_screen_shows_the_two_commands() -> None:
    first_screen = "\n".join(README.splitlines()[:25])
    assert "make run" in first_screen and "make test" in first_screen


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in README]
    assert not missing, f"add these to README.md (python scripts/settings_table.py): {missing}"
