"""Crisis reply templates: every one renders, follows the safe-messaging rules, and is fixed."""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.domain.crisis.resources import find_stale_numbers
from bot.domain.crisis.templates import (
    DM_KEYS,
    FIELDS,
    CrisisTemplates,
    Label,
    Language,
    TemplateError,
    TemplateFields,
    TemplateKey,
    language_for_locale,
    template_for,
)

ROOT = Path(__file__).resolve().parents[3]
PATH = ROOT / "bot" / "data" / "crisis_templates.toml"

FULL = TemplateFields(
    server="Sober Sundays",
    emergency="999",
    resources="RESOURCES-BLOCK",
    crisis_command="/crisis",
    optout_command="/settings crisis-replies off",
)

# Safe-messaging and house rules: phrases that must never reach a member.
BANNED = {
    Language.EN: [
        r"committed suicide", r"commit suicide", r"successful (attempt|suicide)",
        r"suicide is never the answer", r"\bfail", r"\blost\b", r"\breset", r"\bzero\b",
        r"\bselfish\b", r"\byou should\b", r"\bcalm down\b", r"\bcheer up\b", r"\blol\b",
        r"attention", r"\bstupid\b", r"\bsin\b",
        # method details
        r"\brope\b", r"\bnoose\b", r"\bhang", r"\bbridge\b", r"\bjump", r"\bgun\b",
        r"\brazor\b", r"\bblade\b", r"\bbleach\b", r"\bpills?\b", r"\bcut",
    ],
    Language.ES: [
        r"cometi\w* suicidio", r"suicidio exitoso", r"intento exitoso",
        r"el suicidio nunca es la respuesta", r"fracas", r"fallaste", r"fallo\b", r"perdiste",
        r"reinici", r"\bcero\b", r"ego[ií]sta", r"deber[ií]as", r"c[aá]lmate", r"\bjaja",
        r"llamar la atenci[oó]n", r"\bpecado",
        r"\bcuerda\b", r"\bsoga\b", r"ahorc", r"\bpuente\b", r"\bsalt[ao]", r"pistola",
        r"navaja", r"cuchilla", r"lej[ií]a", r"pastillas?", r"\bcort",
    ],
}
AUTOMATED = {Language.EN: "automated bot", Language.ES: "bot automático"}
WHO_SEES = {Language.EN: "moderators got a private heads-up", Language.ES: "moderadores recibieron un aviso privado"}
WAY_OUT = {Language.EN: "If this isn't about", Language.ES: "Si esto no va contigo"}
WAY_OUT_OTHER = {Language.EN: "If this isn't about that", Language.ES: "Si no se trata de eso"}
CHANNELS = {
    Language.EN: ("call", "text", "chat"),
    Language.ES: (("llam", "teléfono"), ("escrib", "mensaje"), "chat"),
}


@pytest.fixture(scope="module")
def templates() -> CrisisTemplates:
    return CrisisTemplates.load(PATH)


ALL = [(lang, key) for lang in Language for key in TemplateKey]


@pytest.mark.parametrize(("lang", "key"), ALL)
def test_every_template_renders_with_every_field(
    templates: CrisisTemplates, lang: Language, key: TemplateKey
) -> None:
    text = templates.render(key, FULL, lang)
    assert "{" not in text and "}" not in text
    raw = templates.raw(key, lang)
    for name in FIELDS:
        if "{" + name + "}" in raw:
            assert getattr(FULL, name) in text


@pytest.mark.parametrize(("lang", "key"), ALL)
def test_no_banned_phrase(templates: CrisisTemplates, lang: Language, key: TemplateKey) -> None:
    text = templates.render(key, FULL, lang).casefold()
    hits = [p for p in BANNED[lang] if re.search(p, text)]
    assert not hits, f"[{lang}] {key}: {hits}"


@pytest.mark.parametrize("lang", list(Language))
def test_no_banned_phrase_in_labels(templates: CrisisTemplates, lang: Language) -> None:
    for label in Label:
        text = templates.label(label, lang).casefold()
        hits = [p for p in BANNED[lang] if re.search(p, text)]
        assert not hits, f"[{lang}] {label}: {hits}"


@pytest.mark.parametrize(("lang", "key"), [(lg, k) for lg in Language for k in sorted(DM_KEYS)])
def test_dm_shape(templates: CrisisTemplates, lang: Language, key: TemplateKey) -> None:
    raw = templates.raw(key, lang)
    # Short and human: 2-4 sentences (";" and ":" joined clauses count as sentences here).
    head = raw.split("{resources}")[0]
    sentences = len(re.findall(r"[.!?](\s|$)", head)) + head.rstrip().endswith(":")
    assert 2 <= sentences <= 5, f"{key}: {sentences} sentences before resources"
    assert len(head) <= 520, f"{key}: {len(head)} characters before resources"
    assert AUTOMATED[lang] in raw
    assert WHO_SEES[lang] in raw
    way_out = WAY_OUT_OTHER if key is TemplateKey.DM_WORRIED_OTHER else WAY_OUT
    assert way_out[lang] in raw
    assert "{optout_command}" in raw
    low = raw.casefold()
    # An overdose DM says one thing: call the emergency number and stay with them.
    channels = CHANNELS[lang][:1] if key is TemplateKey.DM_OVERDOSE else CHANNELS[lang]
    for channel in channels:
        options = (channel,) if isinstance(channel, str) else channel
        assert any(o in low for o in options), f"{key} does not offer {channel}"
    # Ends on agency and hope, after the way out, never on the opt-out instruction.
    assert not raw.rstrip().endswith("messages.")


@pytest.mark.parametrize("lang", list(Language))
def test_emergency_number_comes_first_only_when_imminent(
    templates: CrisisTemplates, lang: Language
) -> None:
    def position(key: TemplateKey) -> float:
        raw = templates.raw(key, lang)
        head = raw.split("{resources}")[0]
        return head.index("{emergency}") / len(head) if "{emergency}" in head else 1.0

    # Imminent and overdose name the emergency number as the first thing to do.
    assert position(TemplateKey.DM_IMMINENT) < 1
    assert position(TemplateKey.DM_OVERDOSE) < 1
    # Distress and relapse do not lead with it (the resource block still carries it).
    assert "{emergency}" not in templates.raw(TemplateKey.DM_DISTRESS, lang)
    assert "{emergency}" not in templates.raw(TemplateKey.DM_RELAPSE, lang)


@pytest.mark.parametrize("lang", list(Language))
def test_public_nudge_names_no_one(templates: CrisisTemplates, lang: Language) -> None:
    raw = templates.raw(TemplateKey.PUBLIC_NUDGE, lang)
    assert "{crisis_command}" in raw
    assert "{server}" not in raw and "@" not in raw
    assert len(templates.render(TemplateKey.PUBLIC_NUDGE, FULL, lang)) < 200


def test_no_stale_numbers_in_templates() -> None:
    assert not find_stale_numbers(PATH.read_text(encoding="utf-8"))


def test_values_are_inserted_verbatim(templates: CrisisTemplates) -> None:
    odd = TemplateFields(server="{emergency} {0} {{x}}", emergency="112", resources="-")
    text = templates.render(TemplateKey.DM_IDEATION, odd)
    assert "{emergency} {0} {{x}}" in text


def _raw() -> dict[str, Any]:
    with open(PATH, "rb") as fh:
        return tomllib.load(fh)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["en"].__setitem__("dm_imminent", "Hi {member}"), r"\{member\} is not allowed"),
        (lambda d: d["en"].__setitem__("dm_imminent", "Hi {server!r}"), "not allowed"),
        (lambda d: d["en"].__setitem__("dm_imminent", "Hi {server.name}"), "not allowed"),
        (lambda d: d["en"].__setitem__("dm_imminent", "Hi {"), "bad braces"),
        (lambda d: d["es"].pop("public_nudge"), r"\[es\] public_nudge: missing"),
        (lambda d: d["es"]["labels"].pop("alert_title"), r"\[es.labels\] alert_title"),
        (lambda d: d["en"]["labels"].__setitem__("hours", "{x}"), "labels take no fields"),
        (lambda d: d["en"].__setitem__("dm_typo", "x"), r"unknown key\(s\) \['dm_typo'\]"),
        (lambda d: d.__setitem__("version", 2), "version is 2"),
    ],
)
def test_invalid_templates_are_refused(mutate: Any, message: str) -> None:
    raw = copy.deepcopy(_raw())
    mutate(raw)
    with pytest.raises(TemplateError, match=message):
        CrisisTemplates.from_mapping(raw)


@pytest.mark.parametrize(
    ("tier", "path", "need", "key"),
    [
        (3, "self", "imminent", TemplateKey.DM_IMMINENT),
        (3, "self", "overdose", TemplateKey.DM_OVERDOSE),
        (2, "self", "general", TemplateKey.DM_IDEATION),
        (1, "self", "general", TemplateKey.DM_DISTRESS),
        (1, "self", "relapse", TemplateKey.DM_RELAPSE),
        (2, "other", "general", TemplateKey.DM_WORRIED_OTHER),
        (2, "abuse", "general", None),
        (0, "self", "general", None),
    ],
)
def test_template_for_detection(tier: int, path: str, need: str, key: TemplateKey | None) -> None:
    assert template_for(tier, path, need) is key


@pytest.mark.parametrize(
    ("locale", "lang"),
    [("es-ES", Language.ES), ("es-419", Language.ES), ("en-GB", Language.EN),
     ("fr", Language.EN), (None, Language.EN), ("", Language.EN)],
)
def test_language_for_locale(locale: str | None, lang: Language) -> None:
    assert language_for_locale(locale) is lang
