"""How commands look on the console, and its own phrases in the messages the engine renders:
images are local files or URLs here."""

from __future__ import annotations

from collections.abc import Mapping


class ConsoleSyntax:
    hints: Mapping[str, str] = {
        "attach_image": "give one as {input}=./picture.png",
        "attach_image_short": "a path to an image file",
        "list_needs_image": "needs an image file or URL",
        "image_help": "Give an image as <input>=./picture.png or <input>=https://… (a URL).",
        "options_hint": "use key=value options",
        "options_usage": "[key=value …]",
        "main_input": "free text goes here",
        "run_usage": "/<command> your prompt key=value …",
    }

    def command(self, name: str) -> str:
        return f"/{name}"

    def option(self, name: str) -> str:
        return f"{name}=…"

    def usage(self, command: str, argument: str) -> str:
        return f"/{command} <{argument}>"


SYNTAX = ConsoleSyntax()
