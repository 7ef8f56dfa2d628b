"""What a free LLM reply may say."""

from __future__ import annotations

import pytest

from voice_agent.dialog.reply_guard import reply_problem


@pytest.mark.parametrize("text", [
    "Happy to help, what would you like to do?",
    "We're a family-run salon. What would you like to book?",
])
def test_plain_questions_pass(text: str) -> None:
    assert reply_problem(text, "hmm", asked="anything") is None
    assert reply_problem(text, "hmm", asked="name") is None


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty"),
    ("We have a free slot at 3 tomorrow.", "states times"),
    ("I'll book that for you now.", "speaks of booking"),
    ("blorp flib", "repeats the caller"),
    # the 0.5B model's answer to a garbled opening turn in an audio eval
    ("Hello! I'm an AI designed to assist with phone calls and provide information on various "
     "services. How can I help you today?", "talks about itself"),
    ("As an AI, I can't see calendars. What would you like?", "talks about itself"),
])
def test_unsafe_replies_are_refused(text: str, reason: str) -> None:
    problem = reply_problem(text, "blorp flib")
    assert problem is not None and reason in problem


@pytest.mark.parametrize("asked", ["name", "phone", "date", "time", "confirm", "service"])
def test_a_statement_while_an_answer_is_pending_is_refused(asked: str) -> None:
    problem = reply_problem("I'm sorry, but I can't assist with that.", "oh he should go mess",
                            asked=asked)
    assert problem == f"asks nothing while a {asked} answer is pending"


@pytest.mark.parametrize("asked", [None, "anything"])
def test_a_statement_is_fine_when_nothing_specific_is_pending(asked: str | None) -> None:
    assert reply_problem("I'm sorry, I didn't quite follow.", "do you have parking",
                         asked=asked) is None


@pytest.mark.parametrize("text", [
    "Yes, I do blow-dry.",  # a service confirmed by the free reply (seen on a held-out script)
    "Sure, there is parking behind the salon.",
    "We offer massages too.",
    "Of course, I'll send you a text.",
])
def test_a_claim_without_business_data_is_refused(text: str) -> None:
    problem = reply_problem(text, "do you do massages", asked="anything")
    assert problem is not None and "claims" in problem


def test_a_refusal_is_not_a_claim() -> None:
    assert reply_problem("I'm sorry, I can't help with that. What would you like to book?",
                         "hmm", asked="anything") is None
