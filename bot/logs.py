"""JSON-lines logging on standard error, with the ids that connect a request to its deliveries.

Ids travel in a context variable set by the request handler (`request_id`,
`activity_id`, `tenant_id`) and by the delivery worker (`message_id`,
`delivery`), so every line of one request carries them without threading
them through every call. Never pass secrets, tokens or message bodies here.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

_log_context: ContextVar[dict[str, str]] = ContextVar("send_log_context", default={})  # noqa: B039

# Attributes every LogRecord has; anything else passed through `extra=` is ours.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update(_log_context.get())
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class ContextFilter(logging.Filter):
    """Copies the context ids onto the record, for handlers that read record attributes."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _log_context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class MalformedRequestFilter(logging.Filter):
    """Lowers aiohttp's log of a request it could not parse (a header line beyond 8190
    bytes, a control character) to one INFO line: aiohttp already answered it 400, and at
    ERROR with a traceback any client could fill the log with errors. Other records,
    a handler's own exception among them, pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            record.msg = "malformed request refused: %s"
            record.args = (str(error.message or type(error).__name__)[:200],)
            record.exc_info, record.exc_text = None, None
        return True


def quiet_malformed_requests() -> None:
    """Installs `MalformedRequestFilter` on aiohttp's server logger, once."""
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedRequestFilter) for f in server.filters):
        server.addFilter(MalformedRequestFilter())


def configure_logging(level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log repeats what our request log says, without ids.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("azure").setLevel(logging.WARNING)
    logging.getLogger("msal").setLevel(logging.WARNING)
    quiet_malformed_requests()


@contextmanager
def log_context(**ids: str) -> Iterator[None]:
    """Adds ids to every log line written inside the block (and tasks started in it)."""
    token = _log_context.set({**_log_context.get(), **{k: v for k, v in ids.items() if v}})
    try:
        yield
    finally:
        _log_context.reset(token)
