"""`POST /prompt` validation, as ComfyUI's `execution.validate_prompt` does it.

Same error types, messages and `node_errors` layout
(https://github.com/comfyanonymous/ComfyUI/blob/master/execution.py): a missing or unknown
`class_type` (`missing_node_type`), no output node (`prompt_no_outputs`), and per node
`required_input_missing`, `bad_linked_input`, `return_type_mismatch`, `invalid_input_type`,
`value_smaller_than_min`, `value_bigger_than_max`, `value_not_in_list`,
`custom_validation_failed`; outputs that fail are dropped, and only when none is left is the
prompt refused with `prompt_outputs_failed_validation`. Values are converted in place (an INT
sent as `"7"` is stored as `7`), as ComfyUI does.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.comfyui_nodes import NODE_CLASSES, Environment, JsonDict

_CONVERT = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}


@dataclass
class Validation:
    ok: bool
    error: JsonDict | None
    outputs: list[str]
    node_errors: JsonDict = field(default_factory=dict)


def _error(kind: str, message: str, details: str, **extra: Any) -> JsonDict:
    return {"type": kind, "message": message, "details": details, "extra_info": extra}


def _accepts(received: str, wanted: Any) -> bool:
    if not isinstance(wanted, str):
        return received == "COMBO"
    if "*" in (received, wanted):
        return True
    return bool(set(received.split(",")) & set(wanted.split(",")))


class _Validator:
    def __init__(self, prompt: JsonDict, env: Environment) -> None:
        self.prompt = prompt
        self.env = env
        self.validated: dict[str, tuple[bool, list[JsonDict]]] = {}

    def node(self, node_id: str) -> tuple[bool, list[JsonDict]]:
        if node_id in self.validated:
            return self.validated[node_id]
        self.validated[node_id] = (True, [])  # a cycle back here counts as valid
        node = self.prompt[node_id]
        inputs = node["inputs"]
        node_class = NODE_CLASSES[node["class_type"]]
        types = node_class.input_types(self.env)
        errors: list[JsonDict] = []
        valid = True
        for category in ("required", "optional"):
            for name, spec in types.get(category, {}).items():
                kind, opts = spec[0], (spec[1] if len(spec) > 1 else {})
                if name not in inputs:
                    if category == "required":
                        errors.append(
                            _error(
                                "required_input_missing",
                                "Required input is missing",
                                name,
                                input_name=name,
                            )
                        )
                    continue
                value = inputs[name]
                info = [kind, opts]
                if isinstance(value, list):
                    link_ok, link_error = self._link(name, value, kind, info)
                    if link_error is not None:
                        errors.append(link_error)
                    valid = valid and link_ok
                    continue
                problem = self._value(node_class.validated_inputs, inputs, name, kind, opts, info)
                if problem is not None:
                    errors.append(problem)
        if node_class.validate is not None:
            args = {n: inputs[n] for n in node_class.validated_inputs if n in inputs}
            verdict = node_class.validate(self.env, **args)
            if verdict is not True:
                for name in args:
                    details = name if verdict is False else f"{name} - {verdict}"
                    errors.append(
                        _error(
                            "custom_validation_failed",
                            "Custom validation failed for node",
                            details,
                            input_name=name,
                        )
                    )
        result = (valid and not errors, errors)
        self.validated[node_id] = result
        return result

    def _link(
        self, name: str, value: list[Any], kind: Any, info: list[Any]
    ) -> tuple[bool, JsonDict | None]:
        if len(value) != 2:
            return False, _error(
                "bad_linked_input",
                "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                name,
                input_name=name,
                input_config=info,
                received_value=value,
            )
        source_id, slot = str(value[0]), value[1]
        try:
            source = self.prompt[source_id]
            received = NODE_CLASSES[source["class_type"]].outputs[slot]
        except (KeyError, IndexError, TypeError) as ex:
            self.validated[source_id] = (
                False,
                [
                    _error(
                        "exception_during_inner_validation",
                        "Exception when validating inner node",
                        str(ex),
                        input_name=name,
                        input_config=info,
                        exception_message=str(ex),
                        exception_type=type(ex).__name__,
                        traceback=traceback.format_tb(ex.__traceback__),
                        linked_node=value,
                    )
                ],
            )
            return False, None
        if not _accepts(received, kind):
            return False, _error(
                "return_type_mismatch",
                "Return type mismatch between linked nodes",
                f"{name}, received_type({received}) mismatch input_type({kind})",
                input_name=name,
                input_config=info,
                received_type=received,
                linked_node=value,
            )
        ok, _ = self.node(source_id)
        return ok, None

    def _value(
        self,
        custom: tuple[str, ...],
        inputs: JsonDict,
        name: str,
        kind: Any,
        opts: JsonDict,
        info: list[Any],
    ) -> JsonDict | None:
        value = inputs[name]
        if isinstance(value, dict) and "__value__" in value:
            value = inputs[name] = value["__value__"]
        convert = _CONVERT.get(kind) if isinstance(kind, str) else None
        if convert is not None:
            try:
                value = inputs[name] = convert(value)
            except (TypeError, ValueError) as ex:
                return _error(
                    "invalid_input_type",
                    f"Failed to convert an input value to a {kind} value",
                    f"{name}, {value}, {ex}",
                    input_name=name,
                    input_config=info,
                    received_value=value,
                    exception_message=str(ex),
                )
        if name in custom:
            return None
        if "min" in opts and value < opts["min"]:
            return _error(
                "value_smaller_than_min",
                f"Value {value} smaller than min of {opts['min']}",
                name,
                input_name=name,
                input_config=info,
                received_value=value,
            )
        if "max" in opts and value > opts["max"]:
            return _error(
                "value_bigger_than_max",
                f"Value {value} bigger than max of {opts['max']}",
                name,
                input_name=name,
                input_config=info,
                received_value=value,
            )
        if isinstance(kind, list) and value not in kind:
            listed = f"(list of length {len(kind)})" if len(kind) > 20 else str(kind)
            return _error(
                "value_not_in_list",
                "Value not in list",
                f"{name}: {value!r} not in {listed}",
                input_name=name,
                input_config=None if len(kind) > 20 else info,
                received_value=value,
            )
        return None


def validate_prompt(prompt: Any, env: Environment, targets: list[str] | None = None) -> Validation:
    if not isinstance(prompt, dict):
        return Validation(False, _error("invalid_prompt", "Prompt must be an object", ""), [], {})
    outputs: list[str] = []
    for node_id, node in prompt.items():
        class_type = node.get("class_type") if isinstance(node, dict) else None
        title = (node.get("_meta") or {}).get("title") if isinstance(node, dict) else None
        if class_type is None:
            return Validation(
                False,
                _error(
                    "missing_node_type",
                    f"Node '{title or f'ID #{node_id}'}' has no class_type. The workflow may be "
                    "corrupted or a custom node is missing.",
                    f"Node ID '#{node_id}'",
                    node_id=node_id,
                    class_type=None,
                    node_title=title,
                ),
                [],
            )
        node_class = NODE_CLASSES.get(class_type)
        if node_class is None:
            return Validation(
                False,
                _error(
                    "missing_node_type",
                    f"Node '{title or class_type}' not found. "
                    "The custom node may not be installed.",
                    f"Node ID '#{node_id}'",
                    node_id=node_id,
                    class_type=class_type,
                    node_title=title or class_type,
                ),
                [],
            )
        if node_class.output_node and (targets is None or node_id in targets):
            outputs.append(node_id)
    if not outputs:
        return Validation(False, _error("prompt_no_outputs", "Prompt has no outputs", ""), [])

    validator = _Validator(prompt, env)
    good: list[str] = []
    failures: list[tuple[str, list[JsonDict]]] = []
    node_errors: JsonDict = {}
    for output in outputs:
        try:
            ok, reasons = validator.node(output)
        except Exception as ex:  # a malformed node (no "inputs", ...), as ComfyUI reports it
            ok, reasons = (
                False,
                [
                    _error(
                        "exception_during_validation",
                        "Exception when validating node",
                        str(ex),
                        exception_type=type(ex).__name__,
                        traceback=traceback.format_tb(ex.__traceback__),
                    )
                ],
            )
            validator.validated[output] = (False, reasons)
        if ok:
            good.append(output)
            continue
        failures.append((output, reasons))
        for node_id, (node_ok, node_reasons) in validator.validated.items():
            if node_ok or not node_reasons:
                continue
            entry = node_errors.setdefault(
                node_id,
                {
                    "errors": node_reasons,
                    "dependent_outputs": [],
                    "class_type": (prompt.get(node_id) or {}).get("class_type"),
                },
            )
            entry["dependent_outputs"].append(output)
    if not good:
        details = "\n".join(
            f"{reason['message']}: {reason['details']}"
            for _, reasons in failures
            for reason in reasons
        )
        return Validation(
            False,
            _error(
                "prompt_outputs_failed_validation", "Prompt outputs failed validation", details
            ),
            [],
            node_errors,
        )
    return Validation(True, None, good, node_errors)
