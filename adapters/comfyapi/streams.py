"""Following running jobs over their event streams: the fast path for progress.

Comfy API v2 sends no webhooks; each job has an SSE stream of `status` and `progress` events
(`GET /api/v2/jobs/{id}/events`, https://github.com/Comfy-Org/comfy-api-proxy). One
task per followed run reads it and hands each event to the engine's ingress. The stream is
only a hint: it has no event ids to resume from, comfy-api-proxy ends it at the terminal status
and sends outputs that were not sent yet after that, and it may report `expired` by mistake.
So a terminal status, or the stream's end, is answered by reading the job itself (the source
of truth), and that is what is applied. A refused (429 `too_many_streams`), lost or silent
stream is simply let go: the engine polls quiet runs. `preview` events (base64 images,
about two a second) go on the preview board when there is one; bad or oversized ones are
ignored, and a run's preview is dropped when its stream ends.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import aiohttp

from adapters.comfyapi.jobs import STATUSES, TERMINAL, progress_of
from adapters.comfyapi.sse import read_frames
from core.errors import BackendError
from core.ingress import WebhookIngress
from core.models import EventSource, RunEvent, RunStatus
from core.previews import PreviewBoard

log = logging.getLogger(__name__)

MAX_STREAMS = 6
"""Streams open at once per backend (comfy-api-proxy refuses a ninth with 429)."""
CANCEL_AGAIN_AFTER_S = 0.5
"""How long `close` waits for a cancelled stream before it cancels it again."""

Opener = Callable[[str], AbstractAsyncContextManager[aiohttp.ClientResponse]]
Reader = Callable[[str], Awaitable[RunEvent]]


@dataclass
class Followed:
    """What one run's stream has done, for the curious (tests, logs)."""

    run_id: str
    job_id: str
    handed: int = 0
    last: RunEvent | None = None
    done: bool = False


class RunStreams:
    def __init__(
        self,
        opener: Opener,
        reader: Reader,
        backend: str,
        max_streams: int = MAX_STREAMS,
        previews: PreviewBoard | None = None,
    ) -> None:
        """`backend`: the name of the backend whose runs these are; `previews`: where preview
        images go (none: they are ignored)."""
        self._open = opener
        self._read = reader
        self._backend = backend
        self._max = max_streams
        self._previews = previews
        self._ingress: WebhookIngress | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.followed: dict[str, Followed] = {}
        """By job id; kept after the stream ends."""
        self._changed = asyncio.Condition()

    def attach(self, ingress: WebhookIngress) -> None:
        self._ingress = ingress

    def follow(self, run_id: str, job_id: str) -> bool:
        """Start following a job unless it is already, streams are at their cap, or no engine
        listens. True when a stream was started."""
        if self._ingress is None or job_id in self._tasks or len(self._tasks) >= self._max:
            return False
        self.followed[job_id] = Followed(run_id, job_id)
        task = asyncio.get_running_loop().create_task(self._follow(self.followed[job_id]))
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job_id, None))
        return True

    async def wait(self, job_id: str, until: Callable[[Followed], bool]) -> Followed:
        """Wait until the run followed for `job_id` satisfies `until` (or its stream ended)."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: (
                    job_id in self.followed
                    and (until(self.followed[job_id]) or self.followed[job_id].done)
                )
            )
        return self.followed[job_id]

    async def close(self) -> None:
        """Stop every stream. A cancel that lands in a call which swallows it (a database call
        cut off mid-read) is sent again until the task ends: a task left reading its stream
        would hold the shutdown up for good."""
        pending = set(self._tasks.values())
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=CANCEL_AGAIN_AFTER_S)

    async def _follow(self, run: Followed) -> None:
        try:
            try:
                await self._stream(run)
            except BackendError as error:
                log.info("comfyapi job %s: stream lost (%s)", run.job_id, error)
            # Ended, lost or cut: the job itself says how it is (outputs included).
            await self._hand(run, await self._read(run.job_id))
        except BackendError as error:
            log.info("comfyapi job %s: not read after its stream (%s); polling", run.job_id, error)
        except Exception:
            log.exception("comfyapi job %s: following its stream failed", run.job_id)
        finally:
            if self._previews is not None:
                self._previews.drop(run.run_id)
            run.done = True
            await self._notify()

    async def _stream(self, run: Followed) -> None:
        """Hand on progress until the stream says the job ended, or stops."""
        async with self._open(run.job_id) as response:
            async for frame in read_frames(response):
                if not isinstance(frame.data, dict):
                    continue
                if frame.event == "status":
                    status = frame.data.get("status")
                    if status in TERMINAL:
                        return
                    event = _status_event(run.job_id, status, frame.data.get("queue_position"))
                elif frame.event == "progress":
                    event = _progress_event(run.job_id, frame.data)
                elif frame.event == "preview":
                    self._preview(run, frame.data)
                    continue
                else:  # output, log: the job itself is read at the end
                    continue
                if event is not None:
                    await self._hand(run, event)

    def _preview(self, run: Followed, data: dict[str, object]) -> None:
        """Put a preview (`data_base64`) on the board; one that is not an image is ignored."""
        if self._previews is None:
            return
        encoded = data.get("data_base64")
        if not isinstance(encoded, str) or len(encoded) > self._previews.max_bytes * 4 // 3 + 4:
            return
        try:
            image = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return
        if self._previews.put(run.run_id, image) is None:
            log.debug("comfyapi job %s: a preview that is no image, or too big", run.job_id)

    async def _hand(self, run: Followed, event: RunEvent) -> None:
        """Give the event to the engine. One that comes before the run's submit is recorded
        is adopted there when the API confirms the job is ours (`locate`), else dropped: the
        stream goes on, and the next event (or a poll) says the same."""
        assert self._ingress is not None
        await self._ingress.accept(run.run_id, event, self._backend)
        run.handed += 1
        run.last = event
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


def _status_event(job_id: str, status: object, position: object) -> RunEvent | None:
    mapped = STATUSES.get(status) if isinstance(status, str) else None
    if mapped is None:
        return None
    queue = position - 1 if isinstance(position, int) and position > 0 else None
    return RunEvent(
        backend_run_id=job_id,
        status=mapped,
        source=EventSource.STREAM,
        queue_position=queue if mapped is RunStatus.QUEUED else None,
    )


def _progress_event(job_id: str, data: dict[str, object]) -> RunEvent | None:
    value = progress_of(data)
    if value is None:
        return None
    return RunEvent(
        backend_run_id=job_id, status=RunStatus.RUNNING, source=EventSource.STREAM, progress=value
    )
