"""Tolerant readers of ClickUp's loosely typed JSON: ids, numbers, text for messages.

Pure and never raising on bad input; shared by custom field normalization, task snapshots and webhook
history items. ClickUp sends ids as strings in some places and integers in others, and numbers as JSON
numbers or numeric strings (reference §2, §9 item 5).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

_NUMERIC_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
# Beyond this a number cannot be a float in `value` nor fit PostgreSQL numeric comfortably.
_MAX_DECIMAL_EXPONENT = 300
MAX_ID = 10**30  # ids sent as numbers are user ids (int) or list ids; anything larger is garbage


def clickup_id(value: Any) -> str | None:
    """An id as text: ClickUp sends ids as strings in some places and integers in others (§2)."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int | float) and not isinstance(value, bool) and -MAX_ID < value < MAX_ID:
        return str(int(value)) if value == int(value) else None
    return None


def decimal_from_clickup(value: Any) -> tuple[Decimal | None, str | None]:
    """A number sent as a JSON number or a numeric string ("8", "-28.5" — §9 item 5).

    Returns (number, None), (None, None) for no value (None or ""), or (None, problem).
    """
    if value is None or value == "":
        return None, None
    number: Decimal
    if isinstance(value, bool):
        return None, f"expected a number, got {value!r}"
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None, f"expected a finite number, got {value!r}"
        number = Decimal(repr(value))  # repr keeps the shortest decimal form, not the binary expansion
    elif isinstance(value, str):
        text = value.strip()
        if not _NUMERIC_TEXT.fullmatch(text):
            return None, f"expected a number, got {short_repr(value)}"
        number = Decimal(text)
    elif isinstance(value, Decimal) and value.is_finite():
        number = value
    else:
        return None, f"expected a number, got {short_repr(value)}"
    if number and abs(number.adjusted()) > _MAX_DECIMAL_EXPONENT:
        return None, f"number out of range: {short_repr(value)}"
    return number, None


def json_number(number: Decimal) -> int | float:
    """The JSON form of a number for `value`: an int when integral, else the nearest float."""
    return int(number) if number == number.to_integral_value() else float(number)


def short_repr(value: Any) -> str:
    """A value as it may appear in a problem message: repr, cut to 80 characters, never raising."""
    try:
        shown = repr(value)
    except ValueError:  # an int too long to print (Python refuses over 4300 digits)
        return f"<{type(value).__name__} too large to show>"
    return shown if len(shown) <= 80 else shown[:77] + "..."


def integer_or_none(value: Any) -> int | None:
    """An integer sent as a JSON number or as integer text; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -MAX_ID < value < MAX_ID else None
    if isinstance(value, str) and is_integer_text(value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def is_integer_text(text: str) -> bool:
    stripped = text.strip().removeprefix("-")
    return stripped.isascii() and stripped.isdigit() and len(stripped) <= 18


def text_or_empty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else short_repr(value)
