"""Query parameters PostgreSQL accepts whatever ClickUp sent.

PostgreSQL rejects the NUL character in `text` and `jsonb` ("unsupported Unicode escape sequence"),
while ClickUp stores whatever a user pasted. One stray NUL must not fail a page of 100 tasks, so
NULs are dropped at this boundary; everything else is stored exactly.

JSON is serialized with orjson (the backfill writes ~40 JSON documents per task; the standard
library's encoder was a fifth of the write time), falling back to `json` for what orjson refuses
(integers beyond 64 bits).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from psycopg.types.json import Jsonb

# A JSON-escaped NUL (\u0000) preceded by an even number of backslashes is a real NUL escape;
# an odd number means the text contained a literal backslash followed by "u0000".
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def json_text(obj: Any) -> str:
    """Compact JSON text for a jsonb column, NUL characters removed."""
    try:
        text = orjson.dumps(obj).decode()
    except TypeError:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return _JSON_NUL.sub(r"\1", text) if "\\u0000" in text else text


def json_param(obj: Any) -> Jsonb:
    """A jsonb query parameter, NUL characters removed."""
    return Jsonb(obj, dumps=json_text)


def text_param(value: Any) -> Any:
    """A text (or text[]) parameter, NUL characters removed; other values pass through."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list | tuple):
        return [text_param(item) for item in value]
    return value
