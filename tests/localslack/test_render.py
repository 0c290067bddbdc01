"""Block Kit -> text rendering shared by Message.plain() and the shell."""

from __future__ import annotations

from bot.localslack import render

BLOCKS = [
    {"type": "header", "text": {"type": "plain_text", "text": "Model status"}},
    {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "<@U0ONCALL> see <https://x.test/r/1|run 1> in <#C0ONCALL>",
        },
        "accessory": {
            "type": "button",
            "action_id": "open",
            "text": {"type": "plain_text", "text": "Open"},
        },
    },
    {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Acc*\n0.97"}]},
    {"type": "divider"},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "updated 12:00"}]},
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "ok",
                "text": {"type": "plain_text", "text": "Confirm"},
                "value": "1",
            },
            {
                "type": "static_select",
                "action_id": "pick",
                "placeholder": {"type": "plain_text", "text": "Env"},
            },
            {"type": "button", "action_id": "no", "text": {"type": "plain_text", "text": "Cancel"}},
        ],
    },
]


def test_plain_rendering() -> None:
    assert render.plain("fallback", BLOCKS) == "\n".join(
        [
            "Model status",
            "@U0ONCALL see run 1 (https://x.test/r/1) in #C0ONCALL",
            "[1] Open",
            "*Acc* 0.97",
            "---",
            "updated 12:00",
            "[2] Confirm  [Env ▾]  [3] Cancel",
        ]
    )


def test_plain_falls_back_to_text_and_attachments() -> None:
    assert render.plain("just <@U1|bob> text", []) == "just @bob text"
    attachments = [
        {"color": "danger", "title": "Drift", "fields": [{"title": "PSI", "value": "0.4"}]}
    ]
    assert render.plain("", [], attachments) == "Drift\nPSI: 0.4"


def test_button_numbering_matches_find_buttons() -> None:
    assert [(b.action_id, b.text, b.value) for b in render.find_buttons(BLOCKS)] == [
        ("open", "Open", None),
        ("ok", "Confirm", "1"),
        ("no", "Cancel", None),
    ]


def test_resolver_names_users_and_channels() -> None:
    names = {"U0ONCALL": "bob", "C0ONCALL": "oncall"}
    text = render.mrkdwn("<@U0ONCALL> in <#C0ONCALL> <!here>", names.get)
    assert text == "@bob in #oncall @here"


def test_styled_lines() -> None:
    lines = render.block_lines(BLOCKS)
    coloured = render.style_lines(lines, color=True)
    assert coloured[0] == "\x1b[1;4mModel status\x1b[0m"
    assert any(line.startswith("\x1b[2m──") for line in coloured)
    plain = render.style_lines(lines, color=False)
    assert plain[:2] == ["Model status", "════════════"]
    assert "\x1b" not in "".join(plain)
