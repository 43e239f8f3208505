"""The fake ComfyUI's queue and history, and their JSON: `/queue`, `/history`, `/api/jobs`.

Mirrors `execution.PromptQueue` and `comfy_execution/jobs.py`
(https://github.com/comfyanonymous/ComfyUI/blob/master/comfy_execution/jobs.py): pending items
sit in a heap ordered by `number` (negative for `front`), a queue item is `[number, prompt_id,
prompt, extra_data, outputs_to_execute]` once its sensitive extra data is set apart, and a
history entry is `{prompt, outputs, status: {status_str, completed, messages}, meta}`. The job
view maps history to `completed | failed | cancelled` and the queue to `pending | in_progress`.
"""

from __future__ import annotations

import copy
import heapq
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.comfyui_nodes import JsonDict

SENSITIVE_EXTRA_DATA_KEYS = ("auth_token_comfy_org", "api_key_comfy_org")
JOB_STATUSES = ("pending", "in_progress", "completed", "failed", "cancelled")


@dataclass(order=True)
class QueueItem:
    number: float
    prompt_id: str
    prompt: JsonDict = field(compare=False)
    extra_data: JsonDict = field(compare=False)
    outputs: list[str] = field(compare=False)
    sensitive: JsonDict = field(compare=False, default_factory=dict)

    def as_json(self) -> list[Any]:
        return [self.number, self.prompt_id, self.prompt, self.extra_data, self.outputs]


def _prune(d: JsonDict) -> JsonDict:
    return {k: v for k, v in d.items() if v is not None}


class PromptQueue:
    def __init__(self) -> None:
        self.pending: list[QueueItem] = []
        self.running: dict[str, QueueItem] = {}
        self.history: dict[str, JsonDict] = {}

    # -- queue -----------------------------------------------------------------------------

    def put(self, item: QueueItem) -> None:
        heapq.heappush(self.pending, item)

    def pop_next(self, prompt_id: str | None = None) -> QueueItem | None:
        """The next item to run (or a given pending one), moved to running."""
        if not self.pending:
            return None
        if prompt_id is None:
            item = heapq.heappop(self.pending)
        else:
            item = next((i for i in self.pending if i.prompt_id == prompt_id), None)
            if item is None:
                return None
            self.pending.remove(item)
            heapq.heapify(self.pending)
        self.running[item.prompt_id] = item
        return item

    def delete_pending(self, prompt_id: str) -> bool:
        for item in self.pending:
            if item.prompt_id == prompt_id:
                self.pending.remove(item)
                heapq.heapify(self.pending)
                return True
        return False

    def remaining(self) -> int:
        return len(self.pending) + len(self.running)

    def queue_json(self) -> JsonDict:
        return {
            "queue_running": [i.as_json() for i in self.running.values()],
            "queue_pending": [i.as_json() for i in self.pending],
        }

    # -- history ---------------------------------------------------------------------------

    def done(
        self,
        item: QueueItem,
        outputs: JsonDict,
        meta: JsonDict,
        success: bool,
        messages: list[list[Any]],
    ) -> None:
        self.running.pop(item.prompt_id, None)
        self.history[item.prompt_id] = {
            "prompt": copy.deepcopy(item.as_json()),
            "outputs": outputs,
            "status": {
                "status_str": "success" if success else "error",
                "completed": success,
                "messages": messages,
            },
            "meta": meta,
        }

    def history_json(self, max_items: int | None = None, offset: int = -1) -> JsonDict:
        keys = list(self.history)
        if offset < 0 and max_items is not None:
            offset = len(keys) - max_items
        keys = keys[max(offset, 0) :]
        if max_items is not None:
            keys = keys[:max_items]
        return {k: copy.deepcopy(self.history[k]) for k in keys}

    # -- /api/jobs ---------------------------------------------------------------------------

    def _queue_job(self, item: QueueItem, status: str, detail: bool) -> JsonDict:
        job = _prune(
            {
                "id": item.prompt_id,
                "status": status,
                "priority": item.number,
                "create_time": item.extra_data.get("create_time"),
                "outputs_count": 0,
                "previewable_outputs_count": 0,
                "workflow_id": _workflow_id(item.extra_data),
            }
        )
        if detail:
            job["workflow"] = {"prompt": item.prompt, "extra_data": item.extra_data}
        return job

    def _history_job(self, prompt_id: str, entry: JsonDict, detail: bool) -> JsonDict:
        number, _, prompt, extra_data, _ = entry["prompt"]
        status_info = entry.get("status") or {}
        start = end = error = None
        interrupted = False
        for event, data in status_info.get("messages", []):
            if event == "execution_start":
                start = data.get("timestamp")
            elif event in ("execution_success", "execution_error", "execution_interrupted"):
                end = data.get("timestamp")
                error = data if event == "execution_error" else error
                interrupted = interrupted or event == "execution_interrupted"
        if status_info.get("status_str") == "error":
            status = "cancelled" if interrupted else "failed"
        else:
            status = "completed"
        files = [
            {**item, "nodeId": node_id, "mediaType": media}
            for node_id, node_out in entry["outputs"].items()
            for media, items in node_out.items()
            if media != "animated" and isinstance(items, list)
            for item in items
            if isinstance(item, dict)
        ]
        preview = next(
            (f for f in files if f.get("type") == "output"), files[0] if files else None
        )
        job = _prune(
            {
                "id": prompt_id,
                "status": status,
                "priority": number,
                "create_time": extra_data.get("create_time"),
                "execution_start_time": start,
                "execution_end_time": end,
                "execution_error": error,
                "outputs_count": len(files),
                "previewable_outputs_count": len(files),
                "preview_output": preview,
                "workflow_id": _workflow_id(extra_data),
            }
        )
        if detail:
            job["outputs"] = copy.deepcopy(entry["outputs"])
            job["execution_status"] = copy.deepcopy(status_info)
            job["workflow"] = {"prompt": prompt, "extra_data": extra_data}
        return job

    def job(self, prompt_id: str) -> JsonDict | None:
        if prompt_id in self.history:
            return self._history_job(prompt_id, self.history[prompt_id], detail=True)
        if prompt_id in self.running:
            return self._queue_job(self.running[prompt_id], "in_progress", detail=True)
        for item in self.pending:
            if item.prompt_id == prompt_id:
                return self._queue_job(item, "pending", detail=True)
        return None

    def jobs(self, statuses: list[str] | None, sort_by: str, descending: bool) -> list[JsonDict]:
        wanted = set(statuses or JOB_STATUSES)
        jobs: list[JsonDict] = []
        if "in_progress" in wanted:
            jobs += [self._queue_job(i, "in_progress", False) for i in self.running.values()]
        if "pending" in wanted:
            jobs += [self._queue_job(i, "pending", False) for i in self.pending]
        for prompt_id, entry in self.history.items():
            job = self._history_job(prompt_id, entry, detail=False)
            if job["status"] in wanted:
                jobs.append(job)

        def key(job: JsonDict) -> float:
            if sort_by == "execution_duration":
                start, end = job.get("execution_start_time"), job.get("execution_end_time")
                return end - start if start and end else 0
            return float(job.get("create_time", 0))

        return sorted(jobs, key=key, reverse=descending)


def _workflow_id(extra_data: JsonDict) -> Any:
    return ((extra_data.get("extra_pnginfo") or {}).get("workflow") or {}).get("id")
