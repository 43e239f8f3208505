"""Interaction data -> one operation; users' files only from Discord's hosts."""

from __future__ import annotations

import pytest

from adapters.discord.attachments import AttachmentFetcher, DiscordAttachment
from adapters.discord.door import InteractionDoor
from core.catalog import CatalogView
from core.chat.book import CommandBook
from core.chat.commands import DISCORD_RULES
from core.chat.operations import (
    Ban,
    Help,
    ListRuns,
    MissingArgument,
    RunWorkflow,
    ShowRecipe,
    ShowRun,
    ShowStatus,
    UnknownCommand,
)
from core.errors import FileRejected, MediaUnavailable
from core.workflow import InputSpec, InputType, Workflow

FETCHER = AttachmentFetcher(("http", "127.0.0.1", 8000))
PAINT = Workflow(
    name="paint",
    command="paint",
    inputs=(
        InputSpec(name="Prompt", type=InputType.TEXT, required=True),
        InputSpec(name="Start Image", type=InputType.IMAGE),
        InputSpec(name="steps", type=InputType.INTEGER),
    ),
)


class FixedCatalog:
    view = CatalogView([PAINT], [])


DOOR = InteractionDoor(CommandBook(FixedCatalog(), DISCORD_RULES), FETCHER)  # type: ignore[arg-type]


def test_a_workflow_command_fills_inputs_by_their_names() -> None:
    attachment = {
        "id": "9",
        "filename": "a.png",
        "size": 120,
        "url": "https://cdn.discordapp.com/a",
    }
    operation = DOOR.operation(
        {
            "name": "paint",
            "options": [
                {"name": "prompt", "type": 3, "value": "a fox"},
                {"name": "start_image", "type": 11, "value": "9"},
                {"name": "steps", "type": 4, "value": 12},
                {"name": "gone", "type": 3, "value": "x"},
            ],
            "resolved": {"attachments": {"9": attachment}},
        }
    )
    assert isinstance(operation, RunWorkflow)
    assert operation.inputs == {"Prompt": "a fox", "steps": 12}
    image = operation.media["Start Image"]
    assert (image.filename, image.size) == ("a.png", 120)
    [problem] = operation.problems
    assert (problem.key, problem.input) == ("input.unknown", "gone")


def test_built_ins_and_the_admin_group() -> None:
    assert DOOR.operation(
        {"name": "help", "options": [{"name": "command", "value": "/paint"}]}
    ) == (Help("paint"))
    assert DOOR.operation({"name": "status", "options": []}) == MissingArgument("status", "run")
    assert DOOR.operation(
        {"name": "status", "options": [{"name": "run", "type": 3, "value": " r1 "}]}
    ) == ShowStatus("r1")
    ban = {"name": "ban", "type": 1, "options": [{"name": "user", "value": "<@!123>"}]}
    assert DOOR.operation({"name": "comfy", "options": [ban]}) == Ban("123")
    everybody = {"name": "runs", "type": 1, "options": [{"name": "count", "value": 99}]}
    assert DOOR.operation({"name": "comfy", "options": [everybody]}) == ListRuns(20, everyone=True)
    assert DOOR.operation({"name": "comfy", "options": [{"name": "runs", "type": 1}]}) == (
        ListRuns(10, everyone=True)
    )
    mine = {"name": "runs", "options": [{"name": "count", "type": 4, "value": 3}]}
    assert DOOR.operation(mine) == ListRuns(3)
    assert DOOR.operation({"name": "runs"}) == ListRuns(10)
    run = [{"name": "run", "type": 3, "value": "r1"}]
    assert DOOR.operation({"name": "show", "options": run}) == ShowRun("r1")
    assert DOOR.operation({"name": "recipe", "options": run}) == ShowRecipe("r1")
    assert DOOR.operation({"name": "show"}) == MissingArgument("show", "run")
    assert DOOR.operation({"name": "paint2"}) == UnknownCommand("paint2")


def test_autocomplete_offers_matching_commands_for_help() -> None:
    focused = {"name": "command", "type": 3, "value": "PA", "focused": True}
    assert DOOR.choices({"name": "help", "options": [focused]}) == ["paint"]


def test_files_come_only_from_discords_cdn_or_the_configured_api_host() -> None:
    assert FETCHER.allowed("https://cdn.discordapp.com/attachments/1/2/a.png?ex=1")
    assert FETCHER.allowed("https://media.discordapp.net/attachments/1/2/a.png")
    assert FETCHER.allowed("http://127.0.0.1:8000/attachments/1/2/a.png")
    assert not FETCHER.allowed("http://cdn.discordapp.com/attachments/1/2/a.png")
    assert not FETCHER.allowed("http://127.0.0.1:8001/attachments/1/2/a.png")
    assert not FETCHER.allowed("https://evil.example/attachments/1/2/a.png")


async def test_a_file_too_large_or_elsewhere_is_never_fetched() -> None:
    big = DiscordAttachment(FETCHER, "https://cdn.discordapp.com/a.png", "a.png", 5_000_000)
    with pytest.raises(FileRejected):
        await big.read(1_000_000)
    elsewhere = DiscordAttachment(FETCHER, "https://evil.example/a.png", "a.png", 10)
    with pytest.raises(MediaUnavailable):
        await elsewhere.read(1_000_000)
