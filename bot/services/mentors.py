"""Mentors: one-on-one guidance from someone further along, asymmetric and consensual.

Rules (decided where the SPEC is silent; the README's "Mentors" section says the same):

* Offering. `/mentor offer` makes a member available with a focus and a capacity (1-5,
  default 2); offering again updates both. A server may require a role (checked from the
  member's roles when they offer, and again from Discord when someone asks them) and a
  minimum number of days on a recovery counter the member shares with the server
  (`visibility:server`, checked whenever they are listed or asked). `/config mentors
  enabled:off` takes every offer out of `/mentor find` and refuses new requests;
  mentorships already running go on.
* Pausing: `/mentor stop` stops offering. The member leaves `/mentor find`, no new
  requests reach them, requests waiting for their answer are closed kindly (the mentees
  are told it is about capacity), and their mentees keep their mentor. `/mentor offer`
  again resumes with whatever focus and capacity it gives. Nudges pause with `/buddy
  pause` (one pause for every nudge, to and about the member).
* Asking. A mentee has one mentor and one open request at a time, in each server. The
  request carries an optional message (up to 200 characters) that only the mentor sees; it
  is stored only while the request is open and never logged. Requests close after 14 days;
  asking the same mentor again is refused for 30 days after they decline. Capacity is
  checked when asking and again when the mentor accepts.
* Answering: DM buttons (`kindred:mentor:accept|decline:<id>.<incarnation>`, only the
  mentor's click counts; a button naming a request that is gone, or only an id, changes
  nothing) or `/mentor accept` / `/mentor decline` in the server when DMs are closed.
* Sharing is the mentee's choice, nothing by default: `/mentor share checkins:on|off
  counters:on|off` (per mentorship; a new mentor starts seeing nothing). Check-ins mean the
  last check-in day and streak, never moods or notes; counters mean the name and days of
  each counter not marked `visibility:private` (private is never shown to anyone else).
* Nudges (hourly): a mentee who shares check-ins and has gone the server's
  `nudge_after_days` whole local days without one brings their mentor one gentle DM for
  that stretch (at most one per mentorship and the mentor's local day), outside the
  mentor's quiet hours (theirs, else 22:00-08:00), never while either is paused, never to a
  mentor whose DMs are known to be closed, and never about a mentee who has left the
  server (the mentorship then ends, and the mentor is told kindly). Absence is counted from
  the latest of the last check-in, the start of the mentorship, the day sharing began, and
  the end of a pause.
* Ending: `/mentor end member:` either side, no reason asked; the other is told kindly.
  The same command withdraws a request you sent. A request DM still queued for a retry
  is withdrawn whenever its request closes (then a withdrawing mentee's mentor, who never
  got it, is not told of it either). `/privacy delete` ends mentorships too,
  with a notice that does not name the one who left.

Every DM is queued in the outbox in the transaction of the change it announces, except
the request DM, which `deliver_now` sends at once so the mentee hears whether it arrived.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from bot.config import Config
from bot.db import outbox as outbox_db
from bot.db.buddies import BuddyMember, BuddyRepository
from bot.db.database import Database
from bot.db.members import MemberRepository
from bot.db.mentors import (
    AlreadyMentoredError,
    DuplicateRequestError,
    ListedOffer,
    MentorRepository,
    MentorRequest,
    Mentorship,
    Offer,
)
from bot.db.outbox import NewOutboxItem
from bot.domain.buddies import (
    REQUEST_TTL,
    Candidate,
    absence_start,
    after_own_quiet_hours,
    days_absent,
    may_dm_now,
    next_dm_time,
    overlap_minutes,
)
from bot.domain.clock import Clock
from bot.domain.keys import RowRef
from bot.domain.localtime import local_date, parse_hhmm, zone
from bot.domain.messages import Button, ButtonStyle, OutgoingMessage
from bot.domain.plaintext import MARKUP_CHARACTERS, escape_markup, has_link, has_markup
from bot.domain.recovery import Visibility
from bot.errors import (
    ConflictError,
    InvalidInputError,
    NotConfiguredError,
    NotFoundError,
    PermissionDeniedError,
)
from bot.services.buddies import (
    CheckInSummaries,
    Delivery,
    GuildNamer,
    LastCheckIns,
    MembershipCheck,
    delivery_for,
)
from bot.services.guild_config import GuildConfigService, GuildConfigView
from bot.services.outbox import OutboxService
from bot.services.requests import AnswerOutcome, AnswersRequests, RequestWords

if TYPE_CHECKING:
    from bot.db.database import Connection

log = logging.getLogger(__name__)

# The request is named `<id>.<incarnation>` (`bot.domain.keys`): an id alone may be a later request's.
ACCEPT_ID = "kindred:mentor:accept:{ref}"
DECLINE_ID = "kindred:mentor:decline:{ref}"
CAPACITY = (1, 5)
DEFAULT_CAPACITY = 2
FOCUS_MAX = 60
MESSAGE_MAX = 200
DECLINE_COOLDOWN = timedelta(days=30)
KEEP_CLOSED = timedelta(days=30)  # ended mentorships and closed requests, then deleted
FIND_SHOWN = 10

# -- refusals (shown ephemerally by the command tree) -----------------------------------

MENTORING_OFF = "Mentoring is turned off in this server for now. A moderator can turn it on with `/config mentors`."
NEED_ROLE = ("This server asks mentors to have the <@&{role}> role. If you'd like to mentor here, a moderator "
             "can tell you how to get it. 💛")
NEED_DAYS = ("This server asks mentors to have at least **{days}** days on a recovery counter they share with "
             "the server (`/recovery settings` with `visibility:server`). There's no rush — mentoring will "
             "still be here. 💛")
FOCUS_TOO_LONG = "The focus can be up to 60 characters — a few words, like “alcohol, early recovery”."
FOCUS_CHARACTERS = (f"The focus is plain words, like “alcohol, early recovery”: no web addresses, and none of "
                    f"{MARKUP_CHARACTERS} (they'd turn into formatting or mentions where others read it).")
CAPACITY_RANGE = "Capacity is from 1 to 5 mentees."
NOT_OFFERING_NOW = "You weren't offering to mentor, so there was nothing to stop."
NO_BOTS = "Bots can't be mentors — `/mentor find` shows the people who offer. 🙂"
NOT_YOURSELF = "You can't be your own mentor — though being kind to yourself counts for a lot. 💛"
NOT_AVAILABLE = "<@{user}> isn't offering to mentor right now. `/mentor find` shows who is."
NO_ROOM = ("<@{user}> has no room for another mentee right now — that's about their capacity, not about you. "
           "`/mentor find` shows mentors with room. 💛")
ALREADY_YOUR_MENTOR = "<@{user}> is already your mentor. `/mentor status` shows what you share with them."
HAVE_A_MENTOR = ("You already have a mentor, <@{user}>. One at a time keeps it personal; `/mentor end` closes "
                 "that kindly if you'd like to ask someone else.")
ALREADY_CONNECTED = "You and <@{user}> are already in a mentorship. `/mentor status` shows it."
REQUEST_WAITING = ("You've already asked <@{user}> — the request is waiting for their answer. "
                   "`/mentor end member:` withdraws it if you'd like to ask someone else.")
RECENTLY_DECLINED = ("<@{user}> said not right now a little while ago, so I won't ask them again just yet. "
                     "`/mentor find` shows other mentors with room. 💛")
MESSAGE_TOO_LONG = "The message can be up to 200 characters."
NO_REQUESTS = "You have no mentee requests waiting right now."
NO_REQUEST_FROM = "There's no open mentee request from <@{user}> for you."
REQUEST_GONE = "That mentee request is no longer open."
OLD_BUTTON = ("This button is from an older message and is no longer open to answers — I can't be sure which "
              "request it was for, so it changed nothing. In the server, `/mentor status` shows the requests "
              "waiting for you, and `/mentor accept` or `/mentor decline` answers them.")
REQUEST_EXPIRED = "That mentee request has expired — requests stay open for 14 days."
NOT_YOUR_REQUEST = "This request is addressed to someone else, so your click doesn't change anything. 🙂"
THEY_HAVE_A_MENTOR = "<@{user}> has found a mentor since asking, so I've closed this request. Thank you for offering. 💛"
EACH_OTHER = ("<@{user}> is already your mentor, so they can't be your mentee too — a mentorship goes one way. "
              "`/mentor decline` lets them know kindly, and nothing else changes.")
MENTOR_LEFT = ("You're no longer a member of that server, so a new mentorship can't begin there. Nothing changed; "
               "the request closes by itself.")
YOU_ARE_FULL = ("You're at your capacity of {capacity} mentee{s}. To make room, `/mentor end` closes a mentorship "
                "kindly, or `/mentor offer capacity:` raises it if you have the space.")
NO_MENTOR = "You don't have a mentor right now. `/mentor find` shows mentors with room."
NOTHING_BETWEEN = "You and <@{user}> have no mentorship or open request. `/mentor status` shows yours."
ANSWER_THEIR_REQUEST = "<@{user}> asked you to be their mentor: `/mentor accept` or `/mentor decline` answers it."

# -- DMs ------------------------------------------------------------------------------

REQUEST_DM = (
    "👋 <@{mentee}> would like you to be their mentor in {where}.{message}\n\n"
    "As their mentor you'd see only what they choose to share (check-in days and streak, counters) — never "
    "moods or notes. Look after yourself too: you can end it any time, kindly, and `/mentor stop` pauses new "
    "requests.\n\n"
    "This request stays open for 14 days. You can also answer in the server with `/mentor accept` or "
    "`/mentor decline`."
)
# The mentee's own words, escaped so they show as typed and never pass for Kindred's.
REQUEST_MESSAGE = "\n\nTheir message, in their own words:\n> {message}"
ACCEPTED_DM = ("🎉 <@{mentor}> said yes — they're your mentor in {where} now! Say hi whenever you like.\n"
               "They see nothing about you unless you choose: `/mentor share checkins:on` shares your check-in "
               "days and streak (never moods or notes), `counters:on` your counters' days (not those marked private). `/mentor status` "
               "shows it all.")
DECLINED_DM = ("<@{mentor}> isn't able to take on a mentee right now in {where}. That's about their capacity, "
               "not about you. 💛 `/mentor find` shows other mentors with room.")
STOPPED_DM = ("<@{mentor}> has paused taking on new mentees in {where}, so your request has closed. That's about "
              "their capacity, not about you. 💛 `/mentor find` shows other mentors with room.")
EXPIRED_DM = ("Your request to <@{mentor}> in {where} has closed after 14 days without an answer. People get "
              "busy — it isn't a judgement on you. 💛 `/mentor find` shows other mentors with room.")
WITHDRAWN_DM = ("<@{mentee}> has withdrawn their request for a mentor in {where}. Nothing you need to do. 💛")
ENDED_BY_MENTOR_DM = ("<@{ender}> has ended your mentorship in {where}. No blame, and nothing you need to do — "
                      "people's capacity changes. Thank you for the steps you took together. 💛 "
                      "`/mentor find` shows other mentors whenever you're ready.")
ENDED_BY_MENTEE_DM = ("<@{ender}> has ended your mentorship in {where}. No blame, and nothing you need to do — "
                      "needs change as recovery goes on. Thank you for being there for them. 💛")
LEFT_DM = ("The {role} from the mentorship that began <t:{since}:D> in {where} has stepped away from Kindred, so "
           "that mentorship has ended. It isn't about you. 💛")
LEFT_SERVER_DM = ("<@{leaver}> is no longer a member of {where}, so your mentorship there has ended. It isn't "
                  "about you. 💛")
NUDGE_DM = ("💛 Your mentee <@{mentee}> in {where} hasn't checked in for {days} days. No pressure — if you feel "
            "up to it, a short hello can mean a lot.\n"
            "-# You get this because <@{mentee}> shares check-ins with you. `/buddy pause` pauses every nudge "
            "for a while.")


# -- ports ------------------------------------------------------------------------------

class CounterLike(Protocol):
    """What a mentor may see of a counter."""

    @property
    def visibility(self) -> Visibility:
        """Who the owner lets see it (`private`: nobody else, a mentor included)."""
        ...

    @property
    def name(self) -> str:
        """The counter's name."""
        ...

    @property
    def current_days(self) -> int:
        """Days in the current period."""
        ...


class Counters(Protocol):
    """The recovery feature's counters, as far as a viewer may see them."""

    async def shared_counters(self, guild_id: int, owner_user_id: int, viewer_user_id: int) -> Sequence[CounterLike]:
        """Return the owner's counters the viewer may see (all of them when the viewer is the owner)."""
        ...


# The ids of a member's roles as Discord says now; None when it cannot tell.
RoleLookup = Callable[[int, int], Awaitable[set[int] | None]]


# -- results ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OfferOutcome:
    """The result of `/mentor offer`."""

    focus: str | None
    capacity: int
    mentees: int
    resumed: bool


@dataclass(frozen=True, slots=True)
class StopOutcome:
    """The result of `/mentor stop`."""

    was_offering: bool
    mentees: int
    closed_requests: int


@dataclass(frozen=True, slots=True)
class FoundMentor:
    """A mentor as `/mentor find` shows them: who, their focus, the daytime you share. Nothing else."""

    user_id: int
    focus: str | None
    overlap_minutes: int


@dataclass(frozen=True, slots=True)
class FindOutcome:
    """The result of `/mentor find`."""

    mentors: tuple[FoundMentor, ...]
    more: int


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    """The result of `/mentor request`."""

    mentor_user: int
    request_id: int
    delivery: Delivery
    ref: RowRef  # how the request DM's buttons name it


@dataclass(frozen=True, slots=True)
class Shared:
    """What one side of a mentorship sees of a mentee (None: not shared)."""

    last_checkin: date | None
    streak: int | None
    checkins: bool
    counters: tuple[tuple[str, int], ...] | None


@dataclass(frozen=True, slots=True)
class MentorLink:
    """A mentorship as `/mentor status` shows it to one side."""

    user_id: int
    since: datetime
    shared: Shared


@dataclass(frozen=True, slots=True)
class MentorStatus:
    """Everything `/mentor status` shows."""

    mentor: MentorLink | None
    mentees: tuple[MentorLink, ...]
    offer: Offer | None
    outgoing: MentorRequest | None
    incoming: tuple[MentorRequest, ...]
    enabled: bool


@dataclass(frozen=True, slots=True)
class SharingOutcome:
    """What a mentee now shares with their mentor."""

    mentor_user: int
    checkins: bool
    counters: bool
    changed: bool


@dataclass(frozen=True, slots=True)
class EndOutcome:
    """The result of `/mentor end`."""

    other_user: int
    withdrawn: bool  # a request was withdrawn (no mentorship had started)


@dataclass(frozen=True, slots=True)
class _Nudge:
    mentorship: Mentorship
    mentor: BuddyMember
    mentee: BuddyMember
    mentor_day: date
    absent_since: date
    days: int


def clean_focus(text: str | None) -> str | None:
    """Return a focus as stored: single-spaced, printable, or None when empty."""
    if text is None:
        return None
    cleaned = " ".join("".join(ch for ch in text if ch.isprintable()).split())
    if len(cleaned) > FOCUS_MAX:
        raise InvalidInputError(FOCUS_TOO_LONG)
    # Other members read it in `/mentor find` under the bot's name: plain words only.
    if has_link(cleaned) or has_markup(cleaned):
        raise InvalidInputError(FOCUS_CHARACTERS)
    return cleaned or None


def focus_matches(focus: str | None, wanted: str | None) -> bool:
    """Tell whether every word asked for appears in a mentor's focus (case does not count)."""
    words = (wanted or "").casefold().replace(",", " ").split()
    if not words:
        return True
    have = (focus or "").casefold()
    return all(word in have for word in words)


class MentorService(AnswersRequests[MentorRequest]):
    """The rules of mentoring."""

    words = RequestWords(no_requests=NO_REQUESTS, none_from=NO_REQUEST_FROM, gone=REQUEST_GONE,
                         old_button=OLD_BUTTON, not_yours=NOT_YOUR_REQUEST)

    def __init__(self, db: Database, repo: MentorRepository, people: BuddyRepository, members: MemberRepository,
                 guild_config: GuildConfigService, outbox: OutboxService, summaries: CheckInSummaries,
                 last_checkins: LastCheckIns, counters: Counters, clock: Clock, config: Config) -> None:
        self.db = db
        self.repo: MentorRepository = repo
        self.people = people  # members' zones, quiet hours, closed DMs and pauses
        self.members = members
        self.guild_config = guild_config
        self.outbox = outbox
        self.summaries = summaries
        self.last_checkins = last_checkins
        self.counters = counters
        self.clock = clock
        self.config = config
        self.guild_name: GuildNamer = lambda _guild_id: None
        self.membership: MembershipCheck | None = None
        self.roles: RoleLookup | None = None

    # -- helpers ------------------------------------------------------------------------

    def _where(self, guild_id: int) -> str:
        name = self.guild_name(guild_id)
        return f"**{name}**" if name else "your server"

    def _tz(self, member: BuddyMember) -> str:
        return member.timezone or self.config.defaults.timezone

    async def _actor(self, guild_id: int, user_id: int) -> BuddyMember:
        # Using a command is "using the bot": it also lifts a closed-DM mark.
        await self.members.touch(guild_id, user_id, self.clock.now())
        member = await self.people.member(guild_id, user_id)
        assert member is not None
        return member

    async def _notice_in(self, conn: Connection, key: str, recipient_member: int, text: str, now: datetime, *,
                         automatic: bool = False, kind: str = "mentor.notice") -> None:
        """Queue a DM inside the caller's transaction, after the recipient's quiet hours.

        News caused by someone's action waits out the recipient's own quiet hours;
        automatic news (expiry) also waits out the default night.
        """
        recipient = await self.people.member_by_id(recipient_member)
        assert recipient is not None
        when = (next_dm_time if automatic else after_own_quiet_hours)(
            now, self._tz(recipient), recipient.quiet_start, recipient.quiet_end)
        item = NewOutboxItem(dedupe_key=key, kind=kind, target="dm", target_id=recipient.user_id,
                             message=OutgoingMessage(content=text), guild_id=recipient.guild_id,
                             member_id=recipient.member_id)
        await outbox_db.enqueue(conn, item, not_before=when, now=now)

    @staticmethod
    async def _withdraw_request_dms(conn: Connection, requests: Sequence[MentorRequest]) -> int:
        """Withdraw closed requests' DMs not delivered yet (queued for a retry); return how many.

        A closed request's words must never reach the mentor later, and its buttons would
        answer nothing.
        """
        return await outbox_db.cancel_in(conn, keys=[f"mentor:request:{r.ref}" for r in requests])

    async def _requirement_problem(self, view: GuildConfigView, user_id: int, qualified_role_id: int | None) -> str | None:
        """Return why a member may not mentor here now, or None.

        `qualified_role_id` is the role the member had when they offered (checked then from
        Discord's own record of their roles): a server that since asks for another role needs
        them to offer again.
        """
        if not view.mentors_enabled:
            return MENTORING_OFF
        if view.mentor_role_id is not None and qualified_role_id != view.mentor_role_id:
            return NEED_ROLE.format(role=view.mentor_role_id)
        if view.mentor_min_days > 0:
            # Only counters anyone in the server may see count (viewer 0 is nobody in particular).
            shared = await self.counters.shared_counters(view.guild.guild_id, user_id, 0)
            if max((c.current_days for c in shared), default=-1) < view.mentor_min_days:
                return NEED_DAYS.format(days=view.mentor_min_days)
        return None

    async def _listed(self, view: GuildConfigView, entry: ListedOffer) -> bool:
        return entry.mentees < entry.offer.capacity and await self._requirement_problem(
            view, entry.offer.user_id, entry.offer.qualified_role_id) is None

    # -- offering ------------------------------------------------------------------------

    async def offer(self, guild_id: int, user_id: int, *, focus: str | None = None, capacity: int | None = None,
                    role_ids: Collection[int] = ()) -> OfferOutcome:
        """Offer to mentor (or change the offer); the server's requirements are checked first."""
        wanted_focus = clean_focus(focus)
        if capacity is not None and not CAPACITY[0] <= capacity <= CAPACITY[1]:
            raise InvalidInputError(CAPACITY_RANGE)
        me = await self._actor(guild_id, user_id)
        view = await self.guild_config.view(guild_id)
        if not view.mentors_enabled:
            raise NotConfiguredError(MENTORING_OFF)
        if view.mentor_role_id is not None and view.mentor_role_id not in role_ids:
            raise PermissionDeniedError(NEED_ROLE.format(role=view.mentor_role_id))
        problem = await self._requirement_problem(view, user_id, view.mentor_role_id)
        if problem is not None:
            raise PermissionDeniedError(problem)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            before = await self.repo.offer(me.member_id)
            # Offering again updates what it gives and keeps the rest.
            new_focus = wanted_focus if focus is not None else (before.focus if before else None)
            new_capacity = capacity or (before.capacity if before else DEFAULT_CAPACITY)
            await self.repo.put_offer(conn, member_id=me.member_id, guild_id=guild_id, focus=new_focus,
                                      capacity=new_capacity, role_id=view.mentor_role_id, now=now)
            mentees = await self.repo.mentee_count(me.member_id)
        log.debug("mentor offer by member %s (guild=%s, capacity=%d)", me.member_id, guild_id, new_capacity)
        return OfferOutcome(new_focus, new_capacity, mentees, resumed=before is not None and not before.open)

    async def stop(self, guild_id: int, user_id: int) -> StopOutcome:
        """Stop offering: out of `/mentor find`, waiting requests closed kindly, mentees kept."""
        me = await self._actor(guild_id, user_id)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            stopped = await self.repo.stop_offer(conn, me.member_id, now)
            closed = await self.repo.cancel_requests(conn, mentor_member=me.member_id, now=now)
            await self._withdraw_request_dms(conn, closed)
            for request in closed:
                await self._notice_in(conn, f"mentor:stopped:{request.ref}", request.mentee_member,
                                      STOPPED_DM.format(mentor=user_id, where=self._where(guild_id)), now)
            mentees = await self.repo.mentee_count(me.member_id)
        if not stopped and not closed:
            raise ConflictError(NOT_OFFERING_NOW)
        await self.outbox.dispatch()
        log.debug("mentor offer stopped by member %s (guild=%s, %d request(s) closed)", me.member_id, guild_id,
                  len(closed))
        return StopOutcome(stopped, mentees, len(closed))

    async def find(self, guild_id: int, user_id: int, focus: str | None = None) -> FindOutcome:
        """Return mentors with room (focus and shared daytime only), best overlap first."""
        me = await self._actor(guild_id, user_id)
        view = await self.guild_config.view(guild_id)
        if not view.mentors_enabled:
            raise NotConfiguredError(MENTORING_OFF)
        now = self.clock.now()
        mine = Candidate(me.member_id, self._tz(me), now, me.quiet_start, me.quiet_end)
        today = now.astimezone(UTC).date()
        found = []
        for entry in await self.repo.open_offers(guild_id):
            if entry.offer.member_id == me.member_id or not focus_matches(entry.offer.focus, focus):
                continue
            if not await self._listed(view, entry):
                continue
            theirs = Candidate(entry.offer.member_id, entry.timezone or self.config.defaults.timezone, now,
                               parse_hhmm(entry.quiet_start) if entry.quiet_start else None,
                               parse_hhmm(entry.quiet_end) if entry.quiet_end else None)
            found.append(FoundMentor(entry.offer.user_id, entry.offer.focus, overlap_minutes(mine, theirs, today)))
        found.sort(key=lambda m: -m.overlap_minutes)  # stable: the longest-offering first among equals
        return FindOutcome(tuple(found[:FIND_SHOWN]), max(0, len(found) - FIND_SHOWN))

    # -- requests ------------------------------------------------------------------------

    async def request(self, guild_id: int, user_id: int, mentor_user: int, message: str | None = None, *,
                      mentor_is_bot: bool = False) -> RequestOutcome:
        """Ask a mentor; the request (with the message) reaches them by DM with buttons."""
        if mentor_is_bot:
            raise InvalidInputError(NO_BOTS)
        if mentor_user == user_id:
            raise InvalidInputError(NOT_YOURSELF)
        words = None if message is None else " ".join(message.split()) or None
        if words is not None and len(words) > MESSAGE_MAX:
            raise InvalidInputError(MESSAGE_TOO_LONG)
        me = await self._actor(guild_id, user_id)
        view = await self.guild_config.view(guild_id)
        if not view.mentors_enabled:
            raise NotConfiguredError(MENTORING_OFF)
        mentor = await self.people.member(guild_id, mentor_user)
        offer = None if mentor is None else await self.repo.offer(mentor.member_id)
        if mentor is None or offer is None or not offer.open or await self._requirement_problem(
                view, mentor_user, offer.qualified_role_id) is not None:
            raise NotFoundError(NOT_AVAILABLE.format(user=mentor_user))
        if view.mentor_role_id is not None and self.roles is not None:
            # Roles change without the bot hearing of it (no members intent): ask Discord now.
            roles = await self.roles(guild_id, mentor_user)
            if roles is not None and view.mentor_role_id not in roles:
                raise NotFoundError(NOT_AVAILABLE.format(user=mentor_user))
        now = self.clock.now()
        async with self.db.transaction() as conn:
            # Checked under the write lock, so two requests cannot both take the last place.
            current = await self.repo.mentor_of(me.member_id)
            if current is not None:
                template = ALREADY_YOUR_MENTOR if current.mentor_member == mentor.member_id else HAVE_A_MENTOR
                raise ConflictError(template.format(user=current.mentor_user))
            if await self.repo.between(me.member_id, mentor.member_id) is not None:
                raise ConflictError(ALREADY_CONNECTED.format(user=mentor_user))
            waiting = await self.repo.open_request_of(me.member_id, now)
            if waiting is not None:
                raise ConflictError(REQUEST_WAITING.format(user=waiting.mentor_user))
            if await self.repo.declined_since(me.member_id, mentor.member_id, now - DECLINE_COOLDOWN):
                raise ConflictError(RECENTLY_DECLINED.format(user=mentor_user))
            if await self.repo.mentee_count(mentor.member_id) >= offer.capacity:
                raise ConflictError(NO_ROOM.format(user=mentor_user))
            try:
                created = await self.repo.create_request(
                    conn, guild_id=guild_id, mentee_member=me.member_id, mentor_member=mentor.member_id,
                    message=words, now=now, expires_at=now + REQUEST_TTL)
            except DuplicateRequestError:  # pragma: no cover - checked above under the same lock
                raise ConflictError(REQUEST_WAITING.format(user=mentor_user)) from None
        request_id = created.row_id
        text = REQUEST_DM.format(mentee=user_id, where=self._where(guild_id),
                                 message=REQUEST_MESSAGE.format(message=escape_markup(words)) if words else "")
        result = await self.outbox.deliver_now(NewOutboxItem(
            dedupe_key=f"mentor:request:{created}", kind="mentor.request", target="dm", target_id=mentor_user,
            message=OutgoingMessage(content=text, buttons=(
                Button(ACCEPT_ID.format(ref=created), "Accept", ButtonStyle.SUCCESS, "🤝"),
                Button(DECLINE_ID.format(ref=created), "Not right now", ButtonStyle.SECONDARY))),
            guild_id=guild_id, member_id=mentor.member_id))
        log.info("mentor request %s created (guild=%s): %s", request_id, guild_id, result.status.value)
        return RequestOutcome(mentor_user, request_id, delivery_for(result), created)

    async def _answer(self, request: MentorRequest, *, accept: bool) -> AnswerOutcome:
        now = self.clock.now()
        where = self._where(request.guild_id)
        closed = None
        if accept:
            # A new mentorship needs what a new request needs: mentoring on, the mentor still here.
            if not (await self.guild_config.view(request.guild_id)).mentors_enabled:
                raise NotConfiguredError(MENTORING_OFF)
            if await self._has_left(request.guild_id, request.mentor_user):
                raise ConflictError(MENTOR_LEFT)
        async with self.db.transaction() as conn:
            fresh = await self.repo.request(request.request_id)
            if fresh is None or fresh.incarnation != request.incarnation or fresh.status != "pending":
                raise ConflictError(REQUEST_GONE)
            if not fresh.is_open(now):
                raise ConflictError(REQUEST_EXPIRED)
            await self._withdraw_request_dms(conn, [fresh])  # answered in the server before the DM got through
            if accept and await self.repo.mentor_of(fresh.mentee_member) is not None:
                # The request can no longer lead anywhere: it is closed (committed), then refused.
                await self.repo.resolve_request(conn, fresh.request_id, "cancelled", now)
                closed = THEY_HAVE_A_MENTOR.format(user=fresh.mentee_user)
            elif accept and (theirs := await self.repo.mentor_of(fresh.mentor_member)) is not None \
                    and theirs.mentor_member == fresh.mentee_member:
                raise ConflictError(EACH_OTHER.format(user=fresh.mentee_user))
            elif accept:
                offer = await self.repo.offer(fresh.mentor_member)
                capacity = offer.capacity if offer is not None else DEFAULT_CAPACITY
                if await self.repo.mentee_count(fresh.mentor_member) >= capacity:
                    raise ConflictError(YOU_ARE_FULL.format(capacity=capacity, s="" if capacity == 1 else "s"))
                await self.repo.resolve_request(conn, fresh.request_id, "accepted", now)
                try:
                    await self.repo.create_mentorship(conn, guild_id=fresh.guild_id, mentor_member=fresh.mentor_member,
                                                      mentee_member=fresh.mentee_member, now=now)
                except AlreadyMentoredError:  # pragma: no cover - checked above under the same lock
                    raise ConflictError(THEY_HAVE_A_MENTOR.format(user=fresh.mentee_user)) from None
                await self._notice_in(conn, f"mentor:accepted:{fresh.ref}", fresh.mentee_member,
                                      ACCEPTED_DM.format(mentor=fresh.mentor_user, where=where), now)
            else:
                await self.repo.resolve_request(conn, fresh.request_id, "declined", now)
                await self._notice_in(conn, f"mentor:declined:{fresh.ref}", fresh.mentee_member,
                                      DECLINED_DM.format(mentor=fresh.mentor_user, where=where), now)
        if closed is not None:
            raise ConflictError(closed)
        await self.outbox.dispatch()
        log.info("mentor request %s %s (guild=%s)", request.request_id, "accepted" if accept else "declined",
                 request.guild_id)
        return AnswerOutcome(request.request_id, request.guild_id, request.asker_user, accept)

    # -- status and sharing ---------------------------------------------------------------------

    async def _shared(self, link: Mentorship) -> Shared:
        last: date | None = None
        streak: int | None = None
        if link.shares_checkins:
            summary = await self.summaries.summary(link.guild_id, link.mentee_user)
            last, streak = summary.last_local_date, summary.current_streak
        counters = None
        if link.share_counters:
            # "Counters" means those the mentee has not marked private: private stays private.
            views = await self.counters.shared_counters(link.guild_id, link.mentee_user, link.mentee_user)
            counters = tuple((c.name, c.current_days) for c in views if c.visibility is not Visibility.PRIVATE)
        return Shared(last, streak, link.shares_checkins, counters)

    async def status(self, guild_id: int, user_id: int) -> MentorStatus:
        """Return a member's mentor and mentees (with what each mentee shares), offer and requests."""
        me = await self._actor(guild_id, user_id)
        view = await self.guild_config.view(guild_id)
        now = self.clock.now()
        mine = await self.repo.mentor_of(me.member_id)
        mentor = None if mine is None else MentorLink(mine.mentor_user, mine.started_at, await self._shared(mine))
        mentees = tuple([MentorLink(m.mentee_user, m.started_at, await self._shared(m))
                         for m in await self.repo.mentees_of(me.member_id)])
        return MentorStatus(mentor, mentees, await self.repo.offer(me.member_id),
                            await self.repo.open_request_of(me.member_id, now),
                            tuple(await self.repo.incoming(me.member_id, now)), view.mentors_enabled)

    async def share(self, guild_id: int, user_id: int, *, checkins: bool | None = None,
                    counters: bool | None = None) -> SharingOutcome:
        """Choose what your mentor sees (options left out keep their value); with none, say what it is."""
        me = await self._actor(guild_id, user_id)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            link = await self.repo.mentor_of(me.member_id)
            if link is None:
                raise NotFoundError(NO_MENTOR)
            new_checkins = link.shares_checkins if checkins is None else checkins
            new_counters = link.share_counters if counters is None else counters
            changed = (new_checkins, new_counters) != (link.shares_checkins, link.share_counters)
            if changed:
                shared_at = (link.checkins_shared_at or now) if new_checkins else None
                await self.repo.set_sharing(conn, link.mentorship_id, checkins_shared_at=shared_at,
                                            share_counters=new_counters)
                if not new_checkins:
                    await self.repo.cancel_pending_nudges(conn, mentorship_id=link.mentorship_id)
        if changed:
            log.info("mentee sharing changed on mentorship %s (guild=%s)", link.mentorship_id, guild_id)
        return SharingOutcome(link.mentor_user, new_checkins, new_counters, changed)

    # -- ending ------------------------------------------------------------------------------

    async def end(self, guild_id: int, user_id: int, other_user: int) -> EndOutcome:
        """End a mentorship kindly, either side (or withdraw your own request); the other is told."""
        if other_user == user_id:
            raise InvalidInputError(NOT_YOURSELF)
        me = await self._actor(guild_id, user_id)
        other = await self.people.member(guild_id, other_user)
        if other is None:
            raise NotFoundError(NOTHING_BETWEEN.format(user=other_user))
        now = self.clock.now()
        where = self._where(guild_id)
        async with self.db.transaction() as conn:
            link = await self.repo.between(me.member_id, other.member_id)
            if link is not None:
                await self.repo.end_mentorship(conn, link.mentorship_id, ended_by=me.member_id, reason="ended", now=now)
                await self.repo.cancel_pending_nudges(conn, mentorship_id=link.mentorship_id)
                text = ENDED_BY_MENTOR_DM if link.mentor_member == me.member_id else ENDED_BY_MENTEE_DM
                await self._notice_in(conn, f"mentor:ended:{link.ref}", other.member_id,
                                      text.format(ender=user_id, where=where), now)
                withdrawn = False
            else:
                mine = await self.repo.open_request_of(me.member_id, now)
                if mine is None or mine.mentor_member != other.member_id:
                    theirs = await self.repo.open_request_of(other.member_id, now)
                    if theirs is not None and theirs.mentor_member == me.member_id:
                        raise ConflictError(ANSWER_THEIR_REQUEST.format(user=other_user))
                    raise NotFoundError(NOTHING_BETWEEN.format(user=other_user))
                await self.repo.resolve_request(conn, mine.request_id, "cancelled", now)
                # A mentor whose request DM was still waiting to go never hears of it at all.
                if not await self._withdraw_request_dms(conn, [mine]):
                    await self._notice_in(conn, f"mentor:withdrawn:{mine.ref}", other.member_id,
                                          WITHDRAWN_DM.format(mentee=user_id, where=where), now)
                withdrawn = True
        await self.outbox.dispatch()
        log.debug("mentorship or request ended by member %s (guild=%s)", me.member_id, guild_id)
        return EndOutcome(other_user, withdrawn)

    async def forget_member_in(self, conn: Connection, guild_id: int, user_id: int) -> None:
        """End a member's mentorships (the other side told, without naming them) and close their requests.

        For `/privacy delete` and the retention purge, inside the deleting transaction.
        """
        await self._withdraw_in(conn, guild_id, user_id, reason="left")

    async def members_with_ties(self, member_ids: Sequence[int]) -> set[int]:
        """Return the members `forget_member_in` has something to do for."""
        return await self.repo.members_with_ties(member_ids)

    async def _withdraw_in(self, conn: Connection, guild_id: int, user_id: int, *, reason: str) -> int:
        member = await self.people.member(guild_id, user_id)  # read through `conn`: this task's transaction
        if member is None:
            return 0
        now = self.clock.now()
        where = self._where(guild_id)
        links = await self.repo.active_of(member.member_id)
        for link in links:
            await self.repo.end_mentorship(conn, link.mentorship_id, ended_by=member.member_id, reason=reason, now=now)
            await self.repo.cancel_pending_nudges(conn, mentorship_id=link.mentorship_id)
            other_member, _ = link.other(member.member_id)
            if reason == "left":
                role = "mentor" if link.mentor_member == member.member_id else "mentee"
                text = LEFT_DM.format(role=role, where=where, since=int(link.started_at.timestamp()))
            else:
                text = LEFT_SERVER_DM.format(leaver=user_id, where=where)
            await self._notice_in(conn, f"mentor:{reason}:{link.ref}", other_member, text, now)
        await self._withdraw_request_dms(conn, await self.repo.cancel_requests(
            conn, mentor_member=member.member_id, mentee_member=member.member_id, now=now))
        await self.repo.cancel_pending_nudges(conn, member_id=member.member_id)
        log.debug("member %s withdrawn from mentoring (guild=%s, reason=%s, mentorships=%d)", member.member_id,
                  guild_id, reason, len(links))
        return len(links)

    async def _has_left(self, guild_id: int, user_id: int) -> bool:
        return self.membership is not None and await self.membership(guild_id, user_id) is False

    # -- sweeps --------------------------------------------------------------------------------

    async def request_sweep(self, now: datetime) -> int:
        """Close requests that have waited 14 days and tell the mentees kindly."""
        if not await self.repo.has_expired_requests(now):
            return 0
        async with self.db.transaction() as conn:
            expired = await self.repo.expire_requests(conn, now)
            await self._withdraw_request_dms(conn, expired)
            for request in expired:
                await self._notice_in(conn, f"mentor:expired:{request.ref}", request.mentee_member,
                                      EXPIRED_DM.format(mentor=request.mentor_user, where=self._where(request.guild_id)),
                                      now, automatic=True)
        return len(expired)

    async def request_due(self) -> datetime | None:
        """Return the earliest request expiry not handled yet (for health checks)."""
        return await self.repo.earliest_request_expiry()

    async def nudge_sweep(self, now: datetime) -> int:
        """Queue the gentle DMs about quiet mentees that are due, and tidy old records."""
        if await self.repo.anything_to_purge(now - KEEP_CLOSED):
            async with self.db.transaction() as conn:
                await self.repo.purge(conn, before=now - KEEP_CLOSED)
        due = await self._due_nudges(now, await self._possible(now))
        if not due:
            return 0
        # Never tell a mentor that a mentee who has left the server "hasn't checked in".
        gone = {(n.mentee.guild_id, n.mentee.user_id) for n in due if await self._has_left(n.mentee.guild_id,
                                                                                          n.mentee.user_id)}
        for guild_id, user_id in gone:
            async with self.db.transaction() as conn:
                await self._withdraw_in(conn, guild_id, user_id, reason="left_server")
        queued = 0
        async with self.db.transaction() as conn:
            # Decided again under the write lock: a pause, an ending or a check-in that landed meanwhile counts.
            for nudge in await self._due_nudges(now, [n.mentorship.mentorship_id for n in due]):
                if (nudge.mentee.guild_id, nudge.mentee.user_id) in gone:
                    continue
                link = nudge.mentorship
                key = f"mentor:nudge:{link.ref}:{nudge.mentor_day.isoformat()}"
                if not await self.repo.record_nudge(conn, mentorship=link, local_day=nudge.mentor_day,
                                                    absent_since=nudge.absent_since, dedupe_key=key, now=now):
                    continue
                text = NUDGE_DM.format(mentee=link.mentee_user, days=nudge.days, where=self._where(link.guild_id))
                await outbox_db.enqueue(conn, NewOutboxItem(
                    dedupe_key=key, kind="mentor.nudge", target="dm", target_id=link.mentor_user,
                    message=OutgoingMessage(content=text), guild_id=link.guild_id, member_id=link.mentor_member),
                    not_before=now, now=now)
                queued += 1
        return queued

    async def _possible(self, now: datetime) -> list[int]:
        """Return the mentorships in which a nudge could be due, by a cheap check (see BuddyService)."""
        candidates = await self.repo.nudge_candidates(now)
        if not candidates:
            return []
        last = await self.last_checkins.last_checkin_dates([c.mentee_member for c in candidates])
        bound = now.astimezone(UTC).date()
        default = self.config.buddies.nudge_after_days
        return [c.mentorship_id for c in candidates
                if (bound - max(last.get(c.mentee_member, date.min), c.counted_from - timedelta(days=1))).days
                >= (c.nudge_after_days or default)]

    async def _due_nudges(self, now: datetime, mentorship_ids: Sequence[int]) -> list[_Nudge]:
        if not mentorship_ids:
            return []
        links = await self.repo.active_mentorships(mentorship_ids)
        last = await self.last_checkins.last_checkin_dates([link.mentee_member for link, _ in links])
        due = []
        for link, after_days in links:
            mentor = await self.people.member_by_id(link.mentor_member)
            mentee = await self.people.member_by_id(link.mentee_member)
            if mentor is None or mentee is None or link.checkins_shared_at is None:
                continue
            if mentee.paused_at(now) or mentor.paused_at(now) or mentor.dms_closed(now):
                continue
            if not may_dm_now(now, self._tz(mentor), mentor.quiet_start, mentor.quiet_end):
                continue
            mentee_tz = zone(self._tz(mentee))
            ended = [m.paused_until for m in (mentor, mentee) if m.paused_until is not None]
            pause_ended = local_date(max(ended), mentee_tz) if ended else None
            counted_from = local_date(max(link.started_at, link.checkins_shared_at), mentee_tz)
            since = absence_start(last.get(link.mentee_member), counted_from, pause_ended)
            days = days_absent(local_date(now, mentee_tz), since)
            if days < (after_days or self.config.buddies.nudge_after_days):
                continue
            mentor_day = local_date(now, zone(self._tz(mentor)))
            if await self.repo.nudge_sent(link.mentorship_id, since, mentor_day):
                continue
            due.append(_Nudge(link, mentor, mentee, mentor_day, since, days))
        return due
