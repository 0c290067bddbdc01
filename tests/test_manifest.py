"""The Slack app manifest asks for exactly what the code needs.

Three views of the same question: a scan of the bot's source for every Web API method it calls
(each must be in the scope map, and the manifest's scopes must be exactly theirs plus the
events'), the running Bolt app for the events it listens to (each must be subscribed, and no
other), and every other test of the suite, which runs against a stand-in that grants the bot
token the manifest's scopes and nothing more.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.web.async_client import AsyncWebClient

from bot.cli import main
from bot.localslack import payloads
from bot.localslack.models import BOT_USER_ID
from bot.slack.manifest import (
    CALLED_METHODS,
    COMMANDS_SCOPE,
    EVENT_SCOPES,
    LISTENED_EVENTS,
    METHOD_SCOPES,
    ManifestError,
    ManifestOptions,
    bot_events,
    bot_scopes,
    build_manifest,
    scopes_for,
)
from tests.harness import BotHarness

BOT_PACKAGE = Path(__file__).resolve().parent.parent / "bot"
_ATTRIBUTE_CALL = re.compile(r"\.([a-z]+(?:_[A-Za-z0-9]+)+)\(")
_SAY = re.compile(r"\bawait say\(")
# Calls the frameworks make on the bot's behalf, not visible as client.<method>( in bot/.
FRAMEWORK_CALLS = {
    "auth.test",  # Bolt's single-workspace authorization, on the first request
}


def api_methods_of(attribute: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """The Web API methods one AsyncWebClient attribute calls (files_upload_v2 calls two)."""
    function = getattr(AsyncWebClient, attribute, None)
    if function is None or not callable(function) or attribute in seen:
        return set()
    source = inspect.getsource(function)
    found = set(re.findall(r'api_call\(\s*"([\w.]+)"', source))
    for inner in re.findall(r"self\.([a-z]+_[A-Za-z0-9_]+)\(", source):
        found |= api_methods_of(inner, seen | {attribute})
    return found


def scanned_methods() -> dict[str, set[str]]:
    """Web API method -> the bot files calling it (the stand-in itself excluded)."""
    calls: dict[str, set[str]] = {}
    for path in BOT_PACKAGE.rglob("*.py"):
        if "localslack" in path.parts:
            continue
        text = path.read_text()
        names = set()
        for attribute in _ATTRIBUTE_CALL.findall(text):
            names |= api_methods_of(attribute)
        if _SAY.search(text):  # Bolt's say() is chat.postMessage
            names.add("chat.postMessage")
        for name in names:
            calls.setdefault(name, set()).add(str(path.relative_to(BOT_PACKAGE.parent)))
    return calls


def test_every_web_api_method_the_code_calls_is_declared_and_mapped() -> None:
    called = set(scanned_methods()) | FRAMEWORK_CALLS
    assert called >= {"chat.postMessage", "conversations.history", "files.completeUploadExternal"}
    unmapped = sorted(called - set(METHOD_SCOPES))
    assert not unmapped, f"no scopes known for {unmapped}: add them to METHOD_SCOPES"
    assert set(CALLED_METHODS) == called, (
        f"called but not declared: {sorted(called - set(CALLED_METHODS))}; "
        f"declared but never called: {sorted(set(CALLED_METHODS) - called)}"
    )


def test_the_manifest_asks_for_exactly_the_scopes_in_use() -> None:
    called = sorted(set(scanned_methods()) | FRAMEWORK_CALLS)
    manifest = build_manifest(ManifestOptions(slash_command="/iris", url=None))
    asked = set(manifest["oauth_config"]["scopes"]["bot"])
    needed = set(scopes_for(called, bot_events()))
    assert asked == needed, f"missing {sorted(needed - asked)}, unused {sorted(asked - needed)}"
    users: dict[str, list[str]] = {COMMANDS_SCOPE: ["the slash command"]}
    for name in called:
        for scope in METHOD_SCOPES[name]:
            users.setdefault(scope, []).append(name)
    for event in bot_events():
        for scope in EVENT_SCOPES[event]:
            users.setdefault(scope, []).append(event)
    assert sorted(asked) == sorted(users), users
    # The recovery of stakeholder updates reads DMs: without im:history it cannot.
    assert "conversations.history" in called and "im:history" in asked


def test_an_unmapped_method_or_event_is_an_error_not_a_silent_gap() -> None:
    with pytest.raises(KeyError):
        scopes_for(["admin.users.invite"], [])
    with pytest.raises(KeyError):
        scopes_for([], ["team_join"])


def event_of(kind: str, ts: str = "1700000000.000100") -> dict[str, Any]:
    """A minimal event of this type, as the Events API delivers it (about message `ts`)."""
    event: dict[str, Any] = {"type": kind, "user": "U0VIEWER", "event_ts": "1700000000.000100"}
    if kind.startswith("message."):
        channel_type = {"channels": "channel", "groups": "group"}.get(kind[8:], kind[8:])
        event.update(type="message", channel="C0ONCALL", channel_type=channel_type, text="hi")
        event["ts"] = event["event_ts"]
    elif kind.startswith("reaction_"):
        event.update(reaction="eyes", item={"type": "message", "channel": "C0ONCALL", "ts": "1.2"})
    elif kind == "app_mention":
        event.update(channel="C0ONCALL", ts=ts, text=f"<@{BOT_USER_ID}> hi")
    else:
        event.update(channel="C0ONCALL")
    return event


async def test_the_manifest_subscribes_to_exactly_the_events_the_bolt_app_listens_to(
    bot: BotHarness,
) -> None:
    subscribed = set(bot_events())
    # Every event Slack knows to the scope map; whatever the app answers 404 has no listener.
    catalogue = sorted(set(EVENT_SCOPES) | subscribed | {"team_join", "channel_rename"})
    answered: dict[str, int] = {}
    await bot.slack.send_message("carol", "oncall", "a message the mention is about")
    ts = bot.slack.messages("oncall")[-1].ts
    for i, kind in enumerate(catalogue):
        body = payloads.event_callback(event_of(kind, ts), event_id=f"EvManifest{i}")
        answered[kind] = (await bot.slack.delivery.deliver("events_api", body)).status
    # Slack delivers message.channels, message.im, ... all as type `message`: one listener.
    listened = {event_of(k)["type"] for k, status in answered.items() if status == 200}
    assert listened == {event_of(e)["type"] for e in subscribed} == set(LISTENED_EVENTS), answered
    unheard = {k: status for k, status in answered.items() if event_of(k)["type"] not in listened}
    assert unheard and set(unheard.values()) == {404}, answered
    assert all(answered[e] == 200 for e in subscribed), answered
    # The app_mention reply went out under the manifest's scopes.
    await bot.slack.wait_for_text("help", thread_ts=ts)
    assert not [c for c in bot.slack.api_log if c.error == "missing_scope"]


def run_cli(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp: Path
) -> tuple[int, str, str]:
    monkeypatch.chdir(tmp)  # no oncall.toml of the developer's
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLASH_COMMAND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLASH_COMMAND", "/ml")
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_an_http_mode_manifest(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, out, _ = run_cli(
        ["manifest", "--url", "https://bot.example.com/"], capsys, monkeypatch, tmp_path
    )
    assert code == 0
    manifest = yaml.safe_load(out)
    url = "https://bot.example.com/slack/events"
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/ml" and command["url"] == url
    assert command["should_escape"] is True and command["description"] and command["usage_hint"]
    assert manifest["features"]["bot_user"]["display_name"]
    settings = manifest["settings"]
    assert settings["event_subscriptions"] == {"request_url": url, "bot_events": bot_events()}
    assert settings["interactivity"] == {"is_enabled": True, "request_url": url}
    assert settings["socket_mode_enabled"] is False
    assert settings["org_deploy_enabled"] is False and settings["token_rotation_enabled"] is False
    assert manifest["oauth_config"]["scopes"]["bot"] == bot_scopes()
    assert manifest["display_information"]["name"]


def test_cli_prints_a_socket_mode_manifest_without_urls(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, out, _ = run_cli(["manifest", "--socket"], capsys, monkeypatch, tmp_path)
    assert code == 0
    manifest = yaml.safe_load(out)
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "url" not in out  # no request URL anywhere
    assert manifest["settings"]["interactivity"] == {"is_enabled": True}
    assert manifest["settings"]["event_subscriptions"] == {"bot_events": bot_events()}
    assert manifest["oauth_config"]["scopes"]["bot"] == bot_scopes()


@pytest.mark.parametrize(
    "url", ["http://bot.example.com", "bot.example.com", "https://", "https://x.com/?a=1"]
)
def test_cli_refuses_a_url_slack_would_not_post_to(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, out, err = run_cli(["manifest", "--url", url], capsys, monkeypatch, tmp_path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--url" in err


def test_a_url_with_a_path_keeps_it() -> None:
    manifest = build_manifest(ManifestOptions("/iris", "https://example.com/oncall/"))
    assert manifest["settings"]["interactivity"]["request_url"] == (
        "https://example.com/oncall/slack/events"
    )
    with pytest.raises(ManifestError):
        build_manifest(ManifestOptions("/iris", "ftp://example.com"))
