"""What `/config pulse` showed of final weeks (counts and hidden markers only): SQL only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from bot.db.database import Database
from bot.domain.pulse import FrozenCell, Hidden, ShownGroup


def _groups_text(groups: tuple[ShownGroup, ...]) -> str:
    return ",".join(f"{g.first}-{g.last}:{g.value}" for g in groups)


def _groups(text: str) -> tuple[ShownGroup, ...]:
    groups = []
    for part in text.split(","):
        bands, value = part.split(":")
        first, last = bands.split("-")
        groups.append(ShownGroup(int(first), int(last), int(value)))
    return tuple(groups)


class PulseRepository:
    """Frozen pulse cells per server, week and figure."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def shown(self, guild_id: int, first: date) -> dict[tuple[date, str], FrozenCell]:
        """Return the frozen cells of a server's weeks from `first` on."""
        rows = await self.db.fetch_all(
            "SELECT week_start, figure, value, hidden, groups_shown FROM pulse_shown "
            "WHERE guild_id = ? AND week_start >= ?", (guild_id, first.isoformat()))
        return {(date.fromisoformat(r["week_start"]), r["figure"]): FrozenCell(
            value=r["value"], hidden=Hidden(r["hidden"]) if r["hidden"] else None,
            groups=_groups(r["groups_shown"]) if r["groups_shown"] else None) for r in rows}

    async def freeze(self, guild_id: int, cells: Mapping[tuple[date, str], FrozenCell], keep_from: date) -> None:
        """Keep cells not kept yet (a server without a row keeps none); delete those of weeks before `keep_from`."""
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO pulse_shown (guild_id, week_start, figure, value, hidden, groups_shown) "
                # Typed: PostgreSQL cannot tell a bare parameter's type in a SELECT list.
                "SELECT guild_id, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS TEXT), "
                "CAST(? AS TEXT) FROM guilds WHERE guild_id = ? "
                "ON CONFLICT (guild_id, week_start, figure) DO NOTHING",
                [(week.isoformat(), key, cell.value, cell.hidden.value if cell.hidden else None,
                  _groups_text(cell.groups) if cell.groups else None, guild_id)
                 for (week, key), cell in cells.items()])
            await conn.execute("DELETE FROM pulse_shown WHERE guild_id = ? AND week_start < ?",
                               (guild_id, keep_from.isoformat()))
