"""What a run was made with, as every platform shows it: the workflow, the prompt, the inputs
that differ from their defaults, the images given, the seed, and who asked (in groups).

Built from the stored run and the workflow as the catalog has it now; a workflow that is gone
still gives a recipe (every input then counts as given).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.models import Run
from core.workflow import InputSpec, Workflow


@dataclass(frozen=True)
class Recipe:
    run: Run
    command: str
    """The command that runs the workflow on the platform shown to."""
    title: str
    prompt_input: str | None
    prompt: str | None
    options: tuple[tuple[str, Any], ...]
    """Inputs given with values other than their defaults (not the prompt, seed or images)."""
    images: tuple[tuple[str, str], ...]
    """Image inputs given: name and the URL the backend read it from."""
    seed_input: str | None
    seed: int | None
    requester: str | None
    """Who asked, when the run came from a group chat."""

    def assignments(self) -> tuple[tuple[str, Any], ...]:
        """Every input to give again to repeat the run exactly, but the free-text prompt."""
        seed = ((self.seed_input, self.seed),) if self.seed_input and self.seed is not None else ()
        return (*self.options, *self.images, *seed)


def recipe_of(run: Run, workflow: Workflow | None, command: str) -> Recipe:
    specs: Mapping[str, InputSpec] = {s.name: s for s in workflow.inputs} if workflow else {}
    main = workflow.main_text_input if workflow else None
    seed_spec = workflow.seed_input if workflow else None
    prompt_name = main.name if main else ("prompt" if "prompt" in run.inputs else None)
    seed_name = seed_spec.name if seed_spec else ("seed" if "seed" in run.inputs else None)
    options: list[tuple[str, Any]] = []
    images: list[tuple[str, str]] = []
    for name, value in run.inputs.items():
        spec = specs.get(name)
        if name in (prompt_name, seed_name):
            continue
        if spec is not None and spec.type.media:
            images.append((name, str(value)))
        elif spec is None or not _same(value, spec.default):
            options.append((name, value))
    order = list(specs)
    options.sort(key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    prompt = run.inputs.get(prompt_name) if prompt_name else None
    seed = run.inputs.get(seed_name) if seed_name else None
    return Recipe(
        run=run,
        command=command,
        title=(workflow.title or workflow.name) if workflow else run.workflow,
        prompt_input=prompt_name if isinstance(prompt, str) else None,
        prompt=prompt if isinstance(prompt, str) else None,
        options=tuple(options),
        images=tuple(images),
        seed_input=seed_name if _is_int(seed) else None,
        seed=seed if _is_int(seed) else None,
        requester=requester(run) if run.chat.group else None,
    )


def requester(run: Run) -> str:
    chat = run.chat
    if chat.user_name:
        return chat.user_name
    return f"@{chat.username}" if chat.username else chat.user_key


def _same(value: object, default: object) -> bool:
    if default is None or isinstance(value, bool) or isinstance(default, bool):
        return value == default
    if isinstance(value, int | float) and isinstance(default, int | float):
        return float(value) == float(default)
    return str(value) == str(default)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
