"""How commands and options read on Discord, and Discord's own phrases in the messages the
engine renders (images reach a command through its attachment options), in every language the
engine has a catalog for.

Commands and options keep one name in every language (no `name_localizations`): the messages
cite them (`/status run:`), and everyone in a channel types the same command. So an option in a
sentence is written as Discord's client shows it while typing, `` `run:` ``, and a usage names
its argument by the option's name.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.locales import DEFAULT_LANGUAGE

HINTS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "attach_image": "attach one in the `{input}` option",
        "attach_image_short": "attach an image in the `{input}` option",
        "list_needs_image": "takes an image",
        "image_help": "Images go in the command's attachment options.",
        "options_hint": "use the command's options",
        "options_usage": "[option:value …]",
        "option_forms": "",
        "main_input": "the main text",
        "run_usage": "`/<workflow> prompt:<text>`, then any other option",
        "runs_all_usage": "`/comfy runs`",
        "use_image": "attach it in the workflow's image option",
        "get_credits": "ask an admin for more",
        "grant_usage": "`/comfy grant user:<user> credits:<credits>`",
    },
    "ru": {
        "attach_image": "прикрепите его в параметре `{input}`",
        "attach_image_short": "прикрепите изображение в параметре `{input}`",
        "list_needs_image": "нужно изображение",
        "image_help": "Изображения прикрепляются в параметрах-вложениях команды.",
        "options_hint": "используйте параметры команды",
        "options_usage": "[параметр:значение …]",
        "option_forms": "",
        "main_input": "основной текст",
        "run_usage": "`/<сценарий> prompt:<текст>`, затем любые другие параметры",
        "runs_all_usage": "`/comfy runs`",
        "use_image": "прикрепите его в параметре-изображении сценария",
        "get_credits": "попросите ещё у администратора",
        "grant_usage": "`/comfy grant user:<пользователь> credits:<кредиты>`",
    },
    "es": {
        "attach_image": "adjunta una en la opción `{input}`",
        "attach_image_short": "adjunta una imagen en la opción `{input}`",
        "list_needs_image": "necesita una imagen",
        "image_help": "Las imágenes van en las opciones de adjuntos del comando.",
        "options_hint": "usa las opciones del comando",
        "options_usage": "[opción:valor …]",
        "option_forms": "",
        "main_input": "el texto principal",
        "run_usage": "`/<flujo> prompt:<texto>` y luego cualquier otra opción",
        "runs_all_usage": "`/comfy runs`",
        "use_image": "adjúntala en la opción de imagen del flujo",
        "get_credits": "pide más a un administrador",
        "grant_usage": "`/comfy grant user:<usuario> credits:<créditos>`",
    },
}

PHRASES: Mapping[str, Mapping[str, str]] = {
    "en": {
        "admin_group": "Admin: refresh the catalog, stats, runs, bans",
        "finished_see_below": "The result is in the channel.",
        "ended_see_below": "It ended: why is said in the channel.",
    },
    "ru": {
        "admin_group": "Админ: обновить каталог, статистика, запуски, блокировки",
        "finished_see_below": "Результат — в канале.",
        "ended_see_below": "Запуск завершён: причина — в канале.",
    },
    "es": {
        "admin_group": "Admin: actualizar el catálogo, estadísticas, ejecuciones, bloqueos",
        "finished_see_below": "El resultado está en el canal.",
        "ended_see_below": "Terminó: el motivo está en el canal.",
    },
}
"""What only Discord says: the `/comfy` group's description (the group exists on Discord only),
and the line a command's response ends with once its result (or why it failed or was cancelled)
was posted in the channel."""


class DiscordSyntax:
    def hints(self, language: str) -> Mapping[str, str]:
        return HINTS.get(language, HINTS[DEFAULT_LANGUAGE])

    def phrase(self, key: str, language: str) -> str:
        return PHRASES.get(language, PHRASES[DEFAULT_LANGUAGE])[key]

    def assignment(self, name: str, value: str) -> str:
        return f"{name}:{value}"

    def command(self, name: str) -> str:
        return f"`/{name}`"

    def option(self, name: str) -> str:
        return f"`{name}:`"

    def usage(self, command: str, argument: str) -> str:
        return f"`/{command} {argument}:`"

    def argument(self, name: str, words: str) -> str:
        return name


SYNTAX = DiscordSyntax()
