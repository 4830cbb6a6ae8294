"""What this process did: webhook acknowledgements, processing lag, reconciles, ClickUp API calls.

One `CollectorRegistry` per `ServiceRuntime` (kept in `runtime.helpers`), never the global one: tests
build several apps in one process, and each `/metrics` must show only its own runtime's work. The
hooks below are what the work paths call; each is a few arithmetic operations, never I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.process_collector import ProcessCollector

from clickup_sync.observability.clickup_calls import ClickUpCallsCollector

if TYPE_CHECKING:
    from clickup_sync.runtime import ServiceRuntime
    from clickup_sync.sync.reconcile import ReconcileSummary

_HELPER_KEY: Final = "observability.process_metrics"

# What `POST /webhooks/clickup` answered, as a bounded set (`ack_timer.delivery_outcome`).
DELIVERY_OUTCOMES: Final = (
    "accepted",  # stored and queued (200)
    "duplicate",  # stored; every history item was delivered before (200)
    "rejected_signature",  # 403: nothing stored
    "too_large",  # 413: over 1 MiB
    "malformed",  # 400: signed, but not a delivery; body kept
    "db_unavailable",  # 503: ClickUp retries later
    "error",  # anything else (a 500 is a bug)
)
# ClickUp counts an answer slower than 7 s as a failure (§7.7): resolve the range up to it finely.
ACK_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.0, 10.0)
# From ClickUp's event time to the committed history row: seconds normally, hours while parked.
LAG_BUCKETS: Final = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0)


class ProcessMetrics:
    def __init__(self, runtime: ServiceRuntime) -> None:
        # `*_created` series double every counter's series and no panel or alert reads them. The switch
        # is process-wide in prometheus-client; nothing else in this process exports metrics.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # (untyped in prometheus-client)
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "clickup_sync_webhook_deliveries",
            "Webhook deliveries answered by this process, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "clickup_sync_webhook_ack_seconds",
            "Time from request to answer of POST /webhooks/clickup, by outcome.",
            ["outcome"],
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.processing_lag = Histogram(
            "clickup_sync_processing_lag_seconds",
            "ClickUp's event time to the commit of its history row (webhook items recorded here).",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.reconcile_runs = Counter(
            "clickup_sync_reconcile_runs", "Scheduled reconciles this process ran.", registry=self.registry
        )
        self.reconcile_changes = Counter(
            "clickup_sync_reconcile_changes",
            "Field changes (deletions included) the reconciles of this process found by polling.",
            registry=self.registry,
        )
        self.reconcile_finished = Gauge(
            "clickup_sync_reconcile_last_run_timestamp_seconds",
            "When a reconcile of this process last finished (Unix time; 0 = not yet).",
            registry=self.registry,
        )
        for outcome in DELIVERY_OUTCOMES:  # every series exists from the start: rate() sees the first one
            self.deliveries.labels(outcome)
            self.ack_seconds.labels(outcome)
        # The runtime makes its ClickUp client on first use; the collector reads whichever exists.
        self.registry.register(ClickUpCallsCollector(lambda: runtime._client))
        ProcessCollector(registry=self.registry)

    def observe_ack(self, outcome: str, seconds: float) -> None:
        outcome = outcome if outcome in DELIVERY_OUTCOMES else "error"
        self.deliveries.labels(outcome).inc()
        self.ack_seconds.labels(outcome).observe(seconds)

    def observe_committed(self, event_times: Iterable[datetime], committed_at: datetime) -> None:
        for event_time in event_times:
            # ClickUp's clock may run ahead of ours: a negative lag is zero, not a bucket miss.
            self.processing_lag.observe(max(0.0, (committed_at - event_time).total_seconds()))

    def observe_reconcile(self, summary: ReconcileSummary) -> None:
        self.reconcile_runs.inc()
        self.reconcile_changes.inc(summary.changes)
        self.reconcile_finished.set_to_current_time()


def metrics_for(runtime: ServiceRuntime) -> ProcessMetrics:
    """The runtime's metrics, created on first use."""
    metrics = runtime.helpers.get(_HELPER_KEY)
    if not isinstance(metrics, ProcessMetrics):
        metrics = runtime.helpers[_HELPER_KEY] = ProcessMetrics(runtime)
    return metrics


def observe_history_committed(runtime: ServiceRuntime, event_times: Iterable[datetime]) -> None:
    """Hook: call right after the transaction that recorded history rows with these event times."""
    metrics_for(runtime).observe_committed(event_times, datetime.now(UTC))


def record_reconcile(runtime: ServiceRuntime, summary: ReconcileSummary) -> None:
    """Hook: call after a scheduled reconcile finished."""
    metrics_for(runtime).observe_reconcile(summary)
