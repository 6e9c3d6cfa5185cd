"""Crisis resources, `/alertmods`, passive detection and moderator alerts (SPEC §2, §5).

Crisis help must not depend on the database: the resource directory, the reply templates
and the phrase rules are loaded once, when the services are built, and kept in memory.
`/crisis` reads the member's country and the server's own resources with a short timeout
and answers from memory if that fails.

Passive detection never stores or logs the message text. An alert row keeps the message
id, channel id, tier, rule id, fixed modifier labels, what was done and who acted; the
alert and the member's DM are queued in the outbox in the same transaction that records
the alert (keyed by the message id), so a restart neither loses nor doubles them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import aiosqlite

from bot.config import Config
from bot.db import crisis as crisis_db
from bot.db.crisis import FIRST_VERSION, CrisisRepository, NewAlert
from bot.db.database import Database
from bot.db.guilds import GuildRepository
from bot.db.members import touch_in
from bot.db.outbox import NewOutboxItem, OutboxItem
from bot.db.outbox import enqueue as enqueue_in
from bot.domain.clock import Clock
from bot.domain.contacts import (
    ContactError,
    ContactIssue,
    check_contact,
    example_number,
    shown_contact,
)
from bot.domain.coping import RelapsePlan
from bot.domain.countries import find_country
from bot.domain.crisis.records import (
    AlertAction,
    AlertSource,
    AlertStatus,
    CrisisAlert,
    DmStatus,
    LocalResourceRow,
)
from bot.domain.crisis.resources import (
    DataFreshness,
    EmergencyNumber,
    Fallback,
    HelpLine,
    LineKind,
    LocalResource,
    Need,
    ResourceDirectory,
    ResourceItem,
    ResourceSelection,
    data_freshness,
    find_stale_numbers,
    written_number,
)
from bot.domain.crisis.templates import (
    CrisisTemplates,
    Label,
    Language,
    TemplateFields,
    TemplateKey,
    template_for,
)
from bot.domain.health import Finding
from bot.domain.messages import Button, ButtonStyle, OutgoingMessage, SendResult, SendStatus
from bot.domain.plaintext import MARKUP_CHARACTERS, escape_markup, has_link, has_markup
from bot.domain.settings import GuildSettings, MemberSettings
from bot.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from bot.services.outbox import MAX_ATTEMPTS, OutboxService, nonce_for
from bot.services.ports import Metrics, Notifier, NullMetrics
from bot.services.settings import clip_for_reply, parse_country_option

if TYPE_CHECKING:  # the detection code is imported where a message is checked (load_detector)
    from bot.domain.crisis.detection import Detection, Detector, Measured

log = logging.getLogger(__name__)

ACK_ID = "kindred:alert:ack:{alert_id}"
RESOLVE_ID = "kindred:alert:resolve:{alert_id}"
FALSE_ID = "kindred:alert:false:{alert_id}"

# SPEC §5: tiers 1-2 get at most one DM per 6 hours; tier 3 is never suppressed, only
# deduplicated within 10 minutes.
DM_COOLDOWN = timedelta(hours=6)
TIER3_DEDUPE = timedelta(minutes=10)
# A burst of matching messages folds into the member's open alert instead of flooding
# moderators: within 10 minutes for tier 3 (the SPEC's dedupe window), within an hour for
# tiers 1-2. A higher tier, another path, or an alert already closed raises a new one.
MERGE_WINDOW = {3: TIER3_DEDUPE, 2: timedelta(hours=1), 1: timedelta(hours=1)}
PRIOR_WINDOW = timedelta(days=7)
# At most one public /crisis nudge per channel in this time, so a closed-DM member who
# keeps posting is not pointed at (the nudge names no one, but repeats would).
NUDGE_SPACING = timedelta(minutes=30)
# /alertmods: once per few minutes, so a double tap does not alert twice.
REQUEST_COOLDOWN = timedelta(minutes=5)
# /crisis waits at most this long for the database before answering from memory.
DB_LOOKUP_TIMEOUT = 1.0
MAX_LOCAL_RESOURCES = 10
MAX_NOTE = 1000
MAX_NOTE_LINES = 20  # with the quote marks, a 1000-character note stays within Discord's 2000
EMBED_LIMIT = 4000

AlertEditor = Callable[[int, int, OutgoingMessage], Awaitable[bool]]
PlanLookup = Callable[[int | None, int], Awaitable[RelapsePlan | None]]
"""Return a member's plan (server id or None in DMs, user id), reading only."""
"""Replace a posted alert's embed and buttons (channel id, message id, rendering); keep its content."""

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class CrisisData:
    """The in-memory data crisis help runs on."""

    directory: ResourceDirectory
    templates: CrisisTemplates
    phrases: Path
    detector: Detector | None  # compiled at start-up only where passive detection can run


def load_crisis_data(config: Config) -> CrisisData:
    """Load and validate the resource directory and templates, and the phrase rules if detection can run.

    Compiling the phrase rules takes a couple of seconds, so an instance without the
    message-content intent (which never sees a message to check) does not pay for it.
    """
    files = config.data_files()
    resources, templates = (_stamped(files[name]) for name in ("crisis_resources.toml", "crisis_templates.toml"))
    phrases = files["crisis_phrases.toml"]
    return CrisisData(directory=_load_directory(*resources), templates=_load_templates(*templates), phrases=phrases,
                      detector=load_detector(phrases) if config.crisis.detection_intent else None)


def load_detector(path: Path) -> Detector:
    """Compile the phrase rules at `path`, once per process (and again only if the file changes)."""
    return _load_detector(*_stamped(path))


def _stamped(path: Path) -> tuple[str, int]:
    return str(path), path.stat().st_mtime_ns


# The values are immutable, so a process that builds its services more than once (tests do,
# hundreds of times) shares one copy; a changed file (another mtime) is loaded afresh.
@functools.lru_cache(maxsize=4)
def _load_directory(path: str, mtime_ns: int) -> ResourceDirectory:
    return ResourceDirectory.load(path)


@functools.lru_cache(maxsize=4)
def _load_templates(path: str, mtime_ns: int) -> CrisisTemplates:
    return CrisisTemplates.load(path)


@functools.lru_cache(maxsize=4)
def _load_detector(path: str, mtime_ns: int) -> Detector:
    # Imported here: the rules' code is ~0.5 MiB resident and runs only where messages are checked.
    from bot.domain.crisis.detection import Detector

    return Detector.from_file(path)


@dataclass(frozen=True, slots=True)
class CrisisHelp:
    """The `/crisis` reply: the resources, and the member's own plan to show first (None without one)."""

    message: OutgoingMessage
    plan: RelapsePlan | None


@dataclass(frozen=True, slots=True)
class SeenMessage:
    """A member's message, without its text: where it was and who wrote it."""

    guild_id: int
    channel_id: int
    message_id: int
    author_id: int
    guild_name: str
    lang: Language = Language.EN


class DetectionAction(StrEnum):
    """What handling a detection did."""

    NONE = "none"                    # tier 0, or the server does not use detection
    DUPLICATE = "duplicate"          # the same message again (a replayed gateway event)
    NO_ALERT_CHANNEL = "no_alert_channel"
    MERGED = "merged"                # folded into the member's recent alert
    ALERTED = "alerted"


@dataclass(frozen=True, slots=True)
class DetectionResult:
    """The outcome of one detection."""

    action: DetectionAction
    alert_id: int | None = None
    dm_status: DmStatus | None = None
    pinged: bool = False
    outbox_keys: tuple[str, ...] = ()  # the alert's (and the DM's) queued messages, to send at once


class RequestStatus(StrEnum):
    """What `/alertmods` did."""

    SENT = "sent"
    NO_CHANNEL = "no_channel"
    TOO_SOON = "too_soon"
    UNDELIVERED = "undelivered"


@dataclass(frozen=True, slots=True)
class RequestResult:
    """The outcome of `/alertmods`."""

    status: RequestStatus
    last_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ActResult:
    """A moderator's button press: the alert afterwards, whether it changed, and its rendering."""

    alert: CrisisAlert
    changed: bool
    message: OutgoingMessage


# -- rendering (pure) -------------------------------------------------------------------

_SAFE_MODIFIERS = re.compile(
    r"(third-party report -> path other|addressed with hostility -> abuse|humour -1|lyrics/title/news framing -1|inside quotation marks -1"
    r"|model p=[01]\.\d\d"
    # names written by earlier rule versions, kept so old alerts still read the same
    r"|timing \+1|past framing -1|protective negation -1)(?=\s|$)")
_CONCEPT_NAME = re.compile(r"[a-z][a-z0-9_]*")


def safe_modifiers(modifiers: Sequence[str], concepts: Sequence[str] = ()) -> tuple[str, ...]:
    """Keep only the fixed names of the modifiers that applied, never the words they quote.

    `Detection.modifiers` quote the phrase that triggered them ("humour -1 ('lol')"); those
    words come from the member's message, so they are cut off here, before anything is
    stored or shown. Notes about suppressed idioms are dropped for the same reason. The
    concepts that made the rule fire are names from the rule file ("means_ready", "timing"),
    never message text; they are kept first, as "concepts means_ready + timing".
    """
    kept = [m.group(1) for m in (_SAFE_MODIFIERS.match(text) for text in modifiers) if m]
    names = [c for c in concepts if _CONCEPT_NAME.fullmatch(c)]
    if names:
        kept.insert(0, "concepts " + " + ".join(dict.fromkeys(names)))
    return tuple(dict.fromkeys(kept))


def _short_hours(hours: str) -> str:
    return hours.split(" (", 1)[0].split(";", 1)[0].strip()


def _short_name(name: str) -> str:
    return name.split(" - ", 1)[0].strip()


def _line_parts(line: HelpLine, t: CrisisTemplates, lang: Language) -> str:
    parts = []
    if line.phone:
        parts.append(f"{t.label(Label.PHONE, lang)} **{line.phone}**")
    if line.sms:
        sms = line.sms.strip()
        parts.append(f"{t.label(Label.TEXT, lang)} **{sms}**" if sms[:1].isdigit() or sms.startswith("+") else sms)
    if line.url:
        parts.append(f"<{line.url}>")
    hours = _short_hours(line.hours)
    if hours and not any(ch.isdigit() for ch in hours):  # "not verified" says nothing without its label
        hours = f"{t.label(Label.HOURS, lang)}: {hours}"
    return f"{line.name} — " + " · ".join(parts) + (f" ({hours})" if hours else "")


def _item_text(item: ResourceItem, t: CrisisTemplates, lang: Language) -> str:
    if isinstance(item, EmergencyNumber):
        extra = f" ({item.text})" if item.text.strip() != item.dial else ""
        return f"{t.label(Label.PHONE, lang)} **{item.dial}**{extra}"
    if isinstance(item, HelpLine):
        return _line_parts(item, t, lang)
    if isinstance(item, Fallback):
        return f"{_short_name(item.name)} — <{item.url}>"
    # A server's own resource shows as typed, its link without a preview, whatever was stored.
    return f"{escape_markup(item.name)} — {shown_contact(item.contact)}"


def _heading(item: ResourceItem) -> Label:
    if isinstance(item, EmergencyNumber):
        return Label.EMERGENCY_HEADING
    if isinstance(item, HelpLine):
        return Label.SUBSTANCE_HEADING if item.kind is LineKind.SUBSTANCE_USE else Label.TALK_HEADING
    if isinstance(item, Fallback):
        return Label.WORLDWIDE_HEADING
    return Label.SERVER_RESOURCES


def render_primary(selection: ResourceSelection, t: CrisisTemplates, lang: Language) -> str:
    """Render the (at most three) primary items, one line each, in the selection's order."""
    lines = [f"**{t.label(_heading(item), lang)}:** {_item_text(item, t, lang)}" for item in selection.primary]
    if selection.call_local_emergency:
        lines.append(f"**{t.label(Label.EMERGENCY_HEADING, lang)}:** {t.label(Label.CALL_LOCAL_EMERGENCY, lang)}")
    return "\n".join(lines)


def render_more(selection: ResourceSelection, t: CrisisTemplates, lang: Language) -> str | None:
    """Render "more options": the server's own resources first, then the rest (None if none)."""
    local = [i for i in selection.more if isinstance(i, LocalResource)]
    rest = [i for i in selection.more if not isinstance(i, LocalResource)]
    blocks = []
    if local:
        blocks.append(f"**{t.label(Label.SERVER_RESOURCES, lang)}**\n"
                      + "\n".join(f"• {_item_text(i, t, lang)}" for i in local))
    if rest:
        blocks.append("\n".join(f"• {_item_text(i, t, lang)}" for i in rest))
    if not blocks:
        return None
    text = "\n\n".join(blocks)
    if len(text) > EMBED_LIMIT:
        text = text[: text.rfind("\n", 0, EMBED_LIMIT)] + "\n…"
    return text


def emergency_text(selection: ResourceSelection, t: CrisisTemplates, lang: Language) -> str:
    """Return the number to call first, or "your local emergency number"."""
    if selection.country is None:
        return t.label(Label.CALL_LOCAL_EMERGENCY, lang)
    return selection.country.emergency.dial


def resources_message(selection: ResourceSelection, t: CrisisTemplates, key: TemplateKey, lang: Language,
                      *, server: str, note: str | None = None) -> OutgoingMessage:
    """Render a crisis template with the selection: primary items in the text, the rest in an embed."""
    text = t.render(key, TemplateFields(server=server, emergency=emergency_text(selection, t, lang),
                                        resources=render_primary(selection, t, lang)), lang)
    more = render_more(selection, t, lang)
    return OutgoingMessage(
        content=(f"{note}\n\n{text}" if note else text),
        embed_title=t.label(Label.MORE_OPTIONS, lang) if more else None,
        embed_description=more,
    )


def _jump(guild_id: int, channel_id: int, message_id: int | None) -> str:
    tail = f"/{message_id}" if message_id else ""
    return f"https://discord.com/channels/{guild_id}/{channel_id}{tail}"


_TIER_LABEL = {3: Label.ALERT_TIER_3, 2: Label.ALERT_TIER_2, 1: Label.ALERT_TIER_1}
_PATH_LABEL = {"self": Label.ALERT_PATH_SELF, "other": Label.ALERT_PATH_OTHER, "abuse": Label.ALERT_PATH_ABUSE}
_DM_LABEL = {
    DmStatus.NOT_OFFERED: Label.ALERT_RESOURCES_NOT_SENT,
    DmStatus.OPTED_OUT: Label.ALERT_MEMBER_OPTED_OUT,
    DmStatus.COOLDOWN: Label.ALERT_DM_COOLDOWN,
    DmStatus.PENDING: Label.ALERT_DM_PENDING,
    DmStatus.SENT: Label.ALERT_RESOURCES_SENT,
    DmStatus.NUDGED: Label.ALERT_DM_FAILED,
    DmStatus.UNDELIVERABLE: Label.ALERT_DM_UNDELIVERED,
}


def _lang(alert: CrisisAlert) -> Language:
    try:
        return Language(alert.lang)
    except ValueError:
        return Language.EN


def alert_headline(alert: CrisisAlert, t: CrisisTemplates, role_id: int | None,
                   note: str | None = None) -> str:
    """Return the alert's content line (fixed once posted): title, tier, and a role mention if pinged."""
    lang = _lang(alert)
    if alert.source is AlertSource.REQUEST:
        text = f"**{t.label(Label.ALERT_REQUEST_TITLE, lang)}**"
        if note:
            lines = [line for line in note.splitlines() if line.strip()][:MAX_NOTE_LINES]
            quoted = "\n".join(f"> {line}" for line in lines)
            text += f"\n{t.label(Label.ALERT_REQUEST_MESSAGE, lang)}:\n{quoted}"
    else:
        title = Label.ALERT_ABUSE_TITLE if alert.path == "abuse" else Label.ALERT_TITLE
        text = f"**{t.label(title, lang)}** — {t.label(_TIER_LABEL[alert.tier], lang)}"
    if alert.pinged and role_id:
        text = f"<@&{role_id}> {text}"
    return text


def alert_details(alert: CrisisAlert, t: CrisisTemplates) -> str:
    """Return the alert's embed text: who, where, which rule, prior alerts, DM outcome, status."""
    lang = _lang(alert)

    def line(label: Label, value: str) -> str:
        return f"**{t.label(label, lang)}:** {value}"

    jump = f"[{t.label(Label.ALERT_JUMP, lang)}]({_jump(alert.guild_id, alert.channel_id, alert.message_id)})"
    lines = [line(Label.ALERT_MEMBER, f"<@{alert.user_id}>"),
             line(Label.ALERT_CHANNEL, f"<#{alert.channel_id}> · {jump}")]
    if alert.source is AlertSource.DETECTION:
        lines.insert(1, t.label(_PATH_LABEL.get(alert.path or "self", Label.ALERT_PATH_SELF), lang))
        lines.append(line(Label.ALERT_RULE, f"`{alert.rule_id}` ({alert.ruleset_version})"))
        if alert.modifiers:
            lines.append(line(Label.ALERT_WHY, ", ".join(alert.modifiers)))
    lines.append(line(Label.ALERT_PRIOR, str(alert.prior_alerts)))
    if alert.source is AlertSource.DETECTION:
        lines.append(t.label(_DM_LABEL[alert.dm_status], lang))
        if alert.repeat_count:
            lines.append(line(Label.ALERT_REPEATS, str(alert.repeat_count)))
    lines.append(line(Label.ALERT_STATUS, _status_text(alert, t, lang)))
    if alert.source is AlertSource.DETECTION:
        lines.append(f"-# {t.label(Label.ALERT_TEXT_NOT_COPIED, lang)}")
    lines.append(f"-# {t.label(Label.ALERT_REMINDER, lang)}")
    return "\n".join(lines)


def _when(moment: datetime | None) -> str:
    return f" <t:{int(moment.timestamp())}:R>" if moment else ""


def _status_text(alert: CrisisAlert, t: CrisisTemplates, lang: Language) -> str:
    parts = []
    if alert.acknowledged_by:
        parts.append(f"{t.label(Label.ALERT_ACKED_BY, lang)} <@{alert.acknowledged_by}>{_when(alert.acknowledged_at)}")
    if alert.status is AlertStatus.RESOLVED:
        parts.append(f"{t.label(Label.ALERT_RESOLVED_BY, lang)} <@{alert.resolved_by}>{_when(alert.resolved_at)}")
    elif alert.status is AlertStatus.FALSE_ALARM:
        parts.append(f"{t.label(Label.ALERT_FALSE_BY, lang)} <@{alert.resolved_by}>{_when(alert.resolved_at)}")
    elif not parts:
        parts.append(t.label(Label.ALERT_STATUS_OPEN, lang))
    return "; ".join(parts)


def alert_buttons(alert: CrisisAlert, t: CrisisTemplates) -> tuple[Button, ...]:
    """Return the buttons an alert still needs: none once it is closed."""
    lang = _lang(alert)
    if alert.closed:
        return ()
    buttons = []
    if alert.status is AlertStatus.OPEN:
        buttons.append(Button(ACK_ID.format(alert_id=alert.alert_id), t.label(Label.ALERT_ACK_BUTTON, lang),
                              ButtonStyle.PRIMARY))
    buttons.append(Button(RESOLVE_ID.format(alert_id=alert.alert_id), t.label(Label.ALERT_RESOLVE_BUTTON, lang),
                          ButtonStyle.SUCCESS))
    buttons.append(Button(FALSE_ID.format(alert_id=alert.alert_id), t.label(Label.ALERT_FALSE_BUTTON, lang),
                          ButtonStyle.SECONDARY))
    return tuple(buttons)


def render_alert(alert: CrisisAlert, t: CrisisTemplates, role_id: int | None = None,
                 note: str | None = None) -> OutgoingMessage:
    """Render a moderator alert; the role ping is allowed only if the alert pinged."""
    lang = _lang(alert)
    title = (Label.ALERT_REQUEST_TITLE if alert.source is AlertSource.REQUEST
             else Label.ALERT_ABUSE_TITLE if alert.path == "abuse" else Label.ALERT_TITLE)
    return OutgoingMessage(
        content=alert_headline(alert, t, role_id, note),
        embed_title=t.label(title, lang),
        embed_description=alert_details(alert, t),
        buttons=alert_buttons(alert, t),
        mention_role_id=role_id if alert.pinged and role_id else None,
    )


# -- input checks for /config resources ---------------------------------------------------

UNCHANGED = "Nothing has changed."
CONTACT_NEEDED = ("The contact needs to be a phone number (like `0800 123 4567` or `+44 800 123 4567`) or a web "
                  "address starting with `https://`. " + UNCHANGED)
NAME_EXAMPLE = "e.g. `Our peer-support warmline`"


def clean_local_name(text: str) -> str:
    """Validate a server resource's name: plain words, nothing that could pass for a link, a mention or a number."""
    name = " ".join(str(text).split())
    if not 1 <= len(name) <= 80:
        raise InvalidInputError(f"The name needs 1 to 80 characters, {NAME_EXAMPLE}. {UNCHANGED}")
    if not name.isprintable():
        raise InvalidInputError("The name has characters Discord can't show; please use letters, numbers and "
                                f"punctuation, {NAME_EXAMPLE}. {UNCHANGED}")
    if has_link(name):
        raise InvalidInputError(f"Please put the web address in `contact`, not in the name, {NAME_EXAMPLE}. "
                                f"{UNCHANGED}")
    if has_markup(name):
        raise InvalidInputError(f"The name can't contain {MARKUP_CHARACTERS} — Discord would turn them into "
                                f"formatting, mentions or links. Plain words work, {NAME_EXAMPLE}. {UNCHANGED}")
    if written_number(name) or find_stale_numbers(name):
        # Only the contact is checked as a real number in the right country.
        raise InvalidInputError(f"Please put the phone number in `contact`, not in the name. {UNCHANGED}")
    return name


def _country_phrase(code: str) -> str:
    """Return a country's name as it reads in a sentence ("the United Kingdom", "Brazil")."""
    found = find_country(code)
    name = found.name if found else code
    needs_the = ("United", "Republic", "Kingdom", "Islands", "Netherlands", "Philippines", "Bahamas", "Gambia",
                 "Maldives", "Emirates", "Holy See")
    return f"the {name}" if any(word in name for word in needs_the) else name


def _contact_refusal(problem: ContactError, contact: str, country: str) -> str:
    shown = clip_for_reply(contact, 60)
    here = _country_phrase(country)
    match problem.issue:
        case ContactIssue.BAD_NUMBER:
            return (f"`{shown}` isn't a complete phone number in {here} — could you check the digits? Write it "
                    f"as members there would dial it, or with the country code (like `{example_number(country)}`); "
                    f"short codes such as `116 123` are fine where they exist. {UNCHANGED}")
        case ContactIssue.OTHER_COUNTRY:
            return (f"`{shown}` is a number in {_country_phrase(problem.detail)}, not {here}. If it's for members "
                    f"there, add it with `country:{problem.detail}`; otherwise please check the number. {UNCHANGED}")
        case ContactIssue.UNKNOWN_PLAN:
            return (f"I can't check phone numbers for {here}, so please write it with its country code (like "
                    f"`+44 800 123 4567`) or add a web address starting with `https://`. {UNCHANGED}")
        case ContactIssue.NOT_HTTPS:
            return (f"Links need to start with `https://`, so members land on a secure page — try "
                    f"`{clip_for_reply(problem.detail, 200)}` if the site offers it. {UNCHANGED}")
        case ContactIssue.NO_SCHEME:
            return (f"Please write the full web address, starting with `https://` — for example "
                    f"`{clip_for_reply(problem.detail, 200)}`. {UNCHANGED}")
        case ContactIssue.NOT_A_WEB_LINK:
            return ("I can add only web addresses starting with `https://` (or a phone number), so members always "
                    f"know where a link takes them. {UNCHANGED}")
        case ContactIssue.NOT_ASCII_HOST:
            return (f"That site's name has letters outside the basic Latin alphabet, which can make a look-alike "
                    f"of a well-known site. If it's the right site, add it as `{clip_for_reply(problem.detail, 200)}` "
                    f"— that's how the address really reads. {UNCHANGED}")
        case ContactIssue.SHORTENED:
            return ("That's a shortened link, which hides where it leads. Please paste the full address of the "
                    f"page, like `https://example.org/help`, so members can see where they're going. {UNCHANGED}")
        case ContactIssue.BAD_LINK:
            return ("That link has something a plain web address can't contain (spaces, brackets, `*`, `|`, a "
                    "name before `@`) or no proper site name. Please paste just the address, like "
                    f"`https://example.org/help`. {UNCHANGED}")
    return CONTACT_NEEDED


def clean_contact(text: str, country: str) -> str:
    """Validate a phone number (for `country`) or https address for a server resource; refuse stale numbers."""
    contact = " ".join(str(text).split())
    stale = find_stale_numbers(contact)
    if stale:
        raise InvalidInputError(
            f"{stale[0]} — that number no longer works, so I won't show it. Please add the current one instead.")
    if not contact.isprintable():
        raise InvalidInputError("The contact has characters Discord can't show; please use a phone number or a "
                                "web address starting with `https://`.")
    if len(contact) > 200:
        raise InvalidInputError(f"The contact can be at most 200 characters. {UNCHANGED}")
    try:
        return check_contact(contact, country).text
    except ContactError as problem:
        raise InvalidInputError(_contact_refusal(problem, contact, country)) from None


async def _value(value: _T) -> _T:
    return value


class KeyedTurns:
    """One lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def turn(self, key: int) -> AsyncIterator[None]:
        """Wait for the key's turn and hold it for the block."""
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[key]


# -- the service --------------------------------------------------------------------------

class CrisisService:
    """`/crisis`, server resources, `/alertmods`, passive detection and alert buttons."""

    def __init__(self, db: Database, repo: CrisisRepository, guilds: GuildRepository, outbox: OutboxService,
                 notifier: Notifier, clock: Clock, config: Config, data: CrisisData, *,
                 metrics: Metrics | None = None, plans: PlanLookup | None = None) -> None:
        self.db = db
        # The member's own relapse-prevention plan, shown first by /crisis (coping tools).
        self.plans = plans
        self.repo = repo
        self.guilds = guilds
        self.outbox = outbox
        self.notifier = notifier
        self.clock = clock
        self.config = config
        self.metrics = metrics or NullMetrics()
        self.directory = data.directory
        self.templates = data.templates
        self._phrases = data.phrases
        self._detector = data.detector
        # Set by the cog: edits a posted alert in place (Discord lives outside this layer).
        self.edit_alert: AlertEditor | None = None
        # Servers with detection on, so messages elsewhere are not even looked at.
        self._watching: set[int] | None = None
        # Recently handled message ids: a gateway RESUME can replay MESSAGE_CREATE.
        self._recent: OrderedDict[int, None] = OrderedDict()
        # Edits of one posted alert go one at a time (see `show_alert`).
        self._edit_turns = KeyedTurns()

    # -- /crisis --------------------------------------------------------------------------

    def data_freshness(self) -> DataFreshness:
        """Return how old the crisis numbers in memory are today (UTC), by the service's clock."""
        return data_freshness(self.directory, self.clock.now().astimezone(UTC).date())

    def freshness_finding(self) -> Finding:
        """The crisis data's age as a health finding (for the ops channel: stale data needs a human)."""
        fresh = self.data_freshness()
        return Finding("crisis data", not fresh.stale, fresh.describe())

    def suggest_countries(self, typed: str, limit: int = 25) -> list[tuple[str, str]]:
        """Return (name, code) of directory countries matching what the member typed."""
        return [(c.name, c.code) for c in self.directory.search(typed, limit=limit)]

    async def crisis_reply(self, *, user_id: int, guild_id: int | None, country: str | None = None,
                           guild_name: str = "", lang: Language = Language.EN) -> OutgoingMessage:
        """Return the `/crisis` resources: option → member's country → server's → worldwide, plus server resources."""
        help_ = await self.crisis_help(user_id=user_id, guild_id=guild_id, country=country, guild_name=guild_name,
                                       lang=lang, with_plan=False)
        return help_.message

    async def crisis_help(self, *, user_id: int, guild_id: int | None, country: str | None = None,
                          guild_name: str = "", lang: Language = Language.EN, with_plan: bool = True) -> CrisisHelp:
        """Return the `/crisis` reply: the resources (as `crisis_reply`) and the member's own plan.

        Never fails for lack of a database: lookups that fail or take too long are skipped, and
        then the reply comes without the plan (and from the config's default country).
        """
        asked = (country or "").strip()
        note: str | None = None
        chosen: str | None = None
        if asked:
            found = self.directory.country(asked)
            if found is not None:
                chosen = found.code
            else:
                note = self.templates.label(
                    Label.COUNTRY_NOT_COVERED if find_country(asked) else Label.COUNTRY_UNKNOWN, lang)
        # Without the database, the configured default country still beats the worldwide list.
        region = (_value(chosen) if asked else
                  self._best_effort(self._region(guild_id, user_id), self.config.defaults.region or None, "region"))
        local_rows = (_value([]) if guild_id is None else
                      self._best_effort(self.repo.local_resources(guild_id), [], "local resources"))
        plan = (_value(None) if self.plans is None or not with_plan else
                self._best_effort(self.plans(guild_id, user_id), None, "plan"))
        # Side by side, so a stalled database costs one timeout, not three.
        code, rows, own = await asyncio.gather(region, local_rows, plan)
        local = [LocalResource(r.name, r.contact) for r in rows if code is None or r.country == code]
        selection = self.directory.select(code, need=Need.GENERAL, local=local)
        message = resources_message(selection, self.templates, TemplateKey.CRISIS_COMMAND, lang,
                                    server=guild_name, note=note)
        return CrisisHelp(message, own)

    async def _region(self, guild_id: int | None, user_id: int) -> str | None:
        if guild_id is None:
            return await self.repo.latest_region(user_id) or self.config.defaults.region or None
        return (await self.repo.member_region(guild_id, user_id)
                or await self.repo.guild_region(guild_id)
                or self.config.defaults.region or None)

    async def _best_effort(self, work: Awaitable[_T], default: _T, what: str) -> _T:
        try:
            return await asyncio.wait_for(work, DB_LOOKUP_TIMEOUT)
        except Exception as exc:  # any database trouble: crisis help answers from memory
            log.warning("/crisis answered without %s: %s", what, type(exc).__name__)
            return default

    # -- server resources (/config resources) ----------------------------------------------

    async def local_resources(self, guild_id: int) -> list[LocalResourceRow]:
        """Return the server's own resources."""
        return await self.repo.local_resources(guild_id)

    async def add_local_resource(self, guild_id: int, country: str, name: str, contact: str) -> LocalResourceRow:
        """Add (or update, same country and name) a resource shown with `/crisis` in this server."""
        code = parse_country_option(country)
        clean_name = clean_local_name(name)
        added = await self.repo.add_local_resource(guild_id, code, clean_name, clean_contact(contact, code),
                                                   self.clock.now(), limit=MAX_LOCAL_RESOURCES)
        if added is None:
            raise InvalidInputError(
                f"This server already has {MAX_LOCAL_RESOURCES} resources of its own; remove one first "
                "(`/config resources remove`). Short lists are easier to use on a bad day.")
        return added

    async def remove_local_resource(self, guild_id: int, which: str) -> LocalResourceRow:
        """Remove a server resource chosen by id (from autocomplete) or by name."""
        rows = await self.repo.local_resources(guild_id)
        key = which.strip()
        matches = [r for r in rows if str(r.resource_id) == key] or [
            r for r in rows if r.name.casefold() == key.casefold()]
        if not matches:
            names = ", ".join(f"**{escape_markup(r.name)}** ({r.country})" for r in rows) or "none yet"
            raise NotFoundError(f"I couldn't find that resource. This server's resources: {names}.")
        if len(matches) > 1:
            raise InvalidInputError("More than one country has a resource with that name; pick one from the list as you type.")
        await self.repo.remove_local_resource(guild_id, matches[0].resource_id)
        return matches[0]

    # -- passive detection --------------------------------------------------------------

    async def watches(self, guild_id: int) -> bool:
        """Tell whether passive detection is on in a server (cached; updated on every change)."""
        if not self.config.crisis.detection_intent:
            return False
        if self._watching is None:
            rows = await self.db.fetch_all(
                "SELECT guild_id FROM guilds WHERE crisis_detection = 1 AND left_at IS NULL")
            self._watching = {r["guild_id"] for r in rows}
        return guild_id in self._watching

    async def on_guild_change(self, guild: GuildSettings) -> None:
        """Keep the set of watched servers current after `/config crisis`."""
        if self._watching is None:
            return
        if guild.crisis_detection and guild.left_at is None:
            self._watching.add(guild.guild_id)
        else:
            self._watching.discard(guild.guild_id)

    def detect(self, text: str) -> Detection:
        """Run the phrase rules on one message (pure CPU, in memory)."""
        return self.detector.detect(text)

    @property
    def detector(self) -> Detector:
        """The compiled phrase rules (compiled on first use where detection was not expected to run)."""
        if self._detector is None:
            self._detector = load_detector(self._phrases)
        return self._detector

    def measured(self) -> Measured | None:
        """How detection did on held-out messages, as the rule file states it (without compiling the rules)."""
        from bot.domain.crisis.detection import measured_from_file  # see _load_detector

        return measured_from_file(self._phrases)

    def _seen_before(self, message_id: int) -> bool:
        if message_id in self._recent:
            return True
        self._recent[message_id] = None
        if len(self._recent) > 4096:
            self._recent.popitem(last=False)
        return False

    async def handle_detection(self, seen: SeenMessage, detection: Detection) -> DetectionResult:
        """Alert the moderators and offer the member resources, as SPEC §5 says for the tier and path."""
        if detection.tier <= 0 or detection.path is None or detection.rule_id is None:
            return DetectionResult(DetectionAction.NONE)
        guild = await self.guilds.get(seen.guild_id)
        if guild is None or not guild.crisis_detection or guild.left_at is not None:
            return DetectionResult(DetectionAction.NONE)
        if guild.alerts_channel_id is None:
            log.warning("crisis detection matched in guild %s but no alerts channel is set", seen.guild_id)
            return DetectionResult(DetectionAction.NO_ALERT_CHANNEL)
        if seen.channel_id == guild.alerts_channel_id:
            return DetectionResult(DetectionAction.NONE)  # moderators talking about an alert
        if self._seen_before(seen.message_id):
            return DetectionResult(DetectionAction.DUPLICATE)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            if await crisis_db.alert_for_message_in(conn, seen.guild_id, seen.message_id) is not None:
                return DetectionResult(DetectionAction.DUPLICATE)
            member = await touch_in(conn, seen.guild_id, seen.author_id, now, active=False)
            recent = await crisis_db.open_alert_to_merge_in(
                conn, member.member_id, now - MERGE_WINDOW[detection.tier], detection.path.value, detection.tier)
            if recent is not None:
                await crisis_db.bump_repeat_in(conn, recent.alert_id, now)
            else:
                result = await self._raise_in(conn, seen, detection, guild, member, now)
        if recent is not None:
            log.info("crisis alert %s: one more matching message in guild %s", recent.alert_id, seen.guild_id)
            await self.refresh_alert(recent.alert_id)
            return DetectionResult(DetectionAction.MERGED, recent.alert_id)
        self.metrics.crisis_alert_raised(AlertSource.DETECTION.value, detection.tier)
        log.info("crisis alert %s raised in guild %s (tier %d, path %s, rule %s, dm %s)", result.alert_id,
                 seen.guild_id, detection.tier, detection.path.value, detection.rule_id, result.dm_status)
        # At once, the moderators first: not after whatever the outbox is sending (a fan-out of
        # prompts or reminders can take minutes).
        await self.outbox.send_now(result.outbox_keys)
        return result

    async def _raise_in(self, conn: aiosqlite.Connection, seen: SeenMessage, detection: Detection,
                        guild: GuildSettings, member: MemberSettings, now: datetime) -> DetectionResult:
        """Record a new alert and queue it (and the member's DM, if one is due) in the caller's transaction."""
        from bot.domain.crisis.detection import RiskPath  # loaded with the detection in hand

        assert detection.path is not None and guild.alerts_channel_id is not None
        prior = await crisis_db.count_alerts_in(conn, member.member_id, now - PRIOR_WINDOW)
        last_dm = await crisis_db.last_dm_at_in(conn, member.member_id)
        dm_status = self._dm_decision(detection, guild, member.crisis_replies, last_dm, now)
        path = detection.path
        pinged = (guild.alerts_role_id is not None and detection.tier >= 3 and path is not RiskPath.ABUSE
                  and (path is RiskPath.SELF or detection.need is Need.OVERDOSE))
        alert_id = await crisis_db.insert_alert_in(conn, NewAlert(
            guild_id=seen.guild_id, member_id=member.member_id, source=AlertSource.DETECTION,
            channel_id=seen.channel_id, message_id=seen.message_id, tier=detection.tier, path=path.value,
            need=detection.need.value, rule_id=detection.rule_id, ruleset_version=detection.ruleset_version,
            modifiers=safe_modifiers(detection.modifiers, detection.concepts), lang=seen.lang.value, pinged=pinged,
            prior_alerts=prior, dm_status=dm_status, alert_channel_id=guild.alerts_channel_id), now)
        alert = await crisis_db.get_alert_in(conn, alert_id)
        assert alert is not None
        # The keys name the message, so a replay or a restart can never queue either twice;
        # handle_detection sends them at once, the alert first.
        keys = [f"crisis:alert:{alert_id}:{seen.message_id}"]
        await enqueue_in(conn, NewOutboxItem(
            dedupe_key=keys[0], kind="crisis.alert", target="channel",
            target_id=guild.alerts_channel_id, message=render_alert(alert, self.templates, guild.alerts_role_id),
            guild_id=seen.guild_id, member_id=member.member_id), not_before=now, now=now)
        if dm_status is DmStatus.PENDING:
            nudge_ok = guild.crisis_public_nudge and await self._nudge_allowed(conn, seen.channel_id, now)
            region = member.region or guild.region or self.config.defaults.region or None
            keys.append(f"crisis:dm:{alert_id}:{seen.message_id}")
            await enqueue_in(conn, NewOutboxItem(
                dedupe_key=keys[1], kind="crisis.dm", target="dm",
                target_id=seen.author_id, message=self._dm_message(detection, region, seen, nudge_ok),
                guild_id=seen.guild_id, member_id=member.member_id), not_before=now, now=now)
        return DetectionResult(DetectionAction.ALERTED, alert_id, dm_status, pinged, tuple(keys))

    @staticmethod
    def _dm_decision(detection: Detection, guild: GuildSettings, replies_on: bool, last_dm: datetime | None,
                     now: datetime) -> DmStatus:
        key = template_for(detection.tier, detection.path.value if detection.path else "", detection.need.value)
        if key is None or (detection.tier == 1 and not guild.crisis_tier1_replies):
            return DmStatus.NOT_OFFERED
        if not replies_on:
            return DmStatus.OPTED_OUT
        window = TIER3_DEDUPE if detection.tier >= 3 else DM_COOLDOWN
        if last_dm is not None and now - last_dm < window:
            return DmStatus.COOLDOWN
        return DmStatus.PENDING

    @staticmethod
    async def _nudge_allowed(conn: aiosqlite.Connection, channel_id: int, now: datetime) -> bool:
        last = await crisis_db.last_nudge_at_in(conn, channel_id)
        return last is None or now - last >= NUDGE_SPACING

    def _dm_message(self, detection: Detection, region: str | None, seen: SeenMessage,
                    nudge_ok: bool) -> OutgoingMessage:
        from bot.domain.crisis.detection import RiskPath  # loaded with the detection in hand

        key = template_for(detection.tier, detection.path.value if detection.path else "", detection.need.value)
        assert key is not None
        need = detection.need if detection.path is RiskPath.SELF or detection.need is Need.OVERDOSE else Need.GENERAL
        selection = self.directory.select(region, need=need)
        dm = resources_message(selection, self.templates, key, seen.lang, server=seen.guild_name)
        if not nudge_ok:
            return dm
        nudge = OutgoingMessage(self.templates.render(
            TemplateKey.PUBLIC_NUDGE, TemplateFields(server=seen.guild_name, emergency="", resources=""), seen.lang))
        return replace(dm, fallback_channel_id=seen.channel_id, fallback=nudge)

    # -- delivery outcomes --------------------------------------------------------------

    def register_delivery_hooks(self) -> None:
        """Record what happened to alerts and DMs, and show it on the alert."""
        self.outbox.on_result("crisis.alert", self._on_alert_result)
        self.outbox.on_result("crisis.dm", self._on_dm_result)
        # Crisis help is always offered: a closed-DM mark from a refused reminder or nudge
        # must not stop it (a refusal falls back to the public nudge, if allowed).
        self.outbox.always_attempt("crisis.dm")

    @staticmethod
    def _alert_id(item: OutboxItem) -> int:
        return int(item.dedupe_key.split(":")[2])

    async def _on_alert_result(self, item: OutboxItem, result: SendResult) -> None:
        alert_id = self._alert_id(item)
        if result.status is SendStatus.SENT and result.message_id is not None:
            # The queued rendering is the alert as recorded; the DM may have finished first
            # (the alert waited for a retry), and a burst may have folded in: show what changed.
            await self.repo.set_alert_message(alert_id, result.message_id, shown_version=FIRST_VERSION)
            await self.refresh_alert(alert_id)
        elif result.status is not SendStatus.TRANSIENT:
            log.warning("crisis alert %s could not be posted in channel %s: %s", alert_id, item.target_id,
                        result.status.value)

    async def _on_dm_result(self, item: OutboxItem, result: SendResult) -> None:
        alert_id = self._alert_id(item)
        if result.status is SendStatus.SENT:
            status = DmStatus.SENT
        elif result.status is SendStatus.TRANSIENT and item.attempts + 1 < MAX_ATTEMPTS:
            return  # the outbox retries it; the alert keeps saying "sending"
        elif result.status is SendStatus.DM_CLOSED and \
                await self.outbox.outbox.status_of(item.dedupe_key + ":fallback") == "sent":
            status = DmStatus.NUDGED
        else:
            status = DmStatus.UNDELIVERABLE
        await self.repo.set_dm_status(alert_id, status, self.clock.now())
        log.info("crisis alert %s: member DM %s", alert_id, status.value)
        await self.refresh_alert(alert_id)

    async def refresh_alert(self, alert_id: int) -> None:
        """Show an alert's current state on its posted message (best effort)."""
        await self.show_alert(alert_id)

    async def show_alert(self, alert_id: int, editor: AlertEditor | None = None, *,
                         posted: tuple[int, int] | None = None) -> bool:
        """Edit the posted alert to show its newest state, unless it shows that already; return whether it did.

        Edits of one alert take turns, and each reads the alert only once it is its turn, so
        an edit rendered from an older read can never land after (and over) a newer one —
        a refresh waiting out a rate limit does not undo a moderator's "Resolved". The
        version makes the turn-taking cheap: an edit finding its version shown skips the request.
        `editor` defaults to editing the message by id; a button press passes its own
        interaction's, and where the alert is (`posted`: channel id, message id), so the
        moderator's click is answered by the same edit even if the id was never stored
        (a restart right after posting).
        """
        editor = editor or self.edit_alert
        async with self._edit_turns.turn(alert_id):
            alert = await self.repo.get(alert_id)
            if alert is None or editor is None or alert.version <= alert.shown_version:
                return False
            if posted is not None and alert.alert_message_id is None:
                await self.repo.set_alert_message(alert_id, posted[1], shown_version=alert.shown_version)
            where = posted or (alert.alert_channel_id, alert.alert_message_id)
            if where[0] is None or where[1] is None:
                return False
            try:
                await editor(where[0], where[1], render_alert(alert, self.templates))
            except Exception as exc:  # the alert itself is already posted; an edit is a nicety
                log.warning("could not update crisis alert %s: %s", alert_id, type(exc).__name__)
                return False
            await self.repo.mark_shown(alert_id, alert.version)
            return True

    # -- /alertmods ---------------------------------------------------------------------

    async def alert_moderators(self, guild_id: int, channel_id: int, user_id: int, note: str | None,
                               lang: Language = Language.EN) -> RequestResult:
        """Post the member's request in the alert channel; the note goes to Discord only, never to the database."""
        guild = await self.guilds.ensure(guild_id, self.clock.now())
        if guild.alerts_channel_id is None:
            return RequestResult(RequestStatus.NO_CHANNEL)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            member = await touch_in(conn, guild_id, user_id, now)  # a command: the member used the bot
            # Checked and recorded under the write lock, so a double tap cannot pass twice.
            last = await crisis_db.last_request_at_in(conn, member.member_id)
            if last is not None and now - last < REQUEST_COOLDOWN:
                return RequestResult(RequestStatus.TOO_SOON, last)
            prior = await crisis_db.count_alerts_in(conn, member.member_id, now - PRIOR_WINDOW)
            alert_id = await crisis_db.insert_alert_in(conn, NewAlert(
                guild_id=guild_id, member_id=member.member_id, source=AlertSource.REQUEST, channel_id=channel_id,
                message_id=None, tier=0, path=None, need=Need.GENERAL.value, rule_id=None, ruleset_version=None,
                modifiers=(), lang=lang.value, pinged=False, prior_alerts=prior, dm_status=DmStatus.NOT_OFFERED,
                alert_channel_id=guild.alerts_channel_id), now)
            alert = await crisis_db.get_alert_in(conn, alert_id)
        assert alert is not None
        clean = (note or "").strip()[:MAX_NOTE] or None
        # Sent directly, not through the outbox: the outbox stores payloads, and the note
        # must not be stored. The nonce still makes a retried request post once.
        result = await self.notifier.send_channel(
            guild.alerts_channel_id, render_alert(alert, self.templates, note=clean),
            nonce=nonce_for(f"crisis:request:{alert_id}:{alert.created_at.isoformat()}"))
        if not result.ok or result.message_id is None:
            log.warning("alertmods request %s could not be posted in guild %s: %s", alert_id, guild_id,
                        result.status.value)
            await self.repo.delete(alert_id)
            return RequestResult(RequestStatus.UNDELIVERED)
        await self.repo.set_alert_message(alert_id, result.message_id, shown_version=alert.version)
        self.metrics.crisis_alert_raised(AlertSource.REQUEST.value, alert.tier)
        log.info("alertmods request %s posted in guild %s", alert_id, guild_id)
        return RequestResult(RequestStatus.SENT)

    # -- alert buttons ------------------------------------------------------------------

    async def act(self, guild_id: int, alert_id: int, actor_user_id: int, action: AlertAction, *,
                  manage_guild: bool, role_ids: Sequence[int]) -> ActResult:
        """Record a moderator's acknowledgement, resolution or false-alarm mark on an alert."""
        alert = await self.repo.get(alert_id)
        if alert is None or alert.guild_id != guild_id:
            raise NotFoundError("I can't find that alert any more (it may have been deleted).")
        guild = await self.guilds.get(guild_id)
        role_id = guild.alerts_role_id if guild else None
        if not (manage_guild or (role_id is not None and role_id in role_ids)):
            raise PermissionDeniedError(
                "Thanks for wanting to help. Only moderators (Manage Server) or the responder role can update "
                "alerts, so nothing was changed. If you're worried about someone, `/alertmods` reaches the "
                "moderators privately.")
        outcome = await self.repo.act(alert_id, action, actor_user_id, self.clock.now())
        if outcome is None:
            raise NotFoundError("I can't find that alert any more (it may have been deleted).")
        updated, changed = outcome
        if changed:
            log.info("crisis alert %s: %s by user %s", alert_id, action.value, actor_user_id)
            # The first action on an alert: an acknowledgement (only an open one changes), or a
            # close without one. Judged from the updated row, not the read above, which a
            # second moderator may have overtaken.
            if action is AlertAction.ACK or updated.acknowledged_at is None:
                acted = (updated.acknowledged_at if action is AlertAction.ACK else updated.resolved_at) \
                    or self.clock.now()
                self.metrics.crisis_alert_answered(updated.source.value, updated.tier,
                                                   (acted - updated.created_at).total_seconds())
        return ActResult(updated, changed, render_alert(updated, self.templates))
