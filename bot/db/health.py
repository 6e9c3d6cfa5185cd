"""What the running bot records about its own sweeps and gateway, for `status` and the ops channel."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.db.database import Database
from bot.domain.health import SweepRecord
from bot.domain.localtime import from_utc_text, to_utc_text


def _instant(text: str | None) -> datetime | None:
    return None if text is None else from_utc_text(text)


def _text(instant: datetime | None) -> str | None:
    return None if instant is None else to_utc_text(instant)


class HealthRepository:
    """Reads and writes `sweep_health` rows (one per sweep, and one for the gateway, per scope)."""

    def __init__(self, db: Database, scope: str = "") -> None:
        self.db = db
        self.scope = scope

    async def record(self, records: Sequence[SweepRecord]) -> None:
        """Store the latest run of each sweep in one transaction (keeping the last success on failure)."""
        await self.db.executemany(
            "INSERT INTO sweep_health (name, scope, interval_seconds, last_started_at, last_finished_at, "
            "last_ok_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (name, scope) DO UPDATE SET interval_seconds = excluded.interval_seconds, "
            "last_started_at = excluded.last_started_at, last_finished_at = excluded.last_finished_at, "
            "last_ok_at = coalesce(excluded.last_ok_at, sweep_health.last_ok_at), last_error = excluded.last_error",
            [(r.name, self.scope, r.interval_seconds, _text(r.last_started_at), _text(r.last_finished_at),
              _text(r.last_ok_at), r.last_error) for r in records],
        )

    async def records(self) -> dict[str, SweepRecord]:
        """Return the stored records of this scope by name."""
        return (await self.every_scope()).get(self.scope, {})  # a row per sweep and process: a small table

    async def every_scope(self) -> dict[str, dict[str, SweepRecord]]:
        """Return every process's records: by scope (`""`, or a shard process's), then by name."""
        rows = await self.db.fetch_all(
            "SELECT scope, name, interval_seconds, last_started_at, last_finished_at, last_ok_at, last_error "
            "FROM sweep_health", ())
        scopes: dict[str, dict[str, SweepRecord]] = {}
        for r in rows:
            scopes.setdefault(r["scope"], {})[r["name"]] = SweepRecord(
                r["name"], r["interval_seconds"], _instant(r["last_started_at"]), _instant(r["last_finished_at"]),
                _instant(r["last_ok_at"]), r["last_error"])
        return scopes
