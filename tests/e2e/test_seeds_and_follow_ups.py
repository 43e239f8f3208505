"""Seeds, rerolls and follow-ups on the console, as users of image bots expect them: a random seed
when none is given (shown under the result), 🔁 Reroll for a new one, ♻️ Same seed for the same
picture, ⬆️ Upscale and 🔀 Vary feeding the result into the workflow the catalog names."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from adapters.comfyapi import ComfyApiBackend
from adapters.console.session import CONSOLE_USER
from core.actions import Action, ActionKind
from core.chat import buttons
from core.chat.content import Content, RunAccepted
from core.models import Run, RunStatus
from core.seeds import SEED_MAX
from tests.e2e.comfyapi_rig import TOKEN, ComfyApiRig, followed, streaming, write_workflows
from tests.e2e.harness import Engine, World, world
from tests.fakes.comfyui_graphs import img2img
from tests.fakes.comfyui_stack import ComfyApiStack

CATALOG = """\
workflows:
  txt2img:
    upscale_with: upscale
    vary_with: img2img
"""


@pytest.fixture
async def bot(mongo_uri: str, tmp_path: Path) -> AsyncIterator[tuple[World, Engine]]:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    async with world(mongo_uri, tmp_path, catalog_file=catalog) as w, w.engine() as engine:
        yield w, engine


async def finish(w: World, engine: Engine, run: Run) -> Run:
    backend_run_id = (await stored(engine, run)).backend_run_id
    assert backend_run_id is not None
    await w.sim.finish(backend_run_id)
    await engine.settle()
    return await stored(engine, run)


async def stored(engine: Engine, run: Run) -> Run:
    found = await engine.container.runs_store.get(run.id)
    assert found is not None
    return found


async def press(engine: Engine, kind: ActionKind, run: Run) -> Content:
    """What pressing one of the result's buttons does (the same grammar on every platform)."""
    content = await engine.chat.execute(buttons.operation_for(Action(kind, run.id)), CONSOLE_USER)
    await engine.settle()
    return content


def saved_images(engine: Engine) -> list[bytes]:
    paths = [line.split(": ", 1)[1] for line in engine.seen().splitlines() if "  image: " in line]
    return [Path(path).read_bytes() for path in paths]


async def test_no_seed_or_minus_one_gives_a_random_seed_shown_with_the_result(
    bot: tuple[World, Engine],
) -> None:
    w, engine = bot
    runs = []
    for line in ("/txt2img a fox width=32 height=32", "/txt2img a fox width=32 height=32 seed=-1"):
        assert await engine.say(line) is None
        w.clock.advance(1)
        runs.append(await finish(w, engine, await engine.last_run()))
    seeds = [run.inputs["seed"] for run in runs]
    assert all(isinstance(seed, int) and 0 <= seed <= SEED_MAX for seed in seeds)
    assert seeds[0] != seeds[1]
    for seed in seeds:
        assert f"🌱 {seed}" in engine.seen()
    first, second = saved_images(engine)
    assert first != second  # the same prompt twice: two pictures

    assert await engine.say("/txt2img a fox width=32 height=32 seed=7") is None
    assert (await engine.last_run()).inputs["seed"] == 7


async def test_reroll_draws_a_new_seed_and_same_seed_repeats_the_picture(
    bot: tuple[World, Engine],
) -> None:
    w, engine = bot
    await engine.say("/txt2img a red fox steps=12 width=32 height=32")
    original = await finish(w, engine, await engine.last_run())
    assert original.status is RunStatus.SUCCESS
    actions = engine.chat.result_actions(original)  # the result's buttons
    assert [a.kind for a in actions] == [
        ActionKind.REROLL,
        ActionKind.SAME_SEED,
        ActionKind.UPSCALE,
        ActionKind.VARY,
        ActionKind.RECIPE,
    ]

    w.clock.advance(1)
    rerolled = await press(engine, ActionKind.REROLL, original)
    assert isinstance(rerolled, RunAccepted)
    reroll = await finish(w, engine, rerolled.run)
    w.clock.advance(1)
    repeated = await press(engine, ActionKind.SAME_SEED, original)
    assert isinstance(repeated, RunAccepted)
    same = await finish(w, engine, repeated.run)

    assert reroll.inputs["seed"] != original.inputs["seed"]
    assert {k: v for k, v in reroll.inputs.items() if k != "seed"} == {
        k: v for k, v in original.inputs.items() if k != "seed"
    }
    assert same.inputs == original.inputs
    assert reroll.rerun_of == same.rerun_of == original.id
    first, rerolled_image, same_image = saved_images(engine)
    assert same_image == first and rerolled_image != first


async def test_upscale_and_vary_feed_the_result_into_the_named_workflows(
    bot: tuple[World, Engine],
) -> None:
    w, engine = bot
    await engine.say("/txt2img a lighthouse width=48 height=32")
    original = await finish(w, engine, await engine.last_run())

    w.clock.advance(1)
    upscaled = await press(engine, ActionKind.UPSCALE, original)
    assert isinstance(upscaled, RunAccepted)
    upscale = await finish(w, engine, upscaled.run)
    assert upscale.workflow == "upscale" and upscale.status is RunStatus.SUCCESS
    # The result went as a file, uploaded like a user's (an output link may expire or be
    # refused by the backend), with the bytes the user was shown.
    given = str(upscale.inputs["input_image"])
    assert given != original.outputs[0].url and "/inputs/" in given
    upload = w.sim.files.get(given.split(w.sim.root_url + "/", 1)[1])
    assert upload is not None and upload.data == saved_images(engine)[0]
    w.clock.advance(1)
    # Its saved file gone (purged after the retention period): fetched again from the backend.
    shutil.rmtree(engine.container.files.outputs_dir / original.id)
    varied = await press(engine, ActionKind.VARY, original)
    assert isinstance(varied, RunAccepted)
    vary = await finish(w, engine, varied.run)
    assert vary.workflow == "img2img" and vary.inputs["prompt"] == "a lighthouse"

    paths = [line.split(": ", 1)[1] for line in engine.seen().splitlines() if "  image: " in line]
    sizes = []
    for path in paths:
        with Image.open(path) as image:
            sizes.append(image.size)
    assert sizes == [(48, 32), (96, 64), (48, 32)]  # the upscaler's default scale is 2
    # An upscale's own result offers no upscale of it: the catalog names none for `upscale`.
    kinds = [a.kind for a in engine.chat.result_actions(upscale)]
    assert kinds == [ActionKind.RERUN, ActionKind.RECIPE]


async def test_buttons_of_a_run_the_user_may_not_see_do_nothing(
    bot: tuple[World, Engine],
) -> None:
    w, engine = bot
    await engine.say("/txt2img a secret width=32 height=32")
    original = await finish(w, engine, await engine.last_run())
    stranger = CONSOLE_USER.model_copy(update={"user_id": "s", "chat_id": "elsewhere"})
    for kind in (ActionKind.REROLL, ActionKind.UPSCALE, ActionKind.RECIPE, ActionKind.SHOW):
        content = await engine.chat.execute(
            buttons.operation_for(Action(kind, original.id)), stranger
        )
        reply = engine.front.words.render(content)
        assert reply is not None and reply.text == f"I know no run {original.id} of yours."
    assert len(await engine.container.runs_store.recent(10)) == 1


async def test_upscale_on_the_comfy_api_backend_uploads_the_result_as_an_asset(
    mongo_uri: str, tmp_path: Path
) -> None:
    """Comfy API v2 takes no image links: the result goes to the upscaler as an uploaded asset,
    with the bytes the user was shown."""
    folder = write_workflows(tmp_path / "workflows")
    (folder / "upscale.json").write_text(json.dumps(img2img("example.png", "upscaled")))
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("workflows:\n  txt2img:\n    upscale_with: upscale\n")
    async with ComfyApiStack(mode="manual", token=TOKEN) as stack:
        rig = ComfyApiRig(stack, folder)
        backend = rig.backend()
        async with (
            world(mongo_uri, tmp_path, catalog_file=catalog) as w,
            w.engine(backends=[backend]) as engine,
        ):
            await engine.say("/txt2img a lighthouse seed=5")
            original = await comfy_finish(rig, backend, engine, await engine.last_run())
            assert ActionKind.UPSCALE in [a.kind for a in engine.chat.result_actions(original)]

            w.clock.advance(1)
            upscaled = await press(engine, ActionKind.UPSCALE, original)
            assert isinstance(upscaled, RunAccepted)
            (upload,) = stack.comfy.uploads
            assert upload.data == saved_images(engine)[0]
            sent = await stack.comfy.wait_for_prompt(2)
            assert sent.graph["10"]["inputs"]["image"] == f"comfybot/{upload.name}"
            upscale = await comfy_finish(rig, backend, engine, upscaled.run)
            assert upscale.workflow == "upscale" and upscale.status is RunStatus.SUCCESS
            assert len(saved_images(engine)) == 2


async def comfy_finish(
    rig: ComfyApiRig, backend: ComfyApiBackend, engine: Engine, run: Run
) -> Run:
    run = await stored(engine, run)
    await streaming(rig, backend, run)
    await rig.stack.comfy.finish()
    await followed(backend, run, lambda f: f.done)
    await engine.settle()
    return await stored(engine, run)


async def test_the_console_upscales_and_varies_a_run_named_as_the_image(
    bot: tuple[World, Engine],
) -> None:
    """A terminal has no buttons: the result lists the commands that do what they would, and an
    image input takes a run (its id, or a prefix of six characters or more)."""
    w, engine = bot
    await engine.say("/txt2img a lighthouse width=48 height=32")
    original = await finish(w, engine, await engine.last_run())
    run = original.id
    assert (
        f"  ↳ /reroll {run} · /rerun {run} · /upscale input_image={run}"
        f" · /img2img input_image={run} · /recipe {run}"
    ) in engine.seen()

    w.clock.advance(1)
    assert await engine.say(f"/upscale input_image={run[:6]}") is None
    upscale = await finish(w, engine, await engine.last_run())
    assert upscale.workflow == "upscale" and upscale.status is RunStatus.SUCCESS
    w.clock.advance(1)
    assert await engine.say(f"/img2img a stormy sea input_image={run.upper()}") is None
    vary = await finish(w, engine, await engine.last_run())
    assert vary.workflow == "img2img" and vary.inputs["prompt"] == "a stormy sea"
    _, upscaled, _ = saved_images(engine)
    with Image.open(io.BytesIO(upscaled)) as image:
        assert image.size == (96, 64)  # the upscaler's default scale is 2

    unknown = await engine.say("/upscale input_image=abcdef")
    assert unknown is not None and unknown.text == "I know no run abcdef of yours."
    stranger = CONSOLE_USER.model_copy(update={"user_id": "s", "chat_id": "elsewhere"})
    hidden = await engine.say(f"/upscale input_image={run}", who=stranger)
    assert hidden is not None and hidden.text == f"I know no run {run} of yours."
