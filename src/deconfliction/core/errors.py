"""The one error tree of the hub.

    DeconflictionError            base: carries a stable ``code``, a ``message`` that says what to fix, ``details``
    ├── InvalidInput              the request is well-formed JSON but its content is not acceptable
    │   └── InvalidVolume         a 4D volume (footprint, altitude band, time window) is not acceptable
    ├── Unauthenticated           no token, or a token the hub does not know
    ├── Forbidden                 the caller is known but its role may not do this
    ├── NotFound                  no such object, *or* an object the caller may not know exists
    ├── VersionConflict           ``If-Match`` names a version that is no longer current
    ├── PreconditionRequired      a versioned write came without ``If-Match``
    └── InvalidTransition         the object's lifecycle does not allow this change (e.g. editing a cancelled op)

The core raises these; ``api/errors.py`` maps each to its HTTP status in one place.
"""

from __future__ import annotations

from typing import Any


class DeconflictionError(Exception):
    """Base of every error a user can cause. ``message`` must say what to fix."""

    code = "error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def __reduce__(self) -> tuple[Any, ...]:
        # Whole across processes (a parsing worker raises it): by default only ``message`` would be pickled.
        return (type(self), (self.message, self.details))


class InvalidInput(DeconflictionError):
    code = "invalid_request"


class InvalidVolume(InvalidInput):
    code = "invalid_volume"


class Unauthenticated(DeconflictionError):
    code = "unauthenticated"


class Forbidden(DeconflictionError):
    code = "forbidden"


class NotFound(DeconflictionError):
    code = "not_found"


class VersionConflict(DeconflictionError):
    code = "version_conflict"


class PreconditionRequired(DeconflictionError):
    code = "precondition_required"


class InvalidTransition(DeconflictionError):
    code = "invalid_transition"
