"""Passive crisis detection: explainable, versioned phrase rules over normalised text."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

# The regex parser is private but has been stable since 3.11; it is only used at load time to
# derive prefilter literals, and any construct it does not recognise just disables the
# prefilter for that pattern (slower, never wrong).
from re import _constants as _sre  # type: ignore[attr-defined]
from re import _parser as _sre_parse  # type: ignore[attr-defined]
from typing import Any

from bot.domain.crisis.normalise import normalise
from bot.domain.crisis.resources import Need

__all__ = [
    "Detection",
    "Detector",
    "PhraseRule",
    "PhraseRulesError",
    "RiskKind",
    "RiskPath",
]


class PhraseRulesError(ValueError):
    """The phrase rule file is malformed; the message names the bad rule."""


class RiskPath(StrEnum):
    """Whose risk a message is about."""

    SELF = "self"
    OTHER = "other"
    ABUSE = "abuse"


class RiskKind(StrEnum):
    """What a rule detects; decides which modifiers may lower it."""

    IDEATION = "ideation"
    PASSIVE = "passive"
    DISTRESS = "distress"
    SELFHARM = "selfharm"
    MEANS = "means"
    PLAN = "plan"
    TIMING = "timing"
    ACT = "act"
    GOODBYE = "goodbye"
    OVERDOSE = "overdose"
    RELAPSE = "relapse"
    WORRY = "worry"
    ABUSE = "abuse"


# The guidance: protective negation never lowers means, plan or goodbye; nor do jokes.
_NEVER_LOWERED = frozenset(
    {RiskKind.MEANS, RiskKind.PLAN, RiskKind.TIMING, RiskKind.ACT, RiskKind.GOODBYE,
     RiskKind.OVERDOSE}
)
_TIMING_ESCALATES = frozenset({RiskKind.IDEATION, RiskKind.PASSIVE, RiskKind.WORRY})
_PATH_PRIORITY = {RiskPath.SELF: 0, RiskPath.OTHER: 1, RiskPath.ABUSE: 2}
_SENTENCE_END = re.compile(r"[.!?;\n]")
# A turn back to the present between a past-thought frame and a match ("I used to think
# I'd get better, but now I want to die").
_TURN = re.compile(r"\b(?:but|now|today|anymore|these days|again|pero|ahora|hoy)\b")


@dataclass(frozen=True, slots=True)
class PhraseRule:
    """One versioned rule: an id, a tier, whose risk, and regexes over normalised text."""

    id: str
    tier: int
    path: RiskPath
    kind: RiskKind
    lang: str
    patterns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Detection:
    """The outcome for one message: tier 0 means nothing to do."""

    tier: int
    path: RiskPath | None
    rule_id: str | None
    ruleset_version: str
    need: Need
    modifiers: tuple[str, ...] = ()
    matched: tuple[str, ...] = ()

    @property
    def explanation(self) -> str:
        """Return "rule X matched; modifiers Y" for moderators and false-alarm review."""
        if self.rule_id is None:
            return f"no rule matched (rules {self.ruleset_version})"
        mods = ", ".join(self.modifiers) if self.modifiers else "none"
        return f"rule {self.rule_id} matched; modifiers: {mods} (rules {self.ruleset_version})"


@dataclass(slots=True)
class _Hit:
    rule: PhraseRule
    start: int
    end: int
    tier: int
    path: RiskPath
    mods: list[str]


_BOUNDED = r"(?<![a-z0-9])(?:{})(?![a-z0-9])"


def _expand_macros(pattern: str, macros: Mapping[str, str], where: str) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in macros:
            raise PhraseRulesError(f"{where}: unknown macro {{{name}}}")
        return macros[name]

    # {name} with a letter first; regex counts like {0,40} are left alone.
    return re.sub(r"\{([a-z_][a-z0-9_]*)\}", sub, pattern)


def _compile(patterns: Sequence[str], macros: Mapping[str, str], where: str) -> re.Pattern[str]:
    """Compile patterns into one bounded alternation, naming the pattern that is broken."""
    parts = []
    for i, raw in enumerate(patterns):
        if not isinstance(raw, str) or not raw.strip():
            raise PhraseRulesError(f"{where}: pattern {i} must be a non-empty string")
        expanded = _expand_macros(raw, macros, where)
        try:
            groups = re.compile(expanded).groups
        except re.error as exc:
            raise PhraseRulesError(f"{where}: pattern {i} {raw!r} is not a valid regex: {exc}") from exc
        if groups:
            # Groups are not used; keeping patterns group-free keeps matching fast.
            raise PhraseRulesError(f"{where}: pattern {i} {raw!r} has a capturing group; use (?:...)")
        parts.append(_BOUNDED.format(expanded))
    return re.compile("|".join(parts))


# ---------------------------------------------------------------- prefilter

_Cover = frozenset[str] | None
_REPEATS = (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", _sre.MAX_REPEAT))


# Frequent words say little about risk; a cover made only of them would let almost every
# message through the prefilter. Used only to rank covers, never to decide a match.
_COMMON = frozenset("""
i me my a an the to of and or in on at for with is am are was were be been being it its this
that these those have has had got get do does did not no so just all can will would should
could want need like feel going go you your he she they we him her them his their our what
when how why who now today really about up out if but one some more time day know think make
good right back there here from by as because then than too very much anymore again yes ok
still even also only every everyone people lol im dont cant wont tonight feel feeling lot
que de la el en y los las mi no lo es por con una un para ya mas muy estoy tengo quiero hoy
""".split())


def _informative(literal: str) -> int:
    return max((len(w) for w in re.findall(r"[a-z]+", literal) if w not in _COMMON), default=0)


def _score(cover: frozenset[str]) -> tuple[bool, int, int, int]:
    weakest = min(map(_informative, cover))
    return (weakest >= 3, weakest, min(map(len, cover)), -len(cover))


def _cover(items: Iterable[Any]) -> _Cover:
    """Return literals of which every match of the parsed regex contains at least one."""
    best: _Cover = None

    def consider(cover: _Cover) -> None:
        nonlocal best
        if cover and all(cover) and (best is None or _score(cover) > _score(best)):
            best = cover

    run: list[str] = []
    for op, av in items:
        if op is _sre.LITERAL:
            run.append(chr(av))
            continue
        if run:
            consider(frozenset({"".join(run)}))
            run = []
        if op is _sre.SUBPATTERN:
            consider(_cover(list(av[-1])))
        elif op is _sre.BRANCH:
            covers = [_cover(list(alt)) for alt in av[1]]
            if all(covers):
                consider(frozenset().union(*covers))  # type: ignore[arg-type]
        elif op in _REPEATS and av[0] >= 1:
            consider(_cover(list(av[2])))
        # Anything else (classes, ANY, anchors, lookarounds) guarantees no literal.
    if run:
        consider(frozenset({"".join(run)}))
    return best


def _pattern_cover(pattern: str) -> _Cover:
    try:
        cover = _cover(list(_sre_parse.parse(pattern)))
    except Exception:  # noqa: BLE001 - an unparseable shape only disables the prefilter
        return None
    return cover if cover and min(map(len, cover)) >= 2 else None


def _literal_regex(literals: Iterable[str]) -> re.Pattern[str]:
    """Compile literals into a trie-shaped regex: one pass, one branch per character."""
    trie: dict[str, Any] = {}
    for word in literals:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        if "" in node:
            return ""  # a shorter literal already suffices
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items())]
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return re.compile(build(trie))


def _str_list(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise PhraseRulesError(f"{where}: {key!r} must be a non-empty list of strings")
    return tuple(value)


_RULE_KEYS = {"id", "tier", "path", "kind", "lang", "patterns"}


def _parse_rule(table: Any, index: int) -> PhraseRule:
    where = f"rule[{index}]"
    if not isinstance(table, dict):
        raise PhraseRulesError(f"{where}: expected a table")
    rule_id = table.get("id")
    if not isinstance(rule_id, str) or not re.fullmatch(r"[a-z]{2}\.[a-z0-9_.]+", rule_id):
        raise PhraseRulesError(f"{where}: id {rule_id!r} must look like 'en.self.ideation.die'")
    where = f"rule {rule_id!r}"
    unknown = set(table) - _RULE_KEYS
    if unknown:
        raise PhraseRulesError(f"{where}: unknown key(s) {sorted(unknown)}")
    tier = table.get("tier")
    if not isinstance(tier, int) or isinstance(tier, bool) or tier not in (1, 2, 3):
        raise PhraseRulesError(f"{where}: tier must be 1, 2 or 3, not {tier!r}")
    try:
        path = RiskPath(str(table.get("path")))
        kind = RiskKind(str(table.get("kind")))
    except ValueError as exc:
        raise PhraseRulesError(f"{where}: {exc}") from None
    lang = table.get("lang")
    if lang not in ("en", "es"):
        raise PhraseRulesError(f"{where}: lang must be 'en' or 'es', not {lang!r}")
    if not rule_id.startswith(f"{lang}."):
        raise PhraseRulesError(f"{where}: id must start with its lang {lang!r}")
    return PhraseRule(rule_id, tier, path, kind, lang, _str_list(table, "patterns", where))


def _blank(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """Replace each span with spaces, keeping every other offset where it was."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _sentence_start(text: str, pos: int) -> int:
    last = -1
    for m in _SENTENCE_END.finditer(text, 0, pos):
        last = m.end()
    return max(last, 0)


def _sentence_end(text: str, pos: int) -> int:
    m = _SENTENCE_END.search(text, pos)
    return m.start() if m else len(text)


def _inside_quotes(text: str, start: int) -> bool:
    return text.count('"', 0, start) % 2 == 1


class Detector:
    """Match phrase rules against messages; build once (at start-up), call `detect` often."""

    def __init__(
        self,
        *,
        version: str,
        rules: Sequence[PhraseRule],
        macros: Mapping[str, str],
        modifiers: Mapping[str, Sequence[str]],
        idioms: Sequence[tuple[str, Sequence[str], bool]],
    ) -> None:
        self.version = version
        self.rules = tuple(rules)
        ids = [r.id for r in self.rules]
        duplicate = {i for i in ids if ids.count(i) > 1}
        if duplicate:
            raise PhraseRulesError(f"duplicate rule id(s) {sorted(duplicate)}")
        # Every pattern is compiled on its own with the literals every match must contain
        # (its "cover"). A trie regex of all those literals rejects most messages in one
        # cheap scan; for the rest, only patterns whose literals occur are run. A pattern
        # without a usable cover is always run.
        self._patterns: list[tuple[PhraseRule, re.Pattern[str]]] = []
        self._by_literal: dict[str, list[int]] = {}
        self._always: list[int] = []
        for rule in self.rules:
            _compile(rule.patterns, macros, f"rule {rule.id!r}")  # validates, names errors
            for raw in rule.patterns:
                compiled = re.compile(_BOUNDED.format(_expand_macros(raw, macros, rule.id)))
                index = len(self._patterns)
                self._patterns.append((rule, compiled))
                cover = _pattern_cover(compiled.pattern)
                if cover is None:
                    self._always.append(index)
                    continue
                for literal in cover:
                    self._by_literal.setdefault(literal, []).append(index)
        # Keep only literals that contain no other literal: any text containing a longer one
        # contains the shorter, so its patterns move to the shorter. Then no two literals can
        # start at the same place, and one overlapping scan finds every one that occurs.
        minimal = sorted(self._by_literal, key=len)
        for i, literal in enumerate(minimal):
            shorter = next((m for m in minimal[:i] if m in literal and m in self._by_literal), None)
            if shorter is not None:
                self._by_literal[shorter] += self._by_literal.pop(literal)
        self._literals = tuple(sorted(self._by_literal))
        trie = _literal_regex(self._literals).pattern
        self._prefilter = re.compile(trie)
        self._occurrences = re.compile(f"(?=({trie}))")

        needed = {"past", "past_thought", "protective", "humour", "media", "third_party", "timing"}
        missing = needed - set(modifiers)
        if missing:
            raise PhraseRulesError(f"[modifiers]: missing {sorted(missing)}")
        unknown = set(modifiers) - needed
        if unknown:
            raise PhraseRulesError(f"[modifiers]: unknown key(s) {sorted(unknown)}")
        self._mod = {
            name: _compile(list(pats), macros, f"[modifiers] {name}")
            for name, pats in modifiers.items()
        }
        self._idioms: list[tuple[str, re.Pattern[str], bool]] = [
            (idiom_id, _compile(list(pats), macros, f"idiom {idiom_id!r}"), to_end)
            for idiom_id, pats, to_end in idioms
        ]

    @classmethod
    def from_file(cls, path: str | Path) -> Detector:
        """Load and compile the rule file at `path`."""
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise PhraseRulesError(f"{path}: not valid TOML: {exc}") from exc
        return cls.from_mapping(raw)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Detector:
        """Build a detector from an already-parsed rule document."""
        version = raw.get("version")
        if not isinstance(version, str) or not version:
            raise PhraseRulesError("top level: 'version' must be a non-empty string")
        macros = raw.get("macros", {})
        if not isinstance(macros, dict) or not all(isinstance(v, str) for v in macros.values()):
            raise PhraseRulesError("[macros]: values must be strings")
        raw_rules = raw.get("rule")
        if not isinstance(raw_rules, list) or not raw_rules:
            raise PhraseRulesError("top level: needs at least one [[rule]]")
        rules = [_parse_rule(t, i) for i, t in enumerate(raw_rules)]
        raw_mods = raw.get("modifiers")
        if not isinstance(raw_mods, dict):
            raise PhraseRulesError("[modifiers] is missing")
        modifiers = {k: _str_list(raw_mods, k, f"[modifiers] {k}") for k in raw_mods}
        idioms = []
        for i, t in enumerate(raw.get("idiom", [])):
            if not isinstance(t, dict) or not isinstance(t.get("id"), str):
                raise PhraseRulesError(f"idiom[{i}]: needs an id")
            unknown = set(t) - {"id", "patterns", "to_sentence_end"}
            if unknown:
                raise PhraseRulesError(f"idiom {t['id']!r}: unknown key(s) {sorted(unknown)}")
            to_end = t.get("to_sentence_end", False)
            if not isinstance(to_end, bool):
                raise PhraseRulesError(f"idiom {t['id']!r}: to_sentence_end must be true or false")
            idioms.append((t["id"], _str_list(t, "patterns", f"idiom {t['id']!r}"), to_end))
        return cls(version=version, rules=rules, macros=macros, modifiers=modifiers, idioms=idioms)

    @property
    def uncovered_patterns(self) -> list[str]:
        """Return patterns the prefilter cannot vouch for (each one slows every message)."""
        return [self._patterns[i][1].pattern for i in self._always]

    def _nothing(self, modifiers: tuple[str, ...] = ()) -> Detection:
        return Detection(0, None, None, self.version, Need.GENERAL, modifiers)

    def detect(self, text: str) -> Detection:
        """Return the tier, path, rule and explanation for one message."""
        norm = normalise(text)
        if not norm or (not self._always and self._prefilter.search(norm) is None):
            return self._nothing()
        candidates = set(self._always)
        for m in self._occurrences.finditer(norm):
            candidates.update(self._by_literal[m.group(1)])
        ordered = sorted(candidates)
        if not any(self._patterns[i][1].search(norm) for i in ordered):
            return self._nothing()

        # Something matched: remove idioms, hypotheticals and protective phrases, then
        # match again on what is left (offsets are kept, so sentences stay aligned).
        notes: list[str] = []
        spans: list[tuple[int, int]] = []
        for idiom_id, pattern, to_end in self._idioms:
            for m in pattern.finditer(norm):
                end = _sentence_end(norm, m.end()) if to_end else m.end()
                spans.append((m.start(), end))
                notes.append(f"{idiom_id} suppressed {m.group()!r}")
        protective = [m.group() for m in self._mod["protective"].finditer(norm)]
        spans += [(m.start(), m.end()) for m in self._mod["protective"].finditer(norm)]
        text2 = _blank(norm, spans) if spans else norm

        hits = []
        for index in ordered:
            rule, pattern = self._patterns[index]
            hits += [_Hit(rule, m.start(), m.end(), rule.tier, rule.path, [])
                     for m in pattern.finditer(text2)]
        if not hits:
            extra = tuple(notes) + tuple(f"protective {p!r}" for p in protective)
            return self._nothing(extra)

        past = self._mod["past"].search(text2)
        humour = self._mod["humour"].search(text2)
        media = self._mod["media"].search(text2)
        timing = self._mod["timing"].search(text2)
        frames = [m.end() for m in self._mod["third_party"].finditer(text2)]
        thoughts = [m.end() for m in self._mod["past_thought"].finditer(text2)]

        for hit in hits:
            rule = hit.rule
            if (
                hit.path is RiskPath.SELF
                and rule.kind is not RiskKind.OVERDOSE
                and any(_sentence_start(text2, hit.start) <= f <= hit.start for f in frames)
            ):
                hit.path = RiskPath.OTHER
                hit.mods.append("third-party report -> path other")
            if any(
                _sentence_start(text2, hit.start) <= f <= hit.start
                and not _TURN.search(text2, f, hit.start)
                for f in thoughts
            ):
                hit.tier = 0
                hit.mods.append("past-thought frame -> dropped")
                continue
            if timing and hit.tier == 2 and rule.kind in _TIMING_ESCALATES and hit.path is not RiskPath.ABUSE:
                hit.tier = 3
                hit.mods.append(f"timing +1 ({timing.group()!r})")
            if past and hit.tier > 0:
                hit.tier -= 1
                hit.mods.append(f"past framing -1 ({past.group()!r})")
            lowerable = rule.kind not in _NEVER_LOWERED and hit.path is not RiskPath.ABUSE
            if protective and lowerable and hit.tier > 1:
                hit.tier -= 1
                hit.mods.append(f"protective negation -1 ({protective[0]!r})")
            if humour and lowerable and hit.tier == 2:
                hit.tier = 1
                hit.mods.append(f"humour -1 ({humour.group()!r})")
            if media and lowerable and 1 <= hit.tier <= 2:
                hit.tier -= 1
                hit.mods.append(f"lyrics/title/news framing -1 ({media.group()!r})")
            if lowerable and 1 <= hit.tier <= 2 and _inside_quotes(text2, hit.start):
                hit.tier -= 1
                hit.mods.append("inside quotation marks -1")

        best = max(hits, key=lambda h: (h.tier, -_PATH_PRIORITY[h.path], h.rule.tier))
        matched = tuple(dict.fromkeys(h.rule.id for h in hits))
        if best.tier <= 0:
            return Detection(0, None, None, self.version, Need.GENERAL,
                             tuple(notes + best.mods), matched)
        return Detection(
            tier=best.tier,
            path=best.path,
            rule_id=best.rule.id,
            ruleset_version=self.version,
            need=_need(best),
            modifiers=tuple(notes + best.mods),
            matched=matched,
        )


def _need(hit: _Hit) -> Need:
    """Return why resources would be shown for this hit."""
    if hit.rule.kind is RiskKind.OVERDOSE:
        return Need.OVERDOSE
    if hit.rule.kind is RiskKind.RELAPSE:
        return Need.RELAPSE
    if hit.tier >= 3 and hit.path is RiskPath.SELF:
        return Need.IMMINENT
    return Need.GENERAL
