"""`/healthz` (the process answers) and `/readyz` (database reachable, schema current)."""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg_pool import PoolTimeout
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clickup_sync.db.migrate import available_migrations
from clickup_sync.runtime import ServiceRuntime


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def readyz_endpoint(runtime: ServiceRuntime):  # type: ignore[no-untyped-def]
    latest = available_migrations()[-1].version

    async def readyz(request: Request) -> Response:
        try:
            async with runtime.pool.connection(timeout=2.0) as conn:
                row = await (
                    await conn.execute(
                        sql.SQL("SELECT max(version) FROM {}.schema_migrations").format(
                            sql.Identifier(runtime.schema)
                        )
                    )
                ).fetchone()
        except (psycopg.Error, PoolTimeout) as exc:
            return JSONResponse(
                {"status": "unavailable", "database": str(exc).splitlines()[0]}, status_code=503
            )
        applied = row[0] if row else None
        if applied != latest:
            return JSONResponse(
                {"status": "unavailable", "migrations": {"applied": applied, "expected": latest}},
                status_code=503,
            )
        return JSONResponse({"status": "ready", "migrations": {"applied": applied}})

    return readyz
