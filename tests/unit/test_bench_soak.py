"""`bench/soak.py`'s arithmetic: the least-squares slope over the second half of the samples."""

from __future__ import annotations

import pytest

from bench.soak import Sample, second_half, slope_per_minute


def _sample(minute: float, worker_rss_mb: float = 70.0, jobs: int = 10) -> Sample:
    return Sample(minute, 60.0, worker_rss_mb, jobs, 0, 0, 0, 0, 0, 0)


def test_the_slope_is_the_least_squares_line_per_minute() -> None:
    assert slope_per_minute([(0, 10), (1, 12), (2, 14), (3, 16)]) == pytest.approx(2.0)
    assert slope_per_minute([(0, 5), (1, 7), (2, 5), (3, 7)]) == pytest.approx(0.4)
    assert slope_per_minute([(0, 100), (10, 50)]) == pytest.approx(-5.0)


def test_too_few_points_have_no_slope() -> None:
    assert slope_per_minute([]) == 0.0
    assert slope_per_minute([(1, 5)]) == 0.0
    assert slope_per_minute([(1, 5), (1, 9)]) == 0.0


def test_the_second_half_leaves_out_the_warm_up() -> None:
    samples = [_sample(minute, worker_rss_mb=60 + 30 * (minute < 5)) for minute in range(11)]
    half = second_half(samples)
    assert [s.minute for s in half] == [5, 6, 7, 8, 9, 10]
    assert slope_per_minute([(s.minute, s.worker_rss_mb) for s in half]) == 0.0
    assert slope_per_minute([(s.minute, s.worker_rss_mb) for s in samples]) < 0
    assert second_half([]) == []


def test_queue_depth_counts_waiting_and_running_jobs_and_unprocessed_deliveries() -> None:
    assert Sample(1.0, 60.0, 70.0, 3, 4, 5, 100, 1, 2, 999).queue_depth == 12
