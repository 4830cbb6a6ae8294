"""Read Airbyte's task table safely: does it exist, which tasks has it, what did the last sync leave.

Airbyte owns the table (`AIRBYTE_TASK_TABLE`) and replaces it on every overwrite sync (reference
airbyte.md §0.2, §3.4). This service only reads it, in short guarded transactions
(`guarded_reads`), and never creates anything on it (§7.1). Both destination versions are read the
same way: the 3.x Direct Load final table and the 2.x typed final table both carry `id` and the
`_airbyte_*` columns (§3.3, §3.7).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from clickup_sync.airbyte.destination_sql import TableName
from clickup_sync.airbyte.guarded_reads import (
    AirbyteTableUnavailable,
    ReadPolicy,
    ReadTransaction,
    Sleep,
    read_guarded,
)
from clickup_sync.db.connection_source import ConnectionSource

# Catalog reads take no lock on the table, so they never wait for (or stall) Airbyte's swap.
# The estimate: live tuples counted by the statistics (kept exact enough by inserts), else the
# planner's reltuples (-1 before the first ANALYZE).
TABLE_CATALOG = """
SELECT c.oid::bigint,
       array_agg(a.attname::text ORDER BY a.attnum) FILTER (WHERE a.attnum > 0 AND NOT a.attisdropped),
       COALESCE(NULLIF(s.n_live_tup, 0), GREATEST(c.reltuples, 0))::bigint
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')
GROUP BY c.oid, s.n_live_tup, c.reltuples
"""
# The newest row, found through the `_airbyte_extracted_at` index both versions create (3.x
# `idx_extracted_at_<table>`, 2.x an unnamed one; §3.3, §3.7). Its generation and sync id are the
# table's highest: the platform raises both with every sync and stamps them on every row it writes
# (§3.3 "sync_id … increases monotonically across syncs", §3.4 a new generation per overwrite).
NEWEST_ROW = """
SELECT t."_airbyte_extracted_at", {generation_id}, {sync_id}
FROM {table} AS t
ORDER BY t."_airbyte_extracted_at" DESC
LIMIT 1
"""
SYNC_ID_OF_ROW = """CASE WHEN t."_airbyte_meta"->>'sync_id' ~ '^[0-9]{1,18}$'
    THEN (t."_airbyte_meta"->>'sync_id')::bigint END"""
OLDEST_EXTRACTED_AT = 'SELECT min("_airbyte_extracted_at") FROM {table}'
OLDEST_EXTRACTED_AT_AFTER = (
    'SELECT min("_airbyte_extracted_at") FROM {table} WHERE "_airbyte_extracted_at" > %s'
)
COUNT_ROWS = "SELECT count(*) FROM {table}"
# No index on `id` in an overwrite stream's table (§3.3 creates `idx_pk_` only for dedupe), so this
# is one sequential scan per batch, bounded by statement_timeout; we may not add an index (§7.1).
IDS_PRESENT = 'SELECT DISTINCT "id"::text FROM {table} WHERE "id" = ANY(%s)'
IDS_PER_QUERY = 10_000

Result = TypeVar("Result")

EXTRACTED_AT = "_airbyte_extracted_at"
GENERATION_ID = "_airbyte_generation_id"
META = "_airbyte_meta"


@dataclass(frozen=True)
class TableSignals:
    """What the table tells about Airbyte's syncs (§4.4). `table_oid` is None when it does not exist."""

    table_oid: int | None
    max_extracted_at: datetime | None = None
    max_generation_id: int | None = None
    max_sync_id: int | None = None
    row_estimate: int | None = None

    @property
    def exists(self) -> bool:
        return self.table_oid is not None


class AirbyteTableReader:
    """Reads of one Airbyte table. Never writes, never keeps a transaction open between calls.

    Every method either answers or raises `AirbyteTableUnavailable` (a `TransientError`: retry
    later) after `policy.attempts` tries; `DatabaseUnavailable` when PostgreSQL is down.
    """

    def __init__(
        self,
        database: AsyncConnectionPool[Any] | str | ConnectionSource,
        table: TableName,
        *,
        policy: ReadPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._source = (
            database
            if isinstance(database, ConnectionSource)
            else ConnectionSource(database, purpose=f"reading Airbyte's {table}")
        )
        self.table = table
        self.policy = policy or ReadPolicy()
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"AirbyteTableReader(table={str(self.table)!r})"

    async def aclose(self) -> None:
        await self._source.aclose()

    async def exists(self) -> bool:
        """Whether the table exists now (a catalog lookup: takes no lock on it)."""
        return (await self._read(self._catalog)) is not None

    async def task_ids_present(self, task_ids: Sequence[str]) -> set[str]:
        """The ones among `task_ids` that have a row in Airbyte's table (the base-record check).

        `AirbyteTableUnavailable(reason="missing")` when the table does not exist (yet, or any more)."""
        wanted = sorted(set(task_ids))
        present: set[str] = set()
        for start in range(0, len(wanted), IDS_PER_QUERY):
            batch = wanted[start : start + IDS_PER_QUERY]
            present |= await self._read(partial(self._ids_present, batch=batch))
        return present

    async def signals(self) -> TableSignals:
        """OID, newest `_airbyte_extracted_at`, highest generation and sync id, row estimate (§4.4)."""
        return await self._read(self._signals)

    async def oldest_extracted_at(self, after: datetime | None = None) -> datetime | None:
        """The earliest `_airbyte_extracted_at` (after `after`, when given): when a sync's first record
        was read from ClickUp, i.e. no later than the sync started. Uses the same index."""
        return await self._read(partial(self._oldest_extracted_at, after=after))

    async def count_rows(self) -> int:
        """An exact count; for the end of an overwrite sync, when the table holds just its records."""
        return await self._read(self._count_rows)

    # ------------------------------------------------------------------------------------ reads

    async def _read(self, read: Callable[[ReadTransaction], Awaitable[Result]]) -> Result:
        return await read_guarded(self._source, self.policy, str(self.table), read, sleep=self._sleep)

    async def _catalog(self, read: ReadTransaction) -> tuple[int, list[str], int] | None:
        row = await read.fetchone(TABLE_CATALOG, (self.table.namespace, self.table.name))
        return None if row is None else (int(row[0]), list(row[1] or []), int(row[2]))

    async def _require_table(self, read: ReadTransaction) -> tuple[int, list[str], int]:
        catalog = await self._catalog(read)
        if catalog is None:
            raise AirbyteTableUnavailable(str(self.table), "missing", "the table does not exist")
        return catalog

    async def _ids_present(self, read: ReadTransaction, batch: list[str]) -> set[str]:
        _, columns, _ = await self._require_table(read)
        if "id" not in columns:
            raise AirbyteTableUnavailable(str(self.table), "unexpected_shape", "the table has no `id` column")
        rows = await read.fetchall(sql.SQL(IDS_PRESENT).format(table=self.table.identifier), (batch,))
        return {str(row[0]) for row in rows}

    async def _signals(self, read: ReadTransaction) -> TableSignals:
        catalog = await self._catalog(read)
        if catalog is None:
            return TableSignals(table_oid=None)
        oid, columns, estimate = catalog
        if EXTRACTED_AT not in columns:  # not shaped like an Airbyte table: only what the catalog says
            return TableSignals(table_oid=oid, row_estimate=estimate)
        query = sql.SQL(NEWEST_ROW).format(
            table=self.table.identifier,
            generation_id=sql.SQL(f't."{GENERATION_ID}"' if GENERATION_ID in columns else "NULL::bigint"),
            sync_id=sql.SQL(SYNC_ID_OF_ROW if META in columns else "NULL::bigint"),
        )
        row = await read.fetchone(query)
        if row is None:
            return TableSignals(table_oid=oid, row_estimate=0)
        return TableSignals(
            table_oid=oid,
            max_extracted_at=_utc(row[0]),
            max_generation_id=None if row[1] is None else int(row[1]),
            max_sync_id=None if row[2] is None else int(row[2]),
            row_estimate=estimate,
        )

    async def _oldest_extracted_at(self, read: ReadTransaction, after: datetime | None) -> datetime | None:
        _, columns, _ = await self._require_table(read)
        if EXTRACTED_AT not in columns:
            return None
        if after is None:
            row = await read.fetchone(sql.SQL(OLDEST_EXTRACTED_AT).format(table=self.table.identifier))
        else:
            query = sql.SQL(OLDEST_EXTRACTED_AT_AFTER).format(table=self.table.identifier)
            row = await read.fetchone(query, (after,))
        return None if row is None else _utc(row[0])

    async def _count_rows(self, read: ReadTransaction) -> int:
        await self._require_table(read)
        row = await read.fetchone(sql.SQL(COUNT_ROWS).format(table=self.table.identifier))
        return 0 if row is None else int(row[0])


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)
