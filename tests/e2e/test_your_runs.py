"""A user's own runs on the console: `/runs` lists them with status, time and price and a way to
show each again, `/show` posts a result again, `/recipe` gives everything it was made with as a
command that makes it again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.console.session import CONSOLE_USER
from core.actions import Action, ActionKind
from core.models import ChatRef, Run
from tests.e2e.harness import Engine, World, world

STRANGER = ChatRef(platform="console", chat_id="elsewhere", user_id="stranger", user_name="S")


@pytest.fixture
async def bot(mongo_uri: str, tmp_path: Path) -> AsyncIterator[tuple[World, Engine]]:
    async with world(mongo_uri, tmp_path) as w, w.engine() as engine:
        yield w, engine


async def finished_run(w: World, engine: Engine, line: str, who: ChatRef = CONSOLE_USER) -> Run:
    w.clock.advance(1)
    assert await engine.say(line, who) is None
    run = await engine.last_run()
    assert run.backend_run_id is not None
    await w.sim.finish(run.backend_run_id)
    await engine.settle()
    found = await engine.container.runs_store.get(run.id)
    assert found is not None
    return found


async def test_runs_lists_the_users_own_runs_with_a_way_to_show_each(
    bot: tuple[World, Engine],
) -> None:
    w, engine = bot
    first = await finished_run(w, engine, "/txt2img a fox width=32 height=32")
    second = await finished_run(w, engine, "/txt2img an owl width=32 height=32")
    await finished_run(w, engine, "/txt2img not mine width=32 height=32", STRANGER)

    listing = await engine.say("/runs")
    assert listing is not None
    lines = listing.text.splitlines()
    assert lines[0] == "Your last runs:"
    assert lines[1].startswith(f"{second.id} ✅ Done · txt2img · ")
    assert lines[2].startswith(f"{first.id} ✅ Done · txt2img · ")
    assert "⏱ " in lines[1] and "💰 $" in lines[1]
    assert lines[-1] == "Show one again: /show <run id>"
    assert listing.actions == (
        Action(ActionKind.SHOW, second.id),
        Action(ActionKind.SHOW, first.id),
    )
    assert listing.copyable == (second.id, first.id)
    one = await engine.say("/runs 1")
    assert one is not None and len(one.actions) == 1
    empty = await engine.say("/runs", ChatRef(platform="console", chat_id="c", user_id="new"))
    assert empty is not None and empty.text == "You have no runs yet. Try /workflows."
    everyone = await engine.say("/runs all")
    assert everyone is not None and "console:stranger" in everyone.text


async def test_show_posts_a_result_again(bot: tuple[World, Engine]) -> None:
    w, engine = bot
    run = await finished_run(w, engine, "/txt2img a fox width=32 height=32")
    assert engine.seen().count("✅ Done") == 1
    assert await engine.say(f"/show {run.id[:7]}") is None  # posted like a delivery
    assert engine.seen().count("✅ Done") == 2
    assert engine.seen().count(f"🌱 {run.inputs['seed']}") == 2
    assert len([line for line in engine.seen().splitlines() if "  image: " in line]) == 2
    stored = await engine.container.runs_store.get(run.id)
    assert stored is not None and stored.delivery_parts == run.delivery_parts  # not redelivered


async def test_recipe_is_a_command_that_makes_the_same_run(bot: tuple[World, Engine]) -> None:
    w, engine = bot
    run = await finished_run(
        w, engine, "/txt2img a red fox, watercolor steps=30 style=watercolor width=32 height=32"
    )
    recipe = await engine.say(f"/recipe {run.id}")
    assert recipe is not None
    lines = recipe.text.splitlines()
    assert lines[0] == f"📜 Recipe of run {run.id}"
    assert "Workflow: /txt2img" in lines
    assert "Prompt: a red fox, watercolor" in lines
    assert "Inputs: steps 30 · width 32 · height 32 · style watercolor" in lines
    assert f"🌱 {run.inputs['seed']}" in lines
    command = lines[-1]
    assert command == (
        "/txt2img a red fox, watercolor steps=30 width=32 height=32 style=watercolor "
        f"seed={run.inputs['seed']}"
    )
    assert recipe.copyable == (run.id, command)
    assert recipe.actions == (Action(ActionKind.SAME_SEED, run.id),)

    again = await finished_run(w, engine, command)
    assert again.inputs == run.inputs
    caption = next(
        line
        for line in engine.seen().splitlines()
        if f"✅ Done · txt2img · run {again.id}" in line
    )
    assert (
        "«a red fox, watercolor» · steps 30 · width 32 · height 32 · style watercolor" in caption
    )


async def test_a_result_on_the_console_lists_what_its_buttons_would_do(
    bot: tuple[World, Engine],
) -> None:
    w, engine = bot
    run = await finished_run(w, engine, "/txt2img a fox width=32 height=32")
    assert f"  ↳ /reroll {run.id} · /rerun {run.id} · /recipe {run.id}" in engine.seen()
    rerolled = await finished_run(w, engine, f"/reroll {run.id}")
    same = await finished_run(w, engine, f"/rerun {run.id}")
    assert rerolled.inputs["seed"] != run.inputs["seed"] and same.inputs == run.inputs
