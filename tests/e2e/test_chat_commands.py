"""What a chat user sees for each command, and for each kind of bad argument."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from core.actions import Action, ActionKind
from core.models import ChatRef, RunStatus
from tests.e2e.harness import Engine, world
from tests.fakes.attachments import BytesAttachment, png

STRANGER = ChatRef(platform="console", chat_id="elsewhere", user_id="stranger", user_name="S")


@pytest.fixture
async def bot(mongo_uri: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with world(mongo_uri, tmp_path) as w, w.engine() as engine:
        engine.world = w  # type: ignore[attr-defined]
        yield engine


BAD_ARGUMENTS = [
    ("/txt2img a fox colour=red", "Unknown option `colour`. Options of /txt2img: prompt,"),
    ("/txt2img a fox steps=many", "`steps` must be a whole number, not 'many'."),
    ("/txt2img a fox steps=80", "`steps` must be between 1 and 50, not 80."),
    ("/txt2img a fox cfg=warm", "`cfg` must be a number, not 'warm'."),
    (
        "/txt2img a fox style=oil",
        "`style` must be one of: none, watercolor, photo, anime (not 'oil').",
    ),
    ("/txt2img a fox hires=maybe", "`hires` must be yes or no, not 'maybe'."),
    ("/txt2img steps=20", "/txt2img needs a prompt: /txt2img <prompt>."),
    ("/txt2img " + "x" * 2001, "`prompt` is too long: 2001 characters, at most 2000."),
    ("/txt2img a fox seed=1 seed=2", "`seed` is given more than once."),
    (
        '/txt2img a fox prompt="a cat"',
        "Give `prompt` either as free text or as prompt=…, not both.",
    ),
    (
        "/img2img make it blue",
        "/img2img needs an image: give one as input_image=./picture.png.",
    ),
    ("/paint a fox", "I don't know /paint. See /workflows."),
]


@pytest.mark.parametrize(("line", "message"), BAD_ARGUMENTS)
async def test_bad_argument_gets_its_message_and_queues_nothing(
    bot: Engine, line: str, message: str
) -> None:
    reply = await bot.say(line)
    assert reply is not None
    assert message in reply.text
    assert await bot.container.runs_store.recent(5) == []


async def test_several_problems_are_all_reported(bot: Engine) -> None:
    reply = await bot.say("/txt2img a fox steps=0 cfg=99 style=oil")
    assert reply is not None
    assert reply.text.count("\n") == 2
    assert "`steps` must be between 1 and 50, not 0." in reply.text
    assert "`cfg` must be between 1 and 15, not 99." in reply.text


async def test_workflows_and_help(bot: Engine) -> None:
    listing = await bot.say("/workflows")
    assert listing is not None
    assert "/txt2img" in listing.text
    assert "/img2img" in listing.text and "(needs an image file or URL)" in listing.text
    assert "/upscale" in listing.text  # from the is_fluid=true listing
    helped = await bot.say("/help txt2img")
    assert helped is not None
    assert helped.text.startswith("/txt2img <prompt> [key=value …]")
    assert "steps — whole number, 1–50, default 20" in helped.text
    assert "style — one of none, watercolor, photo, anime, default none" in helped.text
    unknown = await bot.say("/help nope")
    assert unknown is not None and "I don't know /nope" in unknown.text


async def test_status_and_cancel(bot: Engine) -> None:
    await bot.say("/txt2img a long story width=32 height=32")
    run = await bot.last_run()
    status = await bot.say(f"/status {run.id}")
    assert status is not None
    assert f"run {run.id}" in status.text
    assert status.actions == (Action(ActionKind.CANCEL, run.id),)

    # Someone else's run reads exactly like one that does not exist.
    refused = await bot.say(f"/cancel {run.id}", who=STRANGER)
    hidden = await bot.say(f"/status {run.id}", who=STRANGER)
    missing = await bot.say("/status 0123456789ab", who=STRANGER)
    assert refused is not None and hidden is not None and missing is not None
    assert refused.text == hidden.text == f"I know no run {run.id} of yours."
    assert missing.text == "I know no run 0123456789ab of yours."

    cancelled = await bot.say(f"/cancel {run.id}")
    assert cancelled is not None and cancelled.text == f"Run {run.id}: 🚫 Cancelled."
    stored = await bot.container.runs_store.get(run.id)
    assert stored is not None and stored.status is RunStatus.CANCELLED
    assert bot.seen().count("🚫 Cancelled") == 1
    again = await bot.say(f"/cancel {run.id}")
    assert again is not None and "already ended" in again.text


async def test_image_input_is_checked_uploaded_and_used(bot: Engine) -> None:
    image = BytesAttachment(png((40, 30)), "photo.png")
    assert await bot.say("/img2img make it blue", images=[image]) is None
    run = await bot.last_run()
    assert str(run.inputs["input_image"]).startswith("http://127.0.0.1")
    sim = bot.world.sim  # type: ignore[attr-defined]
    assert run.backend_run_id is not None
    await sim.finish(run.backend_run_id)
    await bot.settle()
    assert "✅ Done" in bot.seen()
    saved = [line.split("image: ", 1)[1] for line in bot.seen().splitlines() if "image: " in line]
    with Image.open(saved[0]) as result:
        assert result.size == (40, 30)


async def test_admin_commands(bot: Engine) -> None:
    await bot.say("/balance", who=STRANGER)  # their account, with NEW_USER_CREDITS
    before = await bot.container.accounts.balance(STRANGER.user_key)
    money = ("/grant console:stranger 50", "/grant @S 50", "/refund some-charge-id")
    for command in ("/refresh", "/stats", "/runs all", "/ban someone", *money):
        refused = await bot.say(command, who=STRANGER)
        assert (
            refused is not None and refused.text == "Not allowed: that command is for admins only."
        )
    assert await bot.container.accounts.balance(STRANGER.user_key) == before
    statement = await bot.container.accounts.statement(STRANGER.user_key, 10)
    assert [entry.kind.value for entry in statement] == ["welcome"]
    refreshed = await bot.say("/refresh")
    assert refreshed is not None and "3 workflows" in refreshed.text
    banned = await bot.say("/ban stranger")
    assert banned is not None and "console:stranger is now banned" in banned.text
    blocked = await bot.say("/workflows", who=STRANGER)
    assert blocked is not None and blocked.text == "You are not allowed to use this bot."
    await bot.say("/unban stranger")
    allowed = await bot.say("/workflows", who=STRANGER)
    assert allowed is not None and "/txt2img" in allowed.text
    stats = await bot.say("/stats")
    assert stats is not None and "Workflows: 3" in stats.text


async def test_rerun_is_for_the_owner_and_the_chat_it_was_shown_in(bot: Engine) -> None:
    await bot.say("/txt2img a fox to repeat width=32 height=32")
    original = await bot.last_run()
    refused = await bot.say(f"/rerun {original.id}", who=STRANGER)
    assert refused is not None and "I know no run" in refused.text
    neighbour = ChatRef(platform="console", chat_id="console", user_id="neighbour")
    bot.world.clock.advance(1)  # type: ignore[attr-defined]
    assert await bot.say(f"/rerun {original.id}", who=neighbour) is None
    rerun = await bot.last_run()
    assert rerun.rerun_of == original.id
    assert rerun.inputs == original.inputs
    assert rerun.chat.user_id == "neighbour"


async def test_messages_name_the_command_as_this_platform_compiled_it(
    mongo_uri: str, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("workflows:\n  img2img:\n    command: txt2img\n")  # a collision
    async with world(mongo_uri, tmp_path, catalog_file=catalog) as w, w.engine() as bot:
        listing = await bot.say("/workflows")
        assert listing is not None
        assert "/txt2img — Image to image" in listing.text
        assert "/txt2img_2 — Text to image" in listing.text
        refused = await bot.say("/txt2img_2 steps=500")
        assert refused is not None
        assert refused.text.splitlines() == [
            "/txt2img_2 needs a prompt: /txt2img_2 <prompt>.",
            "`steps` must be between 1 and 50, not 500.",
        ]
        helped = await bot.say("/help txt2img_2")
        assert helped is not None and helped.text.startswith("/txt2img_2 <prompt> [key=value …]")
        assert w.sim.runs.all() == []
