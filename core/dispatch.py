"""Submitting recorded runs to a backend, and settling the ones whose submit did not complete.

A run is recorded (`pending`) before anything is sent, and waits in the fair queue
(core/fair_queue.py) until it gets a slot; the queue then hands it here. Before each attempt the
submitting process takes the run's submit claim (one process at a time), and the backend's run
id is recorded as soon as it answers. When the answer is lost (`OutcomeUnknown`) the run stays
pending: the backend may have it. A periodic job then finds it on the backend by our run id
(`locate`), or, after `pending_give_up`, ends it. So no run lingers, and no run runs on a backend
without our record knowing its id, whenever the backend can tell.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any, Protocol

from core.backends import BackendRegistry
from core.costs import CostService
from core.errors import BackendError, BackendUnavailable, FileRejected, OutcomeUnknown
from core.media_hold import MediaHold
from core.models import EventSource, Run, RunStatus, Submission, SubmitAttempt
from core.policy import RunPolicy
from core.ports import Clock, Job, RunAddress, RunStore, WorkflowBackend
from core.routing import Router
from core.tracker import RunTracker
from core.webhook_tokens import WebhookSigner
from core.workflow import DeploymentRef, Workflow

log = logging.getLogger(__name__)


class DeploymentGate(Protocol):
    """Slots on deployments (MAX_RUNNING_PER_DEPLOYMENT) for a run's fallback attempts."""

    async def take(self, ref: DeploymentRef, run_id: str) -> bool: ...

    async def give(self, run_id: str) -> None: ...


class Dispatcher:
    def __init__(
        self,
        *,
        store: RunStore,
        backends: BackendRegistry,
        router: Router,
        costs: CostService,
        tracker: RunTracker,
        signer: WebhookSigner,
        clock: Clock,
        policy: RunPolicy,
        media: MediaHold | None = None,
    ) -> None:
        self._media = media if media is not None else MediaHold()
        self._store = store
        self._backends = backends
        self._router = router
        self._costs = costs
        self._tracker = tracker
        self._signer = signer
        self._clock = clock
        self._policy = policy

    def candidates_for(self, run: Run, workflow: Workflow) -> list[DeploymentRef]:
        """Where the run may go now. A run whose media bytes this process holds may go to any
        backend (they are uploaded where it is tried); otherwise its uploaded files live on one
        backend, and it stays on the backend it was recorded for."""
        candidates = self._router.candidates(workflow)
        if self._media.holds(run.id):
            return candidates
        if any(spec.name in run.inputs for spec in workflow.image_inputs):
            candidates = [ref for ref in candidates if ref.backend == run.backend]
        return candidates

    async def submit(
        self,
        run: Run,
        workflow: Workflow,
        candidates: list[DeploymentRef],
        gate: DeploymentGate | None = None,
    ) -> bool:
        """Try each deployment until one accepts the run; end the run when none does. With a
        `gate`, the first deployment's slot is the caller's and each fallback takes its own.
        False when nothing began: the run is no longer pending or another process has it."""
        try:
            if self._media_lost(run, workflow):
                # Recorded while its first backend was down, and this process has restarted
                # since: the user's file is gone, and the graph's own image must not stand in.
                log.error("run %s: its media were never uploaded and are gone", run.id)
                await self._tracker.end(
                    run.id, "", RunStatus.FAILED, EventSource.SUBMIT, "submit.unreachable"
                )
                return True
            return await self._try_each(run, workflow, candidates, gate)
        finally:
            self._media.drop(run.id)

    def _media_lost(self, run: Run, workflow: Workflow) -> bool:
        """A required image input with neither an uploaded value nor held bytes."""
        if self._media.holds(run.id):
            return False
        return any(spec.required and spec.name not in run.inputs for spec in workflow.image_inputs)

    async def _try_each(
        self,
        run: Run,
        workflow: Workflow,
        candidates: list[DeploymentRef],
        gate: DeploymentGate | None,
    ) -> bool:
        owner = secrets.token_hex(8)
        error: BackendError | None = None
        for index, ref in enumerate(candidates):
            if index and gate is not None and not await gate.take(ref, run.id):
                continue
            backend = self._backends.get(ref.backend)
            try:
                inputs = await self._inputs_on(run, backend)
            except (BackendUnavailable, FileRejected) as failed:
                log.warning("run %s: media upload to %s failed: %s", run.id, ref.key, failed)
                if isinstance(failed, BackendUnavailable):
                    error = failed
                if gate is not None:
                    await gate.give(run.id)
                continue
            attempt = self._attempt(ref, workflow, inputs)
            if not await self._store.begin_submit(run.id, owner, attempt, self._clock.now()):
                log.info("run %s: no longer pending, or submitted by another process", run.id)
                if gate is not None:
                    await gate.give(run.id)
                return index > 0
            job = Job(
                run_id=run.id,
                deployment_id=ref.id,
                inputs=inputs,
                specs=workflow.inputs,
                webhook_url=self._signer.url_for(backend.webhook_path, run.id),
            )
            try:
                backend_id = await backend.submit(job)
            except OutcomeUnknown as unknown:
                # It may be queued already: another deployment could run it twice.
                log.warning(
                    "run %s: submit outcome unknown (%s); looking for it later", run.id, unknown
                )
                return True
            except BackendUnavailable as unavailable:
                log.warning("run %s: deployment %s unavailable: %s", run.id, ref.key, unavailable)
                error = unavailable
                if gate is not None:
                    await gate.give(run.id)
                continue
            except BackendError as refused:
                error = refused
                break
            await self.record(run.id, attempt, backend_id)
            return True
        reason = "unreachable" if error is None or error.retryable else "refused"
        log.error("run %s could not be submitted: %s", run.id, error)
        # A backend that said why (out of credits, queue full) is quoted by its message key.
        told = error.notice if error is not None and error.notice else None
        await self._tracker.end(
            run.id,
            "",
            RunStatus.FAILED,
            EventSource.SUBMIT,
            told or f"submit.{reason}",
        )
        return True

    async def _inputs_on(self, run: Run, backend: WorkflowBackend) -> dict[str, Any]:
        """The run's inputs with its held media as `backend` knows them (uploaded there)."""
        if not self._media.holds(run.id):
            return dict(run.inputs)
        return {**run.inputs, **await self._media.uploaded(run.id, backend)}

    def _attempt(
        self, ref: DeploymentRef, workflow: Workflow, inputs: dict[str, Any]
    ) -> SubmitAttempt:
        deployment = self._costs.deployment(ref, workflow)
        return SubmitAttempt(
            backend=ref.backend,
            deployment_id=ref.id,
            gpu=deployment.gpu,
            rate_usd_per_s=self._costs.rate_for(deployment),
            inputs=inputs,
        )

    async def record(self, run_id: str, attempt: SubmitAttempt, backend_id: str) -> None:
        """The backend has run `backend_id` for our run: record it, or, when the run ended
        meanwhile (a cancel during the submit), cancel it there."""
        now = self._clock.now()
        submission = Submission(
            backend_run_id=backend_id,
            **attempt.model_dump(exclude={"inputs"}),
            submitted_at=now,
            next_poll_at=now + self._policy.quiet_poll_delay,
        )
        if await self._store.mark_submitted(run_id, submission):
            log.info("run %s submitted as %s on %s", run_id, backend_id, attempt.deployment_id)
            return
        current = await self._store.get(run_id)
        if current is not None and not current.status.terminal:
            return  # adopted already (its webhook came first)
        log.info("run %s ended during its submit; cancelling %s upstream", run_id, backend_id)
        try:
            address = RunAddress(attempt.deployment_id, backend_id)
            await self._backends.get(attempt.backend).cancel(address)
        except BackendError as error:
            log.warning("run %s: cancel of %s after its end failed: %s", run_id, backend_id, error)

    async def adopt(self, run: Run, backend_run_id: str) -> bool:
        """An event names `backend_run_id` for our pending run: record it if the backend's own
        API says that run is ours (an event is only as trustworthy as its URL)."""
        if run.status is not RunStatus.PENDING or run.submit_started_at is None:
            return False
        try:
            found = await self._backends.get(run.backend).locate(run.id, run.deployment_id)
        except BackendError as error:
            log.info("run %s: could not confirm %s as ours: %s", run.id, backend_run_id, error)
            return False
        if found != backend_run_id:
            return False
        await self.record(run.id, self._same_attempt(run), found)
        return True

    @staticmethod
    def _same_attempt(run: Run) -> SubmitAttempt:
        """The attempt the run's record says was under way."""
        return SubmitAttempt(
            backend=run.backend,
            deployment_id=run.deployment_id,
            gpu=run.gpu,
            rate_usd_per_s=run.rate_usd_per_s,
            inputs=run.inputs,
        )

    async def settle_pending(self, limit: int = 100) -> int:
        """Act on every run whose submit began long ago without an answer; returns how many
        were acted on. (Runs nobody began to submit wait in the fair queue.)"""
        now = self._clock.now()
        acted = 0
        for run in await self._store.pending(limit):
            started = run.submit_started_at
            if started is not None and now - started >= self._policy.locate_after:
                acted += await self._locate(run, now)
        return acted

    async def _locate(self, run: Run, now: datetime) -> int:
        try:
            found = await self._backends.get(run.backend).locate(run.id, run.deployment_id)
        except BackendError as error:
            log.info("run %s: could not look for it on %s: %s", run.id, run.backend, error)
            found = None
        if found is not None:
            log.info("run %s found on %s as %s", run.id, run.backend, found)
            await self.record(run.id, self._same_attempt(run), found)
            return 1
        assert run.submit_started_at is not None
        if now - run.submit_started_at < self._policy.pending_give_up:
            return 0
        await self._tracker.end(run.id, "", RunStatus.FAILED, EventSource.SUBMIT, "submit.unknown")
        return 1
