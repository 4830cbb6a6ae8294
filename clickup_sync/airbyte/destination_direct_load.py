"""destination-postgres 3.x (Direct Load) for the ClickUp `task` stream: the four stream loaders of
`DirectLoadTableStreamLoader.kt` (reference airbyte.md §3.4), schema evolution (§3.5) and the CSV
rows of its list-less COPY (§3.3).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from clickup_sync.airbyte import destination_session as session_io
from clickup_sync.airbyte import destination_sql as q
from clickup_sync.airbyte.destination_session import AirbyteSyncFailed, DestinationSession
from clickup_sync.airbyte.destination_sql import StreamColumn, TableName

Records = Iterable[Mapping[str, Any]]

# §3.5: information_schema type names normalized the way PostgresAirbyteClient compares them.
_NORMALIZED_TYPES = {
    "character varying": "varchar",
    "numeric": "decimal",
    "timestamp without time zone": "timestamp",
    "time without time zone": "time",
}


def run_direct_load(session: DestinationSession, real: TableName, temp: TableName, records: Records) -> None:
    """One sync into `real`, staging in `temp` (in `airbyte_internal`) when the mode needs it."""
    session.execute(q.create_schema(real.namespace))
    session.execute(q.create_schema(temp.namespace))
    real_existed = session_io.table_oid(session.conn, real) is not None
    temp_existed = session_io.table_oid(session.conn, temp) is not None
    if session.mode == "append":
        _create_or_match(session, real, exists=real_existed)
        if temp_existed:  # a failed sync's temp table is appended first
            ensure_schema_matches(session, temp)
            session.execute(q.direct_load_copy_table(temp, real))
            session.execute(q.drop_table(temp, drop_cascade=session.drop_cascade))
        _copy_records(session, real, records, real=real)
    elif session.mode == "append_dedup":
        if temp_existed:
            ensure_schema_matches(session, temp)
        else:
            _create(session, temp)
        _copy_records(session, temp, records, real=real)
        _create_or_match(session, real, exists=real_existed)
        session.execute(q.direct_load_upsert(temp, real))
        session.execute(q.drop_table(temp, drop_cascade=session.drop_cascade))
    elif session.mode == "overwrite":
        if temp_existed:
            _reuse_or_recreate_temp(session, temp)
        elif _writable_in_place(session, real, exists=real_existed):
            _create_or_match(session, real, exists=real_existed)
            _copy_records(session, real, records, real=real)
            return
        else:
            _create(session, temp)
        _copy_records(session, temp, records, real=real)
        _overwrite(session, temp, real)
        session.execute(q.drop_table(temp, drop_cascade=session.drop_cascade))  # no-op once renamed
    else:  # overwrite_dedup
        if temp_existed:
            _reuse_or_recreate_temp(session, temp)
        else:
            _create(session, temp)
        _copy_records(session, temp, records, real=real)
        if not temp_existed and _writable_in_place(session, real, exists=real_existed):
            _create_or_match(session, real, exists=real_existed)
            session.execute(q.direct_load_upsert(temp, real))
        else:  # dedupe into a temp-temp table, then swap that one in
            temp_temp = TableName(temp.namespace, q.direct_load_temp_table_name(temp.namespace, temp.name))
            _create(session, temp_temp)
            session.execute(q.direct_load_upsert(temp, temp_temp))
            _overwrite(session, temp_temp, real)
        session.execute(q.drop_table(temp, drop_cascade=session.drop_cascade))


def _create(session: DestinationSession, table: TableName) -> None:
    """createTable(replace = true), then its indexes outside that transaction (§3.3)."""
    session.execute(q.direct_load_create_table(table, replace=True, drop_cascade=session.drop_cascade))
    session.execute(q.direct_load_create_indexes(table, dedupe=session.dedupe))


def _create_or_match(session: DestinationSession, table: TableName, *, exists: bool) -> None:
    if exists:
        ensure_schema_matches(session, table)
    else:
        _create(session, table)


def _reuse_or_recreate_temp(session: DestinationSession, temp: TableName) -> None:
    """A temp table an interrupted attempt of this generation left is resumed; an older one recreated."""
    if (
        session_io.row_count(session.conn, temp) == 0
        or session_io.first_generation(session.conn, temp) >= session.minimum_generation
    ):
        ensure_schema_matches(session, temp)
    else:
        _create(session, temp)


def _writable_in_place(session: DestinationSession, real: TableName, *, exists: bool) -> bool:
    """§3.4: a missing, empty or current-generation real table is written in place; else swapped."""
    return (
        not exists
        or session_io.row_count(session.conn, real) == 0
        or session_io.first_generation(session.conn, real) >= session.minimum_generation
    )


def _overwrite(session: DestinationSession, source: TableName, real: TableName) -> None:
    """§3.4 overwriteTable: DROP the real table, RENAME the source to it, SET SCHEMA, in one transaction."""
    session.swap(
        q.direct_load_overwrite_lock(real, drop_cascade=session.drop_cascade),
        q.direct_load_overwrite_finish(source, real),
    )


def _copy_records(
    session: DestinationSession, table: TableName, records: Records, *, real: TableName
) -> None:
    if table != real:
        session.temp_table = table
    columns = [name for name, _, _ in session_io.describe(session.conn, table)]
    rows = (
        direct_load_csv_row(record, columns, sync_id=session.sync_id, generation_id=session.generation_id)
        for record in records
    )
    session.copy(q.direct_load_copy(table), rows)


def ensure_schema_matches(session: DestinationSession, table: TableName) -> None:
    """§3.5 ensureSchemaMatches: add missing stream columns, DROP every column the stream does not know,
    retype the ones that differ, rebuild the pk index of a dedupe stream when it is not on `id`.
    A table without Airbyte's columns is refused (discoverSchema)."""
    described = session_io.describe(session.conn, table)
    if not {name for name, _, _ in described} >= q.AIRBYTE_COLUMN_NAMES:
        raise AirbyteSyncFailed(
            f"The target table ({table}) already exists in the destination, but does not contain Airbyte's"
            " internal columns. Airbyte can only sync to Airbyte-controlled tables."
        )
    in_database = {
        name: _NORMALIZED_TYPES.get(data_type, data_type)
        for name, data_type, _ in described
        if name not in q.AIRBYTE_COLUMN_NAMES
    }
    stream = {column.name: column for column in q.TASK_COLUMNS}
    index_columns = session.conn.execute(q.INDEX_COLUMNS, (q.primary_key_index_name(table), table.namespace))
    session.execute(
        q.direct_load_match_schemas(
            table,
            add=[column for name, column in stream.items() if name not in in_database],
            drop=[name for name in in_database if name not in stream],
            modify=[
                (stream[name], old_type)
                for name, old_type in in_database.items()
                if name in stream and stream[name].pg_type != old_type
            ],
            recreate_primary_key_index=session.dedupe
            and [row[0] for row in index_columns] != [q.TASK_PRIMARY_KEY],
            drop_cascade=session.drop_cascade,
        )
    )


def direct_load_csv_row(
    record: Mapping[str, Any], columns: Sequence[str], *, sync_id: int, generation_id: int
) -> list[str | None]:
    """One CSV line of the list-less COPY: a field per table column, in `columns` order (§3.3).
    Undeclared properties are dropped; a column the stream does not know (someone else's) gets an
    empty field, i.e. NULL."""
    changes: list[dict[str, str]] = []
    values: dict[str, str | None] = {
        column.name: _column_value(column, record[column.name], changes)
        for column in q.TASK_COLUMNS
        if column.name in record
    }
    values["_airbyte_raw_id"] = str(uuid.uuid4())
    values["_airbyte_extracted_at"] = session_io.extracted_at_now()
    values["_airbyte_meta"] = session_io.to_json({"sync_id": sync_id, "changes": changes})
    values["_airbyte_generation_id"] = str(generation_id)
    return [values.get(name) for name in columns]


def _column_value(column: StreamColumn, value: Any, changes: list[dict[str, str]]) -> str | None:
    if value is None:
        return None
    if column.json_kind == "string":
        if isinstance(value, str):
            return value.replace("\x00", "")  # PostgresValueCoercer strips NUL bytes
        # ClickUp sends `time_spent` as a number where the schema says string; PyAirbyte stored '0',
        # what 3.x does is UNCONFIRMED (§1.6) — we store the number's text.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return session_io.to_json(value)
    if isinstance(value, dict if column.json_kind == "object" else list):
        return session_io.to_json(value)
    changes.append({"field": column.name, "change": "NULLED", "reason": "DESTINATION_TYPECAST_ERROR"})
    return None
