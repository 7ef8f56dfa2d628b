"""The simulated caller's deterministic question classification and line choice."""

from __future__ import annotations

import pytest

from evals.script import CallerTurn
from evals.simulator.caller_policy import (
    DONT_KNOW,
    NOTHING_ASKED,
    classify_question,
    next_caller_line,
)


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("Thanks for calling Bella Hair Studio. How can I help you today?", {"service"}),
        ("Which service would you like?", {"service"}),
        ("What can I book for you?", {"service"}),
        ("Could I have your name, please?", {"name"}),
        ("And who am I speaking with?", {"name"}),
        ("What's the best phone number for you?", {"phone"}),
        ("Is there a number to reach you on?", {"phone"}),
        ("Tuesday at 3 pm with Maria. Shall I book that?", {"confirm"}),
        ("Should I book it?", {"confirm"}),
        ("Can you confirm that for me?", {"confirm"}),
        ("Haircut on Tuesday at 3, is that right?", {"confirm"}),
        ("Does that work for you?", {"confirm"}),
        ("What day would suit you?", {"date"}),
        ("Which day works best?", {"date"}),
        ("When would you like to come in?", {"date"}),
        ("What time would you like?", {"time"}),
        ("What day and what time?", {"date", "time"}),
        ("Anything else I can do?", set()),
        ("What\u2019s your name?", {"name"}),  # curly apostrophe
    ],
)
def test_classify_questions(text: str, kinds: set[str]) -> None:
    assert classify_question(text) == kinds | {"anything"}


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("Your booking is confirmed. Goodbye!", set()),
        ("Thank you.", set()),
        ("", set()),
        ("Please tell me your name.", {"name"}),  # an ask without a question mark
    ],
)
def test_classify_statements(text: str, kinds: set[str]) -> None:
    assert classify_question(text) == kinds


def test_only_question_sentences_count() -> None:
    assert classify_question("Thanks for your name. What time suits you?") == {"time", "anything"}


TURNS = [
    CallerTurn(say="Dana Smith.", if_asked="name"),
    CallerTurn(say="Yes please, book it.", if_asked="confirm"),
]
FACTS = {"name": "Dana Smith", "phone": "+15551230001", "date": "next Tuesday", "time": "3 pm"}


def test_unheld_line_is_always_said() -> None:
    turns = [CallerTurn(say="Hi, I'd like a haircut.")]
    assert next_caller_line(turns, "Hello?", FACTS) == ("Hi, I'd like a haircut.", True)
    assert next_caller_line(turns, "Good morning.", FACTS) == ("Hi, I'd like a haircut.", True)


def test_held_line_said_when_asked() -> None:
    assert next_caller_line(TURNS, "May I take your name?", FACTS) == ("Dana Smith.", True)
    assert next_caller_line(TURNS[1:], "Shall I book it?", FACTS) == ("Yes please, book it.", True)


def test_held_line_waits_and_facts_answer() -> None:
    assert next_caller_line(TURNS, "What's your phone number?", FACTS) == ("+15551230001.", False)
    assert next_caller_line(TURNS, "What day and time?", FACTS) == ("next Tuesday, 3 pm.", False)
    assert next_caller_line(TURNS, "Which service?", FACTS) == (DONT_KNOW, False)
    assert next_caller_line(TURNS, "Is that all?", FACTS) == (DONT_KNOW, False)
    assert next_caller_line(TURNS, "Let me check.", FACTS) == (NOTHING_ASKED, False)


def test_email_fact() -> None:
    facts = {"email": "dana@example.com"}
    assert next_caller_line(TURNS, "What's your email address?", facts) == (
        "dana@example.com.",
        False,
    )


def test_anything_matches_any_question_only() -> None:
    turns = [CallerTurn(say="No, that's all.", if_asked="anything")]
    assert next_caller_line(turns, "Anything else?", {}) == ("No, that's all.", True)
    assert next_caller_line(turns, "Your name please?", {}) == ("No, that's all.", True)
    assert next_caller_line(turns, "Okay, one moment.", {}) == (NOTHING_ASKED, False)


def test_unknown_agent_text_says_next_line() -> None:
    assert next_caller_line(TURNS, None, FACTS) == ("Dana Smith.", True)


def test_no_lines_left_answers_from_facts() -> None:
    assert next_caller_line([], "Who am I speaking with?", FACTS) == ("Dana Smith.", False)
