"""The Helm chart, rendered offline by Helm's own engine for every values profile, checked
against Kubernetes' schemas (kubernetes-validate --strict), yamllint, and the invariants a
deployment of this agent needs. Nothing here talks to a cluster."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from tests.infra.chart import (
    CHART,
    INFRA,
    KUBERNETES_VERSION,
    PROFILES,
    by_kind,
    deployment,
    documents,
    render,
)
from tests.infra.settings_env import setting_env_names
from voice_agent import metrics
from voice_agent.config import Settings

# Profiles plus the values-gated extras, so the gated templates are validated too.
VARIANTS = [(p, "") for p in PROFILES] + [
    ("values.yaml", "sip.enabled: true"),
    ("values.yaml", "metrics.bearerTokenSecret: {name: metrics-token, key: token}"),
    ("values-gpu.yaml", "vllm.replicas: 2"),
]
IDS = [f"{p}{'+' + e.split(':')[0] if e else ''}" for p, e in VARIANTS]

# prometheus-operator's ServiceMonitor is a CRD: kubernetes-validate has no schema for it.
# This is the subset of its v1 schema the chart uses (unknown fields are refused).
SERVICE_MONITOR = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object", "additionalProperties": False, "required": ["selector", "endpoints"],
            "properties": {
                "selector": {"type": "object", "required": ["matchLabels"]},
                "endpoints": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False,
                    "properties": {
                        "port": {"type": "string"}, "path": {"type": "string"},
                        "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                        "authorization": {
                            "type": "object", "additionalProperties": False,
                            "properties": {"type": {"type": "string"}, "credentials": {
                                "type": "object", "required": ["name", "key"]}}},
                    }}},
            }},
    },
}


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["spec"]["template"]["spec"]["containers"]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def _gpus(container: dict[str, Any]) -> int:
    res = container.get("resources", {})
    return max(int(res.get(part, {}).get("nvidia.com/gpu", 0)) for part in ("requests", "limits"))


@pytest.mark.parametrize(("profile", "extra"), VARIANTS, ids=IDS)
def test_every_rendered_document_is_valid_kubernetes(profile: str, extra: str) -> None:
    import kubernetes_validate

    docs = documents(profile, extra)
    assert len(docs) >= 8
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":
            jsonschema.validate(doc, SERVICE_MONITOR)
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("profile", PROFILES)
def test_kubernetes_validate_cli_strict(profile: str, tmp_path: Path) -> None:
    """The same check through the command (`kubernetes-validate --strict`), file by file."""
    files = []
    for i, doc in enumerate(d for d in documents(profile) if d["kind"] != "ServiceMonitor"):
        path = tmp_path / f"{i:02d}-{doc['kind']}.yaml"
        path.write_text(yaml.safe_dump(doc))
        files.append(str(path))
    run = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "-k", KUBERNETES_VERSION,
         *files], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count(" passed for resource ") == len(files), run.stdout


@pytest.mark.parametrize(("profile", "extra"), VARIANTS, ids=IDS)
def test_rendered_output_passes_yamllint(profile: str, extra: str) -> None:
    config = YamlLintConfig(file=str(INFRA / ".yamllint"))
    for template, text in render(profile, extra).items():
        errors = [p for p in linter.run(text, config) if p.level == "error"]
        assert not errors, f"{template}: {errors}"


def test_values_files_pass_yamllint() -> None:
    config = YamlLintConfig(file=str(INFRA / ".yamllint"))
    for path in sorted(CHART.glob("values*.yaml")):
        errors = [p for p in linter.run(path.read_text(), config) if p.level == "error"]
        assert not errors, f"{path.name}: {errors}"


@pytest.mark.parametrize("profile", ["values.yaml", "values-gpu.yaml"])
def test_vllm_serves_tools_prefix_cache_and_structured_outputs(profile: str) -> None:
    (vllm,) = _containers(deployment(documents(profile), "vllm"))
    args = vllm["args"]
    assert "--enable-auto-tool-choice" in args
    assert args[args.index("--tool-call-parser") + 1] == "hermes"
    assert "--enable-prefix-caching" in args
    assert args[args.index("--guided-decoding-backend") + 1] == "xgrammar"
    assert _gpus(vllm) >= 1
    assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(vllm)
    assert any(m["mountPath"] == "/models" for m in vllm["volumeMounts"])
    served = args[args.index("--served-model-name") + 1]
    (agent,) = _containers(deployment(documents(profile), "agent"))
    assert _env(agent)["LLM_MODEL"] == served
    assert _env(agent)["LLM_BASE_URL"] == "http://va-voice-agent-vllm:8000/v1"


def test_tool_call_parser_is_configurable() -> None:
    (vllm,) = _containers(deployment(documents("values.yaml", "vllm.toolCallParser: llama3_json"),
                                     "vllm"))
    assert vllm["args"][vllm["args"].index("--tool-call-parser") + 1] == "llama3_json"


@pytest.mark.parametrize("profile", PROFILES)
def test_gpus_only_where_meant(profile: str) -> None:
    docs = documents(profile)
    gpus = {d["metadata"]["labels"]["app.kubernetes.io/component"]: sum(map(_gpus, _containers(d)))
            for d in by_kind(docs, "Deployment")}
    expect_vllm = profile != "values-cpu-small.yaml"
    assert ("vllm" in gpus) == expect_vllm
    if expect_vllm:
        assert gpus["vllm"] >= 1
    assert gpus["tts"] == 0
    assert (gpus["agent"] > 0) == (profile == "values-gpu.yaml")
    for job in by_kind(docs, "Job"):
        assert sum(map(_gpus, job["spec"]["template"]["spec"]["containers"])) == 0
    (agent,) = _containers(deployment(docs, "agent"))
    device = _env(agent)["VOICE_AGENT_STT_DEVICE"]
    assert device == ("cuda" if profile == "values-gpu.yaml" else "cpu")


@pytest.mark.parametrize("profile", PROFILES)
def test_grace_period_covers_prestop_sleep_and_drain_deadline(profile: str) -> None:
    spec = deployment(documents(profile), "agent")["spec"]["template"]["spec"]
    (agent,) = spec["containers"]
    command = agent["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    drain = float(_env(agent)["VOICE_AGENT_DRAIN_DEADLINE_S"])
    assert "drain_deadline_s" in Settings.model_fields
    assert float(command[1]) + drain <= spec["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("profile", PROFILES)
def test_agent_and_migration_env_names_are_real_settings(
    profile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = documents(profile)
    real = setting_env_names()
    (agent,) = _containers(deployment(docs, "agent"))
    (job,) = by_kind(docs, "Job")
    for container in [agent, *job["spec"]["template"]["spec"]["containers"]]:
        unknown = set(_env(container)) - real
        assert not unknown, f"{container['name']}: not settings of voice_agent/config.py: {unknown}"
    env = _env(agent)
    for name in ("DATABASE_URL", "TWILIO_AUTH_TOKEN", "VOICE_AGENT_SECRET_KEY"):
        assert "secretKeyRef" in env[name], f"{name} must come from existingSecret"
    for name, value in env.items():  # the values the chart sets parse as the app's settings
        monkeypatch.setenv(name, value if isinstance(value, str) else "from-secret")
    settings = Settings(_env_file=None)
    assert settings.env == "prod"
    assert settings.drain_deadline_s == float(env["VOICE_AGENT_DRAIN_DEADLINE_S"])
    assert settings.host == "0.0.0.0" and settings.port == 8080


@pytest.mark.parametrize("profile", PROFILES)
def test_tts_is_its_own_deployment_and_the_agent_points_at_it(profile: str) -> None:
    docs = documents(profile)
    (piper,) = _containers(deployment(docs, "tts"))
    assert "--port" in piper["args"] and piper["readinessProbe"]["httpGet"]["path"] == "/voices"
    (agent,) = _containers(deployment(docs, "agent"))
    services = {s["metadata"]["name"]: s for s in by_kind(docs, "Service")}
    url = re.fullmatch(r"http://([^:/]+):(\d+)", _env(agent)["TTS_BASE_URL"])
    assert url and url[1] in services
    assert int(url[2]) in [p["port"] for p in services[url[1]]["spec"]["ports"]]


def test_cpu_small_uses_a_llama_cpp_server_and_no_vllm() -> None:
    docs = documents("values-cpu-small.yaml")
    (agent,) = _containers(deployment(docs, "agent"))
    env = _env(agent)
    assert env["LLM_BASE_URL"] == "http://llama-cpp:8000/v1"
    assert env["VOICE_AGENT_LLM_SCHEMA_MODE"] == "llama_cpp"
    assert not any("vllm" in d["metadata"]["name"] for d in docs)


@pytest.mark.parametrize("profile", ["values.yaml", "values-gpu.yaml"])
def test_hpa_scales_on_a_metric_the_app_exports(profile: str) -> None:
    docs = documents(profile)
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler")
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods"
    name = metric["pods"]["metric"]["name"]
    assert name == metrics.ACTIVE_CALLS._name
    assert name in metrics.EXPORTED
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
    (adapter,) = by_kind(docs, "ConfigMap")
    rules = yaml.safe_load(adapter["data"]["config.yaml"])["rules"]
    assert [r["name"]["as"] for r in rules] == [name]
    assert rules[0]["seriesQuery"].startswith(name + "{")


@pytest.mark.parametrize("profile", PROFILES)
def test_ingress_keeps_a_call_s_websocket_open(profile: str) -> None:
    docs = documents(profile)
    (ingress,) = by_kind(docs, "Ingress")
    notes = ingress["metadata"]["annotations"]
    (agent,) = _containers(deployment(docs, "agent"))
    call_s = int(_env(agent)["VOICE_AGENT_MAX_CALL_SECONDS"])
    for key in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(notes[f"nginx.ingress.kubernetes.io/{key}"]) >= call_s
    paths = [p["path"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
    assert paths == ["/telephony"]  # webhook + Media Streams; admin and review stay inside


def test_sip_udp_service_is_off_by_default_and_udp_when_on() -> None:
    assert not [s for s in by_kind(documents("values.yaml"), "Service")
                if s["metadata"]["name"].endswith("-sip")]
    (sip,) = [s for s in by_kind(documents("values.yaml", "sip.enabled: true"), "Service")
              if s["metadata"]["name"].endswith("-sip")]
    assert {p["protocol"] for p in sip["spec"]["ports"]} == {"UDP"}
    assert len(sip["spec"]["ports"]) == 1 + 20


def test_sip_on_turns_the_agents_listener_on_with_the_services_ports(
        monkeypatch: pytest.MonkeyPatch) -> None:
    docs = documents("values.yaml", "sip: {enabled: true, allowedPeers: '203.0.113.0/24', "
                                    "advertisedHost: 198.51.100.4}")
    (agent,) = _containers(deployment(docs, "agent"))
    env = _env(agent)
    assert not set(env) - setting_env_names()
    for name, value in env.items():
        monkeypatch.setenv(name, value if isinstance(value, str) else "from-secret")
    settings = Settings(_env_file=None)
    assert settings.sip_enabled and settings.sip_host == "0.0.0.0" and settings.sip_port == 5060
    assert (settings.sip_rtp_port_min, settings.sip_rtp_port_max) == (10000, 10020)
    assert settings.sip_peers == ["203.0.113.0/24"] and not settings.sip_tcp
    assert settings.sip_advertised_host == "198.51.100.4"
    assert "VOICE_AGENT_SIP_ENABLED" not in _env(_containers(
        deployment(documents("values.yaml"), "agent"))[0])


@pytest.mark.parametrize("profile", PROFILES)
def test_migration_job_is_a_hook_running_db_upgrade(profile: str) -> None:
    (job,) = by_kind(documents(profile), "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["db", "upgrade"]  # voice_agent/cli: `voice-agent db upgrade`


def test_pdbs_and_network_policies() -> None:
    docs = documents("values-gpu.yaml", "vllm.replicas: 2")
    pdbs = {d["metadata"]["name"] for d in by_kind(docs, "PodDisruptionBudget")}
    assert pdbs == {"va-voice-agent-agent", "va-voice-agent-tts", "va-voice-agent-vllm"}
    policies = {d["metadata"]["name"] for d in by_kind(docs, "NetworkPolicy")}
    assert policies == {"va-voice-agent-agent", "va-voice-agent-tts", "va-voice-agent-vllm"}
    # one vLLM replica: no PDB (minAvailable 1 of 1 would block every node drain)
    assert "va-voice-agent-vllm" not in {
        d["metadata"]["name"] for d in by_kind(documents("values.yaml"), "PodDisruptionBudget")}


def test_values_schema_refuses_what_the_app_would_refuse() -> None:
    import helm_python as helm

    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["properties"]["agent"]["properties"]["llmReading"]["enum"] == list(
        Settings.model_fields["llm_reading"].annotation.__args__)
    with helm.Chart.load(str(CHART)) as chart:
        for bad in ({"agent": {"stt": {"device": "tpu", "computeType": "x", "gpu": False}}},
                    {"agnet": {}}, {"existingSecret": ""},
                    {"database": {"external": False}}):
            with pytest.raises(helm.HelmValuesError):
                chart.validate_schema(bad)
