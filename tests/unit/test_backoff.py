"""Retry schedule: delays stay within their bounds, ceilings only grow, and the policy gives up on time."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deconfliction.core.backoff import RetryPolicy, delay_ceiling, retry_delay

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

attempts = st.integers(min_value=0, max_value=5000)
bases = st.floats(min_value=1e-3, max_value=1e3)
cap_factors = st.floats(min_value=1.0, max_value=1e6)
seeds = st.integers(min_value=0, max_value=2**32)


@given(attempt=attempts, base=bases, factor=cap_factors, seed=seeds)
def test_delay_is_between_the_floor_and_the_ceiling(attempt: int, base: float, factor: float, seed: int) -> None:
    cap = base * factor
    delay = retry_delay(attempt, random.Random(seed), base, cap)
    assert base / 2 <= delay <= delay_ceiling(attempt, base, cap) <= cap
    assert delay_ceiling(attempt, base, cap) == min(cap, base * 2.0 ** min(attempt, 64))


@given(attempt=attempts, base=bases, factor=cap_factors)
def test_ceilings_never_decrease_and_reach_the_cap(attempt: int, base: float, factor: float) -> None:
    cap = base * factor
    assert delay_ceiling(attempt, base, cap) <= delay_ceiling(attempt + 1, base, cap)
    assert delay_ceiling(0, base, cap) == base
    assert delay_ceiling(attempt + 64, base, cap) == cap


@given(attempt=attempts, seed=seeds)
def test_the_same_seed_replays_the_same_schedule(attempt: int, seed: int) -> None:
    assert retry_delay(attempt, random.Random(seed)) == retry_delay(attempt, random.Random(seed))


def test_delays_are_spread_over_the_whole_window() -> None:
    rng = random.Random(7)
    delays = [retry_delay(6, rng, base_s=1.0, cap_s=300.0) for _ in range(2000)]
    assert min(delays) < 5 and max(delays) > 60  # ceiling 64: jitter, not a fixed step
    assert len(set(delays)) > 1900


@given(
    max_attempts=st.integers(min_value=1, max_value=30),
    attempt=st.integers(min_value=1, max_value=60),
    base=bases,
    factor=cap_factors,
    seed=seeds,
)
def test_policy_gives_up_after_max_attempts(
    max_attempts: int, attempt: int, base: float, factor: float, seed: int
) -> None:
    policy = RetryPolicy(max_attempts=max_attempts, base_s=base, cap_s=base * factor)
    at = policy.next_attempt_at(attempt, NOW, random.Random(seed))
    if attempt >= max_attempts:
        assert at is None
    else:
        assert at is not None
        # A datetime holds microseconds, so allow one either side of the float bounds.
        tick = timedelta(microseconds=1)
        assert NOW + timedelta(seconds=base / 2) - tick <= at <= NOW + timedelta(seconds=policy.cap_s) + tick


def test_a_full_schedule_has_max_attempts_posts() -> None:
    policy = RetryPolicy(max_attempts=5, base_s=2.0, cap_s=10.0)
    rng = random.Random(1)
    now, posts = NOW, 1  # the first POST just failed
    while (at := policy.next_attempt_at(posts, now, rng)) is not None:
        assert at > now
        now, posts = at, posts + 1
    assert posts == 5
    assert RetryPolicy(max_attempts=1).next_attempt_at(1, NOW, rng) is None


@pytest.mark.parametrize(
    "call",
    [
        lambda: retry_delay(-1, random.Random(0)),
        lambda: retry_delay(0, random.Random(0), base_s=0.0),
        lambda: retry_delay(0, random.Random(0), base_s=10.0, cap_s=5.0),
        lambda: RetryPolicy(max_attempts=0),
        lambda: RetryPolicy(base_s=-1.0),
        lambda: RetryPolicy().next_attempt_at(0, NOW, random.Random(0)),
        lambda: RetryPolicy().next_attempt_at(1, NOW.replace(tzinfo=None), random.Random(0)),
    ],
)
def test_nonsense_arguments_are_refused(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        call()
