"""The learned part of passive crisis detection: logistic regression on words, letters and concepts.

The concept rules (detection.py) say why they fire, but people find more ways to say a
thing than any lexicon lists: other registers, other grammar (learners of English write "i
take too much of my pills"), typos. This model weighs what a message is made of — its
words and word pairs, the four-letter pieces of its longer words (so "stockpiled",
"stockpiling" and "stokpiled" share most of their evidence), the concepts the rules saw,
the context the rules noticed (a past story, a quote, a question, a joke) and the tier the
rules gave — and says how likely the message is at tier >= 1, >= 2 and 3.

How the detector uses it (detection.py, `Detector.detect`):

* it speaks only where the rules saw a risk concept or a cue word (`[model]` in the rule
  file), and never where the author said they are safe;
* it may raise a tier: over a rules' tier 0 only with `threshold_new` (an alert from nothing
  needs more evidence), over tier 1-2 with `threshold_up`;
* it may veto a rules' tier 1-2 alert when p(tier >= 1) < `veto` — never a tier 3 alert,
  never an overdose, never abuse. A missed imminent alert is far worse than a false alarm,
  so the model is not trusted to cancel one; the veto only removes low-tier alerts the
  model is confident are not risk at all (jokes about homework, safe check-ins);
* every alert it makes names itself ("en.model.tier3"), the concepts or cues that woke it
  and its probability.

Training is deterministic (bench/train_crisis_model.py) on examples written for this
project and the authored development sets (tests/domain/crisis/); the weights ship as
data/crisis_model.json. Nothing is downloaded; scoring is a few hundred dict lookups.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["HEADS", "ModelError", "RiskModel", "digest", "features", "train"]

HEADS = (1, 2, 3)  # p(tier >= 1), p(tier >= 2), p(tier == 3)
_GRAM = 4  # letters per piece of a word; words shorter than this add no pieces


class ModelError(ValueError):
    """The model file is malformed or does not match its rules and examples."""


def features(words: Sequence[str], concepts: Iterable[str], context: Iterable[str] = (),
             rule_tier: int = 0) -> frozenset[str]:
    """Return the model's features: words, word pairs, letter pieces, concepts, context, rules' tier."""
    out = {f"w:{w}" for w in words}
    out.update(f"b:{a}_{b}" for a, b in zip(words, words[1:], strict=False))
    for w in set(words):
        if len(w) >= _GRAM:
            padded = f"<{w}>"
            out.update(f"g:{padded[i:i + _GRAM]}" for i in range(len(padded) - _GRAM + 1))
    out.update(f"c:{c}" for c in concepts)
    out.update(f"m:{m}" for m in context)
    out.add(f"r:{rule_tier}")
    return frozenset(out)


def digest(*texts: str) -> str:
    """Return a short digest of the files a model was trained from."""
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True, slots=True)
class Head:
    """One logistic regression."""

    bias: float
    weights: Mapping[str, float]

    def score(self, feats: Iterable[str]) -> float:
        """Return the probability for a message's features."""
        w = self.weights
        return _sigmoid(self.bias + sum(w.get(f, 0.0) for f in feats))


@dataclass(frozen=True, slots=True)
class RiskModel:
    """Three logistic regressions (tier >= 1, >= 2, 3) and how the detector may use them."""

    version: str
    source_digest: str
    heads: Mapping[int, Head]
    threshold_new: float
    threshold_up: float
    veto: float

    def scores(self, feats: Iterable[str]) -> dict[int, float]:
        """Return p(tier >= 1), p(tier >= 2) and p(tier == 3), keyed 1, 2, 3."""
        feats = tuple(feats)
        return {k: head.score(feats) for k, head in self.heads.items()}

    def tier(self, scores: Mapping[int, float], rule_tier: int) -> tuple[int, float]:
        """Return the tier the model gives (0, 2 or 3) over the rules' tier, and its probability."""
        threshold = self.threshold_new if rule_tier == 0 else self.threshold_up
        if scores[3] >= threshold:
            return 3, scores[3]
        if scores[2] >= threshold:
            return 2, scores[2]
        return 0, scores[2]

    def to_json(self) -> str:
        """Serialise deterministically (sorted keys, rounded weights)."""
        data = {
            "version": self.version,
            "source_digest": self.source_digest,
            "threshold_new": self.threshold_new,
            "threshold_up": self.threshold_up,
            "veto": self.veto,
            "heads": {
                str(k): {"bias": round(h.bias, 4),
                         "weights": {f: round(v, 3) for f, v in sorted(h.weights.items())}}
                for k, h in sorted(self.heads.items())
            },
        }
        return json.dumps(data, indent=0, sort_keys=True, ensure_ascii=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = "model") -> RiskModel:
        """Parse a model file, naming what is wrong with it."""
        try:
            raw: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{where}: not valid JSON: {exc}") from exc
        try:
            heads = {int(k): Head(float(h["bias"]), {str(f): float(v) for f, v in h["weights"].items()})
                     for k, h in raw["heads"].items()}
            model = cls(str(raw["version"]), str(raw["source_digest"]), heads, float(raw["threshold_new"]),
                        float(raw["threshold_up"]), float(raw["veto"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"{where}: missing or malformed field: {exc}") from exc
        if set(model.heads) != set(HEADS):
            raise ModelError(f"{where}: needs heads {list(HEADS)}, has {sorted(model.heads)}")
        if not (0.0 < model.threshold_new < 1.0 and 0.0 < model.threshold_up < 1.0 and 0.0 <= model.veto < 0.5):
            raise ModelError(f"{where}: thresholds must be between 0 and 1 (veto below 0.5)")
        return model

    @classmethod
    def load(cls, path: str | Path) -> RiskModel:
        """Load a model file."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"), str(path))


def _fit(rows: Sequence[tuple[frozenset[str], int]], *, l2: float, epochs: int, rate: float,
         seed: int) -> Head:
    """Fit one logistic regression by stochastic gradient descent (deterministic)."""
    weights: dict[str, float] = {}
    bias = 0.0
    order = list(range(len(rows)))
    rng = random.Random(seed)
    decay = l2 / max(1, len(rows))
    feature_rows = [sorted(f) for f, _ in rows]  # sorted: the same sums in the same order every run
    for epoch in range(epochs):
        rng.shuffle(order)
        step = rate / (1.0 + 0.05 * epoch)
        for i in order:
            feats, label = feature_rows[i], rows[i][1]
            z = bias + sum(weights.get(f, 0.0) for f in feats)
            grad = _sigmoid(z) - label
            bias -= step * grad
            for f in feats:
                w = weights.get(f, 0.0)
                weights[f] = w - step * (grad + decay * w)
    return Head(bias, {k: v for k, v in weights.items() if abs(v) >= 0.01})


def train(examples: Sequence[tuple[frozenset[str], int]], *, version: str, source_digest: str,
          threshold_new: float = 0.8, threshold_up: float = 0.6, veto: float = 0.1, l2: float = 30.0,
          epochs: int = 30, rate: float = 0.3, seed: int = 14) -> RiskModel:
    """Train the three heads on (features, tier) examples."""
    heads = {k: _fit([(f, int(t >= k)) for f, t in examples], l2=l2, epochs=epochs, rate=rate, seed=seed)
             for k in HEADS}
    return RiskModel(version, source_digest, heads, threshold_new, threshold_up, veto)
