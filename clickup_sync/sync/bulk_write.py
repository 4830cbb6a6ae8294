"""Set-based writes of a batch into the mirror: COPY into session-local staging tables, then one
`INSERT … SELECT … ON CONFLICT` per table, all of them sent together.

A page of 100 tasks carries ~900 custom field values; row-by-row upserts (even pipelined) spent
most of the backfill's time in per-row protocol work. COPY moves the rows in one stream and the
upsert runs once in the server. Staging tables are temporary (`ON COMMIT DELETE ROWS`), so
concurrent writers never see each other's rows and nothing outlives the transaction. Each upsert
empties its staging table in the same statement, so a transaction can write several batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.errors import UniqueViolation

TASK_COLUMNS = (
    "task_id", "custom_id", "name", "status", "status_type", "list_id", "folder_id", "space_id",
    "parent_task_id", "top_level_parent_id", "priority", "assignee_ids", "watcher_ids", "tags",
    "due_date", "start_date", "date_created", "date_updated", "date_closed", "date_done",
    "time_estimate_ms", "points", "archived", "raw",
)  # fmt: skip
VALUE_COLUMNS = (
    "task_id", "field_id", "field_type", "raw_value", "value", "value_text", "value_number", "value_date",
    "value_bool", "value_ids", "value_labels", "source",
)  # fmt: skip
RELATIONSHIP_COLUMNS = ("task_id", "relationship_type", "related_task_id", "field_id", "created_at", "source")
CHANGE_COLUMNS = (
    "task_id", "field_id", "field_name", "field_type", "old_value", "new_value", "changed_at", "changed_by",
    "source", "event_id",
)  # fmt: skip
CHANGE_TYPES = ("text", "text", "text", "text", "text", "text", "timestamptz", "text", "text", "text")
_SAVEPOINT = sql.SQL("SAVEPOINT _bulk_write_new_rows")
_ROLLBACK_TO_SAVEPOINT = sql.SQL("ROLLBACK TO SAVEPOINT _bulk_write_new_rows")
# jsonb columns travel as JSON text (see clickup_sync.db.params.json_text): COPY's text format hands
# them to jsonb's input function, which is exactly the parse we want and skips a second encoding.


@dataclass
class WriteBatch:
    """Everything one batch writes: rows in the column orders above, keys of rows to delete.

    `new_*` rows belong to tasks the mirror did not hold when the batch was read (first sightings):
    they are inserted directly, without staging and upsert, unless another writer stored one of them
    meanwhile, in which case they take the upsert path like the others."""

    tasks: list[tuple[Any, ...]] = field(default_factory=list)
    values: list[tuple[Any, ...]] = field(default_factory=list)
    relationships: list[tuple[Any, ...]] = field(default_factory=list)
    changes: list[tuple[Any, ...]] = field(default_factory=list)
    value_deletes: list[tuple[str, str]] = field(default_factory=list)  # (task_id, field_id)
    relationship_deletes: list[tuple[str, str, str, str]] = field(default_factory=list)
    new_tasks: list[tuple[Any, ...]] = field(default_factory=list)
    new_values: list[tuple[Any, ...]] = field(default_factory=list)
    new_relationships: list[tuple[Any, ...]] = field(default_factory=list)

    def upsert_new_rows(self) -> None:
        """Send the `new_*` rows through the upsert path too."""
        self.tasks += self.new_tasks
        self.values += self.new_values
        self.relationships += self.new_relationships
        self.new_tasks, self.new_values, self.new_relationships = [], [], []


class BulkWriter:
    """`write` a batch inside a transaction (it prepares the staging tables itself); `insert_changes`
    needs `prepare(conn)` first in its transaction."""

    def __init__(self, schema: str) -> None:
        self._s = sql.Identifier(schema)
        # Composed once: building these statements per batch cost more than sending them.
        self._merge_tasks = self._upsert_from_stage(
            "_stage_tasks",
            "tasks",
            TASK_COLUMNS,
            conflict=("task_id",),
            extra_set="synced_at = now(), deleted_at = NULL",
        )
        self._merge_values = self._upsert_from_stage(
            "_stage_values",
            "task_custom_field_values",
            VALUE_COLUMNS,
            conflict=("task_id", "field_id"),
            extra_set="updated_at = now()",
        )
        self._merge_relationships = self._insert_from_stage(
            "_stage_relationships", "task_relationships", RELATIONSHIP_COLUMNS
        )
        self._merge_changes = self._insert_from_stage("_stage_changes", "field_changes", CHANGE_COLUMNS)

    async def prepare(self, conn: AsyncConnection[Any], *, then: Sequence[sql.Composable] = ()) -> None:
        """Create the session's staging tables unless they exist: one round trip, every batch (a
        rolled-back transaction takes tables created in it along, so no "already done" flag).
        `then`, statements without parameters, are sent in the same round trip."""
        statements = [
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {stage}"
                " (LIKE {s}.{table} INCLUDING DEFAULTS INCLUDING IDENTITY) ON COMMIT DELETE ROWS"
            ).format(stage=sql.Identifier(stage), s=self._s, table=sql.Identifier(table))
            for stage, table in (
                ("_stage_tasks", "tasks"),
                ("_stage_values", "task_custom_field_values"),
                ("_stage_relationships", "task_relationships"),
                ("_stage_changes", "field_changes"),
            )
        ]
        await conn.execute(sql.SQL("; ").join([*statements, *then]))

    async def write(
        self, conn: AsyncConnection[Any], batch: WriteBatch, *, settings: Sequence[sql.Composable] = ()
    ) -> None:
        """Prepare the staging tables, delete, COPY, then every upsert in one round trip.

        `settings` (statements such as `SET LOCAL …`) run first, in the staging tables' round trip.
        Value and relationship rows are those of `copy_rows.py`; change rows those of
        `store.change_row`."""
        has_new = bool(batch.new_tasks or batch.new_values or batch.new_relationships)
        await self.prepare(conn, then=[*settings, *([_SAVEPOINT] if has_new else [])])
        await self.delete_values(conn, batch.value_deletes)
        await self.delete_relationships(conn, batch.relationship_deletes)
        if has_new and not await self._insert_new(conn, batch):
            batch.upsert_new_rows()
        merges = []
        for stage, columns, rows, merge in (
            ("_stage_tasks", TASK_COLUMNS, batch.tasks, self._merge_tasks),
            ("_stage_values", VALUE_COLUMNS, batch.values, self._merge_values),
            ("_stage_relationships", RELATIONSHIP_COLUMNS, batch.relationships, self._merge_relationships),
        ):
            if rows:
                await self._copy(conn, sql.Identifier(stage), columns, None, rows)
                merges.append(merge)
        if batch.changes:
            await self._copy(
                conn, sql.Identifier("_stage_changes"), CHANGE_COLUMNS, CHANGE_TYPES, batch.changes
            )
            merges.append(self._merge_changes)
        if merges:
            await conn.execute(sql.SQL("; ").join(merges))

    async def _insert_new(self, conn: AsyncConnection[Any], batch: WriteBatch) -> bool:
        """COPY first sightings straight into their tables: no staging table to fill and read back,
        no conflict check per row (measured: a third of PostgreSQL's time in a backfill). False when
        a row exists already (another writer stored the task since the batch was read); nothing is
        then inserted: back to the savepoint `prepare` set (never released: the commit ends it, and
        a release would cost a round trip)."""
        try:
            for table, columns, rows in (
                ("tasks", TASK_COLUMNS, batch.new_tasks),
                ("task_custom_field_values", VALUE_COLUMNS, batch.new_values),
                ("task_relationships", RELATIONSHIP_COLUMNS, batch.new_relationships),
            ):
                if rows:
                    target = sql.SQL("{}.{}").format(self._s, sql.Identifier(table))
                    await self._copy(conn, target, columns, None, rows)
        except UniqueViolation:
            await conn.execute(_ROLLBACK_TO_SAVEPOINT)
            return False
        return True

    async def insert_changes(self, conn: AsyncConnection[Any], rows: Sequence[Sequence[Any]]) -> None:
        """History rows; one whose `event_id` is already recorded is skipped (webhook redelivery)."""
        if not rows:
            return
        await self._copy(conn, sql.Identifier("_stage_changes"), CHANGE_COLUMNS, CHANGE_TYPES, rows)
        await conn.execute(self._merge_changes)

    async def _copy(
        self,
        conn: AsyncConnection[Any],
        target: sql.Composable,
        columns: Sequence[str],
        types: Sequence[str] | None,
        rows: Sequence[Sequence[Any]],
    ) -> None:
        """COPY `rows` into `target`. Without `types`, each value is sent in its Python type's text
        form (rows from `copy_rows.py`, whose arrays are already literals: psycopg's list dumper is
        Python code and cost more than the rest of a row)."""
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            target, sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        async with conn.cursor() as cursor, cursor.copy(statement) as copy:
            if types is not None:
                copy.set_types(list(types))
            for row in rows:
                await copy.write_row(row)

    async def delete_values(self, conn: AsyncConnection[Any], keys: Sequence[tuple[str, str]]) -> None:
        if not keys:
            return
        await conn.execute(
            sql.SQL(
                "DELETE FROM {}.task_custom_field_values v"
                " USING unnest(%s::text[], %s::text[]) AS d(task_id, field_id)"
                " WHERE v.task_id = d.task_id AND v.field_id = d.field_id"
            ).format(self._s),
            ([k[0] for k in keys], [k[1] for k in keys]),
        )

    async def delete_relationships(
        self, conn: AsyncConnection[Any], keys: Sequence[tuple[str, str, str, str]]
    ) -> None:
        if not keys:
            return
        await conn.execute(
            sql.SQL(
                "DELETE FROM {}.task_relationships r"
                " USING unnest(%s::text[], %s::text[], %s::text[], %s::text[])"
                " AS d(task_id, kind, related, field_id)"
                " WHERE r.task_id = d.task_id AND r.relationship_type = d.kind"
                " AND r.related_task_id = d.related AND r.field_id = d.field_id"
            ).format(self._s),
            tuple([k[i] for k in keys] for i in range(4)),
        )

    def _upsert_from_stage(
        self, stage: str, table: str, columns: Sequence[str], *, conflict: Sequence[str], extra_set: str
    ) -> sql.Composed:
        # The stage is emptied by the same statement, for the next batch of this transaction.
        cols = sql.SQL(", ").join(map(sql.Identifier, columns))
        assignments = sql.SQL(", ").join(
            sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in columns if c not in conflict
        )
        return sql.SQL(
            "WITH staged AS (DELETE FROM {stage} RETURNING {cols})"
            " INSERT INTO {s}.{table} ({cols}) SELECT {cols} FROM staged"
            " ON CONFLICT ({conflict}) DO UPDATE SET {assignments}, {extra}"
        ).format(
            s=self._s,
            table=sql.Identifier(table),
            cols=cols,
            stage=sql.Identifier(stage),
            conflict=sql.SQL(", ").join(map(sql.Identifier, conflict)),
            assignments=assignments,
            extra=sql.SQL(extra_set),  # a constant of this module, never user data
        )

    def _insert_from_stage(self, stage: str, table: str, columns: Sequence[str]) -> sql.Composed:
        cols = sql.SQL(", ").join(map(sql.Identifier, columns))
        return sql.SQL(
            "WITH staged AS (DELETE FROM {stage} RETURNING {cols})"
            " INSERT INTO {s}.{table} ({cols}) SELECT {cols} FROM staged ON CONFLICT DO NOTHING"
        ).format(s=self._s, table=sql.Identifier(table), cols=cols, stage=sql.Identifier(stage))
