"""`clickup-sync replay`: run stored deliveries through processing again.

Selected deliveries are reset to `received` and processed in this process, in the order they were
received. Replays are idempotent: history rows are keyed by ClickUp's history item id, and value
and task patches older than the mirror's state are skipped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from psycopg import sql

from clickup_sync.airbyte.parking import release_for_replay
from clickup_sync.db.connection import Database
from clickup_sync.queue.deliveries import process_delivery, refresh_task
from clickup_sync.runtime import service_runtime
from clickup_sync.settings import Settings


@dataclass(frozen=True)
class ReplaySelection:
    ids: list[int] = field(default_factory=list)
    task_id: str | None = None
    since: str | None = None
    until: str | None = None
    dead_only: bool = False

    def is_empty(self) -> bool:
        return not (self.ids or self.task_id or self.since or self.until or self.dead_only)

    def where(self) -> tuple[sql.Composable, list[object]]:
        clauses: list[sql.Composable] = [sql.SQL("status <> 'duplicate'")]
        params: list[object] = []
        if self.ids:
            clauses.append(sql.SQL("id = ANY(%s)"))
            params.append(self.ids)
        if self.task_id:
            clauses.append(sql.SQL("task_id = %s"))
            params.append(self.task_id)
        if self.since:
            clauses.append(sql.SQL("received_at >= %s"))
            params.append(datetime.fromisoformat(self.since))
        if self.until:
            clauses.append(sql.SQL("received_at < %s"))
            params.append(datetime.fromisoformat(self.until))
        if self.dead_only:
            clauses.append(sql.SQL("status = 'dead'"))
        return sql.SQL(" AND ").join(clauses), params


@dataclass
class ReplayResult:
    replayed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        return (
            ", ".join(f"{count} {outcome}" for outcome, count in sorted(self.outcomes.items()))
            or "nothing to do"
        )


async def replay_deliveries(
    settings: Settings, database: Database, selection: ReplaySelection
) -> ReplayResult:
    result = ReplayResult()
    async with service_runtime(settings, database) as runtime:
        s = sql.Identifier(runtime.schema)
        where, params = selection.where()
        async with runtime.pool.connection() as conn, conn.transaction():
            rows = await (
                await conn.execute(
                    sql.SQL(
                        "UPDATE {s}.webhook_deliveries SET status = 'received' WHERE id IN"
                        " (SELECT id FROM {s}.webhook_deliveries WHERE {w})"
                        " RETURNING id, task_id, received_at"
                    ).format(s=s, w=where),
                    params,
                )
            ).fetchall()
            # An operator's replay applies the changes now, Airbyte's base record or not.
            await release_for_replay(conn, runtime.schema, [int(row[0]) for row in rows])
        tasks: set[str] = set()
        for delivery_id, task_id, _ in sorted(rows, key=lambda r: (r[2], r[0])):
            try:
                # A replay is the operator's last attempt: failing again marks the delivery dead (with
                # its error) instead of leaving it `received` with no job to run it.
                outcome = await process_delivery(runtime, delivery_id, final_attempt=True)
            except Exception:  # recorded on the delivery by process_delivery; the others still run
                outcome = "failed"
            result.outcomes[outcome] += 1
            result.replayed += 1
            if task_id:
                tasks.add(task_id)
        if settings.clickup_api_token is not None:
            for task_id in sorted(tasks):
                await refresh_task(runtime, task_id)
    return result
