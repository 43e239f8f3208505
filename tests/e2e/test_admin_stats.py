"""What an admin reads in /stats: runs, success rate, GPU time and spend of the last 7 UTC days
by workflow, by user and by day, beside the totals; on Discord as embed fields."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from adapters.console.session import CONSOLE_USER
from core.models import ChatRef, Run
from core.requests import Attachment
from tests.e2e.harness import Engine, World, world
from tests.fakes.attachments import BytesAttachment, png
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_e2e import Lab, discord_bot

STRANGER = ChatRef(platform="console", chat_id="elsewhere", user_id="stranger", user_name="S")
BY_WORKFLOW = [
    "txt2img: 3 runs, 50% ok, GPU 1m 10s, $0.0236",
    "img2img: 1 runs, 100% ok, GPU 25.0s, $0.0080",
]
BY_USER = [
    "you (console:local): 2 runs, 100% ok, GPU 1m 00s, $0.0202",
    "S (console:stranger): 2 runs, 50% ok, GPU 35.0s, $0.0114",
]
BY_DAY = [
    *(f"2026-11-{day}: no runs" for day in range(18, 23)),
    "2026-11-23: 2 runs, 50% ok, GPU 1m 10s, $0.0236",  # the late run ended on the 24th
    "2026-11-24: 2 runs, 100% ok, GPU 25.0s, $0.0080",
]


async def ran(
    w: World,
    bot: Engine,
    line: str,
    seconds: float,
    who: ChatRef = CONSOLE_USER,
    images: Sequence[Attachment] = (),
) -> Run:
    """Ask for a run; the backend queues it at once and ends it `seconds` later."""
    assert await bot.say(line, who=who, images=images) is None
    run = await bot.last_run()
    assert run.backend_run_id is not None
    await w.sim.advance(run.backend_run_id)
    w.clock.advance(seconds)
    await w.sim.finish(run.backend_run_id)
    await bot.settle()
    ended = await bot.container.runs_store.get(run.id)
    assert ended is not None and ended.status.terminal
    return ended


async def test_stats_by_workflow_user_and_day(mongo_uri: str, tmp_path: Path) -> None:
    async with (
        world(mongo_uri, tmp_path, shared_clock=True) as w,
        FakeDiscord(clock=w.clock) as fake,
    ):
        lab = Lab.build(fake)
        admin = fake.add_user("root")
        fake.add_member(lab.guild, admin)
        admins = w.settings.admin_ids | {f"discord:{admin.id}"}
        w.settings = w.settings.model_copy(update={"admin_ids": admins})
        async with w.engine() as bot:
            assert f"{w.clock.now():%Y-%m-%d %H:%M}" == "2026-11-23 12:00"
            fox = await ran(w, bot, "/txt2img a fox width=32 height=32", 60)
            w.clock.advance(12 * 3600 - 60 - 5)  # asked for at 23:59:55
            late = await ran(w, bot, "/txt2img FAIL late width=32 height=32", 10, STRANGER)
            w.clock.advance(3600)
            image = BytesAttachment(png((40, 30)), "photo.png")
            blue = await ran(w, bot, "/img2img make it blue", 25, STRANGER, [image])
            assert await bot.say("/txt2img still waiting width=32 height=32") is None
            # Billed seconds at the simulator's A10G and L4 rates.
            assert [run.cost_usd for run in (fox, late, blue)] == [0.02022, 0.00337, 0.008]

            stats = await bot.say("/stats")
            assert stats is not None
            lines = stats.text.splitlines()
            assert "Total cost: $0.0316" in lines
            usage = lines[lines.index("") + 1 :]
            assert usage == [
                "Last 7 days (UTC, since 2026-11-18):",
                "By workflow:",
                *(f"  {line}" for line in BY_WORKFLOW),
                "By user:",
                *(f"  {line}" for line in BY_USER),
                "By day:",
                *(f"  {line}" for line in BY_DAY),
            ]

            async with discord_bot(w, fake, engine=bot) as dc:
                asked = fake.slash_command("comfy stats", channel=lab.channel, user=admin)
                [embed] = (await dc.reply(asked, 1)).data["embeds"]
        assert embed["description"].endswith("\n\nLast 7 days (UTC, since 2026-11-18):")
        assert [(f["name"], f["value"].splitlines()) for f in embed["fields"]] == [
            ("By workflow:", BY_WORKFLOW),
            ("By user:", BY_USER),
            ("By day:", BY_DAY),
        ]


async def test_stats_without_recent_runs(mongo_uri: str, tmp_path: Path) -> None:
    async with world(mongo_uri, tmp_path) as w, w.engine() as bot:
        stats = await bot.say("/stats")
    assert stats is not None
    assert stats.text.splitlines()[-2:] == ["", "No runs in the last 7 days."]
