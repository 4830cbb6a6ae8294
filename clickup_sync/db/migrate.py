"""Forward-only, versioned migrations.

Each file `migrations/NNNN_name.sql` is applied once, in order, inside one transaction that holds an
advisory lock, so replicas starting together apply each migration exactly once and the others wait
and then find nothing to do. `{schema}` in a file stands for the quoted `SYNC_SCHEMA`.
Applied files are checksummed: editing a migration that has run is an error, not a silent drift.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql

from clickup_sync.db.connection import connect
from clickup_sync.errors import MigrationError
from clickup_sync.queue.schema import ensure_queue_schema

log = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same for every replica of this service.
_ADVISORY_LOCK_NAMESPACE = "clickup_sync.migrate"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    body: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.body.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationStatus:
    applied: list[int]
    pending: list[int]
    latest: int

    @property
    def current(self) -> bool:
        return not self.pending


def available_migrations() -> list[Migration]:
    """The migrations shipped with this code, in order."""
    folder = resources.files("clickup_sync.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration versions must run 1..N without gaps, found {versions}")
    return found


def migrate(dsn: str, schema: str, *, target: int | None = None) -> list[int]:
    """Bring `schema` up to `target` (default: the latest). Returns the versions applied now."""
    migrations = [m for m in available_migrations() if target is None or m.version <= target]
    with connect(dsn) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{_ADVISORY_LOCK_NAMESPACE}:{schema}",))
        _ensure_bookkeeping(conn, schema)
        applied = _applied_checksums(conn, schema)
        _check_history(applied, migrations)
        done = []
        quoted_schema = sql.Identifier(schema).as_string(conn)
        for migration in migrations:
            if migration.version in applied:
                continue
            log.info("applying migration %04d_%s", migration.version, migration.name)
            conn.execute(migration.body.replace("{schema}", quoted_schema).encode())
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)"
                ).format(sql.Identifier(schema)),
                (migration.version, migration.name, migration.checksum),
            )
            done.append(migration.version)
        if target is None:
            # procrastinate's objects come last: they need service_state (migration 1).
            ensure_queue_schema(conn, schema)
        return done


def migration_status(conn: psycopg.Connection, schema: str) -> MigrationStatus:
    """What is applied and what is pending, without changing anything."""
    known = available_migrations()
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.schema_migrations",)).fetchone()
    applied = sorted(_applied_checksums(conn, schema)) if exists and exists[0] else []
    pending = [m.version for m in known if m.version not in applied]
    return MigrationStatus(applied=applied, pending=pending, latest=known[-1].version if known else 0)


def _ensure_bookkeeping(conn: psycopg.Connection, schema: str) -> None:
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {}.schema_migrations (
                 version    integer PRIMARY KEY,
                 name       text NOT NULL,
                 checksum   text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now())"""
        ).format(sql.Identifier(schema))
    )


def _applied_checksums(conn: psycopg.Connection, schema: str) -> dict[int, str]:
    rows = conn.execute(
        sql.SQL("SELECT version, checksum FROM {}.schema_migrations").format(sql.Identifier(schema))
    ).fetchall()
    return {version: checksum for version, checksum in rows}


def _check_history(applied: dict[int, str], migrations: list[Migration]) -> None:
    known = {m.version: m for m in available_migrations()}
    newest_known = max(known, default=0)
    for version, checksum in applied.items():
        if version > newest_known:
            raise MigrationError(
                f"the database has migration {version}, newer than this code knows ({newest_known}); "
                "run a newer clickup-sync"
            )
        if known[version].checksum != checksum:
            raise MigrationError(
                f"migration {version:04d}_{known[version].name} changed after it was applied; "
                "migrations are forward-only: add a new one instead"
            )
