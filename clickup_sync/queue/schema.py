"""procrastinate's tables, functions and types, created inside SYNC_SCHEMA.

procrastinate's SQL uses unqualified names, so it is applied (and later run) with `search_path` set
to our schema: every object the service creates stays in SYNC_SCHEMA. The schema is applied by
`clickup-sync migrate`, under the same advisory lock as our own migrations.
"""

from __future__ import annotations

import importlib.metadata

import psycopg
from procrastinate.schema import SchemaManager
from psycopg import sql
from psycopg.types.json import Jsonb

from clickup_sync.errors import MigrationError

_STATE_KEY = "procrastinate_schema"


def search_path_options(schema: str) -> str:
    """libpq `options` that make procrastinate's unqualified names resolve in our schema."""
    return f"-c search_path={schema},public"


def ensure_queue_schema(conn: psycopg.Connection, schema: str) -> bool:
    """Create procrastinate's schema in `schema` once; True when it was created now.

    Call inside the migration transaction (it changes `search_path` for that transaction only)."""
    installed = importlib.metadata.version("procrastinate")
    row = conn.execute(
        sql.SQL("SELECT value->>'version' FROM {}.service_state WHERE key = %s").format(
            sql.Identifier(schema)
        ),
        (_STATE_KEY,),
    ).fetchone()
    if row is not None:
        applied_major = row[0].split(".")[0]
        if applied_major != installed.split(".")[0]:
            raise MigrationError(
                f"the job queue schema was created by procrastinate {row[0]}, this code uses {installed}; "
                "apply procrastinate's migrations between them first"
            )
        return False
    conn.execute(sql.SQL("SET LOCAL search_path = {}, public").format(sql.Identifier(schema)))
    conn.execute(SchemaManager.get_schema().encode())
    conn.execute(
        sql.SQL("INSERT INTO {}.service_state (key, value) VALUES (%s, %s)").format(sql.Identifier(schema)),
        (_STATE_KEY, Jsonb({"version": installed})),
    )
    conn.execute("RESET search_path")
    return True
