"""Fixtures shared by the dialog tests: the two demo businesses, the reply templates and a
``Call`` (``test_policy``'s policy driver) at demo-salon."""

from __future__ import annotations

import pytest

from connectors.schedule import Business, load_business
from voice_agent.config import DEFAULT_BUSINESSES_DIR
from voice_agent.dialog.prompt import load_replies

from .test_policy import PROMPTS, Call


@pytest.fixture(scope="module")
def salon() -> Business:
    return load_business(DEFAULT_BUSINESSES_DIR / "demo-salon.yaml")


@pytest.fixture(scope="module")
def dental() -> Business:
    return load_business(DEFAULT_BUSINESSES_DIR / "demo-dental.yaml")


@pytest.fixture(scope="module")
def replies() -> dict[str, str]:
    return load_replies(PROMPTS)


@pytest.fixture
def call(salon: Business, replies: dict[str, str]) -> Call:
    return Call(salon, replies)
