"""Does the caller's spelling bear out the name we heard?

Over an 8 kHz line, whisper base mishears spelled letters in a known way: letters that rhyme
are confused (the "E-set" B C D E G P T V Z, then M/N, F/S/X, A/H/J/K, I/Y, Q/U/W), a "then"
between two words becomes a stray letter, and a letter is sometimes dropped or doubled
(measured on the call scripts' names spoken by the simulated caller voices over μ-law and
transcribed with the spelling prompt). So a spelling is not
taken as the name (``T, A, M, A, D, F, M, I, T, H`` is what "D, A, N, A, then S, M, I, T, H"
came through as); it is a second, independent hearing that either bears out the name heard
("Dana Smith": every letter matches or rhymes) or contradicts it ("Tina Smith": the I is no
rhyme of A). A name that the spelling contradicts is not written: the booking goes to review.

``letter_distance`` is a weighted edit distance between the spelled letters and the heard
name's letters: a rhyming substitution costs ``RHYME_COST``, any other substitution 1, a
dropped letter ``GAP_COST``, an extra letter ``EXTRA_COST`` (between two words, where "then"
stood, an extra letter that "then" sounds like costs only ``BOUNDARY_GAP_COST``); each
word's cost is divided by its length, and the worst word counts.

The transcript alone is not enough. On 60 census names nobody here picked
(``benchmarks/name_capture.py``: 3 caller voices x clean and band+snr15 lines, 360 calls), a
rhyme costs so little that the letters bore out one-letter-apart names ("Tana" for Dana,
"Hartman" for Hardman, "Shelley" for Shelly) as readily as right ones: 52 of 1,574 such
wrong names against 2 of 39 rightly heard names (test half: 21 of 784, 1 of 22); on the call
scripts' own names 17 of 314 wrong against 4 of 30 right. So the verdict also reads the
spelling's audio as the heard name's own letters (``LetterScores``, scored by the
recogniser: ``pipeline/spelling_check.py``): ``spelling_verifies`` takes a name whose every
letter the audio bears out (none below ``LETTER_FLOOR``), or one the transcript bears out
and the audio contradicts nowhere (none below ``VETO_FLOOR``). On the test half: 1 of 22
right names verified (as before), 3 of 784 wrong ones (was 21), no real mishearing (0 of 79);
on the scripts' names 5 of 30 right (was 4), 4 of 314 wrong (was 17). Not zero: whisper base
cannot tell some letters apart on these voices at all ("John Weis" for Weiss scored exactly
as the right name), which no threshold on its hearing of the letters can fix.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any

from voice_agent.dialog.names import NATO_LETTERS, fold, letters_as_said, name_words

__all__ = [
    "CORROBORATES", "LetterScores", "bears_out", "letter_distance", "letters_fit",
    "spelled_letters", "spelling_verifies", "word_distances",
]

RHYME_COST = 0.25
GAP_COST = 0.6  # a letter of the name the spelling lacks (letters do get swallowed)
EXTRA_COST = 1.0  # a letter spelled that the name lacks: as bad as a wrong letter
BOUNDARY_GAP_COST = 0.1  # between two words: where "then" stood, often heard as a letter
THEN_HEARD_AS = "ndtzm"  # what "then" came through as (its "th" onset, its "en")
# At or below this the transcript's letters bear the heard name out. Calibrated on 27
# names the Piper caller voice said and spelled: 8 of 15 rightly heard names bear out, 0 of
# 12 misheard ones (the closest misheard, "Emily Clark" for Clarke, scored 0.2). On the
# census names of benchmarks/name_capture.py it also bore out 52 of 1,574 one-letter-apart
# wrong names: hence the audio's veto (``spelling_verifies``).
CORROBORATES = 0.15
# A name heard with less confidence than this needs a near-perfect spelling: on the held-out
# voices, the one misheard name a spelling bore out ("Alicia Domen" for Gomez, two E-set
# rhymes, 0.1) had been heard at log-prob -0.66.
WEAK_HEARING_LOGPROB = -0.5
WEAK_HEARING_CORROBORATES = 0.05
# The spelling's audio read as the heard name's letters (``spelling_verifies``): the lowest
# log-probability of any letter (or of the name's end) that verifies the name on its own, and
# the lowest with which the transcript's letters may still bear it out. Chosen with
# benchmarks/name_capture.py on its train half of census names plus the call scripts' names:
# the fewest one-letter-apart names verified, no real mishearing verified, and no fewer right
# names verified than by the letters alone (see the module docstring for what it measured).
LETTER_FLOOR = -1.75
VETO_FLOOR = -3.25

_RHYMES = ("bcdegptvz", "mn", "fsx", "ahjk", "iy", "quw")
_CLASS = {ch: i for i, group in enumerate(_RHYMES) for ch in group}
_TOKEN = re.compile(r"[^\W\d_]+")


def spelled_letters(text: str) -> str:
    """The letters a spelling turn gives, in order: every single-letter token ("D-A-N-A",
    "D, A, N, A") and NATO word; other words ("then", "okay", "so") are not letters."""
    letters = []
    for token in _TOKEN.findall(fold(letters_as_said(text)).replace("x-ray", "xray")):
        if len(token) == 1:
            letters.append(token)
        elif token in NATO_LETTERS:
            letters.append(NATO_LETTERS[token])
    return "".join(letters)


def bears_out(distance: float, name_logprob: float | None) -> bool:
    """Whether a spelling ``distance`` from the heard name confirms it, given how confidently
    the name itself was heard (its turn's average log-probability; None: not heard)."""
    weak = name_logprob is not None and name_logprob < WEAK_HEARING_LOGPROB
    return distance <= (WEAK_HEARING_CORROBORATES if weak else CORROBORATES)


def _substitution(a: str, b: str) -> float:
    if a == b:
        return 0.0
    ca, cb = _CLASS.get(a), _CLASS.get(b)
    return RHYME_COST if ca is not None and ca == cb else 1.0


def letter_distance(name: str, letters: str) -> float:
    """How far the spelled ``letters`` are from ``name``, judged by its worst word: the cost
    of aligning that word's letters, per letter of the word (0: every letter matches; about
    1: unrelated). A wrong first name is not excused by a long right surname."""
    return max(word_distances(name, letters), default=1.0)


def word_distances(name: str, letters: str) -> list[float]:
    """Per word of ``name``: the cost of its letters in the cheapest alignment of the whole
    name with the spelled ``letters``, per letter of the word (1.0 each: nothing spelled)."""
    words = name_words(name)
    target = "".join(words)
    if not target or not letters:
        return [1.0] * len(words)
    owner = [i for i, w in enumerate(words) for _ in w]  # which word each target letter is in
    ends = {sum(len(w) for w in words[:k + 1]) for k in range(len(words) - 1)}

    def extra(i: int, letter: str) -> float:  # a letter spelled after target[:i], unmatched
        return BOUNDARY_GAP_COST if i in ends and letter in THEN_HEARD_AS else EXTRA_COST

    n, m = len(target), len(letters)
    # cost[i][j]: aligning target[:i] with letters[:j]; step[i][j]: the move that got there
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    step = [[""] * (m + 1) for _ in range(n + 1)]
    for j in range(1, m + 1):
        cost[0][j], step[0][j] = j * EXTRA_COST, "extra"
    for i in range(1, n + 1):
        cost[i][0], step[i][0] = i * GAP_COST, "dropped"
        for j in range(1, m + 1):
            cost[i][j], step[i][j] = min(
                (cost[i - 1][j - 1] + _substitution(target[i - 1], letters[j - 1]), "match"),
                (cost[i - 1][j] + GAP_COST, "dropped"),
                (cost[i][j - 1] + extra(i, letters[j - 1]), "extra"))
    per_word = [0.0] * len(words)
    i, j = n, m
    while i > 0 or j > 0:  # walk the cheapest alignment back, charging each step to a word
        word, move = owner[max(i - 1, 0)], step[i][j]
        if move == "match":
            per_word[word] += _substitution(target[i - 1], letters[j - 1])
            i, j = i - 1, j - 1
        elif move == "dropped":
            per_word[word] += GAP_COST
            i -= 1
        else:
            per_word[word] += extra(i, letters[j - 1]) if i > 0 else EXTRA_COST
            j -= 1
    return [c / len(w) for c, w in zip(per_word, words, strict=True)]


@dataclass(frozen=True)
class LetterScores:
    """The spelling's audio read as one name's letters (``pipeline/spelling_check.py``): word
    by word, each letter's log-probability, then that of the word's end (the "then" before
    the next word, the final period)."""

    name: str
    words: tuple[tuple[float, ...], ...]
    # The same audio read as each name it could be (``dialog/name_choice.py``): name -> its
    # letters' log-probabilities, word by word. The heard name is among them.
    scored: Mapping[str, tuple[tuple[float, ...], ...]] = field(default_factory=dict)
    # The names it could otherwise be are still being scored, as job ``later`` of the
    # recogniser's (``pipeline/stt.py``); None when they were scored, or need not be.
    later: int | None = None

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any]) -> LetterScores | None:
        raw = stats.get("letter_scores")
        if not isinstance(raw, Mapping):
            return None
        later = raw.get("later")
        if not raw.get("name") and isinstance(later, int):  # no name heard: scored later
            return cls("", (), {}, later)
        if not raw.get("name") or not raw.get("letters"):
            return None
        scored = raw.get("scored") if isinstance(raw.get("scored"), Mapping) else {}
        return cls(str(raw["name"]), _words(raw["letters"]),
                   {str(name): _words(words) for name, words in scored.items()},
                   later if isinstance(later, int) else None)


@dataclass(frozen=True)
class LaterChoice:
    """A heard name, spelled, that its letters alone did not bear out and whose rivals are
    still being scored: whether the spelling singles it out is decided when a booking needs
    it (``name_choice.settle_name_choice``)."""

    name: str
    letters: str  # as transcribed
    scores: LetterScores  # the heard name's own
    rivals: Awaitable[Mapping[str, Any]]  # the other names' scores, to come


def _words(raw: Any) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(x) for x in w) for w in raw)


def letters_fit(scores: LetterScores | None, name: str | None, *,
                floor: float = LETTER_FLOOR) -> bool:
    """Whether the spelling's audio, scored against this very ``name``, gives none of its
    letters (nor the end of the name, where a letter too few shows) a log-probability below
    ``floor``. The "then" between words is not judged: whisper rarely writes the "then" a
    caller says (it writes a letter for it)."""
    if scores is None or not name or fold(scores.name) != fold(name) or not scores.words:
        return False
    letters = [list(w[:-1]) for w in scores.words]
    letters[-1].append(scores.words[-1][-1])  # the final period
    return all(letters) and min(min(w) for w in letters) >= floor


def spelling_verifies(name: str, letters: str, scores: LetterScores | None,
                      name_logprob: float | None, *, letter_floor: float = LETTER_FLOOR,
                      veto_floor: float = VETO_FLOOR) -> bool:
    """Whether the caller's spelling verifies the heard ``name``: its audio, read as the
    name's letters, bears every one of them out (``letters_fit`` at ``letter_floor``); or
    the best transcript's ``letters`` are within reach of the name (``bears_out``) and the
    audio contradicts none of its letters (none below ``veto_floor``). Without the audio's
    scores (text, or a spelling heard in pieces) nothing is verified: a one-letter-apart name
    ("Hartman" for Hardman) is as close to a transcript of the letters as the right one.
    A name with a one-letter word is never verified: that is an initial heard for a name
    (Eve Shaw came through as "E-Shaw", and its spelling "E, D, E, then S, H, A, W" was
    within reach of it)."""
    words = name_words(name)
    if not words or any(len(w) < 2 for w in words):
        return False
    if not letters_fit(scores, name, floor=veto_floor):
        return False
    return letters_fit(scores, name, floor=letter_floor) or bears_out(
        letter_distance(name, letters), name_logprob)
