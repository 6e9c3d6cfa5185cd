"""Weekly meetings, their published Discord events, members' reminders, and reminder counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.db.database import Connection, Database, IntegrityError, Row
from bot.domain.keys import RowRef, new_incarnation
from bot.domain.localtime import from_utc_text, parse_hhmm, to_utc_text, zone
from bot.domain.meetings import ChannelKind, WeeklyTime

COUNTS_KEPT = timedelta(weeks=26)  # /config pulse looks back at most 26 weeks


class MeetingExistsError(Exception):
    """A meeting of that name already exists in the server."""


@dataclass(frozen=True, slots=True)
class Meeting:
    """A weekly meeting and the occurrence it has published (or will publish)."""

    meeting_id: int
    guild_id: int
    name: str
    weekday: int
    local_time: str
    timezone: str
    duration_minutes: int
    channel_id: int | None
    channel_kind: ChannelKind | None
    location: str | None
    description: str | None
    occurrence_at: datetime
    event_id: int | None
    recreated: bool
    next_check_at: datetime
    incarnation: str | None = None

    @property
    def ref(self) -> RowRef:
        """How dedupe keys name this meeting (`bot.domain.keys`)."""
        return RowRef(self.meeting_id, self.incarnation)

    @property
    def weekly(self) -> WeeklyTime:
        """When the meeting happens."""
        return WeeklyTime(self.weekday, parse_hhmm(self.local_time), zone(self.timezone),
                          timedelta(minutes=self.duration_minutes))

    @property
    def occurrence_end(self) -> datetime:
        """When the published occurrence ends."""
        return self.occurrence_at + timedelta(minutes=self.duration_minutes)


@dataclass(frozen=True, slots=True)
class Reminder:
    """A member's reminder for a meeting."""

    meeting_id: int
    member_id: int
    minutes_before: int
    next_occurrence_at: datetime
    next_remind_at: datetime


@dataclass(frozen=True, slots=True)
class DueReminder:
    """A reminder whose time has come, with what the DM needs: the meeting and the member's zone."""

    reminder: Reminder
    meeting: Meeting
    guild_id: int
    user_id: int
    timezone: str | None  # the member's, else the server's
    guild_left: bool


def _meeting(row: Row) -> Meeting:
    return Meeting(
        meeting_id=row["meeting_id"], guild_id=row["guild_id"], name=row["name"], weekday=row["weekday"],
        local_time=row["local_time"], timezone=row["timezone"], duration_minutes=row["duration_minutes"],
        channel_id=row["channel_id"], channel_kind=ChannelKind(row["channel_kind"]) if row["channel_kind"] else None,
        location=row["location"], description=row["description"],
        occurrence_at=from_utc_text(row["occurrence_at"]), event_id=row["event_id"], recreated=bool(row["recreated"]),
        next_check_at=from_utc_text(row["next_check_at"]), incarnation=row["incarnation"],
    )


def _reminder(row: Row, prefix: str = "") -> Reminder:
    return Reminder(row[f"{prefix}meeting_id"], row[f"{prefix}member_id"], row[f"{prefix}minutes_before"],
                    from_utc_text(row[f"{prefix}next_occurrence_at"]), from_utc_text(row[f"{prefix}next_remind_at"]))


class MeetingRepository:
    """Reads and writes the meeting tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- meetings -----------------------------------------------------------------------

    async def meeting(self, meeting_id: int) -> Meeting | None:
        """Return a meeting by id."""
        row = await self.db.fetch_one("SELECT * FROM meetings WHERE meeting_id = ?", (meeting_id,))
        return _meeting(row) if row else None

    async def by_name(self, guild_id: int, key: str) -> Meeting | None:
        """Return a server's meeting by name key."""
        row = await self.db.fetch_one("SELECT * FROM meetings WHERE guild_id = ? AND name_key = ?", (guild_id, key))
        return _meeting(row) if row else None

    async def in_guild(self, guild_id: int) -> list[Meeting]:
        """Return a server's meetings, by name."""
        rows = await self.db.fetch_all("SELECT * FROM meetings WHERE guild_id = ? ORDER BY name_key", (guild_id,))
        return [_meeting(r) for r in rows]

    async def count(self, guild_id: int) -> int:
        """Return how many meetings a server has."""
        return int(await self.db.fetch_value("SELECT count(*) FROM meetings WHERE guild_id = ?", (guild_id,)))

    @staticmethod
    async def create(conn: Connection, *, guild_id: int, name: str, key: str, weekly: WeeklyTime,
                     local_time: str, timezone: str, channel_id: int | None, channel_kind: ChannelKind | None,
                     location: str | None, description: str | None, occurrence_at: datetime, event_id: int | None,
                     next_check_at: datetime, now: datetime) -> int:
        """Add a meeting; raise MeetingExistsError if the server has one of that name."""
        try:
            meeting_id = await conn.fetch_value(
                "INSERT INTO meetings (guild_id, name, name_key, weekday, local_time, timezone, duration_minutes, "
                "channel_id, channel_kind, location, description, occurrence_at, event_id, next_check_at, created_at, "
                "incarnation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING meeting_id",
                (guild_id, name, key, weekly.weekday, local_time, timezone, int(weekly.duration.total_seconds() // 60),
                 channel_id, channel_kind.value if channel_kind else None, location, description,
                 to_utc_text(occurrence_at), event_id, to_utc_text(next_check_at), to_utc_text(now),
                 new_incarnation()))
        except IntegrityError as exc:
            raise MeetingExistsError() from exc
        return int(meeting_id)

    @staticmethod
    async def delete(conn: Connection, meeting_id: int) -> bool:
        """Remove a meeting (its reminders go with it); False if it was already gone."""
        return await conn.execute("DELETE FROM meetings WHERE meeting_id = ?", (meeting_id,)) == 1

    async def due_checks(self, now: datetime, limit: int) -> list[Meeting]:
        """Return meetings (of servers the bot is in) whose next look is due, earliest first."""
        rows = await self.db.fetch_all(
            "SELECT mt.* FROM meetings mt JOIN guilds g ON g.guild_id = mt.guild_id "  # noqa: S608
            f"WHERE mt.next_check_at <= ? AND g.left_at IS NULL{self.db.mine('mt.guild_id')} "
            "ORDER BY mt.next_check_at LIMIT ?",
            (to_utc_text(now), limit))
        return [_meeting(r) for r in rows]

    async def earliest_check(self) -> datetime | None:
        """Return the earliest instant a meeting is due a look (for health checks)."""
        return await self.db.fetch_instant(
            "SELECT min(mt.next_check_at) FROM meetings mt JOIN guilds g ON g.guild_id = mt.guild_id "  # noqa: S608
            f"WHERE g.left_at IS NULL{self.db.mine('mt.guild_id')}")

    @staticmethod
    async def record_publication(conn: Connection, meeting: Meeting, *, occurrence_at: datetime,
                                 event_id: int | None, recreated: bool, next_check_at: datetime) -> bool:
        """Store what the events sweep did, unless the meeting changed (or went) since it was read."""
        return await conn.execute(
            "UPDATE meetings SET occurrence_at = ?, event_id = ?, recreated = ?, next_check_at = ? "
            "WHERE meeting_id = ? AND occurrence_at = ? AND COALESCE(event_id, 0) = ?",
            (to_utc_text(occurrence_at), event_id, int(recreated), to_utc_text(next_check_at), meeting.meeting_id,
             to_utc_text(meeting.occurrence_at), meeting.event_id or 0)) == 1

    # -- reminders ------------------------------------------------------------------------

    async def reminder(self, meeting_id: int, member_id: int) -> Reminder | None:
        """Return a member's reminder for a meeting."""
        row = await self.db.fetch_one("SELECT * FROM meeting_reminders WHERE meeting_id = ? AND member_id = ?",
                                      (meeting_id, member_id))
        return _reminder(row) if row else None

    async def reminders_of(self, member_id: int) -> dict[int, Reminder]:
        """Return a member's reminders by meeting id."""
        rows = await self.db.fetch_all("SELECT * FROM meeting_reminders WHERE member_id = ?", (member_id,))
        return {r["meeting_id"]: _reminder(r) for r in rows}

    @staticmethod
    async def put_reminder(conn: Connection, *, meeting_id: int, member_id: int, minutes_before: int,
                           next_occurrence_at: datetime, now: datetime) -> None:
        """Turn on (or change) a member's reminder for a meeting."""
        remind_at = next_occurrence_at - timedelta(minutes=minutes_before)
        await conn.execute(
            "INSERT INTO meeting_reminders (meeting_id, member_id, minutes_before, next_occurrence_at, next_remind_at, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (meeting_id, member_id) DO UPDATE SET "
            "minutes_before = excluded.minutes_before, next_occurrence_at = excluded.next_occurrence_at, "
            "next_remind_at = excluded.next_remind_at",
            (meeting_id, member_id, minutes_before, to_utc_text(next_occurrence_at), to_utc_text(remind_at),
             to_utc_text(now)))

    @staticmethod
    async def delete_reminder(conn: Connection, meeting_id: int, member_id: int) -> bool:
        """Turn a member's reminder off; False if there was none."""
        return await conn.execute("DELETE FROM meeting_reminders WHERE meeting_id = ? AND member_id = ?",
                                  (meeting_id, member_id)) == 1

    @staticmethod
    async def due_reminders(conn: Connection, now: datetime, limit: int) -> list[DueReminder]:
        """Return, inside a transaction, reminders whose time has come, earliest first.

        The reminder rows are locked until the transaction ends; rows another process holds
        are skipped (it is handling them).
        """
        rows = await conn.fetch_all(
            "SELECT mt.*, r.meeting_id AS r_meeting_id, r.member_id AS r_member_id, "  # noqa: S608
            "r.minutes_before AS r_minutes_before, r.next_occurrence_at AS r_next_occurrence_at, "
            "r.next_remind_at AS r_next_remind_at, m.user_id, COALESCE(m.timezone, g.timezone) AS member_tz, "
            "g.left_at AS guild_left_at FROM meeting_reminders r JOIN meetings mt ON mt.meeting_id = r.meeting_id "
            "JOIN members m ON m.member_id = r.member_id JOIN guilds g ON g.guild_id = mt.guild_id "
            f"WHERE r.next_remind_at <= ?{conn.mine('mt.guild_id')} ORDER BY r.next_remind_at LIMIT ? "
            "FOR UPDATE OF r SKIP LOCKED",
            (to_utc_text(now), limit))
        return [DueReminder(_reminder(r, "r_"), _meeting(r), r["guild_id"], r["user_id"], r["member_tz"],
                            r["guild_left_at"] is not None) for r in rows]

    @staticmethod
    async def advance_reminder(conn: Connection, reminder: Reminder, next_occurrence_at: datetime) -> None:
        """Move a reminder on to the next occurrence to remind of."""
        remind_at = next_occurrence_at - timedelta(minutes=reminder.minutes_before)
        await conn.execute(
            "UPDATE meeting_reminders SET next_occurrence_at = ?, next_remind_at = ? WHERE meeting_id = ? "
            "AND member_id = ?", (to_utc_text(next_occurrence_at), to_utc_text(remind_at), reminder.meeting_id,
                                  reminder.member_id))

    async def earliest_reminder(self) -> datetime | None:
        """Return the earliest instant a reminder is due (for health checks)."""
        if self.db.shards is None:
            return await self.db.fetch_instant("SELECT min(next_remind_at) FROM meeting_reminders")
        return await self.db.fetch_instant(
            "SELECT min(r.next_remind_at) FROM meeting_reminders r JOIN meetings mt ON mt.meeting_id = r.meeting_id "  # noqa: S608
            f"WHERE 1 = 1{self.db.mine('mt.guild_id')}")

    async def members_with_reminders(self, member_ids: list[int]) -> set[int]:
        """Return which of these members have a reminder on (retention keeps them: the reminder serves them)."""
        if not member_ids:
            return set()
        ids, param = self.db.ids(member_ids)
        rows = await self.db.fetch_all(
            f"SELECT DISTINCT member_id FROM meeting_reminders WHERE member_id IN ({ids})",  # noqa: S608 - a fixed subquery
            (param,))
        return {r["member_id"] for r in rows}

    # -- counts for /config pulse (no member ids) -----------------------------------------------

    async def note_delivered(self, guild_id: int, meeting_id: int, occurrence_at: datetime, now: datetime) -> None:
        """Count a reminder delivered for an occurrence; forget counts older than 26 weeks."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO meeting_reminder_counts (guild_id, meeting_id, occurrence_at, delivered) "
                "VALUES (?, ?, ?, 1) ON CONFLICT (meeting_id, occurrence_at) DO UPDATE SET "
                "delivered = meeting_reminder_counts.delivered + 1",
                (guild_id, meeting_id, to_utc_text(occurrence_at)))
            await conn.execute("DELETE FROM meeting_reminder_counts WHERE occurrence_at < ?",
                               (to_utc_text(now - COUNTS_KEPT),))

    async def reminders_delivered_between(self, guild_id: int, start: datetime, end: datetime) -> int:
        """Return how many meeting reminders were delivered for occurrences in [start, end) (for `/config pulse`)."""
        return int(await self.db.fetch_value(
            "SELECT COALESCE(sum(delivered), 0) FROM meeting_reminder_counts WHERE guild_id = ? "
            "AND occurrence_at >= ? AND occurrence_at < ?", (guild_id, to_utc_text(start), to_utc_text(end))))

    async def reminders_on(self, guild_id: int) -> int:
        """Return how many meeting reminders members of a server have on now (for `/config pulse`)."""
        return int(await self.db.fetch_value(
            "SELECT count(*) FROM meeting_reminders r JOIN meetings mt ON mt.meeting_id = r.meeting_id "
            "WHERE mt.guild_id = ?", (guild_id,)))
