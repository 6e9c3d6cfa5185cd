"""Each concept, modifier and hard negative, with sentences written for these tests.

The rules alone (no learned model) are tested here, so a concept that stops working fails
its own row instead of being papered over by the model. None of these sentences come from
the crisis_dev sets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.crisis.detection import Detector, RiskPath
from bot.domain.crisis.resources import Need

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "data" / "crisis_phrases.toml"
S, OT, A = RiskPath.SELF, RiskPath.OTHER, RiskPath.ABUSE


@pytest.fixture(scope="module")
def rules() -> Detector:
    return Detector.from_file(RULES, use_model=False)


@pytest.fixture(scope="module")
def full() -> Detector:
    return Detector.from_file(RULES)


@pytest.mark.parametrize(
    ("text", "tier", "path", "concept"),
    [
        # wishes and passive wishes (tier 2)
        ("honestly i just want to not exist", 2, S, "wish"),
        ("i hope i never wake up again", 2, S, "passive"),
        ("some days dying sounds like a relief", 2, S, "passive"),
        ("i keep hoping something happens so it all stops, dying would be fine", 2, S, "wish_near"),
        ("been feeling really suicidal since friday", 2, S, "suicidal"),
        ("i am going to end my life", 2, S, "wish"),
        ("im ending things", 2, S, "intent"),
        ("i won't be around to see the new year", 2, S, "veiled"),
        ("i don't want to live anymore", 2, S, "passive"),  # the negation is the risk
        ("i have outlived my usefulness", 2, S, "passive"),
        # a time, means, a place, a decision (tier 3)
        ("i am going to end my life on sunday", 3, S, "intent"),
        ("i've been hiding my sleeping pills in a sock for weeks", 3, S, "means_gather"),
        ("the tablets are in my pocket and i'm doing it after work", 3, S, "means_ready"),
        ("my dad's rifle is under the bed and i'm home alone tonight", 3, S, "means_ready"),
        ("there is a shotgun in the shed and the house is empty tonight", 3, S, "means_lethal"),
        ("i am on the roof of the car park and i am not coming down", 3, S, "place"),
        ("my mind is made up and i want to die", 3, S, "decided"),
        # goodbyes and preparation (tier 3)
        ("this will be my last post, goodbye", 3, S, "finality_strong"),
        ("deleted all my accounts and paid everyone back. thank you all for everything", 3, S, "affairs"),
        ("found a new home for my rabbit today", 3, S, "finality_strong"),
        # acts, overdoses and lethality questions (tier 3)
        ("i am taking them right now", 3, S, "act"),
        ("took a whole box of my pills an hour ago", 3, S, "ingest"),
        ("how many of my pills would it take to not wake up", 3, S, "lethality"),
        # self-harm (2) and its severity (3)
        ("i cut myself again tonight", 2, S, "selfharm"),
        ("i cut myself and it won't stop bleeding", 3, S, "act"),
        ("i burned myself and it is blistering badly", 3, S, "selfharm"),
        ("this cut definitely needs stitches", 3, S, "wound"),
        # distress and burden (tier 1)
        ("i'm such a burden to everyone", 1, S, "burden"),
        ("everything feels hopeless", 1, S, "distress"),
        # other people
        ("my brother says he wants to die", 2, OT, "wish"),
        ("my sister has been cutting herself again", 2, OT, "selfharm"),
        # abuse aimed at others
        ("go kill yourself", 2, A, "abuse"),
        ("go jump off a bridge tonight, loser", 3, A, "abuse"),
        ("nobody here even likes you, just leave", 1, A, "abuse_mild"),
        # Spanish
        ("quiero morirme", 2, S, "es_wish"),
        ("tengo las pastillas guardadas", 3, S, "es_means"),
        ("ya no puedo más", 1, S, "es_distress"),
        ("mi hermano dice que quiere morirse", 2, OT, "es_wish"),
        ("mátate", 2, A, "es_abuse"),
    ],
)
def test_concepts(rules: Detector, text: str, tier: int, path: RiskPath, concept: str) -> None:
    result = rules.detect(text)
    assert (result.tier, result.path) == (tier, path), result.explanation
    assert f"c:{concept}" in rules.features(text), result.explanation  # the concept was seen


@pytest.mark.parametrize(
    ("text", "need"),
    [
        ("his lips have gone blue and he won't wake up", Need.OVERDOSE),
        ("she took something at the party and now she's slurring and pale", Need.OVERDOSE),
        ("i relapsed last night", Need.RELAPSE),
        ("the rope is ready in the garage", Need.IMMINENT),
    ],
)
def test_needs(rules: Detector, text: str, need: Need) -> None:
    assert rules.detect(text).need is need


@pytest.mark.parametrize(
    "text",
    [
        # idioms and hyperbole
        "this traffic is killing me",
        "i'd kill for a nap right now",
        "that joke had me dying of laughter",
        "i'm dying to see the new season",
        "my phone died halfway through the call",
        # games
        "the boss killed me again, one more try",
        "my character jumped off the cliff and respawned",
        # quotes, lyrics and code
        "> i want to die\nthat level is brutal, use the shield",
        '"i want to die young" is the best line on that album',
        "```\nkill -9 1234\n```",
        # news, education, moderation talk
        "suicide rates rose last year according to the report",
        "how do you support someone who says they want to die?",
        "please stop using kms as a joke in here",
        # past recovery stories
        "ten years ago i wanted to die, now i'm thriving",
        "i used to self harm as a teenager, those scars are old now",
        # relapse with a coping plan
        "slipped last night but i called my sponsor and went to a meeting",
        # protective statements on their own
        "i'm not suicidal, just tired of my job",
        "no thoughts of hurting myself this week",
        # everyday means and goodbyes
        "picked up my prescription today, the pharmacist was lovely",
        "bought a new kitchen knife set today",
        "goodbye everyone, off on holiday, see you in two weeks!",
        # words inside words
        "started a diet and studied all evening",
    ],
)
def test_hard_negatives(full: Detector, text: str) -> None:
    result = full.detect(text)
    assert result.tier == 0, result.explanation


@pytest.mark.parametrize(
    "text",
    [
        "i'm not suicidal but the pills are lined up for tonight",
        "i would never hurt myself. anyway this is my last message, goodbye",
        "no plans to hurt myself, i just have the rope ready",
    ],
)
def test_a_protective_statement_never_cancels_tier_3(rules: Detector, text: str) -> None:
    assert rules.detect(text).tier == 3


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("kms lol", 1),  # slang joke over possible distress
        ("lol i just want to die", 2),  # humour does not cancel explicit ideation
        ("i want to kms and i'm not joking", 2),  # the author says they mean it
        ("i wanna die haha jk", 1),  # a taking-back
    ],
)
def test_humour(rules: Detector, text: str, tier: int) -> None:
    assert rules.detect(text).tier == tier


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("||i have the pills ready for tonight||", 3),  # spoilers are the author's words
        ("💊💊💊 tonight. bye", 3),  # emoji naming means
        ("i want to be ⚰️", 2),
        ("i wnat to kil myslef", 2),  # typos of risk words
        ("imgoingtoendittonight", 3),  # words run together
        ("g0nna k!ll mys3lf t0n1ght", 3),  # leetspeak
        ("i want to d i e", 2),  # spaced letters
        ("i want to diiiiie", 2),  # repeated letters
        ("```\ni have the pills next to me and i am taking them after this\n```", 3),  # prose block
    ],
)
def test_disguises(rules: Detector, text: str, tier: int) -> None:
    result = rules.detect(text)
    assert result.tier == tier, result.explanation


def test_typo_correction_never_touches_real_words(rules: Detector) -> None:
    assert rules.prepare("the kiln pulls tires") == "the kiln pulls tires"
    assert rules.prepare("i wnat to dei") == "i want to die"


def test_a_third_persons_quoted_words_are_theirs(rules: Detector) -> None:
    result = rules.detect("my friend texted me 'i want to kill myself' and now she's offline")
    assert result.path is OT


def test_the_author_speaking_after_a_report_is_the_author(rules: Detector) -> None:
    result = rules.detect("my sister texted me and i want to die")
    assert result.path is S
