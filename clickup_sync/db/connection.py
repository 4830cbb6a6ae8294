"""Resolve which PostgreSQL to use and open connections to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from clickup_sync.db.embedded import EmbeddedPostgres, start_embedded_postgres
from clickup_sync.errors import DatabaseUnavailable
from clickup_sync.settings import Settings


@dataclass
class Database:
    """Where the service's data lives: a DSN, and the embedded server if we started one."""

    dsn: str
    schema: str
    embedded: EmbeddedPostgres | None = field(default=None, repr=False)

    def describe(self) -> str:
        """Where the data is, for humans, without the password."""
        if self.embedded is not None:
            return f"embedded PostgreSQL, data in {self.embedded.data_dir}"
        params = conninfo_to_dict(self.dsn)
        host = params.get("host", "localhost")
        return f"PostgreSQL at {host}:{params.get('port', 5432)}, database {params.get('dbname', '?')}"

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None

    def schema_identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema)


def open_database(settings: Settings) -> Database:
    """The configured database, or an embedded one under `DATA_DIR` when none is configured."""
    dsn = settings.database_dsn()
    if dsn is not None:
        return Database(dsn=dsn, schema=settings.sync_schema)
    embedded = start_embedded_postgres(settings.data_dir / "postgres")
    return Database(dsn=embedded.dsn, schema=settings.sync_schema, embedded=embedded)


def with_database_name(dsn: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    return make_conninfo(dsn, dbname=dbname)


@contextmanager
def connect(dsn: str, *, autocommit: bool = False, connect_timeout: int = 10) -> Iterator[psycopg.Connection]:
    """A short-lived synchronous connection; raises `DatabaseUnavailable` when the server is down."""
    try:
        conn = psycopg.connect(dsn, autocommit=autocommit, connect_timeout=connect_timeout)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {_first_line(exc)}") from exc
    try:
        yield conn
    finally:
        conn.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
