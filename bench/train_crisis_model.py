"""Train the learned part of crisis detection on the project's own examples and the authored sets.

Usage: python bench/train_crisis_model.py [--check] [--cross]

Training data (never the held-out sets, never crisis_dev):

- tests/domain/crisis/own_examples.tsv — messages written for this project, in batches;
- tests/domain/crisis/authored/xa.toml and xb.toml — the authored development sets
  (tests/domain/crisis/authored/README.md says who wrote them and how).

Each message becomes the features the detector gives the model (words, word pairs, letter
pieces, concepts the current rules saw, their context and tier; bot/domain/crisis/model.py)
and three logistic regressions are fitted deterministically. Messages the model would
never be asked about (no risk concept, no cue word) are left out. Writes
data/crisis_model.json; the model records a digest of the rule file and the examples, so a
test fails when either changed and the model was not retrained.

`--cross` is the development measurement that does not flatter the model: trained without
xa, measured on xa; trained without xb, measured on xb (each with the rules as they are,
which were tuned while reading both, so the rules part is still optimistic).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain.crisis.detection import Detector  # noqa: E402
from bot.domain.crisis.model import RiskModel, digest, train  # noqa: E402

RULES = ROOT / "data" / "crisis_phrases.toml"
EXAMPLES = ROOT / "tests" / "domain" / "crisis" / "own_examples.tsv"
AUTHORED = [ROOT / "tests" / "domain" / "crisis" / "authored" / f"{name}.toml" for name in ("xa", "xb")]
MODEL = ROOT / "data" / "crisis_model.json"
# Chosen by cross-set measurement (bench/README.md, "Round 2"): an alert from nothing needs
# p >= 0.8; raising a rules' tier 1-2 needs 0.6; a rules' tier 1-2 alert is vetoed only
# when p(tier >= 1) < 0.1.
THRESHOLD_NEW = 0.8
THRESHOLD_UP = 0.6
VETO = 0.1
L2 = 30.0
_MEASURED = re.compile(r"^\[measured\]\n.*?(?=^\[|\Z)", re.MULTILINE | re.DOTALL)


def load_examples(path: Path = EXAMPLES) -> list[tuple[int, str]]:
    """Return (tier, text) rows of a labelled TSV."""
    with open(path, encoding="utf-8", newline="") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        return [(int(r["expected_tier"]), r["text"].replace("\\n", "\n"))
                for r in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)]


def load_authored(path: Path) -> list[tuple[int, str]]:
    """Return (tier, text) rows of an authored TOML set."""
    with open(path, "rb") as fh:
        return [(int(c["tier"]), c["text"]) for c in tomllib.load(fh)["case"]]


def training_rows(examples: Path = EXAMPLES, authored: Sequence[Path] = tuple(AUTHORED)) -> list[tuple[int, str]]:
    """Return every (tier, text) the model learns from, in a fixed order."""
    rows = load_examples(examples)
    for path in authored:
        rows += load_authored(path)
    return rows


def source_digest(rules: Path = RULES, examples: Path = EXAMPLES,
                  authored: Sequence[Path] = tuple(AUTHORED)) -> str:
    """Return the digest a model trained from these files (and these settings) records.

    The rule file's `[measured]` table and the examples' comment lines are left out: they
    report and explain, and change nothing the model learns, so editing them must not make
    the model stale.
    """
    settings = f"{THRESHOLD_NEW} {THRESHOLD_UP} {VETO} {L2}"
    rules_text = _MEASURED.sub("", rules.read_text(encoding="utf-8"))
    # Comment lines in the examples are notes about batches, not examples.
    examples_text = "".join(line for line in examples.read_text(encoding="utf-8").splitlines(keepends=True)
                            if not line.startswith("#"))
    return digest(rules_text, examples_text,
                  *(p.read_text(encoding="utf-8") for p in authored), settings)


def fit(rows: Sequence[tuple[int, str]], detector: Detector, *, version: str, src: str) -> RiskModel:
    """Train a model on (tier, text) rows with the features `detector` gives."""
    feats = [(detector.features(text), tier) for tier, text in rows]
    return train([(f, t) for f, t in feats if f], version=version, source_digest=src,
                 threshold_new=THRESHOLD_NEW, threshold_up=THRESHOLD_UP, veto=VETO, l2=L2)


def build(rules: Path = RULES, examples: Path = EXAMPLES,
          authored: Sequence[Path] = tuple(AUTHORED)) -> RiskModel:
    """Train the shipped model from the rule file and the examples (deterministic)."""
    src = source_digest(rules, examples, authored)
    return fit(training_rows(examples, authored), Detector.from_file(rules, use_model=False),
               version=f"m{src[:8]}", src=src)


def cross(rules: Path = RULES) -> None:
    """Print each authored set measured by a model trained without it."""
    from bench.eval_crisis import evaluate, load_cases, markdown_row

    rules_only = Detector.from_file(rules, use_model=False)
    for held in AUTHORED:
        others = [p for p in AUTHORED if p != held]
        model = fit(training_rows(authored=others), rules_only, version=f"cv-{held.stem}", src="cv")
        detector = Detector.from_file(rules, model=model)
        print(markdown_row(evaluate(detector, held.stem, load_cases(held)), detector.version))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the shipped model is stale")
    parser.add_argument("--cross", action="store_true", help="measure each authored set without training on it")
    args = parser.parse_args()
    if args.cross:
        cross()
        return 0
    if args.check:
        shipped = RiskModel.load(MODEL)
        fresh = source_digest()
        print("up to date" if shipped.source_digest == fresh else "stale: run bench/train_crisis_model.py")
        return 0 if shipped.source_digest == fresh else 1
    model = build()
    MODEL.write_text(model.to_json(), encoding="utf-8")
    print(f"wrote {MODEL.relative_to(ROOT)}: version {model.version}, "
          + ", ".join(f"head {k}: {len(h.weights)} weights" for k, h in sorted(model.heads.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
