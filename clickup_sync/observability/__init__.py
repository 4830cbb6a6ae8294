"""Prometheus metrics of a `serve` or `worker` process (`docs/observability.md`).

Two kinds of figures, exposed together on `/metrics`:

- per process (`process_metrics.py`): what this process did — webhook acknowledgements and their
  latency, ClickUp API calls, processing lag, reconcile changes. Prometheus sums them over replicas.
- cluster-wide (`cluster.py`): read from PostgreSQL at scrape time through `ops.status.read_status`
  — queue depth, parked changes, dead letters, webhook health, rate-limit budget, Airbyte syncs — so
  every replica answers the same, and the scrape still answers (`clickup_sync_database_up 0`) when
  the database does not.
"""

from clickup_sync.observability.process_metrics import (
    ProcessMetrics,
    metrics_for,
    observe_history_committed,
    record_reconcile,
)

__all__ = ["ProcessMetrics", "metrics_for", "observe_history_committed", "record_reconcile"]
