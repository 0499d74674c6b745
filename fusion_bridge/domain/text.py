"""Values written the way GLPI 9.5 and the plugin write them."""

import json
import re
from datetime import datetime
from typing import Any

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def fit_utf8mb3(value: str | None, max_chars: int | None = None) -> str | None:
    """Replace characters GLPI's 3-byte ``utf8`` columns cannot hold; cut to ``max_chars``.

    MariaDB in strict mode refuses 4-byte UTF-8 (emoji, rare CJK) in such columns, which
    would fail the whole write; U+FFFD keeps the rest of the value.
    """
    if value is None:
        return None
    value = _ASTRAL.sub("\ufffd", value)
    if max_chars is not None and len(value) > max_chars:
        value = value[:max_chars]
    return value


def php_json(value: Any, escape_slashes: bool = True) -> str:
    """PHP ``json_encode``: compact, non-ASCII as ``\\u`` escapes, ``/`` as ``\\/`` unless
    ``escape_slashes`` is False (PHP's ``JSON_UNESCAPED_SLASHES``).

    A ``/`` only ever appears inside JSON strings, so escaping it in the text is exact.
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
    return text.replace("/", "\\/") if escape_slashes else text


def local_now() -> datetime:
    """GLPI stores its own local time, to the second, in timestamp columns; so does the plugin."""
    return datetime.now().replace(microsecond=0)


def to_second(when: datetime) -> datetime:
    """Dates are written to the second, like GLPI (MySQL would round fractions)."""
    return when.replace(microsecond=0)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 minute``, ``2 minutes``, ``0 minutes``: the count with the word English gives it."""
    return f"{count} {singular if count == 1 else plural_form or singular + 's'}"
