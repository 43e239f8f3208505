"""The retry policies of the RunComfy client: which failures of a call get another attempt.

How attempts are made and waited for is `core.retrying`. RunComfy asks clients to back off and
retry its 500001 errors (https://docs.runcomfy.com/serverless/error-codes).
"""

from __future__ import annotations

from core.retrying import RetryPolicy

READ = RetryPolicy(retry_5xx=True, retry_after_send=True)
"""GETs: repeating them changes nothing."""
REPEATABLE = RetryPolicy(retry_5xx=False, retry_after_send=True)
"""Cancel: asking twice is asking once."""
SUBMIT = RetryPolicy(retry_5xx=False, retry_after_send=False)
"""Inference: RunComfy takes no idempotency key, so a request that may have arrived is never
sent again (it could start a second, paid run)."""
