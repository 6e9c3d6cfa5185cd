"""The learned model: shipped up to date, reproducible, raising tiers with evidence, vetoing only low tiers."""

from __future__ import annotations

import copy
import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bench.train_crisis_model import (
    EXAMPLES,
    MODEL,
    build,
    source_digest,
    training_rows,
)
from bot.domain.crisis.detection import Detector, PhraseRulesError, RiskPath
from bot.domain.crisis.model import (
    HEADS,
    FeatureSet,
    ModelError,
    RiskModel,
    features,
    learned_cues,
    train,
)
from bot.domain.crisis.resources import Need
from bot.services.crisis import safe_modifiers

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "data" / "crisis_phrases.toml"


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.from_file(RULES)


@pytest.fixture(scope="module")
def rules_only() -> Detector:
    return Detector.from_file(RULES, use_model=False)


def test_the_shipped_model_was_trained_from_these_rules_and_examples() -> None:
    shipped = RiskModel.load(MODEL)
    assert shipped.source_digest == source_digest(), (
        "data/crisis_phrases.toml or own_examples.tsv changed: run python bench/train_crisis_model.py")


def test_training_is_deterministic_and_reproduces_the_shipped_weights() -> None:
    assert build().to_json() == MODEL.read_text(encoding="utf-8")


def test_the_detector_version_names_rules_and_model(detector: Detector, rules_only: Detector) -> None:
    assert detector.version == f"{rules_only.version}+{RiskModel.load(MODEL).version}"


def test_the_model_never_lowers_tier_3_and_vetoes_only_low_tiers(detector: Detector, rules_only: Detector) -> None:
    # Missing imminent risk is far worse than a false alarm: a rules' tier-3 alert always
    # stands. A tier 1-2 alert may be vetoed, only when the model is confident there is no
    # risk at all, never for an overdose, and the detection says so.
    shipped = RiskModel.load(MODEL)
    vetoed = 0
    for _, text in training_rows():
        rules, full = rules_only.detect(text), detector.detect(text)
        if rules.tier == 3:
            assert full.tier == 3, text
        if full.tier < rules.tier:
            vetoed += 1
            assert rules.tier in (1, 2) and full.tier == 0 and rules.need is not Need.OVERDOSE, text
            [note] = [m for m in full.modifiers if m.startswith("model veto p1=")]
            assert float(note.removeprefix("model veto p1=")) < shipped.veto, text
            assert rules.rule_id in full.matched  # what the rules saw is still on record
    # A guard for the clearest jokes and safe check-ins, not a second opinion: round 3's
    # model vetoes 33 of its 3,460 training messages, every one labelled tier 0.
    assert vetoed < 50


def test_a_veto_is_explained(detector: Detector, rules_only: Detector) -> None:
    # A hard negative of my own the distress concept matches.
    text = "I'm so done with this weather."
    assert rules_only.detect(text).tier == 1
    result = detector.detect(text)
    assert result.tier == 0 and result.rule_id is None
    assert any(m.startswith("model veto p1=") for m in result.modifiers)


@pytest.mark.parametrize(
    "text",
    [
        # My own sentences the rules alone miss: words they have no pattern for, beside a
        # concept they do see (means at hand) or only a cue word ("pills").
        "the pills are in front of me and i cant stop looking at them",
        "i want to sleep with the pills forever",
    ],
)
def test_the_model_raises_what_the_rules_half_saw(detector: Detector, rules_only: Detector, text: str) -> None:
    assert rules_only.detect(text).tier < detector.detect(text).tier


@pytest.mark.parametrize(
    ("text", "woke"),
    [
        ("the pills are in front of me and i cant stop looking at them", ("means_ready",)),
        ("i want to sleep with the pills forever", ("cue",)),  # no rule concept: a cue word woke it
    ],
)
def test_a_model_alert_explains_itself_without_message_words(detector: Detector, text: str,
                                                             woke: tuple[str, ...]) -> None:
    result = detector.detect(text)
    assert result.rule_id in ("en.model.tier2", "en.model.tier3")
    assert result.concepts == woke
    [prob] = [m for m in result.modifiers if m.startswith("model p=")]
    assert RiskModel.load(MODEL).threshold_new <= float(prob.removeprefix("model p=")) <= 1.0
    kept = safe_modifiers(result.modifiers, result.concepts)
    assert prob in kept and not any("pills" in k or "front" in k for k in kept)


def test_an_alert_from_nothing_needs_more_evidence_than_raising_one() -> None:
    shipped = RiskModel.load(MODEL)
    assert shipped.threshold_new > shipped.threshold_up
    scores = {1: 0.9, 2: 0.85, 3: 0.2}
    assert shipped.tier(scores, rule_tier=0)[0] == (2 if 0.85 >= shipped.threshold_new else 0)
    assert shipped.tier(scores, rule_tier=1)[0] == 2


def test_a_relapse_alone_never_wakes_the_model(detector: Detector) -> None:
    # "I want to drink" looks like "I want to die" to a bag of words; the rules saw only a
    # relapse, which the model may not raise.
    result = detector.detect("i relapsed last night and i want to drink so bad")
    assert (result.tier, result.need) == (1, Need.RELAPSE)


def test_a_protective_statement_keeps_the_model_out(detector: Detector) -> None:
    result = detector.detect("quick update, i am safe and not in any danger, picked up my meds and slept")
    assert result.tier == 0


def test_abuse_stays_abuse(detector: Detector) -> None:
    result = detector.detect("nobody would miss you, go swallow them all tonight")
    assert result.path is RiskPath.ABUSE


def test_features_are_words_pairs_letter_pieces_concepts_context_and_the_rules_tier() -> None:
    assert features(["i", "want", "out"], ["wish"], ["past"], 2) == frozenset(
        {"w:i", "w:want", "w:out", "b:i_want", "b:want_out", "g:<wan", "g:want", "g:ant>",
         "c:wish", "m:past", "r:2"})


def test_letter_pieces_share_evidence_between_forms_and_typos() -> None:
    a = {f for f in features(["stockpiled"], []) if f.startswith("g:")}
    b = {f for f in features(["stokpiling"], []) if f.startswith("g:")}
    assert {"g:kpil", "g:<sto"} <= a & b  # shared despite the typo and the tense


def test_a_tiny_model_learns_and_scores() -> None:
    pos, neg = frozenset({"w:pills", "c:means_ready"}), frozenset({"w:coffee"})
    model = train([(pos, 3)] * 10 + [(neg, 0)] * 10, version="t", source_digest="t", l2=1.0)
    assert set(model.heads) == set(HEADS)
    assert model.tier(model.scores(pos), 0)[0] == 3 and model.tier(model.scores(neg), 0)[0] == 0
    assert RiskModel.from_json(model.to_json()).to_json() == model.to_json()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ('{"version": "x"}', "missing or malformed"),
        (json.dumps({"version": "x", "source_digest": "d", "threshold_new": 1.5, "threshold_up": 0.5,
                     "veto": 0.1, "heads": {k: {"bias": 0, "weights": {}} for k in "123"}}), "thresholds"),
        (json.dumps({"version": "x", "source_digest": "d", "threshold_new": 0.9, "threshold_up": 0.5,
                     "veto": 0.7, "heads": {k: {"bias": 0, "weights": {}} for k in "123"}}), "veto below 0.5"),
        (json.dumps({"version": "x", "source_digest": "d", "threshold_new": 0.9, "threshold_up": 0.5,
                     "veto": 0.1, "heads": {"2": {"bias": 0, "weights": {}}}}), "needs heads"),
    ],
)
def test_a_broken_model_file_is_refused(text: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        RiskModel.from_json(text)


def test_the_model_section_is_checked() -> None:
    with open(RULES, "rb") as fh:
        raw: dict[str, Any] = tomllib.load(fh)
    bad = copy.deepcopy(raw)
    bad["model"]["needs_any"] = ["no_such_concept"]
    with pytest.raises(PhraseRulesError, match="needs_any names unknown"):
        Detector.from_mapping(bad, base=RULES.parent)
    missing = copy.deepcopy(raw)
    missing["model"]["file"] = "no_such_model.json"
    with pytest.raises(PhraseRulesError, match=r"\[model\]"):
        Detector.from_mapping(missing, base=RULES.parent)


def test_updating_the_measured_numbers_does_not_make_the_model_stale(tmp_path: Path) -> None:
    import re

    text = RULES.read_text(encoding="utf-8")
    edited = tmp_path / "crisis_phrases.toml"
    remeasured = re.sub(r"(?m)^tier3_recall = .*$", "tier3_recall = 0.12", text)
    assert remeasured != text
    edited.write_text(remeasured, encoding="utf-8")
    assert source_digest(edited) == source_digest()
    edited.write_text(text.replace('cue = "cue"', 'cue = "cue"\n# a change to what the model sees', 1),
                      encoding="utf-8")
    assert source_digest(edited) != source_digest()


def test_a_note_in_the_examples_does_not_make_the_model_stale(tmp_path: Path) -> None:
    text = EXAMPLES.read_text(encoding="utf-8")
    noted = tmp_path / "own_examples.tsv"
    noted.write_text(text + "# a note about the last batch\n", encoding="utf-8")
    assert source_digest(examples=noted) == source_digest()
    noted.write_text(text + "0\tnone\tidiom\ta new example about the weather\n", encoding="utf-8")
    assert source_digest(examples=noted) != source_digest()


def test_a_class_weight_makes_missed_risk_cost_more() -> None:
    # Rare risk wording beside common safe wording: weighting the positive rows pulls the
    # tier-3 probability of an ambiguous message up, and leaves the other heads alone.
    risk, safe, both = frozenset({"w:tonight"}), frozenset({"w:movie"}), frozenset({"w:tonight", "w:movie"})
    rows = [(risk, 3)] * 3 + [(safe, 0)] * 12 + [(both, 0)] * 3
    plain = train(rows, version="t", source_digest="t", l2=1.0)
    weighted = train(rows, version="t", source_digest="t", l2=1.0, pos_weight={3: 4.0})
    assert weighted.scores(both)[3] > plain.scores(both)[3] + 0.05
    assert weighted.heads[1] == plain.heads[1]


def test_learned_cue_words_are_risk_words_and_round_trip() -> None:
    pos, neg = frozenset({"w:stockpile", "g:<sto"}), frozenset({"w:coffee"})
    model = train([(pos, 3)] * 10 + [(neg, 0)] * 10, version="t", source_digest="t", l2=1.0)
    cues = learned_cues(model, 0.3)
    assert cues == frozenset({"stockpile"})  # words only, never letter pieces; never "coffee"
    with_cues = dataclasses.replace(model, cue_words=cues, feature_set=FeatureSet(grams=(3, 4)))
    again = RiskModel.from_json(with_cues.to_json())
    assert again.cue_words == cues and again.feature_set == FeatureSet(grams=(3, 4))


def test_a_model_without_cue_words_is_written_as_before() -> None:
    # The shipped file of round 2 has no cue words or feature set; reading and writing it
    # must not change a byte (its digest and the reproducibility test depend on it).
    assert RiskModel.load(MODEL).to_json() == MODEL.read_text(encoding="utf-8")


def test_a_learned_cue_word_wakes_the_model_where_no_rule_concept_matched(rules_only: Detector) -> None:
    text = "quokka-marker: the zeppelin leaves at nine and so do i"
    assert rules_only.features(text) == frozenset()  # nothing the rules know wakes the model
    feats = rules_only.features(text, every=True)
    assert "w:zeppelin" in feats
    model = train([(feats, 3)] * 10 + [(frozenset({"w:coffee"}), 0)] * 10, version="t", source_digest="t",
                  l2=1.0)
    assert rules_only.with_model(model).detect(text).tier == 0  # the model is never asked
    woken = rules_only.with_model(dataclasses.replace(model, cue_words=frozenset({"zeppelin"})))
    detection = woken.detect(text)
    assert detection.tier == 3
    assert detection.rule_id is not None and "model_cue" in detection.explanation


def test_an_everyday_word_beside_risk_is_not_a_cue() -> None:
    # "tonight" appears only with risk here; "okay" as often in ordinary messages. Both earn
    # weight, but a cue must mostly mean risk where it occurs: waking the model on "okay"
    # would run the whole analysis for most ordinary chat.
    risk = frozenset({"w:tonight", "w:okay"})
    rows = [(risk, 3)] * 8 + [(frozenset({"w:okay", "w:pasta"}), 0)] * 6 + [(frozenset({"w:pasta"}), 0)] * 6
    model = train(rows, version="t", source_digest="t", l2=1.0)
    assert {"tonight", "okay"} <= learned_cues(model, 0.1)
    assert learned_cues(model, 0.1, rows, min_share=0.7) == frozenset({"tonight"})


def test_two_letter_words_are_never_cue_words() -> None:
    # "go" (goodbyes, "let me go") was tier >= 2 in most training messages holding it in
    # round 4, but it is in a large share of ordinary chat: as a cue word it woke the model
    # on them and cost the ordinary-chat throughput 15 %.
    risk = frozenset({"w:go", "w:tonight"})
    rows = [(risk, 3)] * 8 + [(frozenset({"w:pasta"}), 0)] * 8
    model = train(rows, version="t", source_digest="t", l2=1.0)
    assert learned_cues(model, 0.1, rows, min_share=0.7) == frozenset({"tonight"})


def test_skipping_hopeless_cue_word_messages_never_loses_an_alert(detector: Detector,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # The shortcut for messages only a learned cue word woke is an upper bound: forcing it
    # open must change no outcome, on risk messages and on ordinary chat.
    from bench.bench_detection import load_messages, synthetic

    texts = load_messages()[::3] + synthetic(__import__("random").Random(14), 300)
    woken = [t for t in texts if (seen := detector._analyse(t, cues=True)) is not None and not seen.anchored]
    assert len(woken) > 30  # the shortcut is exercised
    fast = [detector.detect(t) for t in woken]
    monkeypatch.setattr(RiskModel, "could_alert_from_nothing", lambda self, feats, unknown: True)
    assert [detector.detect(t) for t in woken] == fast
    assert any(d.tier > 0 for d in fast)  # some of them do alert
