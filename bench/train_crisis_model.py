"""Train the learned part of crisis detection on the project's own examples and the authored sets.

Usage: python bench/train_crisis_model.py [--check]

Training data (never the held-out sets, never crisis_dev):

- tests/domain/crisis/own_examples.tsv — messages written for this project, in batches;
- tests/domain/crisis/authored/ — the authored development sets of nine writers (xa-xe,
  xg, xi, and since round 4 xj, xk; tests/domain/crisis/authored/README.md says who wrote
  them and how). Never the held-out sets (xf, xh, xl).

Each message becomes the features the detector gives the model (words, word pairs, letter
pieces, concepts the current rules saw, their context and tier; bot/domain/crisis/model.py)
and three logistic regressions are fitted deterministically, on every message (also those
no rule concept or cue word wakes); the words that carry the most risk become the model's
own cue words. Writes data/crisis_model.json; the model records a digest of the rule file,
the examples and the settings, so a test fails when any changed and the model was not
retrained.

The settings (`SETTINGS`) were chosen by leave-one-writer-out cross-validation
(bench/crisis_lowo.py; bench/README.md, "Round 3"), the measurement that does not flatter
the model: each writer measured by a model trained without their words.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain.crisis.detection import Detector  # noqa: E402
from bot.domain.crisis.model import FeatureSet, RiskModel, digest, learned_cues, train  # noqa: E402

RULES = ROOT / "data" / "crisis_phrases.toml"
EXAMPLES = ROOT / "tests" / "domain" / "crisis" / "own_examples.tsv"
AUTHORED_DIR = ROOT / "tests" / "domain" / "crisis" / "authored"
TRAIN_WRITERS = ("xa", "xb", "xc", "xd", "xe", "xg", "xi", "xj", "xk")
AUTHORED = [AUTHORED_DIR / f"{name}.toml" for name in TRAIN_WRITERS]
MODEL = ROOT / "data" / "crisis_model.json"


@dataclass(frozen=True, slots=True)
class Settings:
    """How the model is trained and used (the defaults are round 2's; `SETTINGS` ships).

    Round 2 (cross-set measurement, bench/README.md "Round 2"): an alert from nothing needs
    p >= 0.8; raising a rules' tier 1-2 needs 0.6; a rules' tier 1-2 alert is vetoed only
    when p(tier >= 1) < 0.1.
    """

    threshold_new: float = 0.8
    threshold_up: float = 0.6
    veto: float = 0.1
    l2: float = 30.0
    epochs: int = 30
    pos_weight: Mapping[int, float] = field(default_factory=dict)
    # Train on every message, not only those a concept or cue wakes, and wake the model on
    # its own cue words: words whose weight for tier >= 2 or tier 3 is at least `cue_min`.
    train_every: bool = False
    cue_min: float | None = None
    cue_share: float = 0.0  # ... and at least this share of the training messages holding them are tier >= 2
    cue_count: int = 1  # ... and at least this many training messages hold them
    feature_set: FeatureSet = FeatureSet()

    def key(self) -> str:
        """Return the settings as text (part of the model's source digest)."""
        text = f"{self.threshold_new} {self.threshold_up} {self.veto} {self.l2}"
        # Round 2's settings keep round 2's text, so its model is not made stale by the
        # settings gaining fields; any other choice is spelled out in full.
        if self == Settings(self.threshold_new, self.threshold_up, self.veto, self.l2):
            return text
        weights = " ".join(f"{k}:{v}" for k, v in sorted(self.pos_weight.items()))
        return (f"{text} {self.epochs} {weights} {self.train_every} {self.cue_min} {self.cue_share} {self.cue_count} "
                f"{self.feature_set.key()}")


# Round 3, chosen by leave-one-writer-out cross-validation (bench/README.md, "Round 3"):
# train on every message and wake the model on its own cue words where the rules saw no
# anchor (words weighing >= 0.3 for tier >= 2 or tier 3, and tier >= 2 in at least 70 % of
# the three or more training messages holding them), weaker regularisation, a missed
# tier-3 message costs 1.5 times a false one, and an alert from nothing needs p >= 0.9.
# Against round 2's settings, tier-3 and tier >= 2 recall rose on the writer mean and on
# the worst writer; false alarms on hard negatives did not rise on either.
SETTINGS = Settings(threshold_new=0.9, l2=10.0, pos_weight={3: 1.5}, train_every=True, cue_min=0.3, cue_share=0.7,
                    cue_count=3)
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
    settings = SETTINGS.key()
    rules_text = _MEASURED.sub("", rules.read_text(encoding="utf-8"))
    # Comment lines in the examples are notes about batches, not examples.
    examples_text = "".join(line for line in examples.read_text(encoding="utf-8").splitlines(keepends=True)
                            if not line.startswith("#"))
    return digest(rules_text, examples_text,
                  *(p.read_text(encoding="utf-8") for p in authored), settings)


def fit(rows: Sequence[tuple[int, str]], detector: Detector, *, version: str, src: str) -> RiskModel:
    """Train a model on (tier, text) rows with the features `detector` gives."""
    s = SETTINGS
    feats = [(f, tier) for tier, text in rows if (f := detector.features(text, every=s.train_every, fs=s.feature_set))]
    model = train(feats, version=version, source_digest=src,
                  threshold_new=s.threshold_new, threshold_up=s.threshold_up, veto=s.veto, l2=s.l2,
                  epochs=s.epochs, pos_weight=s.pos_weight, feature_set=s.feature_set)
    if s.cue_min is not None:
        model = dataclasses.replace(model, cue_words=learned_cues(model, s.cue_min, feats, s.cue_share, s.cue_count))
    return model


def build(rules: Path = RULES, examples: Path = EXAMPLES,
          authored: Sequence[Path] = tuple(AUTHORED)) -> RiskModel:
    """Train the shipped model from the rule file and the examples (deterministic)."""
    src = source_digest(rules, examples, authored)
    return fit(training_rows(examples, authored), Detector.from_file(rules, use_model=False),
               version=f"m{src[:8]}", src=src)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the shipped model is stale")
    args = parser.parse_args()
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
