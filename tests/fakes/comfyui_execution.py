"""Running one prompt, a step at a time, with the WebSocket messages ComfyUI sends.

Follows `execution.PromptExecutor.execute_async` and `main.prompt_worker`
(https://github.com/comfyanonymous/ComfyUI/blob/master/execution.py): `execution_start`,
`execution_cached`, then per node `progress_state` (running), `executing`, sampler `progress`
ticks, `executed` when the node has UI output, `progress_state` (finished); at the end
`execution_success`, `execution_error` or `execution_interrupted`, the history entry, a queue
`status` and `executing` with `node: null`. Prompt-scoped messages go to the prompt's
`client_id` only; without one only `progress`/`progress_state` and `execution_interrupted`
are sent (to everyone), as in ComfyUI. Node outputs are cached between prompts by input
signature: an unchanged node is listed in `execution_cached`, not run again, and its earlier
UI output is reported once more.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from tests.fakes.comfyui_files import colour_for, png_bytes
from tests.fakes.comfyui_nodes import NODE_CLASSES, Environment, JsonDict, Latent, NodeOutput
from tests.fakes.comfyui_queue import PromptQueue, QueueItem
from tests.fakes.comfyui_sockets import SocketHub


@dataclass
class CacheEntry:
    outputs: tuple[Any, ...]
    ui: JsonDict | None


@dataclass
class OutputCache:
    """ComfyUI's classic cache: after each prompt only that prompt's nodes stay cached."""

    enabled: bool = True
    entries: dict[str, CacheEntry] = field(default_factory=dict)

    def retain(self, signatures: set[str]) -> None:
        self.entries = {k: v for k, v in self.entries.items() if k in signatures}


@dataclass
class Step:
    """What one `FakeComfyUI.step` did: `start`, `node` (ran `node_id`), or the end:
    `success`, `error` (at `node_id`) or `interrupted` (before/at `node_id`)."""

    kind: str
    prompt_id: str
    node_id: str | None = None

    @property
    def terminal(self) -> bool:
        return self.kind in ("success", "error", "interrupted")


@dataclass
class Failure:
    message: str
    exception_type: str = "RuntimeError"
    node_id: str | None = None


def _now_ms() -> int:
    return int(time.time() * 1000)


def _sort_key(node_id: str) -> tuple[int, str]:
    return (int(node_id), "") if node_id.isdigit() else (1 << 62, node_id)


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def _type_name(kind: type) -> str:
    """`execution.full_type_name`: builtins bare, anything else module-qualified."""
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _format_value(value: Any) -> Any:
    if value is None or isinstance(value, (int, float, bool, str)):
        return value
    return str(value)


class PromptRun:
    def __init__(
        self,
        item: QueueItem,
        queue: PromptQueue,
        hub: SocketHub,
        env: Environment,
        cache: OutputCache,
        previews: bool = False,
        on_done: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.item = item
        self.prompt_id = item.prompt_id
        self.sid: str | None = item.extra_data.get("client_id")
        self._queue = queue
        self._hub = hub
        self._env = env
        self._cache = cache
        self._previews = previews
        self._on_done = on_done
        self.order = self._plan()
        self._position = 0
        self.started = False
        self.finished: Step | None = None
        self.interrupt_requested = False
        self.current_node: str | None = None
        self.executed: list[str] = []
        self.messages: list[list[Any]] = []
        self._results: dict[str, tuple[Any, ...]] = {}
        self._ui: dict[str, JsonDict] = {}
        self._meta: dict[str, JsonDict] = {}
        self._progress: dict[str, JsonDict] = {}
        self._signatures: dict[str, str | None] = {}

    # -- planning ---------------------------------------------------------------------------

    def _plan(self) -> list[str]:
        prompt, order, seen = self.item.prompt, [], set()

        def visit(node_id: str) -> None:
            if node_id in seen:
                return
            seen.add(node_id)
            for value in prompt[node_id]["inputs"].values():
                if _is_link(value):
                    visit(str(value[0]))
            order.append(node_id)

        for output in sorted(self.item.outputs, key=_sort_key):
            visit(output)
        return order

    def _signature(self, node_id: str) -> str | None:
        if node_id in self._signatures:
            return self._signatures[node_id]
        self._signatures[node_id] = None  # cycles and failures are not cacheable
        node = self.item.prompt[node_id]
        node_class = NODE_CLASSES[node["class_type"]]
        parts: JsonDict = {}
        for name, value in sorted(node["inputs"].items()):
            if _is_link(value):
                upstream = self._signature(str(value[0]))
                if upstream is None:
                    return None
                parts[name] = [upstream, value[1]]
            else:
                parts[name] = value
        changed = None
        if node_class.is_changed is not None:
            try:
                args = {n: node["inputs"][n] for n in node_class.validated_inputs}
                changed = node_class.is_changed(self._env, **args)
            except (OSError, KeyError):
                return None
        raw = json.dumps([node["class_type"], parts, changed], sort_keys=True, default=str)
        signature = hashlib.sha256(raw.encode()).hexdigest()
        self._signatures[node_id] = signature
        return signature

    # -- messages ---------------------------------------------------------------------------

    async def _message(self, event: str, data: JsonDict, broadcast: bool = False) -> None:
        """`PromptExecutor.add_message`: stamped, kept for history, sent if anyone may hear."""
        data = {**data, "timestamp": _now_ms()}
        self.messages.append([event, data])
        if self.sid is not None or broadcast:
            await self._hub.send(event, data, self.sid)

    async def _to_client(self, event: str, data: JsonDict) -> None:
        if self.sid is not None:
            await self._hub.send(event, data, self.sid)

    async def _progress_state(
        self, node_id: str, value: float, maximum: float, state: str
    ) -> None:
        self._progress[node_id] = {
            "value": value,
            "max": maximum,
            "state": state,
            "node_id": node_id,
            "prompt_id": self.prompt_id,
            "display_node_id": node_id,
            "parent_node_id": None,
            "real_node_id": node_id,
        }
        await self._hub.send(
            "progress_state",
            {"prompt_id": self.prompt_id, "nodes": dict(self._progress)},
            self.sid,
        )

    # -- steps ------------------------------------------------------------------------------

    async def advance(self, failure: Failure | None = None) -> Step:
        """Do the next step; `failure` makes the next node run (or `failure.node_id`) fail."""
        if self.finished is not None:
            return self.finished
        if not self.started:
            await self._start()
            return Step("start", self.prompt_id)
        while self._position < len(self.order):
            node_id = self.order[self._position]
            if self.interrupt_requested:
                return await self._end_interrupted(node_id)
            signature = self._signature(node_id)
            entry = self._cache.entries.get(signature or "") if self._cache.enabled else None
            if entry is not None:
                await self._replay_cached(node_id, entry)
                self._position += 1
                continue
            failing = failure is not None and failure.node_id in (None, node_id)
            step = await self._run_node(node_id, failure if failing else None)
            self._position += 1
            return step
        if self.interrupt_requested:
            return await self._end_interrupted(None)
        return await self._end_success()

    async def _start(self) -> None:
        self.started = True
        await self._message("execution_start", {"prompt_id": self.prompt_id})
        cached = []
        if self._cache.enabled:
            for node_id in self.item.prompt:
                if (self._signature(node_id) or "") in self._cache.entries:
                    cached.append(node_id)
        await self._message("execution_cached", {"nodes": cached, "prompt_id": self.prompt_id})

    async def _replay_cached(self, node_id: str, entry: CacheEntry) -> None:
        self._results[node_id] = entry.outputs
        if entry.ui:
            self._ui[node_id] = entry.ui
            self._meta[node_id] = self._meta_for(node_id)
            await self._to_client(
                "executed",
                {
                    "node": node_id,
                    "display_node": node_id,
                    "output": entry.ui,
                    "prompt_id": self.prompt_id,
                },
            )
        await self._progress_state(node_id, 1.0, 1.0, "finished")

    def _meta_for(self, node_id: str) -> JsonDict:
        return {
            "node_id": node_id,
            "display_node": node_id,
            "parent_node": None,
            "real_node_id": node_id,
        }

    async def _run_node(self, node_id: str, failure: Failure | None) -> Step:
        node = self.item.prompt[node_id]
        node_class = NODE_CLASSES[node["class_type"]]
        types = node_class.input_types(self._env)
        declared = {**types.get("required", {}), **types.get("optional", {})}
        inputs = {}
        for name, value in node["inputs"].items():
            if name not in declared:
                continue
            inputs[name] = self._results[str(value[0])][value[1]] if _is_link(value) else value
        self.current_node = node_id
        await self._progress_state(node_id, 0.0, 1.0, "running")
        await self._to_client(
            "executing", {"node": node_id, "display_node": node_id, "prompt_id": self.prompt_id}
        )
        steps = node_class.progress_steps(inputs)
        for value in range(1, steps + 1):
            await self._hub.send(
                "progress",
                {"value": value, "max": steps, "prompt_id": self.prompt_id, "node": node_id},
                self.sid,
            )
            await self._progress_state(node_id, float(value), float(steps), "running")
            if self._previews and isinstance(inputs.get("latent_image"), Latent):
                await self._preview(node_id, inputs)
        try:
            if failure is not None:
                raise _raise_as(failure)
            self._env.graph = self.item.prompt
            output: NodeOutput = node_class.run(self._env, **inputs)
        except Exception as ex:
            return await self._end_error(node_id, node["class_type"], ex, inputs)
        self._results[node_id] = output.result
        if output.ui:
            self._ui[node_id] = output.ui
            self._meta[node_id] = self._meta_for(node_id)
            await self._to_client(
                "executed",
                {
                    "node": node_id,
                    "display_node": node_id,
                    "output": output.ui,
                    "prompt_id": self.prompt_id,
                },
            )
        await self._progress_state(node_id, 1.0, 1.0, "finished")
        self.executed.append(node_id)
        signature = self._signature(node_id)
        if signature is not None and self._cache.enabled:
            self._cache.entries[signature] = CacheEntry(output.result, output.ui)
        return Step("node", self.prompt_id, node_id)

    async def _preview(self, node_id: str, inputs: JsonDict) -> None:
        positive = inputs.get("positive")
        colour = colour_for(int(inputs.get("seed", 0)), getattr(positive, "text", ""))
        meta = {
            "node_id": node_id,
            "prompt_id": self.prompt_id,
            "display_node_id": node_id,
            "parent_node_id": None,
            "real_node_id": node_id,
        }
        await self._hub.send_preview(png_bytes(Image.new("RGB", (64, 64), colour)), meta, self.sid)

    # -- endings ----------------------------------------------------------------------------

    async def _finish(
        self, step: Step, event: str, data: JsonDict, broadcast: bool = False
    ) -> Step:
        """The history entry is written before the terminal message goes out, then come the
        queue `status` and `executing: null`, so a client that hears the end finds history."""
        data = {**data, "timestamp": _now_ms()}
        self.messages.append([event, data])
        self.finished = step
        self.current_node = None
        success = step.kind == "success"
        self._queue.done(self.item, dict(self._ui), dict(self._meta), success, self.messages)
        if self._cache.enabled:
            self._cache.retain({s for s in self._signatures.values() if s is not None})
        if self.sid is not None or broadcast:
            await self._hub.send(event, data, self.sid)
        if self._on_done is not None:
            await self._on_done()
        await self._to_client("executing", {"node": None, "prompt_id": self.prompt_id})
        return step

    async def _end_success(self) -> Step:
        step = Step("success", self.prompt_id)
        return await self._finish(step, "execution_success", {"prompt_id": self.prompt_id})

    async def _end_error(
        self, node_id: str, class_type: str, ex: Exception, inputs: JsonDict
    ) -> Step:
        message = {
            "prompt_id": self.prompt_id,
            "node_id": node_id,
            "node_type": class_type,
            "executed": list(self.executed),
            "exception_message": f"{ex}\n",
            "exception_type": getattr(ex, "reported_type", _type_name(type(ex))),
            "traceback": traceback.format_tb(ex.__traceback__),
            "current_inputs": {k: [_format_value(v)] for k, v in inputs.items()},
            "current_outputs": list(self._results),
        }
        await self._progress_state(node_id, 0.0, 1.0, "error")
        return await self._finish(
            Step("error", self.prompt_id, node_id), "execution_error", message
        )

    async def _end_interrupted(self, node_id: str | None) -> Step:
        node_id = node_id or (self.order[-1] if self.order else None)
        class_type = self.item.prompt[node_id]["class_type"] if node_id else None
        message = {
            "prompt_id": self.prompt_id,
            "node_id": node_id,
            "node_type": class_type,
            "executed": list(self.executed),
        }
        step = Step("interrupted", self.prompt_id, node_id)
        return await self._finish(step, "execution_interrupted", message, broadcast=True)


class _InjectedError(Exception):
    reported_type = "RuntimeError"


def _raise_as(failure: Failure) -> Exception:
    error = _InjectedError(failure.message)
    error.reported_type = failure.exception_type
    return error
