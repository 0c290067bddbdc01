"""What a person does in Slack: each action stores its effect, then delivers it to the bot.

Ack bodies are applied the way Slack applies them: a slash command's inline answer becomes an
ephemeral (or, with response_type=in_channel, a channel message); a view_submission's
`response_action` updates, pushes or keeps the modal; block_actions ack bodies are ignored.
"""

from __future__ import annotations

from typing import Any

from . import payloads, render
from .api_errors import ApiError
from .blocks import validate_blocks
from .models import BOT_USER_ID, AckResult, Channel, Message, View
from .server import SlackServer


def _dm_or_channel(slack: SlackServer, user_id: str, channel: str) -> Channel:
    """A channel reference from a person's point of view: the bot's name means "DM the bot"."""
    ws = slack.workspace
    if channel.lstrip("@") in (BOT_USER_ID, ws.users[BOT_USER_ID].name):
        return ws.open_dm([user_id])
    found = ws.find_channel(channel)
    if found is None:
        raise LookupError(
            f"no channel {channel!r}; known: {', '.join(sorted(c.name for c in ws.channels.values()))}"
        )
    return found


async def slash(slack: SlackServer, user: str, channel: str, text: str, command: str) -> AckResult:
    ws = slack.workspace
    person = ws.user(user)
    where = _dm_or_channel(slack, person.id, channel)
    target = slack.interactions.new_response_url(person.id, where.id, None)
    payload = payloads.slash_command(
        user=person,
        channel=where,
        command=command,
        text=text,
        response_url=f"{slack.base_url}/response/{target.id}",
        trigger_id=slack.interactions.new_trigger(person.id),
    )
    result = await slack.delivery.deliver("slash_commands", payload)
    body = result.payload
    if result.ok and body and any(body.get(k) for k in ("text", "blocks", "attachments")):
        try:
            await slack.interactions.apply(target, body)
        except ApiError as exc:
            # Slack shows the user an error instead of the app's answer.
            result.error = f"invalid ack body: {exc.error}"
    return result


def _pick_button(
    message: Message, action_id: str | None, index: int | None, value: str | None
) -> render.Button:
    buttons = render.find_buttons(message.blocks)
    listing = (
        ", ".join(f"[{i}] {b.action_id}={b.value!r}" for i, b in enumerate(buttons, 1)) or "none"
    )
    if index is not None:
        if not 1 <= index <= len(buttons):
            raise LookupError(f"message {message.ts} has no button {index}; buttons: {listing}")
        return buttons[index - 1]
    matches = [
        b
        for b in buttons
        if (action_id is None or b.action_id == action_id) and (value is None or b.value == value)
    ]
    if not matches or (action_id is None and value is None and len(matches) > 1):
        raise LookupError(
            f"cannot pick a button (action_id={action_id!r}, value={value!r}) in message {message.ts}; buttons: {listing}"
        )
    return matches[0]


async def click(
    slack: SlackServer,
    user: str,
    message_or_ts: Message | str,
    action_id: str | None,
    index: int | None,
    value: str | None,
) -> AckResult:
    ws = slack.workspace
    person = ws.user(user)
    message = message_or_ts if isinstance(message_or_ts, Message) else ws.find_any(message_or_ts)
    if message is None or message.deleted:
        raise LookupError(f"no message {message_or_ts!r} to click on")
    if message.ephemeral and message.visible_to != person.id:
        raise LookupError(f"message {message.ts} is an ephemeral only {message.visible_to} can see")
    button = _pick_button(message, action_id, index, value)
    channel = ws.channel(message.channel)
    target = slack.interactions.new_response_url(person.id, channel.id, message)
    payload = payloads.block_actions(
        user=person,
        channel=channel,
        message=message,
        button=button,
        value=button.value,
        response_url=f"{slack.base_url}/response/{target.id}",
        trigger_id=slack.interactions.new_trigger(person.id),
        action_ts=ws.next_ts(),
    )
    return await slack.delivery.deliver("interactive", payload)


async def send_message(
    slack: SlackServer, user: str, channel: str, text: str, thread_ts: str | None
) -> AckResult:
    ws = slack.workspace
    person = ws.user(user)
    where = _dm_or_channel(slack, person.id, channel)
    message = ws.new_message(where, person.id, text=text, thread_ts=thread_ts)
    await ws.commit(message, "new")
    parent = ws.find_message(where.id, message.thread_ts) if message.is_reply else None
    event = payloads.message_event(message, where, parent.user if parent else None)
    result = await slack.delivery.deliver(
        "events_api", payloads.event_callback(event, event_id=ws.next_id("Ev"))
    )
    if f"<@{BOT_USER_ID}>" in text and not where.is_im:
        # Slack sends app_mention as a separate event alongside the message event.
        mention = payloads.app_mention_event(message)
        await slack.delivery.deliver(
            "events_api", payloads.event_callback(mention, event_id=ws.next_id("Ev"))
        )
    return result


async def add_reaction(
    slack: SlackServer, user: str, channel: str, ts: str, name: str
) -> AckResult:
    ws = slack.workspace
    person = ws.user(user)
    where = _dm_or_channel(slack, person.id, channel)
    message = ws.find_message(where.id, ts)
    if message is None:
        raise LookupError(f"no message {ts} in {where.label}")
    name = name.strip(":")
    users = message.reactions.setdefault(name, [])
    if person.id not in users:
        users.append(person.id)
    await ws.commit(message, "reaction")
    event = payloads.reaction_added_event(
        user=person.id, message=message, name=name, event_ts=ws.next_ts()
    )
    return await slack.delivery.deliver(
        "events_api", payloads.event_callback(event, event_id=ws.next_id("Ev"))
    )


async def submit_view(
    slack: SlackServer, user: str, view_id: str, values: dict[str, Any]
) -> AckResult:
    ws = slack.workspace
    person = ws.user(user)
    view = ws.views.get(view_id)
    if view is None or view.closed:
        raise LookupError(
            f"no open view {view_id!r}; open: {[v.id for v in ws.views.values() if not v.closed]}"
        )
    payload = payloads.view_submission(
        user=person, view=view, values=values, trigger_id=slack.interactions.new_trigger(person.id)
    )
    result = await slack.delivery.deliver("interactive", payload)
    if result.ok:
        try:
            _apply_response_action(slack, view, result.payload or {})
        except ApiError as exc:
            result.error = f"invalid response_action: {exc.error}"
        await ws.commit()
    return result


def _apply_response_action(slack: SlackServer, view: View, body: dict[str, Any]) -> None:
    ws = slack.workspace
    action = body.get("response_action")
    if action == "errors":
        return  # the modal stays open showing the errors
    if action in ("update", "push"):
        new_view = body.get("view")
        if not isinstance(new_view, dict):
            raise ApiError("invalid_arguments")
        checked = {
            **new_view,
            "blocks": validate_blocks(
                new_view.get("blocks", []), max_blocks=100, seed=ws.next_ts()
            ),
        }
        if action == "update":
            view.view, view.hash = checked, ws.next_id("h")
        else:
            pushed = View(ws.next_id("V"), view.user, checked, hash=ws.next_id("h"))
            pushed.root_view_id = view.root_view_id or view.id
            ws.views[pushed.id] = pushed
        return
    # No body or "clear": the modal closes ("clear" closes the whole stack).
    root = view.root_view_id or view.id
    for other in ws.views.values():
        if other is view or (action == "clear" and (other.root_view_id or other.id) == root):
            other.closed = True
