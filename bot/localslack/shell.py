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
from pathlib import Path
from typing import IO, Any

from . import render
from .api_errors import ApiError
from .models import Change, Message
from .shell_io import HISTORY, LOG_FILE, LineInput, api_error_words, changed_lines
from .slack import LocalSlack

HELP = """\
Local Slack workspace. You are {user} in {channel}.
  {slash} run the slash command (e.g. {command} help)
  <text>                 post a message in the current channel
  as <user>              act as another user (alice = admin, bob = oncall, carol = viewer)
  in #<channel>          switch channel
  press <msg> N          click button N of <msg> (press N: the one message with buttons)
  reply <msg> <text>     reply in the thread of <msg>
  react <msg> <name>     add a reaction, e.g. react m3 eyes
  modals                 list open modals; submit <view> key=value ... submits one
  users | channels | history [#channel] | help | quit
<msg> is a handle like m3 (shown next to each message) or a message ts.
Arrow keys edit and recall lines; Ctrl-R searches what you typed before.{extra}
"""


class Shell:
    def __init__(
        self,
        slack: LocalSlack,
        *,
        command: str,
        stdin: IO[str],
        stdout: IO[str],
        data_dir: Path | None = None,
    ) -> None:
        self.slack = slack
        self.data_dir = data_dir
        self.lines = LineInput(stdin, stdout, history=data_dir / HISTORY if data_dir else None)
        self.command = command
        self.stdin = stdin
        self.stdout = stdout
        self.color = bool(getattr(stdout, "isatty", lambda: False)())
        self.user = "U0ONCALL"
        self.channel = slack.channel_id("oncall")
        self.handles: dict[str, str] = {}
        self.handle_of: dict[str, str] = {}
        # Messages shown with buttons since the last command: a bare `press N` needs exactly one.
        self.with_buttons: list[str] = []
        # What was last printed of each message, so an edit prints only what changed.
        self.shown: dict[str, list[str]] = {}

    # --- output -------------------------------------------------------------------------------
    def write(self, text: str = "") -> None:
        # A closed pipe (`... | head`) must not take down the stand-in the bot is talking to.
        with contextlib.suppress(BrokenPipeError):
            self.lines.show(text)

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
        if change == "reaction":
            return
        if message.user == self.user and change == "new":
            # What you typed, with its handle: `reply m5 ...` and `react m5 ...` can name it.
            where = self._label(message.channel)
            parent = self.handle_of.get(message.thread_ts or "", message.thread_ts)
            thread = f" in thread {parent}" if message.is_reply else ""
            self.write(self._dim(f"{where} you {self._handle(message)}{thread}: {message.text}"))
            return
        if message.buttons and message.ts not in self.with_buttons:
            self.with_buttons.append(message.ts)
        lines = self.format(message, change)
        before = self.shown.get(message.ts)
        self.shown[message.ts] = lines
        if change == "edited" and before is not None:
            lines = changed_lines(before, lines, self._dim(f"{self._handle(message)} edited:"))
            if not lines:
                return  # an edit you cannot see (same text): nothing to reprint
        self.write("\n".join(lines))

    # --- input --------------------------------------------------------------------------------
    def _reader(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
        try:
            while (line := self.lines.read(self._prompt_text)) is not None:
                loop.call_soon_threadsafe(queue.put_nowait, line)
                if line.strip() in ("quit", "exit"):
                    return  # stop reading so a later shell gets the rest of stdin
        except (OSError, ValueError):
            pass  # stdin closed under us: treat like EOF
        except RuntimeError:
            return  # the event loop is gone; nobody is listening any more
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, None)

    def _prompt_text(self) -> str:
        name = self.slack.workspace.users[self.user].name
        return f"{name} {self._label(self.channel)}> "

    async def run(self) -> str:
        unsubscribe = self.slack.subscribe(self.on_change)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.write(self._help())  # before the first prompt, so it never lands in the typing
        threading.Thread(
            target=self._reader, args=(loop, queue), daemon=True, name="localslack-shell"
        ).start()
        try:
            while True:
                line = await queue.get()
                if line is None:
                    self.write(
                        f"\n(stdin closed; the Slack stand-in keeps serving at {self.slack.base_url})"
                    )
                    return "eof"
                try:
                    if not await self.execute(line.strip()):
                        return "quit"
                except ApiError as exc:
                    self.write(f"! {api_error_words(exc.error)}")
                except (LookupError, ValueError) as exc:
                    # KeyError's str() adds quotes; show the message as written.
                    self.write(f"! {exc.args[0] if exc.args else exc}")
        finally:
            unsubscribe()
            self.lines.close()

    def _help(self) -> str:
        name = self.slack.workspace.users[self.user].name
        slash = f"{self.command} <text>".ljust(22)
        extra = ""
        if self.data_dir is not None:
            extra = (
                f"\nLanding folder: {self.data_dir / 'landing'} (drop CSV or JSON Lines files "
                f"there, then {self.command} data ingest)\nBot log: {self.data_dir / LOG_FILE}"
            )
        return HELP.format(
            user=name,
            channel=self._label(self.channel),
            command=self.command,
            slash=slash,
            extra=extra,
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
        self.lines.remember(line)
        word, _, rest = line.partition(" ")
        if word != "press":
            self.with_buttons.clear()  # what is shown from now on answers this command
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
        """`press m7 1` (or `press 1 on m7`); a bare `press 1` only when it cannot be mistaken."""
        words = rest.replace(" on ", " ").split()
        numbers = [w for w in words if w.isdigit()]
        refs = [w for w in words if not w.isdigit()]
        if len(numbers) != 1 or len(refs) > 1:
            raise ValueError("type press <msg> N, e.g. press m3 1")
        if refs:
            message = self._message(refs[0])
        else:
            shown = [m for ts in self.with_buttons if (m := self.slack.find(ts)) and m.buttons]
            if not shown:
                raise LookupError(
                    "no message with buttons since your last command; type press <msg> N"
                )
            if len(shown) > 1:
                choices = ", ".join(self._handle(m) for m in shown)
                raise LookupError(
                    f"which message? {choices} have buttons; type press {self._handle(shown[-1])} "
                    f"{numbers[0]}, for example"
                )
            message = shown[0]
        buttons = render.find_buttons(message.blocks)
        index = int(numbers[0])
        if not 1 <= index <= len(buttons):
            listing = "  ".join(f"[{i}] {b.text}" for i, b in enumerate(buttons, 1))
            raise LookupError(
                f"{self._handle(message)} has no button {index}"
                + (f"; its buttons: {listing}" if buttons else "; it has no buttons")
            )
        self.with_buttons.clear()
        await self._report(await self.slack.click(self.user, message, index=index))

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
            self.write(f"! {api_error_words(result.error)}")
        elif result.status != 200:
            self.write(f"! the bot answered HTTP {result.status}: {result.body[:200]}")


async def run_shell(
    slack: LocalSlack,
    *,
    command: str = "/iris",
    stdin: IO[str] = sys.stdin,
    stdout: IO[str] = sys.stdout,
    data_dir: Path | None = None,
) -> str:
    """Run the interactive shell until `quit` or end of input; never raises on EOF.

    Returns "quit" or "eof" so the caller can decide whether to keep serving.
    """
    shell = Shell(slack, command=command, stdin=stdin, stdout=stdout, data_dir=data_dir)
    return await shell.run()
