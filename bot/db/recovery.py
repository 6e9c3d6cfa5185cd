"""Recovery counters, periods, celebrations and server ladders (SQL only)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from bot.db.database import Connection, Database, IntegrityError, Row
from bot.db.outbox import NewOutboxItem, cancel_in, enqueue
from bot.domain.keys import RowRef, new_incarnation
from bot.domain.localtime import from_utc_text, parse_hhmm, to_utc_text
from bot.domain.recovery import Celebrate, Delivery, Ladder, Period, Rung, Visibility


class CounterExistsError(Exception):
    """The member already has a counter with that name."""


class CounterChangedError(Exception):
    """The counter changed (or went) between reading it and writing to it."""


class LastRungError(Exception):
    """Removing this rung would leave the ladder empty."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """A counter's next milestone and the UTC instant its celebration is due."""

    milestone_days: int
    due_at: datetime


@dataclass(frozen=True, slots=True)
class PeriodRecord:
    """One stored period."""

    period_id: int
    start: date
    end: date | None
    incarnation: str | None

    @property
    def period(self) -> Period:
        """The domain value."""
        return Period(self.start, self.end)

    @property
    def ref(self) -> RowRef:
        """How dedupe keys name this period (`bot.domain.keys`)."""
        return RowRef(self.period_id, self.incarnation)


@dataclass(frozen=True, slots=True)
class CounterRecord:
    """One stored counter with its periods, oldest first (the last is current)."""

    counter_id: int
    member_id: int
    guild_id: int
    name: str
    visibility: Visibility
    celebrate: Celebrate
    schedule: Schedule | None
    periods: tuple[PeriodRecord, ...]

    @property
    def current(self) -> PeriodRecord:
        """The ongoing period."""
        return self.periods[-1]


@dataclass(frozen=True, slots=True)
class ScheduleInput:
    """What computing a counter's next celebration needs, read in one query."""

    counter_id: int
    guild_id: int
    member_id: int
    user_id: int
    member_timezone: str | None
    quiet_start: time | None
    quiet_end: time | None
    name: str
    visibility: Visibility
    celebrate: Celebrate
    period_id: int
    period_incarnation: str | None
    start: date
    last_celebrated_days: int
    schedule: Schedule | None

    @property
    def period_ref(self) -> RowRef:
        """How dedupe keys name the current period (`bot.domain.keys`)."""
        return RowRef(self.period_id, self.period_incarnation)


@dataclass(frozen=True, slots=True)
class CelebrationRecord:
    """A milestone handled for one period."""

    period_id: int
    member_id: int
    milestone_days: int
    local_date: date
    delivery: Delivery


@dataclass(frozen=True, slots=True)
class ScheduleBasis:
    """What a server's celebration times are worked out from: its stored zone and hour, and its own ladder."""

    guild_id: int
    timezone: str | None
    celebration_hour: int | None
    ladder: tuple[int, ...]  # the server's own rungs; empty while it uses the config file's ladder


@dataclass(frozen=True, slots=True)
class ClaimBasis:
    """What a sweep's decision rests on: the member's choices and where the server celebrates."""

    visibility: Visibility
    celebrate: Celebrate
    celebrations_channel_id: int | None
    guild_left: bool


@dataclass(frozen=True, slots=True)
class Claim:
    """The sweep's decision about one due counter, applied atomically with the others.

    `expected_due_at` and `basis` guard against a command having changed the counter (its
    schedule, its visibility or how it is celebrated) or the server's celebrations between
    the sweep's read and its write: the claim then does nothing, and the counter, still
    due, is decided again on what is true now.
    """

    counter_id: int
    expected_due_at: datetime
    schedule: Schedule | None
    basis: ClaimBasis
    celebration: CelebrationRecord | None = None
    message: NewOutboxItem | None = None
    not_before: datetime | None = None


def milestone_key(period: RowRef, days: int) -> str:
    """Return the outbox dedupe key of one milestone of one period."""
    return f"milestone:{period}:{days}"


def _schedule(row: Row) -> Schedule | None:
    if row["next_celebration_at"] is None:
        return None
    return Schedule(row["next_milestone_days"], from_utc_text(row["next_celebration_at"]))


def _schedule_params(schedule: Schedule | None) -> tuple[int | None, str | None]:
    if schedule is None:
        return None, None
    return schedule.milestone_days, to_utc_text(schedule.due_at)


def name_key(name: str) -> str:
    """Return the key a counter name is matched by: any capitals, any spacing."""
    return " ".join(name.split()).casefold()


_SCHEDULE_INPUT_SQL = """
    SELECT c.counter_id, c.guild_id, c.member_id, m.user_id, m.timezone, m.quiet_start, m.quiet_end,
           c.name, c.visibility, c.celebrate, c.next_milestone_days, c.next_celebration_at,
           p.period_id, p.incarnation AS period_incarnation, p.start_date,
           coalesce((SELECT max(milestone_days) FROM recovery_celebrations r
                     WHERE r.period_id = p.period_id), 0) AS last_celebrated
    FROM recovery_counters c
    JOIN members m ON m.member_id = c.member_id
    JOIN recovery_periods p ON p.counter_id = c.counter_id AND p.end_date IS NULL
"""
# What the sweep reads: due rows only, through the partial index on next_celebration_at.
DUE_SQL = (_SCHEDULE_INPUT_SQL + " WHERE c.next_celebration_at <= ?{mine} "
           "ORDER BY c.next_celebration_at, c.counter_id LIMIT ?")


def _schedule_input(row: Row) -> ScheduleInput:
    return ScheduleInput(
        counter_id=row["counter_id"], guild_id=row["guild_id"], member_id=row["member_id"],
        user_id=row["user_id"], member_timezone=row["timezone"],
        quiet_start=parse_hhmm(row["quiet_start"]) if row["quiet_start"] else None,
        quiet_end=parse_hhmm(row["quiet_end"]) if row["quiet_end"] else None,
        name=row["name"], visibility=Visibility(row["visibility"]),
        celebrate=Celebrate(row["celebrate"]), period_id=row["period_id"],
        period_incarnation=row["period_incarnation"], start=date.fromisoformat(row["start_date"]), last_celebrated_days=row["last_celebrated"],
        schedule=_schedule(row),
    )


class RecoveryRepository:
    """Reads and writes recovery counters and server ladders."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- counters -----------------------------------------------------------------------

    async def members_with_counters(self, member_ids: Sequence[int]) -> set[int]:
        """Return which of these members have a recovery counter."""
        if not member_ids:
            return set()
        marks = ",".join("?" * len(member_ids))
        rows = await self.db.fetch_all(
            f"SELECT DISTINCT member_id FROM recovery_counters WHERE member_id IN ({marks})",  # noqa: S608 - placeholders only
            tuple(member_ids))
        return {r["member_id"] for r in rows}

    async def counters(self, member_id: int) -> list[CounterRecord]:
        """Return a member's counters, oldest first, with their periods."""
        rows = await self.db.fetch_all(
            "SELECT * FROM recovery_counters WHERE member_id = ? ORDER BY counter_id", (member_id,))
        return await self._with_periods(rows)

    async def counter(self, member_id: int, name: str) -> CounterRecord | None:
        """Return a member's counter by name (any capitals)."""
        rows = await self.db.fetch_all(
            "SELECT * FROM recovery_counters WHERE member_id = ? AND name_key = ?",
            (member_id, name_key(name)))
        found = await self._with_periods(rows)
        return found[0] if found else None

    async def count(self, member_id: int) -> int:
        """Return how many counters a member has."""
        return int(await self.db.fetch_value(
            "SELECT count(*) FROM recovery_counters WHERE member_id = ?", (member_id,)))

    async def names(self, member_id: int) -> list[str]:
        """Return a member's counter names, oldest first."""
        rows = await self.db.fetch_all(
            "SELECT name FROM recovery_counters WHERE member_id = ? ORDER BY counter_id", (member_id,))
        return [r["name"] for r in rows]

    async def _with_periods(self, rows: Sequence[Row]) -> list[CounterRecord]:
        if not rows:
            return []
        ids = [r["counter_id"] for r in rows]
        marks = ",".join("?" * len(ids))
        period_rows = await self.db.fetch_all(
            f"SELECT period_id, counter_id, start_date, end_date, incarnation FROM recovery_periods "  # noqa: S608 - placeholders only
            f"WHERE counter_id IN ({marks}) ORDER BY counter_id, end_date IS NULL, start_date, period_id",
            ids)
        periods: dict[int, list[PeriodRecord]] = {i: [] for i in ids}
        for p in period_rows:
            periods[p["counter_id"]].append(PeriodRecord(
                p["period_id"], date.fromisoformat(p["start_date"]),
                date.fromisoformat(p["end_date"]) if p["end_date"] else None, p["incarnation"]))
        return [CounterRecord(
            counter_id=r["counter_id"], member_id=r["member_id"], guild_id=r["guild_id"], name=r["name"],
            visibility=Visibility(r["visibility"]), celebrate=Celebrate(r["celebrate"]),
            schedule=_schedule(r), periods=tuple(periods[r["counter_id"]]),
        ) for r in rows]

    async def create(self, *, member_id: int, guild_id: int, name: str, visibility: Visibility,
                     celebrate: Celebrate, start: date, schedule: Schedule | None,
                     now: datetime) -> CounterRecord:
        """Create a counter with its first period."""
        stamp = to_utc_text(now)
        days, due = _schedule_params(schedule)
        try:
            async with self.db.transaction() as conn:
                counter_id = await conn.fetch_value(
                    "INSERT INTO recovery_counters (member_id, guild_id, name, name_key, visibility, celebrate, "
                    "next_milestone_days, next_celebration_at, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING counter_id",
                    (member_id, guild_id, name, name_key(name), visibility.value, celebrate.value,
                     days, due, stamp, stamp))
                await conn.execute(
                    "INSERT INTO recovery_periods (counter_id, member_id, start_date, created_at, incarnation) "
                    "VALUES (?, ?, ?, ?, ?)", (counter_id, member_id, start.isoformat(), stamp, new_incarnation()))
        except IntegrityError as exc:
            raise CounterExistsError(name) from exc
        created = await self.counter(member_id, name)
        assert created is not None
        return created

    async def move_start(self, counter: CounterRecord, start: date, schedule: Schedule | None,
                         now: datetime) -> None:
        """Correct the current period's start date (no slip is recorded)."""
        async with self.db.transaction() as conn:
            if await conn.execute(
                    "UPDATE recovery_periods SET start_date = ? WHERE period_id = ? AND end_date IS NULL",
                    (start.isoformat(), counter.current.period_id)) != 1:
                raise CounterChangedError(counter.counter_id)
            await _set_schedule(conn, counter.counter_id, schedule, now)

    async def record_slip(self, counter: CounterRecord, on: date, schedule: Schedule | None,
                          now: datetime) -> None:
        """End the current period on `on` and start the next one that same date."""
        stamp = to_utc_text(now)
        async with self.db.transaction() as conn:
            if await conn.execute(
                    "UPDATE recovery_periods SET end_date = ? WHERE period_id = ? AND end_date IS NULL",
                    (on.isoformat(), counter.current.period_id)) != 1:
                raise CounterChangedError(counter.counter_id)
            await conn.execute(
                "INSERT INTO recovery_periods (counter_id, member_id, start_date, created_at, incarnation) "
                "VALUES (?, ?, ?, ?, ?)",
                (counter.counter_id, counter.member_id, on.isoformat(), stamp, new_incarnation()))
            await _cancel_pending(conn, counter.current.ref, channel_only=False)
            await _set_schedule(conn, counter.counter_id, schedule, now)

    async def update_settings(self, counter: CounterRecord, *, visibility: Visibility, celebrate: Celebrate,
                              cancel_public: bool, now: datetime) -> None:
        """Change who sees a counter and how it is celebrated.

        With `cancel_public`, a celebration still waiting to be posted publicly (a retry
        after a Discord outage) is withdrawn, so narrowing visibility takes effect at once.
        """
        async with self.db.transaction() as conn:
            if await conn.execute(
                    "UPDATE recovery_counters SET visibility = ?, celebrate = ?, updated_at = ? WHERE counter_id = ?",
                    (visibility.value, celebrate.value, to_utc_text(now), counter.counter_id)) != 1:
                raise CounterChangedError(counter.counter_id)
            if cancel_public:
                await _cancel_pending(conn, counter.current.ref, channel_only=True)

    async def delete(self, counter: CounterRecord) -> None:
        """Delete a counter with its history, withdrawing any celebration not yet sent."""
        async with self.db.transaction() as conn:
            for period in counter.periods:
                await _cancel_pending(conn, period.ref, channel_only=False)
            await conn.execute("DELETE FROM recovery_counters WHERE counter_id = ?", (counter.counter_id,))

    async def last_celebrated_days(self, period_id: int) -> int:
        """Return the highest milestone handled in a period (0 if none)."""
        return int(await self.db.fetch_value(
            "SELECT coalesce(max(milestone_days), 0) FROM recovery_celebrations WHERE period_id = ?",
            (period_id,)))

    # -- scheduling ---------------------------------------------------------------------

    async def schedule_inputs(self, *, guild_id: int | None = None, member_id: int | None = None,
                              counter_id: int | None = None) -> list[ScheduleInput]:
        """Return scheduling inputs for a server's, a member's or one counter's counters."""
        if counter_id is not None:
            where, param = "c.counter_id = ?", counter_id
        elif member_id is not None:
            where, param = "c.member_id = ?", member_id
        elif guild_id is not None:
            where, param = "c.guild_id = ?", guild_id
        else:
            raise ValueError("give a guild, member or counter")
        rows = await self.db.fetch_all(_SCHEDULE_INPUT_SQL + f" WHERE {where}", (param,))  # noqa: S608 - fixed fragments
        return [_schedule_input(r) for r in rows]

    async def due(self, now: datetime, limit: int) -> list[ScheduleInput]:
        """Return counters whose next celebration is due, earliest first (uses the partial index)."""
        rows = await self.db.fetch_all(DUE_SQL.format(mine=self.db.mine("c.guild_id")), (to_utc_text(now), limit))
        return [_schedule_input(r) for r in rows]

    async def earliest_due(self) -> datetime | None:
        """Return the earliest instant a celebration is due."""
        return await self.db.fetch_instant(
            "SELECT min(next_celebration_at) FROM recovery_counters WHERE next_celebration_at IS NOT NULL"  # noqa: S608
            + self.db.mine("guild_id"))

    async def set_schedules(self, changes: Iterable[tuple[int, Schedule | None, Schedule | None]],
                            now: datetime, *, basis: ScheduleBasis) -> int | None:
        """Store recomputed schedules (counter, schedule read, new schedule) in one transaction.

        A counter whose schedule is no longer the one read (a slip or a sweep got there
        first) is left alone: its own change was computed from fresher data. Returns how
        many were stored, or None (storing nothing) if the server's zone, hour or ladder is
        no longer `basis`: a newer change is rescheduling from what is true now, and an
        older one finishing after it must not put back its times.
        """
        stamp = to_utc_text(now)
        stored = 0
        async with self.db.transaction() as conn:
            # The server's row is locked to the end (a change of its zone or hour waits for us).
            guild = await conn.fetch_one(
                "SELECT timezone, celebration_hour FROM guilds WHERE guild_id = ? FOR UPDATE", (basis.guild_id,))
            ladder = tuple(r[0] for r in await conn.fetch_all(
                "SELECT days FROM recovery_milestones WHERE guild_id = ? ORDER BY days", (basis.guild_id,)))
            if guild is None or (guild[0], guild[1], ladder) != (basis.timezone, basis.celebration_hour, basis.ladder):
                return None
            # One statement per counter: how many were stored is the answer, and a batched
            # statement does not report it on every engine.
            for counter_id, old, new in changes:
                stored += await conn.execute(
                    "UPDATE recovery_counters SET next_milestone_days = ?, next_celebration_at = ?, updated_at = ? "
                    "WHERE counter_id = ? AND next_milestone_days IS NOT DISTINCT FROM ? "
                    "AND next_celebration_at IS NOT DISTINCT FROM ?",
                    (*_schedule_params(new), stamp, counter_id, *_schedule_params(old)))
        return stored

    async def apply_claims(self, claims: Sequence[Claim], now: datetime) -> int:
        """Apply the sweep's decisions in ONE transaction; return how many milestones were recorded.

        Each claim advances the counter's schedule only if it is still the one the sweep
        read, records the milestone (the unique key refuses a second), and queues its
        message with the milestone's dedupe key — all committed together or not at all.
        """
        recorded = 0
        stamp = to_utc_text(now)
        async with self.db.transaction() as conn:
            for claim in claims:
                days, due = _schedule_params(claim.schedule)
                basis = claim.basis
                # Checked under the write lock, in the statement that takes the claim: a
                # counter made private a moment ago is never celebrated in public.
                changed = await conn.execute(
                    "UPDATE recovery_counters SET next_milestone_days = ?, next_celebration_at = ? "
                    "WHERE counter_id = ? AND next_celebration_at = ? AND visibility = ? AND celebrate = ? "
                    "AND EXISTS (SELECT 1 FROM guilds g WHERE g.guild_id = recovery_counters.guild_id "
                    "AND g.celebrations_channel_id IS NOT DISTINCT FROM ? AND (g.left_at IS NOT NULL) = ?)",
                    (days, due, claim.counter_id, to_utc_text(claim.expected_due_at), basis.visibility.value,
                     basis.celebrate.value, basis.celebrations_channel_id, basis.guild_left))
                if changed != 1 or claim.celebration is None:
                    continue
                c = claim.celebration
                if await conn.execute(
                        "INSERT INTO recovery_celebrations (period_id, member_id, milestone_days, local_date, "
                        "delivery, created_at) VALUES (?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (period_id, milestone_days) DO NOTHING",
                        (c.period_id, c.member_id, c.milestone_days, c.local_date.isoformat(), c.delivery.value,
                         stamp)) != 1:
                    continue
                recorded += 1
                if claim.message is not None:
                    await enqueue(conn, claim.message, not_before=claim.not_before or now, now=now)
        return recorded

    async def celebrations(self, period_ids: Sequence[int]) -> list[CelebrationRecord]:
        """Return the milestones handled in some periods."""
        if not period_ids:
            return []
        marks = ",".join("?" * len(period_ids))
        rows = await self.db.fetch_all(
            f"SELECT * FROM recovery_celebrations WHERE period_id IN ({marks}) "  # noqa: S608 - placeholders only
            "ORDER BY period_id, milestone_days", list(period_ids))
        return [CelebrationRecord(r["period_id"], r["member_id"], r["milestone_days"],
                                  date.fromisoformat(r["local_date"]), Delivery(r["delivery"])) for r in rows]

    # -- ladders ------------------------------------------------------------------------

    async def ladder(self, guild_id: int, default: Sequence[int]) -> Ladder:
        """Return a server's ladder, or the default if it never changed it."""
        rows = await self.db.fetch_all(
            "SELECT days, description FROM recovery_milestones WHERE guild_id = ? ORDER BY days", (guild_id,))
        if not rows:
            return Ladder.of(default)
        return Ladder(tuple(Rung(r["days"], r["description"]) for r in rows), custom=True)

    async def set_rung(self, guild_id: int, rung: Rung, default: Sequence[int]) -> None:
        """Add a rung or change its description (copying the default ladder in on first change)."""
        async with self.db.transaction() as conn:
            await _materialise(conn, guild_id, default)
            await conn.execute(
                "INSERT INTO recovery_milestones (guild_id, days, description) VALUES (?, ?, ?) "
                "ON CONFLICT (guild_id, days) DO UPDATE SET description = excluded.description",
                (guild_id, rung.days, rung.description))

    async def remove_rung(self, guild_id: int, days: int, default: Sequence[int]) -> bool:
        """Remove a rung; False if the ladder has no such rung. Refuses to empty the ladder."""
        async with self.db.transaction() as conn:
            await _materialise(conn, guild_id, default)
            if await conn.execute(
                    "DELETE FROM recovery_milestones WHERE guild_id = ? AND days = ?", (guild_id, days)) == 0:
                return False
            if not await conn.fetch_value("SELECT count(*) FROM recovery_milestones WHERE guild_id = ?", (guild_id,)):
                raise LastRungError(days)
            return True

    async def reset_ladder(self, guild_id: int) -> None:
        """Go back to the default ladder."""
        await self.db.execute("DELETE FROM recovery_milestones WHERE guild_id = ?", (guild_id,))


async def _set_schedule(conn: Connection, counter_id: int, schedule: Schedule | None,
                        now: datetime) -> None:
    days, due = _schedule_params(schedule)
    await conn.execute(
        "UPDATE recovery_counters SET next_milestone_days = ?, next_celebration_at = ?, updated_at = ? "
        "WHERE counter_id = ?", (days, due, to_utc_text(now), counter_id))


async def _cancel_pending(conn: Connection, period: RowRef, *, channel_only: bool) -> None:
    # Every milestone of a period shares the key prefix "milestone:<period>:".
    await cancel_in(conn, key_prefix=milestone_key(period, 0)[:-1], target="channel" if channel_only else None)


async def _materialise(conn: Connection, guild_id: int, default: Sequence[int]) -> None:
    if await conn.fetch_value("SELECT 1 FROM recovery_milestones WHERE guild_id = ? LIMIT 1", (guild_id,)) is None:
        await conn.executemany(
            "INSERT INTO recovery_milestones (guild_id, days) VALUES (?, ?)",
            [(guild_id, d) for d in default])
