"""The SQLAlchemy adapter's part for tactical alerts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson
from sqlalchemy import Connection, insert, or_, select, update
from sqlalchemy.engine import Row

from deconfliction.core.alerts import Alert, Encounter, Predicted, Side, VolumeEntry
from deconfliction.store import tables as t

_A = t.alerts.c


def _alert(row: Row[Any]) -> Alert:
    data = orjson.loads(row.encounter)
    kind = data.pop("kind", "encounter")
    enc: Predicted
    if kind == "encounter":
        enc = Encounter(**{**data, "a": Side(**data["a"]), "b": Side(**data["b"])})
    else:
        enc = VolumeEntry(**{**data, "track": Side(**data["track"])})
    return Alert(row.id, enc, row.opened_at, row.updated_at, row.closed_at)


class AlertQueries:
    """Mixed into ``SqlUnitOfWork``."""

    conn: Connection

    def save_alert(self, alert: Alert, fresh: bool) -> None:
        enc = alert.encounter
        values = {
            "opened_at": alert.opened_at_s,
            "updated_at": alert.updated_at_s,
            "closed_at": alert.closed_at_s,
            "encounter": orjson.dumps({"kind": alert.kind, **asdict(enc)}).decode(),
        }
        if fresh:
            (a_party, a_track), (b_party, b_track) = enc.key
            keys = {"a_party": a_party, "a_track": a_track, "b_party": b_party, "b_track": b_track}
            self.conn.execute(insert(t.alerts).values(id=alert.id, **keys, **values))
        else:
            self.conn.execute(update(t.alerts).where(_A.id == alert.id).values(**values))

    def open_alerts(self) -> list[Alert]:
        return [_alert(r) for r in self.conn.execute(select(t.alerts).where(_A.closed_at.is_(None)))]

    def alert(self, alert_id: str) -> Alert | None:
        row = self.conn.execute(select(t.alerts).where(_A.id == alert_id)).first()
        return _alert(row) if row else None

    def alerts_of(self, party_id: str | None, status: str | None, limit: int) -> list[Alert]:
        query = select(t.alerts).order_by(_A.opened_at.desc()).limit(limit)
        if party_id is not None:
            query = query.where(or_(_A.a_party == party_id, _A.b_party == party_id))
        if status == "open":
            query = query.where(_A.closed_at.is_(None))
        elif status == "closed":
            query = query.where(_A.closed_at.is_not(None))
        return [_alert(r) for r in self.conn.execute(query)]
