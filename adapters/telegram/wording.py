"""How commands look on Telegram, and Telegram's own phrases in the messages the engine renders
(images reach a command as a photo with the command as its caption, or by replying to one), in
every language the engine has a catalog for."""

from __future__ import annotations

from collections.abc import Mapping

from core.locales import DEFAULT_LANGUAGE

HINTS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "attach_image": "attach one with the command as its caption",
        "attach_image_short": "attach an image",
        "list_needs_image": "send an image with this command as caption",
        "image_help": "Send an image with the command as its caption, or reply to an image.",
        "options_hint": "use key=value options",
        "options_usage": "[key=value …]",
        "option_forms": "--steps 20, steps = 20, --ar 16:9 and --no <text>",
        "main_input": "free text goes here",
        "run_usage": "/<command> your prompt key=value …",
        "runs_all_usage": "/runs all",
        "use_image": (
            "send it again with a command as its caption, e.g. {example} make it blue, "
            "or reply to it with the command."
        ),
        "get_credits": "buy more with /buy",
        "grant_usage": "/grant <user> <credits> (or reply to them with /grant <credits>)",
    },
    "ru": {
        "attach_image": "прикрепите его, указав команду в подписи",
        "attach_image_short": "прикрепите изображение",
        "list_needs_image": "отправьте изображение с этой командой в подписи",
        "image_help": (
            "Отправьте изображение с командой в подписи или ответьте командой на изображение."
        ),
        "options_hint": "используйте параметры вида ключ=значение",
        "options_usage": "[ключ=значение …]",
        "option_forms": "--steps 20, steps = 20, --ar 16:9 и --no <текст>",
        "main_input": "сюда идёт свободный текст",
        "run_usage": "/<команда> ваш запрос ключ=значение …",
        "runs_all_usage": "/runs all",
        "use_image": (
            "отправьте его снова с командой в подписи, например {example} сделай синим, "
            "или ответьте на него командой."
        ),
        "get_credits": "купите ещё командой /buy",
        "grant_usage": "/grant <пользователь> <кредиты> (или ответом: /grant <кредиты>)",
    },
    "es": {
        "attach_image": "adjunta una con el comando como pie de foto",
        "attach_image_short": "adjunta una imagen",
        "list_needs_image": "envía una imagen con este comando como pie de foto",
        "image_help": (
            "Envía una imagen con el comando como pie de foto, o responde a una imagen con el "
            "comando."
        ),
        "options_hint": "usa opciones clave=valor",
        "options_usage": "[clave=valor …]",
        "option_forms": "--steps 20, steps = 20, --ar 16:9 y --no <texto>",
        "main_input": "aquí va el texto libre",
        "run_usage": "/<comando> tu descripción clave=valor …",
        "runs_all_usage": "/runs all",
        "use_image": (
            "envíala de nuevo con un comando como pie de foto, por ejemplo {example} hazla "
            "azul, o responde a ella con el comando."
        ),
        "get_credits": "compra más con /buy",
        "grant_usage": "/grant <usuario> <créditos> (o en respuesta: /grant <créditos>)",
    },
}


class TelegramSyntax:
    def hints(self, language: str) -> Mapping[str, str]:
        return HINTS.get(language, HINTS[DEFAULT_LANGUAGE])

    def command(self, name: str) -> str:
        return f"/{name}"

    def option(self, name: str) -> str:
        return f"{name}=…"

    def usage(self, command: str, argument: str) -> str:
        return f"/{command} <{argument}>"

    def argument(self, name: str, words: str) -> str:
        return words

    def assignment(self, name: str, value: str) -> str:
        return f"{name}={quoted(value)}"


def quoted(value: str) -> str:
    """A value as the command line reads it back: bare, or quoted when it has spaces."""
    if value and not any(c.isspace() or c in "\"'" for c in value):
        return value
    return f"'{value}'" if '"' in value else f'"{value}"'


SYNTAX = TelegramSyntax()
