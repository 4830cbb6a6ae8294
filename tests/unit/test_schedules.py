"""Schedules fire when the settings say (procrastinate's cron: an optional sixth field is seconds)."""

from __future__ import annotations

import pytest
from croniter import croniter

from clickup_sync.queue.tasks import cron_every

START = 1796004000.0  # a whole minute


@pytest.mark.parametrize("seconds", [5, 30, 60, 300, 3600])
def test_cron_every_fires_every_n_seconds(seconds: int) -> None:
    schedule = croniter(cron_every(seconds), START)
    fires = [schedule.get_next() - START for _ in range(3)]
    assert fires == [seconds, 2 * seconds, 3 * seconds]
