"""Mentor offers, requests, mentorships and the nudges about quiet mentees.

Read methods use the read connection (or, inside a transaction, its own); write methods
take the connection of the caller's `db.transaction()`, so a service checks and writes in
one write transaction together with the outbox row that announces the change.
Members' settings and pauses are read through `BuddyRepository.member` (a pause stops
every nudge, buddy or mentor, to and about the member).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.db.database import Connection, Database, IntegrityError, Row
from bot.db.outbox import cancel_in
from bot.db.requests import Request
from bot.domain.keys import RowRef, new_incarnation
from bot.domain.localtime import from_utc_text, to_utc_text
from bot.domain.settings import DM_CLOSED_FOR

_IN_CHUNK = 500  # ids per IN (...) list, well under either engine's variable limit


class DuplicateRequestError(Exception):
    """The mentee already has an open request."""


class AlreadyMentoredError(Exception):
    """The mentee already has a mentor."""


@dataclass(frozen=True, slots=True)
class Offer:
    """A member's `/mentor offer` (stopped or not)."""

    member_id: int
    guild_id: int
    user_id: int
    focus: str | None
    capacity: int
    qualified_role_id: int | None
    offered_at: datetime
    stopped_at: datetime | None

    @property
    def open(self) -> bool:
        """Whether the member is offering now (not stopped)."""
        return self.stopped_at is None


@dataclass(frozen=True, slots=True)
class ListedOffer:
    """An open offer as `/mentor find` considers it: the offer, the mentor's zone and quiet hours, their load."""

    offer: Offer
    timezone: str | None
    quiet_start: str | None
    quiet_end: str | None
    mentees: int


@dataclass(frozen=True, slots=True)
class MentorRequest(Request):
    """A mentee's request to a mentor (the message only while it is open)."""

    request_id: int
    guild_id: int
    mentee_member: int
    mentee_user: int
    mentor_member: int
    mentor_user: int
    message: str | None
    status: str
    created_at: datetime
    expires_at: datetime
    incarnation: str | None

    @property
    def asker_user(self) -> int:
        """The member who asked."""
        return self.mentee_user

    @property
    def addressed_user(self) -> int:
        """The member who was asked."""
        return self.mentor_user


@dataclass(frozen=True, slots=True)
class Mentorship:
    """A mentor and a mentee, and what the mentee shares with the mentor."""

    mentorship_id: int
    guild_id: int
    mentor_member: int
    mentor_user: int
    mentee_member: int
    mentee_user: int
    started_at: datetime
    checkins_shared_at: datetime | None
    share_counters: bool
    ended_at: datetime | None
    incarnation: str | None

    @property
    def ref(self) -> RowRef:
        """How dedupe keys name this mentorship (`bot.domain.keys`)."""
        return RowRef(self.mentorship_id, self.incarnation)

    @property
    def shares_checkins(self) -> bool:
        """Whether the mentee shares check-in days and streak with the mentor."""
        return self.checkins_shared_at is not None

    def other(self, member_id: int) -> tuple[int, int]:
        """Return (member id, user id) of the other side."""
        if member_id == self.mentor_member:
            return self.mentee_member, self.mentee_user
        return self.mentor_member, self.mentor_user


@dataclass(frozen=True, slots=True)
class NudgeCandidate:
    """A mentorship in which a nudge about a quiet mentee is possible at all."""

    mentorship_id: int
    mentee_member: int
    counted_from: date  # the later of the UTC dates the mentorship started and sharing began
    nudge_after_days: int | None


_REQUEST_SELECT = (
    "SELECT r.*, me.user_id AS mentee_user, mo.user_id AS mentor_user FROM mentor_requests r "
    "JOIN members me ON me.member_id = r.mentee_id JOIN members mo ON mo.member_id = r.mentor_id "
)
_MENTORSHIP_SELECT = (
    "SELECT ms.*, mo.user_id AS mentor_user, me.user_id AS mentee_user FROM mentorships ms "
    "JOIN members mo ON mo.member_id = ms.mentor_id JOIN members me ON me.member_id = ms.mentee_id "
)
_OFFER_SELECT = "SELECT o.*, m.user_id FROM mentor_offers o JOIN members m ON m.member_id = o.member_id "


def _instant(text: str | None) -> datetime | None:
    return from_utc_text(text) if text else None


def _offer(row: Row) -> Offer:
    return Offer(row["member_id"], row["guild_id"], row["user_id"], row["focus"], row["capacity"],
                 row["qualified_role_id"], from_utc_text(row["offered_at"]), _instant(row["stopped_at"]))


def _request(row: Row) -> MentorRequest:
    return MentorRequest(row["request_id"], row["guild_id"], row["mentee_id"], row["mentee_user"], row["mentor_id"],
                         row["mentor_user"], row["message"], row["status"], from_utc_text(row["created_at"]),
                         from_utc_text(row["expires_at"]), row["incarnation"])


def _mentorship(row: Row) -> Mentorship:
    return Mentorship(row["mentorship_id"], row["guild_id"], row["mentor_id"], row["mentor_user"], row["mentee_id"],
                      row["mentee_user"], from_utc_text(row["started_at"]), _instant(row["checkins_shared_at"]),
                      bool(row["share_counters"]), _instant(row["ended_at"]), row["incarnation"])


class MentorRepository:
    """Reads and writes the mentor tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- offers ------------------------------------------------------------------------

    async def offer(self, member_id: int) -> Offer | None:
        """Return a member's offer (open or stopped)."""
        row = await self.db.fetch_one(_OFFER_SELECT + "WHERE o.member_id = ?", (member_id,))
        return _offer(row) if row else None

    @staticmethod
    async def put_offer(conn: Connection, *, member_id: int, guild_id: int, focus: str | None,
                        capacity: int, role_id: int | None, now: datetime) -> None:
        """Offer to mentor, or change the offer (offering again after `/mentor stop` reopens it)."""
        await conn.execute(
            "INSERT INTO mentor_offers (member_id, guild_id, focus, capacity, qualified_role_id, offered_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (member_id) DO UPDATE SET focus = excluded.focus, "
            "capacity = excluded.capacity, qualified_role_id = excluded.qualified_role_id, "
            "offered_at = CASE WHEN mentor_offers.stopped_at IS NULL THEN mentor_offers.offered_at "
            "ELSE excluded.offered_at END, stopped_at = NULL",
            (member_id, guild_id, focus, capacity, role_id, to_utc_text(now)))

    @staticmethod
    async def stop_offer(conn: Connection, member_id: int, now: datetime) -> bool:
        """Stop offering; False if the member was not offering."""
        return await conn.execute(
            "UPDATE mentor_offers SET stopped_at = ? WHERE member_id = ? AND stopped_at IS NULL",
            (to_utc_text(now), member_id)) == 1

    async def open_offers(self, guild_id: int) -> list[ListedOffer]:
        """Return a server's open offers with each mentor's zone, quiet hours and current mentees, oldest first."""
        rows = await self.db.fetch_all(
            "SELECT o.*, m.user_id, COALESCE(m.timezone, g.timezone) AS tz, m.quiet_start, m.quiet_end, "
            "(SELECT count(*) FROM mentorships ms WHERE ms.mentor_id = o.member_id AND ms.ended_at IS NULL) AS mentees "
            "FROM mentor_offers o JOIN members m ON m.member_id = o.member_id JOIN guilds g ON g.guild_id = o.guild_id "
            "WHERE o.guild_id = ? AND o.stopped_at IS NULL ORDER BY o.offered_at, o.member_id", (guild_id,))
        return [ListedOffer(_offer(r), r["tz"], r["quiet_start"], r["quiet_end"], r["mentees"]) for r in rows]

    async def mentee_count(self, mentor_member: int) -> int:
        """Return how many mentees a mentor has now."""
        return int(await self.db.fetch_value(
            "SELECT count(*) FROM mentorships WHERE mentor_id = ? AND ended_at IS NULL", (mentor_member,)))

    # -- requests ----------------------------------------------------------------------

    async def request(self, request_id: int) -> MentorRequest | None:
        """Return a request by id."""
        row = await self.db.fetch_one(_REQUEST_SELECT + "WHERE r.request_id = ?", (request_id,))
        return _request(row) if row else None

    async def open_request_of(self, mentee_member: int, now: datetime) -> MentorRequest | None:
        """Return the mentee's unexpired open request, if any."""
        row = await self.db.fetch_one(
            _REQUEST_SELECT + "WHERE r.mentee_id = ? AND r.status = 'pending' AND r.expires_at > ?",
            (mentee_member, to_utc_text(now)))
        return _request(row) if row else None

    async def incoming(self, mentor_member: int, now: datetime) -> list[MentorRequest]:
        """Return the unexpired open requests to a mentor, oldest first."""
        rows = await self.db.fetch_all(
            _REQUEST_SELECT + "WHERE r.mentor_id = ? AND r.status = 'pending' AND r.expires_at > ? "
            "ORDER BY r.created_at, r.request_id", (mentor_member, to_utc_text(now)))
        return [_request(r) for r in rows]

    async def declined_since(self, mentee_member: int, mentor_member: int, since: datetime) -> bool:
        """Tell whether the mentor declined a request from the mentee at or after `since`."""
        value = await self.db.fetch_value(
            "SELECT 1 FROM mentor_requests WHERE mentee_id = ? AND mentor_id = ? AND status = 'declined' "
            "AND resolved_at >= ? LIMIT 1", (mentee_member, mentor_member, to_utc_text(since)))
        return value is not None

    @staticmethod
    async def create_request(conn: Connection, *, guild_id: int, mentee_member: int, mentor_member: int,
                             message: str | None, now: datetime, expires_at: datetime) -> RowRef:
        """Record a request; raise DuplicateRequestError if the mentee has one open."""
        # A request that expired but has not been swept yet must not block a new one.
        await conn.execute(
            "UPDATE mentor_requests SET status = 'expired', resolved_at = ?, message = NULL "
            "WHERE mentee_id = ? AND status = 'pending' AND expires_at <= ?",
            (to_utc_text(now), mentee_member, to_utc_text(now)))
        incarnation = new_incarnation()
        try:
            request_id = await conn.fetch_value(
                "INSERT INTO mentor_requests (guild_id, mentee_id, mentor_id, message, created_at, expires_at, "
                "incarnation) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING request_id",
                (guild_id, mentee_member, mentor_member, message, to_utc_text(now), to_utc_text(expires_at),
                 incarnation))
        except IntegrityError as exc:
            raise DuplicateRequestError() from exc
        return RowRef(int(request_id), incarnation)

    @staticmethod
    async def resolve_request(conn: Connection, request_id: int, status: str, now: datetime) -> bool:
        """Close an open request (its message goes with it); False if it was no longer open."""
        return await conn.execute(
            "UPDATE mentor_requests SET status = ?, resolved_at = ?, message = NULL "
            "WHERE request_id = ? AND status = 'pending'", (status, to_utc_text(now), request_id)) == 1

    @staticmethod
    async def cancel_requests(conn: Connection, *, mentor_member: int | None = None,
                              mentee_member: int | None = None, now: datetime) -> list[MentorRequest]:
        """Cancel open requests to a mentor and/or from a mentee; return them as they were."""
        where, params = [], []
        if mentor_member is not None:
            where.append("r.mentor_id = ?")
            params.append(mentor_member)
        if mentee_member is not None:
            where.append("r.mentee_id = ?")
            params.append(mentee_member)
        if not where:
            raise ValueError("give a mentor or a mentee")
        # The rows are locked until the transaction ends: another process cancelling or
        # answering the same request waits, then finds it no longer pending.
        found = [_request(r) for r in await conn.fetch_all(
            _REQUEST_SELECT + f"WHERE r.status = 'pending' AND ({' OR '.join(where)}) FOR UPDATE OF r", params)]  # noqa: S608 - fixed fragments
        for request in found:
            await conn.execute(
                "UPDATE mentor_requests SET status = 'cancelled', resolved_at = ?, message = NULL WHERE request_id = ?",
                (to_utc_text(now), request.request_id))
        return found

    async def has_expired_requests(self, now: datetime) -> bool:
        """Tell whether an open request has passed its expiry (a cheap indexed check)."""
        value = await self.db.fetch_value(
            f"SELECT 1 FROM mentor_requests WHERE status = 'pending' AND expires_at <= ?{self.db.mine('guild_id')} "  # noqa: S608
            "LIMIT 1", (to_utc_text(now),))
        return value is not None

    async def earliest_request_expiry(self) -> datetime | None:
        """Return the earliest instant an open request expires."""
        return await self.db.fetch_instant(
            f"SELECT min(expires_at) FROM mentor_requests WHERE status = 'pending'{self.db.mine('guild_id')}")  # noqa: S608

    @staticmethod
    async def expire_requests(conn: Connection, now: datetime) -> list[MentorRequest]:
        """Close open requests past their expiry and return them (as they were)."""
        # Rows another process is expiring (or answering) are skipped: it is handling them.
        expired = [_request(r) for r in await conn.fetch_all(
            _REQUEST_SELECT + f"WHERE r.status = 'pending' AND r.expires_at <= ?{conn.mine('r.guild_id')} "
            "FOR UPDATE OF r SKIP LOCKED",
            (to_utc_text(now),))]
        for request in expired:
            await conn.execute(
                "UPDATE mentor_requests SET status = 'expired', resolved_at = ?, message = NULL WHERE request_id = ?",
                (to_utc_text(now), request.request_id))
        return expired

    # -- mentorships ---------------------------------------------------------------------

    async def mentorship(self, mentorship_id: int) -> Mentorship | None:
        """Return a mentorship by id."""
        row = await self.db.fetch_one(_MENTORSHIP_SELECT + "WHERE ms.mentorship_id = ?", (mentorship_id,))
        return _mentorship(row) if row else None

    async def mentor_of(self, mentee_member: int) -> Mentorship | None:
        """Return the mentee's active mentorship, if they have a mentor."""
        row = await self.db.fetch_one(
            _MENTORSHIP_SELECT + "WHERE ms.mentee_id = ? AND ms.ended_at IS NULL", (mentee_member,))
        return _mentorship(row) if row else None

    async def mentees_of(self, mentor_member: int) -> list[Mentorship]:
        """Return a mentor's active mentorships, oldest first."""
        rows = await self.db.fetch_all(
            _MENTORSHIP_SELECT + "WHERE ms.mentor_id = ? AND ms.ended_at IS NULL "
            "ORDER BY ms.started_at, ms.mentorship_id", (mentor_member,))
        return [_mentorship(r) for r in rows]

    async def between(self, member_1: int, member_2: int) -> Mentorship | None:
        """Return the active mentorship of two members, whichever way round."""
        row = await self.db.fetch_one(
            _MENTORSHIP_SELECT + "WHERE ms.ended_at IS NULL AND ((ms.mentor_id = ? AND ms.mentee_id = ?) "
            "OR (ms.mentor_id = ? AND ms.mentee_id = ?))", (member_1, member_2, member_2, member_1))
        return _mentorship(row) if row else None

    async def active_of(self, member_id: int) -> list[Mentorship]:
        """Return every active mentorship a member is in, either side."""
        rows = await self.db.fetch_all(
            _MENTORSHIP_SELECT + "WHERE ms.ended_at IS NULL AND (ms.mentor_id = ? OR ms.mentee_id = ?) "
            "ORDER BY ms.mentorship_id", (member_id, member_id))
        return [_mentorship(r) for r in rows]

    @staticmethod
    async def create_mentorship(conn: Connection, *, guild_id: int, mentor_member: int,
                                mentee_member: int, now: datetime) -> RowRef:
        """Start a mentorship (sharing nothing); raise AlreadyMentoredError if the mentee has a mentor."""
        incarnation = new_incarnation()
        try:
            mentorship_id = await conn.fetch_value(
                "INSERT INTO mentorships (guild_id, mentor_id, mentee_id, started_at, incarnation) "
                "VALUES (?, ?, ?, ?, ?) RETURNING mentorship_id",
                (guild_id, mentor_member, mentee_member, to_utc_text(now), incarnation))
        except IntegrityError as exc:
            raise AlreadyMentoredError() from exc
        return RowRef(int(mentorship_id), incarnation)

    @staticmethod
    async def end_mentorship(conn: Connection, mentorship_id: int, *, ended_by: int | None, reason: str,
                             now: datetime) -> bool:
        """End an active mentorship; False if it had ended already."""
        return await conn.execute(
            "UPDATE mentorships SET ended_at = ?, ended_by = ?, end_reason = ?, checkins_shared_at = NULL, "
            "share_counters = 0 WHERE mentorship_id = ? AND ended_at IS NULL",
            (to_utc_text(now), ended_by, reason, mentorship_id)) == 1

    @staticmethod
    async def set_sharing(conn: Connection, mentorship_id: int, *, checkins_shared_at: datetime | None,
                          share_counters: bool) -> None:
        """Record what the mentee shares with the mentor."""
        await conn.execute(
            "UPDATE mentorships SET checkins_shared_at = ?, share_counters = ? WHERE mentorship_id = ? "
            "AND ended_at IS NULL",
            (to_utc_text(checkins_shared_at) if checkins_shared_at else None, int(share_counters), mentorship_id))

    # -- nudges ------------------------------------------------------------------------

    async def nudge_candidates(self, now: datetime) -> list[NudgeCandidate]:
        """Return active mentorships in which a nudge is possible at all.

        The mentee shares check-ins with the mentor, the mentor's DMs are not known to be
        closed, neither is paused at `now`, and the bot is still in the server. Light rows:
        the caller narrows them by check-in dates first.
        """
        rows = await self.db.fetch_all(
            "SELECT ms.mentorship_id, ms.mentee_id, ms.started_at, ms.checkins_shared_at, g.buddy_nudge_after_days "  # noqa: S608
            "FROM mentorships ms JOIN guilds g ON g.guild_id = ms.guild_id "
            "JOIN members mo ON mo.member_id = ms.mentor_id "
            "LEFT JOIN buddy_pauses po ON po.member_id = ms.mentor_id "
            "LEFT JOIN buddy_pauses pe ON pe.member_id = ms.mentee_id "
            f"WHERE ms.ended_at IS NULL AND ms.checkins_shared_at IS NOT NULL AND g.left_at IS NULL{self.db.mine('ms.guild_id')} "
            "AND (mo.dm_closed_at IS NULL OR mo.dm_closed_at <= :closed_before) "
            "AND (po.paused_until IS NULL OR po.paused_until <= :now) "
            "AND (pe.paused_until IS NULL OR pe.paused_until <= :now) ORDER BY ms.mentorship_id",
            {"now": to_utc_text(now), "closed_before": to_utc_text(now - DM_CLOSED_FOR)})
        return [NudgeCandidate(r["mentorship_id"], r["mentee_id"],
                               max(date.fromisoformat(r["started_at"][:10]), date.fromisoformat(r["checkins_shared_at"][:10])),
                               r["buddy_nudge_after_days"]) for r in rows]

    async def active_mentorships(self, mentorship_ids: Sequence[int]) -> list[tuple[Mentorship, int | None]]:
        """Return these mentorships (those still active) with their server's `nudge_after_days`."""
        result = []
        unique = list(dict.fromkeys(mentorship_ids))
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start:start + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = await self.db.fetch_all(
                _MENTORSHIP_SELECT.replace("SELECT ms.*", "SELECT ms.*, g.buddy_nudge_after_days")  # noqa: S608 - fixed fragments
                + f"JOIN guilds g ON g.guild_id = ms.guild_id WHERE ms.ended_at IS NULL AND ms.mentorship_id IN ({marks}) "
                "ORDER BY ms.mentorship_id", chunk)
            result += [(_mentorship(r), r["buddy_nudge_after_days"]) for r in rows]
        return result

    async def nudge_sent(self, mentorship_id: int, absent_since: date, local_day: date) -> bool:
        """Tell whether a nudge already went out for this stretch of absence or on this (mentor's) day."""
        value = await self.db.fetch_value(
            "SELECT 1 FROM mentor_nudges WHERE mentorship_id = ? AND (absent_since = ? OR local_date = ?) LIMIT 1",
            (mentorship_id, absent_since.isoformat(), local_day.isoformat()))
        return value is not None

    @staticmethod
    async def record_nudge(conn: Connection, *, mentorship: Mentorship, local_day: date,
                           absent_since: date, dedupe_key: str, now: datetime) -> bool:
        """Record a nudge; False if this day's or this absence's nudge was already decided."""
        return await conn.execute(
            "INSERT INTO mentor_nudges (mentorship_id, guild_id, mentor_id, mentee_id, local_date, absent_since, "
            "dedupe_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (mentorship.mentorship_id, mentorship.guild_id, mentorship.mentor_member, mentorship.mentee_member,
             local_day.isoformat(), absent_since.isoformat(), dedupe_key, to_utc_text(now))) == 1

    @staticmethod
    async def cancel_pending_nudges(conn: Connection, *, mentorship_id: int | None = None,
                                    member_id: int | None = None) -> int:
        """Withdraw queued, unsent nudges of a mentorship, or to or about a member."""
        if mentorship_id is not None:
            rows = await conn.fetch_all(
                "SELECT dedupe_key FROM mentor_nudges WHERE mentorship_id = ?", (mentorship_id,))
        elif member_id is not None:
            rows = await conn.fetch_all(
                "SELECT dedupe_key FROM mentor_nudges WHERE mentor_id = ? OR mentee_id = ?", (member_id, member_id))
        else:
            raise ValueError("give a mentorship or a member")
        return await cancel_in(conn, keys=[r[0] for r in rows])

    # -- privacy, housekeeping, counts ------------------------------------------------------

    async def members_with_ties(self, member_ids: Sequence[int]) -> set[int]:
        """Return which of these members have an active mentorship or an open request (either side)."""
        if not member_ids:
            return set()
        ids, param = self.db.ids(member_ids)
        rows = await self.db.fetch_all(
            f"WITH ids (id) AS ({ids}) "  # noqa: S608 - a fixed subquery
            "SELECT mentor_id AS member_id FROM mentorships WHERE ended_at IS NULL AND mentor_id IN (SELECT id FROM ids) "
            "UNION SELECT mentee_id FROM mentorships WHERE ended_at IS NULL AND mentee_id IN (SELECT id FROM ids) "
            "UNION SELECT mentor_id FROM mentor_requests WHERE status = 'pending' AND mentor_id IN (SELECT id FROM ids) "
            "UNION SELECT mentee_id FROM mentor_requests WHERE status = 'pending' AND mentee_id IN (SELECT id FROM ids)",
            (param,))
        return {r["member_id"] for r in rows}

    async def anything_to_purge(self, before: datetime) -> bool:
        """Tell whether a mentorship ended or a request closed before an instant (a cheap indexed check)."""
        stamp = to_utc_text(before)
        value = await self.db.fetch_value(
            "SELECT 1 FROM mentorships WHERE ended_at IS NOT NULL AND ended_at < ? "
            "UNION ALL SELECT 1 FROM mentor_requests WHERE status != 'pending' AND resolved_at < ? LIMIT 1",
            (stamp, stamp))
        return value is not None

    @staticmethod
    async def purge(conn: Connection, *, before: datetime) -> int:
        """Delete mentorships ended and requests closed before an instant (their nudges go with them)."""
        removed = 0
        for sql in ("DELETE FROM mentorships WHERE ended_at IS NOT NULL AND ended_at < ?",
                    "DELETE FROM mentor_requests WHERE status != 'pending' AND resolved_at < ?"):
            removed += await conn.execute(sql, (to_utc_text(before),))
        return removed

    async def active_mentorship_count(self, guild_id: int) -> int:
        """Return how many mentorships are active in a server now (a count for `/config pulse`; no one named)."""
        return int(await self.db.fetch_value(
            "SELECT count(*) FROM mentorships WHERE guild_id = ? AND ended_at IS NULL", (guild_id,)))

    async def mentorships_between(self, guild_id: int, start: datetime,
                                  end: datetime) -> list[tuple[int, int, datetime, datetime | None]]:
        """Return (mentor, mentee, started, ended or None) of a server's mentorships active at some time in [start, end)."""
        rows = await self.db.fetch_all(
            "SELECT mentor_id, mentee_id, started_at, ended_at FROM mentorships WHERE guild_id = ? "
            "AND started_at < ? AND (ended_at IS NULL OR ended_at > ?)",
            (guild_id, to_utc_text(end), to_utc_text(start)))
        return [(r["mentor_id"], r["mentee_id"], from_utc_text(r["started_at"]),
                 from_utc_text(r["ended_at"]) if r["ended_at"] else None) for r in rows]

    async def mentorships_active_at(self, guild_id: int, instant: datetime) -> int:
        """Return how many mentorships were active in a server at an instant (for `/config pulse`'s weeks).

        Ended mentorships are kept 30 days, so for an instant further back only those still
        active, or ended since, are counted.
        """
        stamp = to_utc_text(instant)
        return int(await self.db.fetch_value(
            "SELECT count(*) FROM mentorships WHERE guild_id = ? AND started_at <= ? "
            "AND (ended_at IS NULL OR ended_at > ?)", (guild_id, stamp, stamp)))
