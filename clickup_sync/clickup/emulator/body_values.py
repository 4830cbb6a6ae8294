"""Typed readers for request bodies: each returns the value or raises ClickUp's 400 answer.

ClickUp is lenient with numbers sent as strings in bodies (dates, estimates), so these accept
digit strings too; booleans are never accepted as numbers.
"""

from __future__ import annotations

from typing import Any

from clickup_sync.clickup.emulator import api_errors
from clickup_sync.clickup.emulator.api_errors import ApiError


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body[key]
    if value is None:
        return None
    if _is_int(value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise api_errors.bad_request(f"{key} must be an integer")


def optional_number(body: dict[str, Any], key: str) -> float | None:
    value = body[key]
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) if float(value).is_integer() else float(value)
    raise api_errors.bad_request(f"{key} must be a number")


def boolean(body: dict[str, Any], key: str) -> bool:
    value = body[key]
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise api_errors.bad_request(f"{key} must be a boolean")


def text(body: dict[str, Any], key: str, *, allow_empty: bool = True) -> str:
    value = body[key]
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise api_errors.bad_request(
            f"{key} must be a non-empty string" if not allow_empty else f"{key} must be a string"
        )
    return value


def priority(body: dict[str, Any]) -> int | None:
    value = optional_int(body, "priority")
    if value is not None and not 1 <= value <= 4:
        raise ApiError(400, "Priority invalid", "INPUT_002")  # UNCONFIRMED code
    return value


def int_list(value: object, key: str) -> list[int]:
    if not isinstance(value, list) or not all(_is_int(item) for item in value):
        raise api_errors.bad_request(f"{key} must be an array of integers")
    return list(value)


def add_rem_ints(body: dict[str, Any], key: str) -> tuple[list[int], list[int]]:
    value = body[key]
    if not isinstance(value, dict):
        raise api_errors.bad_request(f"{key} must be an object with add and rem arrays")
    return int_list(value.get("add", []), f"{key}.add"), int_list(value.get("rem", []), f"{key}.rem")


def string_list(value: object, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise api_errors.bad_request(f"{key} must be an array of strings")
    return list(value)
