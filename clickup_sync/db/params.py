"""Query parameters PostgreSQL accepts whatever ClickUp sent.

PostgreSQL rejects the NUL character in `text` and `jsonb` ("unsupported Unicode escape sequence"),
while ClickUp stores whatever a user pasted. One stray NUL must not fail a page of 100 tasks, so
NULs are dropped at this boundary; everything else is stored exactly.
"""

from __future__ import annotations

import json
import re
from typing import Any

from psycopg.types.json import Jsonb

# A JSON-escaped NUL (\u0000) preceded by an even number of backslashes is a real NUL escape;
# an odd number means the text contained a literal backslash followed by "u0000".
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _dumps_without_nul(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    return _JSON_NUL.sub(r"\1", text) if "\\u0000" in text else text


def json_param(obj: Any) -> Jsonb:
    """A jsonb parameter, NUL characters removed."""
    return Jsonb(obj, dumps=_dumps_without_nul)


def text_param(value: Any) -> Any:
    """A text (or text[]) parameter, NUL characters removed; other values pass through."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list | tuple):
        return [text_param(item) for item in value]
    return value
