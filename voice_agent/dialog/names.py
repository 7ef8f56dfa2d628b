"""Names and numbers, the way a receptionist takes them.

A name is read from a lead phrase ("my name is", "it's", "under the name"), or, when the agent
has just asked for it, from the bare answer. Spelling wins over hearing: letters said one by
one ("S-I-O-B-H-A-N", "D, A, N, A, then S, M, I, T, H") or in the NATO alphabet replace the
word they spell. A booking for someone else ("it's for my daughter, Emma") carries their name.
Letters are Unicode letters, so "Zoë Müller" and "José Núñez" are names too. Pure functions.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz

__all__ = [
    "LETTER_NAMES", "NATO_LETTERS", "NameReading", "extract_name", "extract_phone", "fold",
    "letters_as_said", "name_words", "read_name", "spelled_words", "title_word",
    "without_phone_numbers",
]

_L = r"[^\W\d_]"  # a letter, any script
_WORD = rf"{_L}(?:{_L}|['\-](?={_L}))*"  # O'Brien, Anne-Marie
_GAP = r"[\s,\u2063]+"
# A lead phrase that can only introduce a name, and weaker ones ("it's", "I'm", "this is")
# that introduce a name only when the caller writes or says it as one (a capital letter:
# "I'm visiting" is not a name, "I'm Dana" is).
_STRONG_LEAD = (r"my name is|my name's|name is|the name is|name'?s|call me|under the name(?: of)?"
                r"|her name is|his name is|their name is|(?:she|he)'s called|(?:she|he) is called")
_NAME_LEAD = re.compile(
    rf"\b(?:({_STRONG_LEAD})|this is|i am|i'm|it's|it is|under)\s+"
    rf"({_WORD}(?:{_GAP}{_WORD}){{0,3}})")
_RELATIONS = (
    "son", "daughter", "wife", "husband", "partner", "boyfriend", "girlfriend", "fiance",
    "fiancee", "mum", "mom", "mother", "dad", "father", "child", "kid", "little one", "friend",
    "brother", "sister", "grandmother", "grandma", "grandfather", "grandpa", "grandson",
    "granddaughter", "colleague", "boss", "niece", "nephew", "aunt", "uncle", "baby",
)
_FOR_OTHER = re.compile(
    r"\b(?:for|it'?s for|booking for|appointment for|book in|bring(?:ing)?) (?:my|our) "
    rf"(?:little |youngest |eldest |oldest )?(?:{'|'.join(_RELATIONS)})s?\b"
    r"(?:[\s,]+(?:who'?s|who is|called|named|whose name is|her name is|his name is)?\s*"
    rf"({_WORD}(?:\s+{_WORD})?))?", re.IGNORECASE)
_FILLER = re.compile(
    r"^\s*(?:(?:sure|yes|yeah|yep|ok|okay|of course|certainly|hi|hello|um+|uh+|well|so|right)"
    r"\b[\s,.!]*)*")
# Words that (almost) never form part of a name: a name stops at the first of them, and a bare
# answer made of them is the caller saying something else ("Perfect, thank you").
NEVER_IN_NAMES = frozenset("""
a about actually address again alright also am an and any anything are at be been book
booking bye call calling can could did do does done don't else everything fine for from get
give go good goodbye got great had has have he help her here him his hoping how i i'd i'll i'm
if in interested is it it's just know later let like look looking make maybe me mine more much
my name need next no nope not nothing now number of office ok okay on one or our perfect phone
please really right ringing see she should so some something sorry sounds sure tell than thank
thanks that that's the their them then there they think this to today tomorrow too try trying
us very wait want was we well were what what's when where which who why with wondering word
work works would yeah yep yes you your appointment time pm am free busy available afraid
spelled spelt spell spelling its surname first last with accent umlaut tilde letter letters
oh ah ahh hmm um uh er erm eh hey hi hello wow huh
morning afternoon evening noon monday tuesday wednesday thursday friday saturday sunday
haircut trim cut colour color checkup check cleaning emergency
""".split())
NATO_LETTERS = {
    "alpha": "a", "alfa": "a", "bravo": "b", "charlie": "c", "delta": "d", "echo": "e",
    "foxtrot": "f", "golf": "g", "hotel": "h", "india": "i", "juliet": "j", "juliett": "j",
    "kilo": "k", "lima": "l", "mike": "m", "november": "n", "oscar": "o", "papa": "p",
    "quebec": "q", "romeo": "r", "sierra": "s", "tango": "t", "uniform": "u", "victor": "v",
    "whiskey": "w", "whisky": "w", "x-ray": "x", "xray": "x", "yankee": "y", "zulu": "z",
}
# Three or more single letters in a row, separated by spaces, commas, dots or hyphens; an
# apostrophe may stand between two of them (O'Brien: "O, apostrophe, B, R, ...").
_SEP = r"(?:\s*[-,.]\s*|\s+)(?:apostrophe(?:\s*[-,.]\s*|\s+))?"
_LETTER_RUN = re.compile(rf"(?<![\w'])(?:{_L}{_SEP}){{2,}}{_L}(?![\w'])")
_NATO_WORD = "|".join(NATO_LETTERS)
_NATO_RUN = re.compile(rf"\b(?:(?:{_NATO_WORD})[\s,.-]+){{2,}}(?:{_NATO_WORD})\b", re.IGNORECASE)
_NAME_CHARS = re.compile(rf"(?:{_L}|['\-\s,])")
_MARK = "\u2063"  # where a spelling stood (an invisible separator: never part of a word)
# A title before a name: said, but not part of the name on a booking when the full name is given.
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "doctor", "sir", "madam", "master",
                     "mister", "missus"})


@dataclass(frozen=True)
class NameReading:
    name: str | None
    spelled: bool = False  # some of it was spelled out letter by letter
    for_other: bool = False  # the booking is for someone else (the name is theirs)


# How a letter's name comes out as a word when whisper writes a spelling (the English letter
# names, and the two the caller voices' spellings measured most: "the" for a letter of the
# "E-set" (B, D, P, E: in 18 of 360 spellings of the call scripts' names, 3 voices x 2 lines)
# and "okay" for K). "Double U" is W; "double" before another letter says it twice ("double L").
LETTER_NAMES = {
    "ay": "a", "bee": "b", "be": "b", "see": "c", "sea": "c", "cee": "c", "dee": "d",
    "the": "d", "ee": "e", "ef": "f", "eff": "f", "gee": "g", "aitch": "h", "haitch": "h",
    "eye": "i", "jay": "j", "kay": "k", "okay": "k", "el": "l", "ell": "l", "em": "m",
    "en": "n", "oh": "o", "owe": "o", "pee": "p", "pea": "p", "queue": "q", "cue": "q",
    "are": "r", "ar": "r", "es": "s", "ess": "s", "tee": "t", "tea": "t", "you": "u",
    "yew": "u", "vee": "v", "ex": "x", "why": "y", "wye": "y", "zed": "z", "zee": "z",
}
_DOUBLE_U = re.compile(r"\bdouble[\s-]*(?:u|you|yew|v)\b", re.IGNORECASE)
_DOUBLE_LETTER = re.compile(rf"\bdouble[\s-]+({_L})\b", re.IGNORECASE)
_WORD_TOKEN = re.compile(r"[^\W\d_]+")
# "then" and the next letter heard as one word: "then R" as "denner" or "dinner" (12 of 540
# spellings of script and census names), "then M" as "denim", "then N" as "denon", "then L"
# as "denel", "then E" as "zenny", and "then" alone as "den". The word's tail after the
# "then" sound is the letter's name; tails not seen yet follow the same letter names.
_THEN_FUSED = re.compile(r"(?:d|th|z|s)[ei]n+(\w*)")
_LETTER_TAILS = {
    "er": "r", "ar": "r", "im": "m", "em": "m", "um": "m", "on": "n", "en": "n", "an": "n",
    "el": "l", "al": "l", "ell": "l", "is": "s", "es": "s", "ess": "s", "y": "e", "ee": "e",
    "ey": "e", "ie": "e", "dy": "d", "dee": "d", "ty": "t", "tee": "t", "by": "b", "bee": "b",
    "py": "p", "vy": "v", "gy": "g", "jay": "j", "kay": "k", "oh": "o", "ex": "x",
}


def letters_as_said(text: str) -> str:
    """A spelling with each letter whisper wrote as its name's word put back as the letter:
    "L, the double V, I, S, then J, the M, K, I, N, S" -> "L, D W, I, S, then J, D M, K, I,
    N, S". Only a text that is mostly single letters is a spelling (three or more, and at
    least half of its words besides "then"); any other text is returned as it is, so "are
    you free at ten?" stays words."""
    tokens = [t.casefold() for t in _WORD_TOKEN.findall(text)]
    words = [t for t in tokens if t != "then"]
    single = sum(len(t) == 1 or t in NATO_LETTERS for t in words)
    if single < 3 or single * 2 < len(words):
        return text
    text = _DOUBLE_U.sub("W", text)
    text = _DOUBLE_LETTER.sub(lambda m: f"{m.group(1)}, {m.group(1)}", text)
    found = list(_WORD_TOKEN.finditer(text))
    low = [m.group(0).casefold() for m in found]
    out, at = [], 0
    for i, m in enumerate(found):
        after_letter = i > 0 and len(low[i - 1]) == 1
        # A letter's name stands among letters ("Okay, A, Y, L, A" for Kayla; "then the R");
        # a filler before the letters does not ("Okay, so F, I, ...").
        if low[i] in LETTER_NAMES and (after_letter or (i + 1 < len(low)
                                                         and len(low[i + 1]) == 1)):
            out += [text[at:m.start()], LETTER_NAMES[low[i]].upper()]
            at = m.end()
        elif (after_letter and low[i] != "then"
              and (fused := _THEN_FUSED.fullmatch(low[i]))
              and (not fused.group(1) or fused.group(1) in _LETTER_TAILS)):
            # after a letter only: "Dennis, D, E, N, N, I, S" says the name first
            tail = _LETTER_TAILS.get(fused.group(1), "")
            out += [text[at:m.start()], f"then {tail.upper()}".strip()]
            at = m.end()
    return "".join([*out, text[at:]])


def title_word(word: str) -> str:
    """A name word as it is written: "o'brien-smith" -> "O'Brien-Smith"."""
    return "-".join("'".join(p[:1].upper() + p[1:] for p in part.split("'"))
                    for part in word.split("-"))


def spelled_words(text: str) -> tuple[list[str], str]:
    """The words spelled out letter by letter (or in the NATO alphabet), and the text with
    each spelling replaced by a marker (a gap between name words)."""
    words: list[str] = []

    def letters(m: re.Match[str]) -> str:
        raw = m.group(0).lower()
        word = re.sub(r"apostrophe", "'", raw)
        word = re.sub(r"[^\w']", "", word)
        words.append(word)
        return f" {_MARK} "

    def nato(m: re.Match[str]) -> str:
        word = "".join(NATO_LETTERS[w] for w in re.findall(r"[a-z-]+", m.group(0).lower())
                       if w in NATO_LETTERS)
        words.append(word)
        return f" {_MARK} "

    out = _NATO_RUN.sub(nato, letters_as_said(text))
    out = _LETTER_RUN.sub(letters, out)
    return words, out


def _clean(raw: str, spelled: list[str] = ()) -> list[str]:
    """The name's words: up to the first word that is never in a name; a word said and then
    spelled counts once; "then" between two spelled words joins them."""
    words: list[str] = []
    parts = [w for w in re.split(_GAP, raw.strip()) if w]
    for i, word in enumerate(parts):
        low = word.lower()
        if low == "then" and words and 0 < i + 1 < len(parts) and parts[i + 1].lower() in spelled:
            continue
        if low.rstrip(".") in _TITLES and not words:
            words.append(word.rstrip("."))
            continue
        if low in NEVER_IN_NAMES or not re.fullmatch(_WORD, word):
            break
        if low in (w.lower() for w in words):
            if len(words) > 1 and words[-1].lower() != low and (
                    words[0].lower() == low or words[0].lower() in _TITLES):
                # "Mr Kowalczyk, Tomasz Kowalczyk": the surname said again after the
                # first name; the name is what the caller restated
                words = [w for w in words if w.lower() != low and w.lower() not in _TITLES]
                words.append(word)
            continue
        words.append(word)
    if len(words) > 2 and words[0].lower() in _TITLES:
        words = words[1:]  # "Mrs Patricia O'Neill" is Patricia O'Neill; "Mrs O'Neill" stays
    return words if 0 < len(words) <= 4 and words[-1].lower() not in _TITLES else []


def fold(word: str) -> str:
    """Lower case without accents: "Müller" -> "muller", "Łukasz" -> "lukasz"."""
    decomposed = unicodedata.normalize("NFKD", word.casefold().replace("ł", "l"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def name_words(name: str) -> list[str]:
    """The name's words as a caller spells them: folded, a-z only, split at spaces and
    hyphens ("Anne-Marie O'Brien" -> ["anne", "marie", "obrien"])."""
    words = ("".join(ch for ch in fold(w) if "a" <= ch <= "z") for w in re.split(r"[\s-]+", name))
    return [w for w in words if w]


def _apply_spelling(spoken: list[str], spelled: list[str]) -> list[str]:
    """Spelling wins over hearing. A spelled word that confirms a spoken one (the same
    letters once accents are set aside, or a part of it: "U-K-A-S-Z" after "Łukasz is L with
    a line through it") keeps the spoken form; one that differs ("Jon", then J-O-H-N)
    replaces the spoken word it sounds closest to; spelled words with no spoken counterpart
    are added in order."""
    out = list(spoken)
    extra = []
    for word in spelled:
        folded = [fold(s) for s in out]
        if any(word == f or (len(word) >= 3 and word in f) for f in folded):
            continue  # the spelling confirms what was said
        scores = [fuzz.ratio(word, f) for f in folded]
        best = max(range(len(out)), key=lambda i: scores[i]) if out else None
        if best is not None and (scores[best] >= 50 or folded[best][:1] == word[:1]):
            out[best] = word
        else:
            extra.append(word)
    return out + extra


_SURNAME = re.compile(rf"\b(?:surname|last name|family name)(?:'s| is|:)?\s+({_WORD})",
                      re.IGNORECASE)
_FORENAME = re.compile(rf"\b(?:first name|forename|christian name|given name)(?:'s| is|:)?\s+"
                       rf"({_WORD})", re.IGNORECASE)


def _named_parts(text: str) -> list[str]:
    """"Surname's Oyelaran-Smith, first name Bola": the name in its usual order."""
    surname, forename = _SURNAME.search(text), _FORENAME.search(text)
    if not (surname and forename):
        return []
    words = [forename.group(1), surname.group(1)]
    return words if all(w.lower() not in NEVER_IN_NAMES for w in words) else []


def read_name(text: str, *, asked: bool) -> NameReading:
    """The name on the booking, if the text gives one."""
    lowered = text.replace("’", "'")
    spelled, rest = spelled_words(lowered)
    rest_l = rest.lower()
    parts = _named_parts(rest)
    if parts:
        if spelled:
            parts = _apply_spelling(parts, spelled)
        return NameReading(" ".join(title_word(w) for w in parts), spelled=bool(spelled),
                           for_other=bool(_FOR_OTHER.search(rest_l)))
    for_other = _FOR_OTHER.search(rest_l)
    spoken: list[str] = []
    if for_other and for_other.group(1):
        words = _clean(rest[for_other.start(1):for_other.end(1)], spelled)
        spoken = words if words and words[0][:1].isupper() else []  # "..., as a surprise"
    if not spoken:
        # Booking for someone else: only a name said after "for my daughter" is theirs;
        # "My name is Dana, ... for my daughter" gave the caller's own.
        after = for_other.end() if for_other else 0
        for match in _NAME_LEAD.finditer(rest_l, after):
            words = _clean(rest[match.start(2):match.end(2)], spelled)
            if words and (match.group(1) or words[0][:1].isupper() or words[0] in spelled):
                spoken = words
                break
    if not spoken and asked and not for_other:
        spoken = _bare_name(rest, spelled)
        if not spoken:  # "Kate Ahmadzai. The surname's A-H-M-...": the first sentence,
            # when it is a full name or the rest spells: "Away. Actually, could we do
            # Saturday instead?" ("Wait" misheard) is no name.
            first = re.split(r"(?<=[.!?])\s+", rest.strip(), maxsplit=1)[0]
            spoken = _bare_name(first, spelled) if first != rest.strip() else []
            spoken = spoken if len(spoken) >= 2 or spelled else []
        if not spoken and spelled:  # "Katherine Lee, that's C-A-T-H-...": the leading words
            spoken = _clean(_FILLER.sub("", rest), spelled)
        if not spoken:  # "Put it under her name, Sofia Alvarez": a chunk that is only a name
            for chunk in reversed(re.split(r"[,.;:!?]", rest)):
                words = _bare_name(chunk, spelled)
                if len(words) >= 2 and all(w[:1].isupper() for w in words):
                    spoken = words
                    break
    if spelled and (spoken or asked):
        spoken = _apply_spelling(spoken, spelled)
    if not spoken:
        return NameReading(None, for_other=bool(for_other))
    return NameReading(" ".join(title_word(w) for w in spoken), spelled=bool(spelled),
                       for_other=bool(for_other))


def _bare_name(text: str, spelled: list[str]) -> list[str]:
    """The answer to "what's your name?" when the whole answer is a name."""
    bare = _FILLER.sub("", text)
    bare = re.sub(r"\b(?:thanks|thank you|please)\b.*$", "", bare, flags=re.IGNORECASE)
    bare = "".join(ch if _NAME_CHARS.fullmatch(ch) else " " for ch in bare).strip(" ,")
    parts = [w for w in re.split(_GAP, bare)
             if w and w.lower() != "then" and w.lower().rstrip(".") not in _TITLES]
    words = _clean(bare, spelled)  # the whole answer must be the name
    named = [w for w in words if w.lower() not in _TITLES]
    if words and len(named) == len(dict.fromkeys(w.lower() for w in parts)) and all(
            len(w) > 1 for w in words):
        return words
    return []


_DIGIT_WORDS = {"zero": "0", "oh": "0", "o": "0", "nought": "0", "one": "1", "two": "2",
                "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
                "nine": "9"}
_DIGIT_RUN = re.compile(
    r"\b(?:(?:double|triple) )?(?:zero|oh|o|nought|one|two|three|four|five|six|seven|eight|nine|"
    r"\d)(?:[\s,\-]+(?:(?:double|triple) )?(?:zero|oh|o|nought|one|two|three|four|five|six|"
    r"seven|eight|nine|\d))+\b", re.IGNORECASE)


def _spoken_digits(match: re.Match[str]) -> str:
    """"oh seven seven double oh nine" -> "077009"."""
    out, repeat = [], 1
    for word in re.findall(r"[a-z]+|\d", match.group(0).lower()):
        if word in ("double", "triple"):
            repeat = 2 if word == "double" else 3
            continue
        out.append((_DIGIT_WORDS.get(word) or word) * repeat)
        repeat = 1
    return "".join(out)


_NUMBER_RUN = re.compile(r"(?<![\d:])\+?\d(?:[\s\-.()]*\d){6,}(?![\d:])")


def without_phone_numbers(text: str) -> str:
    """``text`` with every run of seven digits or more (spaces, dashes, dots and brackets
    between them allowed) blanked: a phone number is never a day or a time ("my mobile 0 7
    700 900 123" is not 7:00)."""
    return _NUMBER_RUN.sub(" ", text)


def extract_phone(text: str) -> str | None:
    # A number said in words ("oh seven seven double oh ...") is its digits; join digit groups
    # split by spaces, dashes, dots or brackets; other digits in the sentence ("at 3, my number
    # is ...") stay separate.
    text = _DIGIT_RUN.sub(_spoken_digits, text)
    joined = re.sub(r"(?<=\d)[\s\-.()]+(?=\d)", "", text)
    match = re.search(r"(?<!\d)\+?\d{7,15}(?!\d)", joined)
    return match.group(0) if match else None


def extract_name(text: str, *, asked: bool) -> str | None:
    """Just the name (see ``read_name``)."""
    return read_name(text, asked=asked).name
