"""The fair queue end to end: runs past a user's running cap wait in the database and go
round-robin across users as slots free, survive a restart, and show their place in line;
floods and strangers get one clear answer."""

from __future__ import annotations

import re
from pathlib import Path

from core.models import ChatRef, Run
from tests.e2e.harness import Engine, World, world

ALICE = ChatRef(platform="console", chat_id="lab", user_id="alice", user_name="Alice")
BOB = ChatRef(platform="console", chat_id="lab", user_id="bob", user_name="Bob")
TIGHT = {"max_running_per_user": 2, "max_running_per_deployment": 2}


async def ask(w: World, bot: Engine, who: ChatRef, count: int) -> list[Run]:
    """`count` runs asked for by `who`, one fake second apart; newest last."""
    runs = []
    for n in range(count):
        w.clock.advance(1)
        assert await bot.say(f"/txt2img fox {n} width=32 height=32", who=who) is None
        runs.append(await bot.last_run())
    return runs


def sent_order(w: World) -> list[str]:
    """Our run ids in the order the backend received them."""
    return [sim_run.inputs["prompt"] for sim_run in w.sim.runs.all()]


async def finish(w: World, bot: Engine, run: Run) -> None:
    fresh = await bot.container.runs_store.get(run.id)
    assert fresh is not None and fresh.backend_run_id is not None
    await w.sim.finish(fresh.backend_run_id)
    await bot.container.queue.pump()  # the end already pumped in the background; wait for it
    await bot.settle()


async def test_one_users_burst_does_not_delay_anothers_run(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path, **TIGHT) as w, w.engine() as bot:
        alice = await ask(w, bot, ALICE, 10)
        assert sent_order(w) == ["fox 0", "fox 1"]  # her running cap
        [bob] = await ask(w, bot, BOB, 1)
        assert len(w.sim.runs.all()) == 2  # the deployment is full too: Bob waits, first
        assert "Number 1 in line" in bot.seen()

        await finish(w, bot, alice[0])
        assert sent_order(w)[2] == bob.inputs["prompt"]  # Bob's run before Alice's third
        await finish(w, bot, alice[1])
        assert sent_order(w)[3] == "fox 2"
        last = [line for line in bot.seen().splitlines() if alice[9].id in line]
        # Her last run moved back when Bob came, then forward as slots freed.
        assert [re.findall(r"Number (\d+) in line", line) for line in last[1:]] == [
            ["8"],
            ["9"],
            ["8"],
            ["7"],
        ]
        assert "starts in about 4m 00s" in last[-1]  # 7th, 2 at a time: 4 turns of 60 s
        reply = await bot.say("/queue", who=ALICE)
        assert reply is not None and "Waiting (7):" in reply.text
        assert f"{alice[3].id} · txt2img · 🕒 Number 1 in line" in reply.text


async def test_queued_runs_survive_a_restart_in_order(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path, max_running_per_user=1) as w:
        async with w.engine() as first:
            runs = await ask(w, first, ALICE, 4)
            assert sent_order(w) == ["fox 0"]
        async with w.engine() as second:  # a new process on the same database
            for run in runs[:3]:
                await finish(w, second, run)
            assert sent_order(w) == ["fox 0", "fox 1", "fox 2", "fox 3"]


async def test_past_the_queue_cap_nothing_is_held(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        world(mongo_uri, tmp_path, max_running_per_user=1, max_queued_per_user=1) as w,
        w.engine() as bot,
    ):
        await ask(w, bot, ALICE, 2)
        before = await bot.container.accounts.balance(ALICE.user_key)
        reply = await bot.say("/txt2img one more width=32 height=32", who=ALICE)
        assert reply is not None and "(1 running and 1 waiting)" in reply.text
        assert await bot.container.accounts.balance(ALICE.user_key) == before
        assert len(await bot.container.runs_store.recent(10)) == 2


async def test_a_flood_gets_one_answer(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path, rate_limit_per_user=3) as w, w.engine() as bot:
        answers = [await bot.say("/workflows", who=ALICE) for _ in range(5)]
        assert all(a is not None and "txt2img" in a.text for a in answers[:3])
        assert answers[3] is not None and answers[3].text.startswith("Too many commands")
        assert answers[4] is None  # silence until the minute is over
        w.clock.advance(60)
        again = await bot.say("/workflows", who=ALICE)
        assert again is not None and "txt2img" in again.text
        assert await bot.say("/workflows") is not None  # admins are never limited


async def test_only_allowed_users_and_chats_may_run(mongo_uri: str, tmp_path: Path) -> None:
    allowed = {"allowed_users": frozenset({ALICE.user_key}), "allowed_chats": frozenset()}
    async with world(mongo_uri, tmp_path, **allowed) as w, w.engine() as bot:
        refused = await bot.say("/txt2img a fox width=32 height=32", who=BOB)
        assert refused is not None and "limited to certain users and chats" in refused.text
        helped = await bot.say("/help", who=BOB)
        assert helped is not None and "Commands:" in helped.text
        assert await bot.say("/txt2img a fox width=32 height=32", who=ALICE) is None
        assert [r.chat.user_key for r in await bot.container.runs_store.recent(5)] == [
            ALICE.user_key
        ]


async def test_anyone_may_run_in_an_allowed_chat_and_only_there(
    mongo_uri: str, tmp_path: Path
) -> None:
    allowed = {"allowed_users": frozenset(), "allowed_chats": frozenset({"console:lab"})}
    stranger_here = ChatRef(platform="console", chat_id="lab", user_id="carol", user_name="C")
    stranger_away = stranger_here.model_copy(update={"chat_id": "elsewhere"})
    async with world(mongo_uri, tmp_path, **allowed) as w, w.engine() as bot:
        refused = await bot.say("/txt2img a fox width=32 height=32", who=stranger_away)
        assert refused is not None and "limited to certain users and chats" in refused.text
        assert await bot.container.runs_store.recent(5) == []
        assert await bot.say("/txt2img a fox width=32 height=32", who=stranger_here) is None
        [run] = await bot.container.runs_store.recent(5)
        assert run.chat.chat_id == "lab" and run.chat.user_key == "console:carol"
