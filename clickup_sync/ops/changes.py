"""The change log (`field_changes`) filtered by field, user, source, task and time range, for the
admin page and its CSV export. Every filter is a bound parameter. A field is matched through the
indexes: a built-in by name (`field_changes_builtin_idx`), a custom field by id, its current name
resolved to ids first (`field_changes_field_idx`), so a rare field is found without a scan."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

PAGE_LIMIT: Final = 200  # rows on the page; the export has them all
EXPORT_BATCH: Final = 2000  # rows fetched per round trip while streaming the export
SOURCES: Final = ("webhook", "poll", "backfill", "replay")
CSV_COLUMNS: Final = (
    "id", "changed_at", "task_id", "field_name", "field_id", "field_type", "old_value", "new_value",
    "changed_by", "source", "event_id", "recorded_at",
)  # fmt: skip

_CUSTOM_FIELD_IDS = "SELECT field_id FROM {s}.custom_fields WHERE name = %(field)s OR field_id = %(field)s"
_SELECT = """
SELECT c.id, c.changed_at, c.task_id, c.field_name, c.field_id, c.field_type, c.old_value, c.new_value,
       c.changed_by, c.source, c.event_id, c.recorded_at
FROM {s}.field_changes c WHERE {where}
ORDER BY c.changed_at DESC, c.id DESC
"""


@dataclass(frozen=True)
class ChangeFilter:
    """Empty fields match everything. `field` is a field name (built-in or custom) or a field id."""

    field: str = ""
    user: str = ""
    source: str = ""
    task_id: str = ""
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def where(self, custom_field_ids: list[str] | None = None) -> tuple[sql.Composable, dict[str, Any]]:
        """`custom_field_ids`: the ids `field` names (see `resolve_field`); `field` itself when None."""
        clauses: list[sql.Composable] = [sql.SQL("true")]
        params: dict[str, Any] = {}
        if self.field:
            clauses.append(
                sql.SQL(
                    "((c.field_id IS NULL AND c.field_name = %(field)s) OR c.field_id = ANY(%(field_ids)s))"
                )
            )
            params["field"] = self.field
            params["field_ids"] = custom_field_ids if custom_field_ids is not None else [self.field]
        for column in ("user", "source", "task_id"):
            if getattr(self, column):
                name = "changed_by" if column == "user" else column
                clauses.append(sql.SQL("c.{} = %({})s").format(sql.Identifier(name), sql.SQL(column)))
                params[column] = getattr(self, column)
        if self.since is not None:
            clauses.append(sql.SQL("c.changed_at >= %(since)s"))
            params["since"] = self.since
        if self.until is not None:
            clauses.append(sql.SQL("c.changed_at < %(until)s"))
            params["until"] = self.until
        return sql.SQL(" AND ").join(clauses), params


async def resolve_field(conn: AsyncConnection[Any], schema: str, change_filter: ChangeFilter) -> list[str]:
    """The custom field ids the filter's `field` means: the field with that id or current name."""
    if not change_filter.field:
        return []
    query = sql.SQL(_CUSTOM_FIELD_IDS).format(s=sql.Identifier(schema))
    rows = await (await conn.execute(query, {"field": change_filter.field})).fetchall()
    return [str(row[0]) for row in rows]


async def filtered_query(
    conn: AsyncConnection[Any], schema: str, change_filter: ChangeFilter
) -> tuple[sql.Composed, dict[str, Any]]:
    """The filtered change log, newest first, and its parameters."""
    where, params = change_filter.where(await resolve_field(conn, schema, change_filter))
    return sql.SQL(_SELECT).format(s=sql.Identifier(schema), where=where), params


async def list_changes(
    pool: AsyncConnectionPool[Any], schema: str, change_filter: ChangeFilter, limit: int = PAGE_LIMIT
) -> list[dict[str, Any]]:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
        query, params = await filtered_query(conn, schema, change_filter)
        await cursor.execute(query + sql.SQL(" LIMIT %(limit)s"), {**params, "limit": limit})
        rows: list[dict[str, Any]] = await cursor.fetchall()
    return rows


async def changes_csv(
    pool: AsyncConnectionPool[Any], schema: str, change_filter: ChangeFilter
) -> AsyncIterator[str]:
    """The filtered changes as CSV (RFC 4180 quoting, header first), streamed through a server-side
    cursor so an export of millions of rows holds one batch in memory. Values are exact: JSON values
    as JSON text, times in UTC ISO 8601."""
    yield _csv_line(CSV_COLUMNS)
    async with (
        pool.connection() as conn,
        conn.transaction(),
        conn.cursor(name="field_changes_export") as cursor,
    ):
        query, params = await filtered_query(conn, schema, change_filter)
        await cursor.execute(query, params)
        while rows := await cursor.fetchmany(EXPORT_BATCH):
            yield "".join(_csv_line(_csv_cells(row)) for row in rows)


def _csv_cells(row: tuple[Any, ...]) -> list[str]:
    change_id, changed_at, task_id, name, field_id, field_type, old, new, by, source, event_id, recorded = row
    return [
        str(change_id), utc_iso(changed_at), task_id, name, field_id or "", field_type or "",
        json_text(old), json_text(new), by or "", source, event_id or "", utc_iso(recorded),
    ]  # fmt: skip


def _csv_line(cells: tuple[str, ...] | list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()


def utc_iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat()


def json_text(value: Any) -> str:
    """A jsonb value as JSON text; SQL NULL (no value) as an empty cell."""
    return "" if value is None else json.dumps(value, ensure_ascii=False)
