"""Passive crisis detection: concept lexicons combined by explainable, versioned rules.

A message is normalised (normalise.py), then typos of risk words are corrected and words
run together are split. Idioms, hypotheticals and protective statements are blanked out.
Each *concept* (a wish to die, means at hand, a time, a goodbye, overdose signs, ...) is a
broad, inflection-aware lexicon of regexes over what is left; a *rule* names the concepts
that must occur together ("means + timing -> tier 3"). Whose risk it is comes from the
nearest subject before the match (I / my friend / she), reported speech ("he said ...") and
second-person abuse rules. Every alert names its rule and the concepts that made it.
"""

from __future__ import annotations

import copy
import functools
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

# The regex parser is private but has been stable since 3.11; it is only used at load time to
# derive prefilter literals, and any construct it does not recognise just disables the
# prefilter for that pattern (slower, never wrong).
from re import _compiler as _sre_compile  # type: ignore[attr-defined]
from re import _constants as _sre  # type: ignore[attr-defined]
from re import _parser as _sre_parse  # type: ignore[attr-defined]
from typing import Any

from bot.domain.crisis.model import FeatureSet, ModelError, RiskModel, features
from bot.domain.crisis.normalise import normalise
from bot.domain.crisis.resources import Need

__all__ = [
    "Concept",
    "Detection",
    "Detector",
    "Measured",
    "PhraseRule",
    "PhraseRulesError",
    "RiskKind",
    "RiskPath",
    "WordFixer",
]


class PhraseRulesError(ValueError):
    """The rule file is malformed; the message names the bad rule or concept."""


class RiskPath(StrEnum):
    """Whose risk a message is about."""

    SELF = "self"
    OTHER = "other"
    ABUSE = "abuse"


class RiskKind(StrEnum):
    """What a rule detects; decides which modifiers may lower it and why resources show."""

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


# "Thank you all. Goodbye": a goodbye or an overdose beside "you" is still the author's.
_ADDRESSED_STAYS = frozenset({RiskKind.GOODBYE, RiskKind.OVERDOSE})
_CLAUSE = re.compile(r"\b(?:and|but|so|because|cause|then|while|now|y|pero)\b|,")
# "write your note": possessive and reflexive second person always address someone.
_ADDRESSING = frozenset({"your", "ur", "yourself", "urself"})
# Inside a match only pronouns that can be its subject or object count ("kill herself",
# "hope you never wake up"), not possessives ("my husband's tablets" are still mine).
_INSIDE = {"first": frozenset({"i", "myself", "yo", "voy", "estoy", "tengo", "quiero"}),
           "second": frozenset({"you", "yourself", "u", "urself"}),
           "third": frozenset({"he", "she", "they", "hes", "shes", "theyre", "himself", "herself",
                               "themselves", "themself"})}
# Jokes lower only explicit-ideation slang, never anything about means, plans or acts.
_HUMOUR_LOWERS = frozenset({RiskKind.IDEATION, RiskKind.PASSIVE, RiskKind.DISTRESS, RiskKind.SELFHARM})
_PATH_PRIORITY = {RiskPath.SELF: 0, RiskPath.OTHER: 1, RiskPath.ABUSE: 2}
_SENTENCE_END = re.compile(r"[.!?;\n]")
# A turn back to the present between a past frame and a match ("I used to think I'd get
# better, but now I want to die"; "three good years, and this week it came back").
_TURN = re.compile(
    r"\b(?:but|now|(?<!ago )today|anymore|these days|again|lately|this (?:week|month|year)|came back"
    r"|coming back|pero|ahora|hoy|otra vez|de nuevo)\b")
_WORD = re.compile(r"[a-z]+")
_OWNED = re.compile(
    r" (?:\w+ )?(?:gun|guns|rifle|pistol|shotgun|revolver|pills|tablets|meds|medication|medicine|"
    r"prescriptions?|morphine|insulin|painkillers|sleeping|heart|blood|rope|belt|car|garage|shed|knife|"
    r"razors?|cabinet|safe|drawer|cupboard|bottle|keys?)\b")
# Chat drops the subject ("took too many"): with nobody named, it is the author's.
_ASSUMED_FIRST = "nobody named -> the author"
# Evasion slang in the raw text: a joke about it ("kms lol") lowers it; plain words do not.
_SLANG = re.compile(r"k\W*m\W*s|k\W*y\W*s|unaliv|sewer|ctb|perish|yeet|dirt nap|s\W*h\b")


@dataclass(frozen=True, slots=True)
class Concept:
    """One lexicon: a name, a language and regexes over normalised text."""

    name: str
    lang: str
    anchor: bool
    patterns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PhraseRule:
    """One versioned rule: which concepts (or phrases) together mean which tier for whom."""

    id: str
    tier: int
    path: RiskPath
    kind: RiskKind
    lang: str
    patterns: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()

    @property
    def concepts(self) -> tuple[str, ...]:
        """Return the concepts this rule needs, in the order it names them."""
        return self.all + self.any


@dataclass(frozen=True, slots=True)
class Measured:
    """How the detector did on labelled messages its authors never saw (bench/README.md)."""

    on: str
    version: str
    tier3_recall: float
    tier2_recall: float
    false_alarms: float

    def summary(self) -> str:
        """Return one honest paragraph for moderators."""
        return (
            f"Measured on messages written by people who never saw the rules ({self.on}; rules "
            f"{self.version}): an imminent-risk alert for {self.tier3_recall:.0%} of messages about means, "
            f"a plan, a goodbye or an overdose; an alert of tier 2 or more for {self.tier2_recall:.0%} of "
            f"messages with thoughts of suicide; a false alarm on {self.false_alarms:.0%} of messages that "
            f"only look like crisis language. Detection is a supplement to people, never a net: "
            f"a missing alert means nothing."
        )


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
    concepts: tuple[str, ...] = field(default=(), compare=False)

    @property
    def explanation(self) -> str:
        """Return "rule X matched (concepts ...); modifiers Y" for moderators and reviews."""
        if self.rule_id is None:
            return f"no rule matched (rules {self.ruleset_version})"
        mods = ", ".join(self.modifiers) if self.modifiers else "none"
        seen = f" (concepts: {' + '.join(self.concepts)})" if self.concepts else ""
        return f"rule {self.rule_id} matched{seen}; modifiers: {mods} (rules {self.ruleset_version})"


@dataclass(slots=True)
class _Hit:
    rule: PhraseRule
    start: int
    end: int
    tier: int
    path: RiskPath
    mods: list[str]
    concepts: tuple[str, ...]


@dataclass(slots=True)
class _Seen:
    text: str  # normalised, idioms and protective statements blanked (offsets kept)
    notes: list[str]
    found: dict[str, list[tuple[int, int]]]
    said_safe: bool
    learned_cue: tuple[int, int] | None = None  # the first of the model's own cue words
    anchored: bool = True  # False: only a cue word of the model's woke it (the rules stay silent)


@dataclass(slots=True)
class _Context:
    frames: list[int]
    thoughts: list[int]
    past: list[re.Match[str]]
    humour: re.Match[str] | None
    serious: re.Match[str] | None
    slang: re.Match[str] | re.Match[bytes] | None
    media: re.Match[str] | None
    hostile: re.Match[str] | None


_BOUNDED = r"(?<![a-z0-9])(?:{})(?![a-z0-9])"


def _inflect(word: str) -> str:
    """Return a regex for an English verb or noun and its regular forms ("cut" -> cuts, cutting)."""
    w = word
    forms = {w, w + "s", w + "es" if w.endswith(("s", "sh", "ch", "x", "z", "o")) else w + "s"}
    if w.endswith("e"):
        forms |= {w + "d", w[:-1] + "ing"}
    elif w.endswith("y") and len(w) > 2 and w[-2] not in "aeiou":
        forms |= {w[:-1] + "ies", w[:-1] + "ied", w + "ing"}
    else:
        forms |= {w + "ed", w + "ing"}
        if len(w) >= 3 and w[-1] not in "aeiouwxy" and w[-2] in "aeiou" and w[-3] not in "aeiou":
            forms |= {w + w[-1] + "ed", w + w[-1] + "ing"}
    return "(?:" + "|".join(sorted(forms, key=lambda f: (-len(f), f))) + ")"


def _expand_macros(pattern: str, macros: Mapping[str, str], where: str) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in macros:
            raise PhraseRulesError(f"{where}: unknown macro {{{name}}}")
        return macros[name]

    # {name} with a letter first; regex counts like {0,40} are left alone. "word~" stands for
    # the word and its regular inflections ("cut~" -> cut, cuts, cutting).
    expanded = pattern
    for _ in range(4):  # macros may use macros
        expanded = re.sub(r"\{([a-z_][a-z0-9_]*)\}", sub, expanded)
    expanded = re.sub(r"(?<![a-z])([a-z]{2,})~", lambda m: _inflect(m.group(1)), expanded)
    if "~" in expanded:
        raise PhraseRulesError(f"{where}: '~' must follow a plain word of two letters or more")
    return expanded


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


@functools.lru_cache(maxsize=65536)
def _informative(literal: str) -> int:
    return max((len(w) for w in _WORD.findall(literal) if w not in _COMMON), default=0)


@functools.lru_cache(maxsize=65536)  # the same covers are scored many times while choosing
def _score(cover: frozenset[str]) -> tuple[bool, int, int, int]:
    weakest = min(map(_informative, cover))
    return (weakest >= 3, weakest, min(map(len, cover)), -len(cover))


def _expand(items: Sequence[Any], limit: int = 64) -> tuple[set[str], bool]:
    """Return the literal texts a match of `items` can start with, and whether that is all of it."""
    out = {""}
    for op, av in items:
        if op is _sre.LITERAL:
            out = {p + chr(av) for p in out}
            continue
        if op is _sre.SUBPATTERN:
            alternatives = [list(av[-1])]
        elif op is _sre.BRANCH:
            alternatives = [list(alt) for alt in av[1]]
        else:
            return out, False
        expanded = [_expand(alt, limit) for alt in alternatives]
        combined = {p + q for p in out for strings, _ in expanded for q in strings}
        if len(combined) > limit:
            return out, False
        out = combined
        if not all(complete for _, complete in expanded):
            return out, False
    return out, True


def _cover(items: Iterable[Any]) -> _Cover:
    """Return literals of which every match of the parsed regex contains at least one."""
    best: _Cover = None

    def consider(cover: _Cover) -> None:
        nonlocal best
        # A one-letter literal would let nearly every message through; never use one.
        if cover and all(len(c) >= 2 for c in cover) and (best is None or _score(cover) > _score(best)):
            best = cover

    items = list(items)
    run: list[str] = []
    for i, (op, av) in enumerate(items):
        if op in (_sre.LITERAL, _sre.SUBPATTERN, _sre.BRANCH) and not run:
            # The literal text a match must start with here, through any alternations:
            # "me(?:ds|dication)" gives "meds" and "medication", not just "me".
            starts, _ = _expand(items[i:])
            if starts and all(starts):
                consider(frozenset(starts))
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
    return _compile_with_cover(pattern)[1]


def _compile_with_cover(pattern: str) -> tuple[re.Pattern[str], _Cover]:
    """Compile `pattern` and derive its prefilter literals from one parse of it.

    Parsing is most of the cost of compiling; the literals come from the same parse tree
    the compiler uses, so start-up parses each pattern once. If the private compiler API
    ever refuses a parse tree, the public `re.compile` is used (same regex, parsed twice).
    A `re.error` (a broken pattern) propagates.
    """
    parsed = _sre_parse.parse(pattern)
    try:
        cover = _cover(list(parsed))
    except Exception:  # noqa: BLE001 - an unexpected shape only disables the prefilter
        cover = None
    if cover is not None and min(map(len, cover)) < 2:
        cover = None
    try:
        compiled: re.Pattern[str] = _sre_compile.compile(parsed, 0)
    except Exception:  # noqa: BLE001 - API drift: fall back to the public compiler
        compiled = re.compile(pattern)
    return compiled, cover


def _literal_pattern(literals: Iterable[str], *, longest: bool = False) -> str:
    """Return literals as a trie-shaped regex: one pass, one branch per character.

    By default the first literal to end wins (enough to say "some literal occurs");
    `longest` prefers the longest literal starting at each place.
    """
    trie: dict[str, Any] = {}
    for word in literals:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        if "" in node and (not longest or len(node) == 1):
            return ""  # a shorter literal already suffices
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if "" in node:
            alts.append("")  # longest first, then the literal that ends here
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return build(trie)


def _str_list(table: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> tuple[str, ...]:
    value = table.get(key)
    if value is None and not required:
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise PhraseRulesError(f"{where}: {key!r} must be a non-empty list of strings")
    return tuple(value)


_RULE_KEYS = {"id", "tier", "path", "kind", "lang", "patterns", "all", "any", "unless"}
_CONCEPT_KEYS = {"name", "lang", "anchor", "patterns"}


def _named_table(table: Any, what: str, index: int, key: str, shape: str, rule: str,
                 keys: set[str]) -> tuple[str, str]:
    """Check a [[rule]] or [[concept]] table's name and keys; return the name and where it is."""
    where = f"{what}[{index}]"
    if not isinstance(table, dict):
        raise PhraseRulesError(f"{where}: expected a table")
    name = table.get(key)
    if not isinstance(name, str) or not re.fullmatch(shape, name):
        raise PhraseRulesError(f"{where}: {key} {name!r} must {rule}")
    where = f"{what} {name!r}"
    unknown = set(table) - keys
    if unknown:
        raise PhraseRulesError(f"{where}: unknown key(s) {sorted(unknown)}")
    return name, where


def _parse_rule(table: Any, index: int) -> PhraseRule:
    rule_id, where = _named_table(table, "rule", index, "id", r"[a-z]{2}\.[a-z0-9_.]+",
                                  "look like 'en.self.ideation.die'", _RULE_KEYS)
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
    patterns = _str_list(table, "patterns", where, required=False)
    all_ = _str_list(table, "all", where, required=False)
    any_ = _str_list(table, "any", where, required=False)
    unless = _str_list(table, "unless", where, required=False)
    if not (patterns or all_ or any_):
        raise PhraseRulesError(f"{where}: needs 'patterns', or concepts in 'all' / 'any'")
    return PhraseRule(rule_id, tier, path, kind, lang, patterns, all_, any_, unless)


def _parse_concept(table: Any, index: int, macros: Mapping[str, str]) -> Concept:
    name, where = _named_table(table, "concept", index, "name", r"[a-z][a-z0-9_]*", "be lower_case",
                               _CONCEPT_KEYS)
    lang = table.get("lang", "en")
    if lang not in ("en", "es", "any"):
        raise PhraseRulesError(f"{where}: lang must be 'en', 'es' or 'any', not {lang!r}")
    anchor = table.get("anchor", False)
    if not isinstance(anchor, bool):
        raise PhraseRulesError(f"{where}: anchor must be true or false")
    patterns = _str_list(table, "patterns", where)
    for raw in patterns:
        _expand_macros(raw, macros, where)  # names an unknown macro here; regexes are checked once, compiled
    return Concept(name, lang, anchor, patterns)


def _apart(spans: Sequence[tuple[int, int]], other: tuple[int, int]) -> bool:
    """Tell whether any of `spans` lies outside `other` (they do not overlap)."""
    return any(end <= other[0] or start >= other[1] for start, end in spans)


def measured_from_file(path: str | Path) -> Measured | None:
    """Read only the `[measured]` table of a rule file (cheap: nothing is compiled)."""
    with open(path, "rb") as handle:
        return _parse_measured(tomllib.load(handle).get("measured"))


def _parse_measured(raw: Any) -> Measured | None:
    if raw is None:
        return None
    try:
        measured = Measured(str(raw["on"]), str(raw["version"]), float(raw["tier3_recall"]),
                            float(raw["tier2_recall"]), float(raw["false_alarms"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise PhraseRulesError(f"[measured]: missing or malformed field: {exc}") from None
    if not all(0.0 <= v <= 1.0 for v in (measured.tier3_recall, measured.tier2_recall, measured.false_alarms)):
        raise PhraseRulesError("[measured]: rates must be between 0 and 1")
    return measured


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


def _past_frame(text: str, start: int, end: int, thoughts: Sequence[int],
                past: Sequence[re.Match[str]]) -> str | None:
    """Return why the words at start..end are a past story (or None): a past-thought frame
    before them in their sentence, or a past frame in it, with no turn back to now between."""
    sentence = _sentence_start(text, start)
    if any(sentence <= f <= start and not _TURN.search(text, f, start) for f in thoughts):
        return "past-thought frame -> dropped"
    stop = _sentence_end(text, end)
    for m in past:
        if sentence <= m.start() < stop and not _TURN.search(text, min(m.end(), end), max(m.start(), start)):
            return f"past framing -> dropped ({m.group()!r})"
    return None


def _inside_quotes(text: str, start: int) -> bool:
    return text.count('"', 0, start) % 2 == 1


# ---------------------------------------------------------------- words

_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def _edits1(word: str) -> set[str]:
    """Return every string one deletion, insertion, substitution or swap away from `word`."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in _ALPHABET}
    out |= {a + c + b for a, b in splits for c in _ALPHABET}
    out.discard(word)
    return out


def _swaps_and_doubles(word: str) -> set[str]:
    """Return `word` with two neighbouring letters swapped, or one letter doubled."""
    out = {word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1)}
    out |= {word[:i] + word[i] + word[i:] for i in range(len(word))}
    out.discard(word)
    return out


class WordFixer:
    """Correct one-letter typos of risk words and split risk words run together.

    `words` are the risk lexicon; `not_typos` are real words one edit away from one of them
    ("kiln", "pulls"), which are never corrected. Built once; each message costs a dict
    lookup per word.
    """

    def __init__(self, words: Iterable[str], not_typos: Iterable[str], segment: Iterable[str],
                 stems: Iterable[str]) -> None:
        lexicon = {w for w in words if len(w) >= 4}
        keep = set(not_typos) | set(words)
        fixes: dict[str, str] = {}
        for word in sorted(lexicon):
            for typo in _edits1(word):
                if len(typo) >= 3 and typo not in keep:
                    fixes.setdefault(typo, word)  # first (alphabetical) word wins a tie
        # Three-letter words have too many real neighbours: only a swapped or doubled
        # letter ("dei", "diee").
        for word in sorted(w for w in words if len(w) == 3):
            for typo in _swaps_and_doubles(word):
                if typo not in keep:
                    fixes.setdefault(typo, word)
        self._fixes = fixes
        self._vocab = frozenset(segment) | lexicon
        self._longest = max(map(len, self._vocab), default=1)
        self._stems = re.compile("|".join(sorted(map(re.escape, stems), key=len, reverse=True)) or "(?!)")
        self._cache: dict[str, str | None] = {}

    def __call__(self, text: str) -> str:
        """Return `text` with risk-word typos corrected and run-together words split."""
        words = text.split(" ")
        changed = False
        for i, word in enumerate(words):
            bare = word.strip(".,!?;:\"")
            if len(bare) < 3:
                continue
            fix = self._fixes.get(bare)
            if fix is None and len(bare) >= 9 and bare.isalpha():
                fix = self._split(bare)
            if fix is not None:
                words[i] = word.replace(bare, fix, 1)
                changed = True
        return " ".join(words) if changed else text

    def _split(self, token: str) -> str | None:
        """Return `token` split into known words if it hides a risk word, else None."""
        if token in self._cache:
            return self._cache[token]
        result = None
        if self._stems.search(token):
            result = self._segment(token)
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[token] = result
        return result

    def _segment(self, token: str) -> str | None:
        # Fewest words that cover the token exactly (dynamic programming over prefixes).
        n = len(token)
        best: list[list[str] | None] = [None] * (n + 1)
        best[0] = []
        for end in range(1, n + 1):
            for start in range(max(0, end - self._longest), end):
                prev = best[start]
                piece = token[start:end]
                if prev is not None and piece in self._vocab:
                    fixed = self._fixes.get(piece, piece)
                    if best[end] is None or len(prev) + 1 < len(best[end] or ()):
                        best[end] = [*prev, fixed]
        words = best[n]
        return " ".join(words) if words and len(words) >= 2 else None


# ---------------------------------------------------------------- detector

_MODIFIER_KEYS = {"past", "past_thought", "protective", "humour", "serious", "retract", "media",
                  "third_party", "about_self", "hostile"}
_SUBJECT_KEYS = {"first", "third", "second"}


class Detector:
    """Match concept rules against messages; build once (at start-up), call `detect` often."""

    def __init__(
        self,
        *,
        version: str,
        rules: Sequence[PhraseRule],
        concepts: Sequence[Concept],
        macros: Mapping[str, str],
        modifiers: Mapping[str, Sequence[str]],
        subjects: Mapping[str, Sequence[str]],
        idioms: Sequence[tuple[str, Sequence[str], bool]],
        words: WordFixer | None = None,
        model: RiskModel | None = None,
        model_needs: Sequence[str] = (),
        model_cue: str | None = None,
        measured: Measured | None = None,
    ) -> None:
        self.rules_version = version
        self.measured = measured
        self.version = version if model is None else f"{version}+{model.version}"
        self._model = model
        self._cue_words = model.cue_words if model is not None else frozenset()
        # The model speaks only where the rules saw one of these concepts (not, say, a
        # relapse alone: "I relapsed and want to drink" is not a suicide crisis).
        self._model_needs = frozenset(model_needs)
        # A concept of everyday risk words ("pills", "goodbye", "enough") that wakes the model
        # even where no rule concept matched; it never starts a rule on its own.
        self._cue = model_cue
        self.rules = tuple(rules)
        ids = [r.id for r in self.rules]
        duplicate = {i for i in ids if ids.count(i) > 1}
        if duplicate:
            raise PhraseRulesError(f"duplicate rule id(s) {sorted(duplicate)}")
        names = [c.name for c in concepts]
        duplicate = {n for n in names if names.count(n) > 1}
        if duplicate:
            raise PhraseRulesError(f"duplicate concept name(s) {sorted(duplicate)}")
        self.concepts = {c.name: c for c in concepts}
        # A phrase rule is a concept of its own, named after the rule.
        for rule in self.rules:
            if rule.patterns:
                self.concepts[rule.id] = Concept(rule.id, rule.lang, True, rule.patterns)
            for name in (*rule.all, *rule.any, *rule.unless):
                if name not in self.concepts:
                    raise PhraseRulesError(f"rule {rule.id!r}: unknown concept {name!r}")
        self._words = words
        rule_ids = {rule.id for rule in self.rules if rule.patterns}
        # Every pattern is compiled on its own with the literals any match of it must
        # contain (its "cover", derived from the parsed regex). One overlapping scan with a
        # trie-shaped regex of all literals finds which patterns can match at all; only
        # those run. A message in which no anchor pattern matches cannot match any rule
        # (every rule needs an anchor: checked here), so most chat stops after one scan
        # and a few short searches.
        anchors = {name for name, c in self.concepts.items() if c.anchor}
        for rule in self.rules:
            if rule.patterns or anchors & set(rule.all) or (rule.any and set(rule.any) <= anchors):
                continue
            raise PhraseRulesError(
                f"rule {rule.id!r}: can match without an anchor concept; put one in 'all' or make "
                f"every concept in 'any' an anchor")
        self._patterns: list[tuple[str, bool, re.Pattern[str]]] = []
        by_literal: dict[str, list[int]] = {}
        self._always: list[int] = []
        self._uncovered: list[str] = []
        for name, concept in self.concepts.items():
            what = f"rule {name!r}" if name in rule_ids else f"concept {name!r}"
            for i, raw in enumerate(dict.fromkeys(concept.patterns)):
                expanded = _expand_macros(raw, macros, what)
                try:
                    compiled, cover = _compile_with_cover(_BOUNDED.format(expanded))
                except re.error as exc:
                    raise PhraseRulesError(f"{what}: pattern {i} {raw!r} is not a valid regex: {exc}") from exc
                if compiled.groups:
                    # Groups are not used; keeping patterns group-free keeps matching fast.
                    raise PhraseRulesError(f"{what}: pattern {i} {raw!r} has a capturing group; use (?:...)")
                index = len(self._patterns)
                self._patterns.append((name, concept.anchor, compiled))
                if cover is None:
                    self._always.append(index)
                    if concept.anchor or name == model_cue:
                        self._uncovered.append(f"{name}: {raw}")
                    continue
                for literal in cover:
                    by_literal.setdefault(literal, []).append(index)
        # One overlapping scan finds the longest literal starting at each place; a literal
        # that is a prefix of it ("sleep" of "sleeping") occurs there too, so each literal
        # carries the patterns of its own prefixes.
        self._by_literal = {
            literal: tuple(sorted({i for k in range(1, len(literal) + 1)
                                   for i in by_literal.get(literal[:k], ())}))
            for literal in by_literal
        }
        self._wakes_rules = [anchor for _, anchor, _ in self._patterns]
        self._wakes_model = [anchor or name == model_cue for name, anchor, _ in self._patterns]
        # The longest literal at every place, in one overlapping scan; no literal at all
        # means no pattern can match (most chat stops here).
        self._prefilter: re.Pattern[str] | None = re.compile(
            f"(?=({_literal_pattern(by_literal, longest=True)}))")

        missing = _MODIFIER_KEYS - set(modifiers)
        if missing:
            raise PhraseRulesError(f"[modifiers]: missing {sorted(missing)}")
        unknown = set(modifiers) - _MODIFIER_KEYS
        if unknown:
            raise PhraseRulesError(f"[modifiers]: unknown key(s) {sorted(unknown)}")
        self._mod = {
            name: _compile(list(pats), macros, f"[modifiers] {name}") for name, pats in modifiers.items()
        }
        missing = _SUBJECT_KEYS - set(subjects)
        if missing or set(subjects) - _SUBJECT_KEYS:
            raise PhraseRulesError(f"[subjects]: needs exactly {sorted(_SUBJECT_KEYS)}")
        third, first, second = (
            "|".join(_expand_macros(p, macros, f"[subjects] {k}") for p in subjects[k])
            for k in ("third", "first", "second")
        )
        # Third person first: "my sister" must win over "my" at the same place.
        self._subject = re.compile(
            rf"(?<![a-z0-9])(?:(?P<third>{third})|(?P<first>{first})|(?P<second>{second}))(?![a-z0-9])")
        self._idioms: list[tuple[str, re.Pattern[str], bool]] = [
            (idiom_id, _compile(list(pats), macros, f"idiom {idiom_id!r}"), to_end)
            for idiom_id, pats, to_end in idioms
        ]

    @classmethod
    def from_file(cls, path: str | Path, *, use_model: bool = True, model: RiskModel | None = None) -> Detector:
        """Load and compile the rule file at `path` (and the model it names, or `model`)."""
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise PhraseRulesError(f"{path}: not valid TOML: {exc}") from exc
        return cls.from_mapping(raw, base=Path(path).parent, use_model=use_model, model=model)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, base: Path | None = None,
                     use_model: bool = True, model: RiskModel | None = None) -> Detector:
        """Build a detector from an already-parsed rule document.

        `[model] file` (relative to `base`, the rule file's folder) names the learned
        model; without `base`, or with `use_model=False`, the rules work alone. `model`
        replaces the named file (training measures models it has not written yet).
        """
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
        concepts = [_parse_concept(t, i, macros) for i, t in enumerate(raw.get("concept", []))]
        raw_mods = raw.get("modifiers")
        if not isinstance(raw_mods, dict):
            raise PhraseRulesError("[modifiers] is missing")
        modifiers = {k: _str_list(raw_mods, k, f"[modifiers] {k}") for k in raw_mods}
        raw_subjects = raw.get("subjects")
        if not isinstance(raw_subjects, dict):
            raise PhraseRulesError("[subjects] is missing")
        subjects = {k: _str_list(raw_subjects, k, f"[subjects] {k}") for k in raw_subjects}
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
        words = None
        raw_words = raw.get("words")
        if raw_words is not None:
            if not isinstance(raw_words, dict):
                raise PhraseRulesError("[words] must be a table")
            words = WordFixer(
                _str_list(raw_words, "risk", "[words]"),
                _str_list(raw_words, "not_typos", "[words]", required=False),
                _str_list(raw_words, "segment", "[words]", required=False),
                _str_list(raw_words, "split_stems", "[words]", required=False),
            )
        raw_model = raw.get("model")
        if raw_model is not None and (not isinstance(raw_model, dict) or not isinstance(raw_model.get("file"), str)):
            raise PhraseRulesError("[model]: needs file = \"<name>.json\"")
        needs: tuple[str, ...] = ()
        cue: str | None = None
        if raw_model is not None:
            needs = _str_list(raw_model, "needs_any", "[model]")
            strangers = [n for n in needs if n not in {c.name for c in concepts}]
            if strangers:
                raise PhraseRulesError(f"[model]: needs_any names unknown concept(s) {strangers}")
            cue = raw_model.get("cue")
            if cue is not None and (not isinstance(cue, str) or cue not in {c.name for c in concepts}):
                raise PhraseRulesError(f"[model]: cue {cue!r} is not a concept")
        if model is not None and raw_model is None:
            raise PhraseRulesError("[model]: a model was given but the rule file has no [model] section")
        if model is None and raw_model is not None and base is not None and use_model:
            try:
                model = RiskModel.load(base / raw_model["file"])
            except (OSError, ModelError) as exc:
                raise PhraseRulesError(f"[model]: {exc}") from exc
        return cls(version=version, rules=rules, concepts=concepts, macros=macros, modifiers=modifiers,
                   subjects=subjects, idioms=idioms, words=words, model=model, model_needs=needs,
                   model_cue=cue, measured=_parse_measured(raw.get("measured")))

    def with_model(self, model: RiskModel | None) -> Detector:
        """Return this detector with another learned model (nothing is compiled again)."""
        other = copy.copy(self)
        other._model = model
        other._cue_words = model.cue_words if model is not None else frozenset()
        other.version = self.rules_version if model is None else f"{self.rules_version}+{model.version}"
        return other

    @property
    def uncovered_patterns(self) -> list[str]:
        """Return anchor patterns the prefilter cannot vouch for (any one disables it)."""
        return list(self._uncovered)

    def _nothing(self, modifiers: tuple[str, ...] = ()) -> Detection:
        return Detection(0, None, None, self.version, Need.GENERAL, modifiers)

    def prepare(self, text: str) -> str:
        """Return the text the concepts are matched against (normalised, words fixed)."""
        norm = normalise(text)
        return self._words(norm) if self._words is not None and norm else norm

    def _analyse(self, text: str, *, cues: bool = False, every: bool = False) -> _Seen | None:
        """Return the blanked text, notes, the concepts seen and whether the author said
        they are safe; None if nothing can match (no anchor, nor a cue when `cues`)."""
        norm = self.prepare(text)
        if not norm:
            return None
        # The model's own cue words (learned: words that carried risk in training) wake it
        # where no concept or cue of the rule file matched.
        learned = None
        if every:
            learned = next(((m.start(), m.end()) for m in _WORD.finditer(norm)), None)
        elif cues and self._cue_words:
            learned = next(((m.start(), m.end()) for m in _WORD.finditer(norm) if m.group() in self._cue_words),
                           None)
        if self._prefilter is None:  # every pattern, every message (tests compare with this)
            candidates = list(range(len(self._patterns)))
        else:
            found_literals = {m.group(1) for m in self._prefilter.finditer(norm)}
            if not found_literals and learned is None:
                return None
            candidates = sorted({i for lit in found_literals for i in self._by_literal[lit]}
                                | set(self._always)) if found_literals else []
        wakes = self._wakes_model if cues else self._wakes_rules
        anchored = any(wakes[i] and self._patterns[i][2].search(norm) for i in candidates)
        if not anchored and learned is None:
            return None

        # Remove idioms, hypotheticals and protective phrases (offsets are kept, so
        # sentences stay aligned), then look for every concept in what is left. Without an
        # anchor only the model may speak, and idioms hide risk words it does not need
        # hidden (it learned their context); skipping them keeps the many ordinary
        # messages a cue word of the model's wakes cheap.
        notes: list[str] = []
        spans: list[tuple[int, int]] = []
        about_self = self._mod["about_self"].search(norm) is not None
        for idiom_id, pattern, to_end in self._idioms if anchored else ():
            if to_end and about_self:
                continue  # "if someone took ... asking for me": not a hypothetical
            for m in pattern.finditer(norm):
                end = _sentence_end(norm, m.end()) if to_end else m.end()
                spans.append((m.start(), end))
                notes.append(f"{idiom_id} suppressed {m.group()!r}")
        protective = [(m.start(), m.end()) for m in self._mod["protective"].finditer(norm)]
        spans += protective
        text2 = _blank(norm, spans) if spans else norm

        found: dict[str, list[tuple[int, int]]] = {}
        for i in candidates:
            name, _, pattern = self._patterns[i]
            found.setdefault(name, []).extend((m.start(), m.end()) for m in pattern.finditer(text2))
        found = {name: sorted(spans) for name, spans in found.items() if spans}
        return _Seen(text2, notes, found, bool(protective), learned, anchored)

    def _context(self, raw: str, seen: _Seen) -> _Context:
        """Return the context modifiers of a message (computed once, used by every hit)."""
        text2 = seen.text
        humour = self._mod["humour"].search(text2)
        serious = self._mod["serious"].search(text2)
        # A joke lowers only slang ("kms lol") or a taking-back ("i wanna die haha jk").
        slang = (_SLANG.search(raw.lower()) or self._mod["retract"].search(text2)
                 if humour and not serious else None)
        return _Context(
            frames=[m.end() for m in self._mod["third_party"].finditer(text2)],
            thoughts=[m.end() for m in self._mod["past_thought"].finditer(text2)],
            past=list(self._mod["past"].finditer(text2)),
            humour=humour, serious=serious, slang=slang,
            media=self._mod["media"].search(text2),
            hostile=self._mod["hostile"].search(text2),
        )

    def _rule_hits(self, seen: _Seen, ctx: _Context) -> list[_Hit]:
        """Return every rule that fired, with its modifiers applied."""
        text2, found = seen.text, seen.found
        if not found:  # every rule needs a concept (a cue word of the model's woke this one)
            return []
        # A concept told as a past story supports no rule ("six months since I last thought
        # about dying. Thanks everyone" is thanks, not a goodbye).
        live = {name: [s for s in spans if _past_frame(text2, s[0], s[1], ctx.thoughts, ctx.past) is None]
                for name, spans in found.items()}
        hits: list[_Hit] = []
        for rule in self.rules:
            if rule.patterns:
                need: tuple[str, ...] = (rule.id,)
                if rule.id not in found:
                    continue
            else:
                if not all(c in found for c in rule.all) or any(c in found for c in rule.unless):
                    continue
                # Every other concept must be seen in other words than the first one's
                # ("won't be a problem much longer" is one phrase, not two concepts).
                first = found[rule.all[0]][0] if rule.all else None
                if not all(live[c] and self._seen_apart(c, live, first) for c in rule.all[1:]):
                    continue
                present_any = [c for c in rule.any if live.get(c) and self._seen_apart(c, live, first)]
                if rule.any and not present_any:
                    continue
                need = rule.all + tuple(present_any)
            # Each place the first concept occurs is a candidate: a past story early in a
            # message must not hide "and now I want to die again" later in it.
            for start, end in found[need[0]][:4]:
                hits.append(_Hit(rule, start, end, rule.tier, rule.path, [], need))
        for hit in hits:
            self._apply_modifiers(hit, text2, ctx)
        return hits

    def _model_features(self, seen: _Seen, ctx: _Context | None, rule_tier: int, fs: FeatureSet,
                        raw: str) -> frozenset[str]:
        """Return the model's features; without `ctx`, those that do not depend on context."""
        context = [] if ctx is None else [name for name, on in zip(_CONTEXT_FEATURES, (
            bool(ctx.past) or bool(ctx.thoughts), ctx.media is not None, ctx.humour is not None,
            ctx.serious is not None, ctx.slang is not None, bool(ctx.frames),
            '"' in seen.text, "?" in seen.text, seen.said_safe,
        ), strict=True) if on]
        return features(_WORD.findall(seen.text), seen.found, context, rule_tier, fs, raw)

    def features(self, text: str, *, every: bool = False, fs: FeatureSet | None = None) -> frozenset[str]:
        """Return what the learned model sees of a message (empty if it would not be asked).

        `every`: as if every word were a cue (training sees messages no cue wakes too).
        """
        seen = self._analyse(text, cues=True, every=every)
        if seen is None:
            return frozenset()
        ctx = self._context(text, seen)
        hits = self._rule_hits(seen, ctx) if seen.anchored else []
        fs = fs or (self._model.feature_set if self._model is not None else FeatureSet())
        return self._model_features(seen, ctx, max((h.tier for h in hits), default=0), fs, text)

    def detect(self, text: str) -> Detection:
        """Return the tier, path, rule and explanation for one message."""
        seen = self._analyse(text, cues=self._model is not None)
        if seen is None:
            return self._nothing()
        if not seen.anchored and (seen.said_safe or self._model is None or not self._model.could_alert_from_nothing(
                self._model_features(seen, None, 0, self._model.feature_set, text), _CONTEXT_UNKNOWN)):
            # Only one of the model's own cue words ("tonight", "sitting") woke it; the rules
            # need an anchor concept, so only the model may alert. Most such messages are
            # ordinary chat: skip the context when even the most alarming one could not
            # make the model alert (an upper bound, so no alert is ever lost).
            return self._nothing()
        ctx = self._context(text, seen)
        hits = self._rule_hits(seen, ctx) if seen.anchored else []
        found = seen.found
        # What wakes the model: a risk concept it may speak about, or a cue word; never
        # where the author says they are safe (the rules still do).
        woke: tuple[str, ...] = ()
        if self._model is not None and not seen.said_safe:
            woke = tuple(sorted(self._model_needs.intersection(found)))
            if not woke and self._cue is not None and self._cue in found:
                woke = (self._cue,)
            if not seen.anchored:  # only where the rules saw nothing (a relapse alone stays the rules')
                woke = (_LEARNED_CUE,)
        if not hits and not woke:
            return self._nothing()

        rule_tier = max((h.tier for h in hits), default=0)
        abuse = any(h.path is RiskPath.ABUSE and h.tier > 0 for h in hits)
        if self._model is not None and (woke or 1 <= rule_tier <= 2) and rule_tier < 3 and not abuse:
            scores = self._model.scores(self._model_features(seen, ctx, rule_tier, self._model.feature_set, text))
            model_tier, p = self._model.tier(scores, rule_tier)
            if woke and model_tier > rule_tier:
                # The model may raise a tier; its alert names what woke it.
                start = min(found[name][0][0] if name in found else (seen.learned_cue or (0, 0))[0]
                            for name in woke)
                rule = _MODEL_RULES[model_tier]
                hit = _Hit(rule, start, start, model_tier, RiskPath.SELF, [f"model p={p:.2f}"], woke)
                self._apply_modifiers(hit, seen.text, ctx)
                hits.append(hit)
            elif 1 <= rule_tier <= 2 and scores[1] < self._model.veto and not any(
                    h.rule.kind is RiskKind.OVERDOSE for h in hits if h.tier > 0):
                # A confident "no risk at all" cancels a low-tier alert, never tier 3.
                matched = tuple(dict.fromkeys(h.rule.id for h in hits if h.tier > 0))
                return Detection(0, None, None, self.version, Need.GENERAL,
                                 (*seen.notes, f"model veto p1={scores[1]:.2f}"), matched)
        if not hits:
            return self._nothing()
        if any(h.path is RiskPath.ABUSE and h.tier > 0 for h in hits):
            # "take the whole bottle tonight, you'd be doing everyone a favour": beside an
            # abusive directive, a match that names nobody is part of the abuse.
            hits = [h for h in hits if _ASSUMED_FIRST not in h.mods]
        best = max(hits, key=lambda h: (h.tier, -_PATH_PRIORITY[h.path], h.rule.tier))
        matched = tuple(dict.fromkeys(h.rule.id for h in hits if h.tier > 0))
        if best.tier <= 0:
            return Detection(0, None, None, self.version, Need.GENERAL, tuple(seen.notes + best.mods), matched)
        return Detection(
            tier=best.tier,
            path=best.path,
            rule_id=best.rule.id,
            ruleset_version=self.version,
            need=_need(best),
            modifiers=tuple(seen.notes + best.mods),
            matched=matched,
            concepts=tuple(c for c in best.concepts if c != best.rule.id),
        )

    def _seen_apart(self, concept: str, found: Mapping[str, Sequence[tuple[int, int]]],
                    first: tuple[int, int] | None) -> bool:
        """Tell whether `concept` was seen in other words than the rule's first concept.

        Two risk concepts must come from different words ("won't be a problem much longer"
        is one phrase, not two); context (a time, "my") may sit inside the risk words.
        """
        return first is None or not self.concepts[concept].anchor or _apart(found[concept], first)

    def _apply_modifiers(self, hit: _Hit, text: str, ctx: _Context) -> None:
        frames, thoughts, past = ctx.frames, ctx.thoughts, ctx.past
        humour, slang, media = ctx.humour, ctx.slang, ctx.media
        rule = hit.rule
        sentence = _sentence_start(text, hit.start)
        if hit.path is RiskPath.SELF:
            who = self._subject_of(text, hit, sentence, frames)
            if who == "third" and rule.kind is not RiskKind.OVERDOSE:
                hit.path = RiskPath.OTHER
                hit.mods.append("third-party report -> path other")
            elif who == "assumed":
                hit.mods.append(_ASSUMED_FIRST)
            elif who == "second" and ctx.hostile is not None:
                # "you deserve to die, loser": the risk words are aimed at someone.
                hit.path = RiskPath.ABUSE
                hit.mods.append("addressed with hostility -> abuse")
            elif who == "second":
                hit.tier = 0
                hit.mods.append("addressed to someone -> dropped")
                return
        framed = _past_frame(text, hit.start, hit.end, thoughts, past)
        if framed is not None:
            hit.tier = 0
            hit.mods.append(framed)
            return
        end = _sentence_end(text, hit.end)
        lowerable = rule.kind in _HUMOUR_LOWERS and hit.path is not RiskPath.ABUSE
        if humour and slang and lowerable and hit.tier == 2:
            hit.tier = 1
            hit.mods.append(f"humour -1 ({humour.group()!r})")
        if media and lowerable and 1 <= hit.tier <= 2:
            # "that song about wanting to die": a title or topic in the same sentence is
            # not the author's state; elsewhere in the message it only lowers.
            same = sentence <= media.start() < end
            hit.tier = 0 if same else hit.tier - 1
            hit.mods.append(f"lyrics/title/news framing {'-> dropped' if same else '-1'} ({media.group()!r})")
        if hit.tier >= 1 and rule.kind is not RiskKind.OVERDOSE and _inside_quotes(text, hit.start):
            # Someone's words in quotation marks: a title or a lyric when a media word is in
            # the same sentence, otherwise one tier less (it may still be the author's).
            if media and sentence <= media.start() < end:
                hit.tier = 0
                hit.mods.append("quoted title or lyric -> dropped")
            else:
                hit.tier -= 1
                hit.mods.append("inside quotation marks -1")

    def _subject_of(self, text: str, hit: _Hit, sentence: int, frames: Sequence[int]) -> str:
        """Return "first", "third" or "second": who the matched words are about."""
        before = list(self._subject.finditer(text, sentence, hit.start))
        for f in frames:
            # "my friend said ..." reports someone else's words (their "I" is not the
            # author's), unless the author starts a clause of their own after it ("my
            # sister texted me and i want to die").
            if sentence <= f <= hit.start and not any(
                    m.start() >= f and m.lastgroup == "first" and m.group() in ("i", "yo")
                    and _CLAUSE.search(text, f, m.start()) for m in before):
                return "third"
        inside = list(self._subject.finditer(text, hit.start, hit.end))
        if inside and inside[0].start() == hit.start and inside[0].lastgroup:
            return inside[0].lastgroup  # the match starts with its subject ("my dad says")
        found = {m.lastgroup for m in inside if m.lastgroup and m.group() in _INSIDE[m.lastgroup]}
        if hit.rule.kind is RiskKind.GOODBYE and any(m.group() == "me" for m in inside):
            found.add("first")  # "my brother will be the one who finds me": the author's goodbye
        if "second" in found and hit.rule.kind in _ADDRESSED_STAYS and not any(
                m.group() in _ADDRESSING for m in inside):
            found.discard("second")  # "by the time you read this": still the author's goodbye
        for who in ("first", "second", "third"):
            if who in found:
                return who
        # "my dad's rifle", "my wife's tablets": an owner named before a means, not a subject.
        before = [m for m in before if not (m.lastgroup == "third" and _OWNED.match(text, m.end()))]
        if before:
            last = before[-1]
            if last.lastgroup == "second" and last.group() not in _ADDRESSING and hit.rule.kind in _ADDRESSED_STAYS:
                return "first"  # "thank you all, goodbye forever" is still the author's goodbye
            return last.lastgroup or "first"
        # Nothing in its sentence: the last person named just before ("my brother ... He
        # isn't answering"); "they" and "it" too often mean things to count.
        earlier = [m for m in self._subject.finditer(text, 0, sentence)
                   if m.group() not in ("they", "them", "their", "theyre")]
        if earlier and earlier[-1].lastgroup == "third":
            return "third"
        return "assumed"


# The name an alert gives when one of the model's own cue words woke it.
_LEARNED_CUE = "model_cue"
# The context the model is told about, as features ("m:past" ...), in _model_features' order.
_CONTEXT_FEATURES = ("past", "media", "humour", "serious", "slang", "third_party", "quote", "question", "safe")
_CONTEXT_UNKNOWN = tuple(f"m:{name}" for name in _CONTEXT_FEATURES)
# What the learned model's alerts are called: a tier-3 escalation reads as a plan, tier 2 as
# ideation (so jokes, quotes and past stories lower or drop it like any ideation).
_MODEL_RULES = {
    3: PhraseRule("en.model.tier3", 3, RiskPath.SELF, RiskKind.PLAN, "en", all=("model",)),
    2: PhraseRule("en.model.tier2", 2, RiskPath.SELF, RiskKind.IDEATION, "en", all=("model",)),
}


def _need(hit: _Hit) -> Need:
    """Return why resources would be shown for this hit."""
    if hit.rule.kind is RiskKind.OVERDOSE:
        return Need.OVERDOSE
    if hit.rule.kind is RiskKind.RELAPSE:
        return Need.RELAPSE
    if hit.tier >= 3 and hit.path is RiskPath.SELF:
        return Need.IMMINENT
    return Need.GENERAL
