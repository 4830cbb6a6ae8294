"""The stream's columns, the table names, and the 3.x Direct Load SQL of Airbyte's destination-postgres.

Spec: /work/shared/reference/airbyte.md §1.6 (columns), §3.2 (names), §3.3–§3.5 (3.x DDL and SQL); the
2.x SQL lives in `destination_typing_deduping`. Statements the destination sends as one string with
`BEGIN TRANSACTION; … COMMIT;` stay one string, so `pg_stat_activity` shows what it shows under real
Airbyte (§4.4). Identifiers are composed with `psycopg.sql`; the only literals are our own constants.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from psycopg import sql

JsonKind = Literal["string", "object", "array"]
Statement = sql.SQL | sql.Composed  # what psycopg executes

TASK_STREAM_NAME = "task"
TASK_PRIMARY_KEY = "id"  # source-defined primary key of the task stream (§1.3)
TMP_TABLE_SUFFIX = "_airbyte_tmp"


@dataclass(frozen=True)
class StreamColumn:
    """One declared top-level property of the stream and the column it becomes."""

    name: str
    json_kind: JsonKind

    @property
    def pg_type(self) -> str:
        # §3.3 toDialectType: string → varchar; object/array → jsonb (2.x is the same, §3.7).
        return "varchar" if self.json_kind == "string" else "jsonb"


# §1.6: the 21 properties the task schema declares, in schema order. Undeclared ones never become columns.
TASK_COLUMNS: tuple[StreamColumn, ...] = (
    StreamColumn("assignees", "array"),
    StreamColumn("checklists", "array"),
    StreamColumn("creator", "object"),
    StreamColumn("date_closed", "string"),
    StreamColumn("date_created", "string"),
    StreamColumn("date_updated", "string"),
    StreamColumn("due_date", "string"),
    StreamColumn("folder", "object"),
    StreamColumn("id", "string"),
    StreamColumn("list", "object"),
    StreamColumn("name", "string"),
    StreamColumn("orderindex", "string"),
    StreamColumn("parent", "string"),
    StreamColumn("priority", "object"),
    StreamColumn("space", "object"),
    StreamColumn("start_date", "string"),
    StreamColumn("status", "object"),
    StreamColumn("tags", "array"),
    StreamColumn("time_estimate", "string"),
    StreamColumn("time_spent", "string"),
    StreamColumn("url", "string"),
)

# §3.3: the four Airbyte columns of a 3.x final table, in DDL order.
DIRECT_LOAD_AIRBYTE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_airbyte_raw_id", "varchar NOT NULL"),
    ("_airbyte_extracted_at", "timestamp with time zone NOT NULL"),
    ("_airbyte_meta", "jsonb NOT NULL"),
    ("_airbyte_generation_id", "bigint NOT NULL"),
)
AIRBYTE_COLUMN_NAMES = frozenset(name for name, _ in DIRECT_LOAD_AIRBYTE_COLUMNS)


@dataclass(frozen=True)
class TableName:
    namespace: str
    name: str

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.namespace, self.name)

    def with_suffix(self, suffix: str) -> TableName:
        return TableName(self.namespace, self.name + suffix)

    def __str__(self) -> str:
        return f"{self.namespace}.{self.name}"


# ---------------------------------------------------------------------------------------------- names


def postgres_compatible_name(name: str) -> str:
    """§3.2 `toPostgresCompatibleName()`: other characters → `_`, a leading digit gets `_`; case kept."""
    compatible = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if compatible[:1].isdigit():
        compatible = "_" + compatible
    if len(compatible) > 63:
        # Airbyte then keeps 54 chars + `_` + 8 digits of a JVM hashCode; no ClickUp table needs it.
        raise ValueError(f"table name {compatible!r} is longer than 63 characters; not reproduced")
    return compatible


def concatenate_raw_table_name(namespace: str, name: str) -> str:
    """§3.2 `TypingDedupingUtil.concatenateRawTableName`: `<ns>_raw<underscores>stream_<name>` where the
    underscore run is one longer than the longest run in namespace+name (at least 2)."""
    longest_run = max((len(run) for run in re.findall(r"_+", namespace + name)), default=0)
    underscores = "_" * (max(longest_run, 1) + 1)
    return f"{namespace}_raw{underscores}stream_{name}"


def _first_and_last_chars(text: str, count: int = 8) -> str:
    return text if len(text) <= 2 * count else text[:count] + text[-count:]


def direct_load_temp_table_name(namespace: str, name: str) -> str:
    """§3.4 `DefaultTempTableNameGenerator`: first8+last8 of namespace and of name, then the first 32 hex
    digits of sha256(concatenateRawTableName(namespace, name + "_airbyte_tmp"))."""
    digest = hashlib.sha256(concatenate_raw_table_name(namespace, name + TMP_TABLE_SUFFIX).encode())
    return _first_and_last_chars(namespace) + _first_and_last_chars(name) + digest.hexdigest()[:32]


# ------------------------------------------------------------------------------------ catalog queries

TABLE_OID = (
    "SELECT c.oid::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')"
)
# §3.3 describeTable. Airbyte sends no ORDER BY and relies on the catalog answering in column order,
# which a list-less COPY needs; the ORDER BY makes that reliance deterministic here.
DESCRIBE_TABLE = (
    "SELECT column_name, data_type, is_nullable, udt_name FROM information_schema.columns"
    " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position"
)
# §3.5 getIndexColumns: the columns of a named index, in index order.
INDEX_COLUMNS = (
    "SELECT a.attname AS column_name FROM pg_index i"
    " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
    " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relname = %s AND n.nspname = %s ORDER BY array_position(i.indkey, a.attnum)"
)


def create_schema(namespace: str) -> sql.Composed:
    return sql.SQL("CREATE SCHEMA IF NOT EXISTS {};").format(sql.Identifier(namespace))


def count_rows(table: TableName) -> sql.Composed:
    return sql.SQL('SELECT COUNT(*) AS "total" FROM {};').format(table.identifier)


def first_generation_id(table: TableName) -> sql.Composed:
    """§3.4: the loaders look at the generation id of the first row only."""
    return sql.SQL('SELECT "_airbyte_generation_id" FROM {} LIMIT 1;').format(table.identifier)


def max_sync_and_generation(table: TableName) -> sql.Composed:
    """Where the simulator keeps its counters: in the rows Airbyte itself wrote (§4.4)."""
    return sql.SQL(
        'SELECT max(("_airbyte_meta"->>\'sync_id\')::bigint), max("_airbyte_generation_id") FROM {};'
    ).format(table.identifier)


def cascade_clause(drop_cascade: bool) -> sql.SQL:
    return sql.SQL(" CASCADE" if drop_cascade else "")


def drop_table(table: TableName, *, drop_cascade: bool) -> sql.Composed:
    return sql.SQL("DROP TABLE IF EXISTS {}{};").format(table.identifier, cascade_clause(drop_cascade))


# ------------------------------------------------------------------------------- 3.x Direct Load SQL


def _direct_load_column_list() -> sql.Composed:
    names = [name for name, _ in DIRECT_LOAD_AIRBYTE_COLUMNS] + [c.name for c in TASK_COLUMNS]
    return sql.SQL(", ").join(sql.Identifier(name) for name in names)


def direct_load_create_table(table: TableName, *, replace: bool, drop_cascade: bool) -> sql.Composed:
    """§3.3 createTable: one transaction; the DROP only when `replace`."""
    declarations = [
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(column_type))
        for name, column_type in DIRECT_LOAD_AIRBYTE_COLUMNS
    ] + [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type)) for c in TASK_COLUMNS]
    drop = drop_table(table, drop_cascade=drop_cascade) if replace else sql.SQL("")
    return sql.SQL(
        "BEGIN TRANSACTION;\n{drop}\nCREATE TABLE IF NOT EXISTS {table} (\n  {columns}\n);\nCOMMIT;"
    ).format(drop=drop, table=table.identifier, columns=sql.SQL(",\n  ").join(declarations))


def primary_key_index_name(table: TableName) -> str:
    # Derived from the table's name when it is created, so a swapped-in temp table keeps its own (§3.3).
    return "idx_pk_" + table.name


def direct_load_create_indexes(table: TableName, *, dedupe: bool) -> sql.Composed:
    """§3.3: run after the CREATE TABLE transaction; the pk index only for dedupe streams."""
    statements = []
    if dedupe:
        statements.append(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({});").format(
                sql.Identifier(primary_key_index_name(table)),
                table.identifier,
                sql.Identifier(TASK_PRIMARY_KEY),
            )
        )
    statements.append(
        sql.SQL('CREATE INDEX IF NOT EXISTS {} ON {} ("_airbyte_extracted_at");').format(
            sql.Identifier("idx_extracted_at_" + table.name), table.identifier
        )
    )
    return sql.SQL("\n").join(statements)


def direct_load_copy(table: TableName) -> sql.Composed:
    """§3.3: no column list — the CSV carries one field per column of `information_schema`."""
    return sql.SQL("COPY {} FROM STDIN WITH (FORMAT csv)").format(table.identifier)


def direct_load_overwrite_lock(target: TableName, *, drop_cascade: bool) -> sql.Composed:
    """First half of §3.4 overwriteTable: after it, the old table is held ACCESS EXCLUSIVE (§3.9)."""
    return sql.SQL("BEGIN TRANSACTION;\n{}").format(drop_table(target, drop_cascade=drop_cascade))


def direct_load_overwrite_finish(source: TableName, target: TableName) -> sql.Composed:
    """Second half of §3.4 overwriteTable: rename, move to the final schema when it differs, commit."""
    move: Statement = sql.SQL("")
    if source.namespace != target.namespace:
        move = sql.SQL("ALTER TABLE {} SET SCHEMA {};").format(
            sql.Identifier(source.namespace, target.name), sql.Identifier(target.namespace)
        )
    return sql.SQL("ALTER TABLE {} RENAME TO {};\n{}\nCOMMIT;").format(
        source.identifier, sql.Identifier(target.name), move
    )


def direct_load_copy_table(source: TableName, target: TableName) -> sql.Composed:
    """§3.4 Append: a leftover temp table is copied into the real table at stream start."""
    columns = _direct_load_column_list()
    return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {};").format(
        target.identifier, columns, columns, source.identifier
    )


def direct_load_upsert(source: TableName, target: TableName) -> sql.Composed:
    """§3.4 upsertTable for a primary key `id`, no cursor and no CDC column (the ClickUp case)."""
    names = [name for name, _ in DIRECT_LOAD_AIRBYTE_COLUMNS] + [c.name for c in TASK_COLUMNS]
    target_id = sql.SQL("{}.{}").format(target.identifier, sql.Identifier(TASK_PRIMARY_KEY))
    pk_match = sql.SQL("{} = deduped_source.{}").format(target_id, sql.Identifier(TASK_PRIMARY_KEY))
    assignments = sql.SQL(",\n    ").join(
        sql.SQL("{} = deduped_source.{}").format(sql.Identifier(n), sql.Identifier(n)) for n in names
    )
    return sql.SQL(
        "WITH deduped_source AS (\n"
        "  SELECT {columns}\n"
        "  FROM (\n"
        "    SELECT *,\n"
        '      ROW_NUMBER() OVER (PARTITION BY {pk} ORDER BY "_airbyte_extracted_at" DESC) AS row_number\n'
        "    FROM {source}\n"
        "  ) AS deduplicated\n"
        "  WHERE row_number = 1\n"
        "),\n"
        "updates AS (\n"
        "  UPDATE {target}\n"
        "  SET\n    {assignments}\n"
        "  FROM deduped_source\n"
        "  WHERE {pk_match}\n"
        '    AND ({target}."_airbyte_extracted_at" < deduped_source."_airbyte_extracted_at")\n'
        ")\n"
        "INSERT INTO {target} ({columns})\n"
        "SELECT {columns}\n"
        "FROM deduped_source\n"
        "WHERE NOT EXISTS (SELECT 1 FROM {target} WHERE {pk_match})"
    ).format(
        columns=_direct_load_column_list(),
        pk=sql.Identifier(TASK_PRIMARY_KEY),
        source=source.identifier,
        target=target.identifier,
        assignments=assignments,
        pk_match=pk_match,
    )


def direct_load_match_schemas(
    table: TableName,
    *,
    add: list[StreamColumn],
    drop: list[str],
    modify: list[tuple[StreamColumn, str]],
    recreate_primary_key_index: bool,
    drop_cascade: bool,
) -> sql.Composed:
    """§3.5 ensureSchemaMatches: one transaction (sent even when it holds no change, as Airbyte does)."""
    qualified = table.identifier
    clauses = [
        sql.SQL("ALTER TABLE {} ADD COLUMN {} {};").format(
            qualified, sql.Identifier(c.name), sql.SQL(c.pg_type)
        )
        for c in add
    ]
    clauses += [
        sql.SQL("ALTER TABLE {} DROP COLUMN {}{};").format(
            qualified, sql.Identifier(n), cascade_clause(drop_cascade)
        )
        for n in drop
    ]
    for column, old_type in modify:
        name = sql.Identifier(column.name)
        if column.pg_type == "jsonb":
            using = sql.SQL("to_jsonb({})").format(name)
        elif old_type == "jsonb":
            using = sql.SQL("{} #>> '{{}}'").format(name)
        else:
            using = sql.SQL("{}::{}").format(name, sql.SQL(column.pg_type))
        clauses.append(
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {};").format(
                qualified, name, sql.SQL(column.pg_type), using
            )
        )
    if recreate_primary_key_index:
        index_name = primary_key_index_name(table)
        clauses.append(
            sql.SQL("DROP INDEX IF EXISTS {}{};\nCREATE INDEX IF NOT EXISTS {} ON {} ({});").format(
                sql.Identifier(table.namespace, index_name),
                cascade_clause(drop_cascade),
                sql.Identifier(index_name),
                qualified,
                sql.Identifier(TASK_PRIMARY_KEY),
            )
        )
    return sql.SQL("BEGIN TRANSACTION;\n{}\nCOMMIT;").format(sql.SQL("\n").join(clauses))
