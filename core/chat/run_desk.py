"""The operations about runs people already started: how one is doing, cancel it, run it again
(rerolled or with the same seed), feed its image into a follow-up workflow, show its recipe,
post its result again, and list one's last runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.actions import Action, ActionKind
from core.catalog import Catalog
from core.chat.book import CommandBook
from core.chat.content import Content, Message, RecipeCard, RunAccepted, RunList, RunShown, RunView
from core.chat.operations import (
    CancelRun,
    FollowUp,
    FollowUpKind,
    ListRuns,
    Rerun,
    ShowRecipe,
    ShowRun,
    ShowStatus,
)
from core.chat.recipe import recipe_of
from core.chat.result_actions import ResultActions
from core.chat.run_refs import RunRefs
from core.errors import UserFacingError
from core.launcher import RunLauncher
from core.models import ChatRef, ResultFile, Run, RunResult, RunStatus
from core.notices import Notice
from core.ports import RunStore
from core.tracker import RunTracker

SaveOutputs = Callable[[Run], Awaitable[tuple[list[ResultFile], list[str]]]]
"""Fetch a finished run's outputs to post them (`core.files.FileManager.save_outputs`)."""
RunOperation = ShowStatus | CancelRun | Rerun | FollowUp | ShowRecipe | ShowRun | ListRuns


class RunDesk:
    def __init__(
        self,
        *,
        book: CommandBook,
        catalog: Catalog,
        launcher: RunLauncher,
        tracker: RunTracker,
        store: RunStore,
        refs: RunRefs,
        save_outputs: SaveOutputs,
    ) -> None:
        self._book = book
        self._catalog = catalog
        self._launcher = launcher
        self._tracker = tracker
        self._store = store
        self._refs = refs
        self._save_outputs = save_outputs
        self.result_actions = ResultActions(catalog)

    async def answer(self, operation: RunOperation, chat: ChatRef, admin: bool) -> Content:
        refs = self._refs
        match operation:
            case ShowStatus(run_id=ref):
                return self._view(await refs.resolve(ref, chat, admin))
            case CancelRun(run_id=ref):
                run = await refs.resolve(ref, chat, admin)
                run = await self._tracker.cancel(run.id, chat, admin)
                return Message(notice=Notice.of("run_state", run=run.id, status=run.status))
            case Rerun(run_id=ref, new_seed=new_seed, origin=origin):
                run = await refs.resolve(ref, chat, admin, shared=True)
                again = await self._launcher.rerun(
                    run.id, chat, admin, new_seed=new_seed, origin=origin
                )
                return RunAccepted(run=again)
            case FollowUp(run_id=ref, kind=kind, origin=origin):
                run = await refs.resolve(ref, chat, admin, shared=True)
                return await self._follow_up(run, kind, chat, admin, origin)
            case ShowRecipe(run_id=ref):
                run = await refs.resolve(ref, chat, admin, shared=True)
                workflow = self._catalog.view.get(run.workflow)
                recipe = recipe_of(run, workflow, self._book.command_for(run.workflow))
                repeat = ActionKind.SAME_SEED if recipe.seed is not None else ActionKind.RERUN
                return RecipeCard(recipe=recipe, actions=(Action(repeat, run.id),))
            case ShowRun(run_id=ref):
                return await self._show(await refs.resolve(ref, chat, admin, shared=True))
            case ListRuns(limit=limit, everyone=everyone):
                user = None if everyone else chat.user_key
                runs = tuple(await self._store.recent(limit, user_key=user))
                shows = tuple(Action(ActionKind.SHOW, run.id) for run in runs)
                # One's own runs, from every chat, with their prompts: for the asker only.
                return RunList(runs=runs, everyone=everyone, actions=shows, private=not everyone)
        raise TypeError(f"not an operation on runs: {operation!r}")

    def _view(self, run: Run) -> RunView:
        actions = () if run.status.terminal else (Action(ActionKind.CANCEL, run.id),)
        return RunView(run=run, actions=actions)

    async def _follow_up(
        self, run: Run, kind: FollowUpKind, chat: ChatRef, admin: bool, origin: str | None
    ) -> Content:
        workflow = self._catalog.view.get(run.workflow)
        target = None
        if workflow is not None:
            target = workflow.upscale_with if kind is FollowUpKind.UPSCALE else workflow.vary_with
        if target is None:
            raise UserFacingError("no_image_to_use", run=run.id)
        again = await self._launcher.follow_up(run.id, chat, admin, target, origin)
        return RunAccepted(run=again)

    async def _show(self, run: Run) -> Content:
        if not run.status.terminal:
            return self._view(run)
        files: list[ResultFile] = []
        texts: list[str] = []
        if run.status is RunStatus.SUCCESS:
            files, texts = await self._save_outputs(run)
        result = RunResult(
            run=run, files=tuple(files), texts=tuple(texts), actions=self.result_actions(run)
        )
        return RunShown(result=result, actions=result.actions)
