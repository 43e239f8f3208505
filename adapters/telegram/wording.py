"""How commands look on Telegram, and Telegram's own phrases in the messages the engine renders
(images reach a command as a photo with the command as its caption, or by replying to one)."""

from __future__ import annotations

from collections.abc import Mapping


class TelegramSyntax:
    hints: Mapping[str, str] = {
        "attach_image": "attach one with the command as its caption",
        "attach_image_short": "attach an image",
        "list_needs_image": "send an image with this command as caption",
        "image_help": "Send an image with the command as its caption, or reply to an image.",
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


SYNTAX = TelegramSyntax()
