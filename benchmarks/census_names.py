"""The names ``name_capture.py`` hears: a seeded sample of the US Census 1990 name-frequency
files (``names/dist.{female,male}.first``, ``dist.all.last``), wrong names close to each one,
and the census lexicon the spelled letters can be snapped to."""

from __future__ import annotations

import random
from pathlib import Path
from typing import ClassVar

from rapidfuzz.distance import Levenshtein

from evals.runner import discover
from voice_agent.dialog.names import fold
from voice_agent.dialog.spelling import letter_distance

_RHYMES = ("bcdegptvz", "mn", "fsx", "ahjk", "iy", "quw")


def census(path: Path, top: int) -> list[str]:
    rows = path.read_text().splitlines()[:top]
    return [r.split()[0].title() for r in rows if r.strip()]


def script_names(scripts: Path) -> set[str]:
    words: set[str] = set()
    for _path, script in discover([scripts]):
        for value in [script.caller.facts.get("name", "")] + [t.say or "" for t in
                                                              script.caller.turns]:
            words.update(fold(w) for w in value.replace(",", " ").replace(".", " ").split())
        booking = script.expect.booking
        if booking is not None and booking.name:
            words.update(fold(w) for w in booking.name.split())
    return words


def pick_names(census_dir: Path, count: int, seed: int, exclude: set[str]) -> list[str]:
    rng = random.Random(seed)
    female = census(census_dir / "dist.female.first", 400)
    male = census(census_dir / "dist.male.first", 300)
    last = census(census_dir / "dist.all.last", 5000)
    names: list[str] = []
    while len(names) < count:
        first = rng.choice(female if len(names) % 2 else male)
        surname = rng.choice(last)
        if (fold(first) in exclude or fold(surname) in exclude or len(surname) < 3
                or any(n.split()[0] == first or n.split()[1] == surname for n in names)):
            continue
        names.append(f"{first} {surname}")
    return names


def rhyme_variant(word: str, rng: random.Random) -> str | None:
    """The word with one letter swapped for a rhyming one ("Dana" -> "Tana")."""
    spots = [i for i, ch in enumerate(word.lower()) if any(ch in g and len(g) > 1
                                                           for g in _RHYMES)]
    if not spots:
        return None
    i = rng.choice(spots)
    group = next(g for g in _RHYMES if word[i].lower() in g)
    new = rng.choice([c for c in group if c != word[i].lower()])
    out = word[:i] + (new.upper() if i == 0 else new) + word[i + 1:]
    return out


def confusables(name: str, firsts: list[str], lasts: list[str], rng: random.Random
                ) -> dict[str, str]:
    """Wrong names a spelling of ``name`` must not bear out, with their kind: one word changed
    to the closest census name one or two edits away ("census"), or to a one-rhyme variant
    ("rhyme": "Dana" -> "Tana", often no real name)."""
    first, last = name.split()
    out: dict[str, str] = {}
    for pool, idx in ((firsts, 0), (lasts, 1)):
        word = (first, last)[idx]
        near = sorted((w for w in pool if w.lower() != word.lower()
                       and Levenshtein.distance(w.lower(), word.lower()) <= 2),
                      key=lambda w: Levenshtein.distance(w.lower(), word.lower()))[:1]
        variant = rhyme_variant(word, rng)
        for w, kind in [*((n, "census") for n in near),
                        *([(variant, "rhyme")] if variant else [])]:
            parts = [first, last]
            parts[idx] = w
            out.setdefault(" ".join(parts), kind)
    return out


class Lexicon:
    """Census first names and surnames; ``closest`` snaps spelled letters to the nearest
    first name + surname (rhyming letters folded together, then ``letter_distance``)."""

    _FOLD: ClassVar[dict[str, str]] = {c: g[0] for g in _RHYMES for c in g}

    def __init__(self, firsts: list[str], lasts: list[str]) -> None:
        self.pools = [(firsts, [self._key(x) for x in firsts]),
                      (lasts, [self._key(x) for x in lasts])]

    @classmethod
    def _key(cls, word: str) -> str:
        return "".join(cls._FOLD.get(c, c) for c in fold(word) if c.isalpha())

    def _near(self, letters: str, pool: int, k: int = 2) -> list[str]:
        from rapidfuzz import process

        names, keys = self.pools[pool]
        return [names[i] for _, _, i in process.extract(
            self._key(letters), keys, scorer=Levenshtein.normalized_distance, limit=k)]

    def closest(self, letters: str) -> str | None:
        best: tuple[float, str] | None = None
        for cut in range(2, len(letters) - 1):
            for rest in (letters[cut:], letters[cut + 1:]):  # a "then" heard as a letter
                if len(rest) < 2:
                    continue
                for first in self._near(letters[:cut], 0):
                    for last in self._near(rest, 1):
                        d = letter_distance(f"{first} {last}", letters)
                        if best is None or d < best[0]:
                            best = (d, f"{first} {last}")
        return best[1] if best else None
