"""A misheard answer to an offer of times, matched against the few times just offered.

Over an 8 kHz line whisper base turns times into words: "half past two" comes through as
"Path pass 2", "eleven thirty" as "Love and Party". Just after the agent offered three times
the answer can only be one of them, so a transcript the regular reading (``understanding``)
gets nothing from is compared with how each offered time is said ("half past two", "two
thirty", "half two", "fourteen thirty", "two thirty pm"; with the weekday when the times are
on different days), word by word, by sound (Metaphone) and by spelling (rapidfuzz).

What comes of it is only ever a question, never an action (a wrong booking is worse than
none): one time clearly ahead -> "Did you say 2:30 PM on Tuesday, December 1? Is that
right?", and only a yes takes it (then the name, the number and the one confirmation of the
whole booking follow, as for any time); two close -> "which time did you say: 2:30 PM or
3:30 PM?"; weaker -> the question the policy asks anyway. The scores go on the turn row as the
``heard_time`` policy event. The thresholds are measured (``benchmarks/heard_times.py``: set
on SGD time answers heard over a telephone line, checked on others).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jellyfish
from rapidfuzz import fuzz

from connectors.base import Slot
from voice_agent.dialog.replies import Say, join_words
from voice_agent.dialog.state import DialogState
from voice_agent.dialog.timeparse import WEEKDAYS, describe_time
from voice_agent.dialog.understanding import Understanding

if TYPE_CHECKING:
    from voice_agent.dialog.policy import Decision

__all__ = [
    "CHOICE_MARGIN", "CHOICE_MIN", "CONFIRM_MARGIN", "CONFIRM_MIN", "MAX_HEARD_QUESTIONS",
    "Candidate", "HeardTimeQuestions", "Verdict", "judge", "normalise", "reads_nothing",
    "renderings", "score_offer", "take_heard_event",
]

# Set on the train half of benchmarks/heard_times.py (SGD time answers said by 3 caller voices
# over band+snr15, and ~5,000 written SGD answers that state no time): the most right times
# asked about with no wrong one, and no answer that states no time, asked about even 0.05
# below them; checked on the other half (evals/results/heard-times-sgd-dev.json).
CONFIRM_MIN = 0.67  # the best time's score, to ask "did you say ...?"
CONFIRM_MARGIN = 0.13  # ... and its lead over the next
CHOICE_MIN = 0.78  # the second time's score, to ask "which time did you say: A or B?"
CHOICE_MARGIN = 0.10  # ... and its lead over the third
MAX_HEARD_QUESTIONS = 2  # per call: then the policy's own questions (and its transfer)
GAP = 0.15  # a heard word skipped inside the matched words
FILLER_WEIGHT = 0.5  # an unmatched word around a time ("let's do", "please"), against a match

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty".split()
# The parts of the day a time may be said with ("four in the evening" is 16:00 too).
_PARTS = {"morning": (0, 12), "afternoon": (12, 18), "evening": (16, 24), "night": (19, 24)}
# Everyday words that sound like a number: evidence of it, but weak ("that's good for me").
_HOMOPHONES = {"to": "two", "too": "two", "for": "four", "won": "one", "ate": "eight"}
_HOMOPHONE_WEIGHT = 0.6
_PRONOUN_ONE = frozenset("""the that this a which each any another every no same other good
    nice right best better first second third last earlier later early late""".split())
# Words around a time ("let's do ..., please"): unmatched, they count half against a match.
_FILLERS = frozenset("""i ill id im lets let us do go with please the at um uh er erm ah oh so
    how about say like take have make it its that thats then okay ok yeah yes fine would be
    for me maybe can we could you is great good works sounds perfect in a""".split())


def _number(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    if n < 60:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    return [_ONES[int(d)] for d in str(n)]  # not a clock number: its digits


def _clock(hours: int, minutes: int) -> list[str]:
    """'2 30' -> two thirty; '2 05' -> two oh five; '2 00' -> two."""
    words = _number(hours)
    if minutes:
        words += (["oh"] if minutes < 10 else []) + _number(minutes)
    return words


def _digits(m: re.Match[str]) -> str:
    whole, hh, mm = m.group(0), m.group(1), m.group(2)
    if mm is None and len(whole) in (3, 4):
        hh, mm = whole[:-2], whole[-2:]  # "230", "1130"
    if mm is not None and int(hh) < 24 and int(mm) < 60:
        return " " + " ".join(_clock(int(hh), int(mm))) + " "
    return " " + " ".join(w for part in re.findall(r"\d+", whole)
                          for w in _number(int(part))) + " "


def normalise(text: str) -> tuple[str, ...]:
    """Lower-case words, numbers and clock times as words: '2:30pm' -> two thirty pm."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"(\d)([a-z])", r"\1 \2", text)
    text = re.sub(r"\b([ap])\.\s?m\b\.?", r" \1m ", text)  # "p.m."
    text = re.sub(r"\bo'?\s?clock\b", " oclock ", text)
    text = re.sub(r"(\d{1,2})(?:[:.](\d\d))?(?!\d)|\d+", _digits, text)
    words = re.findall(r"[a-z]+", text.replace("'", ""))
    # "that one", "the later one": a pronoun, not 1 o'clock (as the regular reading has it)
    return tuple(w for i, w in enumerate(words)
                 if not (w == "one" and i and words[i - 1] in _PRONOUN_ONE))


def renderings(start: datetime, *, weekday: bool = False) -> list[tuple[str, ...]]:
    """The ways a caller says ``start`` (a local time): half past two, two thirty, half two,
    fourteen thirty, two thirty pm, quarter to three ...; with its weekday when ``weekday``."""
    h, m = start.hour, start.minute
    h12, nxt = h % 12 or 12, (h + 1) % 12 or 12
    hour, next_hour = _number(h12), _number(nxt)
    bases = [_clock(h12, m)]
    if m == 0:
        bases.append([*hour, "oclock"])
        if h == 12:
            bases += [["noon"], ["midday"], ["twelve", "noon"]]
    elif m == 30:
        bases += [["half", "past", *hour], ["half", *hour]]
    elif m == 15:
        bases += [["quarter", "past", *hour], ["quarter", "after", *hour]]
    elif m == 45:
        bases += [["quarter", "to", *next_hour], ["quarter", "of", *next_hour]]
    elif m < 30:
        bases.append([*_number(m), "past", *hour])
    else:
        bases.append([*_number(60 - m), "to", *next_hour])
    out = [tuple(b) for b in bases]
    out += [(*b, "am" if h < 12 else "pm") for b in bases]
    out += [(*b, part) for b in bases for part, (lo, hi) in _PARTS.items() if lo <= h < hi]
    if h >= 13:
        out.append(tuple(_number(h) + (_number(m) if m else ["hundred"])))
    if weekday:
        day = WEEKDAYS[start.weekday()]
        out = [*out, *[(day, *r) for r in out], *[(*r, "on", day) for r in out]]
    return list(dict.fromkeys(out))


@lru_cache(maxsize=8192)
def _code(word: str) -> str:
    return jellyfish.metaphone(word)


@lru_cache(maxsize=65536)
def word_similarity(heard: str, said: str) -> float:
    """0..1: how alike two words are, by their sound (Metaphone codes) and their spelling."""
    if heard in _HOMOPHONES and said != heard:
        return _HOMOPHONE_WEIGHT * word_similarity(_HOMOPHONES[heard], said)
    if heard == said:
        return 1.0
    spelling = fuzz.ratio(heard, said) / 100
    a, b = _code(heard), _code(said)
    sound = fuzz.ratio(a, b) / 100 if a and b else 0.0
    return (spelling + sound) / 2


def match(heard: Sequence[str], said: Sequence[str]) -> float:
    """How well the heard words contain the rendering ``said``: the F-measure of the best
    monotone alignment (a rendering word may take two heard words, "love and" for "eleven";
    a heard word skipped between matched ones costs ``GAP``). Words around a time ("let's
    do ..., please") count half against the match unless the alignment uses them."""
    n, m = len(said), len(heard)
    if not n or not m:
        return 0.0
    neg = float("-inf")
    # best[i][j]: said[:i] placed within heard[:j], as (objective, said-side similarity,
    # heard-side similarity, filler words used)
    start = (0.0, 0.0, 0.0, 0)
    best = [[start] * (m + 1)] + [[(neg, 0.0, 0.0, 0)] * (m + 1) for _ in range(n)]
    for i in range(1, n + 1):
        for j in range(m + 1):
            options = [best[i - 1][j]]  # said[i-1] not heard
            if j and best[i][j - 1][0] > neg:
                s, r, p, f = best[i][j - 1]
                gap = 0.0 if heard[j - 1] in _FILLERS else GAP  # "two thirty in the evening"
                options.append((s - gap, r, p - gap, f))
            for k in (1, 2):
                if j >= k and best[i - 1][j - k][0] > neg:
                    words = heard[j - k:j]
                    sim = word_similarity("".join(words), said[i - 1])
                    s, r, p, f = best[i - 1][j - k]
                    options.append((s + sim * (1 + k) / 2, r + sim, p + sim * k,
                                    f + sum(w in _FILLERS for w in words)))
            best[i][j] = max(options)
    _, recall_sum, precision_sum, fillers_used = max(best[n])
    fillers = sum(w in _FILLERS for w in heard)
    words = m - fillers + fillers_used + FILLER_WEIGHT * (fillers - fillers_used)
    recall, precision = recall_sum / n, max(0.0, precision_sum) / max(1, words)
    return 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)


@dataclass(frozen=True)
class Candidate:
    slot: Slot
    score: float
    said: str  # the rendering it matched best


def score_offer(text: str, slots: Sequence[Slot]) -> list[Candidate]:
    """Each offered slot's best rendering score against ``text``, best first."""
    heard = normalise(text)
    weekday = len({s.start.date() for s in slots}) > 1
    out = []
    for slot in slots:
        scored = [(match(heard, r), r) for r in renderings(slot.start, weekday=weekday)]
        score, said = max(scored, key=lambda x: x[0])
        out.append(Candidate(slot, round(score, 3), " ".join(said)))
    return sorted(out, key=lambda c: (-c.score, c.slot.start))


@dataclass(frozen=True)
class Verdict:
    kind: str  # confirm | choice | none
    candidates: tuple[Candidate, ...]

    def record(self) -> dict[str, Any]:
        return {"event": "heard_time", "verdict": self.kind, "candidates": [
            {"start": c.slot.start.isoformat(), "score": c.score, "said": c.said}
            for c in self.candidates]}


def judge(candidates: Sequence[Candidate], *, confirm_min: float = CONFIRM_MIN,
          confirm_margin: float = CONFIRM_MARGIN, choice_min: float = CHOICE_MIN,
          choice_margin: float = CHOICE_MARGIN) -> Verdict:
    """One time clearly ahead: confirm; two close, both good, ahead of the rest: choice."""
    c = sorted(candidates, key=lambda x: -x.score)
    top, second, third = ([x.score for x in c] + [0.0] * 3)[:3]
    if c and top >= confirm_min and top - second >= confirm_margin:
        return Verdict("confirm", tuple(c))
    if len(c) > 1 and second >= choice_min and second - third >= choice_margin:
        return Verdict("choice", tuple(c))
    return Verdict("none", tuple(c))


def _others(u: Understanding) -> bool:
    """The reading has something besides a yes, a no or a goodbye for the policy to act on."""
    return bool(u.has_slot_info or u.option is not None or u.constraint or u.no_preference
                or u.unsure or u.wants_human or u.wants_cancel or u.wants_reschedule
                or u.cant_come or u.question or u.tentative or u.wants_alternatives or u.name
                or u.phone or u.staff or u.days or u.same_time or u.shift_days
                or u.service_mentioned_unknown)  # letters count only while spelling


def reads_nothing(u: Understanding) -> bool:
    """Nothing in the regular reading the policy acts on (a bare hour that picked none of the
    times offered is not something it acts on)."""
    return not (_others(u) or u.affirm or u.deny or u.done or u.wants_booking)


def take_heard_event(state: DialogState) -> list[dict[str, Any]]:
    """This turn's ``heard_time`` event (for the turn row), once."""
    event, state.heard_event = state.heard_event, None
    return [event] if event else []


class HeardTimeQuestions:
    """The heard-time half of :class:`~voice_agent.dialog.policy.BookingPolicy`."""

    if TYPE_CHECKING:
        words: Any

        def _day(self, day: date) -> str: ...
        def _offered(self, state: DialogState) -> bool: ...
        def _hold(self, state: DialogState, slot: Slot,
                  lead: list[tuple[str, dict[str, Any]]] | None = None) -> Decision: ...

    def _time_words(self, slot: Slot, *, with_day: bool) -> str:
        said = describe_time(slot.start.timetz())
        return f"{said} on {self._day(slot.start.date())}" if with_day else said

    def _which_time(self, state: DialogState) -> Say:
        slots = state.offered_times
        if len({s.start.date() for s in slots}) == 1:
            return Say("which_time", {"day": self._day(slots[0].start.date()),
                                      "times_or": self.words.times(slots, last="or")},
                       asked="time")
        labels = [self._time_words(s, with_day=True) for s in slots]
        return Say("heard_which_time", {"times_or": join_words(labels, last="or")},
                   asked="time")

    def ask_heard_time(self, state: DialogState, u: Understanding) -> Say | None:
        """A garbled answer to the times just offered: ask about the one it sounds like."""
        if not (state.asked == "time" and state.offer is None and state.service
                and state.heard_questions < MAX_HEARD_QUESTIONS and self._offered(state)
                and reads_nothing(u)):
            return None
        slots = [s for s in state.offered_times if s.start not in state.heard_rejected]
        if not slots or not normalise(u.text):
            return None
        verdict = judge(score_offer(u.text, slots))
        state.heard_event = verdict.record()
        with_day = len({s.start.date() for s in state.offered_times}) > 1
        if verdict.kind == "confirm":
            slot = verdict.candidates[0].slot
            state.heard_time, state.heard_questions = slot, state.heard_questions + 1
            return Say("heard_time_check", {"time": describe_time(slot.start.timetz()),
                                            "day": self._day(slot.start.date())},
                       asked="confirm")
        if verdict.kind == "choice":
            a, b = sorted((c.slot for c in verdict.candidates[:2]), key=lambda s: s.start)
            state.offered_times, state.heard_questions = [a, b], state.heard_questions + 1
            return Say("heard_time_choice", {"a": self._time_words(a, with_day=with_day),
                                             "b": self._time_words(b, with_day=with_day)},
                       asked="time")
        return None

    def answer_heard_time(self, state: DialogState, u: Understanding) -> Decision | None:
        """The answer to "Did you say 2:30 PM ...?": a clear yes takes that time (the rest of
        the booking and its confirmation follow); a no, or nothing heard, asks which time.
        Anything else the caller said is the policy's to act on."""
        slot, state.heard_time = state.heard_time, None
        if slot is None or state.asked != "confirm" or state.offer is not None:
            return None
        if _others(u) or (u.bare_hour and u.bare_hour % 12 != slot.start.hour % 12):
            return None  # "no, 3:30", "yes, three": a time of its own
        if (u.done and not u.affirm) or not self._offered(state):
            return None  # "bye": the policy's; the times are no longer known to be free
        yes = u.affirm and not u.deny
        state.heard_event = {"event": "heard_time", "verdict": "answered",
                             "start": slot.start.isoformat(),
                             "answer": "yes" if yes else "no" if u.deny else "unclear"}
        if yes and slot in state.offered_times:
            return self._hold(state, slot)
        if u.deny:
            state.heard_rejected.append(slot.start)
        return self._which_time(state)
