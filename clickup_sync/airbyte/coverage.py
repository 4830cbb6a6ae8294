"""What Airbyte's task table lacks, and why (reference airbyte.md §0.6, §1.3, §1.4).

Every task the mirror knows (`tasks`, not deleted) that Airbyte's table does not hold is counted
under the first reason that explains it, in this order:

- `folderless_list`: its list has no folder; Airbyte reads only `folder/{id}/list` (§1.3).
- `archived`: the task, or its list (or the list's folder or space), is archived; ClickUp leaves
  archived tasks out by default and Airbyte never lists archived folders or lists (§1.3).
- `subtask`: Airbyte sends no `subtasks=true`, so ClickUp leaves subtasks out (§1.3).
- `closed`: only when Airbyte's connection has `include_closed_tasks` off (`include_closed=False`,
  the connector's default; §1.4, §1.5).
- `beyond_first_100`: the connector's broken pagination reads ClickUp's first page of 100 tasks per
  list only (§0.6). The page is mirrored from the emulator's default order, newest `date_created`
  first (UNCONFIRMED for ClickUp, `clickup/emulator/queries.py`), over the list's top-level,
  unarchived (and, unless included, open) tasks the mirror knows.
- `not_yet_synced`: created after the last Airbyte sync started (or no sync is known yet).
- `unexplained`: none of the above, created before the last sync: e.g. moved into a foldered list
  after it, or Airbyte's configuration differs from what this report assumes.

Airbyte's ids are read through the guarded reader (short, lock-timed transactions, never a lock held
on Airbyte's table); while the table cannot be read the report raises `AirbyteTableUnavailable`
(a `TransientError`: ask again later).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from clickup_sync.airbyte.base_records import AirbyteTableReader
from clickup_sync.airbyte.guarded_reads import ReadPolicy
from clickup_sync.airbyte.tables import AirbyteTables

if TYPE_CHECKING:
    from clickup_sync.runtime import ServiceRuntime

CoverageReason = Literal[
    "folderless_list", "archived", "subtask", "closed", "beyond_first_100", "not_yet_synced", "unexplained"
]
REASONS: tuple[CoverageReason, ...] = get_args(CoverageReason)
REASON_TEXT: dict[CoverageReason, str] = {
    "folderless_list": "in a list without a folder (Airbyte reads folder lists only)",
    "archived": "archived, or in an archived list, folder or space",
    "subtask": "a subtask (Airbyte asks ClickUp for top-level tasks only)",
    "closed": "closed (Airbyte's connection leaves closed tasks out)",
    "beyond_first_100": "not on the first page of 100 tasks of its list (Airbyte reads one page)",
    "not_yet_synced": "created after Airbyte's last sync started",
    "unexplained": "none of the known gaps explains it",
}
AIRBYTE_TASKS_PER_LIST = 100  # §0.6
CLOSED_STATUS_TYPES = ["closed", "done"]  # both count as closed for ClickUp's include_closed
SAMPLE_SIZE = 10
REPORT_READ_POLICY = ReadPolicy(lock_timeout_seconds=1.0, statement_timeout_seconds=60.0, attempts=3)

KNOWN_TASKS = "SELECT task_id FROM {s}.tasks WHERE deleted_at IS NULL"
# The last sync this service recorded as ended (detect.py); its start is the "last sync" basis.
LAST_SYNC_STARTED = """
SELECT max(started_at) FROM {s}.airbyte_syncs
WHERE airbyte_table = %s AND ended_at IS NOT NULL AND outcome IS DISTINCT FROM 'failed'
"""
# One reason per missing task. `listed` is the page Airbyte reads of each list: what
# GET /list/{id}/task returns by default, in the emulator's default order (UNCONFIRMED for ClickUp);
# ties by id in bytewise order, as the emulator sorts.
CLASSIFY = """
WITH listed AS (
    SELECT t.task_id,
           row_number() OVER (PARTITION BY t.list_id
                              ORDER BY t.date_created DESC NULLS LAST, t.task_id COLLATE "C" DESC) AS position
    FROM {s}.tasks t
    WHERE t.deleted_at IS NULL AND t.parent_task_id IS NULL AND NOT t.archived
      AND (%(include_closed)s OR t.status_type IS NULL OR t.status_type <> ALL(%(closed)s))
)
SELECT t.task_id,
       CASE
           WHEN l.list_id IS NOT NULL AND l.folder_id IS NULL THEN 'folderless_list'
           WHEN t.archived OR coalesce(l.archived, false) THEN 'archived'
           WHEN t.parent_task_id IS NOT NULL THEN 'subtask'
           WHEN NOT %(include_closed)s AND t.status_type = ANY(%(closed)s) THEN 'closed'
           WHEN listed.position > %(per_list)s THEN 'beyond_first_100'
           WHEN %(last_sync)s::timestamptz IS NULL OR t.date_created IS NULL
                OR t.date_created >= %(last_sync)s::timestamptz THEN 'not_yet_synced'
           ELSE 'unexplained'
       END
FROM {s}.tasks t
LEFT JOIN {s}.lists l ON l.list_id = t.list_id
LEFT JOIN listed ON listed.task_id = t.task_id
WHERE t.task_id = ANY(%(missing)s)
"""


@dataclass(frozen=True)
class CoverageRow:
    """Tasks of the mirror missing from Airbyte's table for one reason (`task_count` may be 0)."""

    reason: CoverageReason
    task_count: int
    sample_task_ids: tuple[str, ...]  # the first few, by id

    @property
    def description(self) -> str:
        return REASON_TEXT[self.reason]


async def coverage_report(
    runtime_or_pool: ServiceRuntime | AsyncConnectionPool[Any],
    schema: str,
    airbyte_table: str,
    *,
    include_closed: bool = True,
    sample_size: int = SAMPLE_SIZE,
    policy: ReadPolicy = REPORT_READ_POLICY,
) -> list[CoverageRow]:
    """One row per reason, in the order of `REASONS` (zero counts included, so the labels are stable).

    `airbyte_table` is `AIRBYTE_TASK_TABLE`; `include_closed` is the Airbyte connection's
    `include_closed_tasks`. Raises `AirbyteTableUnavailable` while Airbyte's table cannot be read."""
    reasons = await missing_task_reasons(
        runtime_or_pool, schema, airbyte_table, include_closed=include_closed, policy=policy
    )
    by_reason: dict[CoverageReason, list[str]] = {reason: [] for reason in REASONS}
    for task_id in sorted(reasons):
        by_reason[reasons[task_id]].append(task_id)
    return [CoverageRow(reason, len(ids), tuple(ids[:sample_size])) for reason, ids in by_reason.items()]


async def missing_task_reasons(
    runtime_or_pool: ServiceRuntime | AsyncConnectionPool[Any],
    schema: str,
    airbyte_table: str,
    *,
    include_closed: bool = True,
    policy: ReadPolicy = REPORT_READ_POLICY,
) -> dict[str, CoverageReason]:
    """Each known task Airbyte's table lacks, with its reason (the detail behind `coverage_report`)."""
    pool = runtime_or_pool if isinstance(runtime_or_pool, AsyncConnectionPool) else runtime_or_pool.pool
    s = sql.Identifier(schema)
    async with pool.connection() as conn:
        known = [
            str(row[0]) for row in await (await conn.execute(sql.SQL(KNOWN_TASKS).format(s=s))).fetchall()
        ]
    table = AirbyteTables.from_qualified_name(airbyte_table).final
    reader = AirbyteTableReader(pool, table, policy=policy)
    present = await reader.task_ids_present(known) if known else set()
    missing = sorted(set(known) - present)
    if not missing:
        return {}
    last_sync = await _last_sync_started(pool, s, reader, str(table))
    params = {
        "missing": missing,
        "include_closed": include_closed,
        "closed": CLOSED_STATUS_TYPES,
        "per_list": AIRBYTE_TASKS_PER_LIST,
        "last_sync": last_sync,
    }
    async with pool.connection() as conn:
        rows = await (await conn.execute(sql.SQL(CLASSIFY).format(s=s), params)).fetchall()
    return {str(task_id): _reason(reason) for task_id, reason in rows}


def _reason(value: object) -> CoverageReason:
    for reason in REASONS:
        if value == reason:
            return reason
    raise ValueError(f"unknown coverage reason {value!r}")


async def _last_sync_started(
    pool: AsyncConnectionPool[Any], s: sql.Identifier, reader: AirbyteTableReader, table: str
) -> datetime | None:
    """When the last sync started: as recorded by sync detection, else the earliest
    `_airbyte_extracted_at` in the table (an overwrite sync's first record)."""
    async with pool.connection() as conn:
        row = await (await conn.execute(sql.SQL(LAST_SYNC_STARTED).format(s=s), (table,))).fetchone()
    recorded = row[0] if row is not None else None
    extracted = await reader.oldest_extracted_at()
    found = [value.astimezone(UTC) for value in (recorded, extracted) if value is not None]
    return max(found) if found else None
