"""Render the Helm chart offline with Helm's own Go engine (helm-python-sdk's libhelm_c)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

INFRA = Path(__file__).resolve().parents[2] / "infra"
CHART = INFRA / "helm" / "voice-agent"
PROFILES = ("values.yaml", "values-gpu.yaml", "values-cpu-small.yaml")
KUBERNETES_VERSION = "1.33.0"  # one of the versions kubernetes-validate ships schemas for


def profile_values(profile: str) -> dict[str, Any]:
    """The overrides a profile gives on top of values.yaml (values.yaml itself: none)."""
    if profile == "values.yaml":
        return {}
    return yaml.safe_load((CHART / profile).read_text()) or {}


@cache
def _render(profile: str, extra: str) -> dict[str, str]:
    import helm_python as helm

    values = profile_values(profile)
    for path, value in yaml.safe_load(extra or "{}").items():  # "a.b: value" overrides
        node = values
        *parents, leaf = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(values, name="va", namespace="voice", is_install=True)


def render(profile: str, extra: str = "") -> dict[str, str]:
    """Template path -> rendered text (hooks included), as `helm template` writes them."""
    return dict(_render(profile, extra))


def documents(profile: str, extra: str = "") -> list[dict[str, Any]]:
    return [doc for text in render(profile, extra).values()
            for doc in yaml.safe_load_all(text) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def deployment(docs: list[dict[str, Any]], component: str) -> dict[str, Any]:
    (found,) = [d for d in by_kind(docs, "Deployment")
                if d["metadata"]["labels"]["app.kubernetes.io/component"] == component]
    return found
