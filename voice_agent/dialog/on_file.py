"""The name on file for the caller's number: the record's spelling of a name we heard.

A receptionist with the caller's record on screen does not ask "Jon Smyth" to spell a name
the record already holds as "John Smith": they hear the name and take the record's spelling.
Over an 8 kHz line whisper writes names as it hears them ("Smyth", "Clark" for Clarke), so a
name heard that matches, word for word, a name already booked from the caller's number is
taken as the record writes it, and counts as verified (no spelling asked, no review item).

The match must be close, because a near miss is how a mishearing looks, and a household shares
a number. Each word must be equal once accents and case are folded, or one letter away as
spellings of one name are ("Jon" / "John", "Clark" / "Clarke", "Katherine" / "Catherine"; not
"Dan" / "Dana"). Words of six letters or more that sound the same (the same Metaphone key) may
be two letters away ("Sinclair" / "Sinclare"). Whisper's "Tina" for Dana is two letters away in
a short word, so it is no match and the name is spelled as usual. Exactly one record name may
match. The record's name is never said to the caller first: that would tell whoever calls
from a number the name of its owner.
"""

from __future__ import annotations

from collections.abc import Sequence

import jellyfish

from voice_agent.dialog.names import fold

__all__ = ["name_on_file"]

_LONG_WORD = 6  # letters from which a same-sounding word may be two letters off


def _words(name: str) -> list[str]:
    return [w for w in ("".join(ch for ch in fold(part) if ch.isalpha())
                        for part in name.replace("-", " ").split()) if w]


_SAME_SOUND = ({"c", "k"}, {"i", "y"}, {"s", "z"}, {"c", "s"}, {"f", "v"})


def _spelling_variant(a: str, b: str) -> bool:
    """``a`` and ``b`` one letter apart the way spellings of one name differ: a letter for
    one that sounds the same (Katherine / Catherine, Smyth / Smith), a silent h (Jon / John),
    a doubled letter (Philips / Phillips), a final e (Clark / Clarke). A vowel added at the
    end makes another name (Dan / Dana, Carl / Carla): not a variant."""
    if len(a) == len(b):
        i = next(k for k in range(len(a)) if a[k] != b[k])
        return {a[i], b[i]} in _SAME_SOUND and a[i + 1:] == b[i + 1:]
    short, long = sorted((a, b), key=len)
    if len(long) - len(short) != 1:
        return False
    i = next((k for k in range(len(short)) if short[k] != long[k]), len(short))
    if short[i:] != long[i + 1:]:
        return False
    extra = long[i]
    doubled = (i > 0 and long[i - 1] == extra) or (i + 1 < len(long) and long[i + 1] == extra)
    return extra == "h" or doubled or (extra == "e" and i == len(long) - 1)


def _same_word(heard: str, record: str) -> bool:
    if heard == record:
        return True
    if min(len(heard), len(record)) < 3:
        return False
    distance = jellyfish.levenshtein_distance(heard, record)
    if distance == 1:
        return _spelling_variant(heard, record)
    return (distance == 2 and min(len(heard), len(record)) >= _LONG_WORD
            and jellyfish.metaphone(heard) == jellyfish.metaphone(record))


def name_on_file(heard: str, on_file: Sequence[str]) -> str | None:
    """The one name in ``on_file`` that ``heard`` matches word for word, else None."""
    words = _words(heard)
    if not words:
        return None
    matches: dict[tuple[str, ...], str] = {}  # one person booked twice is one match
    for name in on_file:
        record = _words(name)
        if len(record) == len(words) and all(
                _same_word(h, r) for h, r in zip(words, record, strict=True)):
            matches.setdefault(tuple(record), name)
    return next(iter(matches.values())) if len(matches) == 1 else None
