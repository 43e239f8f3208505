"""How commands look on the console, and its own phrases in the messages the engine renders
(images are local files or URLs here), in every language the engine has a catalog for."""

from __future__ import annotations

from collections.abc import Mapping

from core.locales import DEFAULT_LANGUAGE

HINTS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "attach_image": "give one as {input}=./picture.png",
        "attach_image_short": "a path to an image file",
        "list_needs_image": "needs an image file or URL",
        "image_help": (
            "Give an image as <input>=./picture.png, <input>=https://… (a URL) or "
            "<input>=<run id> (the first image of that run)."
        ),
        "options_hint": "use key=value options",
        "options_usage": "[key=value …]",
        "option_forms": "--steps 20, steps = 20, --ar 16:9 and --no <text>",
        "main_input": "free text goes here",
        "run_usage": "/<command> your prompt key=value …",
        "runs_all_usage": "/runs all",
        "use_image": "give its path, e.g. {example} input_image=./picture.png",
        "get_credits": "ask an admin for more (/grant)",
        "grant_usage": "/grant <user> <credits>",
    },
    "ru": {
        "attach_image": "укажите его как {input}=./picture.png",
        "attach_image_short": "путь к файлу изображения",
        "list_needs_image": "нужен файл изображения или URL",
        "image_help": (
            "Укажите изображение как <вход>=./picture.png, <вход>=https://… (URL) или "
            "<вход>=<id запуска> (первое изображение этого запуска)."
        ),
        "options_hint": "используйте параметры вида ключ=значение",
        "options_usage": "[ключ=значение …]",
        "option_forms": "--steps 20, steps = 20, --ar 16:9 и --no <текст>",
        "main_input": "сюда идёт свободный текст",
        "run_usage": "/<команда> ваш запрос ключ=значение …",
        "runs_all_usage": "/runs all",
        "use_image": "укажите путь к нему, например {example} input_image=./picture.png",
        "get_credits": "попросите ещё у администратора (/grant)",
        "grant_usage": "/grant <пользователь> <кредиты>",
    },
    "es": {
        "attach_image": "indícala como {input}=./imagen.png",
        "attach_image_short": "la ruta de un archivo de imagen",
        "list_needs_image": "necesita un archivo de imagen o una URL",
        "image_help": (
            "Indica una imagen como <entrada>=./imagen.png, <entrada>=https://… (una URL) o "
            "<entrada>=<id de ejecución> (la primera imagen de esa ejecución)."
        ),
        "options_hint": "usa opciones clave=valor",
        "options_usage": "[clave=valor …]",
        "option_forms": "--steps 20, steps = 20, --ar 16:9 y --no <texto>",
        "main_input": "aquí va el texto libre",
        "run_usage": "/<comando> tu descripción clave=valor …",
        "runs_all_usage": "/runs all",
        "use_image": "indica su ruta, por ejemplo {example} input_image=./imagen.png",
        "get_credits": "pide más a un administrador (/grant)",
        "grant_usage": "/grant <usuario> <créditos>",
    },
}


class ConsoleSyntax:
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


SYNTAX = ConsoleSyntax()
