"""Where the bot's REST calls and gateway connection go: Discord, a proxy, or a local fake.

discord.py 2.7 has no setting for either. Every REST request (the bot's and the interaction
webhooks') builds its URL from the class attribute `discord.http.Route.BASE` when the Route is
made, and a non-sharded client opens its first gateway connection at
`DiscordWebSocket.DEFAULT_GATEWAY`. Both are set, only when configured, before login and put
back after close; they are process-wide, so one adapter points them at a time.

Resumes: READY carries `resume_gateway_url`
(https://discord.com/developers/docs/events/gateway-events#ready), which discord.py stores in
`client.ws.gateway` and resumes at. With a configured gateway that URL would bypass the proxy,
so `keep_gateway` puts the configured one back each time a session is READY (`on_connect`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yarl

from adapters.discord.library import DiscordWebSocket, Route, discord

DEFAULT_API_BASE = "https://discord.com/api/v10"


@dataclass
class Endpoints:
    api_base: str = DEFAULT_API_BASE
    """The REST root including the version, e.g. https://discord.com/api/v10."""
    gateway: str | None = None
    """ws(s):// URL of the gateway (or a gateway proxy); None: the one Discord hands out."""
    _saved: tuple[str, yarl.URL] | None = field(default=None, init=False, repr=False)

    def apply(self) -> None:
        """Point discord.py at the configured endpoints (until `restore`)."""
        if self._saved is None:
            self._saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        if self.api_base.rstrip("/") != DEFAULT_API_BASE:
            Route.BASE = self.api_base.rstrip("/")
        if self.gateway is not None:
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway)

    def restore(self) -> None:
        if self._saved is not None:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None

    def keep_gateway(self, client: discord.Client) -> None:
        """After READY: resume through the configured gateway, not READY's resume URL."""
        if self.gateway is not None and client.ws is not None:
            client.ws.gateway = yarl.URL(self.gateway)

    @property
    def api_origin(self) -> tuple[str, str, int | None]:
        """(scheme, host, port) of the REST root: a proxy or a fake may serve files there."""
        url = yarl.URL(self.api_base)
        return url.scheme, url.host or "", url.port
