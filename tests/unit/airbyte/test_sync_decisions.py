"""When a sync opens, closes, or is recorded after the fact: the pure decision, case by case."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from clickup_sync.airbyte.airbyte_api import AirbyteJob
from clickup_sync.airbyte.base_records import TableSignals
from clickup_sync.airbyte.sync_decisions import (
    ApiView,
    Decision,
    EndedSync,
    Observation,
    OpenSync,
    decide,
)
from clickup_sync.airbyte.sync_signals import DatabaseProbe, StagingTable, WriterLock

T0 = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
STALE_AFTER = timedelta(minutes=30)
TEMP = StagingTable("airbyte_internal.publicclickup_taskad533a73cf149c45437624f28e1d0665", 500, 10)
SWAP_LOCK = WriterLock("public.clickup_task", "AccessExclusiveLock", True)
BEFORE = TableSignals(table_oid=100, max_extracted_at=T0, max_generation_id=4, max_sync_id=40, row_estimate=5)
AFTER_OVERWRITE = TableSignals(
    table_oid=200,
    max_extracted_at=T0 + timedelta(hours=12),
    max_generation_id=5,
    max_sync_id=41,
    row_estimate=7,
)


def seen(at: datetime, signals: TableSignals | None = BEFORE, **fields: Any) -> DatabaseProbe:
    values: dict[str, Any] = {
        "observed_at": at,
        "table_oid": signals.table_oid if signals else 100,
        "signals": signals,
        "staging": (),
        "raw_rows_pending": False,
        "writer_locks": (),
    }
    return DatabaseProbe(**(values | fields))


def observed(at: datetime, signals: TableSignals = BEFORE, probe: DatabaseProbe | None = None) -> Observation:
    fingerprint = probe.staging_fingerprint if probe else ""
    return Observation(
        observed_at=at,
        table_oid=signals.table_oid,
        max_extracted_at=signals.max_extracted_at,
        max_generation_id=signals.max_generation_id,
        max_sync_id=signals.max_sync_id,
        row_estimate=signals.row_estimate,
        staging_fingerprint=fingerprint,
        staging_changed_at=at if fingerprint else None,
    )


def run(
    previous: Observation,
    probe: DatabaseProbe,
    *,
    open_sync: OpenSync | None = None,
    last_ended: EndedSync | None = None,
    api: ApiView | None = None,
) -> Decision:
    return decide(
        previous, probe, open_sync=open_sync, last_ended=last_ended, api=api, staging_stale_after=STALE_AFTER
    )


OPEN = OpenSync(id=7, started_at=T0 + timedelta(hours=12), table_oid_before=100, job_id=None)


def test_a_temp_table_and_the_swap_lock_open_a_sync_from_the_table_it_will_replace() -> None:
    at = T0 + timedelta(hours=12)
    decision = run(
        observed(at - timedelta(seconds=5)), seen(at, None, staging=(TEMP,), writer_locks=(SWAP_LOCK,))
    )

    assert decision.action == "open" and decision.change is not None
    assert decision.change.detected_by == ("temp_table", "lock")
    assert (decision.change.started_at, decision.change.table_oid_before) == (at, 100)
    assert decision.change.details["staging_tables"] == [TEMP.name]


def test_the_sync_closes_when_its_evidence_is_gone_with_the_new_table_as_its_effect() -> None:
    at = T0 + timedelta(hours=12, minutes=1)
    previous = observed(at - timedelta(seconds=5), probe=seen(at, staging=(TEMP,)))

    decision = run(previous, seen(at, AFTER_OVERWRITE, records=7), open_sync=OPEN)

    assert (decision.action, decision.sync_row_id) == ("close", 7)
    assert decision.change is not None
    assert decision.change.detected_by == ("table_oid", "extracted_at", "generation_id", "sync_id")
    assert (decision.change.ended_at, decision.change.table_oid_after, decision.change.sync_id) == (
        at,
        200,
        "41",
    )
    assert decision.change.records == 7
    assert decision.observation.table_oid == 200


def test_an_open_sync_waits_for_the_table_to_be_readable_before_closing() -> None:
    at = T0 + timedelta(hours=12, minutes=1)
    decision = run(observed(at - timedelta(seconds=5)), seen(at, None), open_sync=OPEN)

    assert decision.action == "touch"
    assert decision.observation.table_oid == 100  # compared again, in full, next time


def test_a_sync_between_two_looks_is_recorded_from_its_effects() -> None:
    at = T0 + timedelta(hours=12, minutes=5)
    first_record = T0 + timedelta(hours=12)
    decision = run(observed(T0), seen(at, AFTER_OVERWRITE, oldest_new_extracted_at=first_record, records=7))

    assert decision.action == "record" and decision.change is not None
    assert (decision.change.started_at, decision.change.ended_at) == (first_record, at)
    assert (decision.change.table_oid_before, decision.change.table_oid_after) == (100, 200)
    assert decision.change.details["started_at_basis"] == "oldest_new_extracted_at"


def test_effects_after_a_notified_end_complete_that_sync_instead_of_adding_one() -> None:
    previous_look = T0 + timedelta(hours=12)
    notified_end = EndedSync(id=8, ended_at=previous_look + timedelta(seconds=2), job_id="9988")

    decision = run(
        observed(previous_look),
        seen(previous_look + timedelta(seconds=5), AFTER_OVERWRITE),
        last_ended=notified_end,
    )

    assert (decision.action, decision.sync_row_id) == ("attach", 8)


def test_effects_after_a_sync_the_database_closed_are_another_sync() -> None:
    previous_look = T0 + timedelta(hours=12)
    closed_at_that_look = EndedSync(id=8, ended_at=previous_look, job_id=None)

    decision = run(
        observed(previous_look),
        seen(previous_look + timedelta(seconds=5), AFTER_OVERWRITE),
        last_ended=closed_at_that_look,
    )

    assert decision.action == "record"


def test_nothing_moved_means_nothing_to_record() -> None:
    decision = run(observed(T0), seen(T0 + timedelta(seconds=5)))

    assert decision.action == "none"
    assert decision.observation.observed_at == T0 + timedelta(seconds=5)


def test_the_first_look_is_a_baseline_not_a_sync() -> None:
    assert run(Observation(), seen(T0, AFTER_OVERWRITE)).action == "none"


def test_a_temp_table_left_by_a_failed_sync_stops_counting_once_it_stops_changing() -> None:
    failed_at = T0 + timedelta(hours=12)
    leftover = seen(failed_at, staging=(TEMP,))
    previous = replace(observed(failed_at, probe=leftover), staging_changed_at=failed_at)

    still_fresh = run(previous, replace(leftover, observed_at=failed_at + timedelta(minutes=29)))
    stale = run(previous, replace(leftover, observed_at=failed_at + timedelta(minutes=31)))
    written_again = run(
        previous,
        replace(leftover, observed_at=failed_at + timedelta(minutes=31), staging=(replace(TEMP, writes=99),)),
    )

    assert still_fresh.action == "open"
    assert stale.action == "none"
    assert written_again.action == "open"


def test_a_temp_table_left_behind_by_a_sync_that_ended_does_not_reopen_it() -> None:
    failed_at = T0 + timedelta(hours=12)
    leftover = seen(failed_at, staging=(TEMP,))
    previous = observed(failed_at, probe=leftover)
    notified_failure = EndedSync(id=8, ended_at=failed_at + timedelta(seconds=1), job_id="9988")

    decision = run(
        previous, replace(leftover, observed_at=failed_at + timedelta(seconds=5)), last_ended=notified_failure
    )

    assert decision.action == "none"


def test_2x_raw_rows_waiting_to_be_typed_mean_a_sync_runs() -> None:
    decision = run(observed(T0), seen(T0 + timedelta(seconds=5), raw_rows_pending=True))

    assert decision.action == "open" and decision.running_evidence == ("raw_table",)


def test_a_running_job_in_the_api_opens_a_sync_from_the_job_start() -> None:
    job = AirbyteJob("9988", "running", "sync", "conn", T0 + timedelta(hours=11), None, None)
    at = T0 + timedelta(hours=12)

    decision = run(observed(at - timedelta(seconds=5)), seen(at), api=ApiView(running_job=job))

    assert decision.action == "open" and decision.change is not None
    assert (decision.change.job_id, decision.change.started_at) == ("9988", T0 + timedelta(hours=11))
    assert decision.change.details["started_at_basis"] == "api"


def test_the_api_saying_the_job_ended_closes_the_sync_even_with_a_temp_table_left() -> None:
    job = AirbyteJob("9988", "failed", "sync", "conn", T0, None, None)
    at = T0 + timedelta(hours=12)
    leftover = seen(at, staging=(TEMP,))

    decision = run(
        observed(at - timedelta(seconds=5), probe=leftover),
        leftover,
        open_sync=replace(OPEN, job_id="9988"),
        api=ApiView(ended_job=job),
    )

    assert decision.action == "close" and decision.change is not None
    assert decision.change.outcome == "failed"
    assert decision.change.details["closed_because"] == "api_job_ended"
    assert decision.change.details["staging_left_over"] == [TEMP.name]
