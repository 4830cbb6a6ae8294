"""The admin pages (GET): dashboard, dead letters and stored payloads, task search and timeline,
the change log with its CSV export, and Airbyte coverage. Reads go through `clickup_sync.ops`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from clickup_sync.airbyte.coverage import coverage_report
from clickup_sync.airbyte.guarded_reads import AirbyteTableUnavailable, ReadPolicy
from clickup_sync.ops.changes import SOURCES, ChangeFilter, changes_csv, list_changes
from clickup_sync.ops.dead_letters import list_dead_letters, read_stored_delivery
from clickup_sync.ops.status import read_status
from clickup_sync.ops.task_view import read_task, search_tasks
from clickup_sync.runtime import ServiceRuntime
from clickup_sync.web.admin.gate import admin_root

# A page must answer quickly: one retry when Airbyte is swapping its table, then say so.
COVERAGE_READ_POLICY: Final = ReadPolicy(lock_timeout_seconds=1.0, statement_timeout_seconds=30.0, attempts=2)
COVERAGE_SAMPLE: Final = 25
# Counters the dead-letters page reports after an action (numbers only: nothing echoed as text).
ACTION_RESULTS: Final = ("processed", "parked", "malformed", "failed", "remaining", "requeued", "waiting")


def runtime_of(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    templates = request.app.state.templates
    response: Response = templates.TemplateResponse(request, template, context, status_code=status_code)
    return response


async def dashboard(request: Request) -> Response:
    runtime = runtime_of(request)
    status = await read_status(runtime.pool, runtime.schema)
    return render(request, "dashboard.html", status=status, now=status.read_at, page="dashboard")


async def dead_letters(request: Request) -> Response:
    runtime = runtime_of(request)
    letters = await list_dead_letters(runtime.pool, runtime.schema)
    results = {
        name: int(value) for name in ACTION_RESULTS if (value := request.query_params.get(name, "")).isdigit()
    }
    return render(request, "dead_letters.html", letters=letters, results=results, page="dead")


async def delivery(request: Request) -> Response:
    runtime = runtime_of(request)
    stored = await read_stored_delivery(runtime.pool, runtime.schema, request.path_params["delivery_id"])
    if stored is None:
        return render(request, "not_found.html", 404, what="delivery", page="dead")
    return render(request, "delivery.html", delivery=stored, page="dead")


async def task_search(request: Request) -> Response:
    runtime = runtime_of(request)
    text = request.query_params.get("q", "").strip()
    matches = await search_tasks(runtime.pool, runtime.schema, text) if text else []
    exact = [m for m in matches if text in (m.task_id, m.custom_id) or text.upper() == m.custom_id]
    if len(exact) == 1:
        return RedirectResponse(f"{admin_root(request.scope)}/tasks/{quote(exact[0].task_id)}", 303)
    return render(request, "task_search.html", text=text, matches=matches, page="tasks")


async def task_page(request: Request) -> Response:
    runtime = runtime_of(request)
    detail = await read_task(runtime.pool, runtime.schema, request.path_params["task_id"])
    if detail is None:
        return render(request, "not_found.html", 404, what="task", page="tasks")
    return render(request, "task.html", task=detail, page="tasks")


def change_filter_from(request: Request) -> ChangeFilter:
    """The Changes form's fields; ValueError with a message for a bad date or source."""
    query = request.query_params
    source = query.get("source", "").strip()
    if source and source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")
    return ChangeFilter(
        field=query.get("field", "").strip(),
        user=query.get("user", "").strip(),
        source=source,
        task_id=query.get("task", "").strip(),
        since=parse_time(query.get("since", ""), "since"),
        until=parse_time(query.get("until", ""), "until"),
    )


def parse_time(text: str, name: str) -> datetime | None:
    """ISO 8601 date or date-time; without a zone it is UTC (what every page shows)."""
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{name}: not a date or time in ISO 8601 form (2026-11-30 or 2026-11-30T14:00)"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def changes(request: Request) -> Response:
    runtime = runtime_of(request)
    try:
        change_filter = change_filter_from(request)
    except ValueError as exc:
        return render(request, "changes.html", 400, error=str(exc), rows=[], sources=SOURCES, page="changes",
                      query=request.url.query)  # fmt: skip
    rows = await list_changes(runtime.pool, runtime.schema, change_filter)
    return render(request, "changes.html", error=None, rows=rows, sources=SOURCES, page="changes",
                  query=request.url.query)  # fmt: skip


async def changes_export(request: Request) -> Response:
    runtime = runtime_of(request)
    try:
        change_filter = change_filter_from(request)
    except ValueError as exc:
        return Response(f"{exc}\n", status_code=400, media_type="text/plain")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        changes_csv(runtime.pool, runtime.schema, change_filter),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="field_changes-{stamp}.csv"'},
    )


async def coverage(request: Request) -> Response:
    runtime = runtime_of(request)
    table = runtime.settings.airbyte_task_table
    try:
        rows = await coverage_report(
            runtime,
            runtime.schema,
            table,
            include_closed=runtime.settings.airbyte_include_closed_tasks,
            sample_size=COVERAGE_SAMPLE,
            policy=COVERAGE_READ_POLICY,
        )
    except AirbyteTableUnavailable as exc:
        return render(request, "coverage.html", rows=[], error=str(exc), table=table, page="coverage")
    return render(request, "coverage.html", rows=rows, error=None, table=table, page="coverage")
