"""Which name did the caller spell? The spelling's audio, asked about every name it could be.

``spelling_verifies`` asks one question: does the spelling's audio bear out the name heard?
Over an 8 kHz line whisper base cannot tell most rhyming letters apart, so it seldom can
(5 of 30 rightly heard script names). A receptionist asks a different question: of the
names this could be, which one is it? The closed set here is the census lexicon
(``name_lexicon``): the heard name, the lexicon names closest to the letters the spelling
came through as (``snaps``), and, for each, its ``rivals`` (one word changed for a name a
letter or two away: Tana or Diana Smith for Dana Smith). Every one of them is scored against
the spelling's audio by forced decoding (``pipeline/spelling_check.py``): the sum of its
letters' log-probabilities. A name is taken only when

- it is a lexicon name in full (a name the census has never seen is not guessed at),
- it is the heard name or one of the snaps (so its own rivals were scored with it),
- it is the best-scoring name of all, by at least a margin (``HEARD_MARGIN`` when the name
  heard spoken is the one spelled: two hearings agree; ``SPELLED_MARGIN`` otherwise),
- and none of its letters is below ``LETTER_FLOOR`` (the audio contradicts none of them).

Otherwise nothing is chosen and the booking goes to review as before. The margins and the
floor are chosen on the train half of ``benchmarks/name_choice.py`` (census names nobody
here picked, 3 voices, clean and band+snr15 lines) and reported on its test half and on the
call scripts' names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from voice_agent.dialog.name_lexicon import NameLexicon, name_lexicon
from voice_agent.dialog.names import fold
from voice_agent.dialog.spelling import LetterScores, letter_distance, spelling_verifies
from voice_agent.dialog.state import DialogState

__all__ = [
    "NameChoice", "choose_name", "name_spelled", "names_to_score", "spelling_candidates",
    "take_spelling",
]

PRIOR_WEIGHT = 1.0  # log prior (how common the name is) against the audio's log-likelihood
HEARD_MARGIN = 2.0
SPELLED_MARGIN = 6.0
LETTER_FLOOR = -8.0
MIN_SPELLED_LETTERS = 3
MAX_SCORED = 20  # forced decodings per spelling turn (about 50 ms each on 2 idle cores)
SNAPS = 2


@dataclass(frozen=True)
class NameChoice:
    name: str
    margin: float  # its total log-probability minus the best other name's
    source: str  # "heard": the name heard spoken; "spelled": a lexicon name nearest the letters
    rival: str | None  # the best other name


def spelling_candidates(heard: str | None, letters: str, lexicon: NameLexicon) -> list[str]:
    """The names the caller may have spelled: the heard name, then the lexicon names nearest
    the letters the spelling came through as."""
    words = min(len(heard.split()), 2) if heard else 2
    snapped = lexicon.snaps(letters, words=words, limit=SNAPS)
    return list(dict.fromkeys([*([heard] if heard else []), *snapped]))


def names_to_score(candidates: Sequence[str], lexicon: NameLexicon) -> list[str]:
    """The names a spelling turn's audio is scored against: the candidates, then the rivals
    of each lexicon name among them (at most ``MAX_SCORED``)."""
    out = list(dict.fromkeys(candidates))
    for candidate in candidates:
        if lexicon.known(candidate):
            out.extend(r for r in lexicon.rivals(candidate) if r not in out)
    return out[:MAX_SCORED]


def _judged(words: Sequence[Sequence[float]]) -> list[float]:
    """The log-probabilities that count: every letter and the name's end (the final period,
    where a letter too few shows), not the "then" between words, which whisper seldom
    writes as "then" whatever the name (``spelling.letters_fit``)."""
    return [p for word in words[:-1] for p in word[:-1]] + list(words[-1]) if words else []


def _prior(lexicon: NameLexicon, name: str, rarest: float) -> float:
    """The name's log prior; a name the census lacks counts as the rarest one scored (it may
    still be what was spelled, it is only never chosen)."""
    prior = lexicon.log_prior(name)
    return rarest if prior is None else prior


def choose_name(heard: str | None, candidates: Sequence[str],
                scored: Mapping[str, Sequence[Sequence[float]]], lexicon: NameLexicon, *,
                heard_margin: float = HEARD_MARGIN, spelled_margin: float = SPELLED_MARGIN,
                letter_floor: float = LETTER_FLOOR, prior_weight: float = PRIOR_WEIGHT
                ) -> NameChoice | None:
    """The name the spelling's audio singles out among ``scored`` (name -> its letters'
    log-probabilities, word by word, each word's end last), or None. Only one of the
    ``candidates`` (``spelling_candidates``: their rivals were scored with them) is chosen."""
    judged = {name: _judged(s) for name, s in scored.items() if s and all(s)}
    rarest = min((p for n in judged if (p := lexicon.log_prior(n)) is not None), default=0.0)
    totals = {name: sum(p) + prior_weight * _prior(lexicon, name, rarest)
              for name, p in judged.items()}
    if len(totals) < 2:
        return None  # nothing to tell it apart from: no evidence either way
    ranked = sorted(totals, key=lambda n: totals[n], reverse=True)
    best, rival = ranked[0], ranked[1]
    if best not in candidates or not lexicon.known(best):
        return None  # a rival won (its own rivals were never scored), or not a known name
    if min(judged[best]) < letter_floor:
        return None
    source = "heard" if heard and fold(heard) == fold(best) else "spelled"
    margin = totals[best] - totals[rival]
    if margin < (heard_margin if source == "heard" else spelled_margin):
        return None
    return NameChoice(best, round(margin, 3), source, rival)


def name_spelled(heard: str | None, scores: LetterScores | None) -> NameChoice | None:
    """``choose_name`` over a spelling turn's scores, when the recogniser scored its audio
    against the names it could be (not in text mode, nor for a spelling heard in pieces)."""
    if scores is None or not scores.scored or not scores.candidates:
        return None
    return choose_name(heard, scores.candidates, scores.scored, name_lexicon())


def take_spelling(state: DialogState, spelled_name: str | None, letters: str) -> bool:
    """Take the caller's spelling of their name; whether the name is now verified.

    A name heard and then spelled is verified when the spelling bears it out
    (``spelling_verifies``) or when the spelling's audio singles out a census name among
    those it could be (``name_spelled``, which may correct the name heard). A name not
    caught at all is taken from the spelling: verified only when the audio singles out a
    census name; otherwise the letters as read, heard once, unverified (a review item)."""
    scores = state.letter_scores
    if not state.name:  # not caught at all: the spelling is all we have
        chosen, verified = name_spelled(None, scores), False
        state.name = chosen.name if chosen else spelled_name  # else: letters heard once
        state.spelling = {"letters": letters}
    elif len(letters) >= MIN_SPELLED_LETTERS:
        state.spelling = {"letters": letters, "distance": round(
            letter_distance(state.name, letters), 3), "audio_letters": (
            [list(w) for w in scores.words] if scores else None)}
        verified = spelling_verifies(state.name, letters, scores, state.name_logprob)
        chosen = None if verified else name_spelled(state.name, scores)
        if chosen is not None:  # the census name the spelling's audio singles out
            state.name = chosen.name
    else:
        return False
    state.spelling["chosen"] = dataclasses.asdict(chosen) if chosen else None
    state.name_spelled = verified or chosen is not None
    return state.name_spelled
