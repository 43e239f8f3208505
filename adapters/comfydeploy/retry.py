"""The retry policies of the ComfyDeploy client: which failures of a call get another attempt.

How attempts are made and waited for is `core.retrying`.
"""

from __future__ import annotations

from core.retrying import RetryPolicy

SAFE = RetryPolicy(retry_5xx=True, retry_after_send=True)
"""GETs: repeating them changes nothing."""
REPEATABLE = RetryPolicy(retry_5xx=False, retry_after_send=True)
"""Cancel and upload: a repeat is harmless, but a 500 carries a real answer (e.g. not found)."""
NOT_IDEMPOTENT = RetryPolicy(retry_5xx=False, retry_after_send=False)
"""Queueing a run: a repeat after the server may have seen it could start a second, paid run."""
