"""Run <-> MongoDB document.

Besides the Run fields, a document carries `status_rank` and `stage` (for monotonic
conditional updates),
`output_count` (so outputs are only replaced by a longer list) and `delivery_lease_until`.
BSON dates keep milliseconds: sub-millisecond parts of datetimes are lost on the way in.
"""

from __future__ import annotations

from typing import Any

from adapters.mongo.database import Document
from core.models import Output, Run, run_stage

_RUN_FIELDS = frozenset(Run.model_fields)


def outputs_to_documents(outputs: tuple[Output, ...]) -> list[dict[str, Any]]:
    return [o.model_dump(mode="json", exclude_none=True) for o in outputs]


def run_to_document(run: Run) -> Document:
    doc: Document = run.model_dump(mode="python", exclude={"id", "outputs", "chat"})
    doc["_id"] = run.id
    doc["status"] = run.status.value
    doc["status_rank"] = run.status.rank
    doc["stage"] = run_stage(run.status, run.progress, run.queue_position)
    doc["delivery"] = run.delivery.value
    doc["chat"] = run.chat.model_dump(mode="json")
    doc["outputs"] = outputs_to_documents(run.outputs)
    doc["output_count"] = len(run.outputs)
    for unique in ("backend_run_id", "origin"):
        if doc[unique] is None:
            del doc[unique]  # absent, not null: the unique indexes cover strings only
    return doc


def document_to_run(doc: Document) -> Run:
    fields = {k: v for k, v in doc.items() if k in _RUN_FIELDS}
    fields["id"] = doc["_id"]
    return Run.model_validate(fields)
