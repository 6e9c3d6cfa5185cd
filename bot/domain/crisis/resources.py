"""Crisis resource directory: load the vetted data file and pick what to show a member."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "Confidence",
    "CountryResources",
    "DataFreshness",
    "EmergencyNumber",
    "Fallback",
    "HelpLine",
    "LineKind",
    "LocalResource",
    "MAX_PRIMARY_ITEMS",
    "MAX_DATA_AGE",
    "Need",
    "ResourceDataError",
    "ResourceDirectory",
    "ResourceItem",
    "ResourceSelection",
    "STALE_NUMBERS",
    "StaleEntry",
    "data_freshness",
    "find_stale_numbers",
    "select_for_reply",
    "stale_entries",
    "written_number",
]

# The guidance: at most three items before "more options".
MAX_PRIMARY_ITEMS = 3
# The guidance: data older than this must be re-checked by a human.
MAX_DATA_AGE = timedelta(days=90)


# Numbers that still circulate in old lists but must never be shown (docs/reference/crisis_guidance.md).
# Digits only; matched against whole numbers, so "*4141" is not "141".
STALE_NUMBERS: Mapping[str, str] = {
    "18002738255": "the old US Lifeline number; use 988",
    "8002738255": "the old US Lifeline number; use 988",
    "18334564566": "the old Talk Suicide Canada number; use 988",
    "141": "the old Brazil CVV number; use 188",
    "08457909090": "the old UK Samaritans number; use 116 123",
    "0800776600": "the old FRANK number; use 0300 123 6600",
    "1393": "the old Korean suicide line; use 109",
    "1850609090": "the old Samaritans Ireland number; use 116 123",
}
_WRITTEN_NUMBER = re.compile(r"\+?\d(?:[\d \-.()]*\d)?")
# Shorter runs are short codes, years or opening hours; six digits or more can be dialled.
_DIALABLE_DIGITS = 6


def find_stale_numbers(text: str) -> list[str]:
    """Return each known-stale number written in `text`, with what replaced it."""
    found = []
    for written in _WRITTEN_NUMBER.findall(text):
        digits = re.sub(r"\D", "", written)
        if digits in STALE_NUMBERS:
            found.append(f"{written.strip()} ({STALE_NUMBERS[digits]})")
    return found


def written_number(text: str) -> str | None:
    """Return the first phone number written in free text (six digits or more), if any."""
    for written in _WRITTEN_NUMBER.findall(text):
        if len(re.sub(r"\D", "", written)) >= _DIALABLE_DIGITS:
            return written.strip()
    return None


class ResourceDataError(ValueError):
    """The resource data file is malformed; the message names the bad entry."""


class Confidence(StrEnum):
    """How well a line's facts are sourced (see the reference file's header)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class LineKind(StrEnum):
    """What a line is for."""

    SUICIDE = "suicide"
    MENTAL_HEALTH = "mental_health"
    SUBSTANCE_USE = "substance_use"


class Need(StrEnum):
    """Why resources are being shown; decides their order."""

    GENERAL = "general"
    IMMINENT = "imminent"
    OVERDOSE = "overdose"
    RELAPSE = "relapse"


@dataclass(frozen=True, slots=True)
class HelpLine:
    """One vetted helpline of a country."""

    name: str
    phone: str
    sms: str
    url: str
    hours: str
    kind: LineKind
    also_kinds: tuple[LineKind, ...]
    languages: str
    notes: str
    open_24_7: bool
    maintainer_notes: str
    source: str
    source_date: str
    confidence: Confidence
    verified_for_members: bool
    last_checked: date

    @property
    def kinds(self) -> frozenset[LineKind]:
        """Return every need this line serves."""
        return frozenset((self.kind, *self.also_kinds))

    @property
    def offers_text(self) -> bool:
        """Return whether the line can be reached by text message or messaging app."""
        return bool(self.sms.strip())

    @property
    def offers_chat(self) -> bool:
        """Return whether the data mentions an online chat for this line."""
        # No structured field in the reference; "chat" in the facts is the only evidence.
        return any("chat" in s.casefold() for s in (self.url, self.hours, self.notes))

    @property
    def contact(self) -> str:
        """Return the first way to reach the line: phone, else text, else web."""
        return self.phone or self.sms or self.url

    @property
    def member_visible_text(self) -> tuple[str, ...]:
        """Return every field that may be rendered to a member."""
        return (self.name, self.phone, self.sms, self.url, self.hours, self.languages, self.notes)


@dataclass(frozen=True, slots=True)
class EmergencyNumber:
    """A country's emergency number: `dial` to show first, `text` with the alternatives."""

    dial: str
    text: str


@dataclass(frozen=True, slots=True)
class LocalResource:
    """A resource a server's moderators added with `/config resources add`."""

    name: str
    contact: str


@dataclass(frozen=True, slots=True)
class Fallback:
    """A worldwide directory for members whose country is unknown or not covered."""

    name: str
    url: str
    notes: str
    source: str
    last_checked: date


@dataclass(frozen=True, slots=True)
class CountryResources:
    """The emergency number and helplines of one country."""

    code: str
    name: str
    aliases: tuple[str, ...]
    emergency: EmergencyNumber
    lines: tuple[HelpLine, ...]

    @property
    def member_lines(self) -> tuple[HelpLine, ...]:
        """Return the lines a member may be shown (verified ones only)."""
        return tuple(line for line in self.lines if line.verified_for_members)


ResourceItem = EmergencyNumber | HelpLine | LocalResource | Fallback


@dataclass(frozen=True, slots=True)
class ResourceSelection:
    """What to show: up to three `primary` items in order, then `more` options."""

    need: Need
    country: CountryResources | None
    primary: tuple[ResourceItem, ...]
    more: tuple[ResourceItem, ...]
    # True when we do not know the number: say "call your local emergency number".
    call_local_emergency: bool

    @property
    def items(self) -> tuple[ResourceItem, ...]:
        """Return primary then more, in display order."""
        return self.primary + self.more


@dataclass(frozen=True, slots=True)
class StaleEntry:
    """A piece of data whose `last_checked` is older than allowed."""

    where: str
    last_checked: date
    source: str


def _fold(text: str) -> str:
    """Return `text` case-folded, accent-free, with punctuation dropped (for lookups)."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^\w\s]", "", plain).split())


# ---------------------------------------------------------------- loading


_COUNTRY_KEYS = {"code", "name", "aliases", "emergency", "dial", "line"}
_LINE_KEYS = {
    "name", "phone", "sms", "url", "hours", "kind", "also_kinds", "languages", "notes",
    "open_24_7", "maintainer_notes", "source", "source_date", "confidence",
    "verified_for_members", "last_checked",
}
_FALLBACK_KEYS = {"name", "url", "notes", "source", "last_checked"}
_TOP_KEYS = {"schema_version", "last_checked", "compiled_from", "fallback", "country"}
_SUPPORTED_SCHEMA = 1


class _Reader:
    """Typed access to one TOML table, raising errors that name the entry."""

    def __init__(self, table: Any, where: str, allowed: set[str]) -> None:
        if not isinstance(table, dict):
            raise ResourceDataError(f"{where}: expected a table")
        unknown = set(table) - allowed
        if unknown:
            raise ResourceDataError(f"{where}: unknown key(s) {sorted(unknown)}")
        self.table: dict[str, Any] = table
        self.where = where

    def text(self, key: str, *, required: bool = True, nonempty: bool = False) -> str:
        if key not in self.table:
            if required:
                raise ResourceDataError(f"{self.where}: missing key {key!r}")
            return ""
        value = self.table[key]
        if not isinstance(value, str):
            raise ResourceDataError(f"{self.where}: {key!r} must be a string, not {value!r}")
        if nonempty and not value.strip():
            raise ResourceDataError(f"{self.where}: {key!r} must not be empty")
        return value

    def flag(self, key: str) -> bool:
        value = self.table.get(key)
        if not isinstance(value, bool):
            raise ResourceDataError(f"{self.where}: {key!r} must be true or false")
        return value

    def day(self, key: str) -> date:
        value = self.table.get(key)
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise ResourceDataError(f"{self.where}: {key!r} must be a YYYY-MM-DD date, not {value!r}")

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ResourceDataError(f"{self.where}: {key!r} must be a list of strings")
        return tuple(value)


_E = TypeVar("_E", bound=StrEnum)


def _enum(cls: type[_E], value: str, where: str, key: str) -> _E:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise ResourceDataError(f"{where}: {key!r} is {value!r}; expected one of {allowed}") from None


def _parse_line(table: Any, where: str) -> HelpLine:
    if isinstance(table, dict) and isinstance(table.get("name"), str):
        where = f"{where} ({table['name']!r})"
    r = _Reader(table, where, _LINE_KEYS)
    name = r.text("name", nonempty=True)
    line = HelpLine(
        name=name,
        phone=r.text("phone"),
        sms=r.text("sms"),
        url=r.text("url"),
        hours=r.text("hours", nonempty=True),
        kind=_enum(LineKind, r.text("kind"), where, "kind"),
        also_kinds=tuple(_enum(LineKind, k, where, "also_kinds") for k in r.texts("also_kinds")),
        languages=r.text("languages", required=False),
        notes=r.text("notes", required=False),
        open_24_7=r.flag("open_24_7"),
        maintainer_notes=r.text("maintainer_notes", required=False),
        source=r.text("source", nonempty=True),
        source_date=r.text("source_date", nonempty=True),
        confidence=_enum(Confidence, r.text("confidence"), where, "confidence"),
        verified_for_members=r.flag("verified_for_members"),
        last_checked=r.day("last_checked"),
    )
    if not (line.phone or line.sms or line.url):
        raise ResourceDataError(f"{where}: needs at least one of phone, sms, url")
    if line.confidence is Confidence.LOW and line.verified_for_members:
        raise ResourceDataError(
            f"{where}: confidence is 'low' but verified_for_members is true; "
            "re-check the line with its operator and raise its confidence first"
        )
    if line.open_24_7 and "24/7" not in line.hours:
        raise ResourceDataError(f"{where}: open_24_7 is true but hours {line.hours!r} say otherwise")
    url_fields = (line.url,) if line.url else ()
    for url in url_fields:
        if not url.startswith(("https://", "http://")):
            raise ResourceDataError(f"{where}: url {url!r} must start with https://")
    return line


def _parse_country(table: Any, index: int) -> CountryResources:
    where = f"country[{index}]"
    r = _Reader(table, where, _COUNTRY_KEYS)
    code = r.text("code")
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise ResourceDataError(f"{where}: code {code!r} must be an ISO 3166-1 alpha-2 code")
    where = f"{where} ({code})"
    r.where = where
    name = r.text("name", nonempty=True)
    emergency_text = r.text("emergency", nonempty=True)
    dial = r.text("dial", nonempty=True)
    if not re.fullmatch(r"\d{2,6}", dial):
        raise ResourceDataError(f"{where}: dial {dial!r} must be the bare digits to call")
    if not re.search(rf"(?<!\d){re.escape(dial)}(?!\d)", emergency_text):
        raise ResourceDataError(f"{where}: dial {dial!r} does not appear in emergency text")
    raw_lines = table.get("line", [])
    if not isinstance(raw_lines, list) or not raw_lines:
        raise ResourceDataError(f"{where}: needs at least one [[country.line]]")
    lines = tuple(_parse_line(t, f"{where} line[{i}]") for i, t in enumerate(raw_lines))
    return CountryResources(
        code=code,
        name=name,
        aliases=r.texts("aliases"),
        emergency=EmergencyNumber(dial=dial, text=emergency_text),
        lines=lines,
    )


def _parse_fallback(table: Any, index: int) -> Fallback:
    r = _Reader(table, f"fallback[{index}]", _FALLBACK_KEYS)
    fb = Fallback(
        name=r.text("name", nonempty=True),
        url=r.text("url", nonempty=True),
        notes=r.text("notes", required=False),
        source=r.text("source", nonempty=True),
        last_checked=r.day("last_checked"),
    )
    if not fb.url.startswith("https://"):
        raise ResourceDataError(f"fallback[{index}] ({fb.name!r}): url must start with https://")
    return fb


# ---------------------------------------------------------------- directory


@dataclass(frozen=True, slots=True)
class ResourceDirectory:
    """Every country's resources, held in memory so crisis help never needs the database."""

    schema_version: int
    last_checked: date
    countries: tuple[CountryResources, ...]
    fallbacks: tuple[Fallback, ...]
    _index: Mapping[str, CountryResources] = field(repr=False, compare=False)

    @classmethod
    def load(cls, path: str | Path) -> ResourceDirectory:
        """Read and validate the data file at `path`."""
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ResourceDataError(f"{path}: not valid TOML: {exc}") from exc
        return cls.from_mapping(raw)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> ResourceDirectory:
        """Validate already-parsed data (the TOML document as a dict)."""
        top = _Reader(dict(raw), "top level", _TOP_KEYS)
        version = raw.get("schema_version")
        if version != _SUPPORTED_SCHEMA:
            raise ResourceDataError(
                f"top level: schema_version is {version!r}; this code reads {_SUPPORTED_SCHEMA}"
            )
        raw_countries = raw.get("country")
        if not isinstance(raw_countries, list) or not raw_countries:
            raise ResourceDataError("top level: needs at least one [[country]]")
        raw_fallbacks = raw.get("fallback")
        if not isinstance(raw_fallbacks, list) or not raw_fallbacks:
            raise ResourceDataError("top level: needs at least one [[fallback]]")
        countries = tuple(_parse_country(t, i) for i, t in enumerate(raw_countries))
        fallbacks = tuple(_parse_fallback(t, i) for i, t in enumerate(raw_fallbacks))

        index: dict[str, CountryResources] = {}
        for country in countries:
            keys = (country.code, country.name, *country.aliases)
            for key in keys:
                folded = _fold(key)
                other = index.get(folded)
                if other is not None and other is not country:
                    raise ResourceDataError(
                        f"country ({country.code}): name or alias {key!r} is already used by {other.code}"
                    )
                index[folded] = country
        return cls(
            schema_version=_SUPPORTED_SCHEMA,
            last_checked=top.day("last_checked"),
            countries=countries,
            fallbacks=fallbacks,
            _index=index,
        )

    def country(self, code_or_name: str) -> CountryResources | None:
        """Return the country for an alpha-2 code, a name or a common alias, or None."""
        return self._index.get(_fold(code_or_name))

    def search(self, prefix: str, limit: int = 25) -> list[CountryResources]:
        """Return countries whose code, name or alias starts with `prefix` (for autocomplete)."""
        needle = _fold(prefix)
        if not needle:
            return sorted(self.countries, key=lambda c: c.name)[:limit]
        ranked: list[tuple[int, str, CountryResources]] = []
        for country in self.countries:
            names = (country.name, *country.aliases)
            folded_names = [_fold(n) for n in names]
            if _fold(country.code) == needle:
                rank = 0
            elif any(n.startswith(needle) for n in folded_names):
                rank = 1
            elif any(w.startswith(needle) for n in folded_names for w in n.split()):
                rank = 2
            elif any(needle in n for n in folded_names):
                rank = 3
            else:
                continue
            ranked.append((rank, country.name, country))
        ranked.sort(key=lambda t: (t[0], t[1]))
        return [c for _, _, c in ranked[:limit]]

    def select(
        self,
        code_or_name: str | None,
        *,
        need: Need = Need.GENERAL,
        local: Sequence[LocalResource] = (),
    ) -> ResourceSelection:
        """Look up a country (None or unknown → worldwide) and select resources for it."""
        country = self.country(code_or_name) if code_or_name else None
        return select_for_reply(country, need=need, local=local, fallbacks=self.fallbacks)

    def stale_entries(self, today: date, max_age: timedelta = MAX_DATA_AGE) -> list[StaleEntry]:
        """Return every entry whose last check is older than `max_age` on `today`."""
        return stale_entries(self, today, max_age)


def stale_entries(
    directory: ResourceDirectory, today: date, max_age: timedelta = MAX_DATA_AGE
) -> list[StaleEntry]:
    """Return every entry of `directory` whose last check is older than `max_age` on `today`."""
    limit = today - max_age
    stale: list[StaleEntry] = []
    if directory.last_checked < limit:
        stale.append(StaleEntry("the whole file (top-level last_checked)", directory.last_checked, ""))
    for fb in directory.fallbacks:
        if fb.last_checked < limit:
            stale.append(StaleEntry(f"fallback {fb.name!r} ({fb.url})", fb.last_checked, fb.source))
    for country in directory.countries:
        for line in country.lines:
            if line.last_checked < limit:
                where = f"{country.code} {line.name!r} ({line.contact})"
                stale.append(StaleEntry(where, line.last_checked, line.source))
    return stale


@dataclass(frozen=True, slots=True)
class DataFreshness:
    """How old the resource data is on a given day (for start-up, `/config show` and `status`)."""

    last_checked: date  # the oldest `last_checked` of any entry
    today: date
    max_age: timedelta
    stale_entries: int  # entries checked longer than `max_age` ago

    @property
    def age(self) -> timedelta:
        """Return how long ago the oldest entry was checked."""
        return max(self.today - self.last_checked, timedelta(0))

    @property
    def stale(self) -> bool:
        """Return whether any entry is older than allowed, so a human must re-check it."""
        return self.age > self.max_age

    def describe(self) -> str:
        """Return one line for an operator or moderator, saying what to do when stale."""
        days = self.age.days
        when = "today" if days == 0 else f"{days} day{'' if days == 1 else 's'} ago"
        if not self.stale:
            return f"crisis numbers last checked {self.last_checked.isoformat()} ({when})"
        count = f"{self.stale_entries} entr{'y' if self.stale_entries == 1 else 'ies'}"
        return (f"crisis numbers last checked {self.last_checked.isoformat()} ({when}: older than "
                f"{self.max_age.days} days; {count} to re-check with their sources)")


def data_freshness(directory: ResourceDirectory, today: date, max_age: timedelta = MAX_DATA_AGE) -> DataFreshness:
    """Return how old `directory` is on `today` (pure: the caller's clock decides the day)."""
    dates = [directory.last_checked, *(fb.last_checked for fb in directory.fallbacks),
             *(line.last_checked for country in directory.countries for line in country.lines)]
    return DataFreshness(last_checked=min(dates), today=today, max_age=max_age,
                         stale_entries=len(stale_entries(directory, today, max_age)))


# ---------------------------------------------------------------- selection


def _pick(lines: Iterable[HelpLine], key: Any) -> HelpLine | None:
    ordered = sorted(enumerate(lines), key=lambda t: (*key(t[1]), t[0]))
    return ordered[0][1] if ordered else None


def _crisis_line(lines: Sequence[HelpLine]) -> HelpLine | None:
    """Return the best 24/7 crisis line (a suicide line first, then text/chat)."""
    candidates = [
        ln for ln in lines if ln.kinds & {LineKind.SUICIDE, LineKind.MENTAL_HEALTH}
    ]
    # Round the clock beats everything: a line that is closed at 3 a.m. fails the member
    # who needs it then. Then a dedicated suicide line (SPEC names Samaritans for GB, not
    # Shout), then one that takes texts or chat, then one that serves suicide at all.
    return _pick(
        candidates,
        lambda ln: (
            not ln.open_24_7,
            ln.kind is not LineKind.SUICIDE,
            not (ln.offers_text or ln.offers_chat),
            LineKind.SUICIDE not in ln.kinds,
        ),
    )


def _substance_line(lines: Sequence[HelpLine], exclude: HelpLine | None) -> HelpLine | None:
    """Return the best substance-use line other than `exclude`."""
    candidates = [ln for ln in lines if LineKind.SUBSTANCE_USE in ln.kinds and ln is not exclude]
    return _pick(
        candidates,
        lambda ln: (ln.kind is not LineKind.SUBSTANCE_USE, not ln.open_24_7),
    )


def select_for_reply(
    country: CountryResources | None,
    *,
    need: Need,
    local: Sequence[LocalResource] = (),
    fallbacks: Sequence[Fallback] = (),
) -> ResourceSelection:
    """Choose up to three resources in the order the guidance asks, plus "more options".

    Order of the three primary items, by `need`:

    - IMMINENT and OVERDOSE: emergency number, 24/7 crisis line, substance-use line. The
      guidance puts the emergency number first for plan, means, acting and overdose.
    - GENERAL (distress, ideation without a plan, and the `/crisis` command): 24/7 crisis
      line, emergency number, substance-use line. The guidance says "emergency number first
      only for plan, means, acting, or overdose", yet SPEC requires `/crisis` to contain it,
      so it stays in the top three, second.
    - RELAPSE (a slip or a craving): substance-use line, 24/7 crisis line, emergency number.
      A relapse is not a suicide crisis; recovery support comes first. The emergency number
      stays last because overdose risk is highest right after a period of abstinence.

    Only lines with `verified_for_members` are ever chosen. Unknown country (`None`): the
    worldwide `fallbacks` and `call_local_emergency`; a country without a verified crisis
    line gets the first fallback in the crisis line's place. Server-local resources go first in `more`, never displacing
    the vetted primary items (moderators' entries are not reviewed against sources).
    """
    local_items = tuple(local)
    if country is None:
        return ResourceSelection(
            need=need,
            country=None,
            primary=tuple(fallbacks[:1]),
            more=local_items + tuple(fallbacks[1:]),
            call_local_emergency=True,
        )

    lines = country.member_lines
    crisis = _crisis_line(lines)
    substance = _substance_line(lines, exclude=crisis)
    emergency = country.emergency
    # No verified crisis line (e.g. MY until a human re-checks Befrienders): the worldwide
    # directory takes its place rather than leaving the member with a number for police.
    talk: ResourceItem | None = crisis
    extra_fallbacks: tuple[Fallback, ...] = ()
    if crisis is None and fallbacks:
        talk, extra_fallbacks = fallbacks[0], tuple(fallbacks[1:])

    order: list[ResourceItem | None]
    if need in (Need.IMMINENT, Need.OVERDOSE):
        order = [emergency, talk, substance]
    elif need is Need.RELAPSE:
        order = [substance, talk, emergency]
    else:
        order = [talk, emergency, substance]
    primary = tuple(item for item in order if item is not None)[:MAX_PRIMARY_ITEMS]

    rest = tuple(ln for ln in lines if ln not in primary)
    return ResourceSelection(
        need=need,
        country=country,
        primary=primary,
        more=local_items + rest + extra_fallbacks,
        call_local_emergency=False,
    )
