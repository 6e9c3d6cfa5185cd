"""Coping tools as pure values: the relapse-prevention plan, urges, HALT and the coping texts.

The texts members read while surfing an urge (the HALT suggestions, the urge-surfing steps,
the default coping steps) are data, not code: `data/coping.toml`, which a server can replace
through `[bot] data_dir`. `parse_coping_texts` validates that file's contents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

STRENGTH_MIN, STRENGTH_MAX = 0, 10
MINUTES_MIN, MINUTES_MAX, MINUTES_DEFAULT = 5, 60, 15
# A strength this high, before or after, also offers /crisis (gently).
STRONG_URGE = 8
PLAN_PART_MAX = 500
TEXT_MAX = 400  # one suggestion or step in coping.toml: several fit in one Discord message


class PlanPart(StrEnum):
    """The parts of a relapse-prevention plan, in the order they are shown (modal text input ids)."""

    WARNING_SIGNS = "warning_signs"
    TRIGGERS = "triggers"
    COPING = "coping"
    PEOPLE = "people"
    REASONS = "reasons"


@dataclass(frozen=True, slots=True)
class RelapsePlan:
    """A member's private plan; a part left empty is None."""

    member_id: int
    warning_signs: str | None
    triggers: str | None
    coping: str | None
    people: str | None
    reasons: str | None
    updated_at: datetime

    def part(self, which: PlanPart) -> str | None:
        """Return one part's text (None if left empty)."""
        text: str | None = getattr(self, which.value)
        return text

    def filled(self) -> list[tuple[PlanPart, str]]:
        """Return the parts the member wrote, in plan order."""
        return [(p, text) for p in PlanPart if (text := self.part(p))]


def clean_plan_part(value: str | None) -> str | None:
    """Return a part as typed, keeping its lines but no control or invisible characters; empty means None."""
    if value is None:
        return None
    text = value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    # It is shown back to the member: characters that would not print (controls, zero-width
    # marks) are dropped rather than echoed.
    text = "".join(ch for ch in text if ch == "\n" or ch.isprintable()).strip()
    return text or None


class Halt(StrEnum):
    """Hungry, angry, lonely, tired: the letter is the last part of the button's custom id."""

    HUNGRY = "h"
    ANGRY = "a"
    LONELY = "l"
    TIRED = "t"


HALT_KEYS = {Halt.HUNGRY: "hungry", Halt.ANGRY: "angry", Halt.LONELY: "lonely", Halt.TIRED: "tired"}


@dataclass(frozen=True, slots=True)
class HaltAdvice:
    """What one HALT button answers."""

    need: Halt
    label: str
    emoji: str
    intro: str
    suggestions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CopingTexts:
    """The reviewed texts `/urge` and its buttons show (from `data/coping.toml`)."""

    version: int
    review_status: str
    sources: tuple[str, ...]
    surf_intro: str
    surf_steps: tuple[str, ...]
    default_coping: tuple[str, ...]
    halt_question: str
    halt: tuple[HaltAdvice, ...]

    def advice(self, need: Halt) -> HaltAdvice:
        """Return the suggestions for one HALT need."""
        return next(a for a in self.halt if a.need is need)


def _name(where: str, key: str) -> str:
    return f"{where}.{key}" if where else f"`{key}`"


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > TEXT_MAX * 2:
        raise ValueError(f"{_name(where, key)} must be text of 1-{TEXT_MAX * 2} characters")
    return value.strip()


def _texts(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not value:
        raise ValueError(f"{_name(where, key)} must be a non-empty list of texts")
    cleaned = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or len(item.strip()) > TEXT_MAX:
            raise ValueError(f"{_name(where, key)}[{index}] must be text of 1-{TEXT_MAX} characters")
        cleaned.append(item.strip())
    if len(cleaned) > 8:
        raise ValueError(f"{_name(where, key)} has {len(cleaned)} entries; keep it to 8 so it reads on a bad day")
    return tuple(cleaned)


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"needs a [{key}] table")
    return value


def parse_coping_texts(data: Mapping[str, Any]) -> CopingTexts:
    """Validate the parsed contents of `coping.toml`; raise ValueError naming the first problem."""
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError("needs `version`, a whole number from 1")
    sources = _texts(data, "sources", "")
    surf = _table(data, "urge")
    surf_intro, surf_steps = _text(surf, "intro", "[urge]"), _texts(surf, "steps", "[urge]")
    default_coping = _texts(_table(data, "defaults"), "coping", "[defaults]")
    halt_table = _table(data, "halt")
    advice = []
    for need, key in HALT_KEYS.items():
        entry = halt_table.get(key)
        if not isinstance(entry, dict):
            raise ValueError(f"needs a [halt.{key}] table")
        emoji = entry.get("emoji")
        if not isinstance(emoji, str) or not 1 <= len(emoji) <= 8:
            raise ValueError(f"[halt.{key}].emoji must be one emoji")
        label = _text(entry, "label", f"[halt.{key}]")
        if len(label) > 40:
            raise ValueError(f"[halt.{key}].label must be at most 40 characters (it is a button)")
        advice.append(HaltAdvice(need=need, label=label, emoji=emoji, intro=_text(entry, "intro", f"[halt.{key}]"),
                                 suggestions=_texts(entry, "suggestions", f"[halt.{key}]")))
    return CopingTexts(
        version=version,
        review_status=str(data.get("review_status", "draft")),
        sources=sources,
        surf_intro=surf_intro,
        surf_steps=surf_steps,
        default_coping=default_coping,
        halt_question=_text(halt_table, "question", "[halt]"),
        halt=tuple(advice),
    )


# -- urges ---------------------------------------------------------------------------------

class CheckBack(StrEnum):
    """What became of an urge's check-back DM."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    DM_CLOSED = "dm_closed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Urge:
    """One `/urge`: how strong it was, when to check back, and how strong it was then."""

    urge_id: int
    member_id: int
    strength_before: int | None
    strength_after: int | None
    minutes: int
    created_at: datetime
    checkback: CheckBack
    checkback_due_at: datetime | None
    answered_at: datetime | None


def checkback_due(now: datetime, minutes: int) -> datetime:
    """Return when to check back: `minutes` from now, at the start of the next whole minute.

    The member is shown that clock time (say 21:19), and the scheduler looks for due work
    at second 0 of every minute, so the DM comes at the minute the member was told.
    """
    due = now + timedelta(minutes=minutes)
    whole = due.replace(second=0, microsecond=0)
    return whole if whole == due else whole + timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class UrgeSummary:
    """Urges surfed in a period, and how their strength changed where the member said both."""

    surfed: int
    rated: int                   # urges with a strength before and after
    average_drop: float | None   # mean of (before - after) over those; None without any


def summarise_urges(urges: Iterable[tuple[int | None, int | None]]) -> UrgeSummary:
    """Summarise (strength before, strength after) pairs, one per urge."""
    pairs = list(urges)
    drops = [before - after for before, after in pairs if before is not None and after is not None]
    return UrgeSummary(surfed=len(pairs), rated=len(drops),
                       average_drop=sum(drops) / len(drops) if drops else None)


def strong(*strengths: int | None) -> bool:
    """Tell whether any of the strengths is high enough to offer `/crisis`."""
    return any(s is not None and s >= STRONG_URGE for s in strengths)


def valid_strength(value: object) -> bool:
    """Tell whether a value is a strength from 0 to 10 (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and STRENGTH_MIN <= value <= STRENGTH_MAX

