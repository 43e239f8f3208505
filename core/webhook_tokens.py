"""Per-run webhook URLs. Backends such as ComfyDeploy and RunComfy do not sign their webhooks,
so the URL carries our run id and an HMAC of it; each backend has its own path."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode


class WebhookSigner:
    def __init__(self, secret: str, public_base_url: str | None) -> None:
        self._key = secret.encode()
        self._base = public_base_url.rstrip("/") if public_base_url else None

    @property
    def enabled(self) -> bool:
        """False when no public URL is set: no backend can reach us, so we poll everything."""
        return self._base is not None

    def token(self, run_id: str) -> str:
        return hmac.new(self._key, run_id.encode(), hashlib.sha256).hexdigest()[:32]

    def url_for(self, path: str | None, run_id: str) -> str | None:
        """The webhook URL of one run at `path`; None without a public URL or a path."""
        if self._base is None or path is None:
            return None
        query = urlencode({"run": run_id, "token": self.token(run_id)})
        return f"{self._base}{path}?{query}"

    def verify(self, run_id: str, token: str) -> bool:
        return hmac.compare_digest(self.token(run_id).encode(), token.encode())
