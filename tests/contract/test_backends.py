"""The `WorkflowBackend` contract, run against every backend (see backend_rigs.py): discover,
submit, follow to the end, fetch the outputs, cancel, and what an unknown run answers."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from PIL import Image

from core.errors import FileTooLarge, RunNotFound
from core.models import RunStatus, UploadedFile
from core.output_hosts import OutputHosts
from core.ports import Job, RunAddress
from core.workflow import InputType, Workflow
from tests.contract.backend_rigs import Rig
from tests.e2e.harness import world
from tests.fakes.attachments import png


async def txt2img(rig: Rig) -> Workflow:
    found = await rig.backend.discover()
    workflow = next((w for w in found.workflows if w.name == "txt2img"), None)
    assert workflow is not None, [w.name for w in found.workflows]
    return workflow


async def submitted(rig: Rig, run_id: str, prompt: str = "a red fox") -> RunAddress:
    workflow = await txt2img(rig)
    deployment = workflow.deployments[0]
    assert deployment.backend == rig.backend.name
    main = workflow.main_text_input
    assert main is not None
    job = Job(
        run_id=run_id,
        deployment_id=deployment.id,
        inputs={main.name: prompt, **rig.extra_inputs},
        specs=workflow.inputs,
        webhook_url=None,
    )
    backend_run_id = await rig.backend.submit(job)
    assert backend_run_id
    return RunAddress(deployment.id, backend_run_id)


async def test_discovery_offers_txt2img_as_a_text_workflow(backend_rig: Rig) -> None:
    workflow = await txt2img(backend_rig)
    assert workflow.text_only and workflow.backend == backend_rig.backend.name
    main = workflow.main_text_input
    assert main is not None and main.type is InputType.TEXT
    found = await backend_rig.backend.discover()
    ids = {d.id for d in found.deployments}
    assert {ref.id for ref in workflow.deployments} <= ids
    assert await backend_rig.backend.ping()


async def test_submit_follow_and_fetch_the_outputs(backend_rig: Rig, tmp_path: Path) -> None:
    backend = backend_rig.backend
    address = await submitted(backend_rig, "contract1")
    waiting = await backend.get_run(address)
    assert waiting.backend_run_id == address.backend_run_id
    assert waiting.status.rank <= RunStatus.QUEUED.rank

    await backend_rig.start(address.backend_run_id)
    running = await backend.get_run(address)
    assert RunStatus.STARTED.rank <= running.status.rank and not running.status.terminal

    await backend_rig.finish(address.backend_run_id)
    done = await backend.get_run(address)
    assert done.status is RunStatus.SUCCESS and done.error is None
    assert done.outputs and all(o.url for o in done.outputs)
    url = done.outputs[0].url
    assert url is not None
    assert OutputHosts(backend.output_hosts).allows(url)
    target = tmp_path / "out" / "first.png"
    size = await backend.download(url, target, 50_000_000)
    data = await asyncio.to_thread(target.read_bytes)
    assert size == len(data) and Image.open(io.BytesIO(data)).format == "PNG"
    with pytest.raises(FileTooLarge):
        await backend.download(url, tmp_path / "out" / "small.png", 10)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["first.png"]
    again = await backend.get_run(address)  # asking twice changes nothing
    assert (again.status, again.outputs) == (done.status, done.outputs)


async def test_a_cancelled_running_run_ends_cancelled(backend_rig: Rig) -> None:
    backend = backend_rig.backend
    address = await submitted(backend_rig, "contract2")
    await backend_rig.start(address.backend_run_id)
    await backend.cancel(address)
    await backend_rig.finish(address.backend_run_id)
    ended = await backend.get_run(address)
    assert ended.status is RunStatus.CANCELLED
    assert ended.outputs == ()


async def test_a_submitted_run_is_located_by_our_run_id_or_not_at_all(backend_rig: Rig) -> None:
    address = await submitted(backend_rig, "contract3")
    found = await backend_rig.backend.locate("contract3", address.deployment_id)
    assert found in (address.backend_run_id, None)  # None: the backend cannot tell
    assert await backend_rig.backend.locate("never-submitted", address.deployment_id) is None


async def test_an_unknown_run_is_not_found(backend_rig: Rig) -> None:
    workflow = await txt2img(backend_rig)
    address = RunAddress(workflow.deployments[0].id, backend_rig.unknown_run_id)
    with pytest.raises(RunNotFound):
        await backend_rig.backend.get_run(address)
    with pytest.raises(RunNotFound):
        await backend_rig.backend.cancel(address)


async def test_an_uploaded_image_is_a_value_for_an_image_input(backend_rig: Rig) -> None:
    value = await backend_rig.backend.upload(
        UploadedFile(filename="photo.png", mime="image/png", data=png())
    )
    assert isinstance(value, str) and value
    again = await backend_rig.backend.upload(
        UploadedFile(filename="photo.png", mime="image/png", data=png())
    )
    assert isinstance(again, str) and again


async def test_the_backends_own_events_move_the_stored_run(
    backend_rig: Rig, mongo_uri: str, tmp_path: Path
) -> None:
    """Webhooks (ComfyDeploy, RunComfy) or the event stream (Comfy API) reach the engine's
    ingress and move the run as stored to running, then to its end: the fake clock never
    moves, so no poll ever comes due (webhooks that end a run are confirmed with the API;
    that is no poll)."""
    extra = " ".join(f"{k}={v}" for k, v in backend_rig.extra_inputs.items())
    async with world(mongo_uri, tmp_path) as w, w.engine(backends=[backend_rig.backend]) as bot:
        assert await bot.say(f"/txt2img a red fox {extra}") is None
        run = await bot.last_run()
        assert run.backend == backend_rig.backend.name
        rid = run.backend_run_id
        assert rid is not None
        await backend_rig.listening(rid)

        await backend_rig.start(rid)
        await backend_rig.heard(rid, end=False)
        await bot.settle()
        running = await bot.last_run()
        assert RunStatus.STARTED.rank <= running.status.rank and not running.status.terminal
        assert "⚙️ Started" in bot.seen() or "⚙️ Running" in bot.seen()

        await backend_rig.finish(rid)
        await backend_rig.heard(rid, end=True)
        await bot.settle()
        done = await bot.last_run()
        assert done.status is RunStatus.SUCCESS and done.outputs
        assert bot.seen().count("✅ Done") == 1
