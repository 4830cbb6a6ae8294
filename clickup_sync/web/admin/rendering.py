"""Templates of the admin pages: Jinja2 with autoescaping on everywhere (task and field names
carry emoji, CJK and SQL-ish text), undefined names as errors, and times shown in UTC ISO 8601."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import jinja2
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from clickup_sync.web.admin.gate import admin_root
from clickup_sync.web.admin.security import CSRF_FIELD, AdminSecrets

TEMPLATES_DIR: Final = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR: Final = Path(__file__).resolve().parent.parent / "static"


def utc(value: datetime | None) -> str:
    """`2026-11-30T02:10:05Z` (seconds; the exact value is in the database and the CSV)."""
    if value is None:
        return ""
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """A coarse age for the dashboard: `45 s`, `12 min`, `3 h`, `2 d`."""
    if value is None:
        return ""
    seconds = max(0, int(((now or datetime.now(UTC)) - value).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def as_json(value: Any) -> str:
    """A jsonb value as compact JSON text; no value (SQL NULL) as an empty string."""
    return "" if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def cell(value: Any) -> str:
    """Any column value as text: times in UTC, arrays joined, no value as empty."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, list | tuple):
        return ", ".join(cell(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def build_templates(secrets: AdminSecrets) -> Jinja2Templates:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(utc=utc, ago=ago, json=as_json, cell=cell)

    def admin_context(request: Request) -> dict[str, Any]:
        seed = request.scope.get("state", {}).get("csrf_seed") or ""
        return {
            "root": admin_root(request.scope),
            "csrf_field": CSRF_FIELD,
            "csrf_token": secrets.csrf_token(seed),
            "signed_in": bool(request.scope.get("state", {}).get("admin_auth")),
        }

    return Jinja2Templates(env=environment, context_processors=[admin_context])
