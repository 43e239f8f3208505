"""The chat layer: one typed operation in, structured content out, for every platform.

Bans and admin rights are checked here, once, for every operation. Errors users can fix become
their notice; anything else is logged with a reference the user is given.
"""

from __future__ import annotations

import logging
import secrets

from core.actions import Action, ActionKind
from core.catalog import Catalog
from core.chat.book import CommandBook
from core.chat.content import (
    Content,
    GeneralHelp,
    Message,
    Problems,
    RunAccepted,
    RunList,
    RunView,
    Stats,
    Welcome,
    WorkflowEntry,
    WorkflowHelp,
    WorkflowList,
)
from core.chat.operations import (
    ADMIN_OPERATIONS,
    Ban,
    CancelRun,
    Help,
    ListRuns,
    ListWorkflows,
    MissingArgument,
    Operation,
    Redeliver,
    RefreshCatalog,
    Rerun,
    RunWorkflow,
    ShowStats,
    ShowStatus,
    Start,
    Unban,
    UnknownCommand,
)
from core.errors import InvalidInput, NotAllowed, UnknownRun, UserFacingError
from core.launcher import RunLauncher
from core.models import ChatRef, DeliveryState
from core.notices import Cmd, Notice, Usage
from core.ports import Clock, RunFollower, RunStore, UserStore
from core.requests import RunRequest
from core.tracker import RunTracker

log = logging.getLogger(__name__)


class ChatService:
    def __init__(
        self,
        *,
        book: CommandBook,
        catalog: Catalog,
        launcher: RunLauncher,
        tracker: RunTracker,
        store: RunStore,
        users: UserStore,
        delivery: RunFollower,
        admins: frozenset[str],
        clock: Clock,
    ) -> None:
        self.book = book
        self._catalog = catalog
        self._launcher = launcher
        self._tracker = tracker
        self._store = store
        self._users = users
        self._delivery = delivery
        self._admins = admins
        self._clock = clock

    def is_admin(self, chat: ChatRef) -> bool:
        return chat.user_key in self._admins

    async def execute(self, operation: Operation, chat: ChatRef) -> Content:
        try:
            if await self._users.is_banned(chat.user_key):
                raise NotAllowed("banned")
            if isinstance(operation, ADMIN_OPERATIONS) and not self.is_admin(chat):
                raise NotAllowed("admin_only")
            return await self._answer(operation, chat)
        except InvalidInput as invalid:
            command = self.book.command_for(invalid.workflow)
            return Problems(command=command, problems=invalid.problems)
        except UserFacingError as refused:
            return Message(notice=self._in_platform_words(refused.notice))
        except Exception:
            reference = secrets.token_hex(4)
            log.exception(
                "%s from %s failed (ref %s)", type(operation).__name__, chat.user_key, reference
            )
            return Message(notice=Notice.of("failure", reference=reference))

    def _in_platform_words(self, notice: Notice) -> Notice:
        """A notice about a workflow names the command that runs it here."""
        workflow = notice.params.get("workflow")
        if not isinstance(workflow, str) or "command" in notice.params:
            return notice
        return Notice.of(notice.key, **notice.params, command=Cmd(self.book.command_for(workflow)))

    async def _answer(self, operation: Operation, chat: ChatRef) -> Content:
        match operation:
            case Start():
                return Welcome(workflows=self._workflow_list())
            case Help(command=None):
                return GeneralHelp(admin=self.is_admin(chat))
            case Help(command=str(command)):
                return self._workflow_help(command)
            case ListWorkflows():
                return self._workflow_list()
            case ShowStatus(run_id=run_id):
                return await self._status(run_id, chat)
            case CancelRun(run_id=run_id):
                run = await self._tracker.cancel(run_id, chat, self.is_admin(chat))
                return Message(notice=Notice.of("run_state", run=run.id, status=run.status.value))
            case Rerun(run_id=run_id):
                run = await self._launcher.rerun(run_id, chat, self.is_admin(chat))
                return RunAccepted(run=run)
            case RunWorkflow():
                request = RunRequest(operation.workflow, chat, operation.inputs, operation.media)
                return RunAccepted(run=await self._launcher.start(request, operation.problems))
            case UnknownCommand(command=command):
                raise UserFacingError(
                    "unknown_command", command=Cmd(command), workflows=Cmd("workflows")
                )
            case MissingArgument(command=command, argument=argument):
                raise UserFacingError("usage", usage=Usage(command, argument))
            case _:
                return await self._admin(operation, chat)

    def _workflow_list(self) -> WorkflowList:
        entries = []
        for spec in self.book.specs():
            workflow = self.book.workflow(spec.name) if spec.workflow else None
            if workflow is None:
                continue
            entries.append(self._entry(spec.name, workflow.name))
        return WorkflowList(entries=tuple(entries))

    def _entry(self, command: str, workflow_name: str) -> WorkflowEntry:
        workflow = self._catalog.view.get(workflow_name)
        assert workflow is not None
        return WorkflowEntry(
            command=command,
            title=workflow.title or workflow.name,
            description=workflow.description,
            needs_media=not workflow.text_only,
        )

    def _workflow_help(self, command: str) -> WorkflowHelp:
        spec = self.book.spec(command)
        workflow = self.book.workflow(command)
        if spec is None or workflow is None:
            raise UserFacingError(
                "unknown_command", command=Cmd(command), workflows=Cmd("workflows")
            )
        main = workflow.main_text_input
        return WorkflowHelp(
            entry=self._entry(spec.name, workflow.name),
            inputs=workflow.inputs,
            main_input=main.name if main else None,
            options={o.input: o.name for o in spec.options if o.name != o.input},
        )

    async def _status(self, run_id: str, chat: ChatRef) -> RunView:
        run = await self._store.get(run_id)
        if run is None or (run.chat.user_key != chat.user_key and not self.is_admin(chat)):
            raise UserFacingError("unknown_run_of_yours", run=run_id)
        actions = () if run.status.terminal else (Action(ActionKind.CANCEL, run.id),)
        return RunView(run=run, actions=actions)

    async def _admin(self, operation: Operation, chat: ChatRef) -> Content:
        match operation:
            case RefreshCatalog():
                changed = await self._catalog.refresh(force=True)
                count = len(self._catalog.view.visible())
                if self._catalog.last_error:
                    notice = Notice.of(
                        "refresh_failed", error=self._catalog.last_error, count=count
                    )
                else:
                    notice = Notice.of(
                        "refresh_updated" if changed else "refresh_unchanged", count=count
                    )
                return Message(notice=notice)
            case ShowStats():
                counts = await self._store.count_by_status()
                total = await self._store.total_cost()
                return Stats(
                    counts=counts,
                    total_cost=total,
                    workflows=len(self._catalog.view.visible()),
                    backends=await self._store.totals_by_backend(),
                )
            case ListRuns(limit=limit):
                return RunList(runs=tuple(await self._store.recent(limit)))
            case Redeliver(run_id=run_id):
                return Message(notice=await self._redeliver(run_id))
            case Ban(user=target):
                user_key = _user_key(target, chat)
                if user_key in self._admins:
                    raise UserFacingError("ban_admin")
                fresh = await self._users.ban(user_key, chat.user_key, self._clock.now())
                return Message(
                    notice=Notice.of("ban_done" if fresh else "ban_already", user=user_key)
                )
            case Unban(user=target):
                user_key = _user_key(target, chat)
                lifted = await self._users.unban(user_key)
                key = "unban_done" if lifted else "unban_not_banned"
                return Message(notice=Notice.of(key, user=user_key))
        raise TypeError(f"unknown operation {operation!r}")

    async def _redeliver(self, run_id: str) -> Notice:
        run = await self._store.get(run_id)
        if run is None:
            raise UnknownRun("unknown_run", run=run_id)
        if not run.status.terminal:
            return Notice.of("redeliver_unfinished", run=run_id)
        fresh = run.delivery is DeliveryState.DELIVERED
        if not await self._store.redeliver(run_id, self._clock.now(), fresh):
            return Notice.of("redeliver_busy", run=run_id)
        await self._delivery.deliver_due()
        return Notice.of("redeliver_done", run=run_id)


def _user_key(target: str, chat: ChatRef) -> str:
    return target if ":" in target else f"{chat.platform}:{target}"
