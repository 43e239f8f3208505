"""The retry policies of the Comfy API v2 client: which failures of a call get another attempt.

How attempts are made and waited for is `core.retrying`. Comfy Cloud answers a full queue with
429 `queue_full` and `Retry-After` (https://docs.comfy.org/development/deploy/cloud-usage).
"""

from __future__ import annotations

from core.retrying import RetryPolicy

NEVER_HANDLED = frozenset({429, 502, 504})
"""Answers from whatever fronts the API: the request was not acted on. Not 503 (see SUBMIT)."""

READ = RetryPolicy(retry_5xx=True, retry_after_send=True, never_handled=NEVER_HANDLED)
"""GETs: repeating them changes nothing."""
REPEATABLE = RetryPolicy(retry_5xx=False, retry_after_send=True, never_handled=NEVER_HANDLED)
"""Cancel (idempotent by contract) and asset uploads (deduplicated by hash)."""
SUBMIT = RetryPolicy(retry_5xx=False, retry_after_send=False, never_handled=NEVER_HANDLED)
"""Creating a job: it carries an Idempotency-Key, so a repeat cannot make a second job (it is
refused with `idempotency_key_reuse`); the client decides itself what an unanswered request
means. A 503 is never repeated: behind comfy-api-proxy it may mean that ComfyUI queued the
job but the answer was lost, and the key stays claimed."""
