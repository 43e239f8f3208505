"""The API's front door: a JSON body -> one `RunWorkflow` operation, typed values by input name.

JSON values arrive typed; `null` means "not given". An image input takes an https URL (the
backend fetches it) or the id of an upload of the same key (read by the engine as an
attachment, like a photo in chat). Anything that cannot be an input value (an object, a list)
becomes a problem naming its input, reported with every other problem by the engine, in the
same words as in chat. The callback URL is checked here (see address_guard.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yarl
from aiohttp.abc import AbstractResolver

from adapters.api.address_guard import PrivateAddress, check_host, malformed
from adapters.api.schemas import CALLBACK_FIELD
from core.api_keys import ApiKey
from core.chat.operations import RunWorkflow
from core.notices import Problem
from core.requests import Attachment, InputValue
from core.uploads import StoredUpload, UploadStore, looks_like_upload
from core.workflow import InputSpec, InputType, Workflow

_NOT_A = {
    InputType.INTEGER: "input.not_integer",
    InputType.NUMBER: "input.not_number",
    InputType.BOOLEAN: "input.not_boolean",
}
SHOWN_MAX = 80


class ApiDoor:
    def __init__(
        self, uploads: UploadStore, resolver: AbstractResolver, allow_private: bool
    ) -> None:
        self._uploads = uploads
        self._resolver = resolver
        self._allow_private = allow_private

    async def operation(
        self, workflow: Workflow, body: Mapping[str, Any], key: ApiKey, origin: str
    ) -> tuple[RunWorkflow, str | None]:
        """The operation, and the callback URL to remember (None when there is none)."""
        inputs: dict[str, InputValue] = {}
        media: dict[str, Attachment] = {}
        problems: list[Problem] = []
        for name, value in body.items():
            if name == CALLBACK_FIELD or value is None:
                continue
            spec = workflow.input(name)
            if spec is not None and spec.type.media and isinstance(value, str):
                await self._image(spec, value.strip(), key, inputs, media, problems)
            elif isinstance(value, str | int | float | bool):
                inputs[name] = value
            elif spec is not None:
                problems.append(_not_a_value(spec, value))
            else:
                inputs[name] = _shown(value)  # unknown: the engine names it
        callback = body.get(CALLBACK_FIELD)
        if callback is not None:
            problems += await self._callback_problems(callback)
        operation = RunWorkflow(workflow.name, inputs, media, tuple(problems), origin)
        return operation, callback if isinstance(callback, str) and not problems else None

    async def _image(
        self,
        spec: InputSpec,
        value: str,
        key: ApiKey,
        inputs: dict[str, InputValue],
        media: dict[str, Attachment],
        problems: list[Problem],
    ) -> None:
        if looks_like_upload(value):
            upload = await self._uploads.get(value)
            if upload is None or upload.owner != key.user_key:
                problems.append(Problem.of("input.no_upload", spec.name, upload=value))
            else:
                media[spec.name] = StoredUpload(self._uploads, upload)
        elif value.startswith("https://"):
            inputs[spec.name] = value
        else:
            problems.append(Problem.of("input.not_image_url", spec.name))

    async def _callback_problems(self, url: object) -> list[Problem]:
        if not isinstance(url, str) or malformed(url):
            return [Problem.of("input.not_callback_url", CALLBACK_FIELD, value=_shown(url))]
        if self._allow_private:
            return []
        parsed = yarl.URL(url)
        try:
            await check_host(parsed.host or "", parsed.port or 0, self._resolver)
        except PrivateAddress as refused:
            return [Problem.of("input.callback_private", CALLBACK_FIELD, address=refused.address)]
        except (OSError, TimeoutError):
            return [Problem.of("input.not_callback_url", CALLBACK_FIELD, value=_shown(url))]
        return []


def _not_a_value(spec: InputSpec, value: object) -> Problem:
    key = _NOT_A.get(spec.type, "input.not_text")
    return Problem.of(key, spec.name, value=_shown(value))


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text[:SHOWN_MAX]
