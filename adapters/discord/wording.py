"""How commands and options read on Discord, and Discord's own phrases in the messages the
engine renders (images reach a command through its attachment options)."""

from __future__ import annotations

from collections.abc import Mapping

_HINTS: Mapping[str, str] = {
    "attach_image": "attach one in the `{input}` option",
    "attach_image_short": "attach an image in the `{input}` option",
    "list_needs_image": "takes an image",
    "image_help": "Images go in the command's attachment options.",
    "options_hint": "use the command's options",
    "options_usage": "",
    "option_forms": "",
    "main_input": "the main text",
    "run_usage": "`/<workflow> prompt:<text>`, then any other option",
    "runs_all_usage": "`/comfy runs`",
    "use_image": "attach it in the workflow's image option",
}


class DiscordSyntax:
    def hints(self, language: str) -> Mapping[str, str]:
        """English only so far (the interaction's locale is not yet used)."""
        return _HINTS

    def assignment(self, name: str, value: str) -> str:
        return f"{name}:{value}"

    def command(self, name: str) -> str:
        return f"`/{name}`"

    def option(self, name: str) -> str:
        return f"the `{name}` option"

    def usage(self, command: str, argument: str) -> str:
        return f"`/{command} {argument}:`"


SYNTAX = DiscordSyntax()

ADMIN_GROUP_DESCRIPTION = "Admin: refresh the catalog, stats, runs, bans"
"""The `/comfy` group exists on Discord only, so its description lives here."""
FINISHED_SEE_BELOW = "The result is in the channel."
"""Under the final state of a command's response, once the result message was posted."""
