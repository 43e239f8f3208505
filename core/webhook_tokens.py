"""Per-run webhook URLs. ComfyDeploy does not sign webhooks, so the URL carries our own HMAC."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

WEBHOOK_PATH = "/webhooks/comfydeploy"


class WebhookSigner:
    def __init__(self, secret: str, public_base_url: str | None) -> None:
        self._key = secret.encode()
        self._base = public_base_url.rstrip("/") if public_base_url else None

    @property
    def enabled(self) -> bool:
        """False when no public URL is set: the backend cannot reach us, so we poll everything."""
        return self._base is not None

    def token(self, run_id: str) -> str:
        return hmac.new(self._key, run_id.encode(), hashlib.sha256).hexdigest()[:32]

    def url_for(self, run_id: str) -> str | None:
        if self._base is None:
            return None
        query = urlencode({"run": run_id, "token": self.token(run_id)})
        return f"{self._base}{WEBHOOK_PATH}?{query}"

    def verify(self, run_id: str, token: str) -> bool:
        return hmac.compare_digest(self.token(run_id).encode(), token.encode())
