"""Train the learned backstop of crisis detection on the project's own examples.

Usage: python bench/train_crisis_model.py [--check] [--folds 5] [--examples PATH]

Reads tests/domain/crisis/own_examples.tsv (messages written for this project, never the
crisis_dev sets), turns each into the features the detector gives the model (words, word
pairs, concepts seen by the current rules) and fits two logistic regressions (tier >= 2,
tier 3) deterministically. Writes data/crisis_model.json; the model records a digest of the
rule file and the examples, so a test fails when either changed and the model was not
retrained. `--folds N` also prints cross-validated recall and false alarms by threshold
(on these examples only: it says how the model does on new sentences of the same author).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain.crisis.detection import Detector  # noqa: E402
from bot.domain.crisis.model import RiskModel, digest, train  # noqa: E402

RULES = ROOT / "data" / "crisis_phrases.toml"
EXAMPLES = ROOT / "tests" / "domain" / "crisis" / "own_examples.tsv"
MODEL = ROOT / "data" / "crisis_model.json"
# Chosen on fresh batches of my own examples measured before training on them (bench/README.md).
THRESHOLD2 = 0.7
THRESHOLD3 = 0.7


def load_examples(path: Path = EXAMPLES) -> list[tuple[int, str]]:
    """Return (tier, text) rows of a labelled TSV."""
    with open(path, encoding="utf-8", newline="") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        return [(int(r["expected_tier"]), r["text"].replace("\\n", "\n"))
                for r in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)]


def source_digest(rules: Path = RULES, examples: Path = EXAMPLES) -> str:
    """Return the digest a model trained from these files records."""
    return digest(rules.read_text(encoding="utf-8"), examples.read_text(encoding="utf-8"))


def build(rules: Path = RULES, examples: Path = EXAMPLES) -> RiskModel:
    """Train the model from the rule file and the examples (deterministic)."""
    detector = Detector.from_file(rules, use_model=False)
    rows = [(detector.features(text), tier) for tier, text in load_examples(examples)]
    rows = [(f, t) for f, t in rows if f]  # the model only ever sees messages with a concept
    src = source_digest(rules, examples)
    return train(rows, version=f"m{src[:8]}", source_digest=src, threshold2=THRESHOLD2, threshold3=THRESHOLD3)


def cross_validate(folds: int, rules: Path = RULES, examples: Path = EXAMPLES) -> None:
    detector = Detector.from_file(rules, use_model=False)
    rows = [(tier, text, detector.features(text), detector.detect(text).tier) for tier, text in load_examples(examples)]
    order = list(range(len(rows)))
    random.Random(14).shuffle(order)
    print(f"{folds}-fold cross-validation on {len(rows)} examples (rules alone vs rules + model):")
    for threshold in (0.5, 0.6, 0.7, 0.8):
        t3 = h3 = t2 = h2 = neg = fp = 0
        base3 = base2 = basefp = 0
        for k in range(folds):
            test = set(order[k::folds])
            model = train([(f, t) for i, (t, _, f, _) in enumerate(rows) if i not in test and f],
                          version="cv", source_digest="cv", threshold2=threshold, threshold3=threshold)
            for i in test:
                tier, _, feats, rule_tier = rows[i]
                model_tier = model.tier(feats)[0] if feats else 0
                got = max(rule_tier, model_tier)
                t3 += tier == 3
                h3 += tier == 3 and got == 3
                base3 += tier == 3 and rule_tier == 3
                t2 += tier >= 2
                h2 += tier >= 2 and got >= 2
                base2 += tier >= 2 and rule_tier >= 2
                neg += tier == 0
                fp += tier == 0 and got > 0
                basefp += tier == 0 and rule_tier > 0
        print(f"  threshold {threshold}: tier-3 recall {h3 / t3:.2f} (rules {base3 / t3:.2f}), "
              f"tier>=2 {h2 / t2:.2f} (rules {base2 / t2:.2f}), false alarms on tier 0 "
              f"{fp / neg:.3f} (rules {basefp / neg:.3f})")
    print("(the rules were written with these examples in view, so 'rules' is optimistic here)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the shipped model is stale")
    parser.add_argument("--folds", type=int, default=0)
    parser.add_argument("--examples", type=Path, default=EXAMPLES)
    args = parser.parse_args()
    if args.folds:
        cross_validate(args.folds, examples=args.examples)
    if args.check:
        shipped = RiskModel.load(MODEL)
        fresh = source_digest(examples=args.examples)
        print("up to date" if shipped.source_digest == fresh else "stale: run bench/train_crisis_model.py")
        return 0 if shipped.source_digest == fresh else 1
    model = build(examples=args.examples)
    MODEL.write_text(model.to_json(), encoding="utf-8")
    print(f"wrote {MODEL.relative_to(ROOT)}: version {model.version}, "
          f"{len(model.weights2)} + {len(model.weights3)} weights")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
