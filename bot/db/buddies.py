"""Buddy requests, pairs, the matching pool, pauses, nudges and matching rounds.

Read methods use the database's reads; write methods take the connection of the caller's
`db.transaction()`, so a service can check and write in one transaction, together with the
outbox row that announces the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from bot.db.database import Connection, Database, IntegrityError, Row
from bot.db.outbox import cancel_in
from bot.db.requests import Request
from bot.domain.buddies import pair_key
from bot.domain.keys import RowRef, new_incarnation
from bot.domain.localtime import from_utc_text, parse_hhmm, to_utc_text
from bot.domain.settings import DM_CLOSED_FOR, ShareCheckins, dms_closed

_IN_CHUNK = 500  # ids per IN (...) list, well under either engine's variable limit


class DuplicateRequestError(Exception):
    """A pending request in this direction already exists."""


class AlreadyBuddiesError(Exception):
    """The two members already have an active pair."""


@dataclass(frozen=True, slots=True)
class BuddyMember:
    """What buddy rules need to know about a member (zone: theirs, else the server's, else None)."""

    member_id: int
    guild_id: int
    user_id: int
    timezone: str | None
    quiet_start: time | None
    quiet_end: time | None
    share_checkins: ShareCheckins
    dm_closed_at: datetime | None
    paused_until: datetime | None

    def paused_at(self, now: datetime) -> bool:
        """Tell whether the member's buddy pause covers `now`."""
        return self.paused_until is not None and now < self.paused_until

    def dms_closed(self, now: datetime) -> bool:
        """Tell whether DMs to the member are known to fail at `now`."""
        return dms_closed(self.dm_closed_at, now)


@dataclass(frozen=True, slots=True)
class BuddyRequest(Request):
    """A request from one member to another."""

    request_id: int
    guild_id: int
    requester_member: int
    requester_user: int
    target_member: int
    target_user: int
    status: str
    created_at: datetime
    expires_at: datetime
    incarnation: str | None

    @property
    def asker_user(self) -> int:
        """The member who asked."""
        return self.requester_user

    @property
    def addressed_user(self) -> int:
        """The member who was asked."""
        return self.target_user


@dataclass(frozen=True, slots=True)
class BuddyPair:
    """A pairing of two members (`member_a < member_b`)."""

    pair_id: int
    guild_id: int
    member_a: int
    user_a: int
    member_b: int
    user_b: int
    origin: str
    started_at: datetime
    ended_at: datetime | None
    incarnation: str | None

    def partner_member(self, member_id: int) -> int:
        """Return the member id of the other member of the pair."""
        return self.member_b if member_id == self.member_a else self.member_a

    @property
    def ref(self) -> RowRef:
        """How dedupe keys name this pair (`bot.domain.keys`)."""
        return RowRef(self.pair_id, self.incarnation)


@dataclass(frozen=True, slots=True)
class ActivePair:
    """An active pair with both members' settings and the server's nudge setting."""

    pair: BuddyPair
    a: BuddyMember
    b: BuddyMember
    nudge_after_days: int | None


@dataclass(frozen=True, slots=True)
class NudgeCandidate:
    """One direction of an active pair in which an automatic nudge is possible at all."""

    pair_id: int
    absent_member: int
    started_on: date  # the UTC date the pair started
    nudge_after_days: int | None


@dataclass(frozen=True, slots=True)
class PoolEntry:
    """A member waiting in the matching pool."""

    member: BuddyMember
    joined_at: datetime
    told_waiting_at: datetime | None


@dataclass(frozen=True, slots=True)
class PoolGuild:
    """A server with members in the pool, and its stored buddy and zone settings."""

    guild_id: int
    timezone: str | None
    matching: bool | None
    max_buddies: int | None


# -- row mapping ---------------------------------------------------------------------

def _member_columns(alias: str, prefix: str) -> str:
    return (f"{alias}.member_id AS {prefix}member_id, {alias}.guild_id AS {prefix}guild_id, "
            f"{alias}.user_id AS {prefix}user_id, COALESCE({alias}.timezone, g.timezone) AS {prefix}tz, "
            f"{alias}.quiet_start AS {prefix}quiet_start, {alias}.quiet_end AS {prefix}quiet_end, "
            f"{alias}.share_checkins AS {prefix}share, {alias}.dm_closed_at AS {prefix}dm_closed_at")


def _member(row: Row, prefix: str = "") -> BuddyMember:
    paused = row[f"{prefix}paused_until"]
    return BuddyMember(
        member_id=row[f"{prefix}member_id"],
        guild_id=row[f"{prefix}guild_id"],
        user_id=row[f"{prefix}user_id"],
        timezone=row[f"{prefix}tz"],
        quiet_start=parse_hhmm(row[f"{prefix}quiet_start"]) if row[f"{prefix}quiet_start"] else None,
        quiet_end=parse_hhmm(row[f"{prefix}quiet_end"]) if row[f"{prefix}quiet_end"] else None,
        share_checkins=ShareCheckins(row[f"{prefix}share"]),
        dm_closed_at=from_utc_text(closed) if (closed := row[f"{prefix}dm_closed_at"]) else None,
        paused_until=from_utc_text(paused) if paused else None,
    )


_MEMBER_SELECT = (
    f"SELECT {_member_columns('m', '')}, p.paused_until AS paused_until "  # noqa: S608 - fixed fragments
    "FROM members m JOIN guilds g ON g.guild_id = m.guild_id "
    "LEFT JOIN buddy_pauses p ON p.member_id = m.member_id "
)

_POOL_SELECT = (
    f"SELECT {_member_columns('m', '')}, p.paused_until AS paused_until, "  # noqa: S608 - fixed fragments
    "bp.joined_at, bp.told_waiting_at FROM buddy_pool bp "
    "JOIN members m ON m.member_id = bp.member_id JOIN guilds g ON g.guild_id = m.guild_id "
    "LEFT JOIN buddy_pauses p ON p.member_id = m.member_id "
)

_PAIR_SELECT = (
    "SELECT bp.*, ma.user_id AS user_a, mb.user_id AS user_b FROM buddy_pairs bp "
    "JOIN members ma ON ma.member_id = bp.member_a JOIN members mb ON mb.member_id = bp.member_b "
)

_REQUEST_SELECT = (
    "SELECT r.*, mr.user_id AS requester_user, mt.user_id AS target_user FROM buddy_requests r "
    "JOIN members mr ON mr.member_id = r.requester_id JOIN members mt ON mt.member_id = r.target_id "
)


def _pair(row: Row) -> BuddyPair:
    return BuddyPair(
        pair_id=row["pair_id"], guild_id=row["guild_id"], member_a=row["member_a"],
        user_a=row["user_a"], member_b=row["member_b"], user_b=row["user_b"],
        origin=row["origin"], started_at=from_utc_text(row["started_at"]),
        ended_at=from_utc_text(row["ended_at"]) if row["ended_at"] else None,
        incarnation=row["incarnation"],
    )


def _request(row: Row) -> BuddyRequest:
    return BuddyRequest(
        request_id=row["request_id"], guild_id=row["guild_id"],
        requester_member=row["requester_id"], requester_user=row["requester_user"],
        target_member=row["target_id"], target_user=row["target_user"], status=row["status"],
        created_at=from_utc_text(row["created_at"]), expires_at=from_utc_text(row["expires_at"]),
        incarnation=row["incarnation"],
    )


class BuddyRepository:
    """Reads and writes the buddy tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- members ---------------------------------------------------------------------

    async def member(self, guild_id: int, user_id: int) -> BuddyMember | None:
        """Return a member's buddy view, or None if they have no row in this server."""
        row = await self.db.fetch_one(_MEMBER_SELECT + "WHERE m.guild_id = ? AND m.user_id = ?",
                                      (guild_id, user_id))
        return _member(row) if row else None

    async def member_by_id(self, member_id: int) -> BuddyMember | None:
        """Return a member's buddy view by surrogate id."""
        row = await self.db.fetch_one(_MEMBER_SELECT + "WHERE m.member_id = ?", (member_id,))
        return _member(row) if row else None

    # -- pairs -----------------------------------------------------------------------

    async def members_with_ties(self, member_ids: Sequence[int]) -> set[int]:
        """Return which of these members have an active pair, a pending request, a pool place or a nudge."""
        if not member_ids:
            return set()
        subquery, ids = self.db.ids(member_ids)
        rows = await self.db.fetch_all(
            f"WITH ids AS ({subquery}) "  # noqa: S608 - a fixed fragment
            "SELECT member_a AS member_id FROM buddy_pairs WHERE ended_at IS NULL AND member_a IN (SELECT value FROM ids) "
            "UNION SELECT member_b FROM buddy_pairs WHERE ended_at IS NULL AND member_b IN (SELECT value FROM ids) "
            "UNION SELECT requester_id FROM buddy_requests WHERE status = 'pending' "
            "AND requester_id IN (SELECT value FROM ids) "
            "UNION SELECT target_id FROM buddy_requests WHERE status = 'pending' AND target_id IN (SELECT value FROM ids) "
            "UNION SELECT member_id FROM buddy_pool WHERE member_id IN (SELECT value FROM ids) "
            "UNION SELECT recipient_id FROM buddy_nudges WHERE recipient_id IN (SELECT value FROM ids) "
            "UNION SELECT about_id FROM buddy_nudges WHERE about_id IN (SELECT value FROM ids)",
            (ids,))
        return {r["member_id"] for r in rows}

    async def active_pairs_of(self, member_id: int) -> list[BuddyPair]:
        """Return a member's active pairs, oldest first."""
        rows = await self.db.fetch_all(
            _PAIR_SELECT + "WHERE (bp.member_a = ? OR bp.member_b = ?) AND bp.ended_at IS NULL "
            "ORDER BY bp.started_at, bp.pair_id", (member_id, member_id))
        return [_pair(r) for r in rows]

    async def active_pair(self, member_1: int, member_2: int) -> BuddyPair | None:
        """Return the active pair of two members, if they are buddies."""
        a, b = pair_key(member_1, member_2)
        row = await self.db.fetch_one(
            _PAIR_SELECT + "WHERE bp.member_a = ? AND bp.member_b = ? AND bp.ended_at IS NULL", (a, b))
        return _pair(row) if row else None

    async def active_count(self, member_id: int) -> int:
        """Return how many buddies a member has now."""
        return int(await self.db.fetch_value(
            "SELECT count(*) FROM buddy_pairs WHERE (member_a = ? OR member_b = ?) AND ended_at IS NULL",
            (member_id, member_id)))

    async def active_counts(self, guild_id: int) -> dict[int, int]:
        """Return how many buddies each member of a server who has any has now."""
        rows = await self.db.fetch_all(
            "SELECT member_id, count(*) AS n FROM ("
            " SELECT member_a AS member_id FROM buddy_pairs WHERE guild_id = ? AND ended_at IS NULL"
            " UNION ALL SELECT member_b FROM buddy_pairs WHERE guild_id = ? AND ended_at IS NULL"
            ") AS ends GROUP BY member_id", (guild_id, guild_id))
        return {r["member_id"]: r["n"] for r in rows}

    async def create_pair(self, conn: Connection, guild_id: int, member_1: int,
                          member_2: int, origin: str, now: datetime) -> RowRef:
        """Pair two members; raise AlreadyBuddiesError if they already are."""
        a, b = pair_key(member_1, member_2)
        incarnation = new_incarnation()
        try:
            pair_id = await conn.fetch_value(
                "INSERT INTO buddy_pairs (guild_id, member_a, member_b, origin, started_at, incarnation) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING pair_id", (guild_id, a, b, origin, to_utc_text(now), incarnation))
        except IntegrityError as exc:
            raise AlreadyBuddiesError() from exc
        return RowRef(int(pair_id), incarnation)

    async def end_pair(self, conn: Connection, pair_id: int, *, ended_by: int | None,
                       reason: str, now: datetime) -> bool:
        """End an active pair; False if it had already ended."""
        return await conn.execute(
            "UPDATE buddy_pairs SET ended_at = ?, ended_by = ?, end_reason = ? "
            "WHERE pair_id = ? AND ended_at IS NULL", (to_utc_text(now), ended_by, reason, pair_id)) == 1

    async def nudge_candidates(self, now: datetime) -> list[NudgeCandidate]:
        """Return each direction (absent member → partner) in which an automatic nudge is possible.

        The absent member shares check-ins with buddies, the partner's DMs are not known to
        be closed, neither is paused at `now`, the pair is active and the bot is still in
        the server. Rows are light: the caller narrows them by check-in dates first.
        """
        rows = await self.db.fetch_all(
            "WITH directions (pair_id, absent, recipient) AS ("  # noqa: S608
            " SELECT pair_id, member_a, member_b FROM buddy_pairs WHERE ended_at IS NULL"
            " UNION ALL SELECT pair_id, member_b, member_a FROM buddy_pairs WHERE ended_at IS NULL) "
            "SELECT d.pair_id, d.absent, bp.started_at, g.buddy_nudge_after_days FROM directions d "
            "JOIN buddy_pairs bp ON bp.pair_id = d.pair_id JOIN guilds g ON g.guild_id = bp.guild_id "
            "JOIN members ab ON ab.member_id = d.absent JOIN members rc ON rc.member_id = d.recipient "
            "LEFT JOIN buddy_pauses pa ON pa.member_id = d.absent "
            "LEFT JOIN buddy_pauses pr ON pr.member_id = d.recipient "
            f"WHERE g.left_at IS NULL{self.db.mine('bp.guild_id')} AND ab.share_checkins = 'buddies' "
            "AND (rc.dm_closed_at IS NULL OR rc.dm_closed_at <= :closed_before) "
            "AND (pa.paused_until IS NULL OR pa.paused_until <= :now) "
            "AND (pr.paused_until IS NULL OR pr.paused_until <= :now) "
            "ORDER BY d.pair_id, d.absent",
            {"now": to_utc_text(now), "closed_before": to_utc_text(now - DM_CLOSED_FOR)})
        return [NudgeCandidate(r["pair_id"], r["absent"], date.fromisoformat(r["started_at"][:10]),
                               r["buddy_nudge_after_days"]) for r in rows]

    async def active_pairs(self, pair_ids: Sequence[int]) -> list[ActivePair]:
        """Return these pairs (those still active) with both members' settings."""
        result = []
        unique = list(dict.fromkeys(pair_ids))
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start:start + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = await self.db.fetch_all(
                "SELECT bp.pair_id, bp.guild_id, bp.member_a, bp.member_b, bp.origin, bp.started_at, "  # noqa: S608 - fixed fragments
                "bp.incarnation, "
                "g.buddy_nudge_after_days, "
                f"{_member_columns('ma', 'a_')}, pa.paused_until AS a_paused_until, "
                f"{_member_columns('mb', 'b_')}, pb.paused_until AS b_paused_until "
                "FROM buddy_pairs bp JOIN guilds g ON g.guild_id = bp.guild_id "
                "JOIN members ma ON ma.member_id = bp.member_a JOIN members mb ON mb.member_id = bp.member_b "
                "LEFT JOIN buddy_pauses pa ON pa.member_id = bp.member_a "
                "LEFT JOIN buddy_pauses pb ON pb.member_id = bp.member_b "
                f"WHERE bp.ended_at IS NULL AND bp.pair_id IN ({marks}) ORDER BY bp.pair_id", chunk)
            for row in rows:
                pair = BuddyPair(
                    pair_id=row["pair_id"], guild_id=row["guild_id"], member_a=row["member_a"],
                    user_a=row["a_user_id"], member_b=row["member_b"], user_b=row["b_user_id"],
                    origin=row["origin"], started_at=from_utc_text(row["started_at"]), ended_at=None,
                    incarnation=row["incarnation"])
                result.append(ActivePair(pair, _member(row, "a_"), _member(row, "b_"),
                                         row["buddy_nudge_after_days"]))
        return result

    async def pairs_between(self, guild_id: int, start: datetime,
                            end: datetime) -> list[tuple[int, int, datetime, datetime | None]]:
        """Return (member a, member b, started, ended or None) of a server's pairs active at some time in [start, end)."""
        rows = await self.db.fetch_all(
            "SELECT member_a, member_b, started_at, ended_at FROM buddy_pairs WHERE guild_id = ? "
            "AND started_at < ? AND (ended_at IS NULL OR ended_at > ?)",
            (guild_id, to_utc_text(end), to_utc_text(start)))
        return [(r["member_a"], r["member_b"], from_utc_text(r["started_at"]),
                 from_utc_text(r["ended_at"]) if r["ended_at"] else None) for r in rows]

    async def recent_pair_keys(self, guild_id: int, since: datetime) -> set[tuple[int, int]]:
        """Return member pairs that are buddies now or were at any time since `since`."""
        rows = await self.db.fetch_all(
            "SELECT member_a, member_b FROM buddy_pairs WHERE guild_id = ? "
            "AND (ended_at IS NULL OR ended_at >= ?)", (guild_id, to_utc_text(since)))
        return {(r["member_a"], r["member_b"]) for r in rows}

    # -- requests --------------------------------------------------------------------

    async def request(self, request_id: int) -> BuddyRequest | None:
        """Return a request by id."""
        row = await self.db.fetch_one(_REQUEST_SELECT + "WHERE r.request_id = ?", (request_id,))
        return _request(row) if row else None

    async def open_request(self, requester_member: int, target_member: int,
                           now: datetime) -> BuddyRequest | None:
        """Return the unexpired pending request from one member to another."""
        row = await self.db.fetch_one(
            _REQUEST_SELECT + "WHERE r.requester_id = ? AND r.target_id = ? AND r.status = 'pending' "
            "AND r.expires_at > ?", (requester_member, target_member, to_utc_text(now)))
        return _request(row) if row else None

    async def incoming(self, member_id: int, now: datetime) -> list[BuddyRequest]:
        """Return unexpired pending requests to a member, oldest first."""
        rows = await self.db.fetch_all(
            _REQUEST_SELECT + "WHERE r.target_id = ? AND r.status = 'pending' AND r.expires_at > ? "
            "ORDER BY r.created_at, r.request_id", (member_id, to_utc_text(now)))
        return [_request(r) for r in rows]

    async def outgoing(self, member_id: int, now: datetime) -> list[BuddyRequest]:
        """Return unexpired pending requests from a member, oldest first."""
        rows = await self.db.fetch_all(
            _REQUEST_SELECT + "WHERE r.requester_id = ? AND r.status = 'pending' AND r.expires_at > ? "
            "ORDER BY r.created_at, r.request_id", (member_id, to_utc_text(now)))
        return [_request(r) for r in rows]

    async def declined_since(self, requester: int, target: int, since: datetime) -> bool:
        """Tell whether `target` declined a request from `requester` at or after `since`."""
        value = await self.db.fetch_value(
            "SELECT 1 FROM buddy_requests WHERE requester_id = ? AND target_id = ? AND status = 'declined' "
            "AND resolved_at >= ? LIMIT 1", (requester, target, to_utc_text(since)))
        return value is not None

    async def create_request(self, conn: Connection, guild_id: int, requester: int,
                             target: int, now: datetime, expires_at: datetime) -> RowRef:
        """Record a request; raise DuplicateRequestError if one is already pending that way."""
        # A pending request that has expired but not been swept yet must not block a new one.
        await conn.execute(
            "UPDATE buddy_requests SET status = 'expired', resolved_at = ? WHERE requester_id = ? "
            "AND target_id = ? AND status = 'pending' AND expires_at <= ?",
            (to_utc_text(now), requester, target, to_utc_text(now)))
        incarnation = new_incarnation()
        try:
            request_id = await conn.fetch_value(
                "INSERT INTO buddy_requests (guild_id, requester_id, target_id, created_at, expires_at, incarnation) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING request_id",
                (guild_id, requester, target, to_utc_text(now), to_utc_text(expires_at), incarnation))
        except IntegrityError as exc:
            raise DuplicateRequestError() from exc
        return RowRef(int(request_id), incarnation)

    async def resolve_request(self, conn: Connection, request_id: int, status: str,
                              now: datetime) -> bool:
        """Close a pending request with a status; False if it was no longer pending."""
        return await conn.execute(
            "UPDATE buddy_requests SET status = ?, resolved_at = ? WHERE request_id = ? AND status = 'pending'",
            (status, to_utc_text(now), request_id)) == 1

    async def cancel_requests_between(self, conn: Connection, member_1: int, member_2: int,
                                      now: datetime) -> int:
        """Cancel pending requests in either direction between two members."""
        return await conn.execute(
            "UPDATE buddy_requests SET status = 'cancelled', resolved_at = ? WHERE status = 'pending' "
            "AND ((requester_id = ? AND target_id = ?) OR (requester_id = ? AND target_id = ?))",
            (to_utc_text(now), member_1, member_2, member_2, member_1))

    async def cancel_requests_of(self, conn: Connection, member_id: int, now: datetime) -> int:
        """Cancel every pending request from or to a member."""
        return await conn.execute(
            "UPDATE buddy_requests SET status = 'cancelled', resolved_at = ? WHERE status = 'pending' "
            "AND (requester_id = ? OR target_id = ?)", (to_utc_text(now), member_id, member_id))

    async def earliest_request_expiry(self) -> datetime | None:
        """Return the earliest instant a pending request expires."""
        return await self.db.fetch_instant(
            f"SELECT min(expires_at) FROM buddy_requests WHERE status = 'pending'{self.db.mine('guild_id')}")  # noqa: S608

    async def has_expired_requests(self, now: datetime) -> bool:
        """Tell whether any pending request has passed its expiry (a cheap indexed check)."""
        value = await self.db.fetch_value(
            f"SELECT 1 FROM buddy_requests WHERE status = 'pending' AND expires_at <= ?{self.db.mine('guild_id')} "  # noqa: S608
            "LIMIT 1",
            (to_utc_text(now),))
        return value is not None

    async def expire_requests(self, conn: Connection, now: datetime) -> list[BuddyRequest]:
        """Mark pending requests past their expiry as expired and return them.

        Only the requests this statement moved from pending are returned: with several
        processes, each expired request is told about once.
        """
        stamp = to_utc_text(now)
        moved = [r["request_id"] for r in await conn.fetch_all(
            "UPDATE buddy_requests SET status = 'expired', resolved_at = ? "  # noqa: S608
            f"WHERE status = 'pending' AND expires_at <= ?{conn.mine('guild_id')} RETURNING request_id",
            (stamp, stamp))]
        expired = []
        for start in range(0, len(moved), _IN_CHUNK):
            chunk = moved[start:start + _IN_CHUNK]
            rows = await conn.fetch_all(
                _REQUEST_SELECT + f"WHERE r.request_id IN ({', '.join('?' * len(chunk))}) ORDER BY r.request_id",  # noqa: S608 - placeholders only
                chunk)
            expired += [_request(r) for r in rows]
        return expired

    # -- pool and pauses -------------------------------------------------------------

    async def pool_entry(self, member_id: int) -> PoolEntry | None:
        """Return a member's place in the matching pool, if they are in it."""
        row = await self.db.fetch_one(_POOL_SELECT + "WHERE bp.member_id = ?", (member_id,))
        return _pool_entry(row) if row else None

    async def pool(self, guild_id: int) -> list[PoolEntry]:
        """Return a server's pool, longest waiting first."""
        rows = await self.db.fetch_all(
            _POOL_SELECT + "WHERE bp.guild_id = ? ORDER BY bp.joined_at, bp.member_id", (guild_id,))
        return [_pool_entry(r) for r in rows]

    async def pool_guilds(self) -> list[PoolGuild]:
        """Return servers (that the bot is still in) with anyone in the pool."""
        rows = await self.db.fetch_all(
            "SELECT g.guild_id, g.timezone, g.buddy_matching, g.buddy_max FROM guilds g "  # noqa: S608
            f"WHERE g.left_at IS NULL{self.db.mine('g.guild_id')} "
            "AND EXISTS (SELECT 1 FROM buddy_pool bp WHERE bp.guild_id = g.guild_id) ORDER BY g.guild_id")
        return [PoolGuild(r["guild_id"], r["timezone"],
                          None if r["buddy_matching"] is None else bool(r["buddy_matching"]),
                          r["buddy_max"]) for r in rows]

    async def join_pool(self, conn: Connection, guild_id: int, member_id: int,
                        now: datetime) -> bool:
        """Add a member to the pool; False if they were already in it."""
        return await conn.execute(
            "INSERT INTO buddy_pool (member_id, guild_id, joined_at) VALUES (?, ?, ?) "
            "ON CONFLICT (member_id) DO NOTHING", (member_id, guild_id, to_utc_text(now))) == 1

    async def leave_pool(self, conn: Connection, member_id: int) -> bool:
        """Remove a member from the pool; False if they were not in it."""
        return await conn.execute("DELETE FROM buddy_pool WHERE member_id = ?", (member_id,)) == 1

    async def mark_told_waiting(self, conn: Connection, member_id: int, now: datetime) -> None:
        """Record that a pool member was told they were left over."""
        await conn.execute("UPDATE buddy_pool SET told_waiting_at = ? WHERE member_id = ?",
                           (to_utc_text(now), member_id))

    async def set_pause(self, conn: Connection, guild_id: int, member_id: int,
                        now: datetime, until: datetime) -> None:
        """Pause nudges to and about a member until an instant (replacing any earlier pause)."""
        await conn.execute(
            "INSERT INTO buddy_pauses (member_id, guild_id, paused_at, paused_until) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (member_id) DO UPDATE SET paused_at = excluded.paused_at, "
            "paused_until = excluded.paused_until",
            (member_id, guild_id, to_utc_text(now), to_utc_text(until)))

    # -- nudges ----------------------------------------------------------------------

    async def manual_nudge_between(self, pair_id: int, start: datetime, end: datetime) -> bool:
        """Tell whether either member of a pair sent a nudge in [start, end)."""
        value = await self.db.fetch_value(
            "SELECT 1 FROM buddy_nudges WHERE pair_id = ? AND kind = 'manual' "
            "AND created_at >= ? AND created_at < ? LIMIT 1",
            (pair_id, to_utc_text(start), to_utc_text(end)))
        return value is not None

    async def auto_nudge_sent(self, pair_id: int, recipient: int, absent_since: date, local_day: date) -> bool:
        """Tell whether an automatic nudge already went to `recipient` for this absence or on this day."""
        value = await self.db.fetch_value(
            "SELECT 1 FROM buddy_nudges WHERE pair_id = ? AND recipient_id = ? AND kind = 'auto' "
            "AND (absent_since = ? OR local_date = ?) LIMIT 1",
            (pair_id, recipient, absent_since.isoformat(), local_day.isoformat()))
        return value is not None

    async def record_nudge(self, conn: Connection, *, pair_id: int, guild_id: int, kind: str,
                           recipient: int, local_day: date, dedupe_key: str, now: datetime,
                           sender: int | None = None, about: int | None = None,
                           absent_since: date | None = None) -> bool:
        """Record a nudge; False if the once-a-day or once-per-absence rule already used it up."""
        return await conn.execute(
            "INSERT INTO buddy_nudges (pair_id, guild_id, kind, sender_id, recipient_id, about_id, "
            "local_date, absent_since, dedupe_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (pair_id, guild_id, kind, sender, recipient, about, local_day.isoformat(),
             absent_since.isoformat() if absent_since else None, dedupe_key, to_utc_text(now))) == 1

    async def cancel_pending_nudges(self, conn: Connection, *, pair_id: int | None = None,
                                    member_id: int | None = None) -> int:
        """Cancel queued, unsent nudges of a pair, or to or about a member."""
        params: tuple[int, ...]
        if pair_id is not None:
            where, params = "pair_id = ?", (pair_id,)
        elif member_id is not None:
            where, params = "(recipient_id = ? OR about_id = ?)", (member_id, member_id)
        else:
            raise ValueError("give pair_id or member_id")
        # Every nudge's outbox row carries the nudge's dedupe key.
        rows = await conn.fetch_all(f"SELECT dedupe_key FROM buddy_nudges WHERE {where}", params)  # noqa: S608 - fixed fragments
        return await cancel_in(conn, keys=[r[0] for r in rows])

    async def delivery_outcome(self, dedupe_key: str) -> tuple[str | None, str | None]:
        """Return the outbox status of a buddy DM and the reason it was not delivered, if any."""
        row = await self.db.fetch_one("SELECT status, last_error FROM outbox WHERE dedupe_key = ?",
                                      (dedupe_key,))
        return (row["status"], row["last_error"]) if row else (None, None)

    # -- rounds and housekeeping -----------------------------------------------------

    async def round_done(self, guild_id: int, round_date: date) -> bool:
        """Tell whether a server's matching round for a local date has run."""
        value = await self.db.fetch_value(
            "SELECT 1 FROM buddy_rounds WHERE guild_id = ? AND round_date = ?",
            (guild_id, round_date.isoformat()))
        return value is not None

    async def record_round(self, conn: Connection, guild_id: int, round_date: date,
                           now: datetime, *, considered: int, paired: int) -> bool:
        """Claim a server's round for a local date; False if it already ran."""
        return await conn.execute(
            "INSERT INTO buddy_rounds (guild_id, round_date, ran_at, considered, paired) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (guild_id, round_date.isoformat(), to_utc_text(now), considered, paired)) == 1

    async def purge(self, conn: Connection, *, ended_before: datetime,
                    resolved_before: datetime) -> int:
        """Delete pairs ended and requests closed long enough ago that no rule needs them."""
        removed = 0
        for sql, stamp in (
            ("DELETE FROM buddy_pairs WHERE ended_at IS NOT NULL AND ended_at < ?", ended_before),
            ("DELETE FROM buddy_requests WHERE status != 'pending' AND resolved_at < ?", resolved_before),
            ("DELETE FROM buddy_rounds WHERE ran_at < ?", resolved_before),
            # Auto nudges stay while their pair does: they mark the absence already nudged.
            ("DELETE FROM buddy_nudges WHERE kind = 'manual' AND created_at < ?", resolved_before),
        ):
            removed += await conn.execute(sql, (to_utc_text(stamp),))
        return removed


def _pool_entry(row: Row) -> PoolEntry:
    return PoolEntry(
        member=_member(row), joined_at=from_utc_text(row["joined_at"]),
        told_waiting_at=from_utc_text(row["told_waiting_at"]) if row["told_waiting_at"] else None,
    )
