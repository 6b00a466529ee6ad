"""Wire schemas, split by direction (``…Create`` in, ``…Public`` out), and their converters to the core.

Handlers return pre-serialised JSON for speed; the ``…Public`` models document it in the OpenAPI and the API tests
validate real responses against them, so the two cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from deconfliction.core.errors import InvalidInput, InvalidVolume
from deconfliction.core.volumes import (
    Volume4D,
    VolumeLimits,
    parse_altitude,
    parse_footprint,
    parse_time,
)
from deconfliction.service.operations import OperationDraft
from deconfliction.service.party_keys import SignedAck


def _rfc3339(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 string such as '2026-12-01T10:00:00Z'")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
Number = Annotated[float, Field(strict=True)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AltitudeIn(_In):
    lower: Number
    upper: Number
    reference: str = Field(description='"WGS84", "AMSL" or "AGL"')


class TimeIn(_In):
    start: Timestamp
    end: Timestamp


class Volume4DIn(_In):
    footprint: dict[str, Any] = Field(
        description="GeoJSON Polygon, MultiPolygon, Point (needs radius_m) or LineString (a corridor, needs "
        "radius_m); [lon, lat]; edges are geodesics."
    )
    radius_m: Number | None = Field(None, description="Circle radius with a Point; outward buffer otherwise.")
    altitude: AltitudeIn
    time: TimeIn


class OperationCreate(_In):
    volumes: list[Volume4DIn] = Field(min_length=1, max_length=100)
    description: str | None = Field(None, max_length=4000, description="Seen only by you and your coalition.")
    callsign: str | None = Field(None, max_length=64, description="Seen only by you and your coalition.")
    priority: int | None = Field(None, strict=True, ge=0, le=1000, description="Seen only by you and your coalition.")


class SiteCreate(_In):
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(
        min_length=1,
        max_length=64,
        description="hospital, school, aid-warehouse, convoy-route, deconfliction-line (LineString + radius_m), …",
    )
    footprint: dict[str, Any]
    radius_m: Number | None = None
    valid_from: Timestamp | None = Field(None, description="Default: now.")
    valid_to: Timestamp | None = Field(None, description="Default: one year after valid_from.")
    recipients: list[str] | None = Field(None, max_length=1000, description="Party ids; default every party.")


class SignedAckIn(_In):
    """An acknowledgement, optionally signed by the party (see the README's 'The record')."""

    note: str | None = Field(None, max_length=2000)
    signature: str | None = Field(
        None,
        max_length=128,
        description="Optional: your Ed25519 signature (128 hex digits) over the acknowledgement digest, made with a "
        "key registered at POST /v1/parties/{id}/keys. The digest is SHA-256 of `deconfliction-ack-v1\\n` followed "
        "by the canonical JSON of {acknowledged_at_ms, notice_leaf_hash, object_id, party_id, revision, statement: "
        '"received and understood"}; notice_leaf_hash is the `receipt.leaf_hash` of the event that notified you '
        "(a message's revision is 1).",
    )
    signed_at: AwareDatetime | None = Field(
        None, description="With a signature: the time you signed (acknowledged_at_ms), within 5 minutes of the hub's."
    )
    key_id: str | None = Field(None, max_length=100, description="With a signature: which of your keys signed.")

    def signed(self) -> SignedAck | None:
        if self.signature is None:
            return None
        if self.signed_at is None:
            raise InvalidInput("A signature needs signed_at: the time you signed.", {"field": "signed_at"})
        return SignedAck(self.signature, self.signed_at, self.key_id)


AcknowledgeIn = SignedAckIn


# -- out ---


class BandPublic(BaseModel):
    lower: float
    upper: float
    reference: str


class WindowPublic(BaseModel):
    start: datetime
    end: datetime


class Volume4DPublic(BaseModel):
    footprint: dict[str, Any]
    radius_m: float | None
    altitude: BandPublic | None
    time: WindowPublic


class OperationPublic(BaseModel):
    id: str
    party_id: str
    version: int
    state: Literal["declared", "active", "ended", "cancelled"]
    volumes: list[Volume4DPublic]
    description: str | None
    callsign: str | None
    priority: int | None
    created_at: datetime
    updated_at: datetime


class OperationListPublic(BaseModel):
    operations: list[OperationPublic]
    next_after: str | None = Field(None, description="Pass as ?after= to read the next page.")


class OverlapPublic(BaseModel):
    footprint: dict[str, Any]
    altitude: BandPublic | None = None
    time: WindowPublic


class AcknowledgementPublic(BaseModel):
    party_id: str
    at: datetime
    note: str | None
    revision: int


class ConflictPublic(BaseModel):
    """A conflict as one party sees it. Acknowledgements mean "received and understood", never approval."""

    id: str
    kind: Literal["operation-operation", "operation-site"]
    status: Literal["open", "acknowledged", "resolved"]
    revision: int
    your_object: dict[str, Any] | None = None
    other_party: dict[str, Any] | None = None
    other_object_ref: str | None = None
    other_object_type: str | None = None
    parties: list[dict[str, Any]] | None = Field(None, description="Monitors only: both sides, no mission details.")
    overlap: OverlapPublic
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    acknowledgements: list[AcknowledgementPublic]


class ConflictPreview(BaseModel):
    """A conflict a declaration would open, as you would see it; it has no id or status until it is declared."""

    kind: Literal["operation-operation", "operation-site"]
    your_object: dict[str, Any] = Field(description="type, id (the check's own id) and the volume's index")
    other_party: dict[str, Any]
    other_object_ref: str
    other_object_type: str
    overlap: OverlapPublic


class ConflictCheckPublic(BaseModel):
    conflicts: list[ConflictPreview]


class OperationResultPublic(BaseModel):
    operation: OperationPublic
    conflicts: list[ConflictPublic]


class SitePublic(BaseModel):
    id: str
    party_id: str
    version: int
    name: str
    category: str
    footprint: dict[str, Any]
    radius_m: float | None
    valid_from: datetime
    valid_to: datetime
    recipients: list[str] | None
    withdrawn: bool
    created_at: datetime


class SiteResultPublic(BaseModel):
    site: SitePublic
    conflicts: list[ConflictPublic]


class ConflictListPublic(BaseModel):
    conflicts: list[ConflictPublic]
    next_after: str | None = Field(None, description="Pass as ?after= to read the next page.")


# -- converters ---


def _prefixed(exc: InvalidVolume, prefix: str) -> InvalidVolume:
    field = exc.details.get("field")
    details = {**exc.details, "field": f"{prefix}.{field}" if field else prefix}
    return InvalidVolume(f"{prefix}: {exc.message}", details)


def to_volume(data: Volume4DIn, limits: VolumeLimits, prefix: str) -> Volume4D:
    try:
        footprint = parse_footprint(data.footprint, data.radius_m, limits)
        altitude = parse_altitude(data.altitude.lower, data.altitude.upper, data.altitude.reference)
        time = parse_time(data.time.start, data.time.end)
    except InvalidVolume as exc:
        raise _prefixed(exc, prefix) from exc
    return Volume4D(footprint=footprint, altitude=altitude, time=time)


def to_operation_draft(body: OperationCreate, limits: VolumeLimits) -> OperationDraft:
    return OperationDraft(
        volumes=tuple(to_volume(v, limits, f"volumes[{i}]") for i, v in enumerate(body.volumes)),
        description=body.description,
        callsign=body.callsign,
        priority=body.priority,
    )


def to_volume_parts(
    footprint: dict[str, Any], radius_m: float | None, start: datetime, end: datetime, limits: VolumeLimits
) -> Volume4D:
    """A site's volume: a footprint and a validity window, protected from the surface up."""
    try:
        return Volume4D(
            footprint=parse_footprint(footprint, radius_m, limits), altitude=None, time=parse_time(start, end)
        )
    except InvalidVolume as exc:
        raise _prefixed(exc, "site") from exc
