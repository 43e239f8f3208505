"""RunComfy status, result and webhook bodies as comfybot reads them; deployments as workflows;
prices by hardware tier."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.runcomfy.catalog import build_catalog
from adapters.runcomfy.pricing import PAY_AS_YOU_GO_USD_PER_HOUR, TierPrices
from adapters.runcomfy.reports import (
    COLD_START,
    MalformedReport,
    result_event,
    state_of,
    waiting_event,
    webhook_event,
)
from core.models import EventSource, OutputKind, RunStatus
from core.workflow import InputType, NodeBinding
from tests.fakes.runcomfy_catalog import (
    DISABLED_DEPLOYMENT_ID,
    HARDWARE,
    IMG2IMG_DEPLOYMENT_ID,
    TXT2IMG_DEPLOYMENT_ID,
    default_deployments,
)

OUTPUTS = {
    "9": {"images": [
        {"filename": "ComfyUI_00001_.png", "subfolder": "", "type": "output",
         "url": "https://cdn.example/o/1.png"},
        {"filename": "preview.png", "type": "temp", "url": "https://cdn.example/o/t.png"},
    ]},
    "12": {"gifs": [{"filename": "loop.mp4", "url": "https://cdn.example/o/loop.mp4"}]},
}  # fmt: skip


def test_waiting_states_and_a_cold_start() -> None:
    head = waiting_event("r", {"status": "in_queue", "queue_position": 0}, "in_queue", True)
    assert (head.status, head.queue_position, head.live_status) == (
        RunStatus.QUEUED,
        0,
        COLD_START,
    )
    behind = waiting_event("r", {"status": "in_queue", "queue_position": 3}, "in_queue", True)
    assert behind.live_status == ""  # waiting behind others is no cold start
    warm = waiting_event("r", {"status": "in_queue"}, "in_queue", False)
    assert warm.live_status == ""
    running = waiting_event(
        "r", {"status": "in_progress", "instance_id": "i"}, "in_progress", True
    )
    assert (running.status, running.live_status) == (RunStatus.RUNNING, "")


@pytest.mark.parametrize(
    ("state", "status"),
    [("succeeded", RunStatus.SUCCESS), ("failed", RunStatus.FAILED),
     ("cancelled", RunStatus.CANCELLED), ("canceled", RunStatus.CANCELLED)],
)  # fmt: skip
def test_results_end_runs(state: str, status: RunStatus) -> None:
    body = {"status": state, "created_at": "2026-05-01T12:00:00+00:00",
            "finished_at": "2026-05-01T12:00:09.500000+00:00", "outputs": OUTPUTS,
            "error": [{"errorCode": 500, "error": "Out of memory", "debugInfo": "t"}]}  # fmt: skip
    event = result_event("r", body, EventSource.POLL)
    assert event is not None and event.status is status
    assert event.queued_at is not None and event.ended_at is not None
    assert (event.ended_at - event.queued_at).total_seconds() == 9.5
    if status is RunStatus.SUCCESS:
        assert [(o.kind, o.filename, o.output_id) for o in event.outputs] == [
            (OutputKind.IMAGE, "ComfyUI_00001_.png", "9"),
            (OutputKind.VIDEO, "loop.mp4", "12"),
        ]
    else:
        assert event.outputs == ()
    assert event.error == ("Out of memory" if status is RunStatus.FAILED else None)


def test_an_unfinished_result_ends_nothing() -> None:
    assert result_event("r", {"status": "in_progress"}, EventSource.POLL) is None


def test_webhook_bodies_in_either_shape() -> None:
    ended = webhook_event({"request_id": "r", "deployment_id": "d", "outcome": "succeeded",
                           "output": OUTPUTS})  # fmt: skip
    assert ended.status is RunStatus.SUCCESS and len(ended.outputs) == 2
    assert ended.source is EventSource.WEBHOOK
    queued = webhook_event({"request_id": "r", "status": "in_queue"})
    assert queued.status is RunStatus.QUEUED
    running = webhook_event({"request_id": "r", "status": "in_progress"})
    assert running.status is RunStatus.RUNNING
    for bad in ({"status": "in_queue"}, {"request_id": "r", "status": "exploded"}, []):
        with pytest.raises(MalformedReport):
            webhook_event(bad)
    assert state_of({"outcome": " Cancelled "}, "status", "outcome") == "cancelled"


def test_deployments_become_workflows_with_their_exposed_inputs() -> None:
    raw = [d.to_json("http://rc", {"payload"}) for d in default_deployments().values()]
    discovery, graphs = build_catalog(raw, "runcomfy")
    names = {w.name: w for w in discovery.workflows}
    assert set(names) == {"txt2img", "img2img"}  # the switched-off one is left out
    assert DISABLED_DEPLOYMENT_ID not in graphs
    txt2img = names["txt2img"]
    assert [ref.key for ref in txt2img.deployments] == [f"runcomfy:{TXT2IMG_DEPLOYMENT_ID}"]
    assert [i.name for i in txt2img.inputs] == ["prompt", "seed", "steps", "width", "height"]
    assert txt2img.gpu == "AMPERE_24" and txt2img.text_only
    img2img = names["img2img"]
    image = next(i for i in img2img.inputs if i.type is InputType.IMAGE)
    assert image.bind == (NodeBinding(node_id="10", field="image"),) and not img2img.text_only
    assert graphs[IMG2IMG_DEPLOYMENT_ID].scales_to_zero


def test_prices_by_tier_with_overrides() -> None:
    assert {t: h.usd_per_hour for t, h in HARDWARE.items()} == PAY_AS_YOU_GO_USD_PER_HOUR
    prices = TierPrices({"ampere_24": 1.39})
    assert prices.usd_per_second("AMPERE_24") == pytest.approx(1.39 / 3600)
    assert prices.usd_per_second("HOPPER_141") == pytest.approx(8.75 / 3600)
    assert prices.usd_per_second("QUANTUM_1") is None and prices.usd_per_second(None) is None


def deployment(**fields: Any) -> dict[str, Any]:
    return {"id": "d1", "name": "flux", "hardware": ["ADA_80_PLUS"], **fields}


def test_a_deployment_without_payload_has_no_inputs() -> None:
    discovery, graphs = build_catalog([deployment(), deployment(id="d2")], "rc")
    (flux,) = discovery.workflows
    assert flux.inputs == () and [r.id for r in flux.deployments] == ["d1", "d2"]
    assert graphs["d1"].graph is None and not flux.text_only
