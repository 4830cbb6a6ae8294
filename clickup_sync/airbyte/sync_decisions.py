"""Is an Airbyte sync running, did one just happen? Decided from what was seen, without I/O.

Two kinds of evidence (reference airbyte.md §4.4, §4.1):
- *running*: a staging table of the stream that is being written (`temp_table`), 2.x raw rows not
  typed yet (`raw_table`), a writer lock on the stream's tables (`lock`), a running job in Airbyte's
  API (`api`);
- *effects*, compared with the previous observation: the final table's OID changed (`table_oid`,
  overwrite swap), its newest `_airbyte_extracted_at`, generation or sync id moved.

A sync opens when running evidence appears and closes when it is gone (or the API says its job
ended); effects seen with no sync open record a sync that happened between two looks, or complete
the sync that ended since the previous look (e.g. one a notification closed).

Staging tables outlive a failed sync (§3.4: the next sync resumes or recreates the temp table), so
they count as running only while they change: they must have appeared or been written to after the
last sync ended, and within `staging_stale_after`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from clickup_sync.airbyte.airbyte_api import AirbyteJob
from clickup_sync.airbyte.sync_signals import DatabaseProbe

Action = Literal["none", "open", "touch", "close", "record", "attach"]


@dataclass(frozen=True)
class Observation:
    """The stored last look at one Airbyte table (`airbyte_observations`)."""

    observed_at: datetime | None = None  # None: never observed
    table_oid: int | None = None
    max_extracted_at: datetime | None = None
    max_generation_id: int | None = None
    max_sync_id: int | None = None
    row_estimate: int | None = None
    staging_fingerprint: str = ""
    staging_changed_at: datetime | None = None


@dataclass(frozen=True)
class OpenSync:
    id: int
    started_at: datetime
    table_oid_before: int | None
    job_id: str | None


@dataclass(frozen=True)
class EndedSync:
    id: int
    ended_at: datetime
    job_id: str | None


@dataclass(frozen=True)
class ApiView:
    """What Airbyte's API said lately: the connection's running job, and the open sync's job once
    it has ended."""

    running_job: AirbyteJob | None = None
    ended_job: AirbyteJob | None = None


@dataclass(frozen=True)
class SyncChange:
    """Columns of `airbyte_syncs` to write; None leaves a column as it is."""

    detected_by: tuple[str, ...] = ()
    started_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str | None = None
    sync_id: str | None = None
    job_id: str | None = None
    table_oid_before: int | None = None
    table_oid_after: int | None = None
    records: int | None = None
    seen_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    observation: Observation
    action: Action
    change: SyncChange | None = None  # for "open"/"record": the new row; else the update
    sync_row_id: int | None = None  # the row "touch"/"close"/"attach" change
    running_evidence: tuple[str, ...] = ()


def decide(
    previous: Observation,
    probe: DatabaseProbe,
    *,
    open_sync: OpenSync | None,
    last_ended: EndedSync | None,
    api: ApiView | None,
    staging_stale_after: timedelta,
) -> Decision:
    """What to record after looking at the database (and the API) once."""
    now = probe.observed_at
    observation, effects = _observe(previous, probe)
    evidence = _running_evidence(probe, observation, last_ended, api, staging_stale_after)
    signals = probe.signals
    effect_change = SyncChange(
        detected_by=effects,
        sync_id=str(signals.max_sync_id) if signals and "sync_id" in effects else None,
        table_oid_after=signals.table_oid if signals and "table_oid" in effects else None,
        records=probe.records,
        seen_at=now,
    )
    job_ended = None
    if api is not None and api.ended_job is not None and open_sync is not None:
        job_ended = api.ended_job if api.ended_job.job_id == open_sync.job_id else None

    if open_sync is not None:
        # Evidence gone but the table unreadable this time: close once its effects can be seen with it.
        if (evidence or signals is None) and job_ended is None:
            running_job = api.running_job if api else None
            change = replace(
                effect_change,
                detected_by=evidence + effects,
                job_id=running_job.job_id if running_job else None,
                details=_evidence_details(probe),
            )
            return Decision(observation, "touch", change, open_sync.id, evidence)
        closed = replace(
            effect_change,
            ended_at=now,
            table_oid_after=signals.table_oid if signals else None,
            outcome=_outcome(job_ended),
            details={
                "ended_at_basis": "observed",
                "closed_because": _close_reason(job_ended),
                **({"staging_left_over": [t.name for t in probe.staging]} if probe.staging else {}),
            },
        )
        return Decision(observation, "close", closed, open_sync.id, ())

    if evidence:
        running_job = api.running_job if api else None
        started_at = now
        if running_job and running_job.started_at and running_job.started_at < now:
            started_at = running_job.started_at
        opened = replace(
            effect_change,
            detected_by=evidence + effects,
            started_at=started_at,
            job_id=running_job.job_id if running_job else None,
            table_oid_before=previous.table_oid if previous.observed_at is not None else probe.table_oid,
            details={
                "started_at_basis": "api" if started_at != now else "first_seen",
                **_evidence_details(probe),
            },
        )
        return Decision(observation, "open", opened, None, evidence)

    if effects and previous.observed_at is not None:
        # A sync that ended after the previous look (told by a notification or the API, before the
        # database showed its effect) is this one. One the database closed ended at a look: not after it.
        if last_ended is not None and last_ended.ended_at > previous.observed_at:
            return Decision(observation, "attach", effect_change, last_ended.id, ())
        oldest = probe.oldest_new_extracted_at
        recorded = replace(
            effect_change,
            started_at=min(oldest, now) if oldest else previous.observed_at,
            ended_at=now,
            table_oid_before=previous.table_oid,
            details={
                "started_at_basis": "oldest_new_extracted_at" if oldest else "previous_observation",
                "ended_at_basis": "observed",
                "seen_between": [previous.observed_at.isoformat(), now.isoformat()],
            },
        )
        return Decision(observation, "record", recorded, None, ())

    return Decision(observation, "none")


def _observe(previous: Observation, probe: DatabaseProbe) -> tuple[Observation, tuple[str, ...]]:
    """The new observation, and what moved since the previous one."""
    fingerprint = probe.staging_fingerprint
    changed_at = (
        previous.staging_changed_at
        if previous.observed_at is not None and fingerprint == previous.staging_fingerprint
        else probe.observed_at
    )
    signals = probe.signals
    if signals is None:  # the table could not be read: compare next time, with everything at once
        # A first look without the table's signals is no baseline: stay "never observed".
        observed_at = probe.observed_at if previous.observed_at is not None else None
        kept = replace(
            previous, observed_at=observed_at, staging_fingerprint=fingerprint, staging_changed_at=changed_at
        )
        return kept, ()
    effects: list[str] = []
    if previous.observed_at is not None:
        if signals.table_oid is not None and signals.table_oid != previous.table_oid:
            effects.append("table_oid")
        if _moved(previous.max_extracted_at, signals.max_extracted_at):
            effects.append("extracted_at")
        if _moved(previous.max_generation_id, signals.max_generation_id):
            effects.append("generation_id")
        if _moved(previous.max_sync_id, signals.max_sync_id):
            effects.append("sync_id")
    observation = Observation(
        observed_at=probe.observed_at,
        table_oid=signals.table_oid,
        max_extracted_at=signals.max_extracted_at,
        max_generation_id=signals.max_generation_id,
        max_sync_id=signals.max_sync_id,
        row_estimate=signals.row_estimate,
        staging_fingerprint=fingerprint,
        staging_changed_at=changed_at,
    )
    return observation, tuple(effects)


def _moved(before: Any, after: Any) -> bool:
    return after is not None and (before is None or after > before)


def _running_evidence(
    probe: DatabaseProbe,
    observation: Observation,
    last_ended: EndedSync | None,
    api: ApiView | None,
    staging_stale_after: timedelta,
) -> tuple[str, ...]:
    evidence: list[str] = []
    changed_at = observation.staging_changed_at
    staging_live = (
        changed_at is not None
        and probe.observed_at - changed_at < staging_stale_after
        and (last_ended is None or changed_at > last_ended.ended_at)
    )
    if staging_live and probe.staging:
        evidence.append("temp_table")
    if staging_live and probe.raw_rows_pending:
        evidence.append("raw_table")
    if probe.writer_locks:
        evidence.append("lock")
    if api is not None and api.running_job is not None:
        evidence.append("api")
    return tuple(evidence)


def _evidence_details(probe: DatabaseProbe) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if probe.staging:
        details["staging_tables"] = [table.name for table in probe.staging]
    if probe.writer_locks:
        details["writer_locks"] = [
            {"table": lock.table, "mode": lock.mode, "granted": lock.granted} for lock in probe.writer_locks
        ]
    if probe.raw_rows_pending:
        details["raw_rows_pending"] = True
    return details


def _outcome(job: AirbyteJob | None) -> str | None:
    return job.status if job is not None and job.ended else None


def _close_reason(job_ended: AirbyteJob | None) -> str:
    return "api_job_ended" if job_ended is not None else "evidence_gone"
