"""The console chat: one command per input line, replies on stdout, in DEFAULT_LANGUAGE.

A line that is no command gets the hint a private chat gets. At end of input it waits until
every run it started has ended and been shown, then returns; Ctrl-C at an empty prompt returns
at once (see adapters/console/terminal.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from adapters.console.files import LocalImage, is_url
from adapters.console.notifier import PLATFORM, ConsoleNotifier
from adapters.console.terminal import LineReader, PromptedOutput
from adapters.console.wording import SYNTAX
from core.chat.content import Content, Message, RunShown
from core.chat.operations import NotACommand, Operation, RunWorkflow
from core.chat.reposts import repost_journal, shown_here
from core.chat.run_images import RunImages, looks_like_run
from core.chat.service import ChatService
from core.chat.text_door import TextFrontDoor
from core.chat.text_render import TextRenderer, TextReply
from core.errors import UserFacingError
from core.locales import DEFAULT_LANGUAGE
from core.models import ChatRef, DeliveryState
from core.notices import Cmd, Usage
from core.ports import Clock, RunStore
from core.requests import Attachment

CONSOLE_USER = ChatRef(platform=PLATFORM, chat_id="console", user_id="local", user_name="you")
SETTLED = frozenset({DeliveryState.DELIVERED, DeliveryState.ABANDONED})


def console_words(language: str = DEFAULT_LANGUAGE) -> TextRenderer:
    return TextRenderer(SYNTAX, language=language)


class ConsoleFront:
    """A line -> content: the text front door, with image paths turned into attachments. A
    result asked for again is shown by the notifier, as when it was delivered."""

    def __init__(
        self,
        chat: ChatService,
        words: TextRenderer,
        notifier: ConsoleNotifier | None = None,
        run_images: RunImages | None = None,
    ) -> None:
        self.chat = chat
        self._door = TextFrontDoor(chat.book)
        self.words = words
        self._notifier = notifier
        self._run_images = run_images
        words.use_book(chat.book)

    async def answer(
        self, line: str, who: ChatRef = CONSOLE_USER, attachments: Sequence[Attachment] = ()
    ) -> Content:
        """`attachments` go to the image inputs; a line that is no command gets a hint."""
        parsed = self._door.parse(line)
        if parsed is None:
            return await self.chat.execute(NotACommand(), who)
        try:
            operation = await self._with_files(parsed.operation, who)
        except UserFacingError as refused:
            return Message(notice=refused.notice)
        if isinstance(operation, RunWorkflow):
            operation = self._door.attach(operation, attachments)
        return await self.chat.execute(operation, who)

    async def say(
        self, line: str, who: ChatRef = CONSOLE_USER, attachments: Sequence[Attachment] = ()
    ) -> TextReply | None:
        content = await self.answer(line, who, attachments)
        if isinstance(content, RunShown) and self._notifier is not None:
            result = shown_here(content.result, who)
            await self._notifier.post_result(result, repost_journal(result.run.id))
            return None
        return self.words.for_chat(who).render(content)

    async def _with_files(self, operation: Operation, who: ChatRef) -> Operation:
        """An image input's value: a URL as it is, a local file, or a run (its id or a prefix
        of it: the first image it made) when no file has that name."""
        if not isinstance(operation, RunWorkflow):
            return operation
        workflow = self.chat.book.workflow_named(operation.workflow)
        images = {spec.name for spec in workflow.image_inputs} if workflow else set()
        inputs = dict(operation.inputs)
        media: dict[str, Attachment] = dict(operation.media)
        for name in images & inputs.keys():
            value = inputs[name]
            if not isinstance(value, str) or is_url(value):
                continue
            path, exists = await asyncio.to_thread(_local_file, value)
            if self._run_images is not None and looks_like_run(value) and not exists:
                admin = self.chat.is_admin(who)
                media[name] = await self._run_images.first_image_of(value, who, admin)
            else:
                media[name] = LocalImage(path)
            del inputs[name]
        return dataclasses.replace(operation, inputs=inputs, media=media)


def _local_file(value: str) -> tuple[Path, bool]:
    path = Path(value).expanduser()
    return path, path.exists()


class ConsoleSession:
    def __init__(
        self,
        front: ConsoleFront,
        notifier: ConsoleNotifier,
        store: RunStore,
        clock: Clock,
        stdin: TextIO | None = None,
        out: TextIO | PromptedOutput | None = None,
    ) -> None:
        self._front = front
        self._notifier = notifier
        self._store = store
        now = clock.now()
        self._started = now.replace(microsecond=now.microsecond // 1000 * 1000)
        """To the millisecond, as the database keeps times."""
        self._in = stdin or sys.stdin
        self._out = out or sys.stdout

    async def run(self) -> None:
        interactive = self._in.isatty()
        words = self._front.words
        prompted = self._out if isinstance(self._out, PromptedOutput) else None
        reader = LineReader(self._in, prompted, interactive=interactive)
        if interactive:
            welcome = words.text(
                "console.welcome", workflows=Cmd("workflows"), help=Usage("help", "command")
            )
            self._print(welcome)
        async for line in reader.lines():
            if not line.strip():
                continue
            reply = await self._front.say(line.strip())
            if reply is not None:
                self._print(reply.text)
        if reader.interrupted:
            self._print(words.text("console.bye"))
            return
        await self.wait_for_runs()

    async def wait_for_runs(self) -> None:
        """Return once every run this session started has ended and its result was shown."""
        while await self._open_runs():
            self._notifier.result_shown.clear()
            if not await self._open_runs():
                return
            try:
                async with asyncio.timeout(1.0):
                    await self._notifier.result_shown.wait()
            except TimeoutError:
                continue

    async def _open_runs(self) -> int:
        runs = await self._store.recent(1000, user_key=CONSOLE_USER.user_key)
        mine = [run for run in runs if run.created_at >= self._started]
        return sum(1 for run in mine if run.delivery not in SETTLED)

    def _print(self, text: str) -> None:
        print(text, file=self._out, flush=True)
