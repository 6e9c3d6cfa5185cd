"""Passive detection: the public API, each context modifier, and rule-file validation."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.domain.crisis.detection import Detection, Detector, PhraseRulesError, RiskPath
from bot.domain.crisis.resources import Need

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "bot" / "data" / "crisis_phrases.toml"


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.from_file(RULES)


def _raw() -> dict[str, Any]:
    with open(RULES, "rb") as fh:
        return tomllib.load(fh)


S, OT, A = RiskPath.SELF, RiskPath.OTHER, RiskPath.ABUSE


@pytest.mark.parametrize(
    ("text", "tier", "path", "need"),
    [
        # the examples the SPEC and guidance name
        ("this game is killing me", 0, None, Need.GENERAL),
        ("I'd kill for a coffee", 0, None, Need.GENERAL),
        ("the boss killed me", 0, None, Need.GENERAL),
        ("dying of laughter", 0, None, Need.GENERAL),
        ("suicide rates rose", 0, None, Need.GENERAL),
        ("two years ago I wanted to die, today 500 days clean", 0, None, Need.GENERAL),
        ("diet", 0, None, Need.GENERAL),
        ("studied", 0, None, Need.GENERAL),
        ("100 kms", 0, None, Need.GENERAL),
        ("`kill -9`", 0, None, Need.GENERAL),
        ("my friend said she wants to die", 2, OT, Need.GENERAL),
        ("kys", 2, A, Need.GENERAL),
        ("go die", 2, A, Need.GENERAL),
        ("everyone would be better off without me", 2, S, Need.GENERAL),
        ("I won't be a problem much longer", 2, S, Need.GENERAL),
        ("I want to sleep and not wake up", 2, S, Need.GENERAL),
        ("this is my last message, thank you all", 3, S, Need.IMMINENT),
        ("I have the pills ready", 3, S, Need.IMMINENT),
        ("unalive", 2, S, Need.GENERAL),
        ("sewerslide", 0, None, Need.GENERAL),  # the bare word is a topic, not a statement
        ("thinking about sewerslide", 2, S, Need.GENERAL),
        ("k1ll mys3lf", 2, S, Need.GENERAL),
        ("k i l l myself", 2, S, Need.GENERAL),
        ("kms lol", 1, S, Need.GENERAL),
        ("I don't want to live", 2, S, Need.GENERAL),
        ("I can't go on", 2, S, Need.GENERAL),
        # Chat drops the subject: with nobody else named, it is the author (crisis_dev README).
        ("nothing to live for", 2, S, Need.GENERAL),
        ("I have nothing to live for", 2, S, Need.GENERAL),
        ("I'm not suicidal", 0, None, Need.GENERAL),
        ("I would never hurt myself", 0, None, Need.GENERAL),
        ("I'm not suicidal but I have the pills ready", 3, S, Need.IMMINENT),
        # A denial beside a death wish does not cancel it (crisis_dev README).
        ("I'm not suicidal but I want to die", 2, S, Need.GENERAL),
        ("took too many", 3, S, Need.OVERDOSE),
        ("I can't wake him up", 3, S, Need.OVERDOSE),
        ("his lips are blue", 3, S, Need.OVERDOSE),
        ("I relapsed", 1, S, Need.RELAPSE),
        ("I want to drink so bad", 1, S, Need.RELAPSE),
        ("quiero morir", 2, S, Need.GENERAL),
        ("me quiero matar", 2, S, Need.GENERAL),
        ("no quiero vivir", 2, S, Need.GENERAL),
        ("tengo las pastillas", 3, S, Need.IMMINENT),
        ("me muero de risa", 0, None, Need.GENERAL),
    ],
)
def test_examples(
    detector: Detector, text: str, tier: int, path: RiskPath | None, need: Need
) -> None:
    result = detector.detect(text)
    assert (result.tier, result.path, result.need) == (tier, path, need), result.explanation


def test_nothing_is_tier_0_with_the_version(detector: Detector) -> None:
    result = detector.detect("good morning everyone")
    assert result == Detection(0, None, None, detector.version, Need.GENERAL)
    assert result.explanation == f"no rule matched (rules {detector.version})"


def test_explanation_names_rule_concepts_and_modifiers(detector: Detector) -> None:
    result = detector.detect("kms lol")
    assert result.rule_id == "en.self.ideation.wish"
    assert result.ruleset_version == detector.version
    assert result.concepts == ("wish",)
    assert result.explanation == (
        "rule en.self.ideation.wish matched (concepts: wish); modifiers: humour -1 ('lol') "
        f"(rules {detector.version})"
    )


def test_a_combination_rule_names_every_concept_it_saw(detector: Detector) -> None:
    result = detector.detect("everything i need is in my bag and it happens saturday")
    assert result.tier == 3
    assert result.rule_id == "en.self.means.ready_with_intent"
    assert result.concepts[0] == "means_ready" and "timing" in result.concepts


def test_humour_never_lowers_tier_3(detector: Detector) -> None:
    result = detector.detect("lol anyway i have the pills ready")
    assert result.tier == 3
    assert not any("humour" in m for m in result.modifiers)


def test_past_framing_drops_a_past_story(detector: Detector) -> None:
    # A past recovery story is tier 0 (crisis_dev README), not one tier lower.
    result = detector.detect("back when i was using i felt like i want to die every day")
    assert result.tier == 0
    assert any(m.startswith("past framing -> dropped") for m in result.modifiers)


def test_past_framing_keeps_a_turn_back_to_now(detector: Detector) -> None:
    result = detector.detect("back when i was using i wanted to die, and this week i want to die again")
    assert result.tier == 2


def test_protective_negation_is_only_an_allow_list(detector: Detector) -> None:
    # "not" alone is not protective: the rule phrase itself carries the risk.
    assert detector.detect("i do not want to be alive").tier == 2
    result = detector.detect("i am not suicidal, i just feel hopeless")
    assert result.tier == 1  # floor: distress is still reported to moderators
    result = detector.detect("im not suicidal but the rope is ready")
    assert result.tier == 3
    assert not any("protective" in m for m in result.modifiers)


def test_protective_negation_never_lowers_goodbye(detector: Detector) -> None:
    assert detector.detect("i would never hurt myself. this is goodbye").tier == 3


def test_timing_escalates_ideation(detector: Detector) -> None:
    result = detector.detect("i want to die tonight")
    assert result.tier == 3 and result.need is Need.IMMINENT
    assert result.rule_id == "en.self.plan.wish_with_date"
    assert result.concepts == ("wish", "timing_date")


def test_a_date_in_another_message_part_is_still_a_date(detector: Detector) -> None:
    # Concepts combine across the message; one phrase is never two concepts.
    assert detector.detect("i won't be a problem much longer").tier == 2


def test_idiom_is_suppressed_but_real_risk_beside_it_is_not(detector: Detector) -> None:
    assert detector.detect("this boss is killing me").tier == 0
    result = detector.detect("this boss is killing me and honestly i want to die")
    assert result.tier == 2
    assert any("idiom" in m for m in result.modifiers)


def test_third_party_report_is_path_other(detector: Detector) -> None:
    result = detector.detect("my sister told me i want to die is all she thinks")
    assert result.path is RiskPath.OTHER
    assert any("third-party" in m for m in result.modifiers)


def test_overdose_about_someone_else_stays_the_authors_emergency(detector: Detector) -> None:
    result = detector.detect("my brother said he took too many and now he won't wake up")
    assert (result.tier, result.path, result.need) == (3, RiskPath.SELF, Need.OVERDOSE)


def test_quoted_and_code_text_never_trigger(detector: Detector) -> None:
    assert detector.detect("> i have the pills ready\nplease call someone").tier == 0
    assert detector.detect("```\nkill -9 $(pidof worker)\n```").tier == 0
    assert detector.detect("```\ni want to kill myself\n``` is our test string").tier == 0


def test_prose_that_is_the_whole_message_in_a_code_block_is_the_authors(detector: Detector) -> None:
    # Some people wrap their words in ``` to set them apart; that is still them talking.
    assert detector.detect("```\ni want to kill myself\n```").tier == 2


def test_abuse_is_not_softened_by_humour(detector: Detector) -> None:
    result = detector.detect("kys lmao")
    assert (result.tier, result.path) == (2, RiskPath.ABUSE)


def test_highest_tier_wins_and_self_beats_abuse_on_a_tie(detector: Detector) -> None:
    result = detector.detect("kys. honestly i want to die too")
    assert (result.tier, result.path) == (2, RiskPath.SELF)
    assert set(result.matched) >= {"en.abuse.die", "en.self.ideation.wish"}


def test_every_rule_id_is_unique_and_well_formed(detector: Detector) -> None:
    ids = [r.id for r in detector.rules]
    assert len(ids) == len(set(ids))
    assert all(r.id.startswith(f"{r.lang}.{r.path.value}") for r in detector.rules)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.__setitem__("version", ""), "version"),
        (lambda d: d["rule"][0].__setitem__("tier", 4), r"rule 'en.self.means.gathering': tier"),
        (lambda d: d["rule"][0].__setitem__("path", "me"), r"'en.self.means.gathering'.*'me'"),
        (lambda d: d["rule"][0].__setitem__("all", ["no_such_concept"]), r"unknown concept 'no_such_concept'"),
        (lambda d: d["rule"][0].__setitem__("all", ["timing"]), "without an anchor concept"),
        (lambda d: d["rule"][0].pop("all"), "needs 'patterns', or concepts"),
        (lambda d: d["concept"][0].__setitem__("name", "Bad Name"), "must be lower_case"),
        (lambda d: d["concept"][0].__setitem__("patterns", ["(broken"]), r"concept 'wish': pattern 0"),
        (lambda d: d["concept"].append(dict(d["concept"][0])), "duplicate concept name"),
        (lambda d: d["subjects"].pop("first"), r"\[subjects\]"),
        (lambda d: d["concept"][0]["patterns"].append("fantasi[sz]~"), "'~' must follow a plain word"),
        (lambda d: d["rule"][0].__setitem__("patterns", ["(unclosed"]), "not a valid regex"),
        (lambda d: d["rule"][0].__setitem__("patterns", ["(i) want"]), "capturing group"),
        (lambda d: d["rule"][0].__setitem__("patterns", ["{nope} die"]), r"unknown macro \{nope\}"),
        (lambda d: d["rule"][0].__setitem__("lang", "fr"), "lang must be"),
        (lambda d: d["rule"][1].__setitem__("id", d["rule"][0]["id"]), "duplicate rule id"),
        (lambda d: d["rule"][0].__setitem__("extra", 1), r"unknown key\(s\) \['extra'\]"),
        (lambda d: d["modifiers"].pop("humour"), r"missing \['humour'\]"),
        (lambda d: d["idiom"][0].__setitem__("to_sentence_end", "yes"), "to_sentence_end"),
        (lambda d: d["model"].__setitem__("cue", "no_such_concept"), r"\[model\]: cue 'no_such_concept'"),
    ],
)
def test_invalid_rule_files_are_refused(mutate: Any, message: str) -> None:
    raw = copy.deepcopy(_raw())
    mutate(raw)
    with pytest.raises(PhraseRulesError, match=message):
        Detector.from_mapping(raw)


def test_domain_modules_do_no_io_imports() -> None:
    # The layering rule: bot/domain is pure; crisis help must not need Discord or the DB.
    for path in (ROOT / "bot" / "domain" / "crisis").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        for banned in ("import discord", "from discord", "aiosqlite", "sqlite3", "urllib", "aiohttp"):
            assert banned not in source, f"{path.name} uses {banned}"


def test_every_pattern_has_prefilter_literals(detector: Detector) -> None:
    # A pattern without literals would switch the prefilter off for every message.
    assert detector.uncovered_patterns == []


def test_prefilter_never_changes_a_result(detector: Detector) -> None:
    from tests.domain.crisis.test_detection_eval import LABELLED, LATER_SETS, load_labelled

    brute = Detector.from_file(RULES)
    brute._prefilter = None  # look for every concept in every message
    texts = [r.text for path in (LABELLED, *LATER_SETS) for r in load_labelled(path)]
    texts += ["number one", "reading time", "thanks all", "anyone around", "the bar exam"]
    for text in texts:
        assert detector.detect(text) == brute.detect(text), text


def test_the_measured_accuracy_is_shipped_and_honest(detector: Detector) -> None:
    measured = detector.measured
    assert measured is not None
    text = measured.summary()
    assert f"{measured.tier3_recall:.0%}" in text and f"{measured.false_alarms:.0%}" in text
    assert "supplement to people, never a net" in text


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["measured"].pop("tier3_recall"), "missing or malformed"),
        (lambda d: d["measured"].__setitem__("false_alarms", 11), "between 0 and 1"),
    ],
)
def test_a_broken_measured_section_is_refused(mutate: Any, message: str) -> None:
    raw = copy.deepcopy(_raw())
    mutate(raw)
    with pytest.raises(PhraseRulesError, match=message):
        Detector.from_mapping(raw)


def test_a_model_needs_a_model_section() -> None:
    from bot.domain.crisis.model import RiskModel

    raw = copy.deepcopy(_raw())
    raw.pop("model")
    model = RiskModel.load(ROOT / "data" / "crisis_model.json")
    with pytest.raises(PhraseRulesError, match=r"\[model\]: a model was given"):
        Detector.from_mapping(raw, model=model)


def test_a_repeated_pattern_is_compiled_once() -> None:
    raw = copy.deepcopy(_raw())
    once = Detector.from_mapping(raw, use_model=False)
    raw["concept"][0]["patterns"].append(raw["concept"][0]["patterns"][0])
    assert len(Detector.from_mapping(raw, use_model=False)._patterns) == len(once._patterns)
