"""Reading one caller utterance in code: dialog acts, names, phones and services."""

import re
from datetime import date, time

import pytest

from connectors.schedule import Business
from voice_agent.dialog.names import extract_name, extract_phone
from voice_agent.dialog.understanding import understand

TODAY = date(2026, 11, 23)  # a Monday


# -- dialog acts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["yes", "Yes please, book it.", "yeah sure", "okay", "sounds good", "that works", "correct",
     "yes that's right", "go ahead", "It is fine"],
)
def test_affirm(salon: Business, text: str) -> None:
    u = understand(text, salon, TODAY, asked="confirm")
    assert u.affirm and not u.deny


@pytest.mark.parametrize(
    "text",
    ["no", "nope", "No, don't book it", "hold on", "actually, can we do another day",
     "that's not right", "that's wrong", "no, that's fine"],
)
def test_deny(salon: Business, text: str) -> None:
    u = understand(text, salon, TODAY, asked="confirm")
    assert u.deny and not u.affirm


@pytest.mark.parametrize("text", ["I'm not sure", "not really sure", "hmm, not quite right"])
def test_negated_affirmation_is_not_a_yes(salon: Business, text: str) -> None:
    # Regression: "not sure" matched "sure" and counted as consent to book.
    u = understand(text, salon, TODAY, asked="confirm")
    assert not u.affirm


@pytest.mark.parametrize(
    "text", ["No, that's all", "no thanks", "That's it, bye", "nothing else", "I'm good, thanks"]
)
def test_done(salon: Business, text: str) -> None:
    u = understand(text, salon, TODAY, asked="anything")
    assert u.done
    # "no, that's all" ends the call; with a leading "no" it also refuses what was offered
    assert u.deny == bool(re.match(r"no\b", text.lower()))


@pytest.mark.parametrize(
    "text",
    ["Can I speak to a real person?", "I want to talk to someone", "put me through to a human",
     "Can I get the manager", "Could you connect me with the front desk?",
     "I'd rather speak to a person about it", "transfer me to someone please",
     # heard over a phone line, small words garbled
     "I'd rather speak. Do a person about it please?", "Can I talk with, uh, someone?",
     "I'd rather speak. I'm going to a person about it in the week."],
)
def test_wants_human(salon: Business, text: str) -> None:
    assert understand(text, salon, TODAY, asked="anything").wants_human


@pytest.mark.parametrize(
    "text",
    ["Do you have someone else available?", "Find someone in Santa Rosa.",
     "I want to see someone about it", "I'm the office manager, booking for my boss",
     "Can you find me a psychologist in Pleasant Hill?",
     "I'll talk it over with my husband and ring back", "Someone told me to speak up"],
)
def test_looking_for_a_provider_is_not_asking_for_a_human(salon: Business, text: str) -> None:
    assert not understand(text, salon, TODAY, asked="anything").wants_human


def test_plain_booking_request_is_not_a_transfer(salon: Business) -> None:
    u = understand("Hi, I'd like to book a haircut.", salon, TODAY, asked="anything")
    assert not u.wants_human and not u.done and not u.deny
    assert u.wants_booking
    assert u.service is not None and u.service.id == "haircut"


def test_slots_read_together(salon: Business) -> None:
    u = understand("Next Tuesday at 3 pm.", salon, TODAY, asked="date")
    assert u.day == date(2026, 12, 1)
    assert u.tod is not None and u.tod.exact == time(15, 0)
    assert u.has_slot_info and u.understood_anything


def test_gibberish_understood_as_nothing(salon: Business) -> None:
    u = understand("blorp flib", salon, TODAY, asked="anything")
    assert not u.understood_anything


# -- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["Dana Smith.", "It's Dana Smith", "dana smith", "Sure, it's Dana Smith",
     "yes, Dana Smith", "Dana Smith, thanks"],
)
def test_name_when_asked(salon: Business, text: str) -> None:
    u = understand(text, salon, TODAY, asked="name")
    assert u.name == "Dana Smith"
    assert not u.affirm and not u.deny  # a name answer is not a yes or no


def test_name_with_lead_phrase_when_not_asked(salon: Business) -> None:
    u = understand("my name is Dana Smith and I'd like a haircut", salon, TODAY,
                   asked="anything")
    assert u.name == "Dana Smith"
    assert u.service is not None and u.service.id == "haircut"


def test_bare_words_are_not_a_name_unless_asked() -> None:
    assert extract_name("Dana Smith", asked=False) is None
    assert extract_name("Dana Smith", asked=True) == "Dana Smith"
    assert extract_name("this is Dana Smith", asked=False) == "Dana Smith"


@pytest.mark.parametrize(
    "text", ["tomorrow at 3", "next Tuesday", "it's Tuesday", "no", "I don't know",
             "Haircut please", "at 3 pm"]
)
def test_not_a_name_when_asked(salon: Business, text: str) -> None:
    assert understand(text, salon, TODAY, asked="name").name is None


@pytest.mark.parametrize(
    "text", ["I'm not sure", "I'm free on Tuesday", "I'm sorry", "I'm good, thanks",
             "I'm interested in a haircut", "I'm looking for a haircut"]
)
def test_i_am_adjective_is_not_a_name(salon: Business, text: str) -> None:
    # Regression: "I'm not sure" gave the name "Not Sure", later used for the booking.
    assert understand(text, salon, TODAY, asked="anything").name is None


# -- phones ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("+1 555 123 0001", "+15551230001"),
        ("my number is 555-123-4567", "5551234567"),
        ("(555) 123-4567", "5551234567"),
        ("it's 07700 900123", "07700900123"),
    ],
)
def test_extract_phone(text: str, phone: str) -> None:
    assert extract_phone(text) == phone


def test_phone_read_when_asked_or_number_mentioned(salon: Business) -> None:
    assert understand("555 123 4567", salon, TODAY, asked="phone").phone == "5551234567"
    assert understand("my number is 555 123 4567", salon, TODAY, asked="anything").phone
    # a bare digit run is not taken as a phone number when nobody asked for one
    assert understand("555 123 4567", salon, TODAY, asked="anything").phone is None
    assert extract_phone("at 3 pm") is None


# -- services -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "service_id"),
    [
        ("I'd like a haircut", "haircut"),
        ("I'd like a trim", "haircut"),
        ("just a cut please", "haircut"),
        ("some highlights", "color"),
        ("a blow out", "blowdry"),
        ("two haircuts", "haircut"),
    ],
)
def test_salon_service_aliases(salon: Business, text: str, service_id: str) -> None:
    u = understand(text, salon, TODAY, asked="service")
    assert u.service is not None and u.service.id == service_id
    assert not u.service_mentioned_unknown


@pytest.mark.parametrize(
    ("text", "service_id"),
    [
        ("I need a checkup", "checkup"),
        ("a check-up please", "checkup"),
        ("scale and polish", "cleaning"),
        ("I have a toothache", "emergency"),
    ],
)
def test_dental_service_aliases(dental: Business, text: str, service_id: str) -> None:
    u = understand(text, dental, TODAY, asked="service")
    assert u.service is not None and u.service.id == service_id


@pytest.mark.parametrize("text", ["I'd like a massage", "Can I book a manicure on Tuesday"])
def test_unknown_service(salon: Business, text: str) -> None:
    u = understand(text, salon, TODAY, asked="anything")
    assert u.service is None
    assert u.service_mentioned_unknown


def test_generic_booking_words_are_not_an_unknown_service(salon: Business) -> None:
    u = understand("I'd like to book an appointment", salon, TODAY, asked="anything")
    assert u.service is None and not u.service_mentioned_unknown
    assert u.wants_booking


def test_phone_not_glued_to_other_numbers() -> None:
    # Regression: every digit in the sentence was concatenated before searching.
    assert extract_phone("next Tuesday at 3, my number is 555 987 6543") == "5559876543"
    assert extract_phone("the 8th; call me on +1 555 123 0001 please") == "+15551230001"
    assert extract_phone("book 2 haircuts at 4 for 2 people") is None


@pytest.mark.parametrize("text", ["Sorry, I don't know.", "I'm not sure", "no idea",
                                  "Let me think about it"])
def test_unsure(salon: Business, text: str) -> None:
    assert understand(text, salon, TODAY, asked="confirm").unsure


def test_a_sure_answer_is_not_unsure(salon: Business) -> None:
    assert not understand("Sure, 3 pm works", salon, TODAY, asked="confirm").unsure


@pytest.mark.parametrize("text", ["Perfect, thank you", "Can you tell me the phone number?",
                                  "Could you check again", "Alright, word.", "Great. Thank you."])
def test_a_bare_reply_that_is_not_a_name(salon: Business, text: str) -> None:
    assert understand(text, salon, TODAY, asked="name").name is None


@pytest.mark.parametrize(("text", "name"), [("Dana Smith", "Dana Smith"),
                                            ("It's Will Turner", "Will Turner"),
                                            ("Priya Nair, thanks", "Priya Nair")])
def test_a_bare_name(salon: Business, text: str, name: str) -> None:
    assert understand(text, salon, TODAY, asked="name").name == name


def test_that_will_be_all_for_today_ends_without_naming_a_day(salon: Business) -> None:
    u = understand("no. that will be all today.", salon, TODAY, asked="anything")
    assert u.done and u.day is None


@pytest.mark.parametrize("text", ["No it's alright", "It's fine, thanks", "This is perfect",
                                  "I'm good", "it is what it is"])
def test_a_lead_phrase_before_an_everyday_word_is_not_a_name(text: str) -> None:
    assert extract_name(text, asked=True) is None


@pytest.mark.parametrize(("text", "name"), [("It's SGD Caller.", "SGD Caller"),
                                            ("this is Will Turner", "Will Turner"),
                                            ("My name is Rose Tyler", "Rose Tyler")])
def test_names_after_a_lead_phrase_still_count(text: str, name: str) -> None:
    assert extract_name(text, asked=True) == name


@pytest.mark.parametrize("text", ["Dr Okafor.", "then the S. Dr Okafor.", "Dr Patel, thanks."])
def test_a_staff_members_name_is_never_the_callers(dental: Business, text: str) -> None:
    """Audio eval: the end of a spelling heard as "then the S. Dr Okafor." became the name on
    the booking ("for Dr Okafor"); whisper writes the staff it was prompted with."""
    assert understand(text, dental, TODAY, asked="name").name is None


def test_a_caller_who_shares_a_surname_with_the_staff_keeps_their_name(dental: Business
                                                                       ) -> None:
    assert understand("It's Mary Okafor.", dental, TODAY, asked="name").name == "Mary Okafor"


@pytest.mark.parametrize("text", [
    "What else do you have?", "Do you have anything else?", "Anything else?",
    "Could you find anything else on Friday?", "Please search for more options.",
    "Could you find me a different one, please?", "Are there any others?", "Any more?",
])
def test_asking_what_else_there_is(salon: Business, text: str) -> None:
    """Requests for other options in SGD users' words (REQUEST_ALTS)."""
    assert understand(text, salon, TODAY, asked="time").wants_alternatives


@pytest.mark.parametrize("text", [
    "I won't need anything else, thanks.", "Anything else? No, that's all.",
    "What else do I need to bring?", "No, nothing else.",
])
def test_no_alternatives_asked_for(salon: Business, text: str) -> None:
    assert not understand(text, salon, TODAY, asked="anything").wants_alternatives


@pytest.mark.parametrize("text", ["Best to use my mobile 0 7 700 900 123.",
                                  "It's 555 123 4567, thanks", "Call me on 07700-900-123"])
def test_a_phone_number_is_never_a_day_or_a_time(salon: Business, text: str) -> None:
    """Whisper wrote "0 7 700 900 123" and the digits were read as 7:00, moving the booking
    to 7 PM while the caller gave their number (2026-12-04 audio run)."""
    u = understand(text, salon, TODAY, asked="phone")
    assert u.phone and u.tod is None and u.day is None and u.bare_hour is None


@pytest.mark.parametrize("text", ["That suits me well.", "That time will work well.", "It is good.",
                                  "That's it exactly.", "That sounds wonderful."])
def test_a_yes_in_other_words(salon: Business, text: str) -> None:
    """SGD users' yeses to "is that right?" that read as nothing before."""
    assert understand(text, salon, TODAY, asked="confirm").affirm


@pytest.mark.parametrize("text", ["Where is it exactly?", "That won't work for me.",
                                  "A salon in Petaluma would work better.",
                                  "You've been super helpful, but no."])
def test_not_a_yes(salon: Business, text: str) -> None:
    assert not understand(text, salon, TODAY, asked="confirm").affirm


def test_a_staff_name_in_an_answer_for_the_caller_s_details_is_not_a_request() -> None:
    """Whisper echoed its prompt's staff after the caller's name (2026-12-04 audio run)."""
    from connectors.schedule import load_business
    from voice_agent.config import DEFAULT_BUSINESSES_DIR

    dental = load_business(DEFAULT_BUSINESSES_DIR / "demo-dental.yaml")
    text = "Lucas Watson. Lucas is held with the line through it. Dr Okafor. Dr Okafor."
    for asked in ("name", "spell", "phone"):
        assert understand(text, dental, TODAY, asked=asked).staff is None
    assert understand("Dr Okafor.", dental, TODAY, asked="time").staff == "Dr Okafor"
    assert understand("Could I see Dr Okafor instead? It's Lucas Watson.", dental, TODAY,
                      asked="name").staff == "Dr Okafor"
