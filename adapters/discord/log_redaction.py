"""Keep secrets out of the logs: the bot token, and the interaction tokens discord.py writes at
DEBUG level (webhook URLs `/webhooks/{application id}/{token}/…`, callback URLs
`/interactions/{id}/{token}/callback`, and raw gateway events carrying `"token": "…"`)."""

from __future__ import annotations

import logging
import re

LOGGERS = (
    "discord",
    "discord.client",
    "discord.gateway",
    "discord.http",
    "discord.state",
    "discord.shard",
    "discord.webhook.async_",
    "discord.interactions",
    "discord.ui.view",
    "discord.ui.dynamic",
)
MASK = "<discord-token>"
_URL_TOKEN = re.compile(r"(/(?:webhooks|interactions)/\d+/)[A-Za-z0-9_.\-]{20,}")
_JSON_TOKEN = re.compile(r"""(['"]token['"]\s*:\s*['"])[^'"]+""")


def mask(text: str, tokens: set[str]) -> str:
    for token in tokens:
        text = text.replace(token, MASK)
    text = _URL_TOKEN.sub(rf"\g<1>{MASK}", text)
    return _JSON_TOKEN.sub(rf"\g<1>{MASK}", text)


class TokenRedactor(logging.Filter):
    """Rewrites a record's message (after formatting its arguments) with every token masked."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message, self.tokens)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


_redactor = TokenRedactor()


def redact_token(token: str) -> None:
    """Mask `token` and interaction tokens in the records of discord.py's loggers."""
    _redactor.tokens.add(token)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _redactor not in logger.filters:
            logger.addFilter(_redactor)
