"""Apply a stored webhook delivery to the mirror: its history items become `field_changes` at once
(ClickUp's event time, user, history item id), custom field items update `task_custom_field_values`
from the item itself, and built-in fields patch the `tasks` row — unless the item is older than what
the mirror already holds (out-of-order delivery): then only its history row is recorded.

Patching the row is what keeps the follow-up re-fetch from recording the same change twice: the
re-fetch diffs against the mirror, which already holds what the items said.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql

from clickup_sync.sync.history_items import ItemEffect, ParsedDelivery, TaskPatch, item_effect
from clickup_sync.sync.store import MirrorStore, value_params

log = logging.getLogger(__name__)

_ARRAY_COLUMNS = {"assignee_ids", "watcher_ids", "tags"}
_PATCHABLE = {
    "status", "status_type", "name", "priority", "assignee_ids", "watcher_ids", "tags", "due_date",
    "start_date", "time_estimate_ms", "points", "archived", "list_id", "folder_id", "space_id",
}  # fmt: skip


@dataclass
class DeliveryOutcome:
    recorded: int = 0  # history rows written now (0 when replayed: they existed)
    stale: int = 0  # items older than the mirror's state: history only
    patched: int = 0
    deleted: bool = False


class DeliveryApplier:
    def __init__(self, store: MirrorStore) -> None:
        self.store = store
        self._s = sql.Identifier(store.schema)

    async def apply(
        self,
        conn: AsyncConnection[Any],
        delivery: ParsedDelivery,
        owned_item_ids: set[str],
        *,
        received_at: datetime,
    ) -> DeliveryOutcome:
        """Apply the items this delivery owns (deduplication gave each item to one delivery)."""
        outcome = DeliveryOutcome()
        task_id = delivery.task_id
        if task_id is None:
            return outcome
        if delivery.event == "taskDeleted":
            key = f"taskDeleted:{task_id}"
            if key in owned_item_ids:
                outcome.deleted = await self.store.mark_deleted(
                    conn,
                    task_id,
                    deleted_at=received_at,
                    source="webhook",
                    event_id=f"{delivery.webhook_id}:{key}",
                )
            return outcome
        effects = sorted(
            (item_effect(item, received_at=received_at) for item in delivery.history_items),
            key=lambda e: e.changed_at,
        )
        effects = [e for e in effects if e.item_id in owned_item_ids]
        if not effects:
            return outcome
        row = await (
            await conn.execute(
                sql.SQL("SELECT date_updated FROM {}.tasks WHERE task_id = %s FOR UPDATE").format(self._s),
                (task_id,),
            )
        ).fetchone()
        task_known = row is not None
        fetched_at = row[0] if row else None
        for effect in effects:
            for problem in effect.problems:
                log.warning("webhook item %s of task %s: %s", effect.item_id, task_id, problem)
            inserted = await self._record(conn, task_id, effect)
            outcome.recorded += inserted
            if await self._is_stale(conn, task_id, effect, fetched_at):
                outcome.stale += 1
                continue
            if task_known and effect.task_patches:
                await self._patch_task(conn, task_id, effect.task_patches)
                outcome.patched += 1
            if effect.value_patch is not None:
                await self._patch_value(conn, task_id, effect)
                outcome.patched += 1
        return outcome

    async def _record(self, conn: AsyncConnection[Any], task_id: str, effect: ItemEffect) -> int:
        """The item's history row; 0 when it was recorded before (a replay or a retry)."""
        before = await self._count_event(conn, effect.item_id)
        await self.store.insert_changes(conn, [effect.field_change(task_id)])
        return 0 if before else 1

    async def _count_event(self, conn: AsyncConnection[Any], event_id: str) -> bool:
        row = await (
            await conn.execute(
                sql.SQL("SELECT 1 FROM {}.field_changes WHERE event_id = %s").format(self._s), (event_id,)
            )
        ).fetchone()
        return row is not None

    async def _is_stale(
        self, conn: AsyncConnection[Any], task_id: str, effect: ItemEffect, fetched_at: datetime | None
    ) -> bool:
        """Older than the last fetch, or than another recorded change of the same field."""
        if fetched_at is not None and effect.changed_at < fetched_at:
            return True
        row = await (
            await conn.execute(
                sql.SQL(
                    "SELECT max(changed_at) FROM {}.field_changes WHERE task_id = %s AND field_name = %s"
                    " AND field_id IS NOT DISTINCT FROM %s AND event_id IS DISTINCT FROM %s"
                ).format(self._s),
                (task_id, effect.field_name, effect.field_id, effect.item_id),
            )
        ).fetchone()
        newest = row[0] if row else None
        return newest is not None and effect.changed_at < newest

    async def _patch_task(
        self, conn: AsyncConnection[Any], task_id: str, patches: Sequence[TaskPatch]
    ) -> None:
        for patch in patches:
            if patch.column not in _PATCHABLE:
                continue
            column = sql.Identifier(patch.column)
            if patch.column in _ARRAY_COLUMNS and patch.operation == "add":
                statement = sql.SQL(
                    "UPDATE {s}.tasks SET {c} = ARRAY(SELECT DISTINCT unnest({c} || %s::text[]) ORDER BY 1)"
                    " WHERE task_id = %s"
                )
            elif patch.column in _ARRAY_COLUMNS and patch.operation == "remove":
                statement = sql.SQL(
                    "UPDATE {s}.tasks SET {c} = ARRAY(SELECT x FROM unnest({c}) AS x"
                    " WHERE x <> ALL(%s::text[])) WHERE task_id = %s"
                )
            else:
                statement = sql.SQL("UPDATE {s}.tasks SET {c} = %s WHERE task_id = %s")
            value = patch.value
            if patch.column in _ARRAY_COLUMNS and patch.operation != "set":
                value = [str(v) for v in (value if isinstance(value, list | tuple) else [value])]
            await conn.execute(statement.format(s=self._s, c=column), (value, task_id))

    async def _patch_value(self, conn: AsyncConnection[Any], task_id: str, effect: ItemEffect) -> None:
        patch = effect.value_patch
        assert patch is not None
        await self.store.upsert_definitions(conn, [(patch.field, [])])
        if patch.value is None:
            await conn.execute(
                sql.SQL(
                    "DELETE FROM {}.task_custom_field_values WHERE task_id = %s AND field_id = %s"
                ).format(self._s),
                (task_id, patch.field.field_id),
            )
            return
        params = value_params(task_id, patch.value, "webhook")
        await conn.execute(
            sql.SQL(
                "INSERT INTO {}.task_custom_field_values (task_id, field_id, field_type, raw_value, value,"
                " value_text, value_number, value_date, value_bool, value_ids, value_labels, source)"
                " VALUES (%s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (task_id, field_id) DO UPDATE SET field_type = excluded.field_type,"
                " raw_value = excluded.raw_value, value = excluded.value, value_text = excluded.value_text,"
                " value_number = excluded.value_number, value_date = excluded.value_date,"
                " value_bool = excluded.value_bool, value_ids = excluded.value_ids,"
                " value_labels = excluded.value_labels, source = excluded.source, updated_at = now()"
            ).format(self._s),
            params,
        )
