"""When to try a failed delivery again: exponential backoff with jitter, and when to give up.

The delay before retry ``n`` (0 for the first retry) is drawn uniformly between a floor of ``base_s / 2`` and a
ceiling of ``min(cap_s, base_s * 2**n)``. That is "full jitter" (AWS Architecture Blog, *Exponential Backoff And
Jitter*) with the bottom cut off: the spread still keeps many endpoints that failed together from retrying in
lock-step, and the floor keeps an unlucky draw near zero from hitting a struggling receiver again at once. Drawing
from ``[floor, ceiling]`` rather than clamping ``uniform(0, ceiling)`` up to the floor avoids piling retries onto
the floor value itself.

Pure: randomness comes in as a ``random.Random`` and time as ``now``, so a seeded generator replays a schedule.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

# Past this many doublings every sane ceiling is already at the cap; stopping here keeps 2**n from overflowing.
_MAX_DOUBLINGS = 64


def _check(base_s: float, cap_s: float) -> None:
    if not base_s > 0:
        raise ValueError(f"base_s must be > 0, got {base_s!r}")
    if not cap_s >= base_s:
        raise ValueError(f"cap_s must be >= base_s ({base_s!r}), got {cap_s!r}")


def delay_ceiling(attempt: int, base_s: float = 1.0, cap_s: float = 300.0) -> float:
    """The largest delay retry ``attempt`` (0-based) may wait: ``min(cap_s, base_s * 2**attempt)``."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt!r}")
    _check(base_s, cap_s)
    if attempt >= _MAX_DOUBLINGS:
        return cap_s
    return min(cap_s, base_s * 2.0**attempt)


def retry_delay(attempt: int, rng: random.Random, base_s: float = 1.0, cap_s: float = 300.0) -> float:
    """Seconds to wait before retry ``attempt`` (0 for the first retry), in ``[base_s / 2, delay_ceiling(...)]``."""
    ceiling = delay_ceiling(attempt, base_s, cap_s)
    floor = base_s / 2
    # uniform() may land a rounding step outside [a, b]; the clamp keeps the documented bounds exact.
    return min(ceiling, max(floor, rng.uniform(floor, ceiling)))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often, and how patiently, one notification is pushed to one endpoint.

    ``max_attempts`` counts every POST, the first included: ``max_attempts=1`` never retries.
    """

    max_attempts: int = 10
    base_s: float = 1.0
    cap_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts!r}")
        _check(self.base_s, self.cap_s)

    def next_attempt_at(self, attempt: int, now: datetime, rng: random.Random) -> datetime | None:
        """When to try again after ``attempt`` POSTs have failed (1 after the first failure), or ``None`` to give up.

        ``None`` means the notification goes to the dead-letter list. ``now`` must be timezone-aware.
        """
        if attempt < 1:
            raise ValueError(f"attempt counts failed POSTs and must be >= 1, got {attempt!r}")
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        if attempt >= self.max_attempts:
            return None
        return now + timedelta(seconds=retry_delay(attempt - 1, rng, self.base_s, self.cap_s))
