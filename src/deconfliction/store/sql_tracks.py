"""The SQLAlchemy adapter's part for live tracks: batches of position reports, as accepted."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, delete, insert, select

from deconfliction.store import tables as t

_B = t.track_batches.c


class TrackQueries:
    """Mixed into ``SqlUnitOfWork``."""

    conn: Connection

    def insert_track_batch(self, party_id: str, received_at: float, count: int, reports: bytes) -> None:
        self.conn.execute(
            insert(t.track_batches).values(party_id=party_id, received_at=received_at, count=count, reports=reports)
        )

    def track_batches_since(self, since: float) -> Iterator[tuple[str, float, bytes]]:
        """(party id, received at, reports) of every batch received at or after ``since``, oldest first."""
        query = select(_B.party_id, _B.received_at, _B.reports).where(_B.received_at >= since).order_by(_B.id)
        for row in self.conn.execute(query):
            yield row.party_id, row.received_at, bytes(row.reports)

    def prune_track_batches(self, before: float) -> int:
        return self.conn.execute(delete(t.track_batches).where(_B.received_at < before)).rowcount
