"""JOB_MAX_ATTEMPTS counts runs: a failing delivery runs exactly that many times, then is dead."""

from __future__ import annotations

import pytest
from procrastinate import jobs

from clickup_sync.queue.app import build_queue_app
from clickup_sync.queue.deliveries import PROCESS_DELIVERY
from clickup_sync.settings import load_settings


def runs_until_given_up(max_attempts: int) -> int:
    task = build_queue_app(load_settings(job_max_attempts=max_attempts)).tasks[PROCESS_DELIVERY]
    for previous_runs in range(100):
        job = jobs.Job(
            id=1, queue="webhooks", lock=None, queueing_lock=None, task_name=PROCESS_DELIVERY,
            attempts=previous_runs,
        )  # fmt: skip
        strategy = task.retry_strategy
        if strategy is None or strategy.get_retry_decision(exception=RuntimeError("boom"), job=job) is None:
            return previous_runs + 1
    raise AssertionError("retried forever")


@pytest.mark.parametrize("max_attempts", [1, 2, 6])
def test_a_failing_job_runs_exactly_job_max_attempts_times(max_attempts: int) -> None:
    assert runs_until_given_up(max_attempts) == max_attempts
