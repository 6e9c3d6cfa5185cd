"""Normalisation table: what the phrase rules see for each disguise."""

from __future__ import annotations

import pytest

from bot.domain.crisis.normalise import normalise, strip_markup


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # case, accents, NFKC
        ("I WANT TO DIE", "i want to die"),
        ("no quiero vivir más", "no quiero vivir mas"),
        ("Mátate", "matate"),
        ("ｉ ｗａｎｔ ｔｏ ｄｉｅ", "i want to die"),  # fullwidth
        # zero-width characters and homoglyphs (Cyrillic а, е; Greek ο)
        ("d\u200bi\u200be", "die"),
        ("ki\u00adll myself", "kill myself"),
        ("i wаnt to diе", "i want to die"),
        ("kill mysεlf", "kill myself"),
        ("gοodbye", "goodbye"),
        # leetspeak, only inside words
        ("k1ll mys3lf", "kill myself"),
        ("i w4nt t0 d1e", "i want to die"),
        ("$uicidal", "suicidal"),
        ("su1c1dal", "suicidal"),
        ("help!", "help!"),
        ("ran 100 kms", "ran 100 kms"),
        ("5kms today", "5kms today"),
        ("3am thoughts", "3am thoughts"),
        ("2nd time this week", "2nd time this week"),
        ("i have 2 kids", "i have 2 kids"),
        # repeated letters
        ("i want to diiiiie", "i want to die"),
        ("soooo tired", "so tired"),
        ("killllll myself", "kill myself"),
        ("goodbye", "goodbye"),
        # spaced and dotted letters
        ("k i l l m y s e l f", "kill myself"),
        ("i want to d i e", "i want to die"),
        ("k.m.s", "kill myself"),
        ("K Y S", "kill yourself"),
        ("s u i c i d a l", "suicidal"),
        # evasions and shorthand
        ("i want to unalive myself", "i want to kill myself"),
        ("i want to unalive", "i want to kill myself"),
        ("unalive yourself", "kill yourself"),
        ("sewerslide", "suicide"),
        ("sewer slide", "suicide"),
        ("kms", "kill myself"),
        ("kms lol", "kill myself lol"),
        ("kys", "kill yourself"),
        ("kmsl", "lol"),
        ("my kms per week", "my kms per week"),
        ("considering self-deletion", "considering suicide"),
        ("i wanna ctb", "i want to kill myself"),
        ("thinking about s*icide", "thinking about suicide"),
        ("k*ll my self", "kill myself"),
        ("he od'd", "he overdosed"),
        ("that's odd", "that is odd"),
        # contractions
        ("I’m not okay", "i am not okay"),
        ("i can't go on", "i can not go on"),
        ("i don't want to live", "i do not want to live"),
        ("i won't be here", "i will not be here"),
        ("i'd kill for a coffee", "i would kill for a coffee"),
        ("i'll be gone", "i will be gone"),
        # words inside words stay whole
        ("diet", "diet"),
        ("studied", "studied"),
        ("skills", "skills"),
        # laughing and music emoji become markers
        ("dead 😂", "dead lol"),
        ("🎶 la la 🎶", "lyricsmark la la lyricsmark"),
        # line breaks end sentences
        ("first\nsecond", "first . second"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("```bash\nkill -9 42\n``` done", "done"),
        ("```\nunclosed kill -9", ""),
        ("run `pkill -f node` now", "run now"),
        ("> i want to die\nsending love", ". sending love"),
        (">>> everything\nafter is quoted", ""),
        ("see https://example.com/die-hard ok", "see ok"),
        ("see www.example.com/kill ok", "see ok"),
        ("<@123456> kys", "someone kill yourself"),
        ("<:pepehands:1234> sad", "pepehands sad"),
        ("a > b is fine", "a b is fine"),
    ],
)
def test_markup_is_removed(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_strip_markup_keeps_plain_text() -> None:
    text = "nothing special here, just a check-in"
    assert strip_markup(text) == text


def test_empty_and_whitespace() -> None:
    assert normalise("") == ""
    assert normalise("   \n\t ") == "."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # "@" inside a word is leetspeak, not a mention; "@name" at a word's start is one
        ("s3lf h@rm", "selfharm"),
        ("ask @sam about it", "ask someone about it"),
        # "ur" before what someone owns is "your"; elsewhere "you are"
        ("take ur meds", "take your meds"),
        ("ur best option", "your best option"),
        ("ur so kind", "you are so kind"),
        # "unalive" aimed at someone keeps its object
        ("just unalive urself", "just kill yourself"),
        ("unalive yourself", "kill yourself"),
    ],
)
def test_round2_normalisation(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # learners' grammar, mended where it hides a risk phrase
        ("i want die", "i want to die"),
        ("i am ready end it", "i am ready to end it"),
        ("i not want to live", "i do not want to live"),
        ("i no need help", "i do not need help"),
        ("i want dissapear for always", "i want to disappear forever"),
        # and left alone where it is ordinary English
        ("i want pizza", "i want pizza"),
        ("i am not ready", "i am not ready"),
    ],
)
def test_learners_grammar(raw: str, expected: str) -> None:
    assert normalise(raw) == expected
