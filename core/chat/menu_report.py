"""What the operator is told when a platform cannot list every workflow (log, doctor, catalog).

Telegram keeps at most 100 commands in a menu (https://core.telegram.org/bots/api#setmycommands);
Discord registers at most 100 global commands
(https://discord.com/developers/docs/interactions/application-commands#registering-a-command).
Which workflows get the room is set by `menu_priority` in workflows.catalog.yaml.
"""

from __future__ import annotations

from collections.abc import Sequence

NAMES_SHOWN = 20
"""Workflows named in one line; `comfybot catalog` lists every one."""
REMEDY = "menu_priority in workflows.catalog.yaml chooses which"


def left_out_line(
    where: str,
    held: int,
    left_out: Sequence[str],
    consequence: str,
    names_shown: int | None = NAMES_SHOWN,
) -> str:
    """e.g. "the Telegram menu holds 88 of 500 workflows; 412 left out (they still run when
    typed): a, b, … and 392 more (comfybot catalog lists them); menu_priority in
    workflows.catalog.yaml chooses which". `names_shown`: None names every one."""
    total = held + len(left_out)
    if not left_out:
        return f"{where} holds all {total} workflows"
    shown = left_out if names_shown is None else left_out[:names_shown]
    names = ", ".join(shown)
    if len(shown) < len(left_out):
        names += f" and {len(left_out) - len(shown)} more (comfybot catalog lists them)"
    return (
        f"{where} holds {held} of {total} workflows; {len(left_out)} left out "
        f"({consequence}): {names}; {REMEDY}"
    )
