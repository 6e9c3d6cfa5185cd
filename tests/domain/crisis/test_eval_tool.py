"""bench/eval_crisis.py: the numbers it reports, counts only, and a clean skip without the sets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.eval_crisis import evaluate, load_cases, main
from bot.domain.crisis.detection import Detector

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "data" / "crisis_phrases.toml"

SET = '''
[[case]]
id = "t-1"
text = "quokka-marker: i have the pills ready and tonight is the night"
tier = 3
path = "self"
category = "means-plan"

[[case]]
id = "t-2"
text = "quokka-marker: this boss fight is killing me"
tier = 0
path = "none"
category = "idiom"
hard = true

[[case]]
id = "t-3"
text = "quokka-marker: hope you die"
tier = 2
path = "abuse"
category = "harassment"

[[case]]
id = "t-4"
text = "quokka-marker: quiero morir"
tier = 2
path = "self"
category = "plain"
lang = "es"

[[case]]
id = "t-5-missed"
text = "quokka-marker: the sky over the harbour is very blue today"
tier = 3
path = "self"
category = "means-plan"
'''


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(SET, encoding="utf-8")
    return path


def test_the_readme_numbers(labelled: Path) -> None:
    report = evaluate(Detector.from_file(RULES), "tiny", load_cases(labelled))
    assert (report.tier3.hits, report.tier3.total) == (1, 2)
    assert (report.hard_fp.hits, report.hard_fp.total) == (0, 1)
    assert (report.abuse.hits, report.abuse.total) == (1, 1)
    assert (report.es_self.hits, report.es_self.total) == (1, 1)
    assert report.by_category["idiom"].hits == 1
    assert [c.id for c, _ in report.failures] == ["t-5-missed"]


def test_output_has_counts_and_ids_never_texts(labelled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(labelled), "--failures"]) == 0
    out = capsys.readouterr().out
    assert "tier-3 recall" in out and "t-5-missed" in out and "quokka-marker" not in out


def test_missing_sets_are_skipped_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "absent.toml")]) == 0
    assert "skipping" in capsys.readouterr().out


def test_texts_are_refused_for_the_held_out_set(tmp_path: Path) -> None:
    held_out = tmp_path / "forum.toml"
    held_out.write_text(SET, encoding="utf-8")
    assert main([str(held_out), "--failures", "--texts"]) == 2


def test_a_held_out_set_is_measured_only_as_a_declared_look(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    held_out = tmp_path / "forum.toml"
    held_out.write_text(SET, encoding="utf-8")
    assert main([str(held_out)]) == 2
    assert "tier-3 recall" not in capsys.readouterr().out
    assert main([str(held_out), "--look"]) == 0
    out = capsys.readouterr().out
    assert "tier-3 recall" in out and "held-out look" in out


def test_authored_sets_are_found_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "xa.toml").write_text(SET, encoding="utf-8")
    monkeypatch.setenv("KINDRED_CRISIS_AUTHORED", str(tmp_path))
    assert main(["xa"]) == 0
    assert "== xa" in capsys.readouterr().out


def test_categories_break_down_by_tier(labelled: Path) -> None:
    report = evaluate(Detector.from_file(RULES), "tiny", load_cases(labelled))
    assert report.by_category_tier["means-plan", 3].total == 2
    assert report.by_category_tier["means-plan", 3].hits == 1


@pytest.mark.parametrize("name", ["xf", "xh", "xl", "xm"])
def test_round_3_held_out_sets_refuse_texts_and_need_a_look(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # xf and xh (round 3), xl (round 4) and xm (round 5) are pre-registered as held out: their texts are never shown and
    # every measurement of them is a declared look.
    (tmp_path / f"{name}.toml").write_text(SET, encoding="utf-8")
    monkeypatch.setenv("KINDRED_CRISIS_AUTHORED", str(tmp_path))
    assert main([name, "--failures", "--texts", "--look"]) == 2
    assert main([name]) == 2
    assert "tier-3 recall" not in capsys.readouterr().out
    assert main([name, "--look"]) == 0
    assert "held-out look" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["xd", "xe", "xg", "xi", "xj", "xk"])
def test_round_3_development_sets_are_found_by_name(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / f"{name}.toml").write_text(SET, encoding="utf-8")
    monkeypatch.setenv("KINDRED_CRISIS_AUTHORED", str(tmp_path))
    assert main([name]) == 0
    assert f"== {name}" in capsys.readouterr().out


def test_both_measures_the_rules_alone_in_the_same_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "xf.toml").write_text(SET, encoding="utf-8")
    monkeypatch.setenv("KINDRED_CRISIS_AUTHORED", str(tmp_path))
    assert main(["xf", "--look", "--both"]) == 0
    out = capsys.readouterr().out
    versions = re.findall(r"^== xf \(rules (\S+)\)", out, re.MULTILINE)
    detector = Detector.from_file(RULES)
    assert versions == [detector.version, detector.rules_version]  # with the model, then without
    assert out.count("held-out look") == 1  # one look covers both
