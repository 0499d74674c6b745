"""The inventory relay's decisions, as pure code: what an upstream answer means, how long to
wait before the next try, and the pace of sends.

An answer is one of four verdicts:

- ``delivered``: a 2xx whose body decodes (zlib, gzip or plain, as agents decode replies) to a
  ``REPLY`` without ``ERROR`` — the FusionInventory plugin answers an empty ``<REPLY>``, GLPI
  10/11 ``<REPLY><RESPONSE>SEND</RESPONSE></REPLY>`` (docs/relay-upstream.md §1), or to GLPI's
  JSON ``{"status":"ok"}`` for a GLPI Agent's JSON inventory (``status`` ``error`` is an ERROR).
- ``unavailable``: the upstream cannot take documents now — no connection, a connect time-out,
  429, 502, 503, 504, 408, or a 2xx that is not a ``REPLY`` (a login page, a wrong URL, or the
  plugin's empty body when another import of the same computer held its lock). The
  document keeps its place; the forwarder pauses (``Retry-After`` honoured).
- ``failed``: the upstream failed on this document — a 5xx without an ``ERROR`` reply, no
  answer within the read time-out, the connection dropped after the document was sent. The
  document is retried later (exponential back-off) while the next ones go on; never dead.
- ``rejected``: the upstream refused the document — another 4xx (or 3xx), or a ``REPLY`` with
  ``ERROR`` at any status (GLPI 10/11 answers 500 with ``ERROR`` when its import fails; the plugin
  answers 200 with ``ERROR``). After ``relay_max_attempts`` refusals the document goes to the
  dead-letter state with the upstream's reason.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Callable, Mapping

import protocol
from protocol.xmltree import parse_document

DELIVERED = "delivered"
UNAVAILABLE = "unavailable"
FAILED = "failed"
REJECTED = "rejected"

# Stages of an HTTP exchange at which a transport error happened.
CONNECTING = "connect"  # nothing reached the upstream
SENT = "sent"  # the document may have reached it

MAX_REASON = 500
# A Retry-After beyond this is taken as this (a typo must not stop the relay for days).
MAX_RETRY_AFTER = 3600.0
# An upstream reply is small; more than this is not a REPLY worth decoding.
MAX_REPLY_BYTES = 1024 * 1024
_UNAVAILABLE_STATUSES = {408, 429, 502, 503, 504}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Answer:
    """What one POST to the upstream gave: an HTTP answer, or a transport ``error`` at ``stage``."""

    status: int | None = None
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    stage: str = CONNECTING
    latency: float = 0.0  # seconds


@dataclass(frozen=True)
class Verdict:
    kind: str
    status: int | None = None
    reason: str = ""
    retry_after: float | None = None  # seconds the upstream asked us to wait

    @property
    def upstream_unwell(self) -> bool:
        """The forwarder pauses as a whole (not only this document)."""
        return self.kind in (UNAVAILABLE, FAILED)


def classify(answer: Answer, now: float | None = None) -> Verdict:
    """The verdict on ``answer``; ``now`` (epoch seconds) dates an HTTP-date ``Retry-After``."""
    if answer.status is None:
        kind = FAILED if answer.stage == SENT else UNAVAILABLE
        return Verdict(kind, None, clean(answer.error or "no answer"))
    status = answer.status
    reply_error, is_reply = reply_of(answer.body, _header(answer.headers, "content-type"))
    if is_reply and reply_error is not None:
        return Verdict(REJECTED, status, clean(f"{status} {_phrase(status)}: {reply_error or 'ERROR'}"))
    if 200 <= status < 300:
        if is_reply:
            return Verdict(DELIVERED, status)
        return Verdict(UNAVAILABLE, status, clean(
            f"{status} {_phrase(status)} without a REPLY (is the URL GLPI's inventory endpoint?): "
            f"{excerpt(answer.body)}"))
    reason = clean(f"{status} {_phrase(status)}" + (f": {excerpt(answer.body)}" if answer.body else ""))
    if status in _UNAVAILABLE_STATUSES:
        wait = retry_after(_header(answer.headers, "retry-after"), time.time() if now is None else now)
        return Verdict(UNAVAILABLE, status, reason, wait)
    if status >= 500:
        return Verdict(FAILED, status, reason)
    if 300 <= status < 400:
        location = _header(answer.headers, "location")
        return Verdict(REJECTED, status, clean(f"{status} {_phrase(status)} to {location or '?'}: "
                                               "point the upstream URL at the final address"))
    return Verdict(REJECTED, status, reason)


def reply_of(body: bytes, content_type: str | None = None) -> tuple[str | None, bool]:
    """(text of the ERROR element or None, whether ``body`` is a ``REPLY`` document at all).

    A JSON inventory is answered in JSON (docs/glpi10-protocol.md §4.6): ``{"status":"ok",…}``
    counts as a REPLY, ``{"status":"error","message":…}`` as a REPLY with that ERROR."""
    if not body or len(body) > MAX_REPLY_BYTES:
        return None, False
    try:
        encoding = protocol.sniff_encoding(body, content_type)
        xml = protocol.decompress(body, encoding, MAX_REPLY_BYTES)
        if xml.lstrip()[:1] == b"{":
            return _json_status(xml)
        root = parse_document(xml)
    except protocol.ProtocolError:
        return None, False
    if root is None or root.tag != "REPLY":
        return None, False
    error = root.find("ERROR")
    if error is None:
        return None, True
    return " ".join("".join(error.itertext()).split()), True


def _json_status(text: bytes) -> tuple[str | None, bool]:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None, False
    status = document.get("status") if isinstance(document, dict) else None
    if status == "ok":
        return None, True
    if status == "error":
        message = document.get("message")
        return (" ".join(message.split()) if isinstance(message, str) else ""), True
    return None, False


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP-date), capped."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff(failures: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds before the next try after ``failures`` failures in a row (1 = the first):
    ``base * 2**(failures-1)`` capped at ``cap``, with jitter (between half and all of it) so
    that instances and documents do not all come back at once."""
    if failures < 1:
        return 0.0
    ceiling = min(cap, base * 2.0 ** min(failures - 1, 60))
    return ceiling * (0.5 + 0.5 * rand())


def clean(text: str, limit: int = MAX_REASON) -> str:
    """One line of printable text, at most ``limit`` characters."""
    text = _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()
    return text if len(text) <= limit else text[:limit - 3] + "..."


def excerpt(body: bytes, limit: int = 200) -> str:
    return clean(body[:limit * 4].decode("utf-8", "replace"), limit) or "(empty body)"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "HTTP status"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


class TokenBucket:
    """At most ``per_minute`` sends a minute, in bursts of at most ``burst``; 0 = no limit.

    ``reserve()`` books the next send and says how long to wait before it; a send booked but not
    made (nothing to send) is handed back with ``cancel()``. Thread-safe."""

    def __init__(self, per_minute: float, burst: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = max(1.0, burst)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def cancel(self) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            self._tokens = min(self.burst, self._tokens + 1.0)
