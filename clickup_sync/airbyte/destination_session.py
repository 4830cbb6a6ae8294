"""One simulated Airbyte sync's database session: how statements, COPYs and the table swap are sent,
and the catalog reads the destination makes before deciding what to do (reference airbyte.md §3).

The destination runs each statement string on a pooled autocommit connection, so a string holding
`BEGIN … COMMIT` is one transaction and each COPY batch commits on its own (§3.3); the session does
the same on one autocommit connection.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from psycopg import sql

from clickup_sync.airbyte import destination_sql as q
from clickup_sync.airbyte.destination_sql import Statement, TableName
from clickup_sync.errors import PermanentError

SyncMode = Literal["overwrite", "append", "append_dedup", "overwrite_dedup"]
OVERWRITE_MODES: frozenset[str] = frozenset({"overwrite", "overwrite_dedup"})
DEDUPE_MODES: frozenset[str] = frozenset({"append_dedup", "overwrite_dedup"})
# 3.x flushes its CSV buffer into one COPY every 1000 records (`DEFAULT_FLUSH_LIMIT`, §3.3).
COPY_FLUSH_RECORDS = 1000
# A test that forgets to release `hold_swap` fails after this long instead of hanging.
HOLD_SWAP_TIMEOUT_SECONDS = 120.0

CsvRow = Sequence[str | None]


class AirbyteSyncFailed(PermanentError):
    """The simulated sync failed as Airbyte's would (e.g. a dependent view blocks the swap); `sqlstate`
    is PostgreSQL's error code when the database refused a statement."""

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@dataclass
class DestinationSession:
    """The connection, counters and outcome of one sync."""

    conn: psycopg.Connection[Any]
    mode: SyncMode
    sync_id: int
    generation_id: int
    drop_cascade: bool
    hold_swap: threading.Event | None = None
    swap_locked: threading.Event | None = None
    records_written: int = 0
    swapped: bool = False
    temp_table: TableName | None = None  # where records went instead of the final table, if anywhere

    @property
    def dedupe(self) -> bool:
        return self.mode in DEDUPE_MODES

    @property
    def minimum_generation(self) -> int:
        # §3.4: a truncate (overwrite) sync only keeps rows of its own generation; appends keep all.
        return self.generation_id if self.mode in OVERWRITE_MODES else 0

    def execute(self, statement: Statement) -> None:
        """Run one statement string. A failure inside its BEGIN … COMMIT is rolled back, as the
        connection pool does when the destination hands the connection back."""
        try:
            self.conn.execute(statement)
        except BaseException:
            self._rollback_open_transaction()
            raise

    def swap(self, lock: Statement, finish: Statement) -> None:
        """The overwrite swap: `lock` opens the transaction and drops the final table, `finish`
        renames the replacement and commits. With `hold_swap` the session waits in between, holding
        the ACCESS EXCLUSIVE lock, and sets `swap_locked` meanwhile."""
        if self.hold_swap is None:
            self.execute(sql.SQL("{}\n{}").format(lock, finish))  # one string, as Airbyte sends it
            self.swapped = True
            return
        try:
            self.conn.execute(lock)
            if self.swap_locked is not None:
                self.swap_locked.set()
            if not self.hold_swap.wait(HOLD_SWAP_TIMEOUT_SECONDS):
                raise AirbyteSyncFailed(
                    f"hold_swap was not released within {HOLD_SWAP_TIMEOUT_SECONDS:.0f} s"
                )
            self.conn.execute(finish)
        except BaseException:
            self._rollback_open_transaction()
            raise
        finally:
            if self.swap_locked is not None:
                self.swap_locked.clear()
        self.swapped = True

    def copy(self, statement: Statement, rows: Iterable[CsvRow]) -> None:
        """COPY the rows as CSV, one COPY (and transaction) per 1000 records."""
        iterator = iter(rows)
        while batch := list(itertools.islice(iterator, COPY_FLUSH_RECORDS)):
            with self.conn.cursor() as cursor, cursor.copy(statement) as copy_in:
                copy_in.write(csv_text(batch))
            self.records_written += len(batch)

    def _rollback_open_transaction(self) -> None:
        if not self.conn.closed and self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self.conn.execute("ROLLBACK")


# ----------------------------------------------------------------------------------- catalog reads


def table_oid(conn: psycopg.Connection[Any], table: TableName) -> int | None:
    row = conn.execute(q.TABLE_OID, (table.namespace, table.name)).fetchone()
    return None if row is None else int(row[0])


def row_count(conn: psycopg.Connection[Any], table: TableName) -> int:
    row = conn.execute(q.count_rows(table)).fetchone()
    return 0 if row is None else int(row[0])


def first_generation(conn: psycopg.Connection[Any], table: TableName) -> int:
    """§3.4 getGenerationId: the first row's, 0 when there is none or the query fails."""
    try:
        row = conn.execute(q.first_generation_id(table)).fetchone()
    except psycopg.Error:
        return 0
    return 0 if row is None or row[0] is None else int(row[0])


def describe(conn: psycopg.Connection[Any], table: TableName) -> list[tuple[str, str, str]]:
    """(column_name, data_type, udt_name) of every column, in column order."""
    rows = conn.execute(q.DESCRIBE_TABLE, (table.namespace, table.name)).fetchall()
    return [(str(name), str(data_type), str(udt_name)) for name, data_type, _, udt_name in rows]


def stored_counters(conn: psycopg.Connection[Any], tables: Iterable[TableName]) -> tuple[int, int]:
    """The highest sync id and generation id found in the rows of these Airbyte tables (0 if none)."""
    sync_id = generation = 0
    for table in tables:
        if table_oid(conn, table) is None:
            continue
        try:
            row = conn.execute(q.max_sync_and_generation(table)).fetchone()
        except psycopg.Error:
            continue  # not shaped like an Airbyte table
        if row is not None:
            sync_id = max(sync_id, int(row[0] or 0))
            generation = max(generation, int(row[1] or 0))
    return sync_id, generation


# ----------------------------------------------------------------------------------- COPY payloads


def extracted_at_now() -> str:
    # `_airbyte_extracted_at` is the record's `emitted_at`, epoch milliseconds (§3.3).
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def csv_text(rows: Iterable[CsvRow]) -> str:
    """CSV as both versions send it. `None` and "" are both written as an empty, unquoted field, which
    COPY reads as NULL — commons-csv's minimal quoting does the same (inference, not observed)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
