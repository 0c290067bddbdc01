"""Kinds of command arguments that any command may declare: a count, a Slack user, a choice."""

from __future__ import annotations

from bot.commands.context import Kind
from bot.commands.parser import slack_user_id


def _count(word: str) -> int | None:
    return int(word) if word.isdigit() else None


def _person(word: str) -> str | None:
    """`me` stays `me` (the handler knows who typed it); `<@U1|bob>` and `U1` are the user id."""
    return "me" if word.lower() == "me" else slack_user_id(word)


COUNT = Kind("count", _count)
USER = Kind("user", slack_user_id)
PERSON = Kind("person", _person)


def choice(name: str, options: tuple[str, ...]) -> Kind:
    """One of `options`, in any case; the value is the option as declared."""
    lowered = {o.lower(): o for o in options}
    return Kind(name, lambda word: lowered.get(word.lower()))
