"""The run manager: validate, record, submit, cancel; apply status events.

Every status change, from a webhook, a poll (core/run_watch.py), a cancel or a timeout, goes
through `apply`, which is one conditional update in the database: late, duplicate and
out-of-order events change nothing.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cachetools import TTLCache

from core.catalog import Catalog
from core.costs import CostService
from core.delivery import DEFAULT_LEASE
from core.errors import (
    BackendError,
    BackendUnavailable,
    NotAllowed,
    OutcomeUnknown,
    RunNotFound,
    UnknownRun,
    UnknownWorkflow,
    UserFacingError,
)
from core.files import FileManager
from core.metrics import Metrics
from core.models import (
    ChatRef,
    EventSource,
    Run,
    RunEvent,
    RunRequest,
    RunStatus,
    Submission,
    Workflow,
)
from core.ports import Clock, RunFollower, RunStore, WorkflowBackend
from core.routing import Router
from core.run_heads import HEAD_CACHE_SIZE, HEAD_CACHE_TTL_S, RunHead
from core.validation import validate_inputs
from core.webhook_tokens import WebhookSigner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunPolicy:
    poll_after: timedelta
    """With webhooks: poll a run that has been quiet this long."""
    poll_interval: timedelta
    """Without webhooks: how often to poll each run."""
    poll_max_backoff: timedelta
    run_timeout: timedelta
    max_prompt_chars: int = 2000
    enrich_timeout_s: float = 5.0
    delivery_lease: timedelta = DEFAULT_LEASE
    """How long the process that records a run's end holds its delivery before others may."""


class RunManager:
    def __init__(
        self,
        *,
        store: RunStore,
        backend: WorkflowBackend,
        catalog: Catalog,
        router: Router,
        costs: CostService,
        files: FileManager,
        delivery: RunFollower,
        clock: Clock,
        signer: WebhookSigner,
        policy: RunPolicy,
        metrics: Metrics,
    ) -> None:
        self._store = store
        self._backend = backend
        self._catalog = catalog
        self._router = router
        self._costs = costs
        self._files = files
        self._delivery = delivery
        self._clock = clock
        self._signer = signer
        self._policy = policy
        self._metrics = metrics
        self._tasks: set[asyncio.Task[None]] = set()
        self._heads: TTLCache[str, RunHead] = TTLCache(
            maxsize=HEAD_CACHE_SIZE, ttl=HEAD_CACHE_TTL_S
        )

    # -- starting runs -------------------------------------------------------------------

    async def start_run(self, request: RunRequest) -> Run:
        """Validate and record a run, show its status message, then submit it."""
        workflow = self._catalog.view.get(request.workflow)
        if workflow is None or workflow.hidden:
            raise UnknownWorkflow(f"There is no workflow called {request.workflow}.")
        image_names = [i.name for i in workflow.image_inputs if i.name not in request.raw_inputs]
        if len(request.images) > len(image_names):
            raise UserFacingError(
                f"/{workflow.command} takes {len(image_names)} image(s); "
                f"you sent {len(request.images)}."
            )
        filled = frozenset(image_names[: len(request.images)])
        values = validate_inputs(
            workflow,
            request.text,
            request.raw_inputs,
            image_inputs=filled,
            max_prompt_chars=self._policy.max_prompt_chars,
            duplicates=request.duplicates,
        )
        for name, image in zip(image_names, request.images, strict=False):
            values[name] = await self._files.upload(image)
        return await self._record_and_submit(workflow, values, request.chat, None)

    async def rerun(self, run_id: str, chat: ChatRef, is_admin: bool) -> Run:
        """Run again with the same inputs: for its owner, anyone in the chat it was shown in
        (where its Rerun button is), or an admin."""
        original = await self._store.get(run_id)
        same_chat = original is not None and (original.chat.platform, original.chat.chat_id) == (
            chat.platform,
            chat.chat_id,
        )
        if original is None or not (
            same_chat or original.chat.user_key == chat.user_key or is_admin
        ):
            raise UnknownRun(f"I know no run {run_id}.")
        workflow = self._catalog.view.get(original.workflow)
        if workflow is None or workflow.hidden:
            raise UnknownWorkflow(f"The workflow {original.workflow} is no longer available.")
        return await self._record_and_submit(workflow, dict(original.inputs), chat, original.id)

    async def _record_and_submit(
        self, workflow: Workflow, values: dict[str, Any], chat: ChatRef, rerun_of: str | None
    ) -> Run:
        candidates = self._router.candidates(workflow)
        if not candidates:
            raise UserFacingError(f"/{workflow.command} has no deployment to run on right now.")
        now = self._clock.now()
        first = self._deployment_gpu(candidates[0], workflow)
        run = Run(
            id=secrets.token_hex(6),
            workflow=workflow.name,
            deployment_id=candidates[0],
            inputs=values,
            chat=chat,
            gpu=first,
            rate_usd_per_s=self._costs.rate_for(first),
            created_at=now,
            updated_at=now,
            rerun_of=rerun_of,
        )
        await self._store.insert(run)
        log.info("run %s recorded for %s by %s", run.id, workflow.name, chat.user_key)
        await self._delivery.run_changed(run)
        await self._submit(run, workflow, candidates)
        return run

    async def _submit(self, run: Run, workflow: Workflow, candidates: list[str]) -> None:
        error: BackendError | None = None
        for deployment_id in candidates:
            try:
                backend_id = await self._backend.submit(
                    deployment_id, run.inputs, self._signer.url_for(run.id)
                )
            except OutcomeUnknown as unknown:
                # It may be queued already: trying another deployment could run it twice.
                error = unknown
                break
            except BackendUnavailable as unavailable:
                log.warning(
                    "run %s: deployment %s unavailable: %s", run.id, deployment_id, unavailable
                )
                error = unavailable
                continue
            except BackendError as refused:
                error = refused
                break
            gpu = self._deployment_gpu(deployment_id, workflow)
            now = self._clock.now()
            submission = Submission(
                backend_run_id=backend_id,
                deployment_id=deployment_id,
                gpu=gpu,
                rate_usd_per_s=self._costs.rate_for(gpu),
                submitted_at=now,
                next_poll_at=now + self.quiet_poll_delay(),
            )
            await self._store.mark_submitted(run.id, submission)
            log.info("run %s submitted as %s on %s", run.id, backend_id, deployment_id)
            return
        if isinstance(error, OutcomeUnknown):
            reason = "no answer from the backend; it may still run, unseen"
        elif error is not None and not error.retryable:
            reason = f"the backend refused it, HTTP {error.status}"
        else:
            reason = "backend unreachable"
        log.error("run %s could not be submitted: %s", run.id, error)
        await self.end(
            run.id,
            "",
            RunStatus.FAILED,
            EventSource.SUBMIT,
            f"Could not start the run ({reason}).",
        )

    def _deployment_gpu(self, deployment_id: str, workflow: Workflow) -> str | None:
        deployment = self._catalog.view.deployments.get(deployment_id)
        return (deployment.gpu if deployment else None) or workflow.gpu

    # -- status events -------------------------------------------------------------------

    async def apply(self, run_id: str, event: RunEvent) -> bool:
        """Record an event if it moves the run forward, then show the change. True if applied."""
        now = self._clock.now()
        if event.status.terminal and event.source is EventSource.WEBHOOK:
            event = await self._enrich(event)
        terminal = event.status.terminal
        next_poll = None if terminal else now + self.quiet_poll_delay()
        claim = now + self._policy.delivery_lease if terminal else None
        changed = await self._store.apply_event(run_id, event, now, next_poll, claim)
        self._metrics.count_event(event.source.value, "applied" if changed else "ignored")
        if not changed:
            return False
        run = await self._current(run_id, event)
        if run is None:
            return True
        log.info("run %s -> %s (%s)", run_id, run.status.value, event.source.value)
        if terminal:  # fetching outputs and posting them must not hold up the webhook's reply
            self._spawn(self._delivery.run_changed(run, claimed=True))
        else:  # only queues the view for the chat's coalescing sender
            await self._delivery.run_changed(run)
        return True

    async def _current(self, run_id: str, event: RunEvent) -> Run | None:
        """The run after `event`. A progress event is laid over the cached head of the run
        (what never changes once its status message exists), sparing a read per event; an
        end reads the whole run, outputs and timestamps included."""
        head = None if event.status.terminal else self._heads.get(run_id)
        if head is None:
            run = await self._store.get(run_id)
            if run is None or run.status.terminal:
                self._heads.pop(run_id, None)
            elif run.progress_message_id is not None:
                self._heads[run_id] = RunHead.of(run)
            return run
        return head.with_event(run_id, event)

    async def _enrich(self, event: RunEvent) -> RunEvent:
        """Webhooks carry no timestamps; one GET gives the real ones, for an exact cost."""
        try:
            async with asyncio.timeout(self._policy.enrich_timeout_s):
                polled = await self._backend.get_run(event.backend_run_id)
        except (BackendError, TimeoutError) as error:
            log.info("run %s: no timestamps for the cost (%s)", event.backend_run_id, error)
            return event
        if polled.status != event.status:
            return event
        return event.model_copy(
            update={
                "queued_at": polled.queued_at,
                "started_at": polled.started_at,
                "ended_at": polled.ended_at,
                "outputs": polled.outputs or event.outputs,
            }
        )

    async def end(
        self, run_id: str, backend_run_id: str, status: RunStatus, source: EventSource, error: str
    ) -> None:
        """End a run on our side (submit failure, cancel, timeout, lost run) with a reason."""
        event = RunEvent(backend_run_id=backend_run_id, status=status, source=source, error=error)
        await self.apply(run_id, event)

    def quiet_poll_delay(self) -> timedelta:
        if self._signer.enabled:
            return self._policy.poll_after
        return self._policy.poll_interval

    # -- cancel --------------------------------------------------------------------------

    async def cancel(self, run_id: str, by: ChatRef, is_admin: bool) -> Run:
        run = await self._store.get(run_id)
        if run is None:
            raise UnknownRun(f"I know no run {run_id}.")
        if run.chat.user_key != by.user_key and not is_admin:
            raise NotAllowed("Only the person who started a run (or an admin) can cancel it.")
        if run.status.terminal:
            raise UserFacingError(f"Run {run_id} already ended: {run.status.value}.")
        if run.backend_run_id:
            try:
                await self._backend.cancel(run.backend_run_id)
            except RunNotFound:
                log.info("run %s: backend no longer knows it; cancelling locally", run_id)
            except BackendError as error:
                log.warning("run %s: cancel failed: %s", run_id, error)
                raise UserFacingError(
                    "The backend did not accept the cancel; try again."
                ) from error
        await self.end(
            run_id,
            run.backend_run_id or "",
            RunStatus.CANCELLED,
            EventSource.CANCEL,
            f"Cancelled by {by.user_name or by.user_key}.",
        )
        return await self._store.get(run_id) or run

    # -- background work -----------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for follow-up work (progress edits, deliveries) started by applied events."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
