"""The documents one conflict change makes (its record entry, each party's and each monitor's view) share the
fields they show alike: built from one shared copy or each on its own, they are the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from deconfliction.core.disclosure import conflict_common, conflict_record, conflict_view
from deconfliction.core.model import Acknowledgement, Conflict, ConflictKind, ObjectRef, ObjectType, Party, Role
from deconfliction.core.record import canonical_json
from deconfliction.core.volumes import AltitudeBand, AltitudeReference, Overlap, TimeWindow

T0 = datetime(2026, 12, 1, 10, tzinfo=UTC)
SECRET = bytes(range(32))
PARTIES = {
    p.id: p
    for p in (
        Party("p_blue", "Blue", Role.PARTY),
        Party("p_red", "Red", Role.PARTY),
        Party("p_watch", "Watch", Role.MONITOR),
        Party("p_green", "Green", Role.PARTY),
    )
}


def conflict() -> Conflict:
    ring = [[30.0, 50.0], [30.1, 50.0], [30.1, 50.1], [30.0, 50.0]]
    overlap = Overlap(
        {"type": "Polygon", "coordinates": [ring]},
        AltitudeBand(100.0, 900.0, AltitudeReference.AMSL),
        AltitudeBand(180.5, 980.5, AltitudeReference.WGS84),
        TimeWindow(T0, T0 + timedelta(hours=1)),
    )
    ack = Acknowledgement(party_id="p_red", at=T0 + timedelta(minutes=5), revision=1, note="seen")
    return Conflict(
        id="cf_1",
        kind=ConflictKind.OPERATION_OPERATION,
        a=ObjectRef(ObjectType.OPERATION, "op_a", "p_blue", 0),
        b=ObjectRef(ObjectType.OPERATION, "op_b", "p_red", 2),
        overlap=overlap,
        created_at=T0,
        updated_at=T0,
        acknowledgements=(ack,),
    )


def test_views_and_the_record_from_one_shared_copy_are_those_made_alone() -> None:
    c = conflict()
    common = conflict_common(c)
    before = orjson.dumps(common)
    record = conflict_record(c, SECRET, common)
    views = {pid: conflict_view(c, p, PARTIES, SECRET, common) for pid, p in PARTIES.items()}
    assert canonical_json(record) == canonical_json(conflict_record(c, SECRET))
    assert views == {pid: conflict_view(c, p, PARTIES, SECRET) for pid, p in PARTIES.items()}
    assert views["p_green"] is None  # not a party to it
    # each side sees the band in its own reference, though both views were made from one copy
    assert views["p_blue"]["overlap"]["altitude"]["reference"] == "AMSL"  # type: ignore[index]
    assert views["p_red"]["overlap"]["altitude"]["reference"] == "WGS84"  # type: ignore[index]
    assert orjson.dumps(common) == before  # nobody wrote into the shared copy
