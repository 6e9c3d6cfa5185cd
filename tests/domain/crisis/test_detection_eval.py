"""Evaluate passive detection on the labelled sets: recall, false alarms, confusion table.

Run with `-s` to see the tables. The thresholds are the ones to meet before a server turns
detection on (docs/reference/crisis_guidance.md "Measure before enabling").

Read the numbers with care: every set here has been used to write or widen the rules, so
they measure coverage of known phrasings, not accuracy on new ones. Each later set's header
records its first-look numbers, taken before it was used: about 0.55 recall at tier>=3 and
0.45 at tier>=2. New phrasings keep appearing; grow these files from moderators'
"false alarm" and missed-case reports and keep the first-look numbers for every new batch.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.domain.crisis.detection import Detection, Detector

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "bot" / "data" / "crisis_phrases.toml"
LABELLED = Path(__file__).with_name("labelled_messages.tsv")
LATER_SETS = [Path(__file__).with_name(n) for n in ("heldout_messages.tsv", "unseen_messages.tsv")]

# Tier-0 messages in these categories are the hard negatives: they look like risk.
HARD_NEGATIVE_CATEGORIES = {
    "idiom", "gaming", "lyrics", "news", "recovery_past", "subword", "code", "quote",
    "negation", "third_party", "relapse", "spanish",
}
CATEGORIES = HARD_NEGATIVE_CATEGORIES | {
    "ordinary", "harassment", "passive", "ideation", "distress", "goodbye", "means_plan",
    "evasion", "joke_risk", "overdose",
}


@dataclass(frozen=True, slots=True)
class Labelled:
    tier: int
    path: str
    category: str
    text: str


def load_labelled(path: Path = LABELLED) -> list[Labelled]:
    rows = []
    with open(path, encoding="utf-8", newline="") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        for row in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE):
            rows.append(
                Labelled(
                    int(row["expected_tier"]),
                    row["expected_path"],
                    row["category"],
                    row["text"].replace("\\n", "\n"),
                )
            )
    return rows


@dataclass(frozen=True, slots=True)
class Report:
    recall_3: float
    recall_2: float
    false_alarm: float
    path_accuracy: float
    table: str
    misses: list[str]


def evaluate(detector: Detector, rows: list[Labelled]) -> Report:
    results: list[tuple[Labelled, Detection]] = [(r, detector.detect(r.text)) for r in rows]
    confusion: Counter[tuple[int, int]] = Counter((r.tier, d.tier) for r, d in results)

    t3 = [(r, d) for r, d in results if r.tier >= 3]
    t2 = [(r, d) for r, d in results if r.tier >= 2]
    hard = [(r, d) for r, d in results if r.tier == 0 and r.category in HARD_NEGATIVE_CATEGORIES]
    flagged = [(r, d) for r, d in results if r.tier > 0 and d.tier > 0]
    recall_3 = sum(d.tier >= 3 for _, d in t3) / len(t3)
    recall_2 = sum(d.tier >= 2 for _, d in t2) / len(t2)
    false_alarm = sum(d.tier > 0 for _, d in hard) / len(hard)
    path_ok = sum(d.path is not None and d.path.value == r.path for r, d in flagged)
    path_accuracy = path_ok / len(flagged) if flagged else 1.0

    lines = [
        "confusion table (rows: expected tier, columns: detected tier)",
        "expected |    0    1    2    3 | total",
    ]
    for exp in range(4):
        counts = [confusion[exp, det] for det in range(4)]
        lines.append(f"       {exp} | " + " ".join(f"{c:4d}" for c in counts) + f" | {sum(counts):5d}")
    lines += [
        f"messages: {len(rows)}; hard negatives: {len(hard)}",
        f"recall tier>=3: {recall_3:.3f} ({sum(d.tier >= 3 for _, d in t3)}/{len(t3)})",
        f"recall tier>=2: {recall_2:.3f} ({sum(d.tier >= 2 for _, d in t2)}/{len(t2)})",
        f"false alarms on hard negatives: {false_alarm:.3f} ({sum(d.tier > 0 for _, d in hard)}/{len(hard)})",
        f"path accuracy on detected risk: {path_accuracy:.3f} ({path_ok}/{len(flagged)})",
    ]
    misses = [
        f"  expected {r.tier}/{r.path} got {d.tier}/{d.path.value if d.path else 'none'} "
        f"[{r.category}] {r.text!r} :: {d.explanation}"
        for r, d in results
        if (r.tier == 0) != (d.tier == 0)
        or (r.tier >= 2) != (d.tier >= 2)
        or (r.tier >= 3) != (d.tier >= 3)
        or (r.tier > 0 and d.path is not None and d.path.value != r.path)
    ]
    return Report(recall_3, recall_2, false_alarm, path_accuracy, "\n".join(lines), misses)


@pytest.fixture(scope="module")
def report() -> Report:
    detector = Detector.from_file(RULES)
    result = evaluate(detector, load_labelled())
    print("\n" + result.table)
    print("disagreements with the labels:\n" + "\n".join(result.misses))
    return result


def test_labelled_set_is_big_and_covers_every_catalogue_row() -> None:
    rows = load_labelled()
    assert len(rows) >= 300
    seen = Counter(r.category for r in rows)
    assert set(seen) == CATEGORIES, set(seen) ^ CATEGORIES
    assert all(r.path in {"self", "other", "abuse", "none"} for r in rows)
    assert all((r.tier == 0) == (r.path == "none") for r in rows)
    assert len({r.text for r in rows}) == len(rows), "duplicate messages"


def test_recall_tier_3(report: Report) -> None:
    assert report.recall_3 >= 0.95, report.table + "\n" + "\n".join(report.misses)


def test_recall_tier_2(report: Report) -> None:
    assert report.recall_2 >= 0.90, report.table + "\n" + "\n".join(report.misses)


def test_false_alarms_on_hard_negatives(report: Report) -> None:
    assert report.false_alarm <= 0.03, report.table + "\n" + "\n".join(report.misses)


def test_path_accuracy(report: Report) -> None:
    assert report.path_accuracy >= 0.90, report.table + "\n" + "\n".join(report.misses)


def test_later_sets_do_not_regress() -> None:
    detector = Detector.from_file(RULES)
    rows = [r for path in LATER_SETS for r in load_labelled(path)]
    result = evaluate(detector, rows)
    print("\nlater sets (used for tuning after a first look):\n" + result.table)
    detail = result.table + "\n" + "\n".join(result.misses)
    assert result.recall_3 >= 0.95, detail
    assert result.recall_2 >= 0.90, detail
    # Small sets: one false alarm is 2%; allow two.
    assert result.false_alarm <= 0.04, detail


OWN = Path(__file__).with_name("own_examples.tsv")


def test_own_examples_regression() -> None:
    # Written for issue 14 (and the model's only training data), so this measures coverage
    # of known phrasings, not generalisation: bench/README.md has the held-out numbers.
    rows = load_labelled(OWN)
    assert len(rows) >= 600
    assert all((r.tier == 0) == (r.path == "none") for r in rows)
    result = evaluate(Detector.from_file(RULES), rows)
    negatives = [r for r in rows if r.tier == 0]
    detail = result.table + "\n" + "\n".join(result.misses)
    assert result.recall_3 >= 0.95, detail
    assert result.recall_2 >= 0.95, detail
    detector = Detector.from_file(RULES)
    false_alarms = sum(detector.detect(r.text).tier > 0 for r in negatives) / len(negatives)
    assert false_alarms <= 0.03, detail
