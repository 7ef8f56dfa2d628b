"""The tree's arrows: no two packages import each other, and no module grows past 600 lines.

The layer contracts themselves are import-linter's (``lint-imports``, run by ``make test``,
configured in ``pyproject.toml``); this adds what a layers contract does not say.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 600


def test_no_two_packages_import_each_other() -> None:
    graph = grimp.build_graph("voice_agent", "connectors", "evals")
    packages = sorted(m for m in graph.modules if graph.find_children(m))

    def related(a: str, b: str) -> bool:
        return a == b or a.startswith(b + ".") or b.startswith(a + ".")

    imports = {
        (a, b) for a in packages for b in packages
        if not related(a, b) and graph.direct_import_exists(importer=a, imported=b,
                                                            as_packages=True)
    }
    assert {"voice_agent.dialog", "voice_agent.booking", "evals.simulator"} <= set(packages)
    assert ("evals", "voice_agent") in imports  # the check sees imports at all
    assert sorted((a, b) for a, b in imports if (b, a) in imports) == []


def test_no_module_over_600_lines() -> None:
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()
    sizes = {f: len((REPO / f).read_text().splitlines()) for f in files
             if not f.startswith("tests/") and (REPO / f).exists()}
    assert len(sizes) > 50
    assert {f: n for f, n in sizes.items() if n > MAX_MODULE_LINES} == {}
