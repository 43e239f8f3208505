"""Submitting recorded runs to a backend: the deployments a run may use, tried in order.

A run is recorded (pending) before anything is sent, and its backend run id is recorded as soon
as the backend answers, so no run exists on a backend without our record knowing its id.
"""

from __future__ import annotations

import logging

from core.backends import BackendRegistry
from core.costs import CostService
from core.errors import BackendError, BackendUnavailable, OutcomeUnknown
from core.models import EventSource, Run, RunStatus, Submission
from core.policy import RunPolicy
from core.ports import Clock, Job, RunAddress, RunStore
from core.tracker import RunTracker
from core.webhook_tokens import WebhookSigner
from core.workflow import DeploymentRef, Workflow

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        *,
        store: RunStore,
        backends: BackendRegistry,
        costs: CostService,
        tracker: RunTracker,
        signer: WebhookSigner,
        clock: Clock,
        policy: RunPolicy,
    ) -> None:
        self._store = store
        self._backends = backends
        self._costs = costs
        self._tracker = tracker
        self._signer = signer
        self._clock = clock
        self._policy = policy

    async def submit(self, run: Run, workflow: Workflow, candidates: list[DeploymentRef]) -> None:
        """Try each deployment until one accepts the run; end the run when none does."""
        error: BackendError | None = None
        for ref in candidates:
            backend = self._backends.get(ref.backend)
            job = Job(
                run_id=run.id,
                deployment_id=ref.id,
                inputs=run.inputs,
                specs=workflow.inputs,
                webhook_url=self._signer.url_for(backend.webhook_path, run.id),
            )
            try:
                backend_id = await backend.submit(job)
            except OutcomeUnknown as unknown:
                # It may be queued already: trying another deployment could run it twice.
                error = unknown
                break
            except BackendUnavailable as unavailable:
                log.warning("run %s: deployment %s unavailable: %s", run.id, ref.key, unavailable)
                error = unavailable
                continue
            except BackendError as refused:
                error = refused
                break
            await self._record(run, workflow, ref, backend_id)
            return
        if isinstance(error, OutcomeUnknown):
            reason = "no answer from the backend; it may still run, unseen"
        elif error is not None and not error.retryable:
            reason = f"the backend refused it, HTTP {error.status}"
        else:
            reason = "backend unreachable"
        log.error("run %s could not be submitted: %s", run.id, error)
        await self._tracker.end(
            run.id,
            "",
            RunStatus.FAILED,
            EventSource.SUBMIT,
            f"Could not start the run ({reason}).",
        )

    async def _record(
        self, run: Run, workflow: Workflow, ref: DeploymentRef, backend_id: str
    ) -> None:
        deployment = self._costs.deployment(ref, workflow)
        now = self._clock.now()
        submission = Submission(
            backend_run_id=backend_id,
            backend=ref.backend,
            deployment_id=ref.id,
            gpu=deployment.gpu,
            rate_usd_per_s=self._costs.rate_for(deployment),
            submitted_at=now,
            next_poll_at=now + self._policy.quiet_poll_delay,
        )
        if await self._store.mark_submitted(run.id, submission):
            log.info("run %s submitted as %s on %s", run.id, backend_id, ref.key)
            return
        # Ended while we waited for the backend (a cancel): it must not run on unseen.
        log.info("run %s ended during its submit; cancelling %s upstream", run.id, backend_id)
        try:
            await self._backends.get(ref.backend).cancel(RunAddress(ref.id, backend_id))
        except BackendError as error:
            log.warning("run %s: cancel of %s after its end failed: %s", run.id, backend_id, error)
