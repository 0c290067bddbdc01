"""The command parser: what people type on phones and keyboards."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.commands.parser import ParseError, parse_args, slack_user_id, tokenize


def test_words_flags_options_and_params() -> None:
    tokens = tokenize(
        'retrain --estimator random_forest n_estimators=200 --force --reason "data refresh"'
    )
    args = parse_args(tokens[1:], value_options=frozenset({"estimator", "reason"}))
    assert args.positionals == []
    assert args.options == {"estimator": "random_forest", "reason": "data refresh"}
    assert args.flags == {"force"}
    assert args.params == {"n_estimators": "200"}


def test_curly_quotes_from_slack_clients_are_plain_quotes() -> None:
    assert tokenize("incident declare sev2 “accuracy dropped”") == [
        "incident",
        "declare",
        "sev2",
        "accuracy dropped",
    ]


def test_option_with_equals_and_missing_value() -> None:
    assert parse_args(["--reason=late data"], value_options=frozenset({"reason"})).options == {
        "reason": "late data"
    }
    with pytest.raises(ParseError, match="--reason needs a value"):
        parse_args(["--reason"], value_options=frozenset({"reason"}))


def test_unbalanced_quote_is_a_parse_error_with_a_hint() -> None:
    with pytest.raises(ParseError, match="close the quote"):
        tokenize('deploy "v2')


def test_slack_user_mentions() -> None:
    assert slack_user_id("<@U0ONCALL|bob>") == "U0ONCALL"
    assert slack_user_id("U0ONCALL") == "U0ONCALL"
    assert slack_user_id("bob") is None
    # A mention is never taken for key=value.
    assert parse_args(["<@U0ONCALL|bob=x>"]).positionals == ["<@U0ONCALL|bob=x>"]


@given(st.text(max_size=200))
def test_any_text_tokenizes_or_raises_parse_error(text: str) -> None:
    try:
        tokens = tokenize(text)
    except ParseError:
        return
    try:
        args = parse_args(tokens, value_options=frozenset({"reason"}))
    except ParseError as exc:
        assert "--reason needs a value" in str(exc)
        return
    # Every token lands in exactly one bucket.
    assert len(args.positionals) + len(args.flags) + len(args.options) + len(args.params) <= len(
        tokens
    )
