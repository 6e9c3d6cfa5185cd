"""docs/metrics.md, the alert rules and the Grafana dashboard match the metrics the bot serves."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics_core import Metric

from bot.metrics import PrometheusMetrics

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
RULES = DOCS / "monitoring" / "kindred-alerts.yml"
DASHBOARD = DOCS / "monitoring" / "kindred-dashboard.json"
NAME = re.compile(r"\bkindred_[a-z_]+")


def served() -> set[str]:
    """The names Kindred's own series are queried by (`kindred_checkins_total`, `kindred_sweep_lag_seconds`, …)."""
    names = set()
    family: Metric
    for family in PrometheusMetrics().registry.collect():
        if family.name.startswith("kindred_"):
            names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


def referenced(text: str) -> set[str]:
    """Kindred metric names in a query or a document, histogram suffixes removed."""
    return {re.sub(r"_(bucket|count|sum)$", "", name) for name in NAME.findall(text)}


def test_every_metric_is_documented_and_every_documented_metric_exists() -> None:
    documented = referenced((DOCS / "metrics.md").read_text(encoding="utf-8"))
    assert served() - documented == set(), "served but not in docs/metrics.md"
    assert documented - served() == set(), "in docs/metrics.md but not served"


def test_alert_rules_parse_and_cover_lag_gateway_and_backlog() -> None:
    rules = [rule for group in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"] for rule in group["rules"]]
    for rule in rules:
        assert {"alert", "expr", "for", "labels", "annotations"} <= rule.keys(), rule
        assert rule["labels"]["severity"] in ("warning", "critical") and rule["annotations"]["summary"]
        assert referenced(rule["expr"]) <= served(), rule["expr"]
    by_metric = {name: rule["alert"] for rule in rules for name in referenced(rule["expr"])}
    for needed in ("kindred_sweep_lag_seconds", "kindred_gateway_connected", "kindred_outbox_oldest_pending_age_seconds"):
        assert needed in by_metric, f"no alert on {needed}"


def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`)")
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_parses_and_queries_only_served_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert queries and all(referenced(q) <= served() for q in queries), [q for q in queries if not referenced(q) <= served()]
    shown = set().union(*(referenced(q) for q in queries))
    for needed in ("kindred_gateway_connected", "kindred_interaction_response_seconds", "kindred_sweep_lag_seconds",
                   "kindred_outbox_pending", "kindred_crisis_alerts_total"):
        assert needed in shown, f"the dashboard does not show {needed}"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
