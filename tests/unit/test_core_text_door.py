"""The text front door: a chat line becomes one typed operation, parsed once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.backends import BackendRegistry
from core.catalog import Catalog, CatalogFile
from core.chat.book import CommandBook
from core.chat.commands import TELEGRAM_RULES
from core.chat.operations import (
    Ban,
    CancelRun,
    Help,
    ListRuns,
    ListWorkflows,
    MissingArgument,
    Operation,
    RefreshCatalog,
    Rerun,
    RunWorkflow,
    ShowStats,
    ShowStatus,
    Start,
    Unban,
    UnknownCommand,
)
from core.chat.text_door import TextFrontDoor
from core.notices import Problem
from core.workflow import Discovery, InputSpec, InputType, Workflow
from tests.fakes.attachments import BytesAttachment
from tests.fakes.backend import MemoryBackend
from tests.fakes.clock import FakeClock

TXT2IMG = Workflow(
    name="txt2img",
    command="txt2img",
    inputs=(
        InputSpec(name="prompt", type=InputType.TEXT, required=True),
        InputSpec(name="negativePrompt", type=InputType.TEXT),
        InputSpec(name="seed", type=InputType.INTEGER),
    ),
)
BLEND = Workflow(
    name="blend",
    command="blend",
    inputs=(
        InputSpec(name="prompt", type=InputType.TEXT),
        InputSpec(name="first", type=InputType.IMAGE, required=True),
        InputSpec(name="second", type=InputType.IMAGE, required=True),
    ),
)
NO_TEXT = Workflow(
    name="upscale", command="upscale", inputs=(InputSpec(name="scale", type=InputType.INTEGER),)
)


class NoSnapshots:
    async def load_snapshots(self) -> dict[str, Discovery]:
        return {}

    async def save_snapshot(self, backend: str, discovery: Discovery) -> None:
        pass


@pytest.fixture
async def door() -> TextFrontDoor:
    backend = MemoryBackend(workflows=[TXT2IMG, BLEND, NO_TEXT])
    catalog = Catalog(
        BackendRegistry([backend]), NoSnapshots(), CatalogFile(), FakeClock(), timedelta(hours=1)
    )
    await catalog.start()
    return TextFrontDoor(CommandBook(catalog, TELEGRAM_RULES))


def operation(door: TextFrontDoor, line: str) -> Operation:
    parsed = door.parse(line)
    assert parsed is not None
    return parsed.operation


def test_plain_text_and_a_bare_slash_are_not_commands(door: TextFrontDoor) -> None:
    assert door.parse("hello there") is None
    assert door.parse("") is None
    assert door.parse("/") is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/start", Start()),
        ("/help", Help()),
        ("/help /TXT2IMG", Help("txt2img")),
        ("/workflows", ListWorkflows()),
        ("/status abc123", ShowStatus("abc123")),
        ("/cancel abc123 please", CancelRun("abc123")),
        ("/rerun abc123", Rerun("abc123")),
        ("/status", MissingArgument("status", "run")),
        ("/refresh", RefreshCatalog()),
        ("/stats", ShowStats()),
        ("/runs", ListRuns()),
        ("/runs 25", ListRuns(25)),
        ("/runs lots", ListRuns()),
        ("/ban 42", Ban("42")),
        ("/unban telegram:42", Unban("telegram:42")),
        ("/ban", MissingArgument("ban", "user")),
        ("/paint a fox", UnknownCommand("paint")),
    ],
)
def test_built_in_commands(door: TextFrontDoor, line: str, expected: Operation) -> None:
    assert operation(door, line) == expected


def test_free_text_goes_to_the_main_input_and_options_to_the_rest(door: TextFrontDoor) -> None:
    run = operation(door, "/txt2img a red fox, watercolor NEGATIVEPROMPT='blurry, dark' seed=7")
    assert run == RunWorkflow(
        "txt2img",
        {"negativePrompt": "blurry, dark", "prompt": "a red fox, watercolor", "seed": "7"},
    )


def test_quoted_values_and_curly_quotes(door: TextFrontDoor) -> None:
    run = operation(door, """/txt2img fox negativePrompt=“it's odd” seed='7'""")
    assert isinstance(run, RunWorkflow)
    assert run.inputs == {"prompt": "fox", "negativePrompt": "it's odd", "seed": "7"}
    prose = operation(door, "/txt2img E=mc2 poster")
    assert isinstance(prose, RunWorkflow)
    assert prose.inputs == {"prompt": "E=mc2 poster"}  # no input is called anything like `e`
    assert prose.problems == ()


def test_a_bot_suffix_is_kept_apart(door: TextFrontDoor) -> None:
    parsed = door.parse("/txt2img@MyBot a fox")
    assert parsed is not None
    assert (parsed.command, parsed.addressee) == ("txt2img", "MyBot")
    assert parsed.operation == RunWorkflow("txt2img", {"prompt": "a fox"})


def test_problems_only_the_text_syntax_can_have(door: TextFrontDoor) -> None:
    twice = operation(door, "/txt2img a fox seed=1 SEED=2")
    assert isinstance(twice, RunWorkflow)
    assert twice.problems == (Problem.of("input.duplicate", "seed"),)
    both = operation(door, '/txt2img a fox prompt="a cat"')
    assert isinstance(both, RunWorkflow)
    assert both.problems == (Problem.of("input.both_text_and_option", "prompt"),)
    assert both.inputs == {"prompt": "a cat"}
    stray = operation(door, "/upscale make it big scale=2")
    assert isinstance(stray, RunWorkflow)
    assert stray.problems == (Problem.of("input.no_free_text"),)


def test_values_are_passed_on_as_typed_text_for_the_engine_to_check(
    door: TextFrontDoor,
) -> None:
    run = operation(door, "/txt2img a fox seed=many")
    assert isinstance(run, RunWorkflow)
    assert run.inputs == {"prompt": "a fox", "seed": "many"}
    assert run.problems == ()


def test_attachments_fill_the_image_inputs_not_given_otherwise(door: TextFrontDoor) -> None:
    parsed = door.parse("/blend mix them first=https://example.com/a.png")
    assert parsed is not None and parsed.takes_media
    assert isinstance(parsed.operation, RunWorkflow)
    photo, extra = BytesAttachment(b"1"), BytesAttachment(b"2")
    attached = door.attach(parsed.operation, [photo])
    assert dict(attached.media) == {"second": photo} and attached.problems == ()
    too_many = door.attach(parsed.operation, [photo, extra])
    assert dict(too_many.media) == {"second": photo}
    assert too_many.problems == (Problem.of("input.too_many_images", expected=1, count=2),)
    text_only = door.parse("/txt2img a fox")
    assert text_only is not None and not text_only.takes_media
