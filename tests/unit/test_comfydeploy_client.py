"""ComfyDeployClient against tiny real aiohttp servers speaking the reference's wire format."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.comfydeploy.client import ComfyDeployClient
from core.errors import BackendError, BackendUnavailable, FileTooLarge, RunNotFound
from core.models import EventSource, OutputKind, RunStatus
from core.workflow import InputType

API_KEY = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXVzZXI.sekrit-signature"
RUN_ID = "b888f774-3e7c-4135-a18c-6b985523c4bc"
DEP_PROD = "15e79589-12c9-453c-a41a-348fdd7de957"
DEP_STAGING = "25e79589-12c9-453c-a41a-348fdd7de957"
DEP_IMG2IMG = "35e79589-12c9-453c-a41a-348fdd7de957"
DEP_OUTPAINT = "45e79589-12c9-453c-a41a-348fdd7de957"
MACHINE_A10G = "5a1e0000-0000-4000-8000-000000000001"
MACHINE_L40S = "5a1e0000-0000-4000-8000-000000000002"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def input_type(
    class_type: str, input_id: str, kind: str, default: Any, **extra: Any
) -> dict[str, Any]:
    """One `input_types[]` item of a DeploymentModel (comfy-deploy/api, deployments route)."""
    return {
        "type": kind,
        "class_type": f"ComfyUIDeployExternal{class_type}",
        "input_id": input_id,
        "default_value": default,
        "min_value": extra.get("min_value"),
        "max_value": extra.get("max_value"),
        "display_name": extra.get("display_name", ""),
        "description": extra.get("description", ""),
        "enum_options": extra.get("enum_options"),
        "step": extra.get("step"),
    }


TXT2IMG_INPUTS = [
    input_type("Text", "prompt", "string", "", display_name="Prompt", description="What to draw"),
    input_type("NumberInt", "steps", "integer", 20, min_value=1, max_value=50),
    input_type("NumberSlider", "cfg", "float", 3.5, min_value=0, max_value=10, step=0.5),
    input_type(
        "Enum", "style", "string", "anime", display_name="Style", enum_options=["anime", "photo"]
    ),
    input_type("Boolean", "upscale", "boolean", False),
]


def deployment(
    dep_id: str,
    name: str,
    environment: str,
    machine_id: str,
    gpu: str | None,
    inputs: list[Any],
    description: str = "",
) -> dict[str, Any]:
    """A DeploymentModel as `GET /deployments` lists it; `version` trimmed."""
    return {
        "id": dep_id,
        "user_id": "user_2x",
        "org_id": None,
        "workflow_version_id": "7e000000-0000-4000-8000-" + dep_id[-12:],
        "workflow_id": "7f000000-0000-4000-8000-" + dep_id[-12:],
        "machine_id": machine_id,
        "share_slug": None,
        "description": description,
        "share_options": None,
        "showcase_media": None,
        "environment": environment,
        "created_at": "2025-05-01T12:00:00.000000Z",
        "updated_at": "2025-05-01T12:00:00.000000Z",
        "workflow": {
            "id": "7f000000-0000-4000-8000-" + dep_id[-12:],
            "name": name,
            "cover_url": None,
        },
        "version": {},
        "machine": None,
        "input_types": inputs,
        "output_types": [{"class_type": "ComfyDeployStdOutputImage", "output_id": "final_result"}],
        "dub_link": None,
        "gpu": gpu,
        "machine_version_id": None,
        "modal_image_id": None,
        "concurrency_limit": 2,
        "run_timeout": 300,
        "idle_timeout": 60,
        "keep_warm": 0,
        "activated_at": None,
        "modal_app_id": None,
    }


def machine(machine_id: str, gpu: str) -> dict[str, Any]:
    """A `GET /machines` item (comfy-deploy/api machines route: datetimes without `Z`)."""
    return {
        "id": machine_id, "user_id": "user_2x", "name": f"m-{gpu}",
        "created_at": "2025-05-01T12:00:00.000000", "updated_at": "2025-05-01T12:00:00.000000",
        "type": "comfy-deploy-serverless", "org_id": None, "status": "ready", "gpu": gpu,
        "machine_version": None, "machine_builder_version": "4", "comfyui_version": "v0.3.30",
        "import_failed_logs": None, "machine_version_id": None, "is_workspace": False,
    }  # fmt: skip


def run_reply(status: str, **extra: Any) -> dict[str, Any]:
    """A WorkflowRunModel, trimmed to the fields the bot reads plus a few more."""
    body: dict[str, Any] = {
        "id": RUN_ID, "workflow_version_id": None, "workflow_inputs": {"prompt": "a red fox"},
        "workflow_id": None, "machine_id": MACHINE_A10G, "origin": "api", "status": status,
        "ended_at": None, "created_at": "2025-05-01T12:00:00.100000Z",
        "updated_at": "2025-05-01T12:00:01.000000Z", "queued_at": "2025-05-01T12:00:01.000000Z",
        "started_at": None, "gpu": "A10G", "live_status": None, "progress": 0.0, "outputs": [],
        "queue_position": None,
    }  # fmt: skip
    body.update(extra)
    return body


class FakeApi:
    """A ComfyDeploy-shaped app: records every request; answers from per-route scripts."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.scripts: dict[tuple[str, str], list[Handler]] = {}
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)

    def on(self, method: str, path: str, *handlers: Handler) -> None:
        """Answer `method path` with each handler in turn; the last one repeats."""
        self.scripts[(method, path)] = list(handlers)

    def hits(self, method: str, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if (r["method"], r["path"]) == (method, path)]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body: Any = None
        if request.content_type == "application/json":
            body = await request.json()
        elif request.content_type == "multipart/form-data":
            form = await request.post()
            body = {k: v for k, v in form.items()}
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "auth": request.headers.get("Authorization"),
                "body": body,
            }
        )
        handlers = self.scripts.get((request.method, request.path))
        if not handlers:
            return web.json_response({"detail": "Not Found"}, status=404)
        handler = handlers.pop(0) if len(handlers) > 1 else handlers[0]
        return await handler(request)


def reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    async def handler(_: web.Request) -> web.StreamResponse:
        return web.json_response(data, status=status, headers=headers)

    return handler


def text_reply(text: str, status: int) -> Handler:
    async def handler(_: web.Request) -> web.StreamResponse:
        return web.Response(text=text, status=status)

    return handler


class Sleeps:
    """Records the backoff waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Env:
    def __init__(self) -> None:
        self.api = FakeApi()
        self.never = asyncio.Event()
        self.sleeps = Sleeps()
        self.servers: list[TestServer] = []
        self.clients: list[ComfyDeployClient] = []

    async def serve(self, app: web.Application) -> TestServer:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        self.servers.append(server)
        return server

    async def client(self, base_url: str | None = None, **options: Any) -> ComfyDeployClient:
        if base_url is None:
            base_url = str((await self.serve(self.api.app)).make_url("/api"))
        options.setdefault("sleep", self.sleeps)
        options.setdefault("timeout_s", 2)
        client = ComfyDeployClient(base_url, API_KEY, **options)
        self.clients.append(client)
        return client

    def hang(self) -> Handler:
        async def handler(_: web.Request) -> web.StreamResponse:
            await self.never.wait()
            return web.json_response({})

        return handler


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    environment = Env()
    yield environment
    environment.never.set()
    for client in environment.clients:
        await client.close()
    for server in environment.servers:
        await server.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- catalog -------------------------------------------------------------------------------


async def test_list_workflows_merges_classic_and_fluid_deployments(env: Env) -> None:
    staging = deployment(DEP_STAGING, "Flux Dev", "staging", MACHINE_A10G, None, TXT2IMG_INPUTS)
    prod = deployment(
        DEP_PROD, "Flux Dev", "production", MACHINE_A10G, "H100", TXT2IMG_INPUTS, "Fast FLUX"
    )
    img2img_inputs = [
        input_type("Image", "input_image", "string", ["12", 0]),
        input_type("Text", "prompt", "string", "a photo"),
    ]
    img2img = deployment(
        DEP_IMG2IMG, "Img2Img Upscaler!", "production", MACHINE_L40S, None, img2img_inputs
    )
    outpaint_inputs = [
        input_type("Image", "input_image", "string", "https://example.com/default.png"),
        input_type("Text", "prompt", "string", ""),
    ]
    outpaint = deployment(
        DEP_OUTPAINT, "Outpaint", "production", "no-such-machine", None, outpaint_inputs
    )
    fluid_prod = dict(prod, modal_image_id="im-1")
    env.api.on(
        "GET",
        "/api/machines",
        reply([machine(MACHINE_A10G, "A10G"), machine(MACHINE_L40S, "L40S")]),
    )

    async def by_fluid(request: web.Request) -> web.StreamResponse:
        if request.query.get("is_fluid") == "true":
            return web.json_response([fluid_prod, outpaint])
        return web.json_response([staging, prod, img2img])

    env.api.on("GET", "/api/deployments", by_fluid)
    client = await env.client()

    workflows, deployments = await client.list_workflows()

    queries = [r["query"] for r in env.api.hits("GET", "/api/deployments")]
    assert sorted(q.get("is_fluid", "") for q in queries) == ["", "true"]
    assert {d.id: (d.workflow_name, d.gpu, d.machine_id) for d in deployments} == {
        DEP_STAGING: ("Flux Dev", "A10G", MACHINE_A10G),
        DEP_PROD: ("Flux Dev", "H100", MACHINE_A10G),
        DEP_IMG2IMG: ("Img2Img Upscaler!", "L40S", MACHINE_L40S),
        DEP_OUTPAINT: ("Outpaint", None, "no-such-machine"),
    }
    assert len(deployments) == 4
    by_name = {w.name: w for w in workflows}
    assert set(by_name) == {"Flux Dev", "Img2Img Upscaler!", "Outpaint"}

    flux = by_name["Flux Dev"]
    assert flux.command == "flux_dev"
    assert [ref.id for ref in flux.deployments] == [DEP_PROD, DEP_STAGING]
    assert flux.description == "Fast FLUX"
    assert flux.gpu == "H100"
    assert flux.backend == "comfydeploy"
    assert flux.text_only is True
    inputs = {i.name: i for i in flux.inputs}
    assert [i.name for i in flux.inputs] == ["prompt", "steps", "cfg", "style", "upscale"]
    assert (inputs["prompt"].type, inputs["prompt"].required) == (InputType.TEXT, True)
    assert inputs["prompt"].label == "Prompt"
    assert (inputs["steps"].type, inputs["steps"].min, inputs["steps"].max) == (
        InputType.INTEGER,
        1,
        50,
    )
    assert inputs["steps"].default == 20 and inputs["steps"].required is False
    assert (inputs["cfg"].type, inputs["cfg"].step) == (InputType.NUMBER, 0.5)
    assert inputs["style"].type is InputType.CHOICE
    assert inputs["style"].choices == ("anime", "photo")
    assert inputs["upscale"].type is InputType.BOOLEAN
    assert flux.main_text_input is not None and flux.main_text_input.name == "prompt"

    img2img_wf = by_name["Img2Img Upscaler!"]
    assert img2img_wf.command == "img2img_upscaler"
    assert img2img_wf.gpu == "L40S"
    assert img2img_wf.input("input_image") is not None
    assert img2img_wf.image_inputs[0].required is True
    assert img2img_wf.text_only is False

    outpaint_wf = by_name["Outpaint"]
    assert outpaint_wf.image_inputs[0].required is False
    assert outpaint_wf.text_only is True

    assert {r["auth"] for r in env.api.requests} == {f"Bearer {API_KEY}"}


async def test_list_workflows_survives_a_machines_failure(env: Env) -> None:
    dep = deployment(DEP_PROD, "Flux Dev", "production", MACHINE_A10G, None, TXT2IMG_INPUTS)
    env.api.on("GET", "/api/deployments", reply([dep]))
    env.api.on("GET", "/api/machines", reply({"detail": "Token does not have permission"}, 403))
    workflows, deployments = await (await env.client()).list_workflows()
    assert [w.name for w in workflows] == ["Flux Dev"]
    assert deployments[0].gpu is None


async def test_list_workflows_fails_when_deployments_fail(env: Env) -> None:
    env.api.on("GET", "/api/deployments", reply({"detail": "Invalid or missing token"}, 401))
    env.api.on("GET", "/api/machines", reply([]))
    with pytest.raises(BackendError) as caught:
        await (await env.client()).list_workflows()
    assert caught.value.status == 401 and not caught.value.retryable


async def test_gpu_prices_without_auth(env: Env) -> None:
    prices = {"CPU": 0.000042, "T4": 0.00018, "A10G": 0.000337, "H100": 0.002338}
    env.api.on("GET", "/api/platform/gpu-pricing", reply(prices))
    client = await env.client()
    assert await client.gpu_prices() == prices
    assert env.api.requests[0]["auth"] is None


# -- submit --------------------------------------------------------------------------------


async def test_submit_sends_the_queue_body(env: Env) -> None:
    env.api.on("POST", "/api/run/deployment/queue", reply({"run_id": RUN_ID}))
    client = await env.client()
    webhook = "https://bot.example.com/cd/webhook?target_events=run.output,run.updated&t=abc"
    inputs = {
        "prompt": "a red fox, watercolor",
        "seed": 42,
        "input_image": "https://example.com/in.png",
    }

    assert await client.submit(DEP_PROD, inputs, webhook) == RUN_ID

    [hit] = env.api.hits("POST", "/api/run/deployment/queue")
    assert hit["body"] == {
        "deployment_id": DEP_PROD,
        "inputs": inputs,
        "webhook": webhook,
        "webhook_intermediate_status": True,
    }
    assert hit["auth"] == f"Bearer {API_KEY}"


async def test_submit_without_webhook_sends_no_webhook_keys(env: Env) -> None:
    env.api.on("POST", "/api/run/deployment/queue", reply({"run_id": RUN_ID}))
    await (await env.client()).submit(DEP_PROD, {"prompt": "x"}, None)
    [hit] = env.api.hits("POST", "/api/run/deployment/queue")
    assert hit["body"] == {"deployment_id": DEP_PROD, "inputs": {"prompt": "x"}}


async def test_submit_retries_503_then_succeeds(env: Env) -> None:
    unavailable = text_reply("Service Unavailable", 503)
    env.api.on(
        "POST", "/api/run/deployment/queue", unavailable, unavailable, reply({"run_id": RUN_ID})
    )
    client = await env.client(backoff_base_s=0.5)
    assert await client.submit(DEP_PROD, {}, None) == RUN_ID
    assert len(env.api.hits("POST", "/api/run/deployment/queue")) == 3
    first, second = env.sleeps.waits
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 1.5


async def test_submit_honours_retry_after_zero(env: Env) -> None:
    limited = reply({"detail": "Too Many Requests"}, 429, {"Retry-After": "0"})
    env.api.on("POST", "/api/run/deployment/queue", limited, reply({"run_id": RUN_ID}))
    assert await (await env.client()).submit(DEP_PROD, {}, None) == RUN_ID
    assert env.sleeps.waits == [0.0]


async def test_retry_after_seconds_are_waited_exactly_and_capped(env: Env) -> None:
    env.api.on(
        "GET",
        f"/api/run/{RUN_ID}",
        reply({"detail": "slow down"}, 429, {"Retry-After": "2"}),
        reply({"detail": "maintenance"}, 503, {"Retry-After": "120"}),
        reply(run_reply("queued")),
    )
    client = await env.client(backoff_max_s=30)
    assert (await client.get_run(RUN_ID)).status is RunStatus.QUEUED
    assert env.sleeps.waits == [2.0, 30.0]


async def test_retry_after_http_date(env: Env) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    env.api.on(
        "GET",
        f"/api/run/{RUN_ID}",
        reply({"detail": "slow down"}, 429, {"Retry-After": when}),
        reply(run_reply("queued")),
    )
    await (await env.client()).get_run(RUN_ID)
    [wait] = env.sleeps.waits
    assert 3.0 <= wait <= 5.0


async def test_submit_422_is_not_retried_and_carries_the_detail(env: Env) -> None:
    detail = [
        {
            "type": "uuid_parsing",
            "loc": ["body", "deployment_id"],
            "msg": "Input should be a valid UUID",
            "input": "nope",
        }
    ]
    env.api.on("POST", "/api/run/deployment/queue", reply({"detail": detail}, 422))
    with pytest.raises(BackendError) as caught:
        await (await env.client()).submit("nope", {}, None)
    error = caught.value
    assert type(error) is BackendError
    assert (error.status, error.retryable) == (422, False)
    assert "body.deployment_id: Input should be a valid UUID" in str(error)
    assert len(env.api.requests) == 1 and env.sleeps.waits == []


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (404, "Deployment not found"),
        (403, "Insufficient deployment owner's GPU credits to create run"),
        (400, "Invalid machine type"),
    ],
)
async def test_submit_client_errors(env: Env, status: int, detail: str) -> None:
    env.api.on("POST", "/api/run/deployment/queue", reply({"detail": detail}, status))
    with pytest.raises(BackendError) as caught:
        await (await env.client()).submit(DEP_PROD, {}, None)
    assert (caught.value.status, caught.value.retryable) == (status, False)
    assert detail in str(caught.value)
    assert len(env.api.requests) == 1


async def test_submit_500_is_not_repeated(env: Env) -> None:
    env.api.on("POST", "/api/run/deployment/queue", text_reply("Internal Server Error", 500))
    with pytest.raises(BackendUnavailable) as caught:
        await (await env.client()).submit(DEP_PROD, {}, None)
    assert caught.value.status == 500
    assert len(env.api.requests) == 1


async def test_submit_read_timeout_is_not_repeated(env: Env) -> None:
    env.api.on("POST", "/api/run/deployment/queue", env.hang())
    client = await env.client(timeout_s=0.2, retries=3)
    with pytest.raises(BackendUnavailable, match="may have processed"):
        await client.submit(DEP_PROD, {}, None)
    assert len(env.api.requests) == 1 and env.sleeps.waits == []


async def test_submit_retries_when_the_connection_is_refused(env: Env) -> None:
    client = await env.client(f"http://127.0.0.1:{closed_port()}/api", retries=2)
    with pytest.raises(BackendUnavailable, match="cannot connect"):
        await client.submit(DEP_PROD, {}, None)
    assert len(env.sleeps.waits) == 2


# -- runs ----------------------------------------------------------------------------------


async def test_get_run_parses_the_run_model(env: Env) -> None:
    image = {
        "url": f"https://bucket.s3.us-east-1.amazonaws.com/outputs/runs/{RUN_ID}/ComfyUI_00001_.png",
        "type": "output", "filename": "ComfyUI_00001_.png", "subfolder": "", "is_public": True,
        "upload_duration": 0.42,
    }  # fmt: skip
    body = run_reply(
        "success",
        progress=1.0,
        started_at="2025-05-01T12:00:19.000000Z",
        ended_at="2025-05-01T12:00:41.500000Z",
        live_status="Executing SaveImage",
        outputs=[
            {
                "id": "o1",
                "output_id": "final_result",
                "run_id": RUN_ID,
                "data": {"images": [image]},
            }
        ],
    )
    env.api.on("GET", f"/api/run/{RUN_ID}", reply(body))
    event = await (await env.client()).get_run(RUN_ID)
    assert (event.source, event.status, event.progress) == (
        EventSource.POLL,
        RunStatus.SUCCESS,
        1.0,
    )
    assert event.ended_at == datetime(2025, 5, 1, 12, 0, 41, 500000, tzinfo=UTC)
    assert [(o.kind, o.url) for o in event.outputs] == [(OutputKind.IMAGE, image["url"])]
    [hit] = env.api.requests
    assert hit["query"] == {"queue_position": "true"}
    assert hit["auth"] == f"Bearer {API_KEY}"


async def test_get_run_404_is_run_not_found(env: Env) -> None:
    env.api.on("GET", f"/api/run/{RUN_ID}", reply({"detail": "Run not found"}, 404))
    with pytest.raises(RunNotFound):
        await (await env.client()).get_run(RUN_ID)
    assert len(env.api.requests) == 1


async def test_get_run_retries_500_then_gives_up(env: Env) -> None:
    env.api.on("GET", f"/api/run/{RUN_ID}", text_reply("Internal Server Error", 500))
    with pytest.raises(BackendUnavailable) as caught:
        await (await env.client(retries=3)).get_run(RUN_ID)
    assert caught.value.status == 500 and caught.value.retryable
    assert len(env.api.requests) == 4 and len(env.sleeps.waits) == 3


async def test_timeouts_become_unavailable_after_retries(env: Env) -> None:
    env.api.on("GET", f"/api/run/{RUN_ID}", env.hang())
    client = await env.client(timeout_s=0.2, retries=2)
    with pytest.raises(BackendUnavailable):
        await client.get_run(RUN_ID)
    assert len(env.api.requests) == 3 and len(env.sleeps.waits) == 2


async def test_run_id_cannot_change_the_route(env: Env) -> None:
    with pytest.raises(RunNotFound):
        await (await env.client()).get_run("../deployments")
    assert env.api.requests[0]["path"] == "/api/run/../deployments"
    assert env.api.hits("GET", "/api/deployments") == []


async def test_cancel(env: Env) -> None:
    env.api.on(
        "POST",
        f"/api/run/{RUN_ID}/cancel",
        reply({"status": "success", "message": "Function cancelled"}),
    )
    await (await env.client()).cancel(RUN_ID)
    [hit] = env.api.requests
    assert hit["method"] == "POST" and hit["body"] is None


async def test_cancel_500_not_found_is_run_not_found(env: Env) -> None:
    detail = "Error cancel function 404: Run not found or has no modal function call ID"
    env.api.on("POST", f"/api/run/{RUN_ID}/cancel", reply({"detail": detail}, 500))
    with pytest.raises(RunNotFound) as caught:
        await (await env.client()).cancel(RUN_ID)
    assert caught.value.status == 500
    assert len(env.api.requests) == 1


async def test_cancel_other_failure_is_backend_error(env: Env) -> None:
    env.api.on("POST", f"/api/run/{RUN_ID}/cancel", reply({"detail": "Access denied. "}, 403))
    with pytest.raises(BackendError) as caught:
        await (await env.client()).cancel(RUN_ID)
    assert not isinstance(caught.value, RunNotFound) and caught.value.status == 403


# -- files ---------------------------------------------------------------------------------


async def test_upload_sends_multipart_file(env: Env) -> None:
    file_url = "https://bucket.s3.us-east-1.amazonaws.com/inputs/img_1a2b3c4d5e6f7g8h.png"
    seen: dict[str, Any] = {}

    async def upload(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        part = form["file"]
        assert isinstance(part, web.FileField)
        seen.update(name=part.filename, mime=part.content_type, data=part.file.read())
        return web.json_response(
            {"message": "File uploaded successfully", "file_id": "img_1a2b3c4d5e6f7g8h",
             "file_name": part.filename, "file_url": file_url}
        )  # fmt: skip

    env.api.on("POST", "/api/file/upload", upload)
    url = await (await env.client()).upload("cat.png", "image/png", b"\x89PNG fake")
    assert url == file_url
    assert seen == {"name": "cat.png", "mime": "image/png", "data": b"\x89PNG fake"}


async def fetched(client: ComfyDeployClient, url: str, cap: int, folder: Path) -> bytes:
    """An output downloaded the way the bot does it: streamed to a file."""
    target = folder / "out.bin"
    size = await client.download(url, target, cap)
    data = target.read_bytes()
    assert size == len(data)
    return data


async def test_fetch_sends_auth_only_to_the_api_host(env: Env, tmp_path: Path) -> None:
    storage_auth: list[str | None] = []

    async def output(request: web.Request) -> web.StreamResponse:
        storage_auth.append(request.headers.get("Authorization"))
        return web.Response(body=b"png-bytes", content_type="image/png")

    storage = web.Application()
    storage.router.add_get("/outputs/runs/r/a.png", output)
    storage_server = await env.serve(storage)
    env.api.on("GET", "/api/files/a.png", output)
    api_server = await env.serve(env.api.app)
    client = await env.client(str(api_server.make_url("/api")))

    storage_url = str(storage_server.make_url("/outputs/runs/r/a.png"))
    assert await fetched(client, storage_url, 100, tmp_path) == b"png-bytes"
    api_url = str(api_server.make_url("/api/files/a.png"))
    assert await fetched(client, api_url, 100, tmp_path) == b"png-bytes"
    assert storage_auth == [None, f"Bearer {API_KEY}"]


async def test_fetch_rejects_a_declared_size_over_the_cap(env: Env, tmp_path: Path) -> None:
    env.api.on("GET", "/out.bin", text_reply("x" * 1000, 200))
    client = await env.client()
    base = str(env.servers[0].make_url("/out.bin"))
    with pytest.raises(FileTooLarge):
        await fetched(client, base, 999, tmp_path)
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 - nothing half-written is left behind
    assert await fetched(client, base, 1000, tmp_path) == b"x" * 1000


async def test_a_relative_output_url_is_refused(env: Env, tmp_path: Path) -> None:
    client = await env.client()
    with pytest.raises(BackendError):
        await client.download("/metrics", tmp_path / "x", 100)
    assert env.api.requests == []


async def test_fetch_counts_bytes_of_a_chunked_reply(env: Env, tmp_path: Path) -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(10):
            await response.write(b"y" * 100)
        await response.write_eof()
        return response

    env.api.on("GET", "/big.bin", chunked)
    client = await env.client()
    with pytest.raises(FileTooLarge) as caught:
        await fetched(client, str(env.servers[0].make_url("/big.bin")), 500, tmp_path)
    assert caught.value.limit == 500
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240
    assert len(env.api.requests) == 1


async def test_fetch_404_is_not_retried(env: Env, tmp_path: Path) -> None:
    client = await env.client()
    with pytest.raises(BackendError) as caught:
        await fetched(client, str(env.servers[0].make_url("/gone.png")), 100, tmp_path)
    assert caught.value.status == 404 and len(env.api.requests) == 1


# -- health and secrets --------------------------------------------------------------------


async def test_ping(env: Env) -> None:
    env.api.on("GET", "/api/platform/gpu-pricing", reply({"T4": 0.00018}))
    assert await (await env.client()).ping() is True
    down = await env.client(f"http://127.0.0.1:{closed_port()}/api")
    assert await down.ping() is False


async def test_api_key_never_appears_in_errors(env: Env) -> None:
    echo = [{"type": "value_error", "loc": ["body", "inputs"], "msg": f"bad token {API_KEY}"}]
    env.api.on("POST", "/api/run/deployment/queue", reply({"detail": echo}, 422))
    env.api.on("GET", f"/api/run/{RUN_ID}", text_reply(f"boom Bearer {API_KEY}", 503))
    env.api.on("POST", f"/api/run/{RUN_ID}/cancel", reply({"detail": f"nope {API_KEY}"}, 500))
    client = await env.client(retries=1)
    refused = await env.client(f"http://127.0.0.1:{closed_port()}/api", retries=1)
    calls: list[Awaitable[Any]] = [
        client.submit(DEP_PROD, {}, None),
        client.get_run(RUN_ID),
        client.cancel(RUN_ID),
        refused.get_run(RUN_ID),
        refused.submit(DEP_PROD, {}, None),
    ]
    for call in calls:
        with pytest.raises(BackendError) as caught:
            await call
        error: BaseException | None = caught.value
        while error is not None:
            assert API_KEY not in str(error) and API_KEY not in repr(error)
            error = error.__cause__ or error.__context__
