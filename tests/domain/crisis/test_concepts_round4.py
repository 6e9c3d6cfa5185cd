"""Round 4 of issue 14: failure modes the development sets xj and xk showed, in new sentences.

xj (older adults: bereavement, alcohol recovery, veterans, medication) and xk (queer and
neurodivergent young adults, chronically online) showed kinds of message the concepts
missed or mistook. Each kind is written here as sentences of my own (never their texts),
in several registers, so a row proves a concept rather than a sentence. Rules alone (no
model), so each row tests the lexicons and the rules that combine them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.crisis.detection import Detector, RiskPath

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "data" / "crisis_phrases.toml"
S, A = RiskPath.SELF, RiskPath.ABUSE


@pytest.fixture(scope="module")
def rules() -> Detector:
    return Detector.from_file(RULES, use_model=False)


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        # after an attempt: waking in hospital, being found, "it didn't work"
        ("woke up in the ICU yesterday, they had to pump my stomach", 3),
        ("came round in intensive care this morning. the nurse says my flatmate found me just in time", 3),
        ("my cousin found me on the bathroom floor and now i'm in A&E with a drip in my arm", 3),
        ("it didn't work. still here. should i try again", 3),
        ("tried last night and failed, even that i can't get right", 3),
        ("me desperté en el hospital, me hicieron un lavado de estómago", 3),
        # taken, and a question about how long: the act is done
        ("how long does it take for the pills to kick in if you've had wine? i swallowed them half an hour ago", 3),
        ("took them about twenty minutes ago. how long before i fall asleep for good?", 3),
        # accidental or party mixing, with signs
        ("doubled up my night meds by accident then had a few pints, now i feel woozy and keep being sick", 3),
        ("threw up twice after taking them and i still feel like i'm floating, should i just sleep it off", 3),
        ("sitting in the locked garage with the engine running", 3),
        ("the empty blister packs are all around me on the bed", 3),
        ("mixed my sleepers with vodka and now my words are coming out jumbled", 3),
        # money, insurance and paperwork as finality
        ("my funeral is paid for, the hymns are chosen, and i have given the medals to my grandson", 3),
        ("signed the house over to my daughter and wrote my letters. just two to go, then that's me", 3),
        ("left the back door unlocked so the police won't have to break it down. sorry for the bother", 3),
        ("set the emails to send tomorrow morning. by then it won't matter", 3),
        ("scheduled the last posts to go up after i'm gone", 3),
        ("put a do not resuscitate letter in my handbag because of what i've planned for sunday", 3),
        ("does the life insurance still pay out if it's suicide? asking for myself", 2),
        ("ya di de baja mi línea de teléfono, no me va a hacer falta", 3),
        # online goodbyes
        ("made a spreadsheet of who gets my games and my figures. don't ask why now", 3),
        ("bye everyone, it was fun while it lasted. delete my stuff if you want", 3),
        # passive wishes in an older person's words
        ("i wouldn't mind if the cancer came back, it would save me the trouble of deciding", 2),
        ("i've started hoping my test results come back bad", 2),
        ("praying this christmas is my last one", 2),
        ("i go to bed half hoping my dodgy heart packs in overnight", 2),
        ("stood at the graveside wishing it was me in that coffin", 2),
        ("thinking of stopping my blood pressure tablets and letting nature take its course", 2),
        ("the good lord seems to have forgotten to come for me", 2),
        ("i'd be glad to be gone, truth be told", 2),
        ("one of these days i'll walk into the sea and not come back", 2),
        ("lying in the bath thinking about slipping under and staying there", 2),
        ("i wish the drink had finished me off, it would have been kinder on everyone", 2),
        ("part of me wants to go and join my wife", 2),
        ("le pido a dios cada noche que me lleve con él", 2),
        ("quiero irme con mi madre, ya no tengo ganas de nada", 2),
        # the same wishes in young online slang
        ("i keep daydreaming about my own funeral. not planning anything, it's just comforting", 2),
        ("pretty sure i'll just opt out eventually", 2),
        ("it's either drink or die tonight and both sound fine", 2),
        # burden and hopelessness said plainly
        ("what am i even for anymore", 1),
        ("nothing to look forward to, not one thing", 1),
        ("i'm a waste of everyone's time and money", 1),
        ("all i ever do is let people down", 1),
        ("it's never going to get better and i don't know why i bother trying", 1),
        ("everyone here must be sick to death of me by now", 1),
    ],
)
def test_round4_risk(rules: Detector, text: str, tier: int) -> None:
    result = rules.detect(text)
    assert (result.tier, result.path) == (tier, S), result.explanation


@pytest.mark.parametrize(
    "text",
    [
        # hospital, paperwork and funerals in ordinary grief and life
        "woke up in hospital after my knee operation, the nurses are lovely",
        "my husband's funeral was paid for years ago, thank goodness",
        "finished the probate forms for dad's estate at last, ask me if you need tips",
        "choosing a headstone for my wife, grey granite or black?",
        "the test didn't work, still here at the office trying again",
        # fandom, trends and venting
        "new chapter up! the heroine writes her goodbye letters before the final battle",
        "i'm throwing my phone off a bridge if this update breaks it again",
        "my tomatoes are dying and i'm taking it personally",
        "if this website crashes again i'm walking into the sea",
        "kys = keep yourself safe here 💕",
        "one whole year free of self harm today!!!",
        # recovered, in the past
        "i had suicidal thoughts as a teenager. they are gone now and i wanted someone to hear that",
        "when my wife died i didn't care if i lived or died. ten years on i've joined a choir",
    ],
)
def test_round4_safe(rules: Detector, text: str) -> None:
    result = rules.detect(text)
    assert result.tier == 0, result.explanation


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("you'd be better off dead, and so would the rest of us", 2),
        ("nobody would care if you dropped dead", 2),
        ("if i were you i'd have put myself out of my misery by now", 2),
        ("do it tonight then, nobody's stopping you", 3),
        ("go and finish the job you botched, tonight's as good a night as any", 3),
    ],
)
def test_round4_abuse(rules: Detector, text: str, tier: int) -> None:
    result = rules.detect(text)
    assert (result.tier, result.path) == (tier, A), result.explanation
