"""Check-ins, pledges, the daily prompt schedule and reminders: SQL only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from bot.db.database import Connection, Database, Row
from bot.db.guilds import guild_from_row
from bot.db.members import member_from_row
from bot.db.plans import Plan, run_async
from bot.domain.checkins import DayRecord
from bot.domain.localtime import from_utc_text, parse_hhmm, to_utc_text
from bot.domain.settings import GuildSettings, MemberSettings

# SQLite and PostgreSQL allow some 32,000 bound variables; stay far below it per statement.
_IN_CHUNK = 500
_CHECKIN_DAYS = "SELECT local_date, timezone FROM checkins WHERE member_id = ? ORDER BY local_date"
_PLEDGE_DAYS = "SELECT local_date, timezone FROM pledges WHERE member_id = ? ORDER BY local_date"


@dataclass(frozen=True, slots=True)
class CheckIn:
    """One day's check-in."""

    member_id: int
    local_date: date
    timezone: str
    mood: int
    craving: int | None
    note: str | None


@dataclass(frozen=True, slots=True)
class Reminder:
    """A member's daily reminder."""

    member_id: int
    remind_time: time
    timezone: str
    next_due_at: datetime
    last_sent_date: date | None
    dm_closed_date: date | None


@dataclass(frozen=True, slots=True)
class DueReminder:
    """A reminder whose instant has come, with what deciding about it needs."""

    reminder: Reminder
    member: MemberSettings
    guild_timezone: str | None
    guild_left: bool
    checkin_channel_id: int | None


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _reminder(row: Row, prefix: str = "") -> Reminder:
    return Reminder(
        member_id=row[prefix + "member_id"],
        remind_time=parse_hhmm(row[prefix + "remind_time"]),
        timezone=row[prefix + "timezone"],
        next_due_at=from_utc_text(row[prefix + "next_due_at"]),
        last_sent_date=_date(row[prefix + "last_sent_date"]),
        dm_closed_date=_date(row[prefix + "dm_closed_date"]),
    )


def _days(rows: Sequence[Row]) -> list[DayRecord]:
    return [DayRecord(date.fromisoformat(r["local_date"]), r["timezone"]) for r in rows]


def _hhmm(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


class CheckInRepository:
    """Reads and writes check-ins, pledges, prompt schedules and reminders.

    Methods taking `conn` run inside the caller's `db.transaction()`, so a service can
    record a decision, advance a schedule and queue its message in one commit.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- check-ins ----------------------------------------------------------------------

    @staticmethod
    async def checkin_days_in(conn: Connection, member_id: int) -> list[DayRecord]:
        """Return a member's checked-in days inside a transaction, in date order."""
        return await run_async(conn, CheckInRepository.checkin_days_plan(member_id))

    @staticmethod
    def checkin_days_plan(member_id: int) -> Plan[list[DayRecord]]:
        """`checkin_days_in` as a plan (`bot.db.plans`)."""
        return _days((yield _CHECKIN_DAYS, (member_id,)))

    @staticmethod
    async def upsert_checkin(conn: Connection, *, member_id: int, local_date: date, timezone: str,
                             mood: int, craving: int | None, note: str | None, now: datetime) -> None:
        """Record a day's check-in; a second one that day replaces the mood and any value given.

        An update keeps the day's original zone (the zone that defined that date) and keeps
        a craving or note the member did not re-enter, so nothing acknowledged goes missing.
        """
        await run_async(conn, CheckInRepository.upsert_checkin_plan(
            member_id=member_id, local_date=local_date, timezone=timezone, mood=mood, craving=craving, note=note,
            now=now))

    @staticmethod
    def upsert_checkin_plan(*, member_id: int, local_date: date, timezone: str, mood: int, craving: int | None,
                            note: str | None, now: datetime) -> Plan[None]:
        """`upsert_checkin` as a plan (`bot.db.plans`)."""
        stamp = to_utc_text(now)
        yield (
            "INSERT INTO checkins (member_id, local_date, timezone, mood, craving, note, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (member_id, local_date) DO UPDATE SET mood = excluded.mood, "
            "craving = coalesce(excluded.craving, checkins.craving), "
            "note = coalesce(excluded.note, checkins.note), updated_at = excluded.updated_at",
            (member_id, local_date.isoformat(), timezone, mood, craving, note, stamp, stamp),
        )

    async def checkin_days(self, member_id: int) -> list[DayRecord]:
        """Return a member's checked-in days in date order."""
        return _days(await self.db.fetch_all(_CHECKIN_DAYS, (member_id,)))

    async def checkins_between(self, member_id: int, start: date, end: date) -> list[CheckIn]:
        """Return a member's check-ins from `start` to `end` (local dates, inclusive)."""
        rows = await self.db.fetch_all(
            "SELECT member_id, local_date, timezone, mood, craving, note FROM checkins "
            "WHERE member_id = ? AND local_date BETWEEN ? AND ? ORDER BY local_date",
            (member_id, start.isoformat(), end.isoformat()),
        )
        return [CheckIn(r["member_id"], date.fromisoformat(r["local_date"]), r["timezone"], r["mood"],
                        r["craving"], r["note"]) for r in rows]

    async def get_checkin(self, member_id: int, local_date: date) -> CheckIn | None:
        """Return one day's check-in."""
        rows = await self.checkins_between(member_id, local_date, local_date)
        return rows[0] if rows else None

    async def last_checkin_dates(self, member_ids: Sequence[int]) -> dict[int, date]:
        """Return the latest checked-in local date of each member who has one."""
        result: dict[int, date] = {}
        unique = list(dict.fromkeys(member_ids))
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start:start + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = await self.db.fetch_all(
                f"SELECT member_id, max(local_date) AS last FROM checkins WHERE member_id IN ({marks}) "  # noqa: S608 - placeholders only
                "GROUP BY member_id",
                chunk,
            )
            result.update({r["member_id"]: date.fromisoformat(r["last"]) for r in rows})
        return result

    async def weekly_checkins(self, guild_id: int, week_starts: Sequence[date],
                              end: date) -> list[tuple[int, int, float, int | None]]:
        """Return (member id, week index, average mood, highest craving) per member and week of a server.

        Weeks are consecutive, starting on `week_starts` (local dates), the last ending before
        `end`; the database does the grouping, so the pulse of a large server reads one row
        per member and week, not one per check-in.
        """
        if not week_starts:
            return []
        bounds = [*week_starts[1:], end]
        case = " ".join(f"WHEN c.local_date < ? THEN {i}" for i in range(len(bounds)))
        params: list[object] = [b.isoformat() for b in bounds]
        rows = await self.db.fetch_all(
            f"SELECT c.member_id, CASE {case} END AS week, avg(c.mood) AS mood, max(c.craving) AS craving "  # noqa: S608 - placeholders only
            "FROM checkins c JOIN members m ON m.member_id = c.member_id "
            "WHERE m.guild_id = ? AND c.local_date >= ? AND c.local_date < ? GROUP BY c.member_id, week",
            [*params, guild_id, week_starts[0].isoformat(), end.isoformat()])
        return [(r["member_id"], r["week"], float(r["mood"]), r["craving"]) for r in rows]

    @staticmethod
    async def has_checkin_in(conn: Connection, member_id: int, local_date: date) -> bool:
        """Tell, inside a transaction, whether a member checked in on a local date."""
        return await conn.fetch_value(
            "SELECT 1 FROM checkins WHERE member_id = ? AND local_date = ?", (member_id, local_date.isoformat())) is not None

    # -- pledges ------------------------------------------------------------------------

    @staticmethod
    async def insert_pledge(conn: Connection, *, member_id: int, local_date: date, timezone: str,
                            now: datetime) -> bool:
        """Record a day's pledge; False if that day's pledge was already made."""
        return await conn.execute(
            "INSERT INTO pledges (member_id, local_date, timezone, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (member_id, local_date) DO NOTHING",
            (member_id, local_date.isoformat(), timezone, to_utc_text(now)),
        ) == 1

    @staticmethod
    async def pledge_days_in(conn: Connection, member_id: int) -> list[DayRecord]:
        """Return a member's pledged days inside a transaction, in date order."""
        return _days(await conn.fetch_all(_PLEDGE_DAYS, (member_id,)))

    async def pledge_days(self, member_id: int) -> list[DayRecord]:
        """Return a member's pledged days in date order."""
        return _days(await self.db.fetch_all(_PLEDGE_DAYS, (member_id,)))

    # -- daily prompt -------------------------------------------------------------------

    async def schedule_prompt(self, guild_id: int, next_due_at: datetime | None) -> None:
        """Set when a server's next prompt is due, or stop its prompts (None)."""
        async with self.db.transaction() as conn:
            await self.put_prompt(conn, guild_id, next_due_at)

    @staticmethod
    async def put_prompt(conn: Connection, guild_id: int, next_due_at: datetime | None) -> None:
        """As `schedule_prompt`, inside the caller's transaction."""
        if next_due_at is None:
            await conn.execute("DELETE FROM checkin_prompt_schedule WHERE guild_id = ?", (guild_id,))
            return
        await conn.execute(
            "INSERT INTO checkin_prompt_schedule (guild_id, next_due_at) VALUES (?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE SET next_due_at = excluded.next_due_at",
            (guild_id, to_utc_text(next_due_at)),
        )

    async def prompt_due_at(self, guild_id: int) -> datetime | None:
        """Return when a server's next prompt is due (None while prompts are off)."""
        value = await self.db.fetch_value(
            "SELECT next_due_at FROM checkin_prompt_schedule WHERE guild_id = ?", (guild_id,))
        return from_utc_text(value) if value else None

    async def unscheduled_prompt_guilds(self) -> list[GuildSettings]:
        """Return servers with prompts switched on but no schedule row (start-up repair)."""
        rows = await self.db.fetch_all(
            "SELECT g.* FROM guilds g LEFT JOIN checkin_prompt_schedule s USING (guild_id) "
            "WHERE g.checkin_enabled = 1 AND g.checkin_channel_id IS NOT NULL AND g.left_at IS NULL "
            "AND s.guild_id IS NULL")
        return [guild_from_row(r) for r in rows]

    @staticmethod
    async def due_prompts(conn: Connection, now: datetime, limit: int) -> list[GuildSettings]:
        """Return, inside a transaction, servers whose prompt is due, earliest first.

        The schedule rows are locked until the transaction ends; rows another process holds
        are skipped (it is handling them), so no two processes decide the same prompt.
        """
        rows = await conn.fetch_all(
            "SELECT g.* FROM checkin_prompt_schedule s JOIN guilds g USING (guild_id) "  # noqa: S608 - fixed fragments
            f"WHERE s.next_due_at <= ?{conn.mine('s.guild_id')} ORDER BY s.next_due_at LIMIT ? "
            "FOR UPDATE OF s SKIP LOCKED",
            (to_utc_text(now), limit),
        )
        return [guild_from_row(r) for r in rows]

    async def earliest_prompt_due(self) -> datetime | None:
        """Return the earliest instant a server's prompt is due (the sweep moves it on once handled)."""
        return await self.db.fetch_instant(
            f"SELECT min(next_due_at) FROM checkin_prompt_schedule WHERE 1 = 1{self.db.mine('guild_id')}")  # noqa: S608 - fixed fragments

    async def earliest_reminder_due(self) -> datetime | None:
        """Return the earliest instant a reminder is due."""
        if self.db.shards is None:
            return await self.db.fetch_instant("SELECT min(next_due_at) FROM checkin_reminders")
        return await self.db.fetch_instant(
            "SELECT min(r.next_due_at) FROM checkin_reminders r JOIN members m USING (member_id) "  # noqa: S608
            f"WHERE 1 = 1{self.db.mine('m.guild_id')}")

    @staticmethod
    async def advance_prompt(conn: Connection, guild_id: int, next_due_at: datetime | None) -> None:
        """Move a server's schedule on inside a transaction (None removes it)."""
        if next_due_at is None:
            await conn.execute("DELETE FROM checkin_prompt_schedule WHERE guild_id = ?", (guild_id,))
        else:
            await conn.execute("UPDATE checkin_prompt_schedule SET next_due_at = ? WHERE guild_id = ?",
                               (to_utc_text(next_due_at), guild_id))

    @staticmethod
    async def record_prompt(conn: Connection, *, guild_id: int, local_date: date, timezone: str,
                            channel_id: int, prompt_index: int, now: datetime, keep_after: date) -> bool:
        """Record the prompt of a server's local date; False if that date already has one.

        Records older than `keep_after` have done their job (only today's can collide)
        and are pruned here, per server, so the table stays small without a full scan.
        """
        await conn.execute("DELETE FROM checkin_prompts WHERE guild_id = ? AND local_date < ?",
                           (guild_id, keep_after.isoformat()))
        return await conn.execute(
            "INSERT INTO checkin_prompts (guild_id, local_date, timezone, channel_id, prompt_index, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, local_date) DO NOTHING",
            (guild_id, local_date.isoformat(), timezone, channel_id, prompt_index, to_utc_text(now)),
        ) == 1

    async def prompt_dates(self, guild_id: int) -> list[date]:
        """Return the local dates a server's prompt was decided on, in order."""
        rows = await self.db.fetch_all(
            "SELECT local_date FROM checkin_prompts WHERE guild_id = ? ORDER BY local_date", (guild_id,))
        return [date.fromisoformat(r["local_date"]) for r in rows]

    # -- reminders ----------------------------------------------------------------------

    async def get_reminder(self, member_id: int) -> Reminder | None:
        """Return a member's reminder."""
        row = await self.db.fetch_one("SELECT * FROM checkin_reminders WHERE member_id = ?", (member_id,))
        return _reminder(row) if row else None

    async def put_reminder(self, member_id: int, *, remind_time: time, timezone: str, next_due_at: datetime,
                           now: datetime) -> Reminder:
        """Create or change a member's reminder (keeping which day was last reminded)."""
        stamp = to_utc_text(now)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO checkin_reminders (member_id, remind_time, timezone, next_due_at, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (member_id) DO UPDATE SET "
                "remind_time = excluded.remind_time, timezone = excluded.timezone, "
                "next_due_at = excluded.next_due_at, dm_closed_date = NULL, updated_at = excluded.updated_at",
                (member_id, _hhmm(remind_time), timezone, to_utc_text(next_due_at), stamp, stamp),
            )
            row = await conn.fetch_one("SELECT * FROM checkin_reminders WHERE member_id = ?", (member_id,))
        assert row is not None
        return _reminder(row)

    async def reschedule_reminder(self, member_id: int, *, timezone: str, next_due_at: datetime) -> None:
        """Move a reminder's next instant after its zone changed."""
        await self.db.execute(
            "UPDATE checkin_reminders SET timezone = ?, next_due_at = ? WHERE member_id = ?",
            (timezone, to_utc_text(next_due_at), member_id))

    async def delete_reminder(self, member_id: int) -> bool:
        """Remove a member's reminder; False if there was none."""
        return await self.db.execute("DELETE FROM checkin_reminders WHERE member_id = ?", (member_id,)) > 0

    @staticmethod
    async def reminders_to_follow_zone(conn: Connection, guild_id: int, timezone: str,
                                       limit: int) -> list[Reminder]:
        """Return, inside a transaction, reminders of members who use the server's zone but are not in `timezone`."""
        rows = await conn.fetch_all(
            "SELECT r.* FROM members m JOIN checkin_reminders r USING (member_id) "
            "WHERE m.guild_id = ? AND m.timezone IS NULL AND r.timezone != ? ORDER BY r.member_id LIMIT ?",
            (guild_id, timezone, limit))
        return [_reminder(r) for r in rows]

    @staticmethod
    async def move_reminders(conn: Connection, timezone: str,
                             moves: Sequence[tuple[int, datetime]]) -> None:
        """Move reminders (member id, next instant) to a zone inside a transaction, in one round trip."""
        await conn.executemany(
            "UPDATE checkin_reminders SET timezone = ?, next_due_at = ? WHERE member_id = ?",
            [(timezone, to_utc_text(due), member_id) for member_id, due in moves])

    @staticmethod
    async def due_reminders(conn: Connection, now: datetime, limit: int) -> list[DueReminder]:
        """Return, inside a transaction, reminders whose instant has come, earliest first.

        The reminder rows are locked until the transaction ends; rows another process holds
        are skipped (it is handling them).
        """
        rows = await conn.fetch_all(
            "SELECT m.*, r.member_id AS r_member_id, r.remind_time AS r_remind_time, r.timezone AS r_timezone, "  # noqa: S608
            "r.next_due_at AS r_next_due_at, r.last_sent_date AS r_last_sent_date, "
            "r.dm_closed_date AS r_dm_closed_date, g.timezone AS g_timezone, g.left_at AS g_left_at, "
            "g.checkin_channel_id AS g_checkin_channel_id "
            "FROM checkin_reminders r JOIN members m USING (member_id) JOIN guilds g ON g.guild_id = m.guild_id "
            f"WHERE r.next_due_at <= ?{conn.mine('m.guild_id')} ORDER BY r.next_due_at LIMIT ? "
            "FOR UPDATE OF r SKIP LOCKED",
            (to_utc_text(now), limit),
        )
        return [DueReminder(reminder=_reminder(r, "r_"), member=member_from_row(r), guild_timezone=r["g_timezone"],
                            guild_left=r["g_left_at"] is not None, checkin_channel_id=r["g_checkin_channel_id"])
                for r in rows]

    @staticmethod
    async def advance_reminder(conn: Connection, member_id: int, *, timezone: str,
                               next_due_at: datetime, sent_date: date | None) -> None:
        """Move a reminder on inside a transaction, noting the local date it was sent for."""
        if sent_date is None:
            await conn.execute("UPDATE checkin_reminders SET timezone = ?, next_due_at = ? WHERE member_id = ?",
                               (timezone, to_utc_text(next_due_at), member_id))
        else:
            await conn.execute(
                "UPDATE checkin_reminders SET timezone = ?, next_due_at = ?, last_sent_date = ? WHERE member_id = ?",
                (timezone, to_utc_text(next_due_at), sent_date.isoformat(), member_id))

    async def note_reminder_dm_closed(self, member_id: int, local_date: date | None) -> None:
        """Remember the local day a reminder found the member's DMs closed (None clears it)."""
        await self.db.execute(
            "UPDATE checkin_reminders SET dm_closed_date = ? WHERE member_id = ?",
            (local_date.isoformat() if local_date else None, member_id))
