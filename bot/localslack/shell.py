"""A terminal Slack client for the local workspace: type as a user, watch the bot answer.

Input is read on a daemon thread (a blocking `readline` must not stall the event loop that
serves the bot, and a daemon thread never keeps the process alive at exit); output comes from
a `LocalSlack.subscribe` callback, so bot messages appear the moment the bot posts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import sys
import threading
import time
from typing import IO, Any

from . import render
from .api_errors import ApiError
from .models import Change, Message
from .slack import LocalSlack

HELP = """\
Local Slack workspace. You are {user} in {channel}.
  {slash} run the slash command (e.g. {command} help)
  <text>                 post a message in the current channel
  as <user>              act as another user (alice = admin, bob = oncall, carol = viewer)
  in #<channel>          switch channel
  press N [on <msg>]     click button N of the last message with buttons (or of <msg>)
  reply <msg> <text>     reply in the thread of <msg>
  react <msg> <name>     add a reaction, e.g. react m3 eyes
  modals                 list open modals; submit <view> key=value ... submits one
  users | channels | history [#channel] | help | quit
<msg> is a handle like m3 (shown next to each message) or a message ts.
"""


class Shell:
    def __init__(self, slack: LocalSlack, *, command: str, stdin: IO[str], stdout: IO[str]) -> None:
        self.slack = slack
        self.command = command
        self.stdin = stdin
        self.stdout = stdout
        self.color = bool(getattr(stdout, "isatty", lambda: False)())
        self.user = "U0ONCALL"
        self.channel = slack.channel_id("oncall")
        self.handles: dict[str, str] = {}
        self.handle_of: dict[str, str] = {}
        self.last_with_buttons: Message | None = None

    # --- output -------------------------------------------------------------------------------
    def write(self, text: str = "") -> None:
        # A closed pipe (`... | head`) must not take down the stand-in the bot is talking to.
        with contextlib.suppress(BrokenPipeError):
            self.stdout.write(text + "\n")
            self.stdout.flush()

    def _dim(self, text: str) -> str:
        return f"\x1b[2m{text}{render.RESET}" if self.color else text

    def _bold(self, text: str) -> str:
        return f"\x1b[1m{text}{render.RESET}" if self.color else text

    def _resolve(self, ref: str) -> str | None:
        ws = self.slack.workspace
        if ref in ws.users:
            return ws.users[ref].name
        channel = ws.channels.get(ref)
        return channel.name if channel else None

    def _handle(self, message: Message) -> str:
        if message.ts not in self.handle_of:
            handle = f"m{len(self.handles) + 1}"
            self.handles[handle] = message.ts
            self.handle_of[message.ts] = handle
        return self.handle_of[message.ts]

    def _label(self, channel_id: str) -> str:
        channel = self.slack.workspace.channels.get(channel_id)
        return channel.label if channel else channel_id

    def format(self, message: Message, change: Change = "new") -> list[str]:
        ws = self.slack.workspace
        author = ws.users[message.user].name if message.user in ws.users else message.user
        clock = time.strftime("%H:%M:%S", time.localtime(float(message.ts)))
        notes = []
        if message.edited:
            notes.append("(edited)")
        if message.ephemeral:
            viewer = (
                "you" if message.visible_to == self.user else ws.user(message.visible_to or "").name
            )
            notes.append(f"(only visible to {viewer})")
        head = f"{self._label(message.channel)} {self._dim(clock)} {self._bold(author)}"
        head += f" {self._dim(self._handle(message))}" + "".join(f" {n}" for n in notes)
        lines = render.message_lines(
            message.text, message.blocks, message.attachments, self._resolve
        )
        body = render.style_lines(lines, color=self.color)
        body += [
            f"📎 {f.get('title') or f.get('name')} ({f.get('size', 0)} bytes)"
            for f in message.files
        ]
        if message.reactions:
            body.append(
                self._dim("  ".join(f":{n}: {len(u)}" for n, u in message.reactions.items()))
            )
        if message.is_reply:
            parent = self.handle_of.get(message.thread_ts or "", message.thread_ts)
            return [f"  ↳ {head} {self._dim(f'in thread {parent}')}"] + [f"      {b}" for b in body]
        return [head] + [f"    {b}" for b in body]

    def on_change(self, message: Message, change: Change) -> None:
        """Subscriber: print what the bot does (and what other people do), as it happens."""
        if change == "deleted":
            self.write(
                self._dim(f"{self._label(message.channel)} {self._handle(message)} was deleted")
            )
            return
        if change == "reaction" or (message.user == self.user and change == "new"):
            return  # you just typed it; echoing it back is noise
        if message.buttons:
            self.last_with_buttons = message
        self.write("\n".join(self.format(message, change)))

    # --- input --------------------------------------------------------------------------------
    def _reader(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
        try:
            for line in iter(self.stdin.readline, ""):
                loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
                if line.strip() in ("quit", "exit"):
                    return  # stop reading so a later shell gets the rest of stdin
        except (OSError, ValueError):
            pass  # stdin closed under us: treat like EOF
        except RuntimeError:
            return  # the event loop is gone; nobody is listening any more
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, None)

    def _prompt(self) -> None:
        if getattr(self.stdin, "isatty", lambda: False)():
            name = self.slack.workspace.users[self.user].name
            self.stdout.write(f"{name} {self._label(self.channel)}> ")
            self.stdout.flush()

    async def run(self) -> str:
        unsubscribe = self.slack.subscribe(self.on_change)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        threading.Thread(
            target=self._reader, args=(loop, queue), daemon=True, name="localslack-shell"
        ).start()
        self.write(self._help())
        try:
            while True:
                self._prompt()
                line = await queue.get()
                if line is None:
                    self.write(
                        f"\n(stdin closed; the Slack stand-in keeps serving at {self.slack.base_url})"
                    )
                    return "eof"
                try:
                    if not await self.execute(line.strip()):
                        return "quit"
                except (LookupError, ValueError, ApiError) as exc:
                    # KeyError's str() adds quotes; show the message as written.
                    self.write(f"! {exc.args[0] if exc.args else exc}")
        finally:
            unsubscribe()

    def _help(self) -> str:
        name = self.slack.workspace.users[self.user].name
        slash = f"{self.command} <text>".ljust(22)
        return HELP.format(
            user=name, channel=self._label(self.channel), command=self.command, slash=slash
        )

    def _message(self, ref: str) -> Message:
        ts = self.handles.get(ref, ref)
        message = self.slack.find(ts)
        if message is None:
            raise LookupError(f"no message {ref!r}")
        return message

    async def execute(self, line: str) -> bool:
        """Run one input line; False means quit."""
        if not line:
            return True
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if line.startswith("/"):
            await self._report(await self.slack.slash(self.user, self.channel, rest, command=word))
        elif word in ("quit", "exit"):
            return False
        elif word == "help":
            self.write(self._help())
        elif word == "as" and rest:
            self.user = self.slack.user(rest).id
            self.write(f"(you are now {self.slack.workspace.users[self.user].name})")
        elif word == "in" and rest:
            self.channel = self.slack.channel_id(rest)
            self.write(f"(now in {self._label(self.channel)})")
        elif word == "press" and rest:
            await self._press(rest)
        elif word == "reply" and " " in rest:
            ref, text = rest.split(" ", 1)
            message = self._message(ref)
            await self._report(
                await self.slack.send_message(
                    self.user, message.channel, text, message.thread_ts or message.ts
                )
            )
        elif word == "react" and " " in rest:
            ref, name = rest.split(" ", 1)
            message = self._message(ref)
            await self._report(
                await self.slack.add_reaction(self.user, message.channel, message.ts, name)
            )
            self.write(self._dim(f"(reacted :{name.strip(':')}: to {self._handle(message)})"))
        elif word == "users":
            for user in self.slack.workspace.users.values():
                role = user.title or ("bot" if user.is_bot else "")
                self.write(f"  {user.id:<12} {user.name:<12} {role}")
        elif word == "channels":
            for channel in self.slack.workspace.channels.values():
                self.write(f"  {channel.id:<16} {channel.label}")
        elif word == "history":
            self._history(rest or self.channel)
        elif word == "modals":
            for view in self.slack.views():
                title = (view.view.get("title") or {}).get("text", "")
                self.write(f"  {view.id} {self._bold(title)}")
                for text_line in render.plain("", view.view.get("blocks", [])).splitlines():
                    self.write(f"      {text_line}")
        elif word == "submit" and rest:
            view_id, *pairs = shlex.split(rest)
            values: dict[str, Any] = dict(p.split("=", 1) for p in pairs if "=" in p)
            await self._report(await self.slack.submit_view(self.user, view_id, values))
        else:
            await self._report(await self.slack.send_message(self.user, self.channel, line))
        return True

    async def _press(self, rest: str) -> None:
        number, _, target = rest.partition(" on ")
        message = self._message(target.strip()) if target else self.last_with_buttons
        if message is None:
            raise LookupError("no message with buttons yet")
        await self._report(await self.slack.click(self.user, message, index=int(number)))

    def _history(self, channel: str) -> None:
        channel_id = self.slack.channel_id(channel)
        for message in self.slack.workspace.top_level(channel_id):
            self.write("\n".join(self.format(message)))
            for reply in self.slack.workspace.replies(channel_id, message.ts):
                self.write("\n".join(self.format(reply)))

    async def _report(self, result: Any) -> None:
        """Say so when the bot failed to ack: Slack would show the user an error."""
        if result.error == "no_socket_connection":
            self.write(
                "! no bot is connected over Socket Mode; is the bot running against this workspace?"
            )
        elif result.timed_out:
            self.write("! the bot did not acknowledge in time (Slack shows: operation_timeout)")
        elif result.error:
            self.write(f"! {result.error}")
        elif result.status != 200:
            self.write(f"! the bot answered HTTP {result.status}: {result.body[:200]}")


async def run_shell(
    slack: LocalSlack,
    *,
    command: str = "/iris",
    stdin: IO[str] = sys.stdin,
    stdout: IO[str] = sys.stdout,
) -> str:
    """Run the interactive shell until `quit` or end of input; never raises on EOF.

    Returns "quit" or "eof" so the caller can decide whether to keep serving.
    """
    return await Shell(slack, command=command, stdin=stdin, stdout=stdout).run()
