"""ClickUp timestamps: Unix milliseconds, sent as a string or a number, to aware UTC datetimes and back.

ClickUp documents that dates are "milliseconds since the Unix epoch ... returned as an integer OR in a
string" (reference §2): task dates are strings (`"1567780450202"`), attachment dates are integers, and
request bodies take integers. Every conversion here is exact integer arithmetic, never float seconds,
so a value read from ClickUp converts back to the same millisecond.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
# A plain decimal number, optionally with a fraction or an exponent ("1567780450202", "1.5e12");
# stricter than Decimal(), which would also take "NaN", "Infinity", "1_000" and non-ASCII digits.
_NUMERIC_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
# datetime covers years 1..9999; anything outside is garbage, not a date.
_MIN_MS = (datetime(1, 1, 2, tzinfo=UTC) - _EPOCH) // _ONE_MS
_MAX_MS = (datetime(9999, 12, 30, tzinfo=UTC) - _EPOCH) // _ONE_MS


class ParsedTimestamp(NamedTuple):
    """The result of reading a ClickUp millisecond value.

    `when` is None both for "no value" (`None`, `""`) and for garbage; only garbage sets `problem`.
    """

    when: datetime | None
    problem: str | None


_NO_VALUE = ParsedTimestamp(None, None)


def parse_ms_timestamp(value: Any) -> ParsedTimestamp:
    """Read a ClickUp millisecond timestamp; never raises. Garbage is reported in `problem`."""
    if value is None or value == "":
        return _NO_VALUE
    milliseconds: int | float | Decimal
    if isinstance(value, bool):  # bool is an int subclass; True is not 1 ms after the epoch
        return _garbage(value)
    if isinstance(value, int):
        milliseconds = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            return _garbage(value)
        milliseconds = value
    elif isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 18:  # the common case, kept cheap
            milliseconds = int(text)
        elif _NUMERIC_TEXT.fullmatch(text):
            milliseconds = Decimal(text)
        else:
            return _garbage(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            return _garbage(value)
        milliseconds = value
    else:
        return _garbage(value)
    return _from_milliseconds(milliseconds, value)


def ms_to_datetime(value: Any) -> datetime | None:
    """ClickUp milliseconds (string or number) to an aware UTC datetime; None for no value or garbage.

    Use `parse_ms_timestamp` when garbage must be told apart from "no value".
    """
    return parse_ms_timestamp(value).when


def datetime_to_ms(dt: datetime) -> int:
    """An aware datetime to Unix milliseconds (the integer ClickUp request bodies take).

    Sub-millisecond precision is floored. Naive datetimes are refused: their zone is a guess.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"datetime_to_ms needs an aware datetime, got naive {dt.isoformat()}")
    return (dt - _EPOCH) // _ONE_MS


def _from_milliseconds(milliseconds: int | float | Decimal, original: Any) -> ParsedTimestamp:
    if not _MIN_MS <= milliseconds <= _MAX_MS:
        return ParsedTimestamp(None, f"timestamp {_shown(original)} is outside the years 1-9999")
    if isinstance(milliseconds, int):
        return ParsedTimestamp(_EPOCH + timedelta(milliseconds=milliseconds), None)
    # Fractional or float milliseconds (1.5e12, "1567780450202.5"): keep whole microseconds; going
    # through repr() keeps a float's shortest decimal form instead of its binary expansion.
    exact = Decimal(repr(milliseconds)) if isinstance(milliseconds, float) else milliseconds
    return ParsedTimestamp(_EPOCH + timedelta(microseconds=int(exact * 1000)), None)


def _garbage(value: Any) -> ParsedTimestamp:
    return ParsedTimestamp(None, f"not a millisecond timestamp: {_shown(value)}")


def _shown(value: Any) -> str:
    try:
        shown = repr(value)
    except ValueError:  # an int too long to print (Python refuses over 4300 digits)
        return f"<{type(value).__name__} too large to show>"
    return shown if len(shown) <= 60 else shown[:57] + "..."
