"""Match what the caller said against what can be meant: the business's services and staff.

Exact whole-word matches first (``Business.find_service``); then fuzzy matching of the
caller's word n-grams against each term with rapidfuzz, so spelling variants and near misses
("color" for "colour", "blowdry", "check up") still name the service. Each match carries its
score (0–100) so the dialog can tell a sure match from a guess; a short term must match
exactly (fuzzy matching of three-letter words finds everything).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import jellyfish
import yaml
from rapidfuzz import fuzz

from connectors.schedule import Business, Service
from voice_agent.dialog.timeparse import REPAIR

__all__ = ["FUZZY_MIN_SCORE", "PHONETIC_MIN_SCORE", "Match", "follow_on_service", "match_service",
           "match_staff", "services_partly_named", "staff_echoed"]

FUZZY_MIN_SCORE = 86.0
_MIN_FUZZY_LEN = 5
# A long service name heard as other words that sound like it ("a skill in polish" for "a
# scale and polish", whisper base over an 8 kHz line): the Metaphone codes of the caller's
# words against the term's. Only terms whose code has 6 sounds or more (short codes collide:
# "maybe later" codes like "blow dry"); at 90 none of the 12,683 SGD user turns named a demo
# service this way that the spelling passes had not (2026-12-04).
PHONETIC_MIN_SCORE = 90.0
_MIN_PHONETIC_CODE = 6
_TITLES = re.compile(r"^(?:dr|doctor|mr|mrs|ms|miss)\.?\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Match:
    value: str  # the service id, or the staff member as the business names them
    said: str  # the caller's words that matched
    score: float  # 100 = exact
    term: str = ""  # the name or alias they matched (a fuzzy match)

    @property
    def sounds_exact(self) -> bool:
        """Named exactly, or by a spelling that sounds the same (Metaphone): "color" for
        "colour", "check up" for "checkup"; not a different word that is spelled alike
        ("lean" for "clean")."""
        if self.score >= 100.0:
            return True
        said, term = self.said.replace(" ", ""), self.term.replace(" ", "")
        return bool(term) and jellyfish.metaphone(said) == jellyfish.metaphone(term)


def _words(text: str) -> list[str]:
    """Lower-case words, inflections trimmed ("cleaned" -> "clean", "painful" -> "pain",
    "dries" -> "dry")."""
    words = re.findall(r"[^\W_]+", text.casefold())
    words = [re.sub(r"(?<=\w{2})ies$", "y", w) for w in words]
    return [re.sub(r"(?<=\w{4})(?:ed|ing|ful|s)$", "", w) for w in words]


def _ngrams(words: list[str], n: int) -> list[str]:
    return [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]


def _best(words: list[str], terms: list[str]) -> tuple[float, str, str]:
    best = (0.0, "", "")
    for term in terms:
        n = len(term.split())
        for gram in _ngrams(words, n) + _ngrams(words, n + 1):
            if len(term) < _MIN_FUZZY_LEN and gram != term:
                continue
            score = fuzz.ratio(gram, term)
            if score > best[0]:
                best = (score, term, gram)
    return best


_MAX_GAP = 3  # other words allowed between two words of a description


@cache
def _needs() -> dict[str, tuple[tuple[str, ...], ...]]:
    """The shared lexicon of described needs (``described_needs.yaml``), each phrase as words."""
    raw = yaml.safe_load(resources.files(__package__).joinpath("described_needs.yaml")
                         .read_text(encoding="utf-8"))
    return {str(need).casefold(): tuple(tuple(_words(p)) for p in phrases if _words(p))
            for need, phrases in raw.items()}


def _said_in_order(words: list[str], phrase: tuple[str, ...]) -> str | None:
    """The caller's words spanning ``phrase`` said in order with small gaps, or None."""
    for start, word in enumerate(words):
        if word != phrase[0]:
            continue
        at, ok = start, True
        for part in phrase[1:]:
            window = words[at + 1:at + 2 + _MAX_GAP]
            if part not in window:
                ok = False
                break
            at += 1 + window.index(part)
        if ok:
            return " ".join(words[start:at + 1])
    return None


def _descriptions(service: Service) -> list[tuple[str, ...]]:
    terms = set(service.match_terms())
    shared = [p for need, phrases in _needs().items() if need in terms for p in phrases]
    return shared + [tuple(_words(p)) for p in service.described_as if _words(p)]


def _described(text: str, business: Business) -> Match | None:
    """The service named by a described need ("I've cracked a tooth": the service whose alias
    is "pain"); scored at the fuzzy floor, never as sure as a name."""
    words = _words(text)
    for service in business.services:
        for phrase in _descriptions(service):
            said = _said_in_order(words, phrase)
            if said is not None:
                return Match(service.id, said, float(FUZZY_MIN_SCORE))
    return None


# A service said not to be wanted: "not a haircut", "rather than the trim", "instead of a colour".
_NOT_SERVICE = re.compile(r"\b(?:not|rather than|instead of|other than|except|don'?t (?:want|need)|"
                          r"do not (?:want|need))\s+"
                          r"(?:(?:have|get|want|do|book|a|an|the|my|for)\s+)*[\w-]+(?:\s+[\w-]+)?")


def _named(text: str, business: Business) -> Service | None:
    """The service meant when several are named: the one after a self-repair ("a check-up,
    actually no, the hygienist"), never one said not to be wanted ("not a haircut"), else the
    first named ("a haircut, then a blow-dry straight after": one booking at a time; the
    second is ``follow_on_service``)."""
    for segment in reversed(REPAIR.split(text.casefold().replace("’", "'"))):
        words = _NOT_SERVICE.sub(" ", segment).split()
        for end in range(1, len(words) + 1):
            found = business.find_service(" ".join(words[:end]))
            if found is not None:
                return found
    return None


def match_service(text: str, business: Business) -> Match | None:
    if business.find_service(text) is not None:
        exact = _named(text, business)  # None: the only ones named are not wanted
        return Match(exact.id, exact.name, 100.0) if exact is not None else None
    words = _words(text)
    scored: list[tuple[float, Service, str, str]] = []
    for service in business.services:
        score, term, gram = _best(words, service.match_terms())
        scored.append((score, service, gram, term))
    score, service, gram, term = max(scored, key=lambda s: s[0])
    if score < FUZZY_MIN_SCORE:
        # named by how it sounds, by what it is for, or not at all
        return _sounded(words, business) or _described(text, business)
    return Match(service.id, gram, round(score, 1), term)


@cache
def _code(words: str) -> str:
    """Metaphone of the words run together (cached: every term meets the same n-grams)."""
    return jellyfish.metaphone(words.replace(" ", ""))


def _sounded(words: list[str], business: Business) -> Match | None:
    """A long service name said as other words that sound like it; scored at the fuzzy floor
    (a guess, never as sure as a name)."""
    best: tuple[float, Service | None, str, str] = (0.0, None, "", "")
    for service in business.services:
        for term in service.match_terms():
            code = _code(term)
            if len(code) < _MIN_PHONETIC_CODE:
                continue
            n = len(term.split())
            for gram in dict.fromkeys(g for k in (n - 1, n, n + 1) if k > 0
                                      for g in _ngrams(words, k)):
                score = fuzz.ratio(_code(gram), code)
                if score > best[0]:
                    best = (score, service, gram, term)
    score, found, gram, term = best
    if found is None or score < PHONETIC_MIN_SCORE:
        return None
    return Match(found.id, gram, FUZZY_MIN_SCORE, term)


# Between two services named in one request, words that make the second a further booking
# ("a haircut and then a blow-dry", "a cut, plus a blow-dry after"); after it, words that
# give it a day or time of its own (then it is not "straight after").
_THEN = re.compile(r"\b(?:and|then|after|afterwards|plus|also|followed)\b")
_OWN_TIME = re.compile(r"\b(?:at|on|\d+|noon|midday|o'?clock|half|quarter|morning|afternoon|"
                       r"evening|today|tomorrow|next|monday|tuesday|wednesday|thursday|friday|"
                       r"saturday|sunday)\b")


def _mentions(words: list[str], business: Business) -> list[tuple[int, int, Service]]:
    """Each service named by a whole name or alias, as (first word, past last word, it)."""
    terms = {t: s for s in business.services for t in s.match_terms()}
    longest = max(len(t.split()) for t in terms)
    out: list[tuple[int, int, Service]] = []
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            gram = " ".join(words[i:i + n])
            found = terms.get(gram) or terms.get(gram.removesuffix("s"))
            if found is not None:
                out.append((i, i + n, found))
                i += n
                break
        else:
            i += 1
    return out


def follow_on_service(text: str, business: Business) -> Service | None:
    """The service asked for after the one the request is for, to book straight after it:
    "a haircut on Friday at 10, and then a blow-dry straight after" -> the blow-dry. None when
    the request names one service, corrects itself ("a check-up, actually no, the
    hygienist"), says one is not wanted, or gives the second its own day or time."""
    lowered = text.casefold().replace("\u2019", "'")
    segment = _NOT_SERVICE.sub(" ", REPAIR.split(lowered)[-1])
    words = re.findall(r"[^\W_]+", segment)
    mentions = _mentions(words, business)
    if len(mentions) < 2:
        return None
    (_, first_end, first), (second_start, second_end, second) = mentions[0], mentions[1]
    between = " ".join(words[first_end:second_start])
    after = " ".join(words[second_end:])
    if second.id == first.id or not _THEN.search(between) or _OWN_TIME.search(after):
        return None
    return second


def match_staff(text: str, business: Business) -> Match | None:
    """A staff member named in the text: full name, or the surname / first name alone
    ("Dr Patel", "Doctor Patel", "Patel"; "Maria")."""
    if not business.staff:
        return None
    words = _words(text)
    best: tuple[float, str, str] = (0.0, "", "")
    for member in business.staff:
        bare = _TITLES.sub("", member).casefold()
        terms = {bare, *bare.split()}
        score, _, gram = _best(words, sorted(terms))
        if score > best[0]:
            best = (score, member, gram)
    score, member, gram = best
    if score < FUZZY_MIN_SCORE:
        return None
    return Match(member, gram, round(score, 1))


def staff_echoed(text: str, business: Business) -> bool:
    """Whether every mention of a staff member is a sentence of its own that is nothing but
    their name ("Lucas Watson. ... Dr Okafor. Dr Okafor."): over the phone whisper appends the
    staff its prompt lists to an answer about the caller's details. "Could I have Tom
    instead?" is a request, not an echo."""
    bare = {" ".join(_words(_TITLES.sub("", m))) for m in business.staff}
    mentions = [s for s in re.split(r"[.!?]+", text) if match_staff(s, business) is not None]
    return bool(mentions) and all(" ".join(_words(_TITLES.sub("", s.strip()))) in bare
                                  for s in mentions)


# Words that name a booking, not what it is for ("a hair appointment", "a dental visit").
_BOOKING_WORDS = frozenset({"appointment", "appointments", "booking", "session", "visit",
                            "slot", "time", "service", "treatment", "something", "one"})


def services_partly_named(mention: str, business: Business) -> tuple[list[Service], bool]:
    """What a request that names no service asks for ("I'd like a hair appointment"): the
    services one of its words begins a word of (the name or an alias: "hair" begins
    "haircut" and "hair colouring"), and whether its words only say what the business is
    (words of its name, or booking words: "a dental appointment" at Riverside Dental). The
    caller asked for one of those services, or for an appointment: not for a service the
    business lacks."""
    words = [w for w in re.findall(r"[a-z]+", mention.lower()) if len(w) >= 3]
    own = set(re.findall(r"[a-z]+", business.display_name.lower()))
    partly = [svc for svc in business.services if any(
        part.startswith(w) for w in words if w not in _BOOKING_WORDS
        for term in svc.match_terms() for part in term.split())]
    return partly, bool(words) and all(w in own or w in _BOOKING_WORDS for w in words)
