"""Deterministic reading of one caller utterance: slots and dialog acts.

The LLM is not trusted with dates, times or consent; this module extracts them in code so
the policy can check what the LLM proposes. Everything here is pure and unit-tested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from connectors.schedule import Business, Service
from voice_agent.dialog.timeparse import TimeOfDay, parse_date, parse_time

_AFFIRM = re.compile(
    r"\b(yes|yeah|yep|yup|sure|correct|right|please do|go ahead|book it|sounds good|perfect|"
    r"ok|okay|absolutely|definitely|that works|works for me|great|lovely|fine|do it|confirm(ed)?)\b"
)
_DENY = re.compile(
    r"\b(no|nope|nah|not really|don'?t|do not|never mind|nevermind|wait|hold on|actually|"
    r"cancel that|rather not|changed my mind)\b"
)
_DONE = re.compile(
    r"\b(that'?s all|that is all|that'?s it|that'?s everything|that is everything|"
    r"nothing else|no thanks|no thank you|"
    r"bye|goodbye|good bye|all set|i'?m good|that'?ll be all|that (will|would|was) be all|"
    r"that was all|that'?d be all|we'?re done)\b"
)
_UNSURE = re.compile(
    r"\b(i (really )?don'?t know|i'?m not sure|not sure|no idea|i'?m unsure|can'?t decide|"
    r"let me think( about it)?|i'?ll (have to )?(think|check) (about it|my calendar|and call back))"
)
# Asking for a person: a strong noun, or a request verb aimed at a person. Not "find someone
# in Santa Rosa" or "is someone else available" (a caller looking for a provider or a slot).
_HUMAN = re.compile(
    r"\b(human|real person|live person|actual person|representative|operator|receptionist|"
    r"front desk|staff member|(the|a|your) manager|"
    r"(speak|talk|chat) (to|with) (someone|somebody|a person|a colleague|one of your \w+)|"
    r"(put|transfer|connect|pass) me (through |over )?(to|with)|"
    r"(get|give) me (someone|somebody|a person))\b"
)
# Looser: enough to let the LLM's own transfer_to_human proposal stand.
HUMAN_HINT = re.compile(r"\b(person|someone|somebody|people|staff|colleague|manager|human)\b")
_CANCEL = re.compile(
    r"\b(cancel(?!\s+that\b)|call (it )?off|can'?t make it|cannot make it|won'?t make it|"
    r"won'?t be able to (make|come))"
)
_RESCHEDULE = re.compile(
    r"\b(reschedul\w*|rebook|move (my|the|it|our)|change (my|the) (appointment|booking|time)|"
    r"push (it|my \w+) back|bring (it|my \w+) forward|different (day|time) for my)"
)
# A reschedule that can only mean an existing booking (not "change the time" of the one being
# made right now).
EXISTING_BOOKING_CHANGE = re.compile(
    r"\b(reschedul\w*|rebook|move (my|the|it|our)|push (it|my)|bring (it|my)|"
    r"(my|our) (\w+ )?(appointment|booking))"
)
_BOOKING_WORDS = re.compile(r"\b(book|appointment|schedule|reserve|come in|slot)\b")
_NAME_LEAD = re.compile(
    r"\b(?:my name is|my name's|name is|the name is|this is|i am|i'm|it's|it is|call me)\s+"
    r"([a-z][a-z'\-]+(?:\s+[a-z][a-z'\-]+){0,3})"
)
_NAME_STOP = {
    "and", "i", "i'd", "i'm", "calling", "looking", "here", "to", "for", "about", "with",
    "please", "thanks", "thank", "you", "hoping", "wondering", "want", "would", "like", "a",
    "an", "the", "just", "trying", "ringing", "phoning", "on", "at", "in", "so", "but",
}
_FILLER = re.compile(
    r"^\s*(?:(?:sure|yes|yeah|yep|ok|okay|of course|certainly|hi|hello|um+|uh+|well)\b[\s,.!]*)*"
)
_NOT_A_NAME = re.compile(
    r"\b(book|appointment|time|tomorrow|today|pm|am|haircut|no|don'?t|"
    r"not|sure|sorry|fine|good|great|free|busy|available|interested|afraid|"  # "I'm not sure"
    r"next|this|morning|afternoon|evening|noon|"  # "it's next Tuesday"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
)
# "not sure" / "not right" contain an affirmative word but are not a yes.
_NEGATED_AFFIRM = re.compile(
    r"\bnot (?:really |quite |so |too )?(?:sure|right|correct|ok|okay|fine|great|perfect)\b"
)
_WRONG = re.compile(r"\b(?:not (?:quite )?(?:right|correct)|wrong)\b")


@dataclass
class Understanding:
    text: str
    service: Service | None = None
    service_mentioned_unknown: bool = False
    day: date | None = None
    tod: TimeOfDay | None = None
    name: str | None = None
    phone: str | None = None
    affirm: bool = False
    deny: bool = False
    done: bool = False
    unsure: bool = False  # "I don't know", "not sure": the caller cannot decide
    wants_human: bool = False
    wants_booking: bool = False
    wants_cancel: bool = False
    wants_reschedule: bool = False

    @property
    def has_slot_info(self) -> bool:
        return bool(self.service or self.day or self.tod)

    @property
    def understood_anything(self) -> bool:
        return bool(
            self.has_slot_info or self.name or self.phone or self.affirm or self.deny
            or self.done or self.wants_human or self.wants_booking or self.wants_cancel
            or self.wants_reschedule
        )


def _clean_name(raw: str) -> str | None:
    words = []
    for word in raw.split():
        if word in _NAME_STOP:
            break
        words.append(word)
    if not words or len(words) > 4:
        return None
    return " ".join(w[:1].upper() + w[1:] for w in words)


# Words that (almost) never form part of a name: a bare answer holding one of them is the
# caller saying something else ("Perfect, thank you", "Can you tell me the address?").
_NEVER_IN_NAMES = frozenset("""
a about actually address again alright also am an and any anything are at be been bye call
can could did do does done else everything fine for from get give go good goodbye got great
had has have he help her here him his how i i'd i'll i'm if in is it it's just know later let
like look make maybe me mine more much my name need no nope not nothing now number of office
ok okay on one or our perfect phone please really right see she should so some something sorry
sounds sure tell than thank thanks that that's the their them then there they think this to
today tomorrow too try us very wait want was we well were what what's when where which who
why with word work works would yeah yep yes you your
""".split())


def _looks_like_a_name(words: str) -> bool:
    parts = words.split()
    return (0 < len(parts) <= 3 and all(len(p) > 1 for p in parts)
            and not any(p in _NEVER_IN_NAMES for p in parts))


def extract_name(text: str, *, asked: bool) -> str | None:
    """A name introduced with a lead phrase; when the agent just asked, the bare answer."""
    lowered = text.lower().replace("’", "'")
    match = _NAME_LEAD.search(lowered)
    if match:
        name = _clean_name(match.group(1))
        # "No, it's alright" / "this is fine": a lead phrase before an everyday word
        if name and not _NOT_A_NAME.search(name.lower()) and not any(
                w in _NEVER_IN_NAMES for w in name.lower().split()):
            return name
    if not asked:
        return None
    bare = _FILLER.sub("", lowered)
    bare = re.sub(r"\b(thanks|thank you|please)\b.*$", "", bare)
    bare = re.sub(r"[^a-z'\-\s]", " ", bare).strip()
    if not bare or _NOT_A_NAME.search(bare) or not _looks_like_a_name(bare):
        return None
    return _clean_name(bare)


def extract_phone(text: str) -> str | None:
    # Join digit groups split by spaces, dashes, dots or brackets; other digits in the
    # sentence ("at 3, my number is ...") stay separate.
    joined = re.sub(r"(?<=\d)[\s\-.()]+(?=\d)", "", text)
    match = re.search(r"(?<!\d)\+?\d{7,15}(?!\d)", joined)
    return match.group(0) if match else None


_SERVICE_REQUEST = re.compile(
    r"\b(?:book|get|have|want|need|like|schedule)\s+(?:a|an|some|my)\s+([a-z\- ]{3,30}?)"
    r"(?:\s+(?:on|at|for|next|this|tomorrow|today|please)\b|[.,!?]|$)"
)


def understand(text: str, business: Business, today: date, *, asked: str | None) -> Understanding:
    """Read one caller utterance; ``asked`` is what the agent's last question asked for."""
    lowered = text.lower().replace("’", "'").strip()
    u = Understanding(text=text)
    u.service = business.find_service(lowered)
    if u.service is None:
        m = _SERVICE_REQUEST.search(lowered)
        if m and m.group(1).strip() not in {"appointment", "booking", "time", "slot"}:
            u.service_mentioned_unknown = True
    # "that will be all for today" ends the call; it does not name a day
    u.day = parse_date(re.sub(r"\b(all|everything|it)\s+(for\s+)?today\b", r"\1", lowered), today)
    u.tod = parse_time(lowered)
    u.name = extract_name(text, asked=asked == "name")
    volunteered = re.search(r"\b(number|reach me|call me (on|at)|my (cell|mobile))\b", lowered)
    u.phone = extract_phone(text) if asked == "phone" or volunteered else None
    u.done = bool(_DONE.search(lowered))
    u.unsure = bool(_UNSURE.search(lowered))
    u.wants_human = bool(_HUMAN.search(lowered))
    u.affirm = bool(_AFFIRM.search(lowered)) and not _NEGATED_AFFIRM.search(lowered)
    u.deny = bool(_DENY.search(lowered) or _WRONG.search(lowered)) and not u.done
    if u.affirm and u.deny:
        # "no, that's fine" / "yes, actually wait": the first word decides.
        first = re.match(r"\W*(\w+)", lowered)
        u.affirm = bool(first and _AFFIRM.match(first.group(1)))
        u.deny = not u.affirm
    u.wants_booking = bool(_BOOKING_WORDS.search(lowered))
    u.wants_reschedule = bool(_RESCHEDULE.search(lowered))
    u.wants_cancel = bool(_CANCEL.search(lowered)) and not u.wants_reschedule
    if u.name and asked == "name":
        u.affirm = u.deny = False
    return u
