"""bench/crisis_lowo.py: each writer is measured by a model that never saw their words."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.crisis_lowo import Fold, Harness, summary
from bench.eval_crisis import Rate, evaluate, load_cases
from bench.train_crisis_model import RULES, Settings
from bot.domain.crisis.detection import Detector

CASE = '''
[[case]]
id = "{w}-{i}"
text = "{text}"
tier = {tier}
path = "{path}"
category = "c"
'''
# Each writer has one word of their own for imminent risk that no rule knows.
WORDS = {"wa": "zeppelin", "wb": "quokka", "wc": "marimba"}


def _write(tmp_path: Path) -> None:
    for w, word in WORDS.items():
        cases = [CASE.format(w=w, i=i, text=f"the {word}", tier=3, path="self")
                 for i in range(6)]
        cases += [CASE.format(w=w, i=10 + i, text="the coffee and toast", tier=0, path="none") for i in range(6)]
        (tmp_path / f"{w}.toml").write_text("".join(cases), encoding="utf-8")


def test_a_fold_never_trains_on_the_writer_it_measures(tmp_path: Path) -> None:
    _write(tmp_path)
    h = Harness(RULES, writers=tuple(WORDS), authored=tmp_path, own=[])
    s = Settings(train_every=True)
    for w, word in WORDS.items():
        rows = h.rows(w, s)
        assert rows and not any(f"w:{word}" in feats for feats, _ in rows)
        others = [other for x, other in WORDS.items() if x != w]
        assert all(any(f"w:{o}" in feats for feats, _ in rows) for o in others)


def test_lowo_reports_every_writer_with_a_model_trained_without_them(tmp_path: Path) -> None:
    _write(tmp_path)
    h = Harness(RULES, writers=tuple(WORDS), authored=tmp_path, own=[])
    s = Settings(train_every=True, cue_min=0.0, l2=1.0)
    (folds,) = h.lowo(s)
    assert [f.writer for f in folds] == list(WORDS)
    # Trained with the writer, the model learns their word; left out, it cannot.
    assert all(f.report.tier3 == Rate(0, 6) for f in folds)
    full = h.rules_only.with_model(h.fold_model(None, s))
    inside = evaluate(full, "wa", load_cases(tmp_path / "wa.toml"))
    assert inside.tier3 == Rate(6, 6)


def test_summary_gives_mean_worst_writer_and_pooled_counts(tmp_path: Path) -> None:
    detector = Detector.from_file(RULES, use_model=False)
    risk = "i have the pills and tonight is the night"
    texts = {"wa": [risk, "the coffee and toast"], "wb": [risk, risk]}
    folds = []
    for w, items in texts.items():
        path = tmp_path / f"{w}.toml"
        path.write_text("".join(CASE.format(w=w, i=i, text=t, tier=3, path="self") for i, t in enumerate(items)),
                        encoding="utf-8")
        folds.append(Fold(w, evaluate(detector, w, load_cases(path))))
    out = summary(folds)
    assert out["tier3"] == (pytest.approx(0.75), pytest.approx(0.5), "wa", Rate(3, 4))
    # A metric no writer has cases for (no hard negatives here) is reported, not a crash.
    mean, worst, who, pooled = out["hard_fp"]
    assert pooled == Rate(0, 0) and who == "-" and math.isnan(mean) and math.isnan(worst)
