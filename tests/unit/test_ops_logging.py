"""Log lines as text or JSON, with the request id of the request they belong to."""

from __future__ import annotations

import io
import json
import logging

import pytest

from fusion_bridge.ops import logging_setup
from fusion_bridge.ops.logging_setup import REQUEST_ID, configure_from_env, handler


def lines_of(log_format: str, emit) -> list[str]:
    stream = io.StringIO()
    logger = logging.getLogger("fusion_bridge.test_ops_logging")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    made = handler(log_format, stream)
    logger.addHandler(made)
    try:
        emit(logger)
    finally:
        logger.removeHandler(made)
    return stream.getvalue().splitlines()


def emit_a_request(logger) -> None:
    logger.info("before any request")
    token = REQUEST_ID.set("req-42")
    try:
        logger.warning("POST %s refused (%d): %s", "/plugins/fusioninventory/", 400, 'bad "XML"\nsecond line')
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("unexpected error")
        logger.info("access", extra={"fields": {"remote": "192.0.2.7", "device_id": "pc-1", "kind": "PROLOG",
                                                "status": 200, "duration_ms": 1.25, "bytes": 94}})
    finally:
        REQUEST_ID.reset(token)
    logger.info("after it: é")


def test_json_lines_are_one_object_each_with_the_request_id():
    lines = lines_of("json", emit_a_request)
    assert len(lines) == 5  # the traceback and the newline stay inside their line
    parsed = [json.loads(line) for line in lines]
    assert all(line.isascii() for line in lines)
    assert [p.get("request_id") for p in parsed] == [None, "req-42", "req-42", "req-42", None]
    assert {"time", "level", "logger", "pid", "message"} <= set(parsed[0])
    assert parsed[1]["message"].endswith('bad "XML"\nsecond line') and parsed[1]["level"] == "WARNING"
    assert "ValueError: boom" in parsed[2]["exception"]
    assert parsed[3] | {"kind": "PROLOG", "status": 200, "device_id": "pc-1", "bytes": 94} == parsed[3]
    assert parsed[4]["message"] == "after it: é"


def test_text_lines_carry_the_request_id_in_brackets():
    lines = lines_of("text", emit_a_request)
    assert "[req-42]" not in lines[0] and lines[0].endswith("fusion_bridge.test_ops_logging: before any request")
    assert "fusion_bridge.test_ops_logging [req-42]: POST /plugins/fusioninventory/ refused" in lines[1]


def test_format_from_the_environment(monkeypatch):
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    root.handlers[:] = []  # as in a fresh process (pytest's own handlers would be left alone)
    try:
        configure_from_env({"FUSION_BRIDGE_LOG_FORMAT": "JSON", "FUSION_BRIDGE_LOG_LEVEL": "warning"})
        assert logging_setup.current_format() == "json" and root.level == logging.WARNING
        assert isinstance(root.handlers[0].formatter, logging_setup.JsonFormatter)
        configure_from_env({})  # again: its own handler replaced, not added to
        assert len(root.handlers) == 1 and isinstance(root.handlers[0].formatter, logging_setup.TextFormatter)
        with pytest.raises(ValueError, match="FUSION_BRIDGE_LOG_FORMAT must be text or json"):
            configure_from_env({"FUSION_BRIDGE_LOG_FORMAT": "xml"})
        foreign = logging.NullHandler()
        root.handlers[:] = [foreign]
        configure_from_env({"FUSION_BRIDGE_LOG_FORMAT": "json"})
        assert root.handlers == [foreign]  # someone else's logging is left as it is
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging_setup._current["format"] = "text"
