"""views.*, the files_upload_v2 flow and apps.connections.open."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .api_errors import ApiError
from .blocks import validate_blocks
from .methods import Params, method
from .models import BOT_USER_ID, StoredFile, View
from .server import SlackServer


def _checked_view(slack: SlackServer, params: Params, *, kind: str | None = None) -> dict[str, Any]:
    view = params.structured("view", error="invalid_arguments")
    if not isinstance(view, dict):
        raise ApiError("invalid_arguments", errors=["view must be an object [json-pointer:/view]"])
    if view.get("type") not in ("modal", "home") or (kind and view["type"] != kind):
        raise ApiError(
            "invalid_arguments", errors=["unsupported view type [json-pointer:/view/type]"]
        )
    blocks = validate_blocks(view.get("blocks", []), max_blocks=100, seed=slack.workspace.next_ts())
    if view["type"] == "modal":
        title = view.get("title")
        if not isinstance(title, dict) or not 0 < len(str(title.get("text", ""))) <= 24:
            raise ApiError(
                "invalid_arguments",
                errors=["title must be 1-24 characters [json-pointer:/view/title]"],
            )
        if any(b.get("type") == "input" for b in blocks) and not view.get("submit"):
            raise ApiError(
                "invalid_arguments",
                errors=["submit is required when a view has inputs [json-pointer:/view/submit]"],
            )
    return {**view, "blocks": blocks}


@method("views.open")
async def views_open(slack: SlackServer, params: Params) -> dict[str, Any]:
    user = slack.interactions.use_trigger(params.opt("trigger_id"))
    view = _checked_view(slack, params, kind="modal")
    ws = slack.workspace
    stored = View(
        ws.next_id("V"), user, view, trigger_id=params.opt("trigger_id"), hash=ws.next_id("h")
    )
    ws.views[stored.id] = stored
    await ws.commit()
    return {"view": stored.to_api()}


@method("views.push")
async def views_push(slack: SlackServer, params: Params) -> dict[str, Any]:
    user = slack.interactions.use_trigger(params.opt("trigger_id"))
    view = _checked_view(slack, params, kind="modal")
    ws = slack.workspace
    root = next((v for v in reversed(ws.views.values()) if v.user == user and not v.closed), None)
    stored = View(ws.next_id("V"), user, view, hash=ws.next_id("h"))
    stored.root_view_id = root.root_view_id or root.id if root else None
    ws.views[stored.id] = stored
    await ws.commit()
    return {"view": stored.to_api()}


@method("views.update")
async def views_update(slack: SlackServer, params: Params) -> dict[str, Any]:
    ws = slack.workspace
    view_id, external_id = params.opt("view_id"), params.opt("external_id")
    if not view_id and not external_id:
        raise ApiError("invalid_arguments")
    candidates = [*ws.views.values(), *ws.home_views.values()]
    stored = next(
        (
            v
            for v in candidates
            if (view_id and v.id == view_id)
            or (external_id and v.view.get("external_id") == external_id)
        ),
        None,
    )
    if stored is None:
        raise ApiError("not_found")
    expected = params.opt("hash")
    if expected and expected != stored.hash:
        # Slack's optimistic locking: someone else updated the view since you read it.
        raise ApiError("hash_conflict")
    stored.view = _checked_view(slack, params)
    stored.hash = ws.next_id("h")
    await ws.commit()
    return {"view": stored.to_api()}


@method("views.publish")
async def views_publish(slack: SlackServer, params: Params) -> dict[str, Any]:
    ws = slack.workspace
    user = params.req("user_id", "invalid_arguments")
    if user not in ws.users:
        raise ApiError("user_not_found")
    view = _checked_view(slack, params, kind="home")
    existing = ws.home_views.get(user)
    if existing and params.opt("hash") and params.opt("hash") != existing.hash:
        raise ApiError("hash_conflict")
    stored = View(existing.id if existing else ws.next_id("V"), user, view, hash=ws.next_id("h"))
    ws.home_views[user] = stored
    await ws.commit()
    return {"view": stored.to_api()}


@method("files.getUploadURLExternal")
async def files_get_upload_url(slack: SlackServer, params: Params) -> dict[str, Any]:
    filename = params.req("filename", "invalid_arguments")
    length = params.integer("length", -1)
    if length < 0:
        raise ApiError("invalid_arguments")
    ws = slack.workspace
    stored = StoredFile(ws.next_id("F"), filename, length)
    ws.files[stored.id] = stored
    return {"upload_url": f"{slack.base_url}/upload/{stored.id}", "file_id": stored.id}


async def handle_upload(slack: SlackServer, request: web.Request) -> web.Response:
    """POST /upload/{file_id}: step 2 of files_upload_v2, the raw bytes (Slack answers "OK")."""
    stored = slack.workspace.files.get(request.match_info["file_id"])
    if stored is None:
        return web.Response(status=404, text="file_not_found")
    data = await request.read()
    stored.content = data
    return web.Response(text=f"OK - {len(data)}")


async def handle_download(slack: SlackServer, request: web.Request) -> web.Response:
    stored = slack.workspace.files.get(request.match_info["file_id"])
    if stored is None or stored.content is None:
        return web.Response(status=404, text="file_not_found")
    return web.Response(body=stored.content, content_type="application/octet-stream")


@method("files.completeUploadExternal")
async def files_complete_upload(slack: SlackServer, params: Params) -> dict[str, Any]:
    ws = slack.workspace
    entries = params.structured("files", error="invalid_arguments")
    if not isinstance(entries, list) or not entries:
        raise ApiError("invalid_arguments")
    # Check everything before touching state, so a failing call changes nothing.
    stored_files: list[tuple[StoredFile, str]] = []
    for entry in entries:
        stored = ws.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
        if stored is None or stored.content is None:
            # Never issued, or step 2 (the upload itself) never happened.
            raise ApiError("file_not_found")
        stored_files.append((stored, str(entry.get("title") or stored.filename)))
    channels = [ws.channel(c) for c in [params.opt("channel_id"), *params.csv("channels")] if c]
    if any(BOT_USER_ID not in c.members for c in channels):
        raise ApiError("not_in_channel")
    for stored, title in stored_files:
        stored.title, stored.completed = title, True
    shared = [stored.to_api(slack.base_url) for stored, _ in stored_files]
    for channel in channels:
        message = ws.new_message(
            channel,
            BOT_USER_ID,
            text=params.opt("initial_comment") or "",
            files=shared,
            thread_ts=params.opt("thread_ts"),
        )
        await ws.commit(message, "new")
    return {"files": shared}


@method("apps.connections.open", token="app")
async def connections_open(slack: SlackServer, params: Params) -> dict[str, Any]:
    return {"url": slack.socket.issue_url(slack.base_url)}
