"""One look at the database for signs of an Airbyte sync (reference airbyte.md §4.4).

A look is a few catalog queries, which take no lock on Airbyte's tables: which of the stream's
staging tables exist (3.x temp tables in `airbyte_internal`, 2.x `…_airbyte_tmp` and
`…_ab_soft_reset` tables), their write counters, and which writer locks other sessions hold or wait
for on the stream's tables. Then, unless the final table is being swapped, its signals (OID, newest
`_airbyte_extracted_at`, generation, sync id) through an index, and for 2.x whether raw rows wait to
be typed. Every table read is guarded (`guarded_reads`) with a single attempt: a poll that meets the
swap reports what it could see and tries again next time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from clickup_sync.airbyte.base_records import AirbyteTableReader, TableSignals
from clickup_sync.airbyte.guarded_reads import (
    AirbyteTableUnavailable,
    ReadPolicy,
    ReadTransaction,
    read_guarded,
)
from clickup_sync.airbyte.tables import AirbyteTables
from clickup_sync.db.connection_source import ConnectionSource

CLOCK = "SELECT clock_timestamp()"
# The stream's tables that exist, with how many rows were ever written to each (the statistics'
# counters move while Airbyte COPYs into a staging table).
STREAM_TABLES = """
SELECT w.schema_name || '.' || w.table_name,
       c.oid::bigint,
       COALESCE(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0)::bigint
FROM unnest(%s::text[], %s::text[]) AS w(schema_name, table_name)
JOIN pg_namespace n ON n.nspname = w.schema_name
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.table_name AND c.relkind IN ('r', 'p')
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
"""
# Locks other sessions hold or wait for that only writers take: DDL and the swap (ACCESS EXCLUSIVE,
# §3.9), COPY/INSERT/UPDATE (ROW EXCLUSIVE), CREATE INDEX (SHARE). Readers (ACCESS SHARE, e.g. other
# replicas of this service), SELECT FOR UPDATE and (auto)vacuum are left out. Only this stream's
# tables count: other connections write to `airbyte_internal` too.
WRITER_LOCKS = """
SELECT n.nspname || '.' || c.relname, l.mode, l.granted
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.locktype = 'relation'
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.pid <> pg_backend_pid()
  AND l.mode IN ('RowExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock',
                 'AccessExclusiveLock')
  AND l.relation = ANY(%s::oid[])
ORDER BY 1, 2, 3
"""
# §4.4 2.x: raw rows written but not yet typed into the final table (the loaded_at index serves it).
RAW_ROWS_PENDING = 'SELECT EXISTS (SELECT 1 FROM {raw} WHERE "_airbyte_loaded_at" IS NULL)'
_SWAP_LOCK_MODES = frozenset({"AccessExclusiveLock", "ExclusiveLock"})


@dataclass(frozen=True)
class StagingTable:
    name: str  # schema-qualified
    oid: int
    writes: int  # rows inserted + updated + deleted, per the statistics


@dataclass(frozen=True)
class WriterLock:
    table: str
    mode: str
    granted: bool


@dataclass(frozen=True)
class ProbeHint:
    """What the last observation saw, so the probe reads more only when the table changed."""

    table_oid: int | None = None
    max_extracted_at: datetime | None = None
    open_sync_table_oid_before: int | None = None


@dataclass(frozen=True)
class DatabaseProbe:
    observed_at: datetime  # the database's clock, shared by every replica
    table_oid: int | None  # the final table's, from the catalog
    signals: TableSignals | None  # None when the final table could not be read this time
    staging: tuple[StagingTable, ...]
    raw_rows_pending: bool
    writer_locks: tuple[WriterLock, ...]
    oldest_new_extracted_at: datetime | None = None  # of the rows written since the hint
    records: int | None = None  # exact rows of the final table, counted when it was replaced

    @property
    def staging_fingerprint(self) -> str:
        """Changes whenever a staging table appears, goes, or is written to."""
        if not self.staging and not self.raw_rows_pending:
            return ""
        parts: list[Any] = [[t.name, t.oid, t.writes] for t in self.staging]
        return json.dumps({"staging": parts, "raw_rows_pending": self.raw_rows_pending}, sort_keys=True)


class DatabaseProber:
    """Looks at the database for one stream's tables."""

    def __init__(self, source: ConnectionSource, tables: AirbyteTables, policy: ReadPolicy) -> None:
        self._source = source
        self.tables = tables
        self.policy = policy
        self.reader = AirbyteTableReader(source, tables.final, policy=policy)

    async def probe(self, hint: ProbeHint | None) -> DatabaseProbe:
        """Look now. Without a `hint` (nothing observed before) nothing can have changed since."""
        observed_at, present, locks = await read_guarded(
            self._source, self.policy, str(self.tables.final), self._catalog
        )
        final_name, raw_name = str(self.tables.final), str(self.tables.raw)
        staging_names = {str(t) for t in self.tables.staging()}
        staging = tuple(
            StagingTable(name, oid, writes)
            for name, (oid, writes) in sorted(present.items())
            if name in staging_names
        )
        swapping = any(lock.mode in _SWAP_LOCK_MODES for lock in locks if lock.table == final_name)
        signals = None if swapping else await self._signals()
        # In 3.x "raw tables only" mode there is no final table and loaded_at stays NULL forever (§3.6):
        # pending raw rows mean a sync only where typing into the final table happens (2.x).
        pending = raw_name in present and final_name in present and await self._raw_rows_pending()
        oldest_new, records = await self._what_changed(signals, hint)
        return DatabaseProbe(
            observed_at=observed_at,
            table_oid=present[final_name][0] if final_name in present else None,
            signals=signals,
            staging=staging,
            raw_rows_pending=pending,
            writer_locks=locks,
            oldest_new_extracted_at=oldest_new,
            records=records,
        )

    async def _catalog(
        self, read: ReadTransaction
    ) -> tuple[datetime, dict[str, tuple[int, int]], tuple[WriterLock, ...]]:
        clock = await read.fetchone(CLOCK)
        assert clock is not None
        candidates = [self.tables.final, self.tables.raw, *self.tables.staging()]
        rows = await read.fetchall(
            STREAM_TABLES, ([t.namespace for t in candidates], [t.name for t in candidates])
        )
        present = {str(name): (int(oid), int(writes)) for name, oid, writes in rows}
        lock_rows = await read.fetchall(WRITER_LOCKS, ([oid for oid, _ in present.values()],))
        locks = tuple(WriterLock(str(table), str(mode), bool(granted)) for table, mode, granted in lock_rows)
        return clock[0].astimezone(UTC), present, locks

    async def _signals(self) -> TableSignals | None:
        try:
            return await self.reader.signals()
        except AirbyteTableUnavailable:
            return None

    async def _raw_rows_pending(self) -> bool:
        async def read(transaction: ReadTransaction) -> bool:
            row = await transaction.fetchone(sql.SQL(RAW_ROWS_PENDING).format(raw=self.tables.raw.identifier))
            return bool(row and row[0])

        try:
            return await read_guarded(self._source, self.policy, str(self.tables.raw), read)
        except (AirbyteTableUnavailable, psycopg.errors.UndefinedColumn):
            return False  # being swapped, or not shaped like a 2.x raw table

    async def _what_changed(
        self, signals: TableSignals | None, hint: ProbeHint | None
    ) -> tuple[datetime | None, int | None]:
        """When the first new record was read, and the new table's size after a swap (None: unknown)."""
        if hint is None or signals is None or signals.table_oid is None:
            return None, None
        replaced = signals.table_oid != hint.table_oid or (
            hint.open_sync_table_oid_before is not None
            and signals.table_oid != hint.open_sync_table_oid_before
        )
        moved = (
            signals.max_extracted_at is not None
            and hint.max_extracted_at is not None
            and signals.max_extracted_at > hint.max_extracted_at
        )
        try:
            if replaced:
                return await self.reader.oldest_extracted_at(), await self.reader.count_rows()
            if moved:
                return await self.reader.oldest_extracted_at(after=hint.max_extracted_at), None
        except AirbyteTableUnavailable:
            pass
        return None, None
