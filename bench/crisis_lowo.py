"""Leave-one-writer-out cross-validation of crisis detection (counts only, never texts).

Usage: python bench/crisis_lowo.py [--grid NAME] [--rules PATH] [--per-writer]

Each development writer (DEV_WRITERS: the authored sets that are not held out) is left out
in turn: the learned model is trained on the project's own examples and the other writers'
sets, then the detector (rules + that model) is measured on the writer it never saw. The
mean over writers and the worst writer estimate how the detector does on a new person's
words, without spending a look at a held-out set. The rules are the same in every fold
(they cannot be "untrained"), so their share is optimistic for writers whose failures were
read while writing them (xa, xb in round 2).

Every design decision of round 3 (features, regularisation, class weights, thresholds, the
veto, rule changes) was kept only if it improved these numbers — the mean *and* the worst
writer — not just the pooled ones (bench/README.md, "Round 3").
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.eval_crisis import Rate, Report, evaluate, load_cases  # noqa: E402
from bench.train_crisis_model import (  # noqa: E402
    AUTHORED_DIR,
    RULES,
    SETTINGS,
    TRAIN_WRITERS,
    Settings,
    load_examples,
)
from bot.domain.crisis.detection import Detector  # noqa: E402
from bot.domain.crisis.model import FeatureSet, RiskModel, learned_cues, train  # noqa: E402

DEV_WRITERS = TRAIN_WRITERS  # every writer the shipped model learns from; never xf, xh, xl
METRICS = ("tier3", "tier2", "any_alert3", "hard_fp", "abuse", "es_self", "exact")


@dataclass(frozen=True, slots=True)
class Fold:
    writer: str
    report: Report


class Harness:
    """Cache every text's features once; train and measure one model per left-out writer."""

    def __init__(self, rules: Path = RULES, writers: Sequence[str] = DEV_WRITERS,
                 authored: Path = AUTHORED_DIR, own: Sequence[tuple[int, str]] | None = None) -> None:
        self.rules_only = Detector.from_file(rules, use_model=False)
        self.own = list(load_examples() if own is None else own)
        self.cases = {w: load_cases(authored / f"{w}.toml") for w in writers}
        self.writers = tuple(writers)
        self._feats: dict[tuple[str, bool, FeatureSet], frozenset[str]] = {}
        self._models: dict[tuple[str | None, str], RiskModel] = {}

    def features(self, text: str, every: bool, fs: FeatureSet) -> frozenset[str]:
        if (text, every, fs) not in self._feats:
            self._feats[text, every, fs] = self.rules_only.features(text, every=every, fs=fs)
        return self._feats[text, every, fs]

    def rows(self, leave_out: str | None, s: Settings) -> list[tuple[frozenset[str], int]]:
        every, fs = s.train_every, s.feature_set
        rows = [(self.features(text, every, fs), tier) for tier, text in self.own]
        for w in self.writers:
            if w != leave_out:
                rows += [(self.features(c.text, every, fs), c.tier) for c in self.cases[w]]
        return [(f, t) for f, t in rows if f]

    def fold_model(self, leave_out: str | None, s: Settings) -> RiskModel:
        key = (leave_out, dataclasses.replace(s, cue_min=None, cue_share=0.0, cue_count=1).key())
        if key not in self._models:
            self._models[key] = train(
                self.rows(leave_out, s), version=f"cv-{leave_out}", source_digest="cv",
                threshold_new=s.threshold_new, threshold_up=s.threshold_up, veto=s.veto, l2=s.l2,
                epochs=s.epochs, pos_weight=s.pos_weight, feature_set=s.feature_set)
        model = self._models[key]
        if s.cue_min is not None:
            model = dataclasses.replace(model, cue_words=learned_cues(model, s.cue_min, self.rows(leave_out, s),
                                                                      s.cue_share, s.cue_count))
        return model

    def measure(self, detector: Detector, writer: str) -> Report:
        return evaluate(detector, writer, self.cases[writer])

    def rules_alone(self) -> list[Fold]:
        return [Fold(w, self.measure(self.rules_only, w)) for w in self.writers]

    def lowo(self, s: Settings, variants: Sequence[Callable[[RiskModel], RiskModel]] = ()) -> list[list[Fold]]:
        """Return, per variant (the trained model itself first), every writer's fold."""
        out: list[list[Fold]] = [[] for _ in range(1 + len(variants))]
        for w in self.writers:
            model = self.fold_model(w, s)
            for i, variant in enumerate((lambda m: m, *variants)):
                out[i].append(Fold(w, self.measure(self.rules_only.with_model(variant(model)), w)))
        return out


def summary(folds: Sequence[Fold]) -> dict[str, tuple[float, float, str, Rate]]:
    """Return per metric: mean over writers, worst value, worst writer, pooled counts."""
    out = {}
    for metric in METRICS:
        rates = [(f.writer, getattr(f.report, metric)) for f in folds]
        values = [(w, r.value) for w, r in rates if r.total]
        pooled = Rate(sum(r.hits for _, r in rates), sum(r.total for _, r in rates))
        if not values:  # no writer has cases of this kind
            out[metric] = (math.nan, math.nan, "-", pooled)
            continue
        worst_pick = max if metric == "hard_fp" else min
        worst = worst_pick(values, key=lambda wv: wv[1])
        out[metric] = (statistics.fmean(v for _, v in values), worst[1], worst[0], pooled)
    return out


def line(label: str, folds: Sequence[Fold]) -> str:
    s = summary(folds)
    cells = "  ".join(f"{m} {s[m][0]:.3f}/{s[m][1]:.2f}{s[m][2]}" for m in ("tier3", "tier2", "any_alert3", "hard_fp",
                                                                         "abuse", "es_self"))
    return f"{label:<34} {cells}"


def per_writer(folds: Sequence[Fold]) -> str:
    rows = []
    for f in folds:
        r = f.report
        rows.append(f"  {f.writer}: t3 {r.tier3}  t2 {r.tier2}  any3 {r.any_alert3}  hardFP {r.hard_fp}  "
                    f"abuse {r.abuse}  es {r.es_self}")
    return "\n".join(rows)


def with_thresholds(new: float, up: float, veto: float | None = None) -> Callable[[RiskModel], RiskModel]:
    def apply(m: RiskModel) -> RiskModel:
        return dataclasses.replace(m, threshold_new=new, threshold_up=up, veto=m.veto if veto is None else veto)
    return apply


GRIDS: Mapping[str, Sequence[tuple[str, Settings]]] = {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", default=str(RULES))
    parser.add_argument("--per-writer", action="store_true")
    parser.add_argument("--thresholds", default="", help="extra new/up pairs, e.g. 0.7/0.5,0.6/0.5")
    parser.add_argument("--l2", type=float, nargs="*", default=[])
    parser.add_argument("--pos3", type=float, nargs="*", default=[])
    parser.add_argument("--pos2", type=float, nargs="*", default=[])
    parser.add_argument("--every", action="store_true", help="train on every message")
    parser.add_argument("--cue-min", type=float, nargs="*", default=[])
    parser.add_argument("--skip-base", action="store_true")
    args = parser.parse_args(argv)
    started = time.monotonic()
    h = Harness(Path(args.rules))
    base = dataclasses.replace(SETTINGS, train_every=args.every or SETTINGS.train_every)
    print(f"rules {h.rules_only.version}; writers {', '.join(h.writers)}; own examples {len(h.own)}")
    rules = h.rules_alone()
    print(line("rules alone", rules))
    if args.per_writer:
        print(per_writer(rules))
    settings = [] if args.skip_base else [("round 2 settings", Settings()), ("shipped settings", base)]
    settings += [(f"cue_min {v}", dataclasses.replace(base, cue_min=v)) for v in args.cue_min]
    settings += [(f"pos2 {v}", dataclasses.replace(base, pos_weight={**base.pos_weight, 2: v})) for v in args.pos2]
    settings += [(f"l2 {v}", dataclasses.replace(base, l2=v)) for v in args.l2]
    settings += [(f"pos3 {v}", dataclasses.replace(base, pos_weight={**base.pos_weight, 3: v})) for v in args.pos3]
    pairs = [tuple(map(float, p.split("/"))) for p in args.thresholds.split(",") if p]
    for label, s in settings:
        variants = [with_thresholds(new, up) for new, up in pairs]
        results = h.lowo(s, variants)
        print(line(f"{label} {s.threshold_new}/{s.threshold_up}", results[0]))
        if args.per_writer:
            print(per_writer(results[0]))
        for (new, up), folds in zip(pairs, results[1:], strict=True):
            print(line(f"{label} {new}/{up}", folds))
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
