"""The incident tests' bot: a harness with the alert webhook's credentials and a short debounce."""

from tests.incidents.conftest import bot

__all__ = ["bot"]
