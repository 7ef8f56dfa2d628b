"""The simulated caller's deterministic question classification and line choice."""

from __future__ import annotations

import pytest

from evals.script import CallerTurn
from evals.simulator.caller_policy import (
    CALLING_NUMBER_IS_FINE,
    DONT_KNOW,
    NOTHING_ASKED,
    caller_hangs_up,
    classify_question,
    next_caller_line,
    spell,
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


def said(line) -> tuple[str, bool]:
    return line.text, line.consumed is not None


def test_unheld_line_is_always_said() -> None:
    turns = [CallerTurn(say="Hi, I'd like a haircut.")]
    assert said(next_caller_line(turns, "Hello?", FACTS)) == ("Hi, I'd like a haircut.", True)
    assert said(next_caller_line(turns, "Good morning.", FACTS)) == (
        "Hi, I'd like a haircut.", True)


def test_held_line_said_when_asked() -> None:
    assert said(next_caller_line(TURNS, "May I take your name?", FACTS)) == ("Dana Smith.", True)
    line = next_caller_line(TURNS[1:], "Shall I book it?", FACTS)
    assert said(line) == ("Yes please, book it.", True)
    assert line.label == "confirm"


def test_a_held_line_is_said_wherever_it_stands() -> None:
    """Rule 1: the agent asks to confirm first; the confirm line is the second remaining."""
    line = next_caller_line(TURNS, "A haircut on Tuesday at 3 PM. Shall I book that?", FACTS)
    assert (line.text, line.consumed, line.label) == ("Yes please, book it.", 1, "confirm")


def test_held_line_waits_and_facts_answer() -> None:
    line = next_caller_line(TURNS, "What's your phone number?", FACTS)
    assert (line.text, line.consumed, line.label) == ("+15551230001.", None, "facts:phone")
    assert said(next_caller_line(TURNS, "What day and time?", FACTS)) == (
        "next Tuesday, 3 pm.", False)
    assert said(next_caller_line(TURNS, "Which service?", FACTS)) == (DONT_KNOW, False)
    assert said(next_caller_line(TURNS, "Is that all?", FACTS)) == (DONT_KNOW, False)
    assert said(next_caller_line(TURNS, "Let me check.", FACTS)) == (NOTHING_ASKED, False)


def test_asked_for_a_number_without_a_phone_fact_the_calling_number_is_fine() -> None:
    line = next_caller_line(TURNS, "What's the best number to reach you?", {"name": "Dana"})
    assert line.text == CALLING_NUMBER_IS_FINE and line.consumed is None


def test_repeat_when_asked_to_say_it_again() -> None:
    first = next_caller_line(TURNS, "Can I have your name?", FACTS)
    again = next_caller_line(TURNS[1:], "Sorry, I didn't catch that. Could you say that again?",
                             FACTS, last=first)
    assert (again.text, again.consumed, again.label) == ("Dana Smith.", None, "repeat:name")


def test_spelling_and_keypad_digits() -> None:
    line = next_caller_line(TURNS[1:], "Could you spell your name for me?", FACTS)
    assert line.text == "D, A, N, A, then S, M, I, T, H" and line.label == "spell:name"
    assert spell("Zoë Müller") == "Z, O, Ë, then M, Ü, L, L, E, R"
    keys = next_caller_line(TURNS[1:], "What's your phone number? Or type it on your keypad, "
                            "then press hash.", {}, caller_id="+1 555 123 0001")
    assert keys.dtmf == "15551230001#" and keys.label == "dtmf:phone"


def test_hangup_turn_and_rule_five() -> None:
    turns = [CallerTurn(hangup=True), CallerTurn(say="never said")]
    assert next_caller_line(turns, "Which day?", FACTS).hangup
    assert caller_hangs_up("Thank you for calling. Goodbye!", lines_left=0, silent_turns=0)
    assert not caller_hangs_up("Anything else?", lines_left=0, silent_turns=0)
    assert caller_hangs_up("Okay.", lines_left=0, silent_turns=2)
    assert not caller_hangs_up("Goodbye!", lines_left=1, silent_turns=0)


def test_email_fact() -> None:
    facts = {"email": "dana@example.com"}
    assert said(next_caller_line(TURNS, "What's your email address?", facts)) == (
        "dana@example.com.", False)


def test_anything_matches_any_question_only() -> None:
    turns = [CallerTurn(say="No, that's all.", if_asked="anything")]
    assert said(next_caller_line(turns, "Anything else?", {})) == ("No, that's all.", True)
    assert said(next_caller_line(turns, "Your name please?", {})) == ("No, that's all.", True)
    assert said(next_caller_line(turns, "Okay, one moment.", {})) == (NOTHING_ASKED, False)


def test_unknown_agent_text_says_next_line() -> None:
    assert said(next_caller_line(TURNS, None, FACTS)) == ("Dana Smith.", True)


def test_no_lines_left_answers_from_facts() -> None:
    assert said(next_caller_line([], "Who am I speaking with?", FACTS)) == ("Dana Smith.", False)


def test_a_scripted_caller_takes_turns_and_hangs_up_by_rule_five() -> None:
    from evals.simulator.caller_policy import ScriptedCaller

    caller = ScriptedCaller([CallerTurn(say="A haircut Tuesday at 3."), *TURNS], FACTS,
                            caller_id="+15551230001")
    assert caller.reply("How can I help?").text == "A haircut Tuesday at 3."
    assert caller.reply("Shall I book that?").text == "Yes please, book it."  # held, rule 1
    assert caller.reply("What name should I put it under?").text == "Dana Smith."
    assert caller.reply("You're booked. Anything else?").text == DONT_KNOW  # lines used up
    assert caller.reply("Thank you for calling. Goodbye!") is None


def test_a_stuck_script_says_its_next_line_after_three_held_answers() -> None:
    from evals.simulator.caller_policy import ScriptedCaller

    caller = ScriptedCaller(TURNS, FACTS, caller_id=None)
    answers = [caller.reply("Which service would you like?").text for _ in range(4)]
    assert answers == [DONT_KNOW, DONT_KNOW, DONT_KNOW, "Dana Smith."]
