"""User-facing inputs found in an API-format ComfyUI graph, for the backends that run graphs
(Comfy API v2, RunComfy): which node fields a run may set, named and typed in the neutral
input schema, and where each value is written.

An API-format graph is `{node_id: {class_type, inputs, _meta}}`; an input whose value is a
`[node_id, slot]` list is a link to another node and is never overwritten
(https://docs.comfy.org/development/comfyui-server/comms_routes). The rules, in this order:

- `prompt` / `negative`: the `text` of the `CLIPTextEncode` node linked from the first
  sampler's `positive` / `negative` (or the core primitive node that text is linked to);
- `seed`, `steps`, `cfg`: that sampler (`KSampler`, `KSamplerAdvanced`); a seed nobody gives is
  drawn at random for each run, as ComfyDeploy does;
- `width`, `height`, `batch_size`: the empty-latent node linked from its `latent_image`;
- `image`, `image_2` …: the `image` of every `LoadImage`-style node (required);
- the core primitive nodes (`PrimitiveString`, `PrimitiveStringMultiline`, `PrimitiveInt`,
  `PrimitiveFloat`, `PrimitiveBoolean`, https://github.com/comfyanonymous/ComfyUI/blob/master/
  comfy_extras/nodes_primitive.py): their `value`, named after their title.

Labels come from `_meta.title`. With `exposed` (the node fields a RunComfy deployment lets a
request override), only those locations become inputs, and an exposed field no rule names is
named after the field itself. Where a run's values then go: `core.graph_values`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.workflow import InputSpec, InputType, NodeBinding

Graph = Mapping[str, Any]

SAMPLERS = ("KSampler", "KSamplerAdvanced")
MAX_RESOLUTION = 16384
IMAGE_LOADERS = frozenset({"LoadImage", "LoadImageMask", "LoadImageOutput"})
OTHER_LOADERS: Mapping[str, str] = {
    "LoadVideo": "file",
    "VHS_LoadVideo": "video",
    "VHS_LoadVideoPath": "video",
    "LoadAudio": "audio",
    "VHS_LoadAudioUpload": "audio",
}
"""Media loaders no input type can feed yet, with the field that names their file."""
PRIMITIVES: Mapping[str, tuple[InputType, bool]] = {
    "PrimitiveString": (InputType.TEXT, False),
    "PrimitiveStringMultiline": (InputType.TEXT, True),
    "PrimitiveInt": (InputType.INTEGER, False),
    "PrimitiveFloat": (InputType.NUMBER, False),
    "PrimitiveBoolean": (InputType.BOOLEAN, False),
}


def is_link(value: Any) -> bool:
    """`["4", 1]`: the output `1` of node `4`, not a value."""
    return (
        isinstance(value, list | tuple)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


def bindable(graph: Graph, binding: NodeBinding) -> bool:
    """Whether a value may be written there: the node has that input and it is no link."""
    node = graph.get(binding.node_id)
    inputs = node.get("inputs") if isinstance(node, dict) else None
    return (
        isinstance(inputs, dict) and binding.field in inputs and not is_link(inputs[binding.field])
    )


def media_loaders(graph: Graph) -> tuple[NodeBinding, ...]:
    """Every graph location that loads a user's file (image, video, audio)."""
    found = []
    for node_id, node in _nodes(graph):
        kind = node.get("class_type")
        name = "image" if kind in IMAGE_LOADERS else OTHER_LOADERS.get(str(kind))
        if name is not None:
            found.append(NodeBinding(node_id=node_id, field=name))
    return tuple(found)


def derive_inputs(
    graph: Graph, exposed: Collection[tuple[str, str]] | None = None
) -> tuple[InputSpec, ...]:
    """The inputs of a graph (or of its `exposed` node fields only), by the rules above."""
    found = _Finder(graph)
    found.run()
    allowed = None if exposed is None else {NodeBinding(node_id=n, field=f) for n, f in exposed}
    specs = [s for s in found.specs if allowed is None or s.bind[0] in allowed]
    if allowed is not None:
        taken = {s.name for s in specs} | found.reserved
        covered = {s.bind[0] for s in specs}
        for binding in sorted(allowed - covered, key=lambda b: (_order(b.node_id), b.field)):
            spec = _generic(graph, binding, taken)
            if spec is not None:
                taken.add(spec.name)
                specs.append(spec)
    return tuple(specs)


@dataclass
class _Finder:
    graph: Graph
    specs: list[InputSpec] = field(default_factory=list)
    reserved: set[str] = field(default_factory=set)
    _used: set[NodeBinding] = field(default_factory=set)

    def run(self) -> None:
        self.reserved = {"prompt", "negative", "seed", "steps", "cfg", "width", "height"}
        self.reserved |= {"batch_size", "image"}
        sampler = next(
            ((i, n) for i, n in _nodes(self.graph) if n.get("class_type") in SAMPLERS), None
        )
        if sampler is not None:
            self._sampler(*sampler)
        images = [i for i, n in _nodes(self.graph) if n.get("class_type") in IMAGE_LOADERS]
        for number, node_id in enumerate(images, start=1):
            name = "image" if number == 1 else f"image_{number}"
            self._add(name, node_id, "image", InputType.IMAGE, required=True, default=None)
        for node_id, node in _nodes(self.graph):
            kind = PRIMITIVES.get(str(node.get("class_type")))
            if kind is not None:
                self._primitive(node_id, node, *kind)

    def _sampler(self, node_id: str, node: Mapping[str, Any]) -> None:
        inputs = node.get("inputs") or {}
        self._text_input("prompt", inputs.get("positive"), required_if_empty=True)
        self._text_input("negative", inputs.get("negative"), required_if_empty=False)
        seed = next((f for f in ("seed", "noise_seed") if f in inputs), "seed")
        self._add("seed", node_id, seed, InputType.INTEGER, default=None, min=0)
        self._add("steps", node_id, "steps", InputType.INTEGER, min=1, max=10000)
        self._add("cfg", node_id, "cfg", InputType.NUMBER, min=0, max=100)
        latent = _linked(self.graph, inputs.get("latent_image"))
        if latent is not None and str(latent[1].get("class_type", "")).startswith("Empty"):
            for name in ("width", "height"):
                self._add(name, latent[0], name, InputType.INTEGER, min=16, max=MAX_RESOLUTION)
            self._add("batch_size", latent[0], "batch_size", InputType.INTEGER, min=1, max=4096)

    def _text_input(self, name: str, link: Any, *, required_if_empty: bool) -> None:
        encoder = _linked(self.graph, link)
        if encoder is None or encoder[1].get("class_type") != "CLIPTextEncode":
            return
        node_id, node = encoder
        text = (node.get("inputs") or {}).get("text")
        if is_link(text):  # the prompt is typed into a primitive node feeding the encoder
            source = _linked(self.graph, text)
            if source is None or source[1].get("class_type") not in PRIMITIVES:
                return
            node_id, node = source
            text, where = (node.get("inputs") or {}).get("value"), "value"
        else:
            where = "text"
        default = text if isinstance(text, str) else ""
        self._add(
            name,
            node_id,
            where,
            InputType.TEXT,
            multiline=True,
            default=default,
            required=required_if_empty and not default.strip(),
        )

    def _primitive(
        self, node_id: str, node: Mapping[str, Any], kind: InputType, multiline: bool
    ) -> None:
        value = (node.get("inputs") or {}).get("value")
        binding = NodeBinding(node_id=node_id, field="value")
        if binding in self._used or is_link(value):
            return
        taken = {s.name for s in self.specs} | self.reserved
        name = _slug(_title(node)) or f"{str(node.get('class_type'))[9:].lower()}_{node_id}"
        if name in taken:
            name = f"{name}_{node_id}"
        empty = kind is InputType.TEXT and not (isinstance(value, str) and value.strip())
        self._add(name, node_id, "value", kind, multiline=multiline, required=empty)

    def _add(
        self,
        name: str,
        node_id: str,
        field_name: str,
        kind: InputType,
        *,
        required: bool = False,
        **extra: Any,
    ) -> None:
        binding = NodeBinding(node_id=node_id, field=field_name)
        if binding in self._used or not bindable(self.graph, binding):
            return
        if any(s.name == name for s in self.specs):
            return
        node = self.graph[node_id]
        if "default" not in extra:
            extra["default"] = _typed(kind, node["inputs"][field_name])
        self._used.add(binding)
        self.specs.append(
            InputSpec(
                name=name,
                label=_title(node),
                type=kind,
                required=required,
                bind=(binding,),
                **extra,
            )
        )


def _generic(graph: Graph, binding: NodeBinding, taken: set[str]) -> InputSpec | None:
    if not bindable(graph, binding):
        return None
    node = graph[binding.node_id]
    value = node["inputs"][binding.field]
    if isinstance(value, bool):
        kind = InputType.BOOLEAN
    elif isinstance(value, int):
        kind = InputType.INTEGER
    elif isinstance(value, float):
        kind = InputType.NUMBER
    elif isinstance(value, str):
        kind = InputType.TEXT
    else:
        return None
    name = _slug(binding.field) or f"input_{binding.node_id}"
    if name in taken:
        name = f"{name}_{binding.node_id}"
    return InputSpec(name=name, label=_title(node), type=kind, default=value, bind=(binding,))


def _typed(kind: InputType, value: Any) -> Any:
    """The graph's value as the input's default, when it has the input's type."""
    if kind is InputType.INTEGER and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is InputType.NUMBER and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is InputType.BOOLEAN and isinstance(value, bool):
        return value
    if kind is InputType.TEXT and isinstance(value, str):
        return value
    return None


def _nodes(graph: Graph) -> list[tuple[str, Mapping[str, Any]]]:
    """The graph's nodes in id order (numeric ids numerically)."""
    nodes = [(str(i), n) for i, n in graph.items() if isinstance(n, dict)]
    return sorted(nodes, key=lambda item: _order(item[0]))


def _order(node_id: str) -> tuple[int, int, str]:
    return (0, int(node_id), "") if node_id.isdigit() else (1, 0, node_id)


def _linked(graph: Graph, link: Any) -> tuple[str, Mapping[str, Any]] | None:
    if not is_link(link):
        return None
    node = graph.get(str(link[0]))
    return (str(link[0]), node) if isinstance(node, dict) else None


def _title(node: Mapping[str, Any]) -> str:
    meta = node.get("_meta")
    title = meta.get("title") if isinstance(meta, dict) else None
    return title.strip() if isinstance(title, str) else ""


def _slug(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]+", "_", text.lower())).strip("_")[:32]
