"""Keep the bot token out of the logs: PTB logs its API URLs (which contain the token) at DEBUG,
httpx logs every request URL at INFO."""

from __future__ import annotations

import logging

LOGGERS = (
    "telegram.Bot",
    "telegram.ext.ExtBot",
    "telegram.ext.Application",
    "telegram.ext.Updater",
    "telegram.ext",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
    "httpx",
    "httpcore",
)
MASK = "<telegram-token>"


class TokenRedactor(logging.Filter):
    """Replaces every registered token in a record's message (after formatting its args)."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(token in message for token in self.tokens):
            for token in self.tokens:
                message = message.replace(token, MASK)
            record.msg, record.args = message, ()
        return True


_redactor = TokenRedactor()


def redact_token(token: str) -> None:
    """Mask `token` in the records of the loggers that may print it; quiet httpx to WARNING."""
    _redactor.tokens.add(token)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _redactor not in logger.filters:
            logger.addFilter(_redactor)
    logging.getLogger("httpx").setLevel(logging.WARNING)
