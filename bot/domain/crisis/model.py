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

__all__ = ["HEADS", "FeatureSet", "ModelError", "RiskModel", "digest", "features", "learned_cues", "train"]

HEADS = (1, 2, 3)  # p(tier >= 1), p(tier >= 2), p(tier == 3)
_GRAM = 4  # letters per piece of a word; words shorter than this add no pieces


class ModelError(ValueError):
    """The model file is malformed or does not match its rules and examples."""


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """Which features a model is trained on and scored with (recorded in its file)."""

    grams: tuple[int, ...] = (_GRAM,)  # lengths of letter pieces; "g:" is 4 letters, "g3:" 3 ...
    emoji: bool = False  # emoji the normaliser does not name ("e:" plus the emoji)

    def key(self) -> str:
        """Return the feature set as text."""
        return f"grams {','.join(map(str, self.grams))} emoji {self.emoji}"


def _emoji(text: str) -> set[str]:
    return {ch for ch in text if ord(ch) >= 0x2190 and not ch.isalnum() and ch not in "\ufe0f\u200d"}


def features(words: Sequence[str], concepts: Iterable[str], context: Iterable[str] = (),
             rule_tier: int = 0, fs: FeatureSet = FeatureSet(), raw: str = "") -> frozenset[str]:
    """Return the model's features: words, word pairs, letter pieces, concepts, context, rules' tier."""
    out = {f"w:{w}" for w in words}
    out.update(f"b:{a}_{b}" for a, b in zip(words, words[1:], strict=False))
    for n in fs.grams:
        prefix = "g:" if n == _GRAM else f"g{n}:"
        for w in set(words):
            if len(w) >= n:
                padded = f"<{w}>"
                out.update(prefix + padded[i:i + n] for i in range(len(padded) - n + 1))
    if fs.emoji and raw and not raw.isascii():
        out.update(f"e:{e}" for e in _emoji(raw))
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
    # Words that wake the model where no rule concept or cue matched (learned in training).
    cue_words: frozenset[str] = frozenset()
    feature_set: FeatureSet = FeatureSet()

    def scores(self, feats: Iterable[str]) -> dict[int, float]:
        """Return p(tier >= 1), p(tier >= 2) and p(tier == 3), keyed 1, 2, 3."""
        feats = tuple(feats)
        return {k: head.score(feats) for k, head in self.heads.items()}

    def could_alert_from_nothing(self, feats: Iterable[str], unknown: Iterable[str]) -> bool:
        """Return whether an alert from nothing is possible: the features known so far plus
        any of `unknown` that would raise the score (an upper bound; never a false "no")."""
        feats = tuple(feats)
        for k in (2, 3):
            head = self.heads[k]
            z = head.bias + sum(head.weights.get(f, 0.0) for f in feats)
            z += sum(max(0.0, head.weights.get(f, 0.0)) for f in unknown)
            if _sigmoid(z) >= self.threshold_new:
                return True
        return False

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
        # Written only when used, so a model without them reads as it did before they existed.
        if self.cue_words:
            data["cue_words"] = sorted(self.cue_words)
        if self.feature_set != FeatureSet():
            data["grams"] = list(self.feature_set.grams)
            data["emoji"] = self.feature_set.emoji
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
                        float(raw["threshold_up"]), float(raw["veto"]),
                        frozenset(str(w) for w in raw.get("cue_words", ())),
                        FeatureSet(tuple(int(n) for n in raw.get("grams", (_GRAM,))), bool(raw.get("emoji", False))))
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


def _fit(rows: Sequence[tuple[Sequence[int], int]], size: int, *, l2: float, epochs: int, rate: float,
         seed: int, pos_weight: float) -> tuple[float, list[float]]:
    """Fit one logistic regression by stochastic gradient descent (deterministic).

    `rows` are sorted feature indices and a 0/1 label; a positive row's gradient counts
    `pos_weight` times (missing risk costs more than a false alarm). L2 decay is applied to
    the features a row uses, as it is seen, so rare features are held back less than common
    ones only by how often they occur.
    """
    weights = [0.0] * size
    bias = 0.0
    order = list(range(len(rows)))
    rng = random.Random(seed)
    decay = l2 / max(1, len(rows))
    for epoch in range(epochs):
        rng.shuffle(order)
        step = rate / (1.0 + 0.05 * epoch)
        for i in order:
            feats, label = rows[i]
            z = bias
            for f in feats:
                z += weights[f]
            grad = _sigmoid(z) - label
            if label:
                grad *= pos_weight
            bias -= step * grad
            shrink = 1.0 - step * decay
            g = step * grad
            for f in feats:
                weights[f] = weights[f] * shrink - g
    return bias, weights


def train(examples: Sequence[tuple[frozenset[str], int]], *, version: str, source_digest: str,
          threshold_new: float = 0.8, threshold_up: float = 0.6, veto: float = 0.1, l2: float = 30.0,
          epochs: int = 30, rate: float = 0.3, seed: int = 14,
          pos_weight: Mapping[int, float] | None = None, feature_set: FeatureSet = FeatureSet()) -> RiskModel:
    """Train the three heads on (features, tier) examples (deterministic)."""
    names = sorted({f for feats, _ in examples for f in feats})
    index = {name: i for i, name in enumerate(names)}
    rows = [sorted(index[f] for f in feats) for feats, _ in examples]
    heads = {}
    for k in HEADS:
        bias, weights = _fit([(r, int(t >= k)) for r, (_, t) in zip(rows, examples, strict=True)], len(names),
                             l2=l2, epochs=epochs, rate=rate, seed=seed,
                             pos_weight=(pos_weight or {}).get(k, 1.0))
        heads[k] = Head(bias, {names[i]: w for i, w in enumerate(weights) if abs(w) >= 0.01})
    return RiskModel(version, source_digest, heads, threshold_new, threshold_up, veto, feature_set=feature_set)


def learned_cues(model: RiskModel, min_weight: float,
                 examples: Sequence[tuple[frozenset[str], int]] = (), min_share: float = 0.0,
                 min_count: int = 1) -> frozenset[str]:
    """Return the words whose own weight for tier >= 2 or tier 3 is at least `min_weight`.

    With `examples`, a word must also be mostly risk where it occurs: at least `min_share`
    of the training messages holding it are tier >= 2, and there must be `min_count` of
    them. Everyday words ("ok", "work", "friday") can carry weight beside risk, and a word
    seen once says little; waking the model on them would cost every ordinary message.
    Words of one or two letters ("go", "me") are never cue words, for the same reason.
    """
    words = {f[2:] for k in (2, 3) for f, w in model.heads[k].weights.items()
             if f.startswith("w:") and len(f) > 4 and w >= min_weight}
    if not examples:
        return frozenset(words)
    seen: dict[str, list[int]] = {}
    for feats, tier in examples:
        for f in feats:
            if f.startswith("w:") and f[2:] in words:
                counts = seen.setdefault(f[2:], [0, 0])
                counts[0] += tier >= 2
                counts[1] += 1
    return frozenset(w for w, (risk, total) in seen.items() if risk >= min_share * total and total >= min_count)
