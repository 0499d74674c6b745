"""Log lines as text or JSON (``FUSION_BRIDGE_LOG_FORMAT``), each carrying its request's id.

``configure`` gives the root logger one handler on standard error; ``serve`` configures it
before gunicorn forks, so the workers inherit it, and gunicorn's own lines (``Booting
worker``, ...) go through the same formatter (``GunicornLogger``). The scheduler child is a new
interpreter running the CLI, which configures the same way from the same environment.

The request id is a context variable set by ``ops.wsgi`` for the time of a request; a filter
on the handlers copies it into every record (``request_id``), whichever logger wrote it.

JSON: one object per line, ASCII only (a traceback is one escaped string), with ``time``
(ISO 8601, milliseconds, local offset), ``level``, ``logger``, ``pid``, ``message``,
``request_id`` when there is one, ``exception`` for a traceback, and the fields a line
carries (``extra={"fields": {...}}``: the access log's ``remote``, ``device_id``, ``kind``,
``status``, ``duration_ms``, ``bytes``...).
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import datetime

REQUEST_ID: ContextVar[str | None] = ContextVar("fusion_bridge_request_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (None outside a request) to every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class TextFormatter(logging.Formatter):
    """The CLI's usual line, with ``[request id]`` after the logger name during a request."""

    def __init__(self):
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request_tag = f" [{request_id}]" if request_id else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=True, default=str)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def handler(log_format: str, stream=None) -> logging.Handler:
    made = logging.StreamHandler(stream or sys.stderr)
    made.setFormatter(formatter(log_format))
    made.addFilter(RequestIdFilter())
    return made


def level_named(name: str | None, default: int = logging.INFO) -> int:
    level = logging.getLevelName((name or "").strip().upper())
    return level if isinstance(level, int) else default


def configure(log_format: str = "text", level: int = logging.INFO) -> None:
    """The root logger: one handler on standard error in ``log_format``, at ``level``.

    Like ``logging.basicConfig``, it leaves alone a root logger someone else gave handlers (a
    test runner, a program embedding the CLI); called again, it replaces its own handler."""
    root = logging.getLogger()
    _current["format"] = log_format
    if any(not getattr(existing, "fusion_bridge", False) for existing in root.handlers):
        return
    for ours in list(root.handlers):
        root.removeHandler(ours)
    made = handler(log_format)
    made.fusion_bridge = True
    root.addHandler(made)
    root.setLevel(level)


_current = {"format": "text"}


def current_format() -> str:
    return _current["format"]


def gunicorn_logger_class():
    """gunicorn's logger, writing its lines in the configured format (imported lazily: the CLI
    has no use for gunicorn)."""
    from gunicorn import glogging

    class GunicornLogger(glogging.Logger):
        def setup(self, cfg) -> None:
            super().setup(cfg)
            for logger in (self.error_log, self.access_log):
                for made in logger.handlers:
                    made.setFormatter(formatter(current_format()))
                    made.addFilter(RequestIdFilter())

    return GunicornLogger


def configure_from_env(environ=None) -> None:
    """``configure`` with ``FUSION_BRIDGE_LOG_FORMAT`` and ``FUSION_BRIDGE_LOG_LEVEL``;
    ValueError for a format that is neither text nor json."""
    import os

    environ = os.environ if environ is None else environ
    log_format = environ.get("FUSION_BRIDGE_LOG_FORMAT", "").strip().lower() or "text"
    if log_format not in ("text", "json"):
        raise ValueError(f"FUSION_BRIDGE_LOG_FORMAT must be text or json, got {log_format!r}")
    configure(log_format, level_named(environ.get("FUSION_BRIDGE_LOG_LEVEL")))
