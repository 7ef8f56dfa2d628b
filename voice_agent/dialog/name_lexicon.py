"""The names people are called: what a spelling heard badly can be matched against.

A receptionist who half-hears "D, A, N, A, then S, M, I, T, H" over a bad line still writes
Dana Smith: Dana is a name, Smith is a name, and nothing else that sounds like those letters
is. This lexicon gives the agent that prior. It is the US Census 1990 name-frequency lists
(public domain), as shipped in PyPI's ``names`` 0.3.0 package: 5,494 first names and the
40,000 most frequent of its 88,799 surnames (about 84 % of people).

Two uses (``dialog/spelling.py`` decides with them):

- ``snaps``: the lexicon names closest to the letters a spelling came through as, letters
  that rhyme ("E-set" B C D E G P T V Z, M/N, F/S/X, A/H/J/K, I/Y, Q/U/W) folded together,
  then ranked by the alignment cost ``spelling.letter_distance`` (a "then" heard as a
  letter between the words is allowed for);
- ``rivals``: names one or two letters away from a candidate, one word changed ("Dina Smith",
  "Dana Smyth"): the names the spelling's audio must tell the candidate apart from.

Pure functions over lists loaded once per process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from voice_agent.dialog.names import fold, name_words, title_word
from voice_agent.dialog.spelling import letter_distance

__all__ = ["NameLexicon", "name_lexicon"]

SURNAMES_KEPT = 40_000  # of 88,799, by frequency: the rest are one family each
RIVAL_EDITS = 2  # a rival differs from the candidate's word by at most this many letters
RIVALS_PER_WORD = 4
SNAPS_PER_PART = 8
MIN_SHARE = 0.0005
SHORTLIST = 40  # snaps ranked exactly (letter_distance is pure Python)
_RHYMES = ("bcdegptvz", "mn", "fsx", "ahjk", "iy", "quw")
_RHYME_KEY = {ch: group[0] for group in _RHYMES for ch in group}


def _census(filename: str, top: int | None = None) -> list[tuple[str, float]]:
    """(name, share of people in percent), most frequent first. The files print shares to
    three decimals; a name printed as 0.000 is given half the smallest printed share."""
    text = resources.files("names").joinpath(filename).read_text(encoding="ascii")
    rows = [(cols[0].lower(), max(float(cols[1]), MIN_SHARE)) for cols in
            (line.split() for line in text.splitlines()) if len(cols) >= 2]
    return rows[:top] if top else rows


def _rhyme_key(word: str) -> str:
    return "".join(_RHYME_KEY.get(ch, ch) for ch in word)


@dataclass(frozen=True)
class _Pool:
    words: tuple[str, ...]  # most frequent first
    keys: tuple[str, ...]  # the same words with rhyming letters folded together
    log_share: dict[str, float]  # natural log of each word's share of people

    @classmethod
    def of(cls, rows: list[tuple[str, float]]) -> _Pool:
        shares: dict[str, float] = {}
        for word, share in rows:  # a name on both lists (Jean, Jordan) keeps its larger share
            shares[word] = max(shares.get(word, 0.0), share)
        words = tuple(sorted(shares, key=lambda w: -shares[w]))
        return cls(words, tuple(_rhyme_key(w) for w in words),
                   {w: math.log(shares[w] / 100) for w in words})


class NameLexicon:
    """First names and surnames, lower case without accents, most frequent first."""

    def __init__(self, firsts: list[tuple[str, float]], lasts: list[tuple[str, float]]
                 ) -> None:
        self.firsts = _Pool.of([(fold(w), share) for w, share in firsts])
        self.lasts = _Pool.of([(fold(w), share) for w, share in lasts])

    @classmethod
    def census(cls) -> NameLexicon:
        return cls(_census("dist.female.first") + _census("dist.male.first"),
                   _census("dist.all.last", SURNAMES_KEPT))

    def _pool(self, index: int, count: int) -> _Pool:
        """First word: a first name; last word: a surname; a middle word: a first name."""
        return self.lasts if index == count - 1 and count > 1 else self.firsts

    def known(self, name: str) -> bool:
        """Every word of the name is a name in its place ("Dana Smith"; a lone word may be
        either a first name or a surname)."""
        words = name_words(name)
        if not words:
            return False
        if len(words) == 1:
            return words[0] in self.firsts.log_share or words[0] in self.lasts.log_share
        return all(w in self._pool(i, len(words)).log_share for i, w in enumerate(words))

    def log_prior(self, name: str) -> float | None:
        """How common the name is: the sum of its words' log shares of people (None: not a
        lexicon name). A receptionist's prior: Dana Smith is likelier than Tama Smith."""
        if not self.known(name):
            return None
        words = name_words(name)
        if len(words) == 1:
            return max(self.firsts.log_share.get(words[0], -99.0),
                       self.lasts.log_share.get(words[0], -99.0))
        return sum(self._pool(i, len(words)).log_share[w] for i, w in enumerate(words))

    def rivals(self, name: str) -> list[str]:
        """Names one word away: that word swapped for a lexicon word at most ``RIVAL_EDITS``
        letters from it. Per word, ``RIVALS_PER_WORD`` of them, half the most confusable
        (fewest letters apart once rhymes are folded together: Tana for Dana) and half the
        most common (Reid for Reed): the rivals a spelling's audio may prefer, and those
        the prior does."""
        words = name_words(name)
        out: list[str] = []
        for i, word in enumerate(words):
            if not word:
                continue
            pool = self._pool(i, len(words))
            near = [m for m in process.extract(word, pool.words, scorer=Levenshtein.distance,
                                               score_cutoff=RIVAL_EDITS, limit=None)
                    if m[0] != word]
            key = _rhyme_key(word)
            confusable = sorted(near, key=lambda m: (
                Levenshtein.distance(pool.keys[m[2]], key), m[1], m[2]))
            common = sorted(near, key=lambda m: (m[1], m[2]))  # words are most frequent first
            picked: list[str] = []
            for ranked in (confusable, common):
                fresh = [m[0] for m in ranked if m[0] not in picked]
                picked.extend(fresh[:RIVALS_PER_WORD // 2])
            out.extend(" ".join(title_word(other) if j == i else title_word(w)
                                for j, w in enumerate(words)) for other in picked)
        return out

    def _near(self, letters: str, pool: _Pool) -> list[tuple[str, float]]:
        """The pool's words closest to the letters, rhymes folded: (word, letters apart)."""
        matches = process.extract(_rhyme_key(letters), pool.keys,
                                  scorer=Levenshtein.distance, limit=SNAPS_PER_PART)
        return [(pool.words[index], dist) for _key, dist, index in matches]

    def snaps(self, letters: str, words: int = 2, limit: int = 3) -> list[str]:
        """The lexicon names (``words`` words: 1 or 2) closest to the spelled ``letters``,
        best first: the nearest by folded letters, then ranked by ``letter_distance``."""
        letters = "".join(ch for ch in fold(letters) if ch.isalpha())
        if len(letters) < 2:
            return []
        rough: dict[str, float] = {}
        if words == 1:
            for pool in (self.firsts, self.lasts):
                for word, dist in self._near(letters, pool):
                    rough.setdefault(title_word(word), dist / len(word))
        else:
            for cut in range(2, len(letters) - 1):
                firsts = self._near(letters[:cut], self.firsts)
                for rest in (letters[cut:], letters[cut + 1:]):  # "then" heard as a letter
                    if len(rest) < 2:
                        continue
                    for last, d_last in self._near(rest, self.lasts):
                        for first, d_first in firsts:
                            name = f"{title_word(first)} {title_word(last)}"
                            apart = max(d_first / len(first), d_last / len(last))
                            rough[name] = min(rough.get(name, 99.0), apart)
        shortlist = sorted(rough, key=lambda n: rough[n])[:SHORTLIST]
        exact = {name: letter_distance(name, letters) for name in shortlist}
        return sorted(shortlist, key=lambda n: exact[n])[:limit]


@cache
def name_lexicon() -> NameLexicon:
    """The census lexicon, loaded once per process (about 0.1 s)."""
    return NameLexicon.census()
