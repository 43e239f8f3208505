"""The platform-neutral command layer: one call per chat line, a reply (or none) back.

Console, Telegram and Discord parse their own updates into a line, a ChatRef and media, call
`handle`, and render the Reply. A queued run replies with nothing: its status message follows.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from core.catalog import Catalog
from core.command_line import parse_command_line
from core.commands import (
    ADMIN_COMMANDS,
    CommandRules,
    CommandSpec,
    command_map,
    compile_commands,
    menu_commands,
)
from core.errors import NotAllowed, UserFacingError
from core.models import ChatRef, RunRequest, UploadedFile
from core.ports import Clock, RunStore, UserStore
from core.presentation import (
    format_run_line,
    format_stats,
    format_status,
    format_workflow_help,
    format_workflow_list,
)
from core.runs import RunManager

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    text: str
    cancel_run_id: str | None = None
    """Set when the reply describes an unfinished run, so platforms can offer a Cancel button."""


class ChatService:
    def __init__(
        self,
        *,
        catalog: Catalog,
        runs: RunManager,
        store: RunStore,
        users: UserStore,
        admins: frozenset[str],
        rules: CommandRules,
        clock: Clock,
    ) -> None:
        self._catalog = catalog
        self._runs = runs
        self._store = store
        self._users = users
        self._admins = admins
        self._rules = rules
        self._clock = clock
        self._compiled: tuple[str, list[CommandSpec]] | None = None

    def commands(self) -> list[CommandSpec]:
        """Every command this platform knows, compiled from the catalog (cached per version)."""
        fingerprint = self._catalog.view.fingerprint()
        if self._compiled is None or self._compiled[0] != fingerprint:
            self._compiled = (
                fingerprint,
                compile_commands(self._catalog.view.visible(), self._rules),
            )
        return self._compiled[1]

    def menu(self) -> list[CommandSpec]:
        return menu_commands(self.commands(), self._rules)

    def takes_images(self, command: str) -> bool:
        """Whether the workflow behind `command` has image inputs."""
        name = command_map(self.commands()).get(command)
        workflow = self._catalog.view.get(name) if name else None
        return workflow is not None and bool(workflow.image_inputs)

    def is_admin(self, chat: ChatRef) -> bool:
        return chat.user_key in self._admins

    async def handle(
        self, line: str, chat: ChatRef, images: Sequence[UploadedFile] = ()
    ) -> Reply | None:
        """Answer one chat line. None: not a command for us, or a run was queued."""
        parsed = parse_command_line(line)
        if parsed is None:
            return None
        try:
            if await self._users.is_banned(chat.user_key):
                raise NotAllowed("You are not allowed to use this bot.")
            return await self._dispatch(
                parsed.command, parsed.text, parsed.options, parsed.duplicates, chat, images
            )
        except UserFacingError as error:
            return Reply(error.message)
        except Exception:
            reference = secrets.token_hex(4)
            log.exception(
                "command %r from %s failed (ref %s)", parsed.command, chat.user_key, reference
            )
            return Reply(f"Sorry, something went wrong on my side (ref {reference}).")

    async def _dispatch(
        self,
        command: str,
        text: str,
        options: dict[str, str],
        duplicates: tuple[str, ...],
        chat: ChatRef,
        images: Sequence[UploadedFile],
    ) -> Reply | None:
        view = self._catalog.view
        if command == "start":
            return Reply(
                f"Hi! I run image workflows for you.\n\n"
                f"{format_workflow_list(view.visible(), self._names())}\n\n"
                "Try /help <command> to see its options."
            )
        if command == "help":
            return self._help(text)
        if command == "workflows":
            return Reply(format_workflow_list(view.visible(), self._names()))
        if command == "status":
            return await self._status(text, chat)
        if command == "cancel":
            run = await self._runs.cancel(_run_id(text, "cancel"), chat, self.is_admin(chat))
            return Reply(f"Run {run.id} is {run.status.value}.")
        if command == "rerun":
            await self._runs.rerun(_run_id(text, "rerun"), chat, self.is_admin(chat))
            return None
        if command in ADMIN_COMMANDS:
            if not self.is_admin(chat):
                raise NotAllowed("Not allowed: that command is for admins only.")
            return await self._admin(command, text, chat)
        workflow_name = command_map(self.commands()).get(command)
        if workflow_name is None:
            raise UserFacingError(f"I don't know /{command}. See /workflows.")
        request = RunRequest(
            workflow=workflow_name,
            text=text,
            raw_inputs=options,
            duplicates=duplicates,
            chat=chat,
            images=tuple(images),
        )
        await self._runs.start_run(request)
        return None

    def _names(self) -> dict[str, str]:
        """Workflow name -> the command that runs it here."""
        return {workflow: name for name, workflow in command_map(self.commands()).items()}

    def _help(self, topic: str) -> Reply:
        topic = topic.strip().lstrip("/").lower()
        names = self._names()
        if not topic:
            return Reply(
                "Commands:\n/workflows — what you can run\n/help <command> — its options\n"
                "/status <run> — how a run is doing\n/cancel <run> — stop a run\n\n"
                "Run a workflow: /<command> your prompt key=value …"
            )
        workflow_name = command_map(self.commands()).get(topic)
        workflow = self._catalog.view.get(workflow_name) if workflow_name else None
        if workflow is None:
            raise UserFacingError(f"I don't know /{topic}. See /workflows.")
        return Reply(format_workflow_help(workflow, names[workflow.name]))

    async def _status(self, text: str, chat: ChatRef) -> Reply:
        run = await self._store.get(_run_id(text, "status"))
        if run is None or (run.chat.user_key != chat.user_key and not self.is_admin(chat)):
            raise UserFacingError(f"I know no run {text.strip()} of yours.")
        return Reply(format_status(run), None if run.status.terminal else run.id)

    async def _admin(self, command: str, text: str, chat: ChatRef) -> Reply:
        if command == "refresh":
            changed = await self._catalog.refresh(force=True)
            count = len(self._catalog.view.visible())
            if self._catalog.last_error:
                return Reply(
                    f"Refresh failed ({self._catalog.last_error}); serving {count} "
                    "workflows from the last catalog."
                )
            return Reply(f"Catalog {'updated' if changed else 'unchanged'}: {count} workflows.")
        if command == "stats":
            counts = await self._store.count_by_status()
            total = await self._store.total_cost()
            return Reply(format_stats(counts, total, len(self._catalog.view.visible())))
        if command == "runs":
            runs = await self._store.recent(10)
            return Reply("\n".join(format_run_line(r) for r in runs) or "No runs yet.")
        target = text.strip()
        if not target:
            raise UserFacingError(f"Usage: /{command} <user id>")
        user_key = target if ":" in target else f"{chat.platform}:{target}"
        if command == "ban":
            if user_key in self._admins:
                raise UserFacingError("Admins cannot be banned.")
            fresh = await self._users.ban(user_key, chat.user_key, self._clock.now())
            return Reply(f"{user_key} {'is now banned' if fresh else 'was already banned'}.")
        lifted = await self._users.unban(user_key)
        return Reply(f"{user_key} {'may use the bot again' if lifted else 'was not banned'}.")


def _run_id(text: str, command: str) -> str:
    run_id = text.strip().split()[0] if text.strip() else ""
    if not run_id:
        raise UserFacingError(f"Usage: /{command} <run id>")
    return run_id
