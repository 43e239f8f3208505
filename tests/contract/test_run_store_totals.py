"""`RunStore.totals_by_backend`: runs and recorded cost per backend, for /stats."""

from __future__ import annotations

import pytest

from core.models import RunStatus, Submission
from core.ports import RunStore
from tests.contract.runs_data import NOW, SECOND, event, make_run


async def test_totals_split_by_backend(run_store: RunStore) -> None:
    assert await run_store.totals_by_backend() == {}
    runs = [
        make_run(backend="runcomfy"),
        make_run(backend="runcomfy"),
        make_run(backend="comfyapi"),
        make_run(),  # the default, as runs stored before several backends existed
    ]
    for run in runs:
        await run_store.insert(run)
    for run, rate in zip(runs[:3], (0.002, 0.004, 0.0), strict=True):
        submitted = Submission(
            backend_run_id=f"b-{run.id}",
            backend=run.backend,
            deployment_id=run.deployment_id,
            gpu=None,
            rate_usd_per_s=rate,
            submitted_at=NOW,
            next_poll_at=NOW,
        )
        assert await run_store.mark_submitted(run.id, submitted)
        done = event(RunStatus.SUCCESS, 1.0, f"b-{run.id}", ended_at=NOW + 100 * SECOND)
        assert await run_store.apply_event(run.id, done, NOW + 100 * SECOND, None)

    totals = await run_store.totals_by_backend()
    assert set(totals) == {"runcomfy", "comfyapi", "comfydeploy"}
    assert totals["runcomfy"].runs == 2
    assert totals["runcomfy"].cost_usd == pytest.approx(0.6)
    assert (totals["comfyapi"].runs, totals["comfyapi"].cost_usd) == (1, 0.0)
    assert (totals["comfydeploy"].runs, totals["comfydeploy"].cost_usd) == (1, 0.0)
