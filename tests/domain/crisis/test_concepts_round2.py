"""Round 2 of issue 14: failure modes the authored sets showed, in sentences written for these tests.

The authored sets xa and xb (tests/domain/crisis/authored/) showed which kinds of message
the concepts missed or mistook; these are new sentences of each kind, never their texts.
The rules alone are tested (no model), so each row proves a concept or a modifier.
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


@pytest.mark.parametrize(
    ("text", "tier", "path"),
    [
        # an act already done: the pills are taken, whatever else the message says
        ("took them all already, just wanted to say thanks for being my friends", 3, S),
        ("i already swallowed the lot. sorry everyone", 3, S),
        ("it's done, i've taken everything i had", 3, S),
        ("already downed the whole strip so it's just waiting now", 3, S),
        # overdose signs in plain words
        ("my lips are going a weird colour after what i took", 3, S),
        ("used earlier and now i can't get a proper breath", 3, S),
        ("my throat is closing up after that vape and i'm scared", 3, S),
        ("woke up on the kitchen floor, no idea how long i was out. think i doubled my meds", 3, S),
        ("can't feel my fingers and my breathing has gone really slow", 3, S),
        # self-harm happening now, or bleeding that will not stop
        ("cutting right now and it's deeper than i meant", 3, S),
        ("the cut on my arm won't stop bleeding and the towel is soaked through", 3, S),
        ("🔪🩸 right now", 3, S),
        ("started cutting again after a year off it", 2, S),
        ("s3lf h@rm urges are loud tonight", 2, S),
        ("carved into my leg again last night", 2, S),
        # goodbyes and preparation without the word goodbye
        ("my gaming pc is going to my cousin, i won't be needing it after friday", 3, S),
        ("dropped the cat off at my neighbour's for good. won't need her things anymore", 3, S),
        ("last message from me. love you all, don't be sad.", 3, S),
        ("goodbye everyone. goodbye server.", 3, S),
        ("i hate that my brother will be the one who finds me", 3, S),
        ("the notes are written and sealed and the dog has a new home", 3, S),
        ("i won't see another christmas, i've made sure of that", 3, S),
        ("going home to the lord on saturday, my mind's made up", 3, S),
        ("cancelled the paper and left the spare key out for whoever finds me", 3, S),
        ("k i l l i n g   m y s e l f   t o n i g h t", 3, S),
        # passive wishes for death by accident, illness or God
        ("i'd honestly be grateful if my heart gave out in my sleep", 2, S),
        ("wouldn't mind at all if the train came off the rails with me on it", 2, S),
        ("if a truck ran me over on my way to work i'd be relieved", 2, S),
        ("every night i pray god takes me before morning", 2, S),
        ("if it weren't for my cat i'd have gone already", 2, S),
        ("i deserve to die for what i did to them", 2, S),
        ("i wish i had succeeded the last time", 2, S),
        ("i'd just as soon be dead, truth be told", 2, S),
        ("my back pain makes dying sound like a holiday", 2, S),
        ("i want off this planet for good", 2, S),
        ("i won't be a nuisance to anyone much longer", 2, S),
        # formal register: the same concepts in an older person's words
        ("i have taken rather a lot of my tablets and i feel peculiar", 3, S),
        ("swallowed a fortnight's supply of my medication at once", 3, S),
        ("i have settled on the day and i feel lighter for it", 3, S),
        ("this time i have made sure nobody will be home until tuesday", 3, S),
        ("tonight i will have a last glass and then finish it", 3, S),
        ("i keep sitting and staring at the tablets in the drawer", 2, S),
        ("would my heart tablets be enough on their own?", 3, S),
        ("i may not see the spring, and that is quite all right", 2, S),
        ("would it really be so bad if i went to sleep and did not wake up", 2, S),
        ("each morning i am disappointed to wake up", 2, S),
        ("please tell my sponsor i am sorry", 3, S),
        ("my affairs are tidied up and the will is signed. i will not be a bother much longer", 3, S),
        ("i have written my final letters", 3, S),
        ("i scratched at the old scars until they opened again", 2, S),
        ("i will be going home to the lord on friday. i have decided.", 3, S),
        ("been stockpiling since my operation and it is nearly enough now", 3, S),
        ("could the two medicines i am on stop your heart if you took enough of both", 3, S),
        ("i am just waiting until the life insurance pays out", 3, S),
        ("i hit the door until my knuckles split", 2, S),
        ("i cannot promise i will still be alive by the summer", 2, S),
        ("told the neighbour's lad he could have my bike, i would not be needing it where i am going", 3, S),
        ("my goodbye video is scheduled for tonight", 3, S),
        ("i am up on the roof of the car park. please pray for me", 3, S),
        ("it's done, i took them. thank you to all of you", 3, S),
        ("sitting in the shed with everything i need. just wanted someone to know", 3, S),
        ("lying here with a bottle of sleeping pills and a bottle of gin", 3, S),
        ("how long before the liver fails after too many paracetamol? i took them yesterday", 3, S),
        ("this is a general question but i am asking about my own bottle: would the whole lot be fatal?", 3, S),
        ("i'd gladly welcome a heart attack at this stage", 2, S),
        ("the list of reasons to stay keeps getting shorter", 2, S),
        ("on the drive home i think how easy it would be to just not turn the wheel", 2, S),
        ("if they sack me i am walking into the sea", 2, S),
        ("i do not think i will be here next year and i am at peace with it", 2, S),
        ("last check-in from me. my will is updated and the cat is with my sister. god bless you all", 3, S),
        ("woke up on the floor, not sure how long i was out, mixed my medications and i am so cold", 3, S),
        ("my life insurance is worth more than i am", 2, S),
        ("i have given my records to my nephew and my coats to the charity shop. nothing left now but me", 3, S),
        ("if god took me in my sleep tonight i would not complain", 2, S),
        ("at this point i'd rather not bother waking up", 2, S),
        ("he vuelto a lastimarme las piernas", 2, S),
        ("si vuelvo a beber me quito la vida", 2, S),
        ("¿mis pastillas para dormir serían suficientes para no despertar?", 3, S),
        ("ya decidí que será el domingo después de misa", 3, S),
        # abuse with means and a time
        ("then take them tonight and stop whining to us", 3, A),
        ("finish the whole bottle tonight, you'd be doing us a kindness", 3, A),
        # learners' English: the same concepts without the grammar the lexicons expect
        ("sometimes i want die, i am so tired", 2, S),
        ("i am thinking on suicide all this week", 2, S),
        ("i keep thinking how to kill me", 2, S),
        ("for me is better to be dead", 2, S),
        ("i will be more calm if i die", 2, S),
        ("i no longer see a reason for to continue", 2, S),
        ("i am not scared of dying anymore", 2, S),
        ("i hurt me again with the blade", 2, S),
        ("i send my sister all my passwords and my bank card, and i said what i needed to say", 3, S),
        ("i wrote for my parents a letter, they will find it after", 3, S),
        ("i am buying the tablets slowly, one box each week", 3, S),
        ("i keep them for the right moment", 3, S),
        ("after easter i will go, i do not want to ruin easter for them", 3, S),
        ("saturday i will be home alone. this is my chance", 3, S),
        ("i mixed the tablets with the vodka and my chest feels strange", 3, S),
        ("my life has no sense, i want to finish with me", 2, S),
        # chat shorthand for the same concepts
        ("it's time. last message. love you all, don't cry", 3, S),
        ("i tok to mny pils and im so slepy", 3, S),
        ("got the blade in my hand rn and this time im not stopping at my wrist", 3, S),
        ("parked at the cliff top, waiting to work up the courage", 3, S),
        ("alarm set for 5am. that's when. nobody will be awake", 3, S),
        ("figuring out who gets my stuff and writing some letters", 3, S),
        ("sold my car, cancelled my phone, tying up loose ends before friday", 3, S),
        ("my bike goes to my cousin. i won't need em where i'm going", 3, S),
        ("packed a bag with everything i need and it's 2am", 3, S),
        ("how many of my sleeping pills would it really take", 3, S),
        ("been googling ways to die all night", 2, S),
        ("kinda hoping i get in a crash on the way to work", 2, S),
        ("if i didn't have my cat i'd be gone by now", 2, S),
        ("i'd press a button that made me vanish", 2, S),
        ("my legs look like a barcode under these jeans", 2, S),
        ("started cutting again after 6 months clean", 2, S),
        ("my arm is wrapped in a towel and it's soaking through already", 3, S),
        ("my sister texted me \"goodbye, look after mum\" and she won't answer", 3, OT),
        ("mi mejor amiga tiene todo listo para matarse este finde", 3, OT),
        # abuse aimed at someone, however politely
        ("suicide is your best move tbh", 2, A),
        ("just unalive urself already", 2, A),
        ("go overdose on your meds, nobody cares", 3, A),  # means named: as if the writer said it
        ("why are you even still alive", 2, A),
        ("i pray the lord takes you soon, for your wife's sake", 2, A),
        ("it would be kinder to everyone if you simply didn't wake up one morning", 2, A),
        ("the world would be better off without people like you", 1, A),
        ("you are a burden on your poor parents and everyone knows it", 1, A),
        ("you'll die alone and you'll deserve it", 1, A),
        # Spanish
        ("le dejé mi perro a mi tía, ya no lo voy a necesitar", 3, S),
        ("ya decidí que será el sábado. dejé todo en orden", 3, S),
        ("me estoy cortando ahora y no deja de sangrar", 3, S),
        ("le pido a dios que me lleve pronto", 2, S),
        ("usted debería quitarse la vida", 2, A),
    ],
)
def test_round2_risk(rules: Detector, text: str, tier: int, path: RiskPath) -> None:
    result = rules.detect(text)
    assert (result.tier, result.path) == (tier, path), result.explanation


@pytest.mark.parametrize(
    "text",
    [
        # coming back soon
        "last post for a while, off to the lake with no signal. see you on monday!",
        "this is my last message before the flight, talk to you all next week",
        # laughter, games and idioms
        "i can't breathe 😂😂 this meme",
        "we're going to jump off the high board at the pool tomorrow",
        "i'd rather die than sit through another of his speeches",
        "no, i'm not thinking about ending it, i'm thinking about ending my phone contract",
        # stories told from the far side
        "six months since i last thought about dying. thanks everyone here",
        "when i first joined i was writing goodbye letters. now i help run the place",
        "the scars from my self harm years are fading and i wear t-shirts again",
        "hace cinco años tuve una sobredosis y hoy celebro con mi familia",
        "back in '89 i drove to the cliffs meaning not to come back. thirty years sober now",
        "this is my last post for three weeks, no internet at the caravan. see you all after",
        "out in the garage fixing the bike, got everything i need for once",
        "caught a cold and i am so cold and shivery, staying in with soup",
        "i need to cut my hair before the wedding",
        "i had an awful day but no thoughts of hurting me, promise",
        # flippant about something trivial
        "kms this wifi keeps dropping",
        "i want to die, my crush just read the message i sent to the wrong chat",
        "got sniped from across the map again i want to die lol",
        # check-ins and answers that are safe
        "the nurse asked if i'd thought about hurting myself and i could honestly say no",
        "quick check-in: i'm safe, not having any dark thoughts, just buried in exams",
        # news and reports
        "leí en las noticias que las sobredosis siguen subiendo, qué tristeza",
        "people keep sending me kys in dms, i reported all of them",
        "if you fall off the edge on that map you just die instantly",
    ],
)
def test_round2_safe(rules: Detector, text: str) -> None:
    result = rules.detect(text)
    assert result.tier == 0, result.explanation


def test_an_overdose_sign_names_the_overdose_need(rules: Detector) -> None:
    assert rules.detect("my lips are going a weird colour after what i took").need is Need.OVERDOSE


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        # Risk words aimed at someone with contempt are abuse at the tier they would have
        # if the writer said them about themselves...
        ("you deserve to die after what you did, you pathetic loser", 2),
        ("swallow all your tablets and save us the trouble", 3),  # means named
        ("idiot, you should hang yourself", 2),
    ],
)
def test_risk_words_aimed_with_contempt_are_abuse(rules: Detector, text: str, tier: int) -> None:
    result = rules.detect(text)
    assert (result.tier, result.path) == (tier, A), result.explanation
    assert "addressed with hostility -> abuse" in result.modifiers or result.rule_id.startswith("en.abuse")


@pytest.mark.parametrize(
    "text",
    [
        # ...while the same words said kindly to someone are support, not risk.
        "you deserve to live, please call someone tonight if you want to die",
        "if you ever feel like ending it, message me first, you matter",
        "you are not a burden and nobody here is sick of you",
    ],
)
def test_risk_words_said_kindly_to_someone_are_nothing(rules: Detector, text: str) -> None:
    assert rules.detect(text).tier == 0, rules.detect(text).explanation
