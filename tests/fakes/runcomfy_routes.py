"""HTTP routes of the fake RunComfy Serverless API.

Queue endpoints (https://docs.runcomfy.com/serverless/async-queue-endpoints), under `/prod/v1`
and, as RunComfy's CLI and the webhook docs use them, `/prod/v2`
(https://github.com/runcomfy-com/runcomfy-cli, `src/cmd/deployments.rs`):
`POST …/deployments/{id}/inference`, `GET …/requests/{rid}/status`, `GET …/requests/{rid}/result`,
`POST …/requests/{rid}/cancel`. Deployments: `GET /prod/v2/deployments[?ids=..&includes=..]`
(a bare JSON array) and `GET /prod/v2/deployments/{id}[?includes=payload]`
(https://docs.runcomfy.com/mcp/tool-reference). Cancel answers
`{request_id, status: cancellation_requested | not_cancellable}`
(https://github.com/iguanesolutions/go-runcomfyserverless, `actions.go`; RunComfy's CLI says a
serverless cancel only means "requested" until the status reaches cancelled).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from tests.fakes.runcomfy_catalog import FakeDeployment, object_info_for
from tests.fakes.runcomfy_lifecycle import RequestDriver
from tests.fakes.runcomfy_requests import (
    CANCELLED,
    IN_QUEUE,
    FakeRequest,
    RequestBook,
    StatusSpelling,
)
from tests.fakes.runcomfy_validation import SubmitRejected, parse_submission
from tests.fakes.runcomfy_wire import (
    NOT_FOUND,
    PUBLIC_ROUTES,
    UNAUTHORIZED,
    Route,
    api_error,
    detail_item,
    error_body,
    validation_error,
)

log = logging.getLogger(__name__)

CancelRunning = Literal["deferred", "immediate", "refuse"]
"""How a cancel of an `in_progress` request behaves: `deferred` (accepted, takes effect at
its next step), `immediate`, or `refuse` (`not_cancellable`)."""


def _multi(request: web.Request, name: str) -> list[str]:
    """A repeated (`ids=a&ids=b`) or comma-separated (`ids=a,b`) query parameter."""
    return [v.strip() for raw in request.query.getall(name, []) for v in raw.split(",") if v]


class Api:
    def __init__(
        self,
        deployments: dict[str, FakeDeployment],
        book: RequestBook,
        driver: RequestDriver,
        root_url: Callable[[], str],
        api_key: str,
        spelling: StatusSpelling,
        cancel_running: CancelRunning,
        on_submitted: Callable[[FakeRequest], None],
    ) -> None:
        self.deployments = deployments
        self.book = book
        self.driver = driver
        self.root_url = root_url
        self.api_key = api_key
        self.spelling = spelling
        self.cancel_running: CancelRunning = cancel_running
        self.on_submitted = on_submitted

    # -- middlewares ---------------------------------------------------------------------

    @web.middleware
    async def shape_errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as error:
            if error.status >= 400:
                return api_error(error.status, error.reason)
            raise
        except Exception:
            log.exception("fake RunComfy route %s failed", request.path)
            return api_error(500, "Internal Error")

    @web.middleware
    async def authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.route.name in PUBLIC_ROUTES:
            return await handler(request)
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if token != self.api_key:
            return api_error(401, "Unauthorized", error_code=UNAUTHORIZED)
        return await handler(request)

    # -- lookups -------------------------------------------------------------------------

    def _deployment(self, request: web.Request) -> FakeDeployment | web.Response:
        found = self.deployments.get(request.match_info["deployment_id"])
        if found is None:
            return api_error(404, "Deployment not found", error_code=NOT_FOUND)
        return found

    def _request(self, request: web.Request) -> FakeRequest | web.Response:
        deployment = self._deployment(request)
        if isinstance(deployment, web.Response):
            return deployment
        found = self.book.get(request.match_info["request_id"])
        if found is None or found.deployment_id != deployment.id:
            return api_error(404, "Request not found", error_code=NOT_FOUND)
        return found

    # -- queue ---------------------------------------------------------------------------

    async def inference(self, request: web.Request) -> web.Response:
        deployment = self._deployment(request)
        if isinstance(deployment, web.Response):
            return deployment
        if deployment.gating_error is not None:
            code, message = deployment.gating_error
            return web.json_response(error_body(code, message))
        text = await request.text()
        try:
            raw = json.loads(text) if text.strip() else None
        except ValueError as error:
            return validation_error([detail_item([], f"JSON decode error: {error}", "json")])
        if raw is None:
            return validation_error([detail_item([], "Field required", "missing")])
        query = dict(request.query)
        try:
            submission = parse_submission(raw, query, deployment.workflow_api_json)
        except SubmitRejected as rejected:
            return validation_error(rejected.detail)
        version = request.match_info["version"]
        created = self.book.create(deployment.id, version, submission, raw, query)
        self.on_submitted(created)
        return web.json_response(created.submit_json(self.root_url()))

    async def status(self, request: web.Request) -> web.Response:
        found = self._request(request)
        if isinstance(found, web.Response):
            return found
        position = self.book.queue_position(found)
        return web.json_response(found.status_json(self.root_url(), self.spelling, position))

    async def result(self, request: web.Request) -> web.Response:
        found = self._request(request)
        if isinstance(found, web.Response):
            return found
        return web.json_response(found.result_json())

    async def cancel(self, request: web.Request) -> web.Response:
        found = self._request(request)
        if isinstance(found, web.Response):
            return found
        answer = "cancellation_requested"
        if found.terminal or (found.phase != IN_QUEUE and self.cancel_running == "refuse"):
            answer = "not_cancellable"
        elif found.phase == IN_QUEUE or self.cancel_running == "immediate":
            self.driver.end(found, CANCELLED)
        else:
            found.cancel_requested = True
        return web.json_response({"request_id": found.id, "status": answer})

    # -- deployments ---------------------------------------------------------------------

    async def list_deployments(self, request: web.Request) -> web.Response:
        ids = _multi(request, "ids")
        includes = set(_multi(request, "includes"))
        chosen = [d for d in self.deployments.values() if not ids or d.id in ids]
        return web.json_response([d.to_json(self.root_url(), includes) for d in chosen])

    async def get_deployment(self, request: web.Request) -> web.Response:
        deployment = self._deployment(request)
        if isinstance(deployment, web.Response):
            return deployment
        includes = set(_multi(request, "includes"))
        return web.json_response(deployment.to_json(self.root_url(), includes))

    async def object_info(self, request: web.Request) -> web.Response:
        deployment = self._deployment(request)
        if isinstance(deployment, web.Response):
            return deployment
        return web.json_response(object_info_for(deployment.workflow_api_json))

    async def output_file(self, request: web.Request) -> web.Response:
        data = self.driver.outputs.get(request.match_info["path"])
        if data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=data, content_type="image/png")


def build_app(api: Api, middlewares: list[Middleware]) -> web.Application:
    app = web.Application(middlewares=[*middlewares, api.authenticate])
    add = app.router.add_route
    queue = "/prod/{version:v[12]}/deployments/{deployment_id}"
    add("POST", f"{queue}/inference", api.inference, name=Route.INFERENCE)
    add("GET", f"{queue}/requests/{{request_id}}/status", api.status, name=Route.STATUS)
    add("GET", f"{queue}/requests/{{request_id}}/result", api.result, name=Route.RESULT)
    add("POST", f"{queue}/requests/{{request_id}}/cancel", api.cancel, name=Route.CANCEL)
    add("GET", "/prod/v2/deployments", api.list_deployments, name=Route.DEPLOYMENTS)
    add("GET", "/prod/v2/deployments/{deployment_id}", api.get_deployment, name=Route.DEPLOYMENT)
    add("GET", "/object_info/{deployment_id}.json", api.object_info, name=Route.OBJECT_INFO)
    add("GET", "/outputs/{path:.+}", api.output_file, name=Route.OUTPUT_FILE)
    return app
