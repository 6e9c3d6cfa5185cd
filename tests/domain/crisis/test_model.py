"""The learned backstop: shipped up to date, reproducible, and only ever raising a tier."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bench.train_crisis_model import EXAMPLES, MODEL, build, load_examples, source_digest
from bot.domain.crisis.detection import Detector, PhraseRulesError, RiskPath
from bot.domain.crisis.model import ModelError, RiskModel, features, train
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


def test_the_model_only_ever_raises_a_tier(detector: Detector, rules_only: Detector) -> None:
    for _, text in load_examples(EXAMPLES):
        assert detector.detect(text).tier >= rules_only.detect(text).tier, text


@pytest.mark.parametrize(
    "text",
    [
        # My own sentences the rules alone miss: words they have no pattern for, beside a
        # concept they do see (a farewell, a place, means at hand).
        "got my sleeping tablets out and the house is quiet",
        "standing at the edge of the platform watching the trains go past",
    ],
)
def test_the_model_raises_what_the_rules_half_saw(detector: Detector, rules_only: Detector, text: str) -> None:
    assert rules_only.detect(text).tier < detector.detect(text).tier


def test_a_model_alert_explains_itself_without_message_words(detector: Detector) -> None:
    text = "got my sleeping tablets out and the house is quiet"
    result = detector.detect(text)
    assert result.rule_id in ("en.model.tier2", "en.model.tier3")
    assert result.concepts and all(c.isidentifier() for c in result.concepts)
    [prob] = [m for m in result.modifiers if m.startswith("model p=")]
    assert 0.5 < float(prob.removeprefix("model p=")) <= 1.0
    kept = safe_modifiers(result.modifiers, result.concepts)
    assert prob in kept and not any("quiet" in k or "tablets" in k for k in kept)


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


def test_features_are_words_pairs_and_concepts() -> None:
    assert features(["i", "want", "out"], ["wish"]) == frozenset(
        {"w:i", "w:want", "w:out", "b:i_want", "b:want_out", "c:wish"})


def test_a_tiny_model_learns_and_scores() -> None:
    pos, neg = frozenset({"w:pills", "c:means_ready"}), frozenset({"w:coffee"})
    model = train([(pos, 3)] * 10 + [(neg, 0)] * 10, version="t", source_digest="t")
    assert model.tier(pos)[0] == 3 and model.tier(neg)[0] == 0
    assert RiskModel.from_json(model.to_json()).to_json() == model.to_json()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ('{"version": "x"}', "missing or malformed"),
        (json.dumps({"version": "x", "source_digest": "d", "bias2": 0, "bias3": 0, "weights2": {},
                     "weights3": {}, "threshold2": 1.5, "threshold3": 0.5}), "thresholds"),
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
