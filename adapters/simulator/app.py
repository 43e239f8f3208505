"""The aiohttp application: ComfyDeploy v2 routes under `/api`, plus public file URLs."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Literal, TypeVar
from uuid import UUID

from aiohttp import BodyPartReader, web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, TypeAdapter, ValidationError

from adapters.simulator import wire
from adapters.simulator.catalog import (
    DEPLOYMENTS,
    GPU_PRICING,
    MACHINES,
    find_deployment,
    find_machine,
)
from adapters.simulator.faults import Route, RouteFaults
from adapters.simulator.files import MAX_UPLOAD_BYTES, FileStore, UnsupportedFile
from adapters.simulator.lifecycle import RunDriver
from adapters.simulator.runs import RunBook, SimRun

log = logging.getLogger(__name__)

PUBLIC_ROUTES = frozenset({Route.GPU_PRICING, Route.INPUT_FILE, Route.OUTPUT_FILE})
CANCEL_ERROR = "Error cancel function 404: Run not found or has no modal function call ID"
Gpu = Literal["CPU", "T4", "L4", "A10G", "L40S", "A100", "A100-80GB", "H100", "H200", "B200"]
InputValue = str | int | float | bool | list[Any]

_UUID = TypeAdapter(UUID)
_BOOL = TypeAdapter(bool)
_INT = TypeAdapter(int)


class QueueBody(BaseModel):
    """`POST /api/run/deployment/queue`; unknown keys are ignored."""

    deployment_id: UUID
    inputs: dict[str, InputValue] = {}
    webhook: str | None = None
    webhook_intermediate_status: bool = False
    gpu: Gpu | None = None
    flags: list[str] | None = None


T = TypeVar("T")


def _parse(adapter: TypeAdapter[T], value: Any, *loc: str) -> T | web.Response:
    """A path/query value validated like FastAPI does, or its 422 reply."""
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        return wire.validation_error(error, *loc)


def _query(
    request: web.Request, adapter: TypeAdapter[T], name: str, default: T
) -> T | web.Response:
    if name not in request.query:
        return default
    return _parse(adapter, request.query[name], "query", name)


class Api:
    """Route handlers over the simulator's state."""

    def __init__(
        self,
        book: RunBook,
        files: FileStore,
        driver: RunDriver,
        api_key: str,
        on_queued: Callable[[SimRun], None],
        gpu_pricing: dict[str, float] | None = None,
    ) -> None:
        self._book = book
        self._pricing = dict(GPU_PRICING if gpu_pricing is None else gpu_pricing)
        self._files = files
        self._driver = driver
        self._api_key = api_key
        self._on_queued = on_queued

    @web.middleware
    async def shape_errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """FastAPI-like replies for unknown routes and for unexpected errors."""
        try:
            return await handler(request)
        except web.HTTPException as error:
            if error.status >= 400:
                return wire.detail(error.status, error.reason)
            raise
        except Exception:
            log.exception("simulator route %s failed", request.path)
            return web.Response(status=500, text="Internal Server Error")

    @web.middleware
    async def authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Bearer key (or `x-api-key` / `?cd_token=`) on every `/api` route but public ones."""
        route = request.match_info.route.name
        if route in PUBLIC_ROUTES or not request.path.startswith("/api"):
            return await handler(request)
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        token = token or request.headers.get("x-api-key", "") or request.query.get("cd_token", "")
        if token != self._api_key:
            return wire.detail(401, "Invalid or missing token")
        return await handler(request)

    async def list_deployments(self, request: web.Request) -> web.Response:
        fluid = _query(request, _BOOL, "is_fluid", False)
        if isinstance(fluid, web.Response):
            return fluid
        offset = _query(request, _INT, "offset", 0)
        if isinstance(offset, web.Response):
            return offset
        page_size = _query(request, _INT, "page_size", 100)
        if isinstance(page_size, web.Response):
            return page_size
        environment = request.query.get("environment")
        chosen = [
            d
            for d in sorted(DEPLOYMENTS, key=lambda d: d.updated_at, reverse=True)
            if d.is_fluid is fluid and environment in (None, "", d.environment)
        ]
        page = chosen[offset : offset + page_size]
        return web.json_response([d.to_json() for d in page])

    async def get_deployment(self, request: web.Request) -> web.Response:
        deployment = find_deployment(request.match_info["deployment_id"])
        if deployment is None:
            return wire.detail(500, "Internal server error")
        return web.json_response(deployment.to_json())

    async def list_deployment_runs(self, request: web.Request) -> web.Response:
        """`GET /api/deployment/{id}/runs?limit=&offset=&status=`: its runs, newest first."""
        deployment = find_deployment(request.match_info["deployment_id"])
        if deployment is None:
            return wire.detail(500, "Internal server error")
        limit = _query(request, _INT, "limit", 60)
        offset = _query(request, _INT, "offset", 0)
        if isinstance(limit, web.Response):
            return limit
        if isinstance(offset, web.Response):
            return offset
        status = request.query.get("status")
        runs = [
            run
            for run in reversed(self._book.all())
            if run.deployment.id == deployment.id and status in (None, "", run.status)
        ]
        return web.json_response([run.to_json() for run in runs[offset : offset + limit]])

    async def list_machines(self, request: web.Request) -> web.Response:
        search = request.query.get("search", "").lower()
        return web.json_response([m.summary_json() for m in MACHINES if search in m.name])

    async def get_machine(self, request: web.Request) -> web.Response:
        parsed = _parse(_UUID, request.match_info["machine_id"], "path", "machine_id")
        if isinstance(parsed, web.Response):
            return parsed
        machine = find_machine(str(parsed))
        if machine is None:
            return wire.detail(404, "Machine not found")
        return web.json_response(machine.detail_json())

    async def gpu_pricing(self, request: web.Request) -> web.Response:
        return web.json_response(self._pricing)

    async def queue_run(self, request: web.Request) -> web.Response:
        text = await request.text()
        if not text.strip():
            return wire.missing_field("body")
        try:
            raw = json.loads(text)
        except ValueError as error:
            return wire.json_invalid(str(error))
        try:
            body = QueueBody.model_validate(raw)
        except ValidationError as error:
            return wire.validation_error(error, "body")
        deployment = find_deployment(str(body.deployment_id))
        if deployment is None:
            return wire.detail(404, "Deployment not found")
        inputs = {
            key: (self._files.upload_data_uri(value) or value) if isinstance(value, str) else value
            for key, value in body.inputs.items()
        }
        run = self._book.create(
            deployment, inputs, body.webhook, body.webhook_intermediate_status, body.gpu
        )
        self._on_queued(run)
        return web.json_response({"run_id": run.id})

    async def get_run(self, request: web.Request) -> web.Response:
        parsed = _parse(_UUID, request.match_info["run_id"], "path", "run_id")
        if isinstance(parsed, web.Response):
            return parsed
        wants_position = _query(request, _BOOL, "queue_position", False)
        if isinstance(wants_position, web.Response):
            return wants_position
        run = self._book.get(str(parsed))
        if run is None:
            return wire.detail(404, "Run not found")
        position = self._book.queue_position(run) if wants_position else None
        return web.json_response(run.to_json(position))

    async def cancel_run(self, request: web.Request) -> web.Response:
        run = self._book.get(request.match_info["run_id"].lower())
        if run is None:
            return wire.detail(500, CANCEL_ERROR)
        self._driver.cancel(run)
        return web.json_response({"status": "success", "message": "Function cancelled"})

    async def upload_file(self, request: web.Request) -> web.Response:
        part = await self._file_part(request)
        if part is None:
            return wire.missing_field("body", "file")
        data = bytearray()
        while chunk := await part.read_chunk():
            data.extend(chunk)
            if len(data) > MAX_UPLOAD_BYTES:
                return wire.detail(400, "File size exceeds 250MB limit")
        try:
            upload = self._files.save_upload(part.filename or "", bytes(data))
        except UnsupportedFile as error:
            return wire.detail(400, str(error))
        return web.json_response(
            {
                "message": "File uploaded successfully",
                "file_id": upload.file_id,
                "file_name": upload.file_name,
                "file_url": upload.file_url,
            }
        )

    async def _file_part(self, request: web.Request) -> BodyPartReader | None:
        if not request.content_type.startswith("multipart/"):
            return None
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == "file":
                return part
            await part.release()
        return None

    async def serve_file(self, request: web.Request) -> web.Response:
        prefix = "outputs" if request.match_info.route.name == Route.OUTPUT_FILE else "inputs"
        stored = self._files.get(f"{prefix}/{request.match_info['tail']}")
        if stored is None:
            return wire.detail(404, "Not Found")
        return web.Response(body=stored.data, content_type=stored.content_type)


def build_app(api: Api, faults: RouteFaults) -> web.Application:
    app = web.Application(
        middlewares=[api.shape_errors, faults.middleware, api.authenticate],
        client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024,
    )
    add = app.router.add_route
    add("GET", "/api/deployments", api.list_deployments, name=Route.DEPLOYMENTS)
    add("GET", "/api/deployment/{deployment_id}", api.get_deployment, name=Route.DEPLOYMENT)
    add(
        "GET",
        "/api/deployment/{deployment_id}/runs",
        api.list_deployment_runs,
        name=Route.DEPLOYMENT_RUNS,
    )
    add("GET", "/api/machines", api.list_machines, name=Route.MACHINES)
    add("GET", "/api/machine/{machine_id}", api.get_machine, name=Route.MACHINE)
    add("GET", "/api/platform/gpu-pricing", api.gpu_pricing, name=Route.GPU_PRICING)
    add("POST", "/api/run/deployment/queue", api.queue_run, name=Route.QUEUE)
    add("GET", "/api/run/{run_id}", api.get_run, name=Route.GET_RUN)
    add("POST", "/api/run/{run_id}/cancel", api.cancel_run, name=Route.CANCEL)
    add("POST", "/api/file/upload", api.upload_file, name=Route.UPLOAD)
    add("GET", "/inputs/{tail:.+}", api.serve_file, name=Route.INPUT_FILE)
    add("GET", "/outputs/{tail:.+}", api.serve_file, name=Route.OUTPUT_FILE)
    return app
