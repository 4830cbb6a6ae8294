"""Shared fixtures: a real PostgreSQL for every test that needs one.

`TEST_DATABASE_URL` names a server to use (CI and the development machines have one on
127.0.0.1:5432); without it an embedded server is started once for the whole run. A template
database with every migration applied is built once per run, and each test gets a fresh copy
(`CREATE DATABASE … TEMPLATE …` takes a few milliseconds).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from clickup_sync.db.connection import with_database_name
from clickup_sync.db.embedded import start_embedded_postgres
from clickup_sync.db.migrate import migrate

SCHEMA = "clickup_sync"
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_server_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A DSN of a server where the tests may create and drop databases."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    # Kept under the repo's .cache so a second run reuses the initialised data folder.
    server = start_embedded_postgres(REPO_ROOT / ".cache" / "test-postgres")
    try:
        yield server.dsn
    finally:
        server.stop()


def _admin(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True)


def create_database(server_dsn: str, name: str, template: str | None = None) -> str:
    with _admin(server_dsn) as conn:
        clause = (
            psycopg.sql.SQL(" TEMPLATE {}").format(psycopg.sql.Identifier(template))
            if template
            else psycopg.sql.SQL("")
        )
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}{}").format(psycopg.sql.Identifier(name), clause))
    return with_database_name(server_dsn, name)


def drop_database(server_dsn: str, name: str) -> None:
    with _admin(server_dsn) as conn:
        conn.execute(
            psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def template_database(postgres_server_dsn: str) -> Iterator[str]:
    """The name of a database holding the latest schema, to copy for each test."""
    name = f"cus_template_{uuid.uuid4().hex[:10]}"
    dsn = create_database(postgres_server_dsn, name)
    migrate(dsn, SCHEMA)
    try:
        yield name
    finally:
        drop_database(postgres_server_dsn, name)


@pytest.fixture
def database_url(postgres_server_dsn: str, template_database: str) -> Iterator[str]:
    """A fresh database with the service's schema at the latest migration."""
    name = f"cus_test_{uuid.uuid4().hex[:12]}"
    dsn = create_database(postgres_server_dsn, name, template=template_database)
    try:
        yield dsn
    finally:
        drop_database(postgres_server_dsn, name)


@pytest.fixture
def empty_database_url(postgres_server_dsn: str) -> Iterator[str]:
    """A fresh, empty database (no schema applied)."""
    name = f"cus_empty_{uuid.uuid4().hex[:12]}"
    dsn = create_database(postgres_server_dsn, name)
    try:
        yield dsn
    finally:
        drop_database(postgres_server_dsn, name)
