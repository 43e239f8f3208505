"""What can be run: workflows, their typed inputs, and the backend deployments behind them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InputType(StrEnum):
    """The neutral input schema shared by every backend."""

    TEXT = "text"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    IMAGE = "image"
    CHOICE = "choice"

    @property
    def media(self) -> bool:
        return self is InputType.IMAGE


class NodeBinding(Frozen):
    """Where in an API-format graph an input's value is written: `graph[node_id].inputs[field]`
    (https://docs.comfy.org/development/comfyui-server/comms_routes)."""

    node_id: str
    field: str


class InputSpec(Frozen):
    name: str
    label: str = ""
    type: InputType
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[str, ...] | None = None
    multiline: bool = False
    description: str = ""
    max_length: int | None = None
    """For text inputs: the longest value accepted (prompt length limit)."""
    bind: tuple[NodeBinding, ...] = ()
    """Graph locations the value is written to; empty for backends that bind by name."""
    seed: bool | None = None
    """A random seed: filled with a fresh value when none (or -1) is given. Unset: an integer
    input named `seed` is one."""

    @property
    def is_seed(self) -> bool:
        if self.seed is not None:
            return self.seed and self.type is InputType.INTEGER
        return self.type is InputType.INTEGER and self.name.lower() == "seed"


class DeploymentRef(Frozen):
    """A deployment as one backend knows it: ids are only unique within their backend."""

    backend: str
    id: str

    @property
    def key(self) -> str:
        return f"{self.backend}:{self.id}"

    @classmethod
    def parse(cls, text: str, default_backend: str) -> DeploymentRef:
        """`backend:id`, or a bare id on the default backend. Ids are often UUIDs (no colon)."""
        backend, sep, ident = text.partition(":")
        if sep and backend and ident:
            return cls(backend=backend, id=ident)
        return cls(backend=default_backend, id=text)


class Deployment(Frozen):
    """A backend deployment as discovered: what routing and costing need to know."""

    backend: str
    id: str
    workflow_name: str
    gpu: str | None = None
    machine_id: str | None = None

    @property
    def ref(self) -> DeploymentRef:
        return DeploymentRef(backend=self.backend, id=self.id)


class Workflow(Frozen):
    """A workflow a user can run: discovered from a backend and/or declared in the catalog."""

    name: str
    command: str
    title: str = ""
    """Display name; the name when empty."""
    description: str = ""
    deployments: tuple[DeploymentRef, ...] = ()
    inputs: tuple[InputSpec, ...] = ()
    hidden: bool = False
    gpu: str | None = None
    backend: str = ""
    """Where it was discovered ("" for a workflow declared only in the catalog file)."""
    upscale_with: str | None = None
    """The workflow that upscales this one's images (an ⬆️ Upscale button on its results)."""
    vary_with: str | None = None
    """The workflow that makes variations of this one's images (a 🔀 Vary button)."""
    expected_seconds: float | None = None
    """GPU seconds a run usually takes, as the catalog declares (quotes use it)."""
    menu_priority: int = 0
    """Which workflows a platform's command menu keeps when it cannot hold them all: higher
    first, then by name. Left out of a menu, a workflow still runs when typed."""
    media_loaders: tuple[NodeBinding, ...] = ()
    """Graph locations that load media (an image, a video …), for backends that run graphs."""

    @property
    def text_only(self) -> bool:
        """No required media input, no media loader left unbound, and at least one text input
        to take the prompt."""
        has_text = any(i.type is InputType.TEXT for i in self.inputs)
        needs_media = any(i.type.media and i.required for i in self.inputs)
        bound = {b for i in self.inputs for b in i.bind}
        unbound_loader = any(loader not in bound for loader in self.media_loaders)
        return has_text and not needs_media and not unbound_loader

    @property
    def main_text_input(self) -> InputSpec | None:
        """Where free text goes: the first required text input, else the first text input."""
        texts = [i for i in self.inputs if i.type is InputType.TEXT]
        required = [i for i in texts if i.required]
        if required:
            return required[0]
        return texts[0] if texts else None

    @property
    def image_inputs(self) -> tuple[InputSpec, ...]:
        return tuple(i for i in self.inputs if i.type.media)

    @property
    def seed_input(self) -> InputSpec | None:
        return next((i for i in self.inputs if i.is_seed), None)

    def input(self, name: str) -> InputSpec | None:
        return next((i for i in self.inputs if i.name == name), None)


class Discovery(Frozen):
    """What one backend offers: its workflows and the deployments behind them."""

    workflows: tuple[Workflow, ...] = ()
    deployments: tuple[Deployment, ...] = ()
