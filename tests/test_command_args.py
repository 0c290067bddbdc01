"""Declared arguments: the usage line is generated from them, and `bind` checks counts and kinds
before a handler runs, so no handler writes its own usage error. Every command's words are in
templates/_commands.j2, and nothing there names a command or argument that does not exist."""

from __future__ import annotations

import pytest

from bot.commands.context import Arg, Command, Opt, UsageProblem, bind
from bot.commands.kinds import COUNT, PERSON, USER
from bot.messages import TemplateRenderer
from bot.slack.handlers import BUTTONS, COMMANDS
from bot.slack.handlers.incident_common import INCIDENT, SEV_WORD, SEVERITY, STRICT_INCIDENT


async def _noop(ctx):  # type: ignore[no-untyped-def]
    return None


SEV = Command(
    "incident sev",
    _noop,
    args=(
        Arg("incident", optional=True, kind=STRICT_INCIDENT, shown="INC-n"),
        Arg("severity", kind=SEVERITY, shown="1-4"),
    ),
)
DECLARE = Command(
    "incident declare",
    _noop,
    args=(Arg("severity", optional=True, kind=SEVERITY), Arg("title", rest=True)),
)
AUDIT = Command(
    "audit",
    _noop,
    args=(Arg("count", optional=True, kind=COUNT), Arg("user", optional=True, kind=USER)),
    any_order=True,
)


def _problem(command: Command, words: list[str]) -> UsageProblem:
    with pytest.raises(UsageProblem) as raised:
        bind(command, words)
    return raised.value


def test_usage_line_comes_from_the_declaration() -> None:
    command = Command(
        "deploy", _noop, args=(Arg("version"),), options=(Opt("reason", value='"..."'),)
    )
    assert command.usage == 'deploy <version> [--reason "..."]'
    assert command.value_options == frozenset({"reason"})
    assert SEV.usage == "incident sev [INC-n] <1-4>"
    commander = Command("c", _noop, args=(Arg("user", kind=PERSON, shown="@user", bare=True),))
    assert commander.usage == "c @user"
    assert Command("r", _noop, options=(Opt("force"),), params=True).usage == (
        "r [--force] [key=value ...]"
    )


def test_optional_leading_argument_is_taken_only_when_its_kind_fits() -> None:
    assert bind(SEV, ["INC-3", "sev2"]) == {"incident": "INC-3", "severity": "SEV2"}
    assert bind(SEV, ["2"]) == {"incident": None, "severity": "SEV2"}  # a bare 2 is a value
    assert bind(DECLARE, ["sev1", "model", "is", "down"]) == {
        "severity": "SEV1",
        "title": "model is down",
    }
    assert bind(DECLARE, ["accuracy=50%", "everywhere"])["title"] == "accuracy=50% everywhere"


def test_missing_bad_and_extra_words() -> None:
    missing = _problem(SEV, ["INC-1"])
    assert (missing.kind, missing.facts["arg"].name) == ("missing", "severity")
    assert _problem(SEV, ["bogus"]).facts["word"] == "bogus"  # not an INC-n, so no severity
    assert _problem(DECLARE, []).facts["arg"].name == "title"
    bad = _problem(SEV, ["INC-1", "7"])
    assert (bad.kind, bad.facts["word"], bad.facts["arg"].name) == ("bad", "7", "severity")
    extra = _problem(SEV, ["INC-1", "2", "3"])
    assert (extra.kind, extra.facts["words"]) == ("extra", ["3"])


def test_any_order_and_rejected_words() -> None:
    assert bind(AUDIT, ["<@U0BOB|bob>", "50"]) == {"count": 50, "user": "U0BOB"}
    assert bind(AUDIT, []) == {"count": None, "user": None}
    assert _problem(AUDIT, ["lots"]).kind == "unclaimed"
    assert _problem(AUDIT, ["5", "6"]).kind == "unclaimed"  # one count only
    subscribe = Command(
        "subscribe",
        _noop,
        args=(
            Arg("incident", optional=True, kind=INCIDENT),
            Arg("sev", optional=True, kind=SEV_WORD),
        ),
        any_order=True,
    )
    assert bind(subscribe, ["sev2", "1"]) == {"incident": "1", "sev": "SEV2"}
    rejected = _problem(subscribe, ["sev5"])  # meant as a severity, but not one
    assert (rejected.kind, rejected.facts["word"]) == ("bad", "sev5")


def test_every_command_and_button_is_declared_once_with_its_words() -> None:
    words = TemplateRenderer().env.get_template("_commands.j2").module.COMMANDS  # type: ignore[attr-defined]
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names))
    assert sorted(names) == sorted(words), "every command has a summary in _commands.j2"
    for command in COMMANDS:
        about = words[command.name]
        assert about["summary"], command.name
        declared = {a.name for a in command.args}
        assert set(about.get("hints", {})) <= declared, command.name
        # A missing argument is answered with the command's own words, not a generic line.
        required = {a.name for a in command.args if not a.optional}
        assert required <= set(about.get("hints", {})), command.name
        for example in about.get("examples", []):
            assert example.split()[: len(command.path)] == list(command.path), example
    ids = [getattr(b, "action_id", None) or getattr(b, "callback_id", None) for b in BUTTONS]
    assert len(ids) == len(set(ids))
