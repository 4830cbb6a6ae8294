"""Migrations: forward-only, applied once under an advisory lock, same result fresh or upgraded."""

from __future__ import annotations

import threading

import psycopg
import pytest

from clickup_sync.db.migrate import available_migrations, migrate, migration_status
from clickup_sync.errors import MigrationError

SCHEMA = "clickup_sync"


def _schema_shape(dsn: str, schema: str) -> dict[str, list[tuple[object, ...]]]:
    with psycopg.connect(dsn) as conn:
        return {
            "columns": conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable, column_default "
                "FROM information_schema.columns WHERE table_schema = %s ORDER BY 1, 2",
                (schema,),
            ).fetchall(),
            "indexes": conn.execute(
                "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = %s ORDER BY 1, 2", (schema,)
            ).fetchall(),
            "constraints": conn.execute(
                "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE connamespace = %s::regnamespace ORDER BY 1, 2",
                (schema,),
            ).fetchall(),
            "views": conn.execute(
                "SELECT table_name, view_definition FROM information_schema.views "
                "WHERE table_schema = %s ORDER BY 1",
                (schema,),
            ).fetchall(),
        }


def test_fresh_and_upgraded_databases_end_with_the_same_schema(
    empty_database_url: str, database_url: str
) -> None:
    # database_url was built from the template in one go; upgrade the empty one step by step.
    for version in range(1, len(available_migrations())):
        migrate(empty_database_url, SCHEMA, target=version)
    migrate(empty_database_url, SCHEMA)  # the upgrade to the latest, as `clickup-sync migrate` runs it
    assert _schema_shape(empty_database_url, SCHEMA) == _schema_shape(database_url, SCHEMA)


def test_rerun_is_a_no_op(database_url: str) -> None:
    assert migrate(database_url, SCHEMA) == []
    with psycopg.connect(database_url) as conn:
        status = migration_status(conn, SCHEMA)
    assert status.current
    assert status.applied == [m.version for m in available_migrations()]


def test_replicas_starting_together_apply_each_migration_once(empty_database_url: str) -> None:
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate(empty_database_url, SCHEMA))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    every_version = [m.version for m in available_migrations()]
    assert sorted(v for applied in results for v in applied) == every_version  # each exactly once
    with psycopg.connect(empty_database_url) as conn:
        count = conn.execute(f"SELECT count(*) FROM {SCHEMA}.schema_migrations").fetchone()
    assert count == (len(every_version),)


def test_custom_schema_name_keeps_everything_inside_it(empty_database_url: str) -> None:
    migrate(empty_database_url, "analytics_sync")
    with psycopg.connect(empty_database_url) as conn:
        schemas = {
            row[0]
            for row in conn.execute(
                "SELECT table_schema FROM information_schema.tables WHERE table_schema NOT IN "
                "('pg_catalog', 'information_schema')"
            )
        }
    assert schemas == {"analytics_sync"}


def test_edited_migration_is_refused(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(f"UPDATE {SCHEMA}.schema_migrations SET checksum = 'tampered' WHERE version = 1")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(database_url, SCHEMA)


def test_database_newer_than_the_code_is_refused(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            f"INSERT INTO {SCHEMA}.schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')"
        )
    with pytest.raises(MigrationError, match="newer than this code"):
        migrate(database_url, SCHEMA)


AIRBYTE_3X_TASK_TABLE = """
CREATE TABLE public.clickup_task (
  "_airbyte_raw_id" varchar NOT NULL, "_airbyte_extracted_at" timestamp with time zone NOT NULL,
  "_airbyte_meta" jsonb NOT NULL, "_airbyte_generation_id" bigint NOT NULL,
  "assignees" jsonb, "id" varchar, "name" varchar, "status" jsonb, "date_updated" varchar
)"""


def test_schema_never_depends_on_airbytes_table(empty_database_url: str) -> None:
    """Airbyte drops and renames its table on every overwrite sync (airbyte.md §3.9): nothing of ours may
    depend on it, or its DROP TABLE fails and the sync with it."""
    with psycopg.connect(empty_database_url) as conn:
        conn.execute(AIRBYTE_3X_TASK_TABLE)
    migrate(empty_database_url, SCHEMA)
    with psycopg.connect(empty_database_url) as conn:
        dependents = conn.execute(
            "SELECT classid::regclass, objid FROM pg_depend WHERE refobjid = 'public.clickup_task'::regclass "
            "AND deptype = 'n'"
        ).fetchall()
        assert dependents == []
        # Airbyte's overwrite swap, exactly as destination-postgres 3.x runs it (without CASCADE).
        conn.execute("CREATE TABLE public.clickup_task_tmp (LIKE public.clickup_task)")
        conn.execute("DROP TABLE public.clickup_task")
        conn.execute("ALTER TABLE public.clickup_task_tmp RENAME TO clickup_task")
