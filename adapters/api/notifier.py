"""The API as a chat platform for delivery: a run's progress wakes its event streams, and its
result is "posted" in two parts, each through the delivery journal (core/journal.py), so a run
delivered again after a crash or by another process repeats neither:

1. `record`: the result (files the bot saved, texts, the balance left) stored with the request,
   where `GET /runs/{id}` and the event stream read it;
2. `callback`: the run as `GET /runs/{id}` shows it, POSTed once to the request's callback URL.

Both may be sent again when their outcome is unknown (a crash mid-send): the record keeps its
first version, and the callback carries its event id for receivers to drop a repeat.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from adapters.api.callbacks import CallbackSender
from adapters.api.signals import RunSignals
from adapters.api.views import RunViews
from core.api_keys import API_PLATFORM, ApiKeyStore
from core.api_requests import ApiFile, ApiRequestStore, ApiResult
from core.journal import DeliveryJournal, send_once
from core.models import ProgressView, ResultFile, RunResult
from core.ports import Clock

log = logging.getLogger(__name__)


class ApiNotifier:
    platform = API_PLATFORM

    def __init__(
        self,
        *,
        requests: ApiRequestStore,
        keys: ApiKeyStore,
        signals: RunSignals,
        views: RunViews,
        sender: CallbackSender,
        outputs_dir: Path,
        public_base: str,
        clock: Clock,
    ) -> None:
        self._requests = requests
        self._keys = keys
        self._signals = signals
        self._views = views
        self._sender = sender
        self._outputs_dir = outputs_dir.resolve()
        self._base = public_base
        self._clock = clock

    async def show_progress(self, view: ProgressView) -> str | None:
        """Wake the run's event streams; there is no message to remember."""
        self._signals.ring(view.run.id)
        return None

    async def post_result(self, result: RunResult, journal: DeliveryJournal) -> RunResult | None:
        """Record the result and call back; an API request has no status message to end."""
        run = result.run
        if run.origin is None:
            log.warning("run %s has no API request to deliver to", run.id)
            return None
        origin = run.origin
        recorded = ApiResult(
            files=tuple(self._file(file) for file in result.files),
            texts=result.texts,
            balance=result.balance,
            recorded_at=self._clock.now(),
        )

        async def record() -> None:
            await self._requests.record_result(origin, recorded)

        await send_once(journal, "record", record, resend_uncertain=True)
        self._signals.ring(run.id)
        request = await self._requests.get(origin)
        if request is None or request.callback_url is None:
            return None
        key = await self._keys.get(request.key_id)
        if key is None:
            log.warning("run %s: its API key is gone; no callback", run.id)
            return None
        body = self._views.view(run, request.result or recorded, self._base)
        payload = json.dumps(body, ensure_ascii=False).encode()
        url = request.callback_url

        async def call_back() -> None:
            await self._sender.send(url, payload, key.signing_secret, f"run.{run.id}.result")

        await send_once(journal, "callback", call_back, resend_uncertain=True)
        return None

    async def end_status(self, ending: RunResult) -> None:
        self._signals.ring(ending.run.id)

    def _file(self, file: ResultFile) -> ApiFile:
        return ApiFile(
            kind=file.kind,
            filename=file.filename,
            mime=file.mime,
            size=file.size,
            saved=self._relative(file.path),
            source_url=file.url,
        )

    def _relative(self, path: str | None) -> str | None:
        if path is None:
            return None
        try:
            return Path(path).resolve().relative_to(self._outputs_dir).as_posix()
        except ValueError:
            return None
