"""How the HTTP API names things in the engine's messages: a workflow by its name, an input as
the JSON field it is, images as URLs or upload ids; its own phrases in every language the
engine has a catalog for. Problems and refusals read as in chat, in the API's words."""

from __future__ import annotations

import json
from collections.abc import Mapping

from core.locales import DEFAULT_LANGUAGE

HINTS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "attach_image": "give an https URL or the id of an upload (POST /api/v1/uploads)",
        "attach_image_short": "the id of an upload",
        "list_needs_image": "needs an image URL or upload",
        "image_help": "Give an image as an https URL or as the id of an upload.",
        "options_hint": "give inputs as JSON fields",
        "options_usage": '{{"input": value, …}}',
        "option_forms": 'JSON fields such as "steps": 20',
        "main_input": "the main text input",
        "run_usage": "POST /api/v1/workflows/<name>/runs",
        "runs_all_usage": "GET /api/v1/runs",
        "use_image": "upload it (POST /api/v1/uploads) and pass its id to {example}",
        "get_credits": "ask an admin for more",
        "grant_usage": "/grant api:<key name> <credits>",
    },
    "ru": {
        "attach_image": "укажите URL с https или id загрузки (POST /api/v1/uploads)",
        "attach_image_short": "id загрузки",
        "list_needs_image": "нужен URL изображения или загрузка",
        "image_help": "Укажите изображение как URL с https или как id загрузки.",
        "options_hint": "передавайте входы полями JSON",
        "options_usage": '{{"вход": значение, …}}',
        "option_forms": 'поля JSON, например "steps": 20',
        "main_input": "основной текстовый вход",
        "run_usage": "POST /api/v1/workflows/<имя>/runs",
        "runs_all_usage": "GET /api/v1/runs",
        "use_image": "загрузите его (POST /api/v1/uploads) и передайте id в {example}",
        "get_credits": "попросите ещё у администратора",
        "grant_usage": "/grant api:<имя ключа> <кредиты>",
    },
    "es": {
        "attach_image": "indica una URL https o el id de una subida (POST /api/v1/uploads)",
        "attach_image_short": "el id de una subida",
        "list_needs_image": "necesita una URL de imagen o una subida",
        "image_help": "Indica una imagen como URL https o como id de una subida.",
        "options_hint": "pasa las entradas como campos JSON",
        "options_usage": '{{"entrada": valor, …}}',
        "option_forms": 'campos JSON como "steps": 20',
        "main_input": "la entrada de texto principal",
        "run_usage": "POST /api/v1/workflows/<nombre>/runs",
        "runs_all_usage": "GET /api/v1/runs",
        "use_image": "súbela (POST /api/v1/uploads) y pasa su id a {example}",
        "get_credits": "pide más a un administrador",
        "grant_usage": "/grant api:<nombre de la clave> <créditos>",
    },
}


class ApiSyntax:
    def hints(self, language: str) -> Mapping[str, str]:
        return HINTS.get(language, HINTS[DEFAULT_LANGUAGE])

    def command(self, name: str) -> str:
        return name

    def option(self, name: str) -> str:
        return f'"{name}": …'

    def usage(self, command: str, argument: str) -> str:
        return f'"{argument}": …'

    def argument(self, name: str, words: str) -> str:
        return name

    def assignment(self, name: str, value: str) -> str:
        return json.dumps({name: value}, ensure_ascii=False)[1:-1]


SYNTAX = ApiSyntax()
