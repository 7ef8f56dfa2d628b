"""Every metric a dashboard panel or an alert queries is one the app exports
(voice_agent/metrics.py) or a known vLLM / kube-state-metrics name; the rule file and the
dashboard parse, and the compose file only names real settings and existing Dockerfiles."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from tests.infra.chart import INFRA
from tests.infra.settings_env import setting_env_names
from voice_agent import metrics

# Names other software exports that the dashboards and rules use.
VLLM = {"vllm:time_to_first_token_seconds", "vllm:num_requests_waiting",
        "vllm:num_requests_running"}
KUBE_STATE = {"kube_horizontalpodautoscaler_status_current_replicas",
              "kube_horizontalpodautoscaler_spec_max_replicas"}
KNOWN = metrics.EXPORTED | VLLM | KUBE_STATE

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
             "and", "or", "unless", "inf", "nan"}
_IDENT = re.compile(r"(?<![\w:.\"'$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])")


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords,
    label names (in ``{...}`` or ``by (...)``) or templating."""
    text = re.sub(r'"[^"]*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\boffset\s+\d+[smhdwy]", "", text)
    names = set()
    for match in _IDENT.finditer(text):
        word = match.group(1)
        after = text[match.end():].lstrip()
        if word.lower() in _KEYWORDS or after.startswith("("):
            continue
        names.add(word)
    return names


def family(name: str) -> str:
    """The family a histogram's series belongs to."""
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return base if base in KNOWN else name


def _rule_exprs() -> list[tuple[str, str]]:
    doc = yaml.safe_load((INFRA / "prometheus" / "rules.yaml").read_text())
    return [(r["alert"], r["expr"]) for g in doc["groups"] for r in g["rules"]]


def _dashboard_exprs() -> list[tuple[str, str]]:
    out = []
    for path in sorted((INFRA / "dashboards").glob("*.json")):
        dash = json.loads(path.read_text())
        for panel in dash["panels"]:
            out += [(f"{path.name}: {panel['title']}", t["expr"]) for t in panel["targets"]]
    return out


def test_the_name_parser_finds_metrics_and_only_metrics() -> None:
    expr = ('histogram_quantile(0.95, sum by (le, stage) (rate(voice_agent_turn_stage_seconds_'
            'bucket{stage="total"}[5m] offset 7d))) > bool 1 and on(pod) vllm:num_requests_waiting')
    assert metric_names(expr) == {"voice_agent_turn_stage_seconds_bucket",
                                  "vllm:num_requests_waiting"}


def test_rules_cover_the_alerts_asked_for() -> None:
    alerts = {name for name, _ in _rule_exprs()}
    assert {"VoiceAgentTurnLatencyP95High", "VoiceAgentCallErrorRate", "VoiceAgentCircuitOpen",
            "VoiceAgentReviewBacklog", "VoiceAgentSTTConfidenceDrift", "VoiceAgentAtMaxReplicas",
            "VoiceAgentLLMQueueing"} <= alerts
    doc = yaml.safe_load((INFRA / "prometheus" / "rules.yaml").read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
            assert re.fullmatch(r"\d+[smh]", rule["for"]) and rule["labels"]["severity"]


@pytest.mark.parametrize("source", ["rules", "dashboards"])
def test_every_queried_metric_is_exported_or_known(source: str) -> None:
    exprs = _rule_exprs() if source == "rules" else _dashboard_exprs()
    assert exprs
    for where, expr in exprs:
        names = metric_names(expr)
        assert names, f"{where}: no metric found in {expr!r}"
        unknown = {n for n in names if family(n) not in KNOWN}
        assert not unknown, f"{where}: queries {unknown}, which nothing exports"


def test_dashboard_shows_what_was_asked() -> None:
    exprs = " ".join(e for _, e in _dashboard_exprs())
    for q in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({q}, sum by (le, stage) (rate(voice_agent_turn_stage_" in exprs
    assert "vllm:time_to_first_token_seconds_bucket" in exprs
    assert "vllm:num_requests_waiting" in exprs
    assert "voice_agent_stt_avg_logprob_bucket[7d] offset 7d" in exprs  # this week vs last
    for outcome in ("pending_review", "transferred", "booked"):
        assert f'outcome="{outcome}"' in exprs or outcome in exprs


def test_rule_and_compose_yaml_pass_yamllint() -> None:
    config = YamlLintConfig(file=str(INFRA / ".yamllint"))
    paths = [INFRA / "prometheus" / "rules.yaml", *sorted((INFRA / "compose").rglob("*.y*ml"))]
    for path in paths:
        errors = [p for p in linter.run(path.read_text(), config) if p.level == "error"]
        assert not errors, f"{path}: {errors}"


def _compose() -> dict[str, Any]:
    return yaml.safe_load((INFRA / "compose" / "compose.yaml").read_text())


def test_compose_builds_from_dockerfiles_that_exist() -> None:
    compose = _compose()
    root = INFRA / "compose"
    built = {name: s["build"] for name, s in compose["services"].items() if "build" in s}
    assert {"agent", "tts", "migrate"} <= set(built)
    for name, build in built.items():
        dockerfile = (root / build["context"] / build["dockerfile"]).resolve()
        assert dockerfile.is_file(), f"{name}: {dockerfile} missing"
        for line in dockerfile.read_text().splitlines():  # what COPY takes must exist
            if line.startswith("COPY ") and "--from" not in line:
                for src in line.split()[1:-1]:
                    assert (root / build["context"] / src).exists(), f"{dockerfile.name}: {src}"
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            host = volume.split(":")[0]
            if host.startswith("."):
                assert (root / host).exists(), f"{name}: mounts missing {host}"
    assert set(compose["services"]) >= {"agent", "vllm", "postgres", "prometheus", "grafana"}
    gpu = compose["services"]["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]


def test_compose_agent_env_names_are_real_settings() -> None:
    real = setting_env_names()
    for name in ("agent", "migrate"):
        env = _compose()["services"][name]["environment"]
        assert not set(env) - real, f"{name}: {set(env) - real}"
    agent = _compose()["services"]["agent"]["environment"]
    assert agent["TTS_BASE_URL"] == "http://tts:5000"
    assert agent["LLM_BASE_URL"] == "http://vllm:8000/v1"
    args = _compose()["services"]["vllm"]["command"]
    assert {"--enable-auto-tool-choice", "--enable-prefix-caching", "--tool-call-parser"} <= set(
        args)
    grace = int(_compose()["services"]["agent"]["stop_grace_period"].rstrip("s"))
    assert float(agent["VOICE_AGENT_DRAIN_DEADLINE_S"]) <= grace


def test_compose_prometheus_loads_the_rules_and_scrapes_the_agent() -> None:
    prom = yaml.safe_load((INFRA / "compose" / "prometheus.yml").read_text())
    assert prom["rule_files"] == ["/etc/prometheus/rules.yaml"]
    targets = [t for job in prom["scrape_configs"] for s in job["static_configs"]
               for t in s["targets"]]
    assert "agent:8080" in targets and "vllm:8000" in targets
