"""Hypothesis: the business loader and the call-script loader on arbitrary YAML.

Whatever the document, loading gives a value or a clear, typed error: ``ValueError`` (which
``ScriptError`` and pydantic's ``ValidationError`` are) naming what is wrong, never a
TypeError/AttributeError/KeyError/OSError from deep inside. Documents are either arbitrary
text, arbitrary YAML values, or a valid file with one subtree replaced by anything.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors.schedule import Business, load_business
from evals.script import CallScript, ScriptError, load_script
from voice_agent.config import DEFAULT_BUSINESSES_DIR

ROOT = Path(__file__).resolve().parents[2]
BUSINESS = yaml.safe_load((DEFAULT_BUSINESSES_DIR / "demo-salon.yaml").read_text())
SCRIPT = yaml.safe_load(
    next((ROOT / "evals" / "calls" / "book").glob("*.yaml")).read_text())
CASES = {"business": 0, "script": 0}

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
    st.text(max_size=30), st.dates(), st.datetimes(timezones=st.none() | st.timezones()),
    st.sampled_from(["09:00", "25:99", "America/New_York", "../../etc/passwd", "UTC", "A" * 300,
                     "America", "\x00", "mon", "haircut", "2026-11-23T09:00:00-05:00"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=12) | st.integers() | st.sampled_from(
            ["name", "hours", "services", "staff", "caller", "turns", "expect", "id"]),
        inner, max_size=5),
    max_leaves=15,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: Any, base: Any) -> Any:
    """``base`` with one subtree (or one key) replaced by an arbitrary value."""
    doc = copy.deepcopy(base)
    path = draw(st.sampled_from(_paths(doc)))
    new = draw(values)
    if not path:
        return new
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if draw(st.booleans()) or not isinstance(parent, dict):
        parent[path[-1]] = new
    else:
        del parent[path[-1]]
    return doc


def documents(base: Any) -> st.SearchStrategy[str]:
    dumped = st.one_of(mutated(base), values, st.lists(mutated(base), max_size=2)).map(
        lambda d: yaml.safe_dump(d, allow_unicode=True))
    return st.one_of(dumped, dumped, st.text(max_size=200),
                     st.sampled_from(["a: &a [*a]", "{", "- - - -", "!!python/object:os.system {}",
                                      "? [1, 2]\n: x", "name: [a\n", "\t:", "%YAML 9.9\n---\n"]))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.yaml"
    path.write_text(text, encoding="utf-8")
    return path


FUZZ = settings(max_examples=400, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FUZZ
@given(text=documents(BUSINESS))
@example(text="name: [unclosed\n")
@example(text="name: !!timestamp '1926-01-01 00:00:00+07:39:40'\n")  # AttributeError in PyYAML
@example(text="name: 2026-02-30\n")  # a bare ValueError from PyYAML
@example(text="[" * 3000 + "]" * 3000)  # RecursionError
@example(text=yaml.safe_dump({**BUSINESS, "timezone": "A" * 300}))
@example(text=yaml.safe_dump({**BUSINESS, "timezone": "America"}))
@example(text=yaml.safe_dump({**BUSINESS, "hours": {"mon": ["09:00"]}}))
@example(text=yaml.safe_dump({**BUSINESS, 1: 2}))
def test_a_business_file_loads_or_says_why(tmp_path: Path, text: str) -> None:
    CASES["business"] += 1
    try:
        business = load_business(_write(tmp_path, text))
    except ValueError as exc:  # includes pydantic's ValidationError
        assert str(exc).strip()
        return
    assert isinstance(business, Business)


@FUZZ
@given(text=documents(SCRIPT))
@example(text="id: [unclosed\n")
@example(text="now: !!timestamp '1926-01-01 00:00:00+07:39:40'\n")  # AttributeError in PyYAML
@example(text="now: 2026-02-30\n")  # a bare ValueError, not a ScriptError
@example(text="[" * 3000 + "]" * 3000)  # RecursionError
@example(text=yaml.safe_dump({**SCRIPT, 1: 2}))
@example(text=yaml.safe_dump({**SCRIPT, "now": "2026-11-23"}))
def test_a_call_script_loads_or_says_why(tmp_path: Path, text: str) -> None:
    CASES["script"] += 1
    try:
        script = load_script(_write(tmp_path, text))
    except ScriptError as exc:
        assert str(exc).startswith(str(tmp_path))
        return
    except ValidationError:  # pragma: no cover - load_script wraps these
        pytest.fail("a ValidationError escaped load_script unwrapped")
    assert isinstance(script, CallScript)


def test_the_valid_files_still_load() -> None:  # the mutations start from real, valid files
    assert isinstance(Business.model_validate(BUSINESS), Business)
    assert isinstance(CallScript.model_validate(SCRIPT), CallScript)
    assert isinstance(SCRIPT["now"], dt.datetime | str)


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    print(f"\nfuzz cases: {CASES}")
