"""Does the spelling single out the name heard, among every name it could be?

``spelling_verifies`` asks whether the spelling's audio bears out the heard name letter by
letter. Over an 8 kHz line whisper base cannot tell most rhyming letters apart, so it
seldom does (1 of 37 rightly heard census names on the benchmark below). A receptionist asks
a different question: of the names this could be, is it the one I heard? The closed set is
the census lexicon (``name_lexicon``): the heard name's ``rivals`` (one word changed for a
census name a letter or two away: Tana, Zana or Tama Smith for Dana Smith) and the census
names nearest the letters the spelling came through as (``snaps``). Each is scored against
the spelling's audio by forced decoding (``pipeline/spelling_check.py``): its letters'
log-likelihood (the "then" between words aside, as in ``spelling.letters_fit``) plus its
log share of people (``NameLexicon.log_prior``: Dana is likelier than Tama). The heard name
is taken when

- it is a census name in full (a name the census has never seen is not guessed at),
- it scores best of all, by at least ``HEARD_MARGIN``: two hearings, the name said and the
  letters spelled, agree, and no near name fits the letters as well,
- none of its letters is below ``LETTER_FLOOR``, and its median letter is not below
  ``MEDIAN_LETTER_FLOOR`` (most of its letters fit the audio, not only better than its
  neighbours'),
- and the letters as transcribed are within ``MAX_LETTER_DISTANCE`` of it
  (``spelling.letter_distance``): the scored set is closed, the caller's name need not be
  in it, and a heard name far from what the transcript spelled ("John White" for the
  letters of Weiss) is refused however it compares with its neighbours.

By this rule only the heard name is taken: a name the spelling alone points to (a snap
beating the heard name) was wrong as often as right on the benchmark (the caller's name was
often not among the names scored). A second hearing settles more: ``choose_joint`` scores
every candidate on the name said too (its words on the caller's answer to "your name?") and
takes the name both hearings point to, when it also sounds like what whisper wrote there
and no sound-alike (a name the census may lack) fits as well (``benchmarks/name_joint.py``).

The names other than the heard one cost a forced decoding each (about 0.1 s of 2 cores)
and only a booking needs the answer, so the recogniser scores them in the background while
the agent replies; the booking waits for them (``settle_name_choice``), usually a turn or
more later, when they are long done. They are not scored at all when the heard name could
not be taken whatever they scored (``names_to_score``, ``above_floor``).

Measured with ``benchmarks/name_choice.py`` on 60 census names nobody here picked (3 caller
voices x clean and band+snr15 lines, 360 spellings; the result is stored in
``evals/results/name-choice-census60-3voices-2lines.json``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from voice_agent.dialog.name_lexicon import NameLexicon, name_lexicon
from voice_agent.dialog.names import fold, name_words, title_word
from voice_agent.dialog.spelling import (
    LaterChoice,
    LetterScores,
    letter_distance,
    spelling_verifies,
)
from voice_agent.dialog.state import DialogState

# Where the recogniser puts the name clip's scores among the rivals' letters
# (``pipeline/spelling_check.joint_evidence``): no name holds a NUL.
JOINT_KEY = "\0joint"

__all__ = ["JOINT", "NameChoice", "above_floor", "choose_joint", "choose_name",
           "dropped_letter_alikes", "joint_candidates", "name_spelled", "names_to_score",
           "rivals_of_pick", "settle_if_scored", "settle_name_choice", "sound_alikes",
           "spelling_events", "take_spelling"]

# The log prior against the audio's log-likelihood: 1 is the posterior. On the benchmark's
# train half 0.5 verified one name more (7 against 6), on its test half 1 did (10 against 9);
# neither wrote a wrong name.
PRIOR_WEIGHT = 1.0
HEARD_MARGIN = 2.0
LETTER_FLOOR = -8.0
# Most of the heard name's letters must fit the audio, not only better than its neighbours':
# the median letter at least this. Set when the census test half wrote one wrong name (Jan
# Graves heard as James Green, whose letters' median was -3.2: the caller's name was not
# among those scored, and all of them fitted as badly); every rightly chosen name had a
# median of -1.33 or more.
MEDIAN_LETTER_FLOOR = -2.0
MAX_LETTER_DISTANCE = 0.6
MIN_SPELLED_LETTERS = 3
MAX_SCORED = 12  # forced decodings per spelling turn (about 0.1 s each on 2 idle cores)
RIVALS_WAIT_S = 5.0  # a booking waits this long at most for a spelled name's rivals' scores
SNAPS = 2


@dataclass(frozen=True)
class NameChoice:
    name: str
    margin: float  # its score minus the best other name's
    rival: str  # the best other name


def names_to_score(heard: str, letters: str, lexicon: NameLexicon, *,
                   max_distance: float | None = MAX_LETTER_DISTANCE) -> list[str]:
    """The names a spelling turn's audio is scored against: the heard name first, then the
    census names nearest the spelled letters, then the heard name's rivals.

    Only the heard name (whose own letters ``spelling_verifies`` still reads) when
    ``choose_name`` would refuse it whatever the scores: not a census name, or the letters
    as transcribed further from it than ``max_distance``. Each name scored costs a forced
    decoding on the caller's reply path (about 0.1 s on 2 cores)."""
    if not lexicon.known(heard) or (
            max_distance is not None and letter_distance(heard, letters) > max_distance):
        return [heard]  # never taken: scoring rivals would prove nothing
    words = min(len(heard.split()), 2)
    out = [heard, *lexicon.snaps(letters, words=words, limit=SNAPS), *lexicon.rivals(heard)]
    return list(dict.fromkeys(out))[:MAX_SCORED]


def _judged(words: Sequence[Sequence[float]]) -> list[float]:
    """The log-probabilities that count: every letter and the name's end (the final period,
    where a letter too few shows), not the "then" between words, which whisper seldom writes
    as "then" whatever the name."""
    return [p for word in words[:-1] for p in word[:-1]] + list(words[-1]) if words else []


def above_floor(words: Sequence[Sequence[float]], letter_floor: float = LETTER_FLOOR) -> bool:
    """Whether none of a name's judged letters is below the floor: ``choose_name`` refuses
    a heard name that is not, so its rivals need not be scored."""
    judged = _judged(words)
    return bool(judged) and min(judged) >= letter_floor


def choose_name(heard: str, letters: str, scored: Mapping[str, Sequence[Sequence[float]]],
                lexicon: NameLexicon, *, heard_margin: float = HEARD_MARGIN,
                letter_floor: float = LETTER_FLOOR, prior_weight: float = PRIOR_WEIGHT,
                max_distance: float = MAX_LETTER_DISTANCE,
                median_floor: float = MEDIAN_LETTER_FLOOR) -> NameChoice | None:
    """The heard name, when the spelling's audio singles it out among ``scored`` (name ->
    its letters' log-probabilities, word by word, each word's end last); else None."""
    if heard not in scored or not lexicon.known(heard):
        return None
    judged = {name: _judged(s) for name, s in scored.items() if s and all(s)}
    priors = {name: lexicon.log_prior(name) for name in judged}
    rarest = min((p for p in priors.values() if p is not None), default=0.0)
    totals = {name: sum(p) + prior_weight * (rarest if priors[name] is None else priors[name])
              for name, p in judged.items()}
    others = [name for name in totals if fold(name) != fold(heard)]
    if heard not in totals or not others:
        return None  # nothing to tell it apart from: no evidence either way
    rival = max(others, key=lambda n: totals[n])
    margin = totals[heard] - totals[rival]
    if (margin < heard_margin or min(judged[heard]) < letter_floor
            or statistics.median(judged[heard]) < median_floor
            or letter_distance(heard, letters) > max_distance):
        return None
    return NameChoice(heard, round(margin, 3), rival)


# The joint rule's thresholds (``choose_joint``): on ``benchmarks/name_joint.py``'s grid, the
# most names written with none wrong on the call scripts' names and the census train half
# (35 against 18 before); the census test half then got 8 right, 0 wrong (3 before). A
# said weight of 1, or a name gap of -4, wrote wrong names there (Mclain as McLean: the name
# clip prefers the commoner spelling of the same sound, so it weighs half, and only names
# that sound like what whisper wrote are taken). A sound-alike within 2 of the pick is a
# name we cannot tell it from (Poppy for Bobby: cost 1 right name on the train half).
JOINT: dict[str, float] = {"margin": 6.0, "name_gap": -2.0, "median_floor": -2.0,
                           "max_distance": 0.6, "said_weight": 0.5, "alike_margin": 2.0}
JOINT_SNAPS = 4
JOINT_MAX = 16


def joint_candidates(heard: str | None, heard_text: str, letters: str, lexicon: NameLexicon,
                     also: str = "") -> list[str]:
    """The names both hearings are scored against: the census names nearest the spelled
    letters (and nearest ``also``, the same audio read as letters only), the heard name's
    rivals (one word a letter or two away: "Ben Carter" for "Then Carter"), and the rivals
    of the nearest census name; the heard name first."""
    out: list[str] = [heard] if heard else []
    snaps = lexicon.snaps(letters, words=2, limit=JOINT_SNAPS) if len(letters) >= 4 else []
    if len(also) >= 4 and also != letters:
        snaps = list(dict.fromkeys(
            n for pair in itertools.zip_longest(
                snaps, lexicon.snaps(also, words=2, limit=JOINT_SNAPS)) for n in pair if n))
    out += snaps
    if heard and len(name_words(heard)) == 2:
        out += lexicon.rivals(heard)
    if snaps:
        out += lexicon.rivals(snaps[0])
    return list(dict.fromkeys(n for n in out if len(name_words(n)) == 2))[:JOINT_MAX]


# Letters that sound alike both spelled ("B" / "P") and said ("Bobby" / "Poppy") over a phone
# line: a name the census lacks may differ from a census name only in these.
_SOUND_ALIKE = {"b": "pdv", "p": "bt", "d": "bt", "t": "dp", "v": "bf", "f": "vs", "s": "fz",
                "z": "s", "m": "n", "n": "m", "g": "j", "j": "g", "c": "k", "k": "c"}
SOUND_ALIKES = 8


def sound_alikes(name: str, limit: int = SOUND_ALIKES) -> list[str]:
    """Names that differ from ``name`` in one letter swapped throughout a word for one that
    sounds like it (Poppy Lane for Bobby Land), census names or not: the closed set's blind
    spot, scored beside the joint choice (``choose_joint``'s ``alikes``)."""
    words = name_words(name)
    out: list[str] = []
    for i, word in enumerate(words):
        for ch in dict.fromkeys(word):
            for other in _SOUND_ALIKE.get(ch, ""):
                swapped = word.replace(ch, other)
                out.append(" ".join(title_word(swapped) if j == i else title_word(w)
                                    for j, w in enumerate(words)))
    # Alternate between the words so that both are covered within ``limit``.
    by_word: list[list[str]] = [[] for _ in words]
    for n in dict.fromkeys(out):
        k = next(j for j, (a, b) in enumerate(zip(name_words(n), words, strict=True)) if a != b)
        by_word[k].append(n)
    mixed = [n for group in itertools.zip_longest(*by_word) for n in group if n]
    return mixed[:limit]


def dropped_letter_alikes(name: str, letters: str) -> list[str]:
    """Names that have one more letter inside a word of ``name`` where the spelling heard one
    it lacks, as that letter or one that sounds like it: "I, F, L, A" for "Ila" also makes
    Ifla, Isla, Ixla. A caller's letter lost from the pick (Isla Morgan written as the census
    name Ila Morgan, 2026-12-04 audio run) is then a rival the pick must beat on both clips.
    Letters heard at a word's edge are left out: a "then" often comes through as one."""
    words = name_words(name)
    starts = list(itertools.accumulate([0, *(len(w) for w in words)]))
    out: list[str] = []
    for tag, i1, _i2, j1, _j2 in Levenshtein.opcodes("".join(words), letters):
        if tag != "insert":
            continue
        k = next((k for k in range(len(words)) if starts[k] < i1 < starts[k + 1]), None)
        if k is None:
            continue
        at, heard = i1 - starts[k], letters[j1]
        for ch in dict.fromkeys(heard + _SOUND_ALIKE.get(heard, "")):
            grown = words[k][:at] + ch + words[k][at:]
            out.append(" ".join(title_word(grown) if j == k else title_word(w)
                                for j, w in enumerate(words)))
    return list(dict.fromkeys(out))


def rivals_of_pick(name: str, letters: str, also: str = "") -> list[str]:
    """What a joint pick is scored against besides the candidates: its sound-alikes and the
    names with a letter the spelling heard (read either way) that it lacks."""
    return list(dict.fromkeys([*sound_alikes(name), *dropped_letter_alikes(name, letters),
                               *(dropped_letter_alikes(name, also) if also else [])]))


def choose_joint(letters: str, spelled: Mapping[str, Sequence[Sequence[float]]],
                 said: Mapping[str, float], said_free: float, lexicon: NameLexicon, *,
                 margin: float = JOINT["margin"], name_gap: float = JOINT["name_gap"],
                 median_floor: float = JOINT["median_floor"],
                 max_distance: float = JOINT["max_distance"],
                 said_weight: float = JOINT["said_weight"],
                 letter_floor: float = LETTER_FLOOR,
                 alikes: Mapping[str, tuple[Sequence[Sequence[float]], float]] | None = None,
                 alike_margin: float = JOINT["alike_margin"], also: str = ""
                 ) -> NameChoice | None:
    """The census name both hearings point to, or None.

    Each candidate's score is its letters' log-likelihood on the spelling's audio, plus its
    words' on the name's audio (``said``, weighted), plus its census prior (a name the census
    lacks gets the rarest prior and stays in as a rival: a caller called Łukasz Wójcik, heard
    right, is not replaced by a census name). The best is taken when it is a census name,
    leads every other by ``margin``, its letters fit (none below ``letter_floor``, median
    not below ``median_floor``, the transcribed letters within ``max_distance``), and its
    words fit the name's audio within ``name_gap`` of what whisper wrote there; and, when
    ``alikes`` are given (its ``sound_alikes``: name -> its letters' and its words'
    scores), none of them fits the two clips' audio within ``alike_margin`` of it (prior
    aside: the caller may be called Poppy, whom the census does not know). ``also``: the
    spelling read as letters only (``spelling_check.letters_only``), a second reading the
    pick's letters may be within ``max_distance`` of instead."""
    judged = {n: _judged(s) for n, s in spelled.items() if s and all(s) and n in said}
    if len(judged) < 2:
        return None
    priors = {n: lexicon.log_prior(n) for n in judged}
    rarest = min((p for p in priors.values() if p is not None), default=0.0)
    totals = {n: sum(p) + said_weight * said[n] + (rarest if priors[n] is None else priors[n])
              for n, p in judged.items()}
    best = max(totals, key=lambda n: totals[n])
    others = [n for n in totals if fold(n) != fold(best)]
    if priors[best] is None or not others:
        return None
    rival = max(others, key=lambda n: totals[n])
    lead = totals[best] - totals[rival]
    if (lead < margin or min(judged[best]) < letter_floor
            or statistics.median(judged[best]) < median_floor
            or said[best] - said_free < name_gap
            or min(letter_distance(best, letters), letter_distance(best, also or letters))
            > max_distance):
        return None
    audio = sum(judged[best]) + said_weight * said[best]
    for name, (letters_of, said_of) in (alikes or {}).items():
        if (fold(name) != fold(best) and letters_of and all(letters_of)
                and sum(_judged(letters_of)) + said_weight * said_of > audio - alike_margin):
            return None
    return NameChoice(best, round(lead, 3), rival)


def name_spelled(heard: str | None, letters: str, scores: LetterScores | None
                 ) -> NameChoice | None:
    """``choose_name`` over a spelling turn's scores, when the recogniser scored its audio
    against the names it could be (not in text mode, nor for a spelling heard in pieces)."""
    if not heard or scores is None or not scores.scored or fold(scores.name) != fold(heard):
        return None
    return choose_name(heard, letters, scores.scored, name_lexicon())


def take_spelling(state: DialogState, spelled_name: str | None, letters: str) -> bool:
    """Take the caller's spelling of their name; whether the name is now verified.

    A name heard and then spelled is verified when the spelling bears it out letter by letter
    (``spelling_verifies``) or singles it out among the names it could be (``name_spelled``).
    A name not caught at all is taken from the spelling, heard once: unverified (a review
    item), as is a heard name the spelling does neither for. When the names it could
    otherwise be are still being scored (``LetterScores.later``), the choice among them is
    left to the booking (``settle_name_choice``)."""
    scores, state.later_choice = state.letter_scores, None  # this spelling's, not an earlier
    rivals = state.name_rivals
    if not state.name:
        state.name = spelled_name
        if spelled_name and scores and rivals and rivals[0] == scores.later:
            # Both hearings are still being weighed (``choose_joint``): the name said,
            # though no name was made of it, and the letters.
            state.later_choice = LaterChoice(spelled_name, letters, scores, rivals[1])
        return False
    if len(letters) < MIN_SPELLED_LETTERS:
        return False
    state.spelling = {"letters": letters, "distance": round(
        letter_distance(state.name, letters), 3), "audio_letters": (
        [list(w) for w in scores.words] if scores else None)}
    verified = spelling_verifies(state.name, letters, scores, state.name_logprob)
    chosen = None if verified else name_spelled(state.name, letters, scores)
    state.spelling["chosen"] = dataclasses.asdict(chosen) if chosen else None
    state.name_spelled = verified or chosen is not None
    if not state.name_spelled and scores and rivals and rivals[0] == scores.later:
        state.later_choice = LaterChoice(state.name, letters, scores, rivals[1])
    return state.name_spelled


def spelling_events(state: DialogState) -> list[dict[str, object]]:
    """The spelling turn's event for its turn row: the letters, their scores, the choice."""
    if state.spelling is None:
        return []
    return [{"event": "name_spelling", "verified": state.name_spelled,
             "choice_later": state.later_choice is not None, **state.spelling}]


async def settle_name_choice(state: DialogState, wait_s: float | None = None, *,
                             rename: bool = False) -> dict[str, object] | None:
    """Decide the choice the spelling left to the booking (``take_spelling``): wait (at most
    ``wait_s``, else ``RIVALS_WAIT_S``) for its rivals' scores and take the heard name if
    they single it out; else, when both hearings were scored (``JOINT_KEY``), the name they
    point to (``choose_joint``). A name other than the one held is taken only with
    ``rename`` (before it is read back to the caller: the caller confirms what is booked);
    after, it is only noted. The event for the turn row, or None when there was no choice."""
    later, state.later_choice = state.later_choice, None
    if later is None:
        return None
    t0 = time.monotonic()
    try:
        rivals = dict(await asyncio.wait_for(asyncio.shield(later.rivals),
                                             RIVALS_WAIT_S if wait_s is None else wait_s))
    except Exception as exc:  # slow or failed: the booking goes ahead unverified (review)
        return {"event": "name_choice", "chosen": None, "error": type(exc).__name__}
    joint = rivals.pop(JOINT_KEY, None)
    event: dict[str, object] = {"event": "name_choice", "scored": 1 + len(rivals),
                                "waited_s": round(time.monotonic() - t0, 3)}
    if fold(state.name or "") != fold(later.name) or state.name_spelled:
        return {**event, "chosen": None, "superseded": True}  # the name changed meanwhile
    scores = dataclasses.replace(later.scores, scored={
        **later.scores.scored, **{n: tuple(map(tuple, w)) for n, w in rivals.items()}})
    chosen = name_spelled(later.name, later.letters, scores)
    if chosen is None and isinstance(joint, Mapping):
        pick = choose_joint(later.letters, scores.scored, joint["said"], joint["said_free"],
                            name_lexicon(), alikes=joint["alikes"],
                            also=str(joint.get("letters_only", "")))
        event["rule"] = "joint"
        if pick is not None and not rename and fold(pick.name) != fold(later.name):
            event["not_read_back"] = dataclasses.asdict(pick)  # too late to ask: review
        elif pick is not None:
            chosen, state.name = pick, pick.name
    state.name_spelled = chosen is not None
    if state.spelling is not None:
        state.spelling["chosen"] = dataclasses.asdict(chosen) if chosen else None
    return {**event, "chosen": dataclasses.asdict(chosen) if chosen else None}


async def settle_if_scored(state: DialogState) -> dict[str, object] | None:
    """``settle_name_choice`` now, renaming, when the spelling's rivals are already scored
    (at the start of a turn: so that the name read back for confirmation is the chosen
    one); None, leaving the choice to the booking, while they are not."""
    later = state.later_choice
    done = getattr(later.rivals, "done", None) if later is not None else None
    if later is None or done is None or not done():
        return None
    # Once the booking has been read back ("So that's ... for Bbn Carter?"), too late.
    return await settle_name_choice(state, 0.0, rename=state.asked != "confirm")
