"""destination-postgres 2.x (Destinations V2) for the ClickUp `task` stream: records into a raw table
in `airbyte_internal`, then typing and deduping into the final table (reference airbyte.md §3.7).

An overwrite sync stages raw rows in `<raw>_airbyte_tmp` and, when the final table already holds rows,
types them into `<final>_airbyte_tmp`; both replace their tables by DROP + RENAME at the end. An append
sync that finds the final table changed by someone else rebuilds it the same way (soft reset).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from psycopg import sql

from clickup_sync.airbyte import destination_session as session_io
from clickup_sync.airbyte import destination_sql as q
from clickup_sync.airbyte.destination_session import OVERWRITE_MODES, DestinationSession
from clickup_sync.airbyte.destination_sql import (
    TASK_COLUMNS,
    TASK_PRIMARY_KEY,
    Statement,
    StreamColumn,
    TableName,
    cascade_clause,
    drop_table,
)

Records = Iterable[Mapping[str, Any]]

SOFT_RESET_SUFFIX = "_ab_soft_reset"
DESTINATION_STATE_TABLE = "_airbyte_destination_state"
# §3.7: the Airbyte columns follow the data columns; generation id is nullable because
# PostgresGenerationIdMigration adds it that way (whether new tables declare it inline is UNCONFIRMED).
TYPED_FINAL_AIRBYTE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_airbyte_raw_id", "varchar(36) NOT NULL"),
    ("_airbyte_extracted_at", "timestamp with time zone NOT NULL"),
    ("_airbyte_meta", "jsonb NOT NULL"),
    ("_airbyte_generation_id", "bigint"),
)
RAW_COPY_COLUMNS = (
    "_airbyte_raw_id",
    "_airbyte_data",
    "_airbyte_extracted_at",
    "_airbyte_loaded_at",
    "_airbyte_meta",
    "_airbyte_generation_id",
)
# PostgresState as 2.x commits it for the stream at the start of a sync.
DESTINATION_STATE_JSON = session_io.to_json(
    {"needsSoftReset": False, "isAirbyteMetaPresentInRaw": True, "isAirbyteGenerationIdPresent": True}
)


def run_typing_deduping(
    session: DestinationSession, final: TableName, raw: TableName, records: Records
) -> None:
    """One sync of the stream: AbstractStreamOperation's order of operations (§3.7)."""
    session.execute(q.create_schema(raw.namespace))
    session.execute(q.create_schema(final.namespace))
    session.execute(create_destination_state_table(raw.namespace))
    with session.conn.transaction():
        session.conn.execute(delete_destination_state(raw.namespace), (final.name, final.namespace))
        session.conn.execute(
            insert_destination_state(raw.namespace), (final.name, final.namespace, DESTINATION_STATE_JSON)
        )
    final_existed = session_io.table_oid(session.conn, final) is not None
    mismatch = final_existed and not typed_schema_matches(session, final)
    # overwriteRawTable's DROP TABLE has no IF EXISTS, so the raw table must exist before it runs.
    session.execute(create_raw_table(raw))
    if not final_existed:
        _create_final(session, final, force=False)
    stage, final_target = raw, final
    if session.mode in OVERWRITE_MODES:
        stage = raw.with_suffix(q.TMP_TABLE_SUFFIX)
        session.execute(create_raw_table(stage))
        session.execute(truncate_table(stage))
        if final_existed and (mismatch or session_io.row_count(session.conn, final) > 0):
            final_target = final.with_suffix(q.TMP_TABLE_SUFFIX)
            _create_final(session, final_target, force=True)
            session.temp_table = final_target
    elif mismatch:  # soft reset: rebuild the final table from every raw row, then swap it in
        soft_reset = final.with_suffix(SOFT_RESET_SUFFIX)
        _create_final(session, soft_reset, force=True)
        session.execute(clear_loaded_at(raw))
        session.execute(type_and_dedupe(raw, soft_reset, dedupe=session.dedupe))
        _overwrite_final(session, soft_reset, final)
    rows = (raw_csv_row(r, sync_id=session.sync_id, generation_id=session.generation_id) for r in records)
    session.copy(raw_copy(stage), rows)
    if stage != raw:
        session.execute(overwrite_raw_table(raw, drop_cascade=session.drop_cascade))
    session.execute(type_and_dedupe(raw, final_target, dedupe=session.dedupe))
    if final_target != final:
        _overwrite_final(session, final_target, final)


def _create_final(session: DestinationSession, table: TableName, *, force: bool) -> None:
    session.execute(
        create_final_table(table, force=force, dedupe=session.dedupe, drop_cascade=session.drop_cascade)
    )


def _overwrite_final(session: DestinationSession, source: TableName, final: TableName) -> None:
    session.swap(
        overwrite_final_lock(final, drop_cascade=session.drop_cascade), overwrite_final_finish(source, final)
    )


def typed_schema_matches(session: DestinationSession, final: TableName) -> bool:
    """§3.7 existingSchemaMatchesStreamConfig: Airbyte columns of the right types and exactly the
    stream's columns — an extra column added by someone else is a mismatch."""
    types = {name: udt_name for name, _, udt_name in session_io.describe(session.conn, final)}
    airbyte_columns_match = (
        types.get("_airbyte_raw_id") == "varchar"
        and types.get("_airbyte_extracted_at") == "timestamptz"
        and types.get("_airbyte_meta") == "jsonb"
    )
    user_columns = {name: udt for name, udt in types.items() if name not in q.AIRBYTE_COLUMN_NAMES}
    return airbyte_columns_match and user_columns == {c.name: c.pg_type for c in TASK_COLUMNS}


def raw_csv_row(record: Mapping[str, Any], *, sync_id: int, generation_id: int) -> list[str | None]:
    """One CSV line of the raw COPY, in RAW_COPY_COLUMNS order; `_airbyte_data` is the whole record,
    undeclared properties included, and `_airbyte_loaded_at` is NULL until T+D."""
    return [
        str(uuid.uuid4()),
        session_io.to_json(dict(record)),
        session_io.extracted_at_now(),
        None,
        session_io.to_json({"changes": [], "sync_id": sync_id}),
        str(generation_id),
    ]


# ------------------------------------------------------------------------------------------- SQL

DESTINATION_STATE_TABLE = "_airbyte_destination_state"


def create_destination_state_table(raw_schema: str) -> Statement:
    """§3.7: created by the shared JdbcDestinationHandler."""
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} (name varchar, namespace varchar, destination_state varchar,"
        " updated_at timestamp with time zone);"
    ).format(sql.Identifier(raw_schema, DESTINATION_STATE_TABLE))


def delete_destination_state(raw_schema: str) -> Statement:
    """commitDestinationStates deletes the stream's row (parameters: name, namespace) …"""
    return sql.SQL("DELETE FROM {} WHERE name = %s AND namespace = %s;").format(
        sql.Identifier(raw_schema, DESTINATION_STATE_TABLE)
    )


def insert_destination_state(raw_schema: str) -> Statement:
    """… and inserts it again (parameters: name, namespace, state JSON)."""
    return sql.SQL(
        "INSERT INTO {} (name, namespace, destination_state, updated_at)"
        " VALUES (%s, %s, %s, current_timestamp);"
    ).format(sql.Identifier(raw_schema, DESTINATION_STATE_TABLE))


def create_raw_table(raw: TableName) -> Statement:
    """§3.7 createTableQueryV2 + postCreateTableQueries (generation id as the newer CDK adds it)."""
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {table} (\n"
        "  _airbyte_raw_id VARCHAR PRIMARY KEY,\n"
        "  _airbyte_data JSONB,\n"
        "  _airbyte_extracted_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,\n"
        "  _airbyte_loaded_at TIMESTAMP WITH TIME ZONE DEFAULT NULL,\n"
        "  _airbyte_meta JSONB,\n"
        "  _airbyte_generation_id BIGINT\n"
        ");\n"
        "CREATE INDEX IF NOT EXISTS {raw_id} ON {table}(_airbyte_raw_id);\n"
        "CREATE INDEX IF NOT EXISTS {extracted_at} ON {table}(_airbyte_extracted_at);\n"
        "CREATE INDEX IF NOT EXISTS {loaded_at} ON {table}(_airbyte_loaded_at, _airbyte_extracted_at);"
    ).format(
        table=raw.identifier,
        raw_id=sql.Identifier(raw.name + "_raw_id"),
        extracted_at=sql.Identifier(raw.name + "_extracted_at"),
        loaded_at=sql.Identifier(raw.name + "_loaded_at"),
    )


def truncate_table(table: TableName) -> Statement:
    return sql.SQL("TRUNCATE TABLE {};").format(table.identifier)


def raw_copy(raw: TableName) -> Statement:
    """§3.7: raw records are COPYed with an explicit column list."""
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in RAW_COPY_COLUMNS)
    return sql.SQL("COPY {} ({}) FROM stdin DELIMITER ',' CSV").format(raw.identifier, columns)


def create_final_table(final: TableName, *, force: bool, dedupe: bool, drop_cascade: bool) -> Statement:
    """§3.7 createTable: data columns first; jOOQ indexes without names (PG names them)."""
    declarations = [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type)) for c in TASK_COLUMNS]
    declarations += [
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(column_type))
        for name, column_type in TYPED_FINAL_AIRBYTE_COLUMNS
    ]
    indexes = []
    if dedupe:
        indexes.append(
            sql.SQL('CREATE INDEX ON {} ({}, "_airbyte_extracted_at");').format(
                final.identifier, sql.Identifier(TASK_PRIMARY_KEY)
            )
        )
    indexes.append(sql.SQL('CREATE INDEX ON {} ("_airbyte_extracted_at");').format(final.identifier))
    indexes.append(sql.SQL('CREATE INDEX ON {} ("_airbyte_raw_id");').format(final.identifier))
    drop = drop_table(final, drop_cascade=drop_cascade) if force else sql.SQL("")
    return sql.SQL("BEGIN;\n{drop}\nCREATE TABLE {table} (\n  {columns}\n);\n{indexes}\nCOMMIT;").format(
        drop=drop,
        table=final.identifier,
        columns=sql.SQL(",\n  ").join(declarations),
        indexes=sql.SQL("\n").join(indexes),
    )


def _extract_typed(column: StreamColumn) -> Statement:
    """§3.7 castedField: strings rendered with `#>> '{}'`, objects/arrays kept only when of that type."""
    extracted = sql.SQL('("_airbyte_data" -> {})').format(sql.Literal(column.name))
    if column.json_kind == "string":
        return sql.SQL("{} #>> '{{}}' AS {}").format(extracted, sql.Identifier(column.name))
    return sql.SQL(
        "CAST(CASE WHEN {e} IS NULL OR JSONB_TYPEOF({e}) <> {kind} THEN NULL ELSE {e} END AS jsonb) AS {n}"
    ).format(e=extracted, kind=sql.Literal(column.json_kind), n=sql.Identifier(column.name))


def _typecast_error(column: StreamColumn) -> Statement:
    """§3.7 `<typecast-error objects>`: a NULLED change for an object/array column holding another type."""
    extracted = sql.SQL('("_airbyte_data" -> {})').format(sql.Literal(column.name))
    return sql.SQL(
        "CASE WHEN {e} IS NOT NULL AND JSONB_TYPEOF({e}) NOT IN ({kind}, 'null') THEN JSONB_BUILD_OBJECT("
        "'field', {name}, 'change', 'NULLED', 'reason', 'DESTINATION_TYPECAST_ERROR') ELSE NULL END"
    ).format(e=extracted, kind=sql.Literal(column.json_kind), name=sql.Literal(column.name))


def type_and_dedupe(raw: TableName, final: TableName, *, dedupe: bool) -> Statement:
    """§3.7 insertAndDeleteTransaction: type the raw rows not yet loaded into `final`, then mark them."""
    final_columns = [c.name for c in TASK_COLUMNS] + [name for name, _ in TYPED_FINAL_AIRBYTE_COLUMNS]
    column_list = sql.SQL(", ").join(sql.Identifier(n) for n in final_columns)
    # String columns can never carry a typecast error, so only object/array columns contribute; the
    # NULLs of rows without error are removed so `changes` lists real changes only.
    errors = sql.SQL(", ").join(_typecast_error(c) for c in TASK_COLUMNS if c.json_kind != "string")
    meta = sql.SQL(
        "JSONB_BUILD_OBJECT('changes', ARRAY_REMOVE(ARRAY_CAT(ARRAY[{}],"
        " ARRAY(SELECT jsonb_array_elements_text(\"_airbyte_meta\"#>'{{changes}}'))::jsonb[]), NULL),"
        " 'sync_id', \"_airbyte_meta\"#>'{{sync_id}}') AS \"_airbyte_meta\""
    ).format(errors)
    typed = sql.SQL(",\n    ").join(
        [_extract_typed(c) for c in TASK_COLUMNS]
        + [
            sql.SQL('"_airbyte_raw_id"'),
            sql.SQL('"_airbyte_extracted_at"'),
            meta,
            sql.SQL('"_airbyte_generation_id"'),
        ]
    )
    numbered: Statement = sql.SQL("")
    source = sql.SQL("intermediate_data")
    delete_older: Statement = sql.SQL("")
    if dedupe:  # keep the newest row per id, then delete the older ones already in the table
        numbered = sql.SQL(
            ",\nnumbered_rows AS (SELECT *, row_number() OVER (PARTITION BY {pk}"
            ' ORDER BY "_airbyte_extracted_at" DESC) AS row_number FROM intermediate_data)'
        ).format(pk=sql.Identifier(TASK_PRIMARY_KEY))
        source = sql.SQL("numbered_rows WHERE row_number = 1")
        delete_older = sql.SQL(
            '\nDELETE FROM {final} WHERE "_airbyte_raw_id" IN (SELECT "_airbyte_raw_id" FROM ('
            'SELECT "_airbyte_raw_id", row_number() OVER (PARTITION BY {pk} ORDER BY "_airbyte_extracted_at"'
            " DESC) AS row_number FROM {final}) airbyte_ids WHERE row_number <> 1);"
        ).format(final=final.identifier, pk=sql.Identifier(TASK_PRIMARY_KEY))
    return sql.SQL(
        "BEGIN;\n"
        "INSERT INTO {final} ({columns})\n"
        "WITH intermediate_data AS (\n"
        "  SELECT\n    {typed}\n"
        "  FROM {raw}\n"
        '  WHERE "_airbyte_loaded_at" IS NULL\n'
        "){numbered}\n"
        "SELECT {columns} FROM {source};{delete_older}\n"
        'UPDATE {raw} SET "_airbyte_loaded_at" = current_timestamp WHERE "_airbyte_loaded_at" IS NULL;\n'
        "COMMIT;"
    ).format(
        final=final.identifier,
        columns=column_list,
        typed=typed,
        raw=raw.identifier,
        numbered=numbered,
        source=source,
        delete_older=delete_older,
    )


def clear_loaded_at(raw: TableName) -> Statement:
    """§3.7 soft reset: every raw row is typed again into the rebuilt table."""
    return sql.SQL('UPDATE {} SET "_airbyte_loaded_at" = NULL;').format(raw.identifier)


def overwrite_raw_table(raw: TableName, *, drop_cascade: bool) -> Statement:
    """§3.7 overwriteRawTable: `DROP TABLE` (no IF EXISTS) and RENAME in one transaction."""
    return sql.SQL("BEGIN;\nDROP TABLE {}{};\nALTER TABLE {} RENAME TO {};\nCOMMIT;").format(
        raw.identifier,
        cascade_clause(drop_cascade),
        raw.with_suffix(q.TMP_TABLE_SUFFIX).identifier,
        sql.Identifier(raw.name),
    )


def overwrite_final_lock(final: TableName, *, drop_cascade: bool) -> Statement:
    """First half of §3.7 overwriteFinalTable: after it the final table is held ACCESS EXCLUSIVE."""
    return sql.SQL("BEGIN;\n{}").format(drop_table(final, drop_cascade=drop_cascade))


def overwrite_final_finish(source: TableName, final: TableName) -> Statement:
    return sql.SQL("ALTER TABLE {} RENAME TO {};\nCOMMIT;").format(
        source.identifier, sql.Identifier(final.name)
    )
