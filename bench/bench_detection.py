"""Benchmark passive crisis detection: messages per second on one core, against a naive loop.

Usage: python bench/bench_detection.py [--messages N] [--runs R]

The mix is every labelled test message (about half risk language, most of the rest hard
negatives) plus synthetic ordinary chatter, 80% ordinary overall, which is still far more
risk language than a real server sees. "naive" is what one would write first: for each phrase pattern,
`re.search(pattern, text.lower())`, no normalisation, no prefilter.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import statistics
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain.crisis.detection import Detector  # noqa: E402

RULES = ROOT / "bot" / "data" / "crisis_phrases.toml"
LABELLED = [
    ROOT / "tests" / "domain" / "crisis" / name
    for name in ("labelled_messages.tsv", "heldout_messages.tsv", "unseen_messages.tsv")
]

_OPENERS = ["", "ok ", "honestly ", "lol ", "hey all, ", "update: ", "quick q: ", "ngl "]
_BODIES = [
    "day {n} and feeling steady", "meeting at {n} tonight, anyone joining?",
    "checked in, mood {m}", "my sponsor says hi to everyone", "made pasta again",
    "the weather is wild today", "who's up for a walk later", "{n} days sober, let's go",
    "does the reminder work in my timezone", "thanks for the support yesterday",
    "reading a good book about habits", "work was long but i'm fine",
    "anyone tried journaling before bed?", "i love this server", "coffee number {m} lol",
    "new here, {n} days off gambling", "gym then groceries then sleep",
    "my cat is sitting on my keyboard", "can a mod pin the schedule",
    "happy friday everyone", "slept badly but the day was ok",
]
_CLOSERS = ["", "!", " :)", " 🎉", " haha", "...", " ❤️"]


def load_messages() -> list[str]:
    texts = []
    for path in LABELLED:
        with open(path, encoding="utf-8", newline="") as fh:
            lines = (line for line in fh if not line.startswith("#"))
            texts += [r["text"].replace("\\n", "\n")
                      for r in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return texts


def synthetic(rng: random.Random, count: int) -> list[str]:
    return [
        rng.choice(_OPENERS)
        + rng.choice(_BODIES).format(n=rng.randint(1, 900), m=rng.randint(1, 5))
        + rng.choice(_CLOSERS)
        for _ in range(count)
    ]


def naive_patterns() -> list[str]:
    """Return every phrase pattern, macros expanded, each wrapped in word boundaries."""
    raw = tomllib.loads(RULES.read_text(encoding="utf-8"))
    macros = raw.get("macros", {})

    def expand(p: str) -> str:
        return re.sub(r"\{([a-z_][a-z0-9_]*)\}", lambda m: macros[m.group(1)], p)

    return [rf"\b(?:{expand(p)})\b" for rule in raw["rule"] for p in rule["patterns"]]


def naive_detect(patterns: Sequence[str]) -> Callable[[str], bool]:
    def detect(text: str) -> bool:
        low = text.lower()
        # re.search compiles on first use and caches, like most hand-written loops.
        return any(re.search(p, low) for p in patterns)

    return detect


def rate(fn: Callable[[str], object], messages: Sequence[str], runs: int) -> tuple[float, list[float]]:
    """Return median messages per CPU-second (process time: fair on a shared machine)."""
    per_run = []
    for _ in range(runs):
        start = time.process_time()
        for text in messages:
            fn(text)
        per_run.append(len(messages) / (time.process_time() - start))
    return statistics.median(per_run), per_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    rng = random.Random(args.seed)
    labelled = load_messages()
    ordinary = synthetic(rng, max(0, args.messages - len(labelled) * 1))
    mix = (labelled * max(1, args.messages // (5 * len(labelled))) + ordinary)[: args.messages]
    rng.shuffle(mix)

    t0 = time.perf_counter()
    detector = Detector.from_file(RULES)
    load_ms = (time.perf_counter() - t0) * 1000
    patterns = naive_patterns()
    naive = naive_detect(patterns)
    naive("warm up the re cache")

    risky = sum(detector.detect(m).tier > 0 for m in mix)
    ours, ours_runs = rate(detector.detect, mix, args.runs)
    theirs, theirs_runs = rate(naive, mix, args.runs)
    only_labelled, _ = rate(detector.detect, labelled, args.runs)

    print(f"python {sys.version.split()[0]}, one core; {len(mix)} messages "
          f"({risky} detected tier>0), {len(detector.rules)} rules / {len(patterns)} patterns; "
          f"rules {detector.version}; load + compile {load_ms:.0f} ms")
    print(f"load average {os.getloadavg()[0]:.1f}; rates are per CPU-second of this process")
    print(f"{'detector':<40} {'msgs/s (median)':>16} {'runs':>30}")
    print(f"{'Detector.detect (normalise + rules)':<40} {ours:>16,.0f} "
          f"{' '.join(f'{r:,.0f}' for r in ours_runs):>30}")
    print(f"{'naive re.search per pattern':<40} {theirs:>16,.0f} "
          f"{' '.join(f'{r:,.0f}' for r in theirs_runs):>30}")
    print(f"{'Detector.detect, labelled set only':<40} {only_labelled:>16,.0f}")
    print(f"speed-up: {ours / theirs:.1f}x")


if __name__ == "__main__":
    main()
