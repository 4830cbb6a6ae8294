"""The record of Airbyte syncs (`airbyte_syncs`) and of the last look at each Airbyte table
(`airbyte_observations`), migration 0005. Statements only; the decisions are in `sync_decisions`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection, sql

from clickup_sync.airbyte.sync_decisions import EndedSync, Observation, OpenSync, SyncChange
from clickup_sync.db.params import json_param

SYNC_COLUMNS = (
    "id, airbyte_table, started_at, ended_at, detected_by, outcome, sync_id, job_id,"
    " table_oid_before, table_oid_after, records, last_seen_at, details"
)
OBSERVATION_COLUMNS = (
    "observed_at, table_oid, max_extracted_at, max_generation_id, max_sync_id, row_estimate,"
    " staging_fingerprint, staging_changed_at"
)
QUERIES: dict[str, str] = {
    "ensure_observation": (
        "INSERT INTO {schema}.airbyte_observations (airbyte_table) VALUES (%(table)s)"
        " ON CONFLICT (airbyte_table) DO NOTHING"
    ),
    # Every writer of this table's syncs takes this row lock first: one decision at a time.
    "lock_observation": (
        f"SELECT {OBSERVATION_COLUMNS} FROM {{schema}}.airbyte_observations"
        " WHERE airbyte_table = %(table)s FOR UPDATE"
    ),
    "save_observation": """
        UPDATE {schema}.airbyte_observations
        SET observed_at = %(observed_at)s, table_oid = %(table_oid)s, max_extracted_at = %(max_extracted_at)s,
            max_generation_id = %(max_generation_id)s, max_sync_id = %(max_sync_id)s,
            row_estimate = %(row_estimate)s, staging_fingerprint = %(staging_fingerprint)s,
            staging_changed_at = %(staging_changed_at)s
        WHERE airbyte_table = %(table)s""",
    "open_sync": (
        f"SELECT {SYNC_COLUMNS} FROM {{schema}}.airbyte_syncs"
        " WHERE airbyte_table = %(table)s AND ended_at IS NULL"
    ),
    "last_ended_sync": (
        f"SELECT {SYNC_COLUMNS} FROM {{schema}}.airbyte_syncs"
        " WHERE airbyte_table = %(table)s AND ended_at IS NOT NULL ORDER BY ended_at DESC, id DESC LIMIT 1"
    ),
    "sync_by_job": (
        f"SELECT {SYNC_COLUMNS} FROM {{schema}}.airbyte_syncs"
        " WHERE airbyte_table = %(table)s AND job_id = %(job_id)s"
    ),
    "recent_syncs": (
        f"SELECT {SYNC_COLUMNS} FROM {{schema}}.airbyte_syncs WHERE airbyte_table = %(table)s"
        " ORDER BY started_at DESC, id DESC LIMIT %(limit)s"
    ),
    "insert_sync": f"""
        INSERT INTO {{schema}}.airbyte_syncs (airbyte_table, started_at, ended_at, detected_by, outcome,
            sync_id, job_id, table_oid_before, table_oid_after, records, last_seen_at, details)
        VALUES (%(table)s, %(started_at)s, %(ended_at)s, %(detected_by)s, %(outcome)s, %(sync_id)s,
            %(job_id)s, %(table_oid_before)s, %(table_oid_after)s, %(records)s,
            COALESCE(%(seen_at)s::timestamptz, now()), %(details)s)
        RETURNING {SYNC_COLUMNS}""",
    # Adds to what is known and never forgets: evidence accumulates in first-seen order, an earlier
    # start wins, an end once recorded stays, ids and counts are filled when still unknown.
    "update_sync": f"""
        UPDATE {{schema}}.airbyte_syncs
        SET detected_by = ARRAY(
                SELECT value
                FROM unnest(detected_by || %(detected_by)s::text[]) WITH ORDINALITY AS m(value, position)
                GROUP BY value ORDER BY min(position)),
            started_at = LEAST(started_at, COALESCE(%(started_at)s::timestamptz, started_at)),
            ended_at = CASE
                WHEN ended_at IS NOT NULL OR %(ended_at)s::timestamptz IS NULL THEN ended_at
                ELSE GREATEST(started_at, %(started_at)s::timestamptz, %(ended_at)s::timestamptz) END,
            outcome = COALESCE(%(outcome)s::text, outcome),
            sync_id = COALESCE(%(sync_id)s::text, sync_id),
            job_id = COALESCE(job_id, %(job_id)s::text),
            table_oid_after = COALESCE(%(table_oid_after)s::bigint, table_oid_after),
            records = COALESCE(%(records)s::bigint, records),
            last_seen_at = GREATEST(last_seen_at, %(seen_at)s::timestamptz),
            details = details || %(details)s
        WHERE id = %(id)s
        RETURNING {SYNC_COLUMNS}""",
}


@dataclass(frozen=True)
class AirbyteSync:
    """One row of `airbyte_syncs`."""

    id: int
    airbyte_table: str
    started_at: datetime
    ended_at: datetime | None
    detected_by: tuple[str, ...]
    outcome: str | None
    sync_id: str | None
    job_id: str | None
    table_oid_before: int | None
    table_oid_after: int | None
    records: int | None
    last_seen_at: datetime
    details: dict[str, Any]

    @property
    def running(self) -> bool:
        return self.ended_at is None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> AirbyteSync:
        return cls(
            id=row[0],
            airbyte_table=row[1],
            started_at=row[2].astimezone(UTC),
            ended_at=None if row[3] is None else row[3].astimezone(UTC),
            detected_by=tuple(row[4]),
            outcome=row[5],
            sync_id=row[6],
            job_id=row[7],
            table_oid_before=row[8],
            table_oid_after=row[9],
            records=row[10],
            last_seen_at=row[11].astimezone(UTC),
            details=dict(row[12]),
        )

    def as_open(self) -> OpenSync:
        return OpenSync(self.id, self.started_at, self.table_oid_before, self.job_id)

    def as_ended(self) -> EndedSync:
        assert self.ended_at is not None
        return EndedSync(self.id, self.ended_at, self.job_id)


class SyncLog:
    """Reads and writes the two tables for one Airbyte table. The caller owns the transaction."""

    def __init__(self, schema: str, airbyte_table: str) -> None:
        self.airbyte_table = airbyte_table
        self._queries = {
            name: sql.SQL(text).format(schema=sql.Identifier(schema)) for name, text in QUERIES.items()
        }

    async def lock_observation(self, conn: AsyncConnection[Any]) -> Observation:
        """The last observation, locked until the transaction ends (created on first use)."""
        await conn.execute(self._queries["ensure_observation"], {"table": self.airbyte_table})
        row = await self._fetchone(conn, "lock_observation")
        assert row is not None, "the observation row exists after the insert"
        return _observation(row)

    async def save_observation(self, conn: AsyncConnection[Any], observation: Observation) -> None:
        await conn.execute(
            self._queries["save_observation"],
            {
                "table": self.airbyte_table,
                "observed_at": observation.observed_at,
                "table_oid": observation.table_oid,
                "max_extracted_at": observation.max_extracted_at,
                "max_generation_id": observation.max_generation_id,
                "max_sync_id": observation.max_sync_id,
                "row_estimate": observation.row_estimate,
                "staging_fingerprint": observation.staging_fingerprint,
                "staging_changed_at": observation.staging_changed_at,
            },
        )

    async def open_sync(self, conn: AsyncConnection[Any]) -> AirbyteSync | None:
        return await self._sync(conn, "open_sync")

    async def last_ended_sync(self, conn: AsyncConnection[Any]) -> AirbyteSync | None:
        return await self._sync(conn, "last_ended_sync")

    async def sync_by_job(self, conn: AsyncConnection[Any], job_id: str) -> AirbyteSync | None:
        return await self._sync(conn, "sync_by_job", job_id=job_id)

    async def recent_syncs(self, conn: AsyncConnection[Any], limit: int) -> list[AirbyteSync]:
        cursor = await conn.execute(
            self._queries["recent_syncs"], {"table": self.airbyte_table, "limit": limit}
        )
        return [AirbyteSync.from_row(row) for row in await cursor.fetchall()]

    async def insert_sync(self, conn: AsyncConnection[Any], change: SyncChange) -> AirbyteSync:
        assert change.started_at is not None, "a new sync has a start"
        cursor = await conn.execute(self._queries["insert_sync"], self._params(change))
        row = await cursor.fetchone()
        assert row is not None
        return AirbyteSync.from_row(row)

    async def update_sync(
        self, conn: AsyncConnection[Any], sync_row_id: int, change: SyncChange
    ) -> AirbyteSync:
        cursor = await conn.execute(self._queries["update_sync"], {**self._params(change), "id": sync_row_id})
        row = await cursor.fetchone()
        assert row is not None, f"airbyte_syncs row {sync_row_id} exists"
        return AirbyteSync.from_row(row)

    def _params(self, change: SyncChange) -> dict[str, Any]:
        return {
            "table": self.airbyte_table,
            "detected_by": list(dict.fromkeys(change.detected_by)),
            "started_at": change.started_at,
            "ended_at": change.ended_at,
            "outcome": change.outcome,
            "sync_id": change.sync_id,
            "job_id": change.job_id,
            "table_oid_before": change.table_oid_before,
            "table_oid_after": change.table_oid_after,
            "records": change.records,
            "seen_at": change.seen_at,
            "details": json_param(change.details),
        }

    async def _fetchone(self, conn: AsyncConnection[Any], name: str, **params: Any) -> tuple[Any, ...] | None:
        cursor = await conn.execute(self._queries[name], {"table": self.airbyte_table, **params})
        return await cursor.fetchone()

    async def _sync(self, conn: AsyncConnection[Any], name: str, **params: Any) -> AirbyteSync | None:
        row = await self._fetchone(conn, name, **params)
        return None if row is None else AirbyteSync.from_row(row)


def _observation(row: tuple[Any, ...]) -> Observation:
    def utc(value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    return Observation(
        observed_at=utc(row[0]),
        table_oid=row[1],
        max_extracted_at=utc(row[2]),
        max_generation_id=row[3],
        max_sync_id=row[4],
        row_estimate=row[5],
        staging_fingerprint=row[6],
        staging_changed_at=utc(row[7]),
    )
