"""Coping tools: the private relapse-prevention plan and urge surfing (`/plan`, `/urge`).

The plan is the member's own: it is read only for them (`/plan show`, `/crisis`, the offers
after a hard check-in and at the start of `/urge`), exported and deleted with the rest of
their data, and never logged — log lines carry ids only.

`/urge` records the urge and schedules a check-back DM `minutes` later (rounded up to a whole
minute, the clock time the member is shown). The check-back follows the sweep → outbox pattern
(docs/ARCHITECTURE.md): the `urge-checkbacks` sweep claims due urges through an indexed
`checkback_due_at`, queues the DM under the key `urge:<id>:checkback` and clears the due time
in one commit, so it goes out once, also after a restart. Quiet hours do not hold it back: the
member asked for it minutes ago. If the bot was down until long after it was due
(`CHECKBACK_LATE_LIMIT`), "how strong is it now?" would be about a moment long gone, so it is
skipped; a little late, it says so.

Whether the member can receive DMs at all is found out when the urge begins: a short DM says
when the check-back will come. If Discord refuses it (DMs closed), the check-back is withdrawn
and the member is told on the spot, with the same answer buttons on the private reply instead.

Urge surfing must not need the database: if it cannot be reached, `/urge` still answers with
the steps and the HALT check from memory (`data/coping.toml`), and says the check-back could
not be set.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from bot.config import SHIPPED_DATA
from bot.db.coping import CopingRepository
from bot.db.database import Database
from bot.db.members import touch_in
from bot.db.outbox import NewOutboxItem, enqueue
from bot.domain.clock import Clock
from bot.domain.coping import (
    MINUTES_MAX,
    MINUTES_MIN,
    PLAN_PART_MAX,
    STRENGTH_MAX,
    STRENGTH_MIN,
    CheckBack,
    CopingTexts,
    Halt,
    HaltAdvice,
    PlanPart,
    RelapsePlan,
    Urge,
    UrgeSummary,
    checkback_due,
    clean_plan_part,
    parse_coping_texts,
    strong,
    summarise_urges,
    valid_strength,
)
from bot.domain.messages import Button, ButtonStyle, OutgoingMessage, SendStatus
from bot.errors import DatabaseUnavailableError, InvalidInputError, NotFoundError
from bot.services.outbox import OutboxService

log = logging.getLogger(__name__)

COPING_FILE = "coping.toml"
CHECKBACK_KIND = "urge.checkback"
HELLO_KIND = "urge.hello"
HALT_ID = "kindred:urge:halt:{urge_id}:{need}"
AFTER_ID = "kindred:urge:after:{urge_id}:{strength}"
PLAN_MODAL_ID = "kindred:plan:modal"
PLAN_SHOW_ID = "kindred:plan:show"
# A check-back asks "how strong is it now?": an hour after its time that is no longer the
# moment the member asked about, so a check-back delayed longer than that (the bot was down)
# is not sent. Up to then it is sent, saying it is late if it is more than a few minutes so.
CHECKBACK_LATE_LIMIT = timedelta(hours=1)
LATE_NOTE_AFTER = timedelta(minutes=3)

# -- member-facing wording decided here (errors and the DMs the outbox sends) ---------------

STRENGTH_INVALID = "Strength is a whole number from 0 (no urge at all) to 10 (very strong)."
MINUTES_INVALID = f"I can check back after {MINUTES_MIN} to {MINUTES_MAX} minutes."
PLAN_PART_TOO_LONG = ("“{part}” is {length} characters, and each part of your plan holds up to {limit}. "
                      "Nothing was saved yet — could you shorten it a little?")
NOT_YOUR_URGE = ("That check-in belongs to someone else's urge, so I left it alone. "
                 "`/urge` starts one of your own whenever you need it.")
URGE_GONE = "I can't find that urge any more (its record may have been deleted). `/urge` starts a new one."
CHECKBACK_TEXT = ("🌊 **Checking in, as you asked {minutes} minutes ago.** How strong is the urge now, from 0 "
                  "(gone) to 10 (very strong)? Tap a number — only you see your answer.")
CHECKBACK_BEFORE = "-# It was {before}/10 when you started."
CHECKBACK_LATE = "-# Sorry this comes later than I said — I was offline for a little while."
HELLO_TEXT = ("🌊 I'm with you. At <t:{due}:t> (<t:{due}:R>) I'll ask here how strong the urge is then. "
              "You don't have to reply to this message.")
PLAN_LABELS = {
    PlanPart.WARNING_SIGNS: "My warning signs",
    PlanPart.TRIGGERS: "My triggers",
    PlanPart.COPING: "What helps me",
    PlanPart.PEOPLE: "People I can reach",
    PlanPart.REASONS: "My reasons",
}


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> CopingTexts:
    return parse_coping_texts(tomllib.loads(Path(path).read_text(encoding="utf-8")))


def load_coping_texts(path: Path | str = SHIPPED_DATA / COPING_FILE) -> CopingTexts:
    """Load and validate `coping.toml` (cached per file version); ValueError names the problem."""
    where = Path(path)
    try:
        return _load(str(where), where.stat().st_mtime_ns)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not valid TOML ({exc})") from None


@dataclass(frozen=True, slots=True)
class UrgeStart:
    """What `/urge` answers with: the urge (None if it could not be recorded), the plan, the texts."""

    urge: Urge | None
    strength: int | None
    minutes: int
    plan: RelapsePlan | None
    texts: CopingTexts

    @property
    def due(self) -> datetime | None:
        """When the check-back DM is due (None if none is scheduled)."""
        return None if self.urge is None else self.urge.checkback_due_at


@dataclass(frozen=True, slots=True)
class AfterResult:
    """A recorded "how strong is it now", with the plan when the urge is still strong."""

    urge: Urge
    plan: RelapsePlan | None


def _strength(value: int | None) -> int | None:
    if value is None:
        return None
    if not valid_strength(value):
        raise InvalidInputError(STRENGTH_INVALID)
    return value


class CopingService:
    """Plans, urges, the check-back sweep, and the figures coping adds to stats and the pulse."""

    def __init__(self, db: Database, repo: CopingRepository, outbox: OutboxService, clock: Clock,
                 texts: CopingTexts, *, batch: int = 500) -> None:
        self.db = db
        self.repo = repo
        self.outbox = outbox
        self.clock = clock
        self.texts = texts
        self.batch = batch

    # -- the plan ----------------------------------------------------------------------------

    async def plan(self, guild_id: int | None, user_id: int) -> RelapsePlan | None:
        """Return the member's plan: this server's, or in DMs the one they saved last (reads only)."""
        if guild_id is None:
            return await self.repo.latest_plan_of_user(user_id)
        return await self.repo.plan_of(guild_id, user_id)

    async def save_plan(self, guild_id: int, user_id: int, parts: Mapping[str, str | None]) -> RelapsePlan | None:
        """Replace the member's plan with the parts given; all empty removes it. Return the saved plan."""
        cleaned: dict[PlanPart, str | None] = {}
        for part in PlanPart:
            text = clean_plan_part(parts.get(part.value))
            if text is not None and len(text) > PLAN_PART_MAX:
                raise InvalidInputError(PLAN_PART_TOO_LONG.format(part=PLAN_LABELS[part], length=len(text),
                                                                  limit=PLAN_PART_MAX))
            cleaned[part] = text
        now = self.clock.now()
        async with self.db.transaction() as conn:
            member = await touch_in(conn, guild_id, user_id, now)
            plan = await self.repo.save_plan(conn, member.member_id, cleaned, now)
        log.debug("plan %s (guild=%s member=%s)", "saved" if plan else "cleared", guild_id, member.member_id)
        return plan

    # -- urges -------------------------------------------------------------------------------

    async def start_urge(self, guild_id: int, user_id: int, *, strength: int | None = None,
                         minutes: int = 15) -> UrgeStart:
        """Record an urge and schedule its check-back; without a database, answer from memory."""
        before = _strength(strength)
        if isinstance(minutes, bool) or not MINUTES_MIN <= minutes <= MINUTES_MAX:
            raise InvalidInputError(MINUTES_INVALID)
        now = self.clock.now()
        urge: Urge | None = None
        plan: RelapsePlan | None = None
        try:
            plan = await self.repo.plan_of(guild_id, user_id)
            async with self.db.transaction() as conn:
                member = await touch_in(conn, guild_id, user_id, now)
                urge = await self.repo.insert_urge(conn, member_id=member.member_id, strength=before,
                                                   minutes=minutes, now=now, due=checkback_due(now, minutes))
            log.debug("urge recorded (guild=%s member=%s urge=%s)", guild_id, member.member_id, urge.urge_id)
        except DatabaseUnavailableError:
            # Surfing the urge needs no records: the member still gets every step.
            log.warning("urge not recorded, database unavailable (guild=%s)", guild_id)
        return UrgeStart(urge=urge, strength=before, minutes=minutes, plan=plan, texts=self.texts)

    async def check_dms_reach(self, start: UrgeStart, guild_id: int, user_id: int) -> bool:
        """Tell the member by DM when the check-back comes; if Discord refuses, withdraw it. False then."""
        urge = start.urge
        if urge is None or urge.checkback_due_at is None:
            return True
        result = await self.outbox.deliver_now(NewOutboxItem(
            dedupe_key=f"urge:{urge.urge_id}:hello", kind=HELLO_KIND, target="dm", target_id=user_id,
            message=OutgoingMessage(HELLO_TEXT.format(due=int(urge.checkback_due_at.timestamp()))),
            guild_id=guild_id, member_id=urge.member_id))
        if result.status is not SendStatus.DM_CLOSED:
            return True  # delivered, or Discord had trouble: the check-back stays (the outbox retries it)
        await self.repo.checkback_dm_closed(urge.urge_id)
        log.debug("urge check-back withdrawn: DMs closed (guild=%s member=%s urge=%s)", guild_id, urge.member_id,
                  urge.urge_id)
        return False

    def halt_advice(self, need: Halt) -> HaltAdvice:
        """Return the suggestions for one HALT need (from memory: no database needed)."""
        return self.texts.advice(need)

    async def record_after(self, urge_id: int, user_id: int, strength: int) -> AfterResult:
        """Record how strong the member's urge is now; the plan comes along if it is still strong."""
        after = _strength(strength)
        assert after is not None
        owned = await self.repo.owned(urge_id)
        if owned is None:
            raise NotFoundError(URGE_GONE)
        if owned.user_id != user_id:
            raise NotFoundError(NOT_YOUR_URGE)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            await touch_in(conn, owned.guild_id, user_id, now)  # answering is using the bot
        urge = await self.repo.record_after(urge_id, owned.urge.member_id, after, now)
        if urge is None:
            raise NotFoundError(URGE_GONE)
        log.debug("urge check-back answered (member=%s urge=%s)", urge.member_id, urge_id)
        plan = await self.repo.plan_of(owned.guild_id, user_id) if strong(after) else None
        return AfterResult(urge=urge, plan=plan)

    # -- the check-back sweep ----------------------------------------------------------------

    async def sweep_checkbacks(self, now: datetime) -> int:
        """Queue every due check-back DM (once), skip those far too late; return how many were queued."""
        # Most minutes nothing is due: a read says so without taking the writer lock from members.
        earliest = await self.repo.earliest_checkback_due()
        if earliest is None or earliest > now:
            return 0
        queued = 0
        while True:
            async with self.db.transaction() as conn:
                due = await self.repo.due_checkbacks(conn, now, self.batch)
                for owned in due:
                    urge = owned.urge
                    assert urge.checkback_due_at is not None
                    late = now - urge.checkback_due_at
                    if late > CHECKBACK_LATE_LIMIT or owned.guild_left:
                        await self.repo.decide_checkback(conn, urge.urge_id, CheckBack.SKIPPED)
                        log.debug("urge check-back skipped (urge=%s)", urge.urge_id)
                        continue
                    # No quiet-hours check: the member asked for this minutes ago.
                    await enqueue(conn, NewOutboxItem(
                        dedupe_key=f"urge:{urge.urge_id}:checkback", kind=CHECKBACK_KIND, target="dm",
                        target_id=owned.user_id, message=self.checkback_message(urge, late=late > LATE_NOTE_AFTER),
                        guild_id=owned.guild_id, member_id=urge.member_id,
                    ), not_before=now, now=now)
                    await self.repo.decide_checkback(conn, urge.urge_id, CheckBack.QUEUED)
                    queued += 1
            if len(due) < self.batch:
                return queued

    @staticmethod
    def checkback_message(urge: Urge, *, late: bool = False) -> OutgoingMessage:
        """Return the check-back DM with its eleven answer buttons."""
        lines = [CHECKBACK_TEXT.format(minutes=urge.minutes)]
        if urge.strength_before is not None:
            lines.append(CHECKBACK_BEFORE.format(before=urge.strength_before))
        if late:
            lines.append(CHECKBACK_LATE)
        return OutgoingMessage(content="\n".join(lines), buttons=after_buttons(urge.urge_id))

    # -- what coping adds elsewhere ----------------------------------------------------------

    async def urge_summary(self, member_id: int, start: datetime, end: datetime) -> UrgeSummary:
        """Summarise a member's urges begun in [start, end) for `/mystats`."""
        return summarise_urges(await self.repo.strengths_between(member_id, start, end))


def after_buttons(urge_id: int) -> tuple[Button, ...]:
    """The eleven "how strong is it now" buttons, 0 to 10."""
    # All alike: no answer is the "right" one.
    return tuple(Button(AFTER_ID.format(urge_id=urge_id, strength=n), str(n), ButtonStyle.SECONDARY)
                 for n in range(STRENGTH_MIN, STRENGTH_MAX + 1))
