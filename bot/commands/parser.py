"""Parse the text after `/iris` into words, `--flags`, `--option value` and `key=value` pairs.

Slack hands us free text that people type on phones: curly quotes, unbalanced quotes, stray
spaces. The tokenizer is shell-like but forgiving: an unbalanced quote is reported as a parse
error with a hint, never an exception.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from dataclasses import dataclass, field

# Quotes that Slack clients and phones substitute for plain ones.
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "«": '"', "»": '"'})
# What phones and macOS type for `--`: an em or en dash (or a run of them) at the start of a word.
_DASH_OPTION = re.compile(r"(?<!\S)[\u2014\u2013\u2012\u2015\u2212]+(?=[A-Za-z])")
_KEY_VALUE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$", re.S)
_SLACK_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


class ParseError(ValueError):
    """The command text cannot be tokenized. `kind` and `facts` pick the words of the answer
    (templates/usage_error.j2); the message is for logs and the audit trail."""

    def __init__(self, message: str, *, kind: str, **facts: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.facts = facts


@dataclass
class ParsedArgs:
    """Tokens of one command after the subcommand words were taken off."""

    positionals: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    options: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    def flag(self, name: str) -> bool:
        return name in self.flags

    def option(self, name: str, default: str | None = None) -> str | None:
        return self.options.get(name, default)

    def rest(self, start: int = 0) -> str:
        """Positionals from `start` joined back into free text (titles, notes, summaries)."""
        return " ".join(self.positionals[start:])


def normalize(text: str) -> str:
    """One spelling for what people type: NFKC (`ｖ２` is `v2`), plain quotes, `—reason` is `--reason`."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return _DASH_OPTION.sub("--", text)


def tokenize(text: str) -> list[str]:
    """Split command text into tokens, shell style."""
    cleaned = normalize(text).strip()
    if not cleaned:
        return []
    if not any(c in cleaned for c in "\"'\\"):
        return cleaned.split()  # nothing to unquote: shlex's character loop is not needed
    lexer = shlex.shlex(cleaned, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError as exc:  # "No closing quotation"
        raise ParseError(f"{exc}: close the quote or remove it", kind="open_quote") from None


def parse_args(tokens: list[str], *, value_options: frozenset[str] = frozenset()) -> ParsedArgs:
    """Sort tokens into positionals, flags, options (those in `value_options` take a value) and key=value params."""
    parsed = ParsedArgs()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("--") and len(token) > 2:
            name, eq, value = token[2:].partition("=")
            name = name.lower()
            if eq:
                parsed.options[name] = value
            elif name in value_options:
                if i + 1 >= len(tokens):
                    raise ParseError(
                        f"--{name} needs a value", kind="option_needs_value", option=name
                    )
                parsed.options[name] = tokens[i + 1]
                i += 1
            else:
                parsed.flags.add(name)
        elif (match := _KEY_VALUE.match(token)) and not _SLACK_USER.match(token):
            parsed.params[match.group(1)] = match.group(2)
        else:
            parsed.positionals.append(token)
        i += 1
    return parsed


def slack_user_id(token: str) -> str | None:
    """`<@U123|bob>` or `U123` → `U123`; anything else → None."""
    match = _SLACK_USER.match(token)
    if match:
        return match.group(1)
    return token if re.fullmatch(r"[UW][A-Z0-9]{2,}", token) else None
