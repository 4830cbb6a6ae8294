"""ClickUp millisecond timestamps ↔ aware UTC datetimes (clickup-api.md §2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from clickup_sync.clickup.timestamps import datetime_to_ms, ms_to_datetime, parse_ms_timestamp


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # task dates are ms strings (§3.1 date_created / due_date)
        ("1567780450202", datetime(2019, 9, 6, 14, 34, 10, 202000, tzinfo=UTC)),
        ("1508369194377", datetime(2017, 10, 18, 23, 26, 34, 377000, tzinfo=UTC)),
        # attachment `date` is an integer (§3.1), request bodies take integers (§5.4)
        (1711570108374, datetime(2024, 3, 27, 20, 8, 28, 374000, tzinfo=UTC)),
        (1565993299379, datetime(2019, 8, 16, 22, 8, 19, 379000, tzinfo=UTC)),
        (1.5e12, datetime(2017, 7, 14, 2, 40, tzinfo=UTC)),
        ("1.5e12", datetime(2017, 7, 14, 2, 40, tzinfo=UTC)),
        (Decimal("1700006400000"), datetime(2023, 11, 15, tzinfo=UTC)),
        (" 1700006400000 ", datetime(2023, 11, 15, tzinfo=UTC)),
        ("1567780450202.5", datetime(2019, 9, 6, 14, 34, 10, 202500, tzinfo=UTC)),
        (-86400000, datetime(1969, 12, 31, tzinfo=UTC)),
        ("0", datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_milliseconds_become_aware_utc_datetimes(value: Any, expected: datetime) -> None:
    parsed = parse_ms_timestamp(value)

    assert parsed.when == expected
    assert parsed.when is not None and parsed.when.tzinfo == UTC
    assert parsed.problem is None
    assert ms_to_datetime(value) == expected


@pytest.mark.parametrize("value", [None, ""])
def test_no_value_is_none_without_a_problem(value: Any) -> None:
    assert parse_ms_timestamp(value) == (None, None)
    assert ms_to_datetime(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2019-09-06T14:34:10Z",
        "12:00",
        "1_000",
        "NaN",
        "Infinity",
        "١٥٦٧٧٨٠٤٥٠٢٠٢",  # Arabic-Indic digits: int() would take them, ClickUp never sends them
        True,
        float("nan"),
        float("inf"),
        Decimal("NaN"),
        "1e400",
        10**20,
        -(10**20),
        [1567780450202],
        {"ms": 1567780450202},
        b"1567780450202",
    ],
)
def test_garbage_is_none_and_reported_without_raising(value: Any) -> None:
    parsed = parse_ms_timestamp(value)

    assert parsed.when is None
    assert parsed.problem
    assert ms_to_datetime(value) is None


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2019, 9, 6, 14, 34, 10, 202000, tzinfo=UTC), 1567780450202),
        # the same instant written in another zone is the same millisecond
        (datetime(2019, 9, 6, 16, 34, 10, 202000, tzinfo=timezone(timedelta(hours=2))), 1567780450202),
        # sub-millisecond precision is floored, also before the epoch
        (datetime(2019, 9, 6, 14, 34, 10, 202999, tzinfo=UTC), 1567780450202),
        (datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=UTC), -1),
    ],
)
def test_datetimes_become_integer_milliseconds(moment: datetime, expected: int) -> None:
    assert datetime_to_ms(moment) == expected


@pytest.mark.parametrize("value", ["1567780450202", 1711570108374, "-86400000", "1"])
def test_a_clickup_value_round_trips_to_the_same_millisecond(value: Any) -> None:
    moment = ms_to_datetime(value)

    assert moment is not None
    assert datetime_to_ms(moment) == int(value)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        datetime_to_ms(datetime(2019, 9, 6, 14, 34, 10))  # noqa: DTZ001 - the point of the test
