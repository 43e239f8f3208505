"""The buttons under a finished run, from what the catalog says about its workflow: 🔁 Reroll
and ♻️ Same seed for a workflow with a seed (🔁 Rerun otherwise), ⬆️ Upscale and 🔀 Vary when
it names an upscaler or a variation workflow and the run made an image, and 📜 Recipe.

Each is an action and a run id only, so the buttons keep working after a restart; what they do
is decided when pressed, from the stored run and the catalog of that moment.
"""

from __future__ import annotations

from core.actions import Action, ActionKind
from core.catalog import Catalog
from core.models import OutputKind, Run, RunStatus
from core.workflow import Workflow


class ResultActions:
    """`core.delivery.ActionsFor`: a run -> the actions offered with its result."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def __call__(self, run: Run) -> tuple[Action, ...]:
        workflow = self._catalog.view.get(run.workflow)
        kinds = [ActionKind.REROLL, ActionKind.SAME_SEED] if _seeded(workflow) else []
        kinds = kinds or [ActionKind.RERUN]
        if workflow is not None and run.status is RunStatus.SUCCESS and _made_an_image(run):
            if self._takes_images(workflow.upscale_with):
                kinds.append(ActionKind.UPSCALE)
            if self._takes_images(workflow.vary_with):
                kinds.append(ActionKind.VARY)
        kinds.append(ActionKind.RECIPE)
        return tuple(Action(kind, run.id) for kind in kinds)

    def _takes_images(self, name: str | None) -> bool:
        target = self._catalog.view.get(name) if name else None
        return target is not None and not target.hidden and bool(target.image_inputs)


def _seeded(workflow: Workflow | None) -> bool:
    return workflow is not None and workflow.seed_input is not None


def _made_an_image(run: Run) -> bool:
    return any(o.kind is OutputKind.IMAGE and o.url for o in run.outputs)
