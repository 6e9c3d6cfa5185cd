"""A small learned backstop for passive crisis detection: logistic regression on words and concepts.

The concept rules (detection.py) say why they fire, but people find more ways to say a
thing than any lexicon lists. This model weighs the words of a message (and its bigrams)
and the concepts the rules saw in it, and says how likely the message is at tier >= 2 and
at tier 3. The detector only lets it raise a tier, never lower one, only for messages in
which the rules already saw a risk concept, and names it ("en.model.tier3", with the
concepts and the probability) like any rule.

It is trained only on examples written for this project (tests/domain/crisis/
own_examples.tsv), by `bench/train_crisis_model.py`, deterministically; the weights ship
as data/crisis_model.json. Nothing is downloaded; scoring is a few dict lookups.
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

__all__ = ["ModelError", "RiskModel", "digest", "features", "train"]


class ModelError(ValueError):
    """The model file is malformed or does not match its rules and examples."""


def features(words: Sequence[str], concepts: Iterable[str]) -> frozenset[str]:
    """Return the model's features: words, word pairs and concept names."""
    out = {f"w:{w}" for w in words}
    out.update(f"b:{a}_{b}" for a, b in zip(words, words[1:], strict=False))
    out.update(f"c:{c}" for c in concepts)
    return frozenset(out)


def digest(*texts: str) -> str:
    """Return a short digest of the rule file and examples a model was trained from."""
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True, slots=True)
class RiskModel:
    """Two logistic regressions: p(tier >= 2) and p(tier == 3), with their thresholds."""

    version: str
    source_digest: str
    bias2: float
    bias3: float
    weights2: Mapping[str, float]
    weights3: Mapping[str, float]
    threshold2: float
    threshold3: float

    def scores(self, feats: Iterable[str]) -> tuple[float, float]:
        """Return p(tier >= 2) and p(tier == 3) for a message's features."""
        z2, z3 = self.bias2, self.bias3
        w2, w3 = self.weights2, self.weights3
        for f in feats:
            z2 += w2.get(f, 0.0)
            z3 += w3.get(f, 0.0)
        return _sigmoid(z2), _sigmoid(z3)

    def tier(self, feats: Iterable[str]) -> tuple[int, float]:
        """Return the tier the model would give (0, 2 or 3) and its probability."""
        p2, p3 = self.scores(feats)
        if p3 >= self.threshold3:
            return 3, p3
        if p2 >= self.threshold2:
            return 2, p2
        return 0, p2

    def to_json(self) -> str:
        """Serialise deterministically (sorted keys, rounded weights)."""
        data = {
            "version": self.version,
            "source_digest": self.source_digest,
            "threshold2": self.threshold2,
            "threshold3": self.threshold3,
            "bias2": round(self.bias2, 4),
            "bias3": round(self.bias3, 4),
            "weights2": {k: round(v, 4) for k, v in sorted(self.weights2.items())},
            "weights3": {k: round(v, 4) for k, v in sorted(self.weights3.items())},
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
            weights2 = {str(k): float(v) for k, v in raw["weights2"].items()}
            weights3 = {str(k): float(v) for k, v in raw["weights3"].items()}
            model = cls(str(raw["version"]), str(raw["source_digest"]), float(raw["bias2"]),
                        float(raw["bias3"]), weights2, weights3, float(raw["threshold2"]),
                        float(raw["threshold3"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"{where}: missing or malformed field: {exc}") from exc
        if not (0.0 < model.threshold2 < 1.0 and 0.0 < model.threshold3 < 1.0):
            raise ModelError(f"{where}: thresholds must be between 0 and 1")
        return model

    @classmethod
    def load(cls, path: str | Path) -> RiskModel:
        """Load a model file."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"), str(path))


def _fit(rows: Sequence[tuple[frozenset[str], int]], *, l2: float, epochs: int, rate: float,
         seed: int) -> tuple[float, dict[str, float]]:
    """Fit one logistic regression by stochastic gradient descent (deterministic)."""
    weights: dict[str, float] = {}
    bias = 0.0
    order = list(range(len(rows)))
    rng = random.Random(seed)
    decay = l2 / max(1, len(rows))
    for epoch in range(epochs):
        rng.shuffle(order)
        step = rate / (1.0 + 0.05 * epoch)
        for i in order:
            feats, label = rows[i]
            z = bias + sum(weights.get(f, 0.0) for f in feats)
            grad = _sigmoid(z) - label
            bias -= step * grad
            for f in feats:
                w = weights.get(f, 0.0)
                weights[f] = w - step * (grad + decay * w)
    return bias, {k: v for k, v in weights.items() if abs(v) >= 0.01}


def train(examples: Sequence[tuple[frozenset[str], int]], *, version: str, source_digest: str,
          threshold2: float = 0.6, threshold3: float = 0.6, l2: float = 1.0, epochs: int = 60,
          rate: float = 0.3, seed: int = 14) -> RiskModel:
    """Train both regressions on (features, tier) examples."""
    bias2, weights2 = _fit([(f, int(t >= 2)) for f, t in examples], l2=l2, epochs=epochs, rate=rate, seed=seed)
    bias3, weights3 = _fit([(f, int(t >= 3)) for f, t in examples], l2=l2, epochs=epochs, rate=rate, seed=seed)
    return RiskModel(version, source_digest, bias2, bias3, weights2, weights3, threshold2, threshold3)
