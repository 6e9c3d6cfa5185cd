"""Measure passive crisis detection on a labelled set (counts only, never texts).

Usage: python bench/eval_crisis.py [casual|forum|xa..xl|PATH ...] [--failures] [--markdown] [--look] [--both]

The crisis_dev sets (casual, forum) live outside the repository: `$KINDRED_CRISIS_DEV`, else
a `shared/crisis_dev` folder beside the checkout. The authored sets (xa to xl) are read
from `$KINDRED_CRISIS_AUTHORED`, else a `crisis_authored` folder beside the checkout (the
ones no longer held out are also committed under tests/domain/crisis/authored/). Any other `.toml` path in
the same format works too. Nothing is written anywhere. A set that is not there is skipped
with one line (exit 0). The crisis_dev README defines the labels; the numbers reported are
the ones it asks for:

- English `self`/`none` cases: tier-3 recall (detected at tier 3), tier >= 2 recall, any
  alert on tier-3 cases, false alarms (any alert) on `hard` tier-0 cases, exact tier;
- `path = "abuse"`: detected as abuse (any tier);
- Spanish (`lang = "es"`) risk cases about the writer: alerted at all (also all paths);
- per category: messages handled right / total (see `handled_right`).

`--failures` lists the ids of mishandled cases with expected and detected tier/path and the
rule that fired (never the text). `--texts` adds the texts, on the terminal only, and is
refused for the held-out sets (`HELD_OUT`): looking at their failures would make them
development sets. A held-out set is measured only with `--look`, which says out loud that
a look is being spent (every look goes into bench/README.md). `--both` measures the rules
alone too, in the same run (one look covers both).
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain.crisis.detection import Detection, Detector  # noqa: E402
from bot.domain.crisis.resources import Need  # noqa: E402

RULES = ROOT / "data" / "crisis_phrases.toml"
DEV_DIR = Path(os.environ.get("KINDRED_CRISIS_DEV") or ROOT.parent / "shared" / "crisis_dev")
AUTHORED = ("xa", "xb", "xc", "xd", "xe", "xf", "xg", "xh", "xi", "xj", "xk", "xl", "xm")
# The sets kept out of development (bench/README.md, "Crisis detection evaluation" says why).
# xc was held out through round 2 and is not any more (tests/domain/crisis/authored/README.md);
# xf and xh are round 3's, pre-registered by the lead; xl is round 4's (registered 2026-12-07
# before its writer started); xm is round 5's (registered 2026-12-07 11:52 UTC before its
# writer started).
HELD_OUT = frozenset({"forum", "xf", "xh", "xl", "xm"})


def authored_dir() -> Path:
    """Return the folder of the authored sets (read at call time: tests point it elsewhere)."""
    return Path(os.environ.get("KINDRED_CRISIS_AUTHORED") or ROOT.parent / "crisis_authored")


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    text: str
    tier: int
    path: str
    category: str
    lang: str
    hard: bool


@dataclass(frozen=True, slots=True)
class Rate:
    hits: int
    total: int

    def __str__(self) -> str:
        if not self.total:
            return "n/a (0)"
        return f"{self.hits / self.total:.2f} ({self.hits}/{self.total})"

    @property
    def value(self) -> float:
        return self.hits / self.total if self.total else float("nan")


def load_cases(path: Path) -> list[Case]:
    """Read one crisis_dev TOML set."""
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    return [
        Case(c["id"], c["text"], int(c["tier"]), c["path"], c["category"],
             c.get("lang", "en"), bool(c.get("hard", False)))
        for c in raw["case"]
    ]


def _path(d: Detection) -> str:
    return d.path.value if d.path is not None else "none"


def handled_right(case: Case, d: Detection) -> bool:
    """Tell whether the detection is what the label asks for, closely enough to act right.

    Tier 0 must not alert; tier 3 must be tier 3; tier 2 may be 2 or 3 (a ping too many is a
    lesser mistake than none); tier 1 may be 1 or 2. The path must match, except that an
    overdose about someone else may be reported as the writer's emergency (they must act).
    """
    if case.tier == 0:
        return d.tier == 0
    if case.tier == 3:
        tier_ok = d.tier == 3
    else:
        tier_ok = case.tier <= d.tier <= case.tier + 1
    path_ok = _path(d) == case.path or (
        case.path == "other" and _path(d) == "self" and d.need is Need.OVERDOSE)
    return tier_ok and path_ok


@dataclass(frozen=True, slots=True)
class Report:
    name: str
    tier3: Rate
    tier2: Rate
    any_alert3: Rate
    hard_fp: Rate
    exact: Rate
    abuse: Rate
    es_self: Rate
    es_any: Rate
    by_category: dict[str, Rate]
    by_category_tier: dict[tuple[str, int], Rate]
    confusion: Counter[tuple[int, int]]
    failures: list[tuple[Case, Detection]]


def evaluate(detector: Detector, name: str, cases: Sequence[Case]) -> Report:
    """Run the detector over every case and compute the README's numbers."""
    results = [(c, detector.detect(c.text)) for c in cases]
    en = [(c, d) for c, d in results if c.lang == "en" and c.path in ("self", "none")]
    t3 = [(c, d) for c, d in en if c.tier == 3]
    t2 = [(c, d) for c, d in en if c.tier >= 2]
    hard = [(c, d) for c, d in en if c.tier == 0 and c.hard]
    abuse = [(c, d) for c, d in results if c.path == "abuse"]
    es_self = [(c, d) for c, d in results if c.lang == "es" and c.tier > 0 and c.path == "self"]
    es_any = [(c, d) for c, d in results if c.lang == "es" and c.tier > 0]
    by_cat: dict[str, list[bool]] = defaultdict(list)
    by_cat_tier: dict[tuple[str, int], list[bool]] = defaultdict(list)
    for c, d in results:
        by_cat[c.category].append(handled_right(c, d))
        by_cat_tier[c.category, c.tier].append(handled_right(c, d))
    return Report(
        name=name,
        tier3=Rate(sum(d.tier >= 3 for _, d in t3), len(t3)),
        tier2=Rate(sum(d.tier >= 2 for _, d in t2), len(t2)),
        any_alert3=Rate(sum(d.tier > 0 for _, d in t3), len(t3)),
        hard_fp=Rate(sum(d.tier > 0 for _, d in hard), len(hard)),
        exact=Rate(sum(d.tier == c.tier for c, d in en), len(en)),
        abuse=Rate(sum(_path(d) == "abuse" for _, d in abuse), len(abuse)),
        es_self=Rate(sum(d.tier > 0 for _, d in es_self), len(es_self)),
        es_any=Rate(sum(d.tier > 0 for _, d in es_any), len(es_any)),
        by_category={k: Rate(sum(v), len(v)) for k, v in sorted(by_cat.items())},
        by_category_tier={k: Rate(sum(v), len(v)) for k, v in sorted(by_cat_tier.items())},
        confusion=Counter((c.tier, d.tier) for c, d in en),
        failures=[(c, d) for c, d in results if not handled_right(c, d)],
    )


def render(report: Report, version: str) -> str:
    lines = [
        f"== {report.name} (rules {version})",
        "English self/none:",
        f"  tier-3 recall (alerted at tier 3)   {report.tier3}",
        f"  tier>=2 recall                      {report.tier2}",
        f"  any alert on tier-3 cases           {report.any_alert3}",
        f"  false alarms on hard tier-0 cases   {report.hard_fp}",
        f"  exact tier                          {report.exact}",
        f"abuse recognised as abuse             {report.abuse}",
        f"Spanish self risk alerted             {report.es_self}",
        f"Spanish risk (any path) alerted       {report.es_any}",
        "confusion, English self/none (rows expected, columns detected):",
        "        0    1    2    3",
    ]
    for exp in range(4):
        lines.append(f"  {exp} " + " ".join(f"{report.confusion[exp, got]:4d}" for got in range(4)))
    lines.append("handled right by category:")
    for cat, rate in report.by_category.items():
        tiers = "  ".join(f"t{t} {r.hits}/{r.total}" for (c, t), r in report.by_category_tier.items()
                          if c == cat)
        lines.append(f"  {cat:<26} {rate.hits:3d}/{rate.total:<3d}  ({tiers})")
    return "\n".join(lines)


def markdown_row(report: Report, version: str) -> str:
    weak = sorted(report.by_category.items(), key=lambda kv: kv[1].value)[:6]
    weakest = ", ".join(f"{k} {v.hits}/{v.total}" for k, v in weak)
    return (f"| {report.name} | {version} | {report.tier3} | {report.tier2} | {report.any_alert3} "
            f"| {report.hard_fp} | {report.exact} | {report.abuse} | {report.es_self} | {weakest} |")


def resolve(arg: str) -> Path:
    path = Path(arg)
    if path.suffix == ".toml":
        return path
    if arg in AUTHORED:
        return authored_dir() / f"{arg}.toml"
    return DEV_DIR / f"{arg}.toml"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", default=["casual"],
                        help="set names in the crisis_dev folder, or .toml paths (default casual)")
    parser.add_argument("--failures", action="store_true", help="list mishandled case ids")
    parser.add_argument("--texts", action="store_true",
                        help="with --failures, show texts on the terminal (never the held-out set)")
    parser.add_argument("--markdown", action="store_true", help="print a bench/README.md table row")
    parser.add_argument("--rules", default=str(RULES))
    parser.add_argument("--no-model", action="store_true", help="the concept rules alone")
    parser.add_argument("--look", action="store_true",
                        help="spend a look at a held-out set (record it in bench/README.md)")
    parser.add_argument("--both", action="store_true",
                        help="also measure the rules alone, in the same run")
    args = parser.parse_args(argv)

    paths = [resolve(name) for name in args.sets]
    for path in paths:
        if path.stem in HELD_OUT and args.texts:
            print(f"refusing --texts on the held-out set {path.stem!r}", file=sys.stderr)
            return 2
        if path.stem in HELD_OUT and not args.look and path.exists():
            print(f"{path.stem!r} is held out: measure it only at a milestone, with --look",
                  file=sys.stderr)
            return 2
    detectors: list[Detector] = []
    for path in paths:
        if not path.exists():
            print(f"{path}: not found; skipping (the labelled sets are not on this machine)")
            continue
        if not detectors:
            detectors.append(Detector.from_file(args.rules, use_model=not args.no_model))
            if args.both and not args.no_model:
                detectors.append(Detector.from_file(args.rules, use_model=False))
        if path.stem in HELD_OUT:
            print(f"held-out look at {path.stem!r}: record it in bench/README.md")
        cases = load_cases(path)
        for detector in detectors:
            report = evaluate(detector, path.stem, cases)
            print(markdown_row(report, detector.version) if args.markdown
                  else render(report, detector.version))
            if args.failures:
                for case, d in report.failures:
                    line = (f"  {case.id:<28} expected {case.tier}/{case.path:<5} got {d.tier}/{_path(d):<5}"
                            f" {d.rule_id or '-'}")
                    print(line + (f"\n      {case.text!r}" if args.texts else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
