"""Knobs of the ClickUp emulator: workspace size, rate limit, latency, faults, delivery chaos.

One frozen object, shared by the CLI (`clickup-sync emulator`), tests and benchmarks. Rates are
probabilities in [0, 1]. Every random choice the emulator makes comes from `seed`, so a run is
repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChaosConfig:
    """Webhook delivery faults, each a probability per delivery."""

    duplicate_rate: float = 0.0  # send the same body twice
    reorder_rate: float = 0.0  # hold a delivery back so a later one overtakes it
    drop_rate: float = 0.0  # never send it (as if every attempt was lost)
    delay_rate: float = 0.0  # send it after `delay_seconds`
    delay_seconds: float = 2.0


@dataclass(frozen=True)
class EmulatorConfig:
    seed: int = 1
    tasks: int = 300  # tasks in the generated workspace (approximate; subtasks included)
    rate_limit_per_minute: int | None = 100  # per token; None = unlimited
    latency_ms: float = 0.0  # added to every API response
    fault_5xx_rate: float = 0.0  # probability that an API call answers 500/502/503
    slow_rate: float = 0.0  # probability that an API call is slowed by `slow_ms`
    slow_ms: float = 3000.0
    webhook_timeout_seconds: float = 7.0  # ClickUp counts a delivery slower than 7 s as failed
    webhook_max_attempts: int = 5  # ClickUp tries each event 5 times, then drops it
    webhook_retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)  # between attempts (not documented)
    webhook_suspend_after: int = 100  # fail_count at which a webhook is suspended
    chaos: ChaosConfig = field(default_factory=ChaosConfig)
    # None: any `pk_…` or `Bearer …` token is valid. A set: only these tokens (the part after
    # "Bearer " for OAuth tokens), so a test can revoke one and see 401 OAUTH_025.
    valid_tokens: frozenset[str] | None = None
