"""Accountability buddies: requests, matching, status, nudges, pauses and endings.

Rules that keep buddying consensual, gentle and capped:

* Requests reach the target by DM with accept/decline buttons
  (`kindred:buddy:accept|decline:<id>.<incarnation>`; a button naming a request that is
  gone, or only an id, changes nothing); a member who cannot get DMs can still answer
  with `/buddy accept`. Requests close after 14 days. A
  member has at most 5 requests open, and cannot ask someone again within 30 days of
  that person declining (asking is never a way to pester).
* `max_buddies` is checked on both sides when a request is accepted (and when a
  matching round runs).
* `/buddy status` shows a buddy's last check-in day and streak only if that buddy
  shares check-ins with buddies.
* Manual nudges: one per pair per local day, counted in the sender's zone (the
  sender is the one acting, so "today" is their today), in either direction. Never to
  someone on a pause. If the recipient is in their own quiet hours the nudge waits in
  the outbox until those end.
* Automatic nudges (hourly sweep): when a buddy who shares check-ins with buddies has
  gone `nudge_after_days` whole local days without a check-in, their partner gets one
  DM for that stretch of absence — at most one per pair, recipient and local day;
  never while either is paused (and absence is counted afresh from the end of
  either one's pause), never in the recipient's effective quiet hours (theirs,
  else 22:00–08:00), never to a member whose DMs are known to be closed. A buddy who
  shares nothing never has their absence revealed: no automatic nudge is sent about
  them at all.
* Matching: one round a day per server at 18:00 server time; see
  `bot.domain.buddies.match_pool` for the scoring.

Every DM is queued in the outbox in the same transaction as the change it announces,
so a crash can neither lose the message nor send it twice — except the request DM,
which `deliver_now` sends right after the request commits so the requester can be told
whether it arrived (a crash in between leaves the request waiting for `/buddy accept`
and in both members' `/buddy status`). Wording a member sees lives at the top of this
module (DMs and refusals) and in `cogs/buddies/_messages.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from bot.config import Config
from bot.db import outbox as outbox_db
from bot.db.buddies import (
    ActivePair,
    AlreadyBuddiesError,
    BuddyMember,
    BuddyPair,
    BuddyRepository,
    BuddyRequest,
    DuplicateRequestError,
    PoolGuild,
)
from bot.db.database import Database
from bot.db.members import MemberRepository, touch_in
from bot.db.outbox import NewOutboxItem, OutboxItem
from bot.domain.buddies import (
    REQUEST_TTL,
    Candidate,
    absence_start,
    after_own_quiet_hours,
    days_absent,
    match_pool,
    may_dm_now,
    next_dm_time,
)
from bot.domain.clock import Clock
from bot.domain.keys import RowRef
from bot.domain.localtime import latest_due_date, local_date, next_occurrence, occurrence_on, zone
from bot.domain.messages import Button, ButtonStyle, OutgoingMessage, SendResult, SendStatus
from bot.domain.settings import ShareCheckins
from bot.errors import (
    ConflictError,
    InvalidInputError,
    NotConfiguredError,
    NotFoundError,
)
from bot.services.guild_config import GuildConfigService, GuildConfigView
from bot.services.outbox import OutboxService
from bot.services.requests import AnswerOutcome, AnswersRequests, RequestWords

if TYPE_CHECKING:
    from bot.db.database import Connection

log = logging.getLogger(__name__)

ROUND_TIME = time(18, 0)  # server-local time of the daily matching round
# Requests are an ask of another person, so they are capped: a few open at once, and no
# asking the same person again soon after they said "not right now".
MAX_OPEN_REQUESTS = 5
DECLINE_COOLDOWN = timedelta(days=30)
MAX_ROUND = 1000  # pool members considered per server and round (matching is O(n²))
PAUSE_DAYS = (1, 30)
# The request is named `<id>.<incarnation>` (`bot.domain.keys`): an id alone may be a later request's.
ACCEPT_ID = "kindred:buddy:accept:{ref}"
DECLINE_ID = "kindred:buddy:decline:{ref}"

# -- refusals (shown ephemerally by the command tree) -----------------------------------

NO_BOTS = "Bots can't be accountability buddies — try asking a person in the server. 🙂"
NOT_YOURSELF = "You can't be your own buddy — though being kind to yourself counts for a lot. 💛"
ALREADY_BUDDIES = "You and <@{user}> are already buddies. `/buddy status` shows your buddies."
YOU_ARE_FULL = ("You already have {count} buddies, the most this server allows. If you'd like to make "
                "room, `/buddy end` closes a pairing kindly.")
THEY_ARE_FULL = ("<@{user}> has reached this server's buddy limit since asking, so I can't pair you right "
                 "now. The request stays open in case that changes.")
DUPLICATE_REQUEST = "You've already asked <@{user}> — the request is waiting for their answer."
TOO_MANY_REQUESTS = ("You have {count} requests waiting for answers. Let's give those a little time first — "
                     "`/buddy status` shows them, and `/buddy find` can match you with someone who's looking.")
RECENTLY_DECLINED = ("<@{user}> said not right now a little while ago, so I won't ask them again just yet. "
                     "`/buddy find` can match you with someone who's also looking. 💛")
NO_REQUESTS = "You have no open buddy requests right now."
NO_REQUEST_FROM = "There's no open buddy request from <@{user}> for you."
REQUEST_GONE = "That buddy request is no longer open."
OLD_BUTTON = ("This button is from an older message and is no longer open to answers — I can't be sure which "
              "request it was for, so it changed nothing. In the server, `/buddy status` shows the requests "
              "waiting for you, and `/buddy accept` or `/buddy decline` answers them.")
REQUEST_EXPIRED = "That buddy request has expired — requests stay open for 14 days."
NOT_YOUR_REQUEST = "This buddy request is addressed to someone else, so your click doesn't change anything. 🙂"
MATCHING_OFF = ("Buddy matching is turned off in this server. You can still ask someone directly with "
                "`/buddy request`.")
FULL_FOR_POOL = ("You already have {count} buddies, the most this server allows, so I won't add you to the "
                 "matching pool right now.")
NOT_BUDDIES = "<@{user}> isn't one of your buddies. `/buddy status` shows who is."
THEY_ARE_PAUSED = "<@{user}> is taking a break from buddy nudges right now. Maybe try again in a few days. 💛"
THEY_HAVE_NO_DMS = ("I can't reach <@{user}> by DM at the moment (their DMs are closed to me), so I can't "
                    "deliver a nudge. I'll try again once they use Kindred, or in a week.")
NUDGED_TODAY = ("You two have already shared a nudge today. One a day keeps nudges feeling kind — you can "
                "always message them yourself.")
PAUSE_RANGE = "A pause is from 1 to 30 days."

# -- DMs ------------------------------------------------------------------------------

REQUEST_DM = (
    "👋 <@{requester}> would like to be your accountability buddy in {where}.\n\n"
    "Buddies show up in each other's `/buddy status` and can send an occasional friendly nudge. "
    "Only if you choose to share check-ins with buddies will they see your last check-in day and "
    "streak — never your moods or notes. You can pause or end it any time, no explanation needed.\n\n"
    "This request stays open for 14 days. You can also answer in the server with `/buddy accept` "
    "or `/buddy decline`."
)
ACCEPTED_DM = ("🎉 <@{acceptor}> said yes — you're now accountability buddies in {where}! Say hi whenever "
               "you like. `/buddy status` shows your buddies and `/buddy nudge` sends a friendly nudge.")
DECLINED_DM = ("<@{decliner}> isn't able to be buddies right now in {where}. That's about their capacity, "
               "not about you. 💛 If you'd like, `/buddy find` can pair you with someone who's also looking.")
EXPIRED_DM = ("Your buddy request to <@{target}> in {where} has closed after 14 days without an answer. "
              "People get busy — it isn't a judgement on you. 💛 `/buddy find` can pair you with someone "
              "who's also looking.")
ENDED_DM = ("<@{ender}> has ended your buddy pairing in {where}. No blame, and nothing you need to do — "
            "people's needs change. Take care of yourself. 💛 Whenever you're ready, `/buddy find` can "
            "pair you with someone new.")
# Sent when a member deletes their data (or retention removes it): the notice outlives
# everything about them, so it must not name them either. The start date tells the partner
# which pairing it was.
LEFT_DM = ("Your buddy from the pairing that began <t:{since}:D> in {where} has stepped away from Kindred, so "
           "that pairing has ended. It isn't about you. 💛 Whenever you're ready, `/buddy find` can pair you "
           "with someone new.")
LEFT_SERVER_DM = ("<@{leaver}> is no longer a member of {where}, so your buddy pairing there has ended. It isn't "
                  "about you. 💛 Whenever you're ready, `/buddy find` can pair you with someone new.")
UNREACHABLE_DM = ("I can no longer reach <@{leaver}>'s account, so your buddy pairing in {where} has ended. "
                  "💛 Whenever you're ready, `/buddy find` can pair you with someone new.")
MATCHED_DM = ("🤝 You've been matched as accountability buddies with <@{partner}> in {where}! You both asked "
              "for a buddy, and your days overlap by about {hours}. Say hi whenever you're ready. "
              "`/buddy status` shows your buddies; `/buddy end` closes a pairing kindly if it isn't a fit.")
WAITING_DM = ("No buddy match for you in today's round in {where} — that's only about who was looking and "
              "their time zones. You're still in the pool, and I'll look again <t:{ts}:F> (<t:{ts}:R>). "
              "I'll DM you when I find someone; `/buddy find` again leaves the pool.")
MANUAL_NUDGE_DM = ("💛 <@{sender}>, your buddy in {where}, is thinking of you and sent a friendly nudge. "
                   "No need to reply — a quick hello or a `/checkin` whenever you're ready.")
AUTO_NUDGE_DM = ("💛 Your buddy <@{absent}> in {where} hasn't checked in for {days} days. No pressure — if "
                 "you feel up to it, maybe say hi? A short message can mean a lot.\n"
                 "-# You get this because <@{absent}> shares check-ins with buddies. "
                 "`/buddy pause` stops nudges for a while.")


# -- ports ------------------------------------------------------------------------------

class CheckInSummaryLike(Protocol):
    """What `/buddy status` shows of a buddy's check-ins."""

    @property
    def last_local_date(self) -> date | None:
        """The member's latest checked-in local day."""
        ...

    @property
    def current_streak(self) -> int:
        """Consecutive local days with a check-in, up to today or yesterday."""
        ...


class CheckInSummaries(Protocol):
    """The check-ins feature's summary of one member."""

    async def summary(self, guild_id: int, user_id: int) -> CheckInSummaryLike:
        """Return a member's check-in summary."""
        ...


class LastCheckIns(Protocol):
    """The check-ins feature's latest day per member (one query for the nudge sweep)."""

    async def last_checkin_dates(self, member_ids: Sequence[int]) -> dict[int, date]:
        """Return the latest checked-in local day of each member who has one."""
        ...


GuildNamer = Callable[[int], str | None]
# Whether a user is still a member of a server: False only when Discord says they are not;
# None when it cannot tell (network trouble, or the bot is no longer in the server).
MembershipCheck = Callable[[int, int], Awaitable[bool | None]]


# -- results ----------------------------------------------------------------------------

class Delivery(StrEnum):
    """What happened to a DM a command sent."""

    SENT = "sent"
    DEFERRED = "deferred"        # waiting for the recipient's quiet hours to end
    RETRYING = "retrying"        # Discord was busy; the outbox will try again
    DM_CLOSED = "dm_closed"      # the recipient does not accept DMs from the bot
    UNDELIVERABLE = "undeliverable"
    GONE = "gone"                # the recipient has left the server; the request was closed


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    """The result of `/buddy request`."""

    target_user: int
    request_id: int | None
    delivery: Delivery
    paired: bool  # they had already asked you, so you are buddies now
    ref: RowRef  # how the request DM's buttons name it


@dataclass(frozen=True, slots=True)
class PoolOutcome:
    """The result of `/buddy find`."""

    joined: bool
    next_round: datetime | None


@dataclass(frozen=True, slots=True)
class NudgeOutcome:
    """The result of `/buddy nudge`."""

    recipient_user: int
    delivery: Delivery
    deliver_at: datetime


@dataclass(frozen=True, slots=True)
class BuddyInfo:
    """One buddy as `/buddy status` shows them."""

    user_id: int
    since: datetime
    shares_checkins: bool
    last_checkin: date | None
    streak: int | None


@dataclass(frozen=True, slots=True)
class BuddyStatus:
    """Everything `/buddy status` shows."""

    buddies: tuple[BuddyInfo, ...]
    incoming: tuple[BuddyRequest, ...]
    outgoing: tuple[BuddyRequest, ...]
    in_pool_since: datetime | None
    next_round: datetime | None
    paused_until: datetime | None
    max_buddies: int
    matching: bool
    shares_checkins: bool


@dataclass(frozen=True, slots=True)
class _AutoNudge:
    recipient_day: date
    absent_since: date
    days: int


class BuddyService(AnswersRequests[BuddyRequest]):
    """The rules of accountability buddies."""

    words = RequestWords(no_requests=NO_REQUESTS, none_from=NO_REQUEST_FROM, gone=REQUEST_GONE,
                         old_button=OLD_BUTTON, not_yours=NOT_YOUR_REQUEST)

    def __init__(self, db: Database, repo: BuddyRepository, members: MemberRepository,
                 guild_config: GuildConfigService, outbox: OutboxService, summaries: CheckInSummaries,
                 last_checkins: LastCheckIns, clock: Clock, config: Config) -> None:
        self.db = db
        self.repo: BuddyRepository = repo
        self.members = members
        self.guild_config = guild_config
        self.outbox = outbox
        self.summaries = summaries
        self.last_checkins = last_checkins
        self.clock = clock
        self.config = config
        self.guild_name: GuildNamer = lambda _guild_id: None
        self.membership: MembershipCheck | None = None

    def register_delivery_hooks(self) -> None:
        """Watch buddy DMs' outcomes to notice members who have left the server or Discord."""
        for kind in ("buddy.request", "buddy.notice", "buddy.nudge", "buddy.match"):
            self.outbox.on_result(kind, self.on_delivery)

    # -- helpers ------------------------------------------------------------------------

    def _where(self, guild_id: int) -> str:
        name = self.guild_name(guild_id)
        return f"**{name}**" if name else "your server"

    def _tz(self, member: BuddyMember) -> str:
        return member.timezone or self.config.defaults.timezone

    async def _actor(self, guild_id: int, user_id: int) -> BuddyMember:
        # Using a command is "using the bot": it also lifts a closed-DM mark.
        await self.members.touch(guild_id, user_id, self.clock.now())
        member = await self.repo.member(guild_id, user_id)
        assert member is not None
        return member

    async def _view(self, guild_id: int) -> GuildConfigView:
        return await self.guild_config.view(guild_id)

    def _dm(self, key: str, kind: str, to: BuddyMember | int, message: str, guild_id: int,
            member_id: int | None = None, buttons: tuple[Button, ...] = ()) -> NewOutboxItem:
        if isinstance(to, int):
            user_id, owner = to, member_id
        else:
            user_id, owner = to.user_id, member_id or to.member_id
        return NewOutboxItem(dedupe_key=key, kind=kind, target="dm", target_id=user_id,
                             message=OutgoingMessage(content=message, buttons=buttons),
                             guild_id=guild_id, member_id=owner)

    async def _delivery_of(self, key: str, not_before: datetime, now: datetime) -> Delivery:
        """Send what is due now and report what became of one queued DM."""
        if not_before > now:
            return Delivery.DEFERRED
        await self.outbox.dispatch()
        status, reason = await self.repo.delivery_outcome(key)
        if status == "sent":
            return Delivery.SENT
        if status == "pending":
            return Delivery.RETRYING
        return Delivery.DM_CLOSED if reason == SendStatus.DM_CLOSED.value else Delivery.UNDELIVERABLE

    # -- queries used by other features -------------------------------------------------

    async def are_buddies(self, guild_id: int, user_a: int, user_b: int) -> bool:
        """Tell whether two members are buddies in a server now."""
        a = await self.repo.member(guild_id, user_a)
        b = await self.repo.member(guild_id, user_b)
        if a is None or b is None or a.member_id == b.member_id:
            return False
        return await self.repo.active_pair(a.member_id, b.member_id) is not None

    # -- requests -----------------------------------------------------------------------

    async def request(self, guild_id: int, user_id: int, target_user: int, *,
                      target_is_bot: bool = False) -> RequestOutcome:
        """Ask a member to be buddies; DM them the request with buttons and report delivery."""
        if target_is_bot:
            raise InvalidInputError(NO_BOTS)
        if target_user == user_id:
            raise InvalidInputError(NOT_YOURSELF)
        me = await self._actor(guild_id, user_id)
        view = await self._view(guild_id)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            target_member = (await touch_in(conn, guild_id, target_user, now, active=False)).member_id
            if await self.repo.active_pair(me.member_id, target_member) is not None:
                raise ConflictError(ALREADY_BUDDIES.format(user=target_user))
            count = await self.repo.active_count(me.member_id)
            if count >= view.buddy_max:
                raise ConflictError(YOU_ARE_FULL.format(count=count))
            reverse = await self.repo.open_request(target_member, me.member_id, now)
            if reverse is not None:
                # They asked first: asking back is a yes.
                await self._accept_in(conn, reverse, view, now)
            else:
                if await self.repo.declined_since(me.member_id, target_member, now - DECLINE_COOLDOWN):
                    raise ConflictError(RECENTLY_DECLINED.format(user=target_user))
                waiting = len(await self.repo.outgoing(me.member_id, now))
                if waiting >= MAX_OPEN_REQUESTS:
                    raise ConflictError(TOO_MANY_REQUESTS.format(count=waiting))
                try:
                    created = await self.repo.create_request(
                        conn, guild_id, me.member_id, target_member, now, now + REQUEST_TTL)
                except DuplicateRequestError:
                    raise ConflictError(DUPLICATE_REQUEST.format(user=target_user)) from None
        if reverse is not None:
            await self.outbox.dispatch()
            log.info("buddy request %s accepted by asking back (guild=%s)", reverse.request_id, guild_id)
            return RequestOutcome(target_user, reverse.request_id, Delivery.SENT, paired=True, ref=reverse.ref)
        request_id = created.row_id
        result = await self.outbox.deliver_now(self._dm(
            f"buddy:request:{created}", "buddy.request", target_user,
            REQUEST_DM.format(requester=user_id, where=self._where(guild_id)), guild_id,
            member_id=target_member,
            buttons=(Button(ACCEPT_ID.format(ref=created), "Accept", ButtonStyle.SUCCESS, "🤝"),
                     Button(DECLINE_ID.format(ref=created), "Not right now", ButtonStyle.SECONDARY)),
        ))
        log.info("buddy request %s created (guild=%s): %s", request_id, guild_id, result.status.value)
        delivery = delivery_for(result)
        if not result.ok:
            stored = await self.repo.request(request_id)
            if stored is None or stored.status != "pending":
                delivery = Delivery.GONE  # the delivery hook found they had left the server
                await self.outbox.dispatch()  # send the hook's kind notices now
        return RequestOutcome(target_user, request_id, delivery, paired=False, ref=created)

    async def _answer(self, request: BuddyRequest, *, accept: bool) -> AnswerOutcome:
        view = await self._view(request.guild_id)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            fresh = await self.repo.request(request.request_id)
            # The same incarnation: the id alone may have been given to a later request.
            if (fresh is None or fresh.incarnation != request.incarnation
                    or fresh.status not in ("pending", "expired")):
                raise ConflictError(REQUEST_GONE)
            if not fresh.is_open(now):
                raise ConflictError(REQUEST_EXPIRED)
            if accept:
                await self._accept_in(conn, fresh, view, now)
            else:
                await self.repo.resolve_request(conn, fresh.request_id, "declined", now)
                await self._notice_in(conn, f"buddy:declined:{fresh.ref}", fresh.requester_member,
                                      DECLINED_DM.format(decliner=fresh.target_user,
                                                         where=self._where(fresh.guild_id)), now)
        await self.outbox.dispatch()
        log.info("buddy request %s %s (guild=%s)", request.request_id,
                 "accepted" if accept else "declined", request.guild_id)
        return AnswerOutcome(request.request_id, request.guild_id, request.asker_user, accept)

    async def _accept_in(self, conn: Connection, request: BuddyRequest, view: GuildConfigView,
                         now: datetime) -> None:
        """Pair the two members of a request inside the caller's transaction; tell the requester."""
        assert request.status == "pending"
        if await self.repo.active_pair(request.requester_member, request.target_member) is not None:
            raise ConflictError(ALREADY_BUDDIES.format(user=request.requester_user))
        mine = await self.repo.active_count(request.target_member)
        if mine >= view.buddy_max:
            raise ConflictError(YOU_ARE_FULL.format(count=mine))
        if await self.repo.active_count(request.requester_member) >= view.buddy_max:
            raise ConflictError(THEY_ARE_FULL.format(user=request.requester_user))
        await self.repo.resolve_request(conn, request.request_id, "accepted", now)
        try:
            await self.repo.create_pair(conn, request.guild_id, request.requester_member,
                                        request.target_member, "request", now)
        except AlreadyBuddiesError:  # pragma: no cover - checked above under the same lock
            raise ConflictError(ALREADY_BUDDIES.format(user=request.requester_user)) from None
        await self.repo.cancel_requests_between(conn, request.requester_member, request.target_member, now)
        for member_id in (request.requester_member, request.target_member):
            if await self.repo.active_count(member_id) >= view.buddy_max:
                await self.repo.leave_pool(conn, member_id)
        await self._notice_in(conn, f"buddy:accepted:{request.ref}", request.requester_member,
                              ACCEPTED_DM.format(acceptor=request.target_user,
                                                 where=self._where(request.guild_id)), now)

    async def _notice_in(self, conn: Connection, key: str, recipient_member: int, text: str,
                         now: datetime, *, automatic: bool = False, kind: str = "buddy.notice") -> datetime:
        """Queue a DM to a member inside the caller's transaction, outside their quiet time.

        News caused by another member's action waits out the recipient's own quiet
        hours; automatic news (matching, expiry) also waits out the default night.
        """
        recipient = await self.repo.member_by_id(recipient_member)
        assert recipient is not None
        when = (next_dm_time if automatic else after_own_quiet_hours)(
            now, self._tz(recipient), recipient.quiet_start, recipient.quiet_end)
        await outbox_db.enqueue(conn, self._dm(key, kind, recipient, text, recipient.guild_id),
                                not_before=when, now=now)
        return when

    # -- the matching pool --------------------------------------------------------------

    async def toggle_pool(self, guild_id: int, user_id: int) -> PoolOutcome:
        """Join the matching pool, or leave it if already in."""
        me = await self._actor(guild_id, user_id)
        view = await self._view(guild_id)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            if await self.repo.leave_pool(conn, me.member_id):
                return PoolOutcome(joined=False, next_round=None)
            if not view.buddy_matching:
                raise NotConfiguredError(MATCHING_OFF)
            count = await self.repo.active_count(me.member_id)
            if count >= view.buddy_max:
                raise ConflictError(FULL_FOR_POOL.format(count=count))
            await self.repo.join_pool(conn, guild_id, me.member_id, now)
        return PoolOutcome(joined=True, next_round=await self.next_round(guild_id, view.timezone, now))

    async def next_round(self, guild_id: int, tz_name: str, now: datetime) -> datetime:
        """Return when a server's next matching round runs (now, if today's is overdue)."""
        tz = zone(tz_name)
        due = latest_due_date(now, ROUND_TIME, tz)
        if due is not None and not await self.repo.round_done(guild_id, due):
            return now
        return next_occurrence(now, ROUND_TIME, tz)

    # -- status -------------------------------------------------------------------------

    async def status(self, guild_id: int, user_id: int) -> BuddyStatus:
        """Return a member's buddies (with what each shares), requests, pool place and pause."""
        me = await self._actor(guild_id, user_id)
        view = await self._view(guild_id)
        now = self.clock.now()
        buddies = []
        for pair in await self.repo.active_pairs_of(me.member_id):
            partner = await self.repo.member_by_id(pair.partner_member(me.member_id))
            assert partner is not None
            shares = partner.share_checkins is ShareCheckins.BUDDIES
            last: date | None = None
            streak: int | None = None
            if shares:
                summary = await self.summaries.summary(guild_id, partner.user_id)
                last, streak = summary.last_local_date, summary.current_streak
            buddies.append(BuddyInfo(partner.user_id, pair.started_at, shares, last, streak))
        entry = await self.repo.pool_entry(me.member_id)
        return BuddyStatus(
            buddies=tuple(buddies),
            incoming=tuple(await self.repo.incoming(me.member_id, now)),
            outgoing=tuple(await self.repo.outgoing(me.member_id, now)),
            in_pool_since=entry.joined_at if entry else None,
            next_round=await self.next_round(guild_id, view.timezone, now) if entry else None,
            paused_until=me.paused_until if me.paused_at(now) else None,
            max_buddies=view.buddy_max,
            matching=view.buddy_matching,
            shares_checkins=me.share_checkins is ShareCheckins.BUDDIES,
        )

    # -- nudges, pause, end -------------------------------------------------------------

    async def _pair_with(self, me: BuddyMember, other_user: int) -> tuple[BuddyMember, BuddyPair]:
        if other_user == me.user_id:
            raise InvalidInputError(NOT_YOURSELF)
        other = await self.repo.member(me.guild_id, other_user)
        pair = None if other is None else await self.repo.active_pair(me.member_id, other.member_id)
        if other is None or pair is None:
            raise NotFoundError(NOT_BUDDIES.format(user=other_user))
        return other, pair

    async def nudge(self, guild_id: int, user_id: int, buddy_user: int) -> NudgeOutcome:
        """Send a buddy a friendly DM: once per pair per (sender's) local day, never during their pause."""
        me = await self._actor(guild_id, user_id)
        now = self.clock.now()
        tz = zone(self._tz(me))
        today = local_date(now, tz)
        day_start = occurrence_on(today, time(0, 0), tz)
        day_end = occurrence_on(today + timedelta(days=1), time(0, 0), tz)
        async with self.db.transaction() as conn:
            # Checked under the write lock, so a pause or an ending cannot slip in between.
            other, pair = await self._pair_with(me, buddy_user)
            if other.paused_at(now):
                raise ConflictError(THEY_ARE_PAUSED.format(user=buddy_user))
            if other.dms_closed(now):
                raise ConflictError(THEY_HAVE_NO_DMS.format(user=buddy_user))
            # Either direction counts: the pair shares one nudge a day.
            if await self.repo.manual_nudge_between(pair.pair_id, day_start, day_end):
                raise ConflictError(NUDGED_TODAY)
            key = f"buddy:nudge:manual:{pair.ref}:{me.member_id}:{today.isoformat()}"
            if not await self.repo.record_nudge(conn, pair_id=pair.pair_id, guild_id=guild_id, kind="manual",
                                                recipient=other.member_id, local_day=today, dedupe_key=key,
                                                now=now, sender=me.member_id):
                raise ConflictError(NUDGED_TODAY)
            deliver_at = after_own_quiet_hours(now, self._tz(other), other.quiet_start, other.quiet_end)
            await outbox_db.enqueue(conn, self._dm(
                key, "buddy.nudge", other, MANUAL_NUDGE_DM.format(sender=user_id, where=self._where(guild_id)),
                guild_id), not_before=deliver_at, now=now)
        delivery = await self._delivery_of(key, deliver_at, now)
        if delivery is Delivery.DM_CLOSED and await self.repo.active_pair(me.member_id, other.member_id) is None:
            delivery = Delivery.GONE  # the delivery hook found they had left the server
            await self.outbox.dispatch()  # send the hook's kind notice now
        log.info("manual nudge on pair %s (guild=%s): %s", pair.pair_id, guild_id, delivery.value)
        return NudgeOutcome(buddy_user, delivery, deliver_at)

    async def pause(self, guild_id: int, user_id: int, days: int) -> datetime:
        """Stop nudges to and about a member for 1–30 days; return when the pause ends."""
        if not PAUSE_DAYS[0] <= days <= PAUSE_DAYS[1]:
            raise InvalidInputError(PAUSE_RANGE)
        me = await self._actor(guild_id, user_id)
        now = self.clock.now()
        until = now + timedelta(days=days)
        async with self.db.transaction() as conn:
            await self.repo.set_pause(conn, guild_id, me.member_id, now, until)
            await self.repo.cancel_pending_nudges(conn, member_id=me.member_id)
        return until

    async def end(self, guild_id: int, user_id: int, buddy_user: int) -> int:
        """End a pairing without blame; the other member is told kindly. Return their user id."""
        me = await self._actor(guild_id, user_id)
        other, pair = await self._pair_with(me, buddy_user)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            if not await self.repo.end_pair(conn, pair.pair_id, ended_by=me.member_id, reason="ended", now=now):
                raise NotFoundError(NOT_BUDDIES.format(user=buddy_user))
            await self.repo.cancel_pending_nudges(conn, pair_id=pair.pair_id)
            await self._notice_in(conn, f"buddy:ended:{pair.ref}", other.member_id,
                                  ENDED_DM.format(ender=user_id, where=self._where(guild_id)), now)
        await self.outbox.dispatch()
        log.info("buddy pair %s ended by a member (guild=%s)", pair.pair_id, guild_id)
        return other.user_id

    # -- leaving ------------------------------------------------------------------------

    async def forget_member(self, guild_id: int, user_id: int) -> None:
        """End a member's pairs (partners told kindly), cancel their requests, pool place and nudges.

        For `/privacy delete`, before the member's rows are removed: the partners'
        notices belong to the partners, so they survive the deletion (and do not name the
        member: anything still unsent that names them is withdrawn with their data).
        """
        await self._withdraw(guild_id, user_id, reason="left")

    async def forget_member_in(self, conn: Connection, guild_id: int, user_id: int) -> None:
        """As `forget_member`, inside the caller's transaction (the one that deletes the member)."""
        await self._withdraw_in(conn, guild_id, user_id, reason="left")

    async def members_with_ties(self, member_ids: Sequence[int]) -> set[int]:
        """Return the members `forget_member` would have something to do for (a pair, request, pool place, nudge)."""
        return await self.repo.members_with_ties(member_ids)

    async def _has_left(self, guild_id: int, user_id: int) -> bool:
        """Tell whether Discord says the user is no longer a member of the server."""
        return self.membership is not None and await self.membership(guild_id, user_id) is False

    async def _withdraw(self, guild_id: int, user_id: int, *, reason: str) -> int:
        async with self.db.transaction() as conn:
            return await self._withdraw_in(conn, guild_id, user_id, reason=reason)

    async def _withdraw_in(self, conn: Connection, guild_id: int, user_id: int, *, reason: str) -> int:
        member = await self.repo.member(guild_id, user_id)  # read through `conn`: this task's transaction
        if member is None:
            return 0
        now = self.clock.now()
        text = _WITHDRAW_DMS[reason]
        pairs = await self.repo.active_pairs_of(member.member_id)
        for pair in pairs:
            await self.repo.end_pair(conn, pair.pair_id, ended_by=member.member_id, reason=reason, now=now)
            await self.repo.cancel_pending_nudges(conn, pair_id=pair.pair_id)
            await self._notice_in(conn, f"buddy:{reason}:{pair.ref}", pair.partner_member(member.member_id),
                                  text.format(leaver=user_id, where=self._where(guild_id),
                                              since=int(pair.started_at.timestamp())), now)
        await self.repo.cancel_requests_of(conn, member.member_id, now)
        await self.repo.leave_pool(conn, member.member_id)
        await self.repo.cancel_pending_nudges(conn, member_id=member.member_id)
        log.debug("member %s withdrawn from buddies (guild=%s, reason=%s, pairs=%d)",
                  member.member_id, guild_id, reason, len(pairs))
        return len(pairs)

    async def on_delivery(self, item: OutboxItem, result: SendResult) -> None:
        """Withdraw a member from buddies when a DM shows they are gone, not merely closed to DMs.

        A closed DM alone ends nothing (a request then waits for `/buddy accept`), but
        without the members intent a refused DM is also how we notice someone left the
        server, so the server is asked whether they are still a member.
        """
        if item.target != "dm" or item.guild_id is None:
            return
        try:
            if result.status is SendStatus.NOT_FOUND:
                await self._withdraw(item.guild_id, item.target_id, reason="unreachable")
            elif result.status is SendStatus.DM_CLOSED and await self._has_left(item.guild_id, item.target_id):
                await self._withdraw(item.guild_id, item.target_id, reason="left_server")
        except Exception:
            # The outbox calls this mid-delivery; a failure here must not stop other messages.
            log.exception("buddy delivery hook failed for outbox %s", item.outbox_id)

    # -- sweeps -------------------------------------------------------------------------

    async def nudge_sweep(self, now: datetime) -> int:
        """Queue automatic nudges that are due, and tidy old records; safe to run as often as you like."""
        await self._purge(now)
        due = await self._due_auto_nudges(now, await self._possible_nudge_pairs(now))
        if not due:
            return 0
        # Never tell someone that a buddy who has left the server "hasn't checked in".
        # (Asking Discord takes a moment, so it happens before the write lock is taken.)
        gone = {(a.guild_id, a.user_id) for _, a, _, _ in due if await self._has_left(a.guild_id, a.user_id)}
        for guild_id, user_id in gone:
            await self._withdraw(guild_id, user_id, reason="left_server")
        claimed = 0
        async with self.db.transaction() as conn:
            # Decided again under the write lock: a pause, an ending or a check-in that
            # landed meanwhile is respected.
            for active, absent, recipient, decision in await self._due_auto_nudges(
                    now, sorted({d[0].pair.pair_id for d in due})):
                if (absent.guild_id, absent.user_id) in gone:
                    continue
                pair_id = active.pair.pair_id
                key = f"buddy:nudge:auto:{active.pair.ref}:{recipient.member_id}:{decision.recipient_day.isoformat()}"
                if not await self.repo.record_nudge(
                        conn, pair_id=pair_id, guild_id=active.pair.guild_id, kind="auto",
                        recipient=recipient.member_id, local_day=decision.recipient_day, dedupe_key=key,
                        now=now, about=absent.member_id, absent_since=decision.absent_since):
                    continue  # this day's or this absence's nudge was already sent
                text = AUTO_NUDGE_DM.format(absent=absent.user_id, days=decision.days,
                                            where=self._where(active.pair.guild_id))
                await outbox_db.enqueue(conn, self._dm(key, "buddy.nudge", recipient, text, active.pair.guild_id),
                                        not_before=now, now=now)
                claimed += 1
        return claimed

    async def _possible_nudge_pairs(self, now: datetime) -> list[int]:
        """Return the pairs in which an automatic nudge could be due, by a cheap check.

        An idle hour then costs two indexed reads rather than zone maths per pair: no
        zone is more than a day ahead of UTC, and a pair's local start is at most a day
        before its UTC start, so absence counted from later than `bound - N` days cannot
        have reached N whole local days anywhere yet.
        """
        candidates = await self.repo.nudge_candidates(now)
        if not candidates:
            return []
        last = await self.last_checkins.last_checkin_dates([c.absent_member for c in candidates])
        bound = now.astimezone(UTC).date()
        default_after = self.config.buddies.nudge_after_days
        possible = set()
        for c in candidates:
            counted_from = max(last.get(c.absent_member, date.min), c.started_on - timedelta(days=1))
            if (bound - counted_from).days >= (c.nudge_after_days or default_after):
                possible.add(c.pair_id)
        return sorted(possible)

    async def _due_auto_nudges(self, now: datetime, pair_ids: Sequence[int]
                               ) -> list[tuple[ActivePair, BuddyMember, BuddyMember, _AutoNudge]]:
        """Return (pair, absent member, recipient, decision) for each automatic nudge due now in these pairs."""
        if not pair_ids:
            return []
        pairs = await self.repo.active_pairs(pair_ids)
        last = await self.last_checkins.last_checkin_dates([m.member_id for p in pairs for m in (p.a, p.b)])
        due = []
        for active in pairs:
            for absent, recipient in ((active.a, active.b), (active.b, active.a)):
                decision = self._auto_nudge(active, absent, recipient, last.get(absent.member_id), now)
                # Skip what was already sent, so a long absence costs no lookups hour after hour.
                if decision is not None and not await self.repo.auto_nudge_sent(
                        active.pair.pair_id, recipient.member_id, decision.absent_since, decision.recipient_day):
                    due.append((active, absent, recipient, decision))
        return due

    def _auto_nudge(self, active: ActivePair, absent: BuddyMember, recipient: BuddyMember,
                    last_checkin: date | None, now: datetime) -> _AutoNudge | None:
        """Decide whether `recipient` should be nudged about `absent` now."""
        if absent.share_checkins is not ShareCheckins.BUDDIES:
            return None  # their absence is theirs to keep private
        if absent.paused_at(now) or recipient.paused_at(now) or recipient.dms_closed(now):
            return None
        recipient_tz = self._tz(recipient)
        if not may_dm_now(now, recipient_tz, recipient.quiet_start, recipient.quiet_end):
            return None
        absent_tz = zone(self._tz(absent))
        ended = [m.paused_until for m in (absent, recipient) if m.paused_until is not None]
        pause_ended = local_date(max(ended), absent_tz) if ended else None
        since = absence_start(last_checkin, local_date(active.pair.started_at, absent_tz), pause_ended)
        days = days_absent(local_date(now, absent_tz), since)
        after = active.nudge_after_days or self.config.buddies.nudge_after_days
        if days < after:
            return None
        return _AutoNudge(local_date(now, zone(recipient_tz)), since, days)

    async def matching_sweep(self, now: datetime) -> int:
        """Close expired requests, tidy old records, and run each server's due matching round."""
        claimed = await self._expire_requests(now)
        for guild, tz, day in await self._due_rounds(now):
            try:
                claimed += await self._run_round(guild, tz, day, now)
            except Exception:
                # One server's trouble must not hold up every other server's round.
                log.exception("matching round failed for guild %s", guild.guild_id)
        return claimed

    async def matching_due(self) -> datetime | None:
        """Return the earliest request expiry or matching round not yet handled (for health checks)."""
        due = [occurrence_on(day, ROUND_TIME, zone(tz)) for _, tz, day in await self._due_rounds(self.clock.now())]
        expiry = await self.repo.earliest_request_expiry()
        return min([*due, *([expiry] if expiry else [])], default=None)

    async def _due_rounds(self, now: datetime) -> list[tuple[PoolGuild, str, date]]:
        """Return (server, zone, local date) of each matching round due and not run yet."""
        due = []
        for guild in await self.repo.pool_guilds():
            matching = self.config.buddies.matching if guild.matching is None else guild.matching
            if not matching:
                continue
            tz = guild.timezone or self.config.defaults.timezone
            day = latest_due_date(now, ROUND_TIME, zone(tz))
            if day is not None and not await self.repo.round_done(guild.guild_id, day):
                due.append((guild, tz, day))
        return due

    async def _purge(self, now: datetime) -> None:
        # Ended pairs are kept only as long as repeat avoidance needs them.
        keep = timedelta(days=self.config.buddies.repeat_avoid_days)
        async with self.db.transaction() as conn:
            await self.repo.purge(conn, ended_before=now - keep, resolved_before=now - timedelta(days=30))

    async def _expire_requests(self, now: datetime) -> int:
        if not await self.repo.has_expired_requests(now):
            return 0
        async with self.db.transaction() as conn:
            expired = await self.repo.expire_requests(conn, now)
            for request in expired:
                await self._notice_in(conn, f"buddy:expired:{request.ref}", request.requester_member,
                                      EXPIRED_DM.format(target=request.target_user,
                                                        where=self._where(request.guild_id)),
                                      now, automatic=True)
        return len(expired)

    async def _run_round(self, guild: PoolGuild, tz: str, day: date, now: datetime) -> int:
        max_buddies = guild.max_buddies or self.config.buddies.max_buddies
        since = now - timedelta(days=self.config.buddies.repeat_avoid_days)
        next_round = next_occurrence(now, ROUND_TIME, zone(tz))
        where = self._where(guild.guild_id)
        async with self.db.transaction() as conn:
            if await self.repo.round_done(guild.guild_id, day):
                return 0
            entries = {}
            counts = await self.repo.active_counts(guild.guild_id)
            for entry in await self.repo.pool(guild.guild_id):
                member = entry.member
                if counts.get(member.member_id, 0) >= max_buddies:
                    await self.repo.leave_pool(conn, member.member_id)  # full now: nothing to find
                elif not member.paused_at(now) and not member.dms_closed(now):
                    entries[member.member_id] = entry
            # The pool comes longest-waiting first; a round considers at most MAX_ROUND of
            # them, which bounds the time the writer (and the event loop) is held.
            candidates = [Candidate(e.member.member_id, self._tz(e.member), e.joined_at,
                                    e.member.quiet_start, e.member.quiet_end)
                          for e in list(entries.values())[:MAX_ROUND]]
            result = match_pool(candidates, blocked=await self.repo.recent_pair_keys(guild.guild_id, since),
                                reference=day)
            for match in result.pairs:
                first, second = entries[match.first].member, entries[match.second].member
                pair = await self.repo.create_pair(conn, guild.guild_id, first.member_id,
                                                   second.member_id, "match", now)
                await self.repo.cancel_requests_between(conn, first.member_id, second.member_id, now)
                for member, partner in ((first, second), (second, first)):
                    await self.repo.leave_pool(conn, member.member_id)
                    await self._notice_in(
                        conn, f"buddy:matched:{pair}:{member.member_id}", member.member_id,
                        MATCHED_DM.format(partner=partner.user_id, where=where,
                                          hours=_hours(match.overlap_minutes)),
                        now, automatic=True, kind="buddy.match")
            for member_id in result.unmatched:
                entry = entries[member_id]
                if entry.told_waiting_at is not None:
                    continue  # told once per stay in the pool; no daily reminders
                # Keyed by Discord ids, which are never reused (a deleted member row's id can be).
                await self._notice_in(
                    conn, f"buddy:waiting:{guild.guild_id}:{entry.member.user_id}:{day.isoformat()}", member_id,
                    WAITING_DM.format(where=where, ts=int(next_round.timestamp())),
                    now, automatic=True, kind="buddy.match")
                await self.repo.mark_told_waiting(conn, member_id, now)
            await self.repo.record_round(conn, guild.guild_id, day, now, considered=len(candidates),
                                         paired=len(result.pairs))
        log.info("matching round for guild %s on %s: %d considered, %d pair(s)", guild.guild_id,
                 day.isoformat(), len(candidates), len(result.pairs))
        return len(result.pairs)


def _hours(minutes: int) -> str:
    hours = max(1, round(minutes / 60))
    return f"{hours} hour" if hours == 1 else f"{hours} hours"


_WITHDRAW_DMS = {"left": LEFT_DM, "left_server": LEFT_SERVER_DM, "unreachable": UNREACHABLE_DM}


def delivery_for(result: SendResult) -> Delivery:
    """Say what a command can tell its member about a DM sent at once."""
    if result.status is SendStatus.SENT:
        return Delivery.SENT
    if result.status is SendStatus.TRANSIENT:
        return Delivery.RETRYING
    if result.status is SendStatus.DM_CLOSED:
        return Delivery.DM_CLOSED
    return Delivery.UNDELIVERABLE
