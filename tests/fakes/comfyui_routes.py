"""HTTP handlers of the fake ComfyUI, each as ComfyUI's `server.py` answers it.

`/prompt`, `/queue`, `/interrupt`, `/history`, `/view`, `/upload/image`, `/object_info`,
`/system_stats`, `/features`, `/models`, the newer `/api/jobs*`, and `/ws`; every route but
`/api/jobs*` is served both at `/` and under `/api/`. See
https://github.com/comfyanonymous/ComfyUI/blob/master/server.py.
"""

from __future__ import annotations

import copy
import json
import platform
import posixpath
import re
import sys
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.comfyui_files import FOLDER_TYPES, PathRejected, split_annotation
from tests.fakes.comfyui_nodes import NODE_CLASSES, JsonDict
from tests.fakes.comfyui_queue import JOB_STATUSES, SENSITIVE_EXTRA_DATA_KEYS, QueueItem
from tests.fakes.comfyui_validation import validate_prompt

if TYPE_CHECKING:
    from tests.fakes.comfyui_server import FakeComfyUIState

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass
class PromptRecord:
    """One `POST /prompt` the fake accepted (`graph` as received, before validation converted
    any value) or refused (`status` 400, `response` the error JSON)."""

    body: JsonDict
    graph: Any
    status: int
    response: JsonDict
    prompt_id: str | None = None
    number: float | None = None
    client_id: str | None = None
    extra_data: JsonDict | None = None


@dataclass
class UploadRecord:
    filename: str
    name: str
    subfolder: str
    type: str
    overwrite: bool
    data: bytes
    content_type: str | None
    duplicate: bool


def _error_400(kind: str, message: str, details: str) -> web.Response:
    error = {"type": kind, "message": message, "details": details, "extra_info": {}}
    return web.json_response({"error": error, "node_errors": {}}, status=400)


def _canonical_uuid(value: Any) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


async def _json_or_empty(request: web.Request) -> Any:
    try:
        return await request.json()
    except json.JSONDecodeError:
        return {}


class Routes:
    def __init__(self, state: FakeComfyUIState) -> None:
        self.s = state

    def install(self, app: web.Application) -> None:
        plain = [
            ("GET", "/ws", self.ws),
            ("GET", "/prompt", self.get_prompt),
            ("POST", "/prompt", self.post_prompt),
            ("GET", "/queue", self.get_queue),
            ("POST", "/queue", self.post_queue),
            ("POST", "/interrupt", self.interrupt),
            ("POST", "/free", self.free),
            ("GET", "/history", self.get_history),
            ("GET", "/history/{prompt_id}", self.get_history_item),
            ("POST", "/history", self.post_history),
            ("GET", "/view", self.view),
            ("POST", "/upload/image", self.upload_image),
            ("GET", "/object_info", self.object_info),
            ("GET", "/object_info/{node_class}", self.object_info_node),
            ("GET", "/system_stats", self.system_stats),
            ("GET", "/features", self.features),
            ("GET", "/models", self.models),
            ("GET", "/models/{folder}", self.models_folder),
            ("GET", "/embeddings", self.embeddings),
        ]
        jobs = [
            ("GET", "/api/jobs", self.jobs),
            ("POST", "/api/jobs/cancel", self.cancel_jobs),
            ("GET", "/api/jobs/{job_id}", self.job),
            ("POST", "/api/jobs/{job_id}/cancel", self.cancel_job),
        ]
        for method, path, handler in jobs:
            app.router.add_route(method, path, handler)
        for method, path, handler in plain:
            app.router.add_route(method, "/api" + path, handler)
            app.router.add_route(method, path, handler)

    # -- prompts ----------------------------------------------------------------------------

    async def get_prompt(self, request: web.Request) -> web.Response:
        return web.json_response(self.s.queue_info())

    async def post_prompt(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.Response(status=500, text="500 Internal Server Error")
        if not isinstance(body, dict) or "prompt" not in body:
            return self._refuse(
                body, None, _error_400("no_prompt", "No prompt provided", "No prompt provided")
            )
        if "number" in body:
            number: float = float(body["number"])
        else:
            number = -self.s.number if body.get("front") else self.s.number
            self.s.number += 1
        graph = copy.deepcopy(body["prompt"])
        prompt_id = body.get("prompt_id")
        if prompt_id is None:
            prompt_id = str(uuid.uuid4())
        elif not _canonical_uuid(prompt_id):
            return self._refuse(
                body,
                graph,
                _error_400(
                    "invalid_prompt_id",
                    "prompt_id must be a valid UUID",
                    "prompt_id must be a UUID string in canonical lowercase hyphenated form; "
                    "omit it to let the server generate one",
                ),
            )
        prompt = body["prompt"]
        validation = validate_prompt(prompt, self.s.env, body.get("partial_execution_targets"))
        extra_data = dict(body.get("extra_data") or {})
        if "client_id" in body:
            extra_data["client_id"] = body["client_id"]
        if not validation.ok:
            payload = {"error": validation.error, "node_errors": validation.node_errors}
            return self._refuse(body, graph, web.json_response(payload, status=400))
        sensitive = {k: extra_data.pop(k) for k in SENSITIVE_EXTRA_DATA_KEYS if k in extra_data}
        extra_data["create_time"] = int(time.time() * 1000)
        item = QueueItem(number, prompt_id, prompt, extra_data, validation.outputs, sensitive)
        response = {
            "prompt_id": prompt_id,
            "number": number,
            "node_errors": validation.node_errors,
        }
        self.s.prompts.append(
            PromptRecord(
                body,
                graph,
                200,
                response,
                prompt_id,
                number,
                extra_data.get("client_id"),
                copy.deepcopy(extra_data),
            )
        )
        self.s.submissions.append(self.s.prompts[-1])
        self.s.queue.put(item)
        await self.s.queue_updated()
        return web.json_response(response)

    def _refuse(self, body: Any, graph: Any, response: web.Response) -> web.Response:
        payload = json.loads(response.text or "{}")
        record = PromptRecord(
            body if isinstance(body, dict) else {}, graph, response.status, payload
        )
        self.s.submissions.append(record)
        return response

    async def get_queue(self, request: web.Request) -> web.Response:
        return web.json_response(self.s.queue.queue_json())

    async def post_queue(self, request: web.Request) -> web.Response:
        body = await _json_or_empty(request)
        if body.get("clear"):
            self.s.queue.pending.clear()
            await self.s.queue_updated()
        for prompt_id in body.get("delete", []):
            if self.s.queue.delete_pending(prompt_id):
                await self.s.queue_updated()
        return web.Response(status=200)

    async def interrupt(self, request: web.Request) -> web.Response:
        body = await _json_or_empty(request)
        prompt_id = body.get("prompt_id") if isinstance(body, dict) else None
        self.s.interrupt_requests.append(prompt_id)
        run = self.s.current
        if run is not None and (not prompt_id or prompt_id == run.prompt_id):
            await self.s.request_interrupt()
        return web.Response(status=200)

    async def free(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    # -- history ----------------------------------------------------------------------------

    async def get_history(self, request: web.Request) -> web.Response:
        query = request.rel_url.query
        max_items = int(query["max_items"]) if "max_items" in query else None
        offset = int(query["offset"]) if "offset" in query else -1
        return web.json_response(self.s.queue.history_json(max_items, offset))

    async def get_history_item(self, request: web.Request) -> web.Response:
        prompt_id = request.match_info["prompt_id"]
        entry = self.s.queue.history.get(prompt_id)
        return web.json_response({} if entry is None else {prompt_id: copy.deepcopy(entry)})

    async def post_history(self, request: web.Request) -> web.Response:
        body = await _json_or_empty(request)
        if body.get("clear"):
            self.s.queue.history.clear()
        for prompt_id in body.get("delete", []):
            self.s.queue.history.pop(prompt_id, None)
        return web.Response(status=200)

    # -- files ------------------------------------------------------------------------------

    async def view(self, request: web.Request) -> web.StreamResponse:
        query = request.rel_url.query
        if "filename" not in query:
            return web.Response(status=404)
        filename, folder = split_annotation(query["filename"])
        if not filename or filename[0] == "/" or ".." in filename:
            return web.Response(status=400)
        folder = folder or query.get("type", "output")
        if folder not in FOLDER_TYPES:
            return web.Response(status=400)
        subfolder = query.get("subfolder", "")
        norm = posixpath.normpath(subfolder) if subfolder else ""
        if norm.startswith(("/", "..")):
            return web.Response(status=403)
        stored = self.s.files.get(folder, subfolder, posixpath.basename(filename))
        if stored is None:
            return web.Response(status=404)
        headers = {
            "Content-Disposition": f'filename="{posixpath.basename(filename)}"',
            "X-Content-Type-Options": "nosniff",
            "Accept-Ranges": "bytes",
        }
        data, status = stored.data, 200
        match = _RANGE.match(request.headers.get("Range", ""))
        if match and (match[1] or match[2]):
            size = len(data)
            start = int(match[1]) if match[1] else max(0, size - int(match[2]))
            end = min(int(match[2]), size - 1) if match[1] and match[2] else size - 1
            if start >= size or start > end:
                return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            data, status = data[start : end + 1], 206
        return web.Response(
            body=data, status=status, content_type=stored.content_type, headers=headers
        )

    async def upload_image(self, request: web.Request) -> web.Response:
        post = await request.post()
        image = post.get("image")
        if not isinstance(image, web.FileField) or not image.filename:
            return web.Response(status=400)
        folder = str(post.get("type") or "input")
        if folder not in FOLDER_TYPES:
            return web.Response(status=500, text="500 Internal Server Error")
        overwrite = str(post.get("overwrite", "")) in ("true", "1")
        subfolder = str(post.get("subfolder", ""))
        data = image.file.read()
        try:
            result = self.s.files.upload(folder, subfolder, image.filename, data, overwrite)
        except PathRejected:
            return web.Response(status=400)
        self.s.uploads.append(
            UploadRecord(
                image.filename,
                result.name,
                result.subfolder,
                folder,
                overwrite,
                data,
                image.content_type,
                result.duplicate,
            )
        )
        await self.s.notify()
        return web.json_response({"name": result.name, "subfolder": subfolder, "type": folder})

    # -- information ------------------------------------------------------------------------

    async def object_info(self, request: web.Request) -> web.Response:
        return web.json_response({n: c.info(self.s.env) for n, c in NODE_CLASSES.items()})

    async def object_info_node(self, request: web.Request) -> web.Response:
        name = request.match_info["node_class"]
        node = NODE_CLASSES.get(name)
        return web.json_response({} if node is None else {name: node.info(self.s.env)})

    async def system_stats(self, request: web.Request) -> web.Response:
        device = {
            "name": "cpu",
            "type": "cpu",
            "index": None,
            "vram_total": 0,
            "vram_free": 0,
            "torch_vram_total": 0,
            "torch_vram_free": 0,
        }
        system = {
            "os": sys.platform,
            "ram_total": 24 * 1024**3,
            "ram_free": 16 * 1024**3,
            "comfyui_version": "0.3.99-fake",
            "python_version": sys.version,
            "pytorch_version": "fake",
            "embedded_python": False,
            "argv": ["main.py", "--cpu"],
            "machine": platform.machine(),
        }
        return web.json_response({"system": system, "devices": [device]})

    async def features(self, request: web.Request) -> web.Response:
        return web.json_response({"supports_preview_metadata": True, "max_upload_size": 104857600})

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response(["checkpoints", "loras", "vae"])

    async def models_folder(self, request: web.Request) -> web.Response:
        folder = request.match_info["folder"]
        if folder == "checkpoints":
            return web.json_response(list(self.s.env.checkpoints))
        if folder in ("loras", "vae"):
            return web.json_response([])
        return web.Response(status=404)

    async def embeddings(self, request: web.Request) -> web.Response:
        return web.json_response([])

    # -- jobs -------------------------------------------------------------------------------

    async def jobs(self, request: web.Request) -> web.Response:
        query = request.rel_url.query
        statuses = None
        if query.get("status"):
            statuses = [s.strip().lower() for s in query["status"].split(",") if s.strip()]
            bad = [s for s in statuses if s not in JOB_STATUSES]
            if bad:
                return web.json_response(
                    {
                        "error": f"Invalid status value(s): {', '.join(bad)}. "
                        f"Valid values: {', '.join(JOB_STATUSES)}"
                    },
                    status=400,
                )
        sort_by = query.get("sort_by", "created_at").lower()
        sort_order = query.get("sort_order", "desc").lower()
        if sort_by not in ("created_at", "execution_duration"):
            return web.json_response(
                {"error": "sort_by must be 'created_at' or 'execution_duration'"}, status=400
            )
        if sort_order not in ("asc", "desc"):
            return web.json_response({"error": "sort_order must be 'asc' or 'desc'"}, status=400)
        limit = None
        if "limit" in query:
            try:
                limit = int(query["limit"])
            except ValueError:
                return web.json_response({"error": "limit must be an integer"}, status=400)
            if limit <= 0:
                return web.json_response({"error": "limit must be a positive integer"}, status=400)
        try:
            offset = max(0, int(query.get("offset", "0")))
        except ValueError:
            return web.json_response({"error": "offset must be an integer"}, status=400)
        jobs = self.s.queue.jobs(statuses, sort_by, sort_order == "desc")
        total = len(jobs)
        page = jobs[offset:] if limit is None else jobs[offset : offset + limit]
        pagination = {
            "offset": offset,
            "limit": limit,
            "total": total,
            "has_more": offset + len(page) < total,
        }
        return web.json_response({"jobs": page, "pagination": pagination})

    async def job(self, request: web.Request) -> web.Response:
        job = self.s.queue.job(request.match_info["job_id"])
        if job is None:
            return web.json_response({"error": "Job not found"}, status=404)
        return web.json_response(job)

    async def cancel_job(self, request: web.Request) -> web.Response:
        cancelled = await self.s.cancel(request.match_info["job_id"])
        return web.json_response({"cancelled": cancelled})

    async def cancel_jobs(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": "Request body must be valid JSON"}, status=400)
        job_ids = body.get("job_ids") if isinstance(body, dict) else None
        if not isinstance(job_ids, list):
            return web.json_response({"error": "job_ids must be a list"}, status=400)
        invalid = [j if isinstance(j, str) else repr(j) for j in job_ids if not _canonical_uuid(j)]
        if invalid:
            return web.json_response(
                {"error": "job_ids contains invalid id(s)", "invalid_ids": invalid}, status=400
            )
        cancelled = False
        for job_id in job_ids:
            cancelled = await self.s.cancel(job_id) or cancelled
        return web.json_response({"cancelled": cancelled})

    # -- websocket --------------------------------------------------------------------------

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        sid = request.rel_url.query.get("clientId", "")
        run = self.s.current
        resume = None
        if run is not None and sid and run.sid == sid and run.current_node is not None:
            resume = {"node": run.current_node}
        return await self.s.hub.handle(request, self.s.queue_info(), resume)
