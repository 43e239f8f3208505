"""The run routes: start a run of a workflow (idempotently), read one, cancel one, list the
key's runs page by page, and fetch a delivered run's outputs.

A run is started through the chat layer like a chat command, as the key's user: the same
validation, bans, allow-lists, credits, caps, rate limit and fair queue
(core/chat/service.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from adapters.api.auth import KeyRing
from adapters.api.bodies import (
    decode_cursor,
    encode_cursor,
    idempotency_key,
    language,
    page_size,
    read_object,
)
from adapters.api.config import ApiConfig
from adapters.api.door import ApiDoor
from adapters.api.errors import ApiError, api_handler, json_response, not_found
from adapters.api.outcomes import refusal
from adapters.api.run_access import RunAccess
from adapters.api.views import RunViews, run_urls
from core.api_keys import ApiKey
from core.api_requests import (
    ApiRequest,
    ApiRequestStore,
    IdempotencyClaim,
    fingerprint,
    new_origin,
)
from core.catalog import Catalog
from core.chat.content import Message, RunAccepted
from core.chat.operations import CancelRun
from core.chat.service import ChatService
from core.chat.text_render import TextRenderer
from core.models import ChatRef, Run
from core.ports import Clock, RunFinder, RunStore
from core.price_list import PriceList
from core.rate_limit import RateWindow

REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True)
class RunDeps:
    chat: ChatService
    keys: KeyRing
    door: ApiDoor
    access: RunAccess
    requests: ApiRequestStore
    store: RunStore
    finder: RunFinder
    catalog: Catalog
    prices: PriceList
    views: RunViews
    words: TextRenderer
    clock: Clock
    config: ApiConfig


class RunRoutes:
    def __init__(self, deps: RunDeps) -> None:
        self._d = deps

    def routes(self, prefix: str) -> list[web.RouteDef]:
        return [
            web.post(f"{prefix}/workflows/{{name}}/runs", api_handler(self.start)),
            web.get(f"{prefix}/runs", api_handler(self.page)),
            web.get(f"{prefix}/runs/{{id}}", api_handler(self.get)),
            web.post(f"{prefix}/runs/{{id}}/cancel", api_handler(self.cancel)),
            web.get(f"{prefix}/runs/{{id}}/outputs/{{index}}", api_handler(self.output)),
        ]

    async def _caller(self, request: web.Request) -> ApiKey:
        return await self._d.keys.caller(request.headers.get("Authorization"))

    def _chat(self, key: ApiKey, request: web.Request) -> ChatRef:
        return key.chat.model_copy(update={"language": language(request)})

    async def start(self, request: web.Request) -> web.StreamResponse:
        d = self._d
        key = await self._caller(request)
        name = request.match_info["name"]
        words = d.words.for_language(language(request))
        workflow = d.catalog.view.get(name)
        if workflow is None or workflow.hidden:
            raise ApiError(404, "unknown_workflow", words.text("unknown_workflow", name=name))
        body = await read_object(request, d.config.max_body_bytes)
        now = d.clock.now()
        origin = new_origin()
        given_key = idempotency_key(request)
        if given_key is not None:
            claim = IdempotencyClaim(origin, fingerprint(body))
            until = now + d.config.idempotency_ttl
            stored = await d.requests.claim_key(f"{key.id}:{given_key}", claim, now, until)
            if stored.fingerprint != claim.fingerprint:
                raise ApiError(
                    409,
                    "idempotency_conflict",
                    "This Idempotency-Key was used with another body.",
                )
            if stored.origin != origin:
                origin = stored.origin
                existing = await d.store.by_origin(origin)
                if existing is not None:
                    return self._accepted(existing, request, replayed=True)
        operation, callback = await d.door.operation(workflow, body, key, origin)
        if not operation.problems:
            await d.requests.remember(
                ApiRequest(origin=origin, key_id=key.id, callback_url=callback, created_at=now)
            )
        content = await d.chat.execute(operation, self._chat(key, request))
        if isinstance(content, RunAccepted):
            run = await d.store.get(content.run.id) or content.run  # as far as it got
            return self._accepted(run, request, replayed=False)
        wait = self._window_left()
        if isinstance(content, Message) and content.notice.key == "queue_full":
            wait = d.prices.typical_seconds(workflow)
        raise refusal(content, words, workflow, retry_after_s=wait)

    def _window_left(self) -> float:
        """Until the rate limit's window ends (core/rate_limit.py)."""
        now = self._d.clock.now()
        return RateWindow.of(now).seconds_left(now)

    def _accepted(self, run: Run, request: web.Request, *, replayed: bool) -> web.Response:
        base = self._d.config.base(request)
        view = self._d.views.view(run, None, base, language=language(request))
        headers = {"Location": run_urls(base, run.id)["self"]}
        if replayed:
            headers[REPLAYED_HEADER] = "true"
        return json_response(view, 202, headers)

    async def get(self, request: web.Request) -> web.StreamResponse:
        key = await self._caller(request)
        state = await self._d.access.state(request.match_info["id"], key)
        view = self._d.views.view(
            state.run,
            state.result,
            self._d.config.base(request),
            place=state.place,
            language=language(request),
        )
        return json_response(view)

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        d = self._d
        key = await self._caller(request)
        run = await d.access.run(request.match_info["id"], key)
        content = await d.chat.execute(CancelRun(run.id), self._chat(key, request))
        if not (isinstance(content, Message) and content.notice.key == "run_state"):
            words = d.words.for_language(language(request))
            raise refusal(content, words, retry_after_s=self._window_left())
        return await self.get(request)

    async def page(self, request: web.Request) -> web.StreamResponse:
        d = self._d
        key = await self._caller(request)
        limit = page_size(request, d.config.default_page, d.config.max_page)
        runs = await d.finder.page(key.user_key, decode_cursor(request), limit)
        origins = [run.origin for run in runs if run.origin and run.status.terminal]
        results = await d.requests.results(origins) if origins else {}
        base = d.config.base(request)
        tongue = language(request)
        views = [
            d.views.view(run, results.get(run.origin or ""), base, language=tongue) for run in runs
        ]
        last = runs[-1] if len(runs) == limit else None
        after = encode_cursor(last.created_at, last.id) if last else None
        next_url = f"{base}{request.path}?limit={limit}&after={after}" if after else None
        return json_response({"runs": views, "next": next_url})

    async def output(self, request: web.Request) -> web.StreamResponse:
        key = await self._caller(request)
        state = await self._d.access.state(request.match_info["id"], key)
        index = request.match_info["index"]
        files = state.result.files if state.result else ()
        if not index.isdigit() or int(index) >= len(files):
            raise not_found(f"Run {state.run.id} has no output {index[:8]}.")
        file = files[int(index)]
        if file.saved is not None:
            path = self._saved(file.saved)
            if path is not None:
                return web.FileResponse(path, headers={"Content-Type": file.mime})
        if file.source_url:
            raise web.HTTPFound(file.source_url)
        raise ApiError(410, "output_gone", f"Output {index} of run {state.run.id} is gone.")

    def _saved(self, relative: str) -> Path | None:
        root = self._d.config.outputs_dir.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path
