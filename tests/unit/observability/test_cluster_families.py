"""The cluster-wide families built from one `ServiceStatus` (no database needed for the mapping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from clickup_sync.observability.cluster import ClusterFamilies, ClusterRead
from clickup_sync.ops.status import ServiceStatus, WebhookHealth

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def status(**changes: object) -> ServiceStatus:
    fields: dict[str, object] = {
        "read_at": NOW, "deliveries_last_hour": {"processed": 5, "bad_signature": 2, "surprise": 1},
        "queue_depth": 3, "oldest_queued_at": NOW - timedelta(minutes=6), "parked_changes": 1,
        "dead_letters": 0, "last_backfill": None, "last_reconcile": None, "airbyte_syncs_detected": 4,
        "last_airbyte_sync_at": None, "rate_limit_remaining": 12, "rate_limit_limit": 100,
        "rate_limit_resets_at": NOW + timedelta(seconds=30),
        "webhooks": (WebhookHealth("w1", "failing", 9, None),),
    }  # fmt: skip
    fields.update(changes)
    return ServiceStatus(**fields)  # type: ignore[arg-type]


def samples(read: ClusterRead) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(ClusterFamilies(read)).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_failed_read_exposes_only_that_the_database_is_down() -> None:
    exposed = samples(ClusterRead(None, 2.0))
    assert exposed == {("clickup_sync_database_up", ()): 0, ("clickup_sync_status_read_seconds", ()): 2.0}


def test_figures_of_a_read() -> None:
    exposed = samples(ClusterRead(status(), 0.01))
    assert exposed[("clickup_sync_database_up", ())] == 1
    assert exposed[("clickup_sync_queue_oldest_age_seconds", ())] == 360
    assert exposed[("clickup_sync_webhook_deliveries_last_hour", (("outcome", "other"),))] == 1
    assert exposed[("clickup_sync_webhook_deliveries_last_hour", (("outcome", "bad_signature"),))] == 2
    assert exposed[("clickup_sync_webhook_health", (("state", "failing"), ("webhook_id", "w1")))] == 1
    assert exposed[("clickup_sync_webhook_health", (("state", "active"), ("webhook_id", "w1")))] == 0
    assert exposed[("clickup_sync_clickup_rate_limit_remaining", ())] == 12
    assert exposed[("clickup_sync_airbyte_syncs_detected_total", ())] == 4


def test_a_rate_limit_window_that_is_over_counts_as_full() -> None:
    over = status(rate_limit_remaining=0, rate_limit_resets_at=NOW - timedelta(seconds=1))
    assert samples(ClusterRead(over, 0.01))[("clickup_sync_clickup_rate_limit_remaining", ())] == 100


def test_no_budget_yet_claims_nothing() -> None:
    unknown = status(rate_limit_remaining=None, rate_limit_limit=None, rate_limit_resets_at=None)
    exposed = samples(ClusterRead(unknown, 0.01))
    assert not any(name.startswith("clickup_sync_clickup_rate_limit") for name, _ in exposed)


def test_a_job_scheduled_for_later_is_not_a_negative_age() -> None:
    later = status(oldest_queued_at=NOW + timedelta(minutes=5))
    assert samples(ClusterRead(later, 0.01))[("clickup_sync_queue_oldest_age_seconds", ())] == 0
