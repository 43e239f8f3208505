"""The chat layer: one typed operation in, structured content out, for every platform.

Bans and admin rights are checked here, once, for every operation, and every user who asks
anything is remembered (platform, id, username) so admins can name them by @username. Errors
users can fix become their notice; anything else is logged with a reference the user is given.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from cachetools import LRUCache
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from core.catalog import Catalog
from core.chat.admin_desk import AdminDesk
from core.chat.book import CommandBook
from core.chat.content import (
    Content,
    GeneralHelp,
    Message,
    Problems,
    RunAccepted,
    Silent,
    Welcome,
    WorkflowEntry,
    WorkflowHelp,
    WorkflowList,
)
from core.chat.credit_desk import CreditDesk
from core.chat.operations import (
    Ban,
    BuyCredits,
    CancelRun,
    CheckPurchase,
    CompletePurchase,
    FollowUp,
    Grant,
    Help,
    ListRuns,
    ListWorkflows,
    MissingArgument,
    NotACommand,
    Operation,
    Redeliver,
    RefreshCatalog,
    RefundPayment,
    Rerun,
    RunWorkflow,
    ShowBalance,
    ShowQueue,
    ShowRecipe,
    ShowRun,
    ShowStats,
    ShowStatus,
    ShowUsage,
    Start,
    Unban,
    UnknownCommand,
    needs_admin,
    place_moderation,
)
from core.chat.result_actions import ResultActions
from core.chat.run_desk import RunDesk, SaveOutputs
from core.chat.run_refs import RunRefs
from core.errors import InvalidInput, NotAllowed, TryAgainLater, UserFacingError
from core.launcher import RunLauncher
from core.locales import DEFAULT_LANGUAGE
from core.models import ChatRef
from core.notices import Cmd, Hint, Notice, Usage
from core.ports import Clock, RunFinder, RunFollower, RunStore, UserStore
from core.rate_limit import Pace, Pacer
from core.requests import RunRequest
from core.tracker import RunTracker

log = logging.getLogger(__name__)

Transient = Callable[[BaseException], bool]
"""Whether an error passes by itself (a database connection lost): the operation is tried again."""

ANSWER_ATTEMPTS = 4
"""Tries of an operation whose store was briefly out of reach (0.1 + 0.2 + 0.4 s apart): safe,
since every operation that changes something is idempotent by its origin."""
ANSWER_RETRY_S = 2.0
"""No new try after this long: a database that timed out already made the user wait."""

PAYMENT_EVENTS = (CheckPurchase, CompletePurchase)
"""Never rate limited: a payment must always be answered and credited."""

SEEN_CACHE = 10_000
"""Users remembered in memory as already stored, so a chatty user costs one write."""


class ChatService:
    def __init__(
        self,
        *,
        book: CommandBook,
        catalog: Catalog,
        launcher: RunLauncher,
        tracker: RunTracker,
        store: RunStore,
        finder: RunFinder,
        users: UserStore,
        delivery: RunFollower,
        admins: frozenset[str],
        clock: Clock,
        save_outputs: SaveOutputs,
        credit_desk: CreditDesk,
        pacer: Pacer,
        default_language: str = DEFAULT_LANGUAGE,
        transient: Transient = lambda error: False,
    ) -> None:
        self.book = book
        self._transient = transient
        self.default_language = default_language
        """What to answer in when a user's own language has no catalog (DEFAULT_LANGUAGE)."""
        self._catalog = catalog
        self._launcher = launcher
        self._users = users
        self._admins = admins
        self._clock = clock
        self._credits = credit_desk
        self._pacer = pacer
        self._seen: LRUCache[str, tuple[str | None, str]] = LRUCache(SEEN_CACHE)
        refs = RunRefs(store, finder)
        self._runs = RunDesk(
            book=book,
            catalog=catalog,
            launcher=launcher,
            tracker=tracker,
            store=store,
            refs=refs,
            save_outputs=save_outputs,
        )
        self._admin = AdminDesk(
            catalog=catalog,
            store=store,
            refs=refs,
            delivery=delivery,
            users=users,
            admins=admins,
            clock=clock,
        )

    @property
    def result_actions(self) -> ResultActions:
        """The buttons a finished run gets (also given to delivery)."""
        return self._runs.result_actions

    def is_admin(self, chat: ChatRef) -> bool:
        return chat.user_key in self._admins

    def admins_on(self, platform: str) -> frozenset[str]:
        """The user ids of the admins on one platform (for admin-only command menus)."""
        return frozenset(
            key.partition(":")[2] for key in self._admins if key.partition(":")[0] == platform
        )

    async def execute(
        self,
        operation: Operation,
        chat: ChatRef,
        *,
        place_admin: bool = False,
        can_resend: bool = False,
    ) -> Content:
        """`place_admin`: the platform vouches that the user administers the place the command
        came from (a Discord member with Manage Server in that guild): they may moderate
        (`place_moderation`: refresh, ban, unban), nothing more: no grants or refunds, no other
        users' runs or stats, and the rate limit applies to them as to anyone.
        `can_resend`: the platform will send this command again if told to (TryAgainLater is
        raised then, rather than an apology shown, when the store stays out of reach)."""
        try:
            await self._remember(chat)
            if await self._users.is_banned(chat.user_key):
                raise NotAllowed("banned")
            admin = self.is_admin(chat)
            moderating = place_admin and place_moderation(operation)
            if needs_admin(operation) and not (admin or moderating):
                raise NotAllowed("admin_only")
            if not admin and not isinstance(operation, PAYMENT_EVENTS):
                pace, wait_s = await self._pacer.check(chat.user_key)
                if pace is Pace.IGNORED:
                    return Silent()
                if pace is Pace.SLOW_DOWN:
                    raise UserFacingError("slow_down", seconds=wait_s)
            return await self._answer_retrying(operation, chat, admin or moderating)
        except InvalidInput as invalid:
            command = self.book.command_for(invalid.workflow)
            return Problems(command=command, problems=invalid.problems)
        except UserFacingError as refused:
            return Message(notice=self._in_platform_words(refused.notice))
        except Exception as error:
            if can_resend and self._transient(error):
                log.warning("%s from %s: %s; to be sent again", type(operation).__name__,
                            chat.user_key, error)  # fmt: skip
                raise TryAgainLater() from error
            reference = secrets.token_hex(4)
            log.exception(
                "%s from %s failed (ref %s)", type(operation).__name__, chat.user_key, reference
            )
            return Message(notice=Notice.of("failure", reference=reference))

    async def _answer_retrying(self, operation: Operation, chat: ChatRef, admin: bool) -> Content:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(ANSWER_ATTEMPTS) | stop_after_delay(ANSWER_RETRY_S),
            wait=wait_exponential(multiplier=0.1, max=1),
            retry=retry_if_exception(self._transient),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._answer(operation, chat, admin)
        raise AssertionError("unreachable: the last attempt re-raises")

    async def _remember(self, chat: ChatRef) -> None:
        known = (chat.username, chat.user_name)
        if self._seen.get(chat.user_key) == known:
            return
        try:
            await self._users.remember(
                chat.user_key, chat.username, chat.user_name, self._clock.now()
            )
        except Exception:
            log.exception("could not record user %s as seen", chat.user_key)
            return
        self._seen[chat.user_key] = known

    def _in_platform_words(self, notice: Notice) -> Notice:
        """A notice about a workflow names the command that runs it here."""
        workflow = notice.params.get("workflow")
        if not isinstance(workflow, str) or "command" in notice.params:
            return notice
        return Notice.of(notice.key, **notice.params, command=Cmd(self.book.command_for(workflow)))

    async def _answer(self, operation: Operation, chat: ChatRef, admin: bool) -> Content:
        match operation:
            case Start():
                return Welcome(workflows=self._workflow_list())
            case Help(command=None):
                return GeneralHelp(admin=admin)
            case Help(command=str(command)):
                return self._workflow_help(command)
            case ListWorkflows():
                return self._workflow_list()
            case (
                ShowStatus()
                | CancelRun()
                | Rerun()
                | FollowUp()
                | ShowRecipe()
                | ShowRun()
                | ListRuns()
            ):
                return await self._runs.answer(operation, chat, admin)
            case RunWorkflow():
                request = RunRequest(
                    operation.workflow,
                    chat,
                    operation.inputs,
                    operation.media,
                    origin=operation.origin,
                )
                return RunAccepted(run=await self._launcher.start(request, operation.problems))
            case UnknownCommand(command=command):
                raise UserFacingError(
                    "unknown_command", command=Cmd(command), workflows=Cmd("workflows")
                )
            case MissingArgument(command=command, argument=argument):
                raise UserFacingError("usage", usage=Usage(command, argument))
            case NotACommand(image=image):
                return Message(notice=self._not_a_command(image))
            case RefreshCatalog() | ShowStats() | Redeliver() | Ban() | Unban():
                return await self._admin.answer(operation, chat)
            case (
                ShowBalance()
                | ShowUsage()
                | ShowQueue()
                | BuyCredits()
                | CheckPurchase()
                | CompletePurchase()
                | Grant()
                | RefundPayment()
            ):
                return await self._credits.answer(operation, chat)
        raise TypeError(f"unknown operation {operation!r}")

    def _not_a_command(self, image: bool) -> Notice:
        """A short hint: how to run something, with a workflow of the right kind as example."""
        workflows = [self.book.workflow(s.name) for s in self.book.specs() if s.workflow]
        wanted = [w for w in workflows if w is not None and bool(w.image_inputs) == image]
        example = Cmd(self.book.command_for(wanted[0].name)) if wanted else Cmd("workflows")
        if image:
            return Notice.of("not_a_command.image", how=Hint("use_image"), example=example)
        return Notice.of(
            "not_a_command", example=example, workflows=Cmd("workflows"), help=Cmd("help")
        )

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
