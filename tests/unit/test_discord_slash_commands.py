"""The Discord command set compiled from a catalog: names, options, limits, the same every time,
and always what the fake Discord's validation accepts."""

from __future__ import annotations

from adapters.discord.command_sync import payload_hash
from adapters.discord.slash_commands import SlashCommands, command_size
from adapters.discord.wording import SYNTAX
from core.catalog import CatalogView
from core.chat.book import CommandBook
from core.chat.commands import DISCORD_RULES
from core.chat.text_render import TextRenderer
from core.workflow import InputSpec, InputType, Workflow
from tests.fakes.discord_command_rules import CommandRules


class FixedCatalog:
    def __init__(self, workflows: list[Workflow]) -> None:
        self.view = CatalogView(workflows, [])


def commands_of(workflows: list[Workflow]) -> SlashCommands:
    book = CommandBook(FixedCatalog(workflows), DISCORD_RULES)  # type: ignore[arg-type]
    return SlashCommands(book, TextRenderer(SYNTAX))


def text(name: str, required: bool = False) -> InputSpec:
    return InputSpec(name=name, type=InputType.TEXT, required=required)


def accepted(payload: list[dict[str, object]]) -> bool:
    rules = CommandRules()
    rules.check_list(payload)
    return not rules.errors


def test_names_and_options_follow_discords_rules_and_collide_deterministically() -> None:
    workflows = [
        Workflow(name="Help", command="Help", inputs=(text("prompt", True),)),
        Workflow(name="help!", command="help!", inputs=(text("prompt", True),)),
        Workflow(name="comfy", command="comfy", inputs=(text("prompt", True),)),
        Workflow(
            name="Flux Dev",
            command="Flux Dev",
            description="x" * 300,
            inputs=(
                InputSpec(name="Batch Size", type=InputType.INTEGER, min=1.5, max=8.7),
                InputSpec(name="batch_size", type=InputType.NUMBER, min=0, max=1),
                InputSpec(name="image", type=InputType.IMAGE),
                text("negative"),
                text("Prompt", True),
            ),
        ),
    ]
    commands = commands_of(workflows)
    payload = commands.payload()
    assert accepted(payload)
    names = [c["name"] for c in payload]
    assert names == [
        "help",
        "workflows",
        "status",
        "cancel",
        "runs",
        "show",
        "recipe",
        "balance",
        "usage",
        "queue",
        "flux_dev",  # workflows in name order: "Flux Dev", "Help", "comfy", "help!"
        "help_2",
        "comfy_2",
        "help_3",
        "comfy",
    ]
    assert commands.command_for("Help") == "help_2" and commands.command_for("help!") == "help_3"
    flux = payload[10]
    assert len(flux["description"]) == 100
    assert [(o["name"], o["type"], o["required"]) for o in flux["options"]] == [
        ("prompt", 3, True),
        ("batch_size", 4, False),
        ("batch_size_2", 10, False),
        ("image", 11, False),
        ("negative", 3, False),
    ]
    assert (flux["options"][1]["min_value"], flux["options"][1]["max_value"]) == (2, 8)
    assert commands.option_for("Flux Dev", "batch_size") == "batch_size_2"
    assert payload_hash(payload) == payload_hash(commands_of(list(reversed(workflows))).payload())


def test_at_most_100_commands_and_8000_characters_each() -> None:
    many = [
        Workflow(name=f"w{n:03d}", command=f"w{n:03d}", inputs=(text("prompt", True),))
        for n in range(120)
    ]
    choices = tuple(f"{'c' * 80}{n:02d}" for n in range(25))
    wide = Workflow(
        name="aaa_wide",
        command="aaa_wide",
        inputs=(
            text("prompt", True),
            *(
                InputSpec(name=f"pick{n}", type=InputType.CHOICE, choices=choices)
                for n in range(6)
            ),
        ),
    )
    commands = commands_of([wide, *many])
    payload = commands.payload()
    assert len(payload) == 100 and payload[-1]["name"] == "comfy"
    assert accepted(payload)
    # 10 built-ins and /comfy leave 89 places: aaa_wide, then w000 ... w087.
    assert commands.command_for("w087") == "w087" and commands.command_for("w088") is None
    fitted = payload[10]
    assert fitted["name"] == "aaa_wide" and command_size(fitted) <= 8000
    offered = [o for o in fitted["options"] if o.get("autocomplete")]
    listed = [o for o in fitted["options"] if o.get("choices")]
    assert len(offered) >= 2 and len(listed) >= 1 and len(offered) + len(listed) == 6


def test_built_in_descriptions_come_in_every_language_discord_users_may_speak() -> None:
    paint = Workflow(
        name="paint", command="paint", description="Paint it", inputs=(text("prompt", True),)
    )
    book = CommandBook(FixedCatalog([paint]), DISCORD_RULES)  # type: ignore[arg-type]
    payload = SlashCommands(book, TextRenderer(SYNTAX)).payload()
    assert accepted(payload)
    by_name = {c["name"]: c for c in payload}
    status = by_name["status"]
    assert status["description"] == "Show a run"
    assert status["description_localizations"] == {
        "ru": "Показать запуск",
        "es-ES": "Ver una ejecución",
        "es-419": "Ver una ejecución",
    }
    [run] = status["options"]
    assert (run["name"], run["description_localizations"]["ru"]) == ("run", "Id запуска")
    assert all("name_localizations" not in c for c in payload)  # names are cited in messages
    assert "description_localizations" not in by_name["paint"]  # the catalog's own words
    comfy = by_name["comfy"]
    assert comfy["description_localizations"]["ru"].startswith("Админ: обновить каталог")
    ban = next(o for o in comfy["options"] if o["name"] == "ban")
    assert ban["description_localizations"]["es-419"] == "Admin: bloquear a un usuario"
    assert ban["options"][0]["description_localizations"]["ru"].startswith("Пользователь")

    russian = SlashCommands(book, TextRenderer(SYNTAX, language="ru")).payload()
    assert accepted(russian)
    status = next(c for c in russian if c["name"] == "status")
    assert status["description"] == "Показать запуск"
    assert status["description_localizations"]["en-US"] == "Show a run"
    assert status["description_localizations"]["en-GB"] == "Show a run"
    assert "ru" not in status["description_localizations"]


def test_menu_priority_picks_the_workflows_registered_past_100() -> None:
    many = [
        Workflow(
            name=f"w{n:03d}",
            command=f"w{n:03d}",
            inputs=(text("prompt", True),),
            menu_priority=1 if n == 119 else 0,
        )
        for n in range(120)
    ]
    commands = commands_of(many)
    assert len(commands.payload()) == 100
    assert commands.command_for("w119") == "w119"  # past the cut by name, kept by priority
    assert commands.command_for("w087") == "w087" and commands.command_for("w088") is None
    assert commands.left_out() == [f"w{n:03d}" for n in range(88, 119)]
    line = commands.left_out_line()
    assert line.startswith("the Discord command list holds 89 of 120 workflows; 31 left out")
    assert "they cannot be run on Discord" in line and "menu_priority" in line
