"""Starting a run: validate every input, draw its seed, admit it (allow-lists, the user's caps,
its price held from their credits), fetch and upload the user's media, record the run, show its
status message, and let the fair queue send it on. Runs again (a reroll with a new
seed, or the exact same run) and follow-ups that feed a result's image into the workflow the
catalog names (`upscale_with`, `vary_with`) start here too."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from core.admission import Admission
from core.backends import BackendRegistry
from core.catalog import Catalog
from core.costs import CostService
from core.errors import (
    BackendUnavailable,
    FileRejected,
    InvalidInput,
    UnknownRun,
    UnknownWorkflow,
    UserFacingError,
)
from core.fair_queue import FairQueue
from core.files import FileManager
from core.media_hold import MediaHold
from core.models import ChatRef, Run, UploadedFile
from core.notices import Problem
from core.output_media import RunOutputImage, first_image
from core.policy import RunPolicy
from core.ports import Clock, RunFollower, RunStore
from core.requests import Attachment, InputValue, RunRequest
from core.routing import Router
from core.seeds import Draw, draw_seed, reseeded, with_seed, without_random_request
from core.validation import validate_inputs
from core.workflow import DeploymentRef, Workflow

log = logging.getLogger(__name__)


class RunLauncher:
    def __init__(
        self,
        *,
        store: RunStore,
        catalog: Catalog,
        router: Router,
        backends: BackendRegistry,
        costs: CostService,
        files: FileManager,
        admission: Admission,
        queue: FairQueue,
        delivery: RunFollower,
        clock: Clock,
        policy: RunPolicy,
        draw: Draw = draw_seed,
        media: MediaHold | None = None,
    ) -> None:
        self._draw = draw
        self._media = media if media is not None else MediaHold()
        self._store = store
        self._catalog = catalog
        self._router = router
        self._backends = backends
        self._costs = costs
        self._files = files
        self._admission = admission
        self._queue = queue
        self._delivery = delivery
        self._clock = clock
        self._policy = policy

    async def start(self, request: RunRequest, found: Sequence[Problem] = ()) -> Run:
        """Validate, admit and record a run, show its status message, then let the queue send
        it. A request that arrives again (same origin) gets the run it made the first time."""
        if request.origin is not None:
            existing = await self._store.by_origin(request.origin)
            if existing is not None:
                return existing
        workflow = self._catalog.view.get(request.workflow)
        if workflow is None or workflow.hidden:
            raise UnknownWorkflow("unknown_workflow", name=request.workflow)
        media_names = {spec.name for spec in workflow.image_inputs}
        problems = [*found, *self._media_problems(request, media_names)]
        values = validate_inputs(
            workflow,
            without_random_request(workflow, request.inputs),
            media=request.media.keys(),
            max_prompt_chars=self._policy.max_prompt_chars,
            found=problems,
        )
        values = with_seed(workflow, values, self._draw)
        candidates = self._router.candidates(workflow)
        if not candidates:
            raise UserFacingError("no_deployment", workflow=workflow.name)
        return await self._record(
            workflow, values, request.chat, None, candidates, request.origin, request.media
        )

    def _media_problems(self, request: RunRequest, media_names: set[str]) -> list[Problem]:
        """Before anything is downloaded: files for inputs that take none, or too large."""
        problems = []
        limit = self._policy.max_input_bytes
        for name, attachment in request.media.items():
            if name not in media_names:
                problems.append(Problem.of("input.unknown", name))
            elif attachment.size is not None and attachment.size > limit:
                problems.append(_too_large(name, limit))
        return problems

    async def _checked(
        self, workflow: Workflow, media: Mapping[str, Attachment]
    ) -> dict[str, UploadedFile]:
        """Each file read (within the size cap) and checked by its bytes."""
        checked = {}
        problems = []
        for name, attachment in media.items():
            try:
                data = await attachment.read(self._policy.max_input_bytes)
                checked[name] = self._files.check_image(data, attachment.filename)
            except FileRejected as rejected:
                problems.append(Problem.of(rejected.notice.key, name, **rejected.notice.params))
        if problems:
            raise InvalidInput(workflow.name, problems)
        return checked

    async def _upload_first(self, run_id: str, backend_name: str) -> dict[str, str]:
        """The held media uploaded to the first backend to try, so a run that waits across a
        restart still has them there; when that backend is down, the queue uploads them to
        whichever deployment it tries (a fallback on another backend too)."""
        try:
            return await self._media.uploaded(run_id, self._backends.get(backend_name))
        except BackendUnavailable as down:
            log.warning(
                "run %s: upload to %s failed (%s); left to the queue", run_id, backend_name, down
            )
            return {}

    async def rerun(
        self,
        run_id: str,
        chat: ChatRef,
        is_admin: bool,
        *,
        new_seed: bool = False,
        origin: str | None = None,
    ) -> Run:
        """Run again with the same inputs (`new_seed`: all but the seed, drawn again), for its
        owner, anyone in the chat it was shown in (where its buttons are), or an admin."""
        if origin is not None and (existing := await self._store.by_origin(origin)):
            return existing
        original = await self._visible(run_id, chat, is_admin)
        workflow = self._runnable(original.workflow)
        candidates = self._router.candidates(workflow)
        if any(spec.name in original.inputs for spec in workflow.image_inputs):
            candidates = [ref for ref in candidates if ref.backend == original.backend]
        if not candidates:
            raise UserFacingError("no_deployment", workflow=workflow.name)
        values = dict(original.inputs)
        if new_seed:
            values = reseeded(workflow, values, self._draw)
        return await self._record(workflow, values, chat, original.id, candidates, origin)

    async def follow_up(
        self, run_id: str, chat: ChatRef, is_admin: bool, target: str, origin: str | None = None
    ) -> Run:
        """Feed the first image a run made into workflow `target` (its upscaler or variation
        maker), with the run's prompt when `target` takes one, and a new seed. The image goes
        as media (`core.output_media`): the backend uploads it as it uploads a user's file."""
        original = await self._visible(run_id, chat, is_admin)
        workflow = self._runnable(target)
        image = first_image(original)
        if image is None or not workflow.image_inputs:
            raise UserFacingError("no_image_to_use", run=original.id)
        media = {workflow.image_inputs[0].name: RunOutputImage(self._files, original, image)}
        inputs: dict[str, InputValue] = {}
        source = self._catalog.view.get(original.workflow)
        given = source.main_text_input if source is not None else None
        taken = workflow.main_text_input
        if (
            given is not None
            and taken is not None
            and isinstance(original.inputs.get(given.name), str)
        ):
            inputs[taken.name] = original.inputs[given.name]
        return await self.start(RunRequest(workflow.name, chat, inputs, media, origin=origin))

    async def _visible(self, run_id: str, chat: ChatRef, is_admin: bool) -> Run:
        """A run this user may run again: theirs, shown in this chat, or any for an admin."""
        original = await self._store.get(run_id)
        same_chat = original is not None and (original.chat.platform, original.chat.chat_id) == (
            chat.platform,
            chat.chat_id,
        )
        if original is None or not (
            same_chat or original.chat.user_key == chat.user_key or is_admin
        ):
            raise UnknownRun("unknown_run_of_yours", run=run_id)
        return original

    def _runnable(self, name: str) -> Workflow:
        workflow = self._catalog.view.get(name)
        if workflow is None or workflow.hidden:
            raise UnknownWorkflow("workflow_gone", name=name)
        return workflow

    async def _record(
        self,
        workflow: Workflow,
        values: dict[str, Any],
        chat: ChatRef,
        rerun_of: str | None,
        candidates: list[DeploymentRef],
        origin: str | None = None,
        media: Mapping[str, Attachment] | None = None,
    ) -> Run:
        """Admit, upload, record; an admission whose run is not recorded is given back. An
        insert that failed or was refused may have been written all the same (the connection
        dropped after the server took it; a retried insert then finds its own first attempt):
        the run is looked for first, and when the database cannot say, the hold is left to the
        queue's repair job, which gives it back after QUEUE_REPAIR_AFTER_SECONDS (a minute) if
        there is no run."""
        first = self._costs.deployment(candidates[0], workflow)
        rate = self._costs.rate_for(first)
        run_id = secrets.token_hex(6)
        terms = await self._admission.admit(run_id, chat, workflow, rate)
        try:
            if media:
                self._media.keep(run_id, await self._checked(workflow, media))
                values.update(await self._upload_first(run_id, first.backend))
            now = self._clock.now()
            run = Run(
                id=run_id,
                workflow=workflow.name,
                backend=first.backend,
                deployment_id=first.id,
                inputs=values,
                chat=chat,
                gpu=first.gpu,
                rate_usd_per_s=rate,
                created_at=now,
                updated_at=now,
                rerun_of=rerun_of,
                origin=origin,
                credits=terms,
            )
        except BaseException:
            self._media.drop(run_id)
            await self._admission.release(chat, run_id)
            raise
        try:
            recorded = await self._store.insert(run)
        except Exception:
            if not await self._recorded_after_all(run_id, chat):
                self._media.drop(run_id)
                raise
            recorded = True
        if not recorded:
            # The same request (same origin), recorded by another process just now; or ours,
            # written by a first attempt whose answer was lost.
            existing = await self._store.by_origin(origin) if origin else None
            if existing is None or existing.id != run_id:
                self._media.drop(run_id)
            if existing is None:
                await self._admission.release(chat, run_id)
                raise RuntimeError(f"run {run.id} was refused but no run has its origin")
            if existing.id != run_id:
                await self._admission.release(chat, run_id)
                return existing
        log.info("run %s recorded for %s by %s", run.id, workflow.name, chat.user_key)
        await self._delivery.run_changed(run)
        await self._queue.pump(run.id)
        return run

    async def _recorded_after_all(self, run_id: str, chat: ChatRef) -> bool:
        """After a failed insert: True when the run is there; False when it is not (its hold
        given back) or the database cannot say (its hold left to the repair job)."""
        try:
            found = await self._store.get(run_id)
        except Exception:
            log.warning("run %s: not known whether it was recorded; its hold waits", run_id)
            return False
        if found is None:
            await self._admission.release(chat, run_id)
            return False
        log.info("run %s: recorded although the insert failed", run_id)
        return True


def _too_large(name: str, limit: int) -> Problem:
    return Problem.of("input.image_too_large", name, limit_mb=f"{limit / 1_000_000:g}")
