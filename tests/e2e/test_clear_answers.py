"""Clear answers on the console: why a run failed, bounds that make sense, the input forms people
type, short echoes of long bad input, hints for what is no command, and run ids by prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.console.session import CONSOLE_USER
from core.models import ChatRef, EventSource, RunEvent, RunStatus
from tests.contract.runs_data import make_run
from tests.e2e.harness import Engine, World, world

STRANGER = ChatRef(platform="console", chat_id="elsewhere", user_id="stranger", user_name="S")


@pytest.fixture
async def bot(mongo_uri: str, tmp_path: Path) -> AsyncIterator[tuple[World, Engine]]:
    async with world(mongo_uri, tmp_path) as w, w.engine() as engine:
        yield w, engine


async def reply(engine: Engine, line: str, who: ChatRef = CONSOLE_USER) -> str:
    answer = await engine.say(line, who)
    assert answer is not None, line
    return answer.text


async def test_a_failed_run_says_why_in_the_backends_words_once(
    bot: tuple[World, Engine],
) -> None:
    _, engine = bot
    await engine.say("/txt2img a fox width=32 height=32")
    run = await engine.last_run()
    assert run.backend_run_id is not None
    error = "Error executing KSampler: CUDA out of memory (tried to allocate 2 GiB)"
    failed = RunEvent(
        backend_run_id=run.backend_run_id,
        status=RunStatus.FAILED,
        source=EventSource.WEBHOOK,
        error=error,
    )
    await engine.container.tracker.apply(run.id, failed)
    await engine.container.tracker.apply(run.id, failed)  # a duplicate report changes nothing
    await engine.settle()
    assert engine.seen().count(f"The backend said: {error}") == 1
    assert engine.seen().count("❌ Failed") == 1


async def test_a_failure_without_words_gets_the_generic_reason(
    bot: tuple[World, Engine],
) -> None:
    w, engine = bot
    await engine.say("/txt2img this will FAIL width=32 height=32")
    run = await engine.last_run()
    assert run.backend_run_id is not None
    await w.sim.finish(run.backend_run_id)
    await engine.settle()
    assert "The workflow failed on the backend." in engine.seen()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/txt2img a fox width=0", "`width` must be between 16 and 4096, not 0."),
        ("/txt2img a fox height=-64", "`height` must be between 16 and 4096, not -64."),
        ("/txt2img a fox width=100000", "`width` must be between 16 and 4096, not 100000."),
        ("/txt2img a fox batch_size=0", "`batch_size` must be between 1 and 10, not 0."),
        (
            "/txt2img a fox negative=" + "n" * 2001,
            "`negative` is too long: 2001 characters, at most 2000.",
        ),
    ],
)
async def test_bounds_that_make_sense(bot: tuple[World, Engine], line: str, message: str) -> None:
    _, engine = bot
    assert await reply(engine, line) == message
    assert await engine.container.runs_store.recent(5) == []


async def test_input_forms_people_type(bot: tuple[World, Engine]) -> None:
    w, engine = bot
    line = (
        "/txt2img a fox --steps 30 --AR 16:9 STYLE = “watercolor” Cfg=5 --hires --no trees, cars"
    )
    assert await engine.say(line) is None
    run = await engine.last_run()
    assert run.inputs["prompt"] == "a fox"
    assert (run.inputs["steps"], run.inputs["style"], run.inputs["cfg"]) == (30, "watercolor", 5)
    assert (run.inputs["width"], run.inputs["height"]) == (680, 384)  # 16:9 of 512x512 pixels
    assert run.inputs["negative"] == "blurry, trees, cars"  # after the workflow's default
    assert run.inputs["hires"] is True

    w.clock.advance(1)
    assert await engine.say("/txt2img E=mc2 poster, chalk on a blackboard") is None
    assert (await engine.last_run()).inputs["prompt"] == "E=mc2 poster, chalk on a blackboard"
    assert await reply(engine, "/txt2img a fox stpes=20 on a hill") == (
        "Unknown option `stpes`: did you mean `steps`?"
    )
    assert await reply(engine, "/txt2img a fox --ar wide") == (
        "`ar` must be a ratio such as 16:9, not 'wide'."
    )
    refused = await reply(engine, "/upscale --ar 1:1")
    assert (
        refused.splitlines()[0] == "/upscale has no width and height to give an aspect ratio to."
    )


async def test_long_bad_input_is_echoed_shortened_in_one_message(
    bot: tuple[World, Engine],
) -> None:
    _, engine = bot
    text = await reply(engine, "/txt2img a fox steps=" + "9" * 5000)
    assert text.startswith("`steps` must be between 1 and 50, not 999")
    assert "…" in text and len(text) < 200
    unknown = await reply(engine, "/" + "x" * 5000)
    assert unknown.startswith("I don't know /xxx") and len(unknown) < 200


async def test_what_is_no_command_gets_a_short_hint(bot: tuple[World, Engine]) -> None:
    _, engine = bot
    hint = "I answer commands. Try /txt2img, or see /workflows and /help."
    assert await reply(engine, "hello there") == hint
    assert await reply(engine, "/") == hint


async def test_run_ids_by_prefix_and_other_users_runs_read_as_unknown(
    bot: tuple[World, Engine],
) -> None:
    _, engine = bot
    await engine.say("/txt2img a fox width=32 height=32")
    run = await engine.last_run()
    status = await engine.say(f"/status {run.id[:6]}")
    assert status is not None and f"run {run.id}" in status.text
    assert run.id in status.copyable
    assert await reply(engine, f"/status {run.id[:5]}") == (
        f"Give at least 6 characters of a run id, not '{run.id[:5]}'."
    )
    for command in ("status", "cancel", "show", "recipe"):
        assert await reply(engine, f"/{command} {run.id[:6]}", STRANGER) == (
            f"I know no run {run.id[:6]} of yours."
        )
    store = engine.container.runs_store
    mine = CONSOLE_USER
    for suffix in ("aa", "bb"):
        await store.insert(make_run(id=f"cafe00{suffix}0000", chat=mine))
    assert await reply(engine, "/status cafe00") == (
        "Several runs start with cafe00: give more of its id."
    )
    assert "run cafe00aa0000" in await reply(engine, "/status CAFE00a")
    cancelled = await reply(engine, f"/cancel {run.id[:8]}")
    assert cancelled == f"Run {run.id}: 🚫 Cancelled."


async def test_help_lists_admin_commands_to_admins_only(bot: tuple[World, Engine]) -> None:
    _, engine = bot
    admin = await reply(engine, "/help")
    user = await reply(engine, "/help", STRANGER)
    for text in (admin, user):
        assert "/runs — your last runs" in text and "/show <run id> — post a result again" in text
        assert "--ar 16:9" in text
    assert "Admin commands:" in admin and "/ban <user id> — ban a user" in admin
    assert "/runs all — everybody's last runs" in admin
    assert "Admin commands:" not in user and "/ban" not in user
