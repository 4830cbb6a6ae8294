"""One `sync_runs` row per backfill and reconcile: when it ran, how it ended, what it found. The
dashboard (`status.py`) reads the latest finished one of each kind.

    async with recorded_run(runtime.pool, schema, "reconcile") as run:   # or a DSN
        summary = await reconciler.run()
        run.record(summary)

The row is written on its own connection (from the pool, or a short one from the DSN), never on the
connection doing the work: its transactions stay exactly as they were. It says `running` while the
work goes on; a process that dies mid-run leaves it `running`, never reported as finished."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

RunKind = Literal["backfill", "reconcile", "sweep"]

_START = "INSERT INTO {s}.sync_runs (kind) VALUES (%(kind)s) RETURNING id"
_FINISH = """
UPDATE {s}.sync_runs SET finished_at = now(), status = %(status)s, stats = %(stats)s, error = %(error)s
WHERE id = %(id)s
"""


@dataclass
class SyncRun:
    run_id: int
    stats: dict[str, Any] = field(default_factory=dict)

    def record(self, summary: object) -> None:
        """A run's summary dataclass (e.g. `ReconcileSummary`, `BackfillSummary`) as the run's stats;
        its `changes` field is what the dashboard shows."""
        if not dataclasses.is_dataclass(summary) or isinstance(summary, type):
            raise TypeError(f"expected a summary dataclass instance, got {type(summary).__name__}")
        self.stats = json.loads(json.dumps(dataclasses.asdict(summary), default=str))


@asynccontextmanager
async def recorded_run(
    database: AsyncConnectionPool[Any] | str, schema: str, kind: RunKind
) -> AsyncIterator[SyncRun]:
    s = sql.Identifier(schema)
    row = await _write(database, sql.SQL(_START).format(s=s), {"kind": kind})
    assert row is not None
    run = SyncRun(int(row[0]))
    finish = sql.SQL(_FINISH).format(s=s)
    try:
        yield run
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt) else "failed"
        error = f"{type(exc).__name__}: {exc}"[:2000]
        try:
            await _write(
                database,
                finish,
                {"status": status, "stats": Jsonb(run.stats), "error": error, "id": run.run_id},
            )
        except psycopg.Error as bookkeeping:  # the database itself went away: the run's error matters more
            log.warning("could not record the end of %s run %d: %s", kind, run.run_id, bookkeeping)
        raise
    await _write(
        database, finish, {"status": "succeeded", "stats": Jsonb(run.stats), "error": None, "id": run.run_id}
    )


async def _write(
    database: AsyncConnectionPool[Any] | str, query: sql.Composed, params: dict[str, Any]
) -> tuple[Any, ...] | None:
    if isinstance(database, AsyncConnectionPool):
        async with database.connection() as conn:  # committed when given back to the pool
            cursor = await conn.execute(query, params)
            return await cursor.fetchone() if cursor.description else None
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        cursor = await conn.execute(query, params)
        return await cursor.fetchone() if cursor.description else None
