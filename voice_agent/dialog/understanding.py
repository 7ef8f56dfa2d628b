"""Deterministic reading of one caller utterance: slots and dialog acts.

The LLM is not trusted with dates, times or consent; this module extracts them in code so
the policy can check what the LLM proposes. Everything here is pure and unit-tested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time

from connectors.schedule import Business, Service
from voice_agent.dialog.matching import (
    follow_on_service,
    match_service,
    match_staff,
    services_partly_named,
    staff_echoed,
)
from voice_agent.dialog.names import extract_phone, fold, read_name, without_phone_numbers
from voice_agent.dialog.spelling import spelled_letters
from voice_agent.dialog.timeparse import (
    TimeOfDay,
    bare_hour,
    mentioned_days,
    parse_date,
    parse_time,
    shift_days,
    target_days,
)

_AFFIRM = re.compile(
    r"\b(yes|yeah|yep|yup|sure|correct|right|please do|go ahead|book it|sounds good|perfect|"
    r"ok|okay|absolutely|definitely|that works|works for me|great|lovely|fine|do it|confirm(ed)?|"
    # Yes in other words, each kept only where at least nine in ten of the SGD dev turns it
    # reads are an AFFIRM or a SELECT: "That suits me well.", "That time will work well.",
    # "It is good.", "That sounds wonderful.", "That's it exactly."
    r"suits? me|(?:will|would|'ll|'d) work(?! out| better| best)|(?:that|it|this)(?: is|'s) good|"
    r"sounds (?:great|lovely|fine|perfect|wonderful)|"
    r"^\W*exactly|(?:it|that)(?:'s| is)(?: it)? exactly|exactly what i)\b"
)
_DENY = re.compile(
    r"\b(no|nope|nah|not really|don'?t|do not|never mind|nevermind|wait|hold on|actually|"
    r"cancel that|rather not|changed my mind)\b"
)
_DONE = re.compile(
    r"\b(that'?s all|that is all|that'?s it|that'?s everything|that is everything|"
    r"nothing else|no thanks|no thank you|"
    r"bye|goodbye|good bye|all set|i'?m good|that'?ll be all|that (will|would|was) be all|"
    r"that was all|that'?d be all|we'?re done|never ?mind then|thanks? anyway|"
    r"forget it|i'?ll leave it)\b"
)
_UNSURE = re.compile(
    r"\b(i (really )?don'?t know|i'?m not sure|not sure|no idea|i'?m unsure|can'?t decide|"
    r"let me think( about it)?|i'?ll (have to )?(think|check) (about it|my calendar|and call back))"
)
# Asking for a person: a strong noun, or a request verb aimed at a person. Not "find someone
# in Santa Rosa" or "is someone else available" (a caller looking for a provider or a slot).
_PERSON = (r"(?:someone|somebody|anyone|anybody|a person|a colleague|one of your \w+|"
           r"(?:the|a|your) (?:\w+ )?(?:manager|owner|boss|dentist|stylist))")
_HUMAN = re.compile(
    r"\b(human|real person|live person|actual person|representative|operator|receptionist|"
    r"front desk|staff member|(the|a|your) manager|"
    rf"(speak|talk|chat|have a word|a word) (to|with) {_PERSON}|"
    r"(anyone|anybody|someone|somebody) (there |in )?(i|we) (can|could) (actually )?"
    r"(speak|talk|chat) (to|with)|"
    r"(rather|prefer to|want to|like to) (not )?(speak|talk|deal) (to|with) (a|an|the) "
    r"(person|people|human)|"
    r"(not|rather not|don'?t want to) (do this |talk |speak )?(with|to) (a|an|this) "
    r"(machine|robot|bot|computer|automated \w+)|"
    r"(put|transfer|connect|pass) me (through |over )?(to|with)|"
    r"(get|give) me (someone|somebody|a person))\b"
)
# Looser: enough to let the LLM's own transfer_to_human proposal stand.
HUMAN_HINT = re.compile(r"\b(person|someone|somebody|people|staff|colleague|manager|human)\b")
# "cancel that" is a self-repair ("3pm, cancel that, 4pm"), unless asked for: "can I cancel that?"
_CANCEL = re.compile(r"\b(?:(?:(?:can|could) (?:i|you|we)|please|i'?d like to|i want to|i need to|"
                     r"i'?ll have to|i have to) cancel|cancel(?!\s+that\b)|call (?:it )?off|"
                     r"scrap (?:it|my|the|our)|won'?t (?:be )?need(?:ing)? (?:it|my|the|our)|"
                     r"(?:don'?t|no longer) need (?:it|my|the|our)\b[^.?!]{0,30}?\bany ?more|"
                     r"no longer need (?:it|my|the|our))")
# A yes taken back by what follows it.
_TAKEN_BACK = re.compile(r"\b(?:(?<!can't )(?<!cant )(?<!cannot )wait|hang on|hold on(?! to)|"
                         r"on second thoughts?|"
                         r"actually,? no|no,? (?:sorry|actually))\b")
# Cannot come: a cancellation or a move, the caller has not said which.
_CANT_COME = re.compile(
    r"\b(?:(?:can'?t|cannot|won'?t) make (?:it|my|the|our|that)\b|"
    r"won'?t be able to (?:make|come)|"
    r"can'?t come|can'?t do (?:it|that day|that time) any ?more)")
_RESCHEDULE = re.compile(
    r"\b(reschedul\w*|rebook|(move|switch|swap) (my|the|it|our)|"
    r"change (my|the) (appointment|booking|time)|"
    r"(push|put) (it|my|the|our)\b[^.?!]{0,40}?\b(back|forward)|"
    r"bring (it|my|the|our)\b[^.?!]{0,40}?\bforward|different (day|time) for my)"
)
# A reschedule that can only mean an existing booking (not "change the time" of the one being
# made right now).
EXISTING_BOOKING_CHANGE = re.compile(
    r"\b(reschedul\w*|rebook|move (my|the|it|our)|push (it|my)|bring (it|my)|"
    r"(my|our) (\w+ )?(appointment|booking))"
)
_BOOKING_WORDS = re.compile(r"\b(book|appointment|schedule|reserve|come in|slot)\b")
# "not sure" / "not right" contain an affirmative word but are not a yes.
_NEGATED_AFFIRM = re.compile(
    r"\bnot (?:really |quite |so |too )?(?:sure|right|correct|ok|okay|fine|great|perfect)\b"
)
_WRONG = re.compile(r"\b(?:not (?:quite )?(?:right|correct)|wrong)\b")
# A refusal without a bare "no": "that won't work for me", "not at this time".
_REFUSAL = re.compile(
    r"\b(?:(?:that|it|this|those|neither)(?: one)? (?:won'?t|doesn'?t|does not|will not|"
    r"wouldn'?t|would not) (?:work|suit|do)|not (?:at this time|right now|for now|today|really)|"
    r"no good|can'?t do (?:that|it|then)|not for me)\b")
# The caller really has no preference: the agent may choose ("whatever you have").
_NO_PREFERENCE = re.compile(
    r"\b(?:any ?time(?! after| before| from)|whenever(?: suits| works| is (?:good|fine))?|"
    r"whatever (?:you have|you've got|is (?:free|available|open|easiest|first|soonest))|"
    r"(?:it )?doesn'?t matter|i don'?t mind|no preference|either (?:one|is fine|works)|"
    r"you (?:choose|pick|decide)|up to you|anything (?:is fine|works|you have)|"
    r"any (?:day|one) (?:is fine|works))\b")
# Asking for other options than those offered.
_ALTERNATIVES = re.compile(
    r"\b(?:something else|anything else (?=available|free|open|on|at|later|earlier)|"
    r"another (?:time|day|one|option|slot|date|flight|table|car)|"
    r"(?:any )?other (?:times|options|days|slots|dates|ones|flights)|any others?|"
    r"different (?:time|day|date)|anything (?:(?:a )?(?:bit |little )?)?(?:later|earlier)|"
    r"(?:a )?(?:later|earlier) "
    r"(?:one|time|slot|appointment)|look for (?:some ?)?(?:thing|one)? ?(?:else|other)|"
    r"search (?:for )?(?:something|any|another)|find (?:me )?(?:another|something else)|"
    # "What else do you have?", "Do you have anything else?", "more options"
    r"what else (?:do you have|have you got|is there|is available|is free|can you (?:find|"
    r"offer|do))|(?:do you have|have you got|is there|got) anything else(?=\W*$)|"
    r"more (?:options|times|slots|choices)|other choices|"
    # "Could you find anything else?", "Anything else?", "a different one", "any more?"
    r"(?:find|recommend|show|suggest|offer) (?:me |us )?anything else|^\W*anything else(?=\W*$)|"
    r"(?:a|any) different one|any more(?: results| options| times)?(?=\W*$)|"
    r"are there (?:any )?others|is there another)\b")
# Choosing among the times just offered: "the second one", "the later one", "option two".
_OPTION = re.compile(
    r"\b(?:the )?(first|second|third|last|earlier|earliest|later|latest|final|1st|2nd|3rd)"
    r"(?: one| option| time| slot| choice)\b|\boption (one|two|three|1|2|3)\b|"
    r"\bthe (first|second|third|last|earlier|later)\W*$|"
    r"\b(first|second|third|last|earlier|earliest|later|latest) of (?:those|them|these|"
    r"the (?:two|three|times|ones|options|slots))\b")
_OPTION_INDEX = {"first": 1, "1st": 1, "one": 1, "1": 1, "earlier": 1, "earliest": 1,
                 "second": 2, "2nd": 2, "two": 2, "2": 2, "third": 3, "3rd": 3, "three": 3,
                 "3": 3, "last": -1, "final": -1, "later": -1, "latest": -1}
_EARLIEST = re.compile(
    r"\b(?:earliest|soonest|first (?:available|opening|free|slot|appointment|thing)|"
    r"(?:whatever|whichever)(?:'s| is) (?:first|soonest|earliest)|first (?:one )?(?:you have|"
    r"you've got|after|from)|"
    r"as (?:early|soon) as (?:possible|you can|you have)|asap|next (?:available|free|opening)|"
    r"the (?:earlier|sooner) the better)\b")
_LATEST = re.compile(r"\b(?:(?<!at the )latest|last (?:available|appointment|slot|opening)|"
                     r"as late as (?:possible|you can)|the later the better)\b")
# A bound word directly followed by a clock time ("after 3", "before half past ten").
_CLOCK = (r"(?:(?:about|around) )?(?:\d{1,2}(?::\d\d)?(?:\s?[ap]\.?m\.?)?|noon|midday|"
          r"half (?:past )?(?!an?\b|hour\b)\w+|quarter (?:past|to) \w+|one|two|three|four|"
          r"five|six|seven|eight|nine|ten|eleven|twelve)\b(?:\s?[ap]\.?m\.?|"
          r"\s+(?:in the|this) (?:morning|afternoon|evening)|\s+o'?clock)?")
# "not before 11" is a lower bound, not an upper one; "no later than 3" an upper one.
# ... or with what the caller does then between: "after I finish work at 5", "before I pick
# the kids up at 3"; "free from 2" (a range "from 2 to 4" is read first).
_EVENT = r"(?:i|we|my|the)\b[a-z' ]{1,30}?\b(?:at|by)"
_AFTER = re.compile(rf"\b(?<!not )(?<!no )(?:after|later than|no earlier than|not before|"
                    rf"after {_EVENT}|(?<=free )from)\s+({_CLOCK})")
_BEFORE = re.compile(rf"\b(?<!not )(?<!no )(?:before|earlier than|no later than|not after|"
                     rf"until|before {_EVENT})\s+({_CLOCK})")
# Said before a bound, the caller cannot come on that side of it: "I can't get away before
# twelve" is after 12, "I'm busy until 2" after 2, "I can't do anything after 4" before 4.
_CANNOT = re.compile(r"\b(?:(?:can'?t|cannot|can not)(?! wait)|won'?t|not able to|unable to|"
                     r"not free|"
                     r"busy|working|at work|tied up|stuck|(?:a|in|my) (?:meeting|class|lesson|"
                     r"shift)|at school)\b")
_BETWEEN = re.compile(rf"\b(?:between\s+({_CLOCK})\s+and|from\s+({_CLOCK})\s+(?:to|till|until))"
                      rf"\s+({_CLOCK})")
# A bound said after the time: "from half two onwards", "3 at the latest".
_AFTER_SUFFIX = re.compile(rf"\b({_CLOCK})\s+(?:onwards|or later|at the earliest|or after)\b")
_BEFORE_SUFFIX = re.compile(rf"\b({_CLOCK})\s+(?:at the latest|or earlier|or before)\b")
# "cancel the haircut but keep the colour": what follows names a booking to leave alone.
_KEEP = re.compile(r"\b(?:keep(?:ing)?|hold on to|not the|but not|except)\b")
_KEEP_END = re.compile(r"[,.;!?]|\b(?:and|but)\b")
# ... or after it: "the blowout tomorrow stays as it is", "the colour is fine".
_KEPT_AFTER = re.compile(r"\b(?:stays?|staying|remains?|is fine as it is|can stay|"
                         r"(?:is|are) fine|as it is|as they are)\b")
_SAME_TIME = re.compile(r"\b(?:same time|the same time|at the same hour)\b")
_QUESTIONS = (
    ("hours", re.compile(
        r"\b(?:what time do you (?:open|close|shut)|when do you (?:open|close|shut)|"
        r"(?:what are|what're) your (?:opening )?hours|opening hours|are you open|"
        r"how late are you open|do you open|open on (?:\w+days?|weekends?))\b")),
    ("duration", re.compile(r"\bhow long(?:'s| (?:does|do|will|would|is|are))\b|"
                            r"\bhow much time\b")),
    ("services", re.compile(r"\b(?:do you(?: guys| folks| all)? (?:do|offer|provide)|"
                            r"what (?:services|treatments)"
                            r"|what do you (?:do|offer))\b")),
    ("other", re.compile(r"\b(?:how much|what(?:'s| is) the (?:price|cost|address)|"
                         r"(?:is there|do you) (?:a |any )?(?:charge|fee)|where are "
                         r"you|parking|do you take|can i pay)\b")),
)
_QUESTION_FORM = re.compile(r"\?|^\W*(?:what|when|how|where|do|does|are|is|can|could)\b")


@dataclass(frozen=True)
class Constraint:
    """A preference bound rather than an exact time: the earliest (or latest) free start,
    one after / before a time, or between two times."""

    kind: str  # earliest | latest | after | before | between
    after: time | None = None
    before: time | None = None


@dataclass
class Understanding:
    text: str
    service: Service | None = None
    service_named: bool = False  # by its name or an alias, or a spelling that sounds the same
    then_service: Service | None = None  # "... and then a blow-dry straight after"
    service_mentioned_unknown: bool = False
    service_options: tuple[str, ...] = ()  # the services a request partly named ("a hair ...")
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
    cant_come: bool = False  # "I can't make it": cancel or move, not yet said which
    wants_alternatives: bool = False  # "something else", "another time", "anything later?"
    no_preference: bool = False  # "any time is fine", "whatever you have": the agent may choose
    option: int | None = None  # which of the times just offered: 1, 2, 3, or -1 for the last
    constraint: Constraint | None = None  # earliest / latest / before / after / between
    staff: str | None = None  # a staff member the caller asked for, as the business names them
    for_other: bool = False  # the booking is for someone else: the name given is theirs
    name_spelled: bool = False  # the name (or part of it) was spelled out letter by letter
    spelled_letters: str = ""  # every letter said one by one (or in NATO words), in order
    same_time: bool = False  # "same time" (on a move: the existing booking's clock time)
    question: str | None = None  # hours | duration | services | other: a question to answer
    days: list[date] = field(default_factory=list)  # every day mentioned, in order
    target_days: list[date] = field(default_factory=list)  # "move it to Wednesday"
    tentative: str | None = None  # a yes / no / option only the LLM heard: ask, don't act
    keep_service: str | None = None  # "... keep the colour": a booking to leave alone
    keep_days: list[date] = field(default_factory=list)
    shift_days: int | None = None  # "push it back a fortnight": +14 from the booking's day
    bare_hour: int | None = None  # "ten's fine": an hour alone, for one of the times offered

    @property
    def has_slot_info(self) -> bool:
        return bool(self.service or self.day or self.tod)

    @property
    def understood_anything(self) -> bool:
        return bool(
            self.has_slot_info or self.name or self.phone or self.affirm or self.deny
            or self.done or self.wants_human or self.wants_booking or self.wants_cancel
            or self.wants_reschedule or self.cant_come
        )


_SERVICE_REQUEST = re.compile(
    r"\b(?:book|get|have|want|need|like|schedule)\s+(?:a|an|some|my)\s+([a-z\- ]{3,30}?)"
    r"(?:\s+(?:on|at|for|next|this|tomorrow|today|please)\b|[.,!?]|$)"
)


def _bound(pattern: re.Pattern[str], text: str) -> tuple[time | None, bool]:
    """The clock time right after a bound word ("after 3", "before noon"), and whether the
    caller said they cannot make it then ("I can't get away before twelve")."""
    m = pattern.search(text)
    if not m:
        return None, False
    tod = parse_time("at " + m.group(1))  # "after six" is 18:00 as "after 6" is
    if not (tod and tod.exact):
        return None, False
    clause = re.split(r"[.,;!?]|\b(?:but|so|and)\b", text[:m.start()])[-1]
    return tod.exact, bool(_CANNOT.search(clause))


def _constraint(lowered: str) -> Constraint | None:
    between = _BETWEEN.search(lowered)
    if between:
        lo = parse_time("at " + (between.group(1) or between.group(2)))
        hi = parse_time("at " + between.group(3))
        if lo and lo.exact and hi and hi.exact:
            return Constraint("between", after=lo.exact, before=hi.exact)
    (after, not_after), (before, not_before) = _bound(_AFTER, lowered), _bound(_BEFORE, lowered)
    after = after if after is not None else _bound(_AFTER_SUFFIX, lowered)[0]
    before = before if before is not None else _bound(_BEFORE_SUFFIX, lowered)[0]
    if not_before and before is not None:  # "I can't get there before 12", "busy until 2"
        after, before = before if after is None else max(after, before), None
    elif not_after and after is not None:  # "I can't do anything after 4"
        after, before = None, after if before is None else min(after, before)
    if _EARLIEST.search(lowered):
        return Constraint("earliest", after=after, before=before)
    if _LATEST.search(lowered):
        return Constraint("latest", after=after, before=before)
    if after is not None:
        return Constraint("after", after=after, before=before)
    if before is not None:
        return Constraint("before", before=before)
    return None


def _within(clock: time, c: Constraint) -> bool:
    return (c.after is None or clock >= c.after) and (c.before is None or clock < c.before)


def _split_keep(lowered: str) -> tuple[str, str]:
    """(the text without the clause naming what to keep, that clause). A keep clause only
    means something beside a change ("cancel the haircut, keep the colour"); "keep it until
    the 13th" or "staying for a week" elsewhere is just what the caller wants."""
    if not (_CANCEL.search(lowered) or _RESCHEDULE.search(lowered) or _CANT_COME.search(
            lowered)):
        return lowered, ""
    sentences = re.split(r"(?<=[.;!?])\s+|,\s*but\s+", lowered)
    kept = [s for s in sentences if _KEPT_AFTER.search(s) and not _KEEP.search(s)]
    if kept and len(kept) < len(sentences):
        return " ".join(s for s in sentences if s not in kept), " ".join(kept)
    m = _KEEP.search(lowered)
    if not m:
        return lowered, ""
    end = _KEEP_END.search(lowered, m.end())
    stop = end.start() if end else len(lowered)
    return lowered[:m.start()] + " " + lowered[stop:], lowered[m.end():stop]


# A request for a person, read from its content words in order so that a garbled small word
# does not hide it: "I'd rather speak to a person" came through a phone line as "I'd rather
# speak. Do a person about it please?" and "I'd rather speak. I'm going to a person about it".
# A verb of speaking, then within five words someone to speak to (none of the 12,683 SGD
# user turns nor of the SGD service dialogues' user turns reads so).
_SPEAK_WORDS = frozenset({"speak", "talk", "chat"})
_SOMEONE_WORDS = frozenset({"person", "human", "someone", "somebody", "anyone", "anybody",
                            "receptionist", "colleague", "manager"})
_SPEAK_WINDOW = 5


def _asks_for_a_person(lowered: str) -> bool:
    words = re.findall(r"[a-z']+", lowered)
    return any(w in _SPEAK_WORDS and _SOMEONE_WORDS.intersection(words[i + 1:i + 1 + _SPEAK_WINDOW])
               for i, w in enumerate(words))


def understand(text: str, business: Business, today: date, *, asked: str | None) -> Understanding:
    """Read one caller utterance; ``asked`` is what the agent's last question asked for."""
    lowered = text.lower().replace("’", "'").strip()
    u = Understanding(text=text)
    lowered, kept = _split_keep(lowered)
    if kept:
        keep_service = match_service(kept, business)
        u.keep_service = keep_service.value if keep_service else None
        u.keep_days = mentioned_days(kept, today)
    service = match_service(lowered, business)
    u.service = business.service(service.value) if service else None
    u.service_named = service is not None and service.sounds_exact
    if u.service is not None and (then := follow_on_service(lowered, business)) is not None:
        u.then_service = then if then.id != u.service.id else None
    if u.service is None:
        m = _SERVICE_REQUEST.search(lowered)
        if m and m.group(1).strip() not in {"appointment", "booking", "time", "slot"} and (
                business.find_service(m.group(1)) is None):  # not "I don't want a haircut"
            partly, own_kind = services_partly_named(m.group(1), business)
            if 2 <= len(partly) < len(business.services):
                u.service_options = tuple(svc.id for svc in partly)  # "a hair appointment"
            elif own_kind:
                u.wants_booking = True  # "a dental appointment" at a dental practice
            else:
                u.service_mentioned_unknown = True
    staff = match_staff(lowered, business)
    if staff and asked in ("name", "spell", "phone") and staff_echoed(lowered, business):
        staff = None  # "Lucas Watson. ... Dr Okafor. Dr Okafor.": whisper echoing its prompt
    u.staff = staff.value if staff else None
    # "that will be all for today" ends the call; it does not name a day
    timed = without_phone_numbers(lowered)  # "my mobile 0 7 700 900 123" is not 7:00
    dated = re.sub(r"\b(all|everything|it)\s+(for\s+)?today\b", r"\1", timed)
    u.day = parse_date(dated, today)
    u.days = mentioned_days(dated, today)
    u.target_days = target_days(dated, today)
    u.tod = parse_time(timed)
    u.shift_days = shift_days(dated)
    u.constraint = _constraint(timed)
    if u.constraint is not None and u.tod is not None and u.tod.exact in (
            u.constraint.after, u.constraint.before):
        u.tod = TimeOfDay(part=u.tod.part) if u.tod.part else None  # a bound, not the time
    elif u.constraint is not None and u.tod is not None and u.tod.exact is not None and (
            u.constraint.kind in ("after", "before", "between")) and _within(
            u.tod.exact, u.constraint):
        u.constraint = None  # "2:30, I've got a meeting till 2": the time, and why
    name = read_name(text, asked=asked in ("name", "spell"))
    u.name, u.for_other, u.name_spelled = name.name, name.for_other, name.spelled
    if staff and u.name and re.search(rf"\b{re.escape(staff.said)}", u.name.casefold()):
        u.staff = None  # "Ana-Maria Lopez": a name, not a request for Maria
    if u.name and any(fold(u.name) == fold(s) for s in business.staff if len(s.split()) > 1):
        u.name = None  # "Dr Okafor.": the dentist (often whisper echoing its prompt), not theirs
    u.spelled_letters = spelled_letters(text)
    volunteered = re.search(r"\b(number|reach me|call me (on|at)|my (cell|mobile))\b", lowered)
    u.phone = extract_phone(text) if asked == "phone" or volunteered else None
    u.done = bool(_DONE.search(lowered))
    u.unsure = bool(_UNSURE.search(lowered))
    u.no_preference = bool(_NO_PREFERENCE.search(lowered))
    u.wants_human = bool(_HUMAN.search(lowered)) or _asks_for_a_person(lowered)
    u.affirm = bool(_AFFIRM.search(lowered)) and not _NEGATED_AFFIRM.search(lowered)
    leading_no = re.match(r"\W*(?:no|nope|nah)\b", lowered) is not None
    u.deny = bool(_DENY.search(lowered) or _WRONG.search(lowered) or _REFUSAL.search(lowered)
                  ) and (leading_no or not u.done)
    said_yes = _AFFIRM.search(lowered)
    if u.affirm and said_yes and _TAKEN_BACK.search(lowered, said_yes.end()):
        u.affirm, u.deny = False, True  # "yes, oh wait, can we make it later?": no yes
    if u.affirm and u.deny:
        # "no, that's fine" / "yes, sounds good, don't worry": the first word decides.
        first = re.match(r"\W*(\w+)", lowered)
        u.affirm = bool(first and _AFFIRM.match(first.group(1)))
        u.deny = not u.affirm
    if u.tod is None and u.constraint is None and not u.deny:
        u.bare_hour = bare_hour(timed)
    option = _OPTION.search(lowered)
    if option:
        u.option = _OPTION_INDEX[next(g for g in option.groups() if g)]
    u.wants_alternatives = bool(_ALTERNATIVES.search(lowered))
    u.same_time = bool(_SAME_TIME.search(lowered))
    if _QUESTION_FORM.search(lowered):
        u.question = next((kind for kind, pattern in _QUESTIONS if pattern.search(lowered)), None)
    u.wants_booking = bool(_BOOKING_WORDS.search(lowered))
    u.wants_reschedule = bool(_RESCHEDULE.search(lowered))
    u.wants_cancel = bool(_CANCEL.search(lowered)) and not u.wants_reschedule
    u.cant_come = bool(_CANT_COME.search(lowered)) and not u.wants_reschedule
    if u.name and asked in ("name", "spell"):
        u.affirm = u.deny = False
    return u
