"""Which name did the caller spell: the census lexicon's answer, measured on names we did not
pick (``voice_agent/dialog/name_choice.py``).

**Names**: the same 60 census names as ``name_capture.py`` (seed 2026; first names from the top
400 female / 300 male, surnames from the top 5,000; none from our call scripts), alternating
between a **train** half (where ``--tune`` picks the margins and the floor) and a **test**
half; and the call scripts' own names (``--scripts``: what the audio evals will get; a name
the census lacks, such as Łukasz Wójcik, is in it too).

**Audio**: as ``name_capture.py`` (it shares its cache under ``var/name-capture/``): each
name said ("Dana Smith.") and spelled ("D, A, N, A, then S, M, I, T, H") by the eval's caller
voices over its lines, through G.711 μ-law, transcribed by the production ``transcribe`` with
the dialog's listening prompts; then the spelling's audio is scored, by forced decoding,
against exactly the names the agent scores (``names_to_score``: the heard name, the lexicon
names nearest the spelled letters, and their rivals).

**Scores**, per voice and line: names heard right; then per rule: names verified right and
**wrong** (a name written that is not the caller's), for ``spelling_verifies`` (the agent
before) and ``spelling_verifies`` or ``choose_name`` (after); and, not in the agent yet, a
**snap** column: after, or else a census name nearest the spelled letters that shares a word
with the heard name ("Emily Quart" heard, "E, M, I, L, Y, M, C, L, A, R, K, E" spelled:
Emily Clarke) and that ``choose_name`` singles out as if it had been heard (its rivals are
scored too). It measures; it asserts nothing.

    .venv/bin/python benchmarks/name_choice.py --tune
    .venv/bin/python benchmarks/name_choice.py --scripts --voices piper,piper-high
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))  # run as a script or imported
from census_names import pick_names, script_names
from name_capture import (
    CACHE,
    NAME_QUESTION,
    SPELL_QUESTION,
    Ear,
    Store,
    line_audio,
    voice_for,
)

from connectors.schedule import load_businesses
from evals.runner import discover
from evals.simulator.caller_policy import spell
from voice_agent.config import REPO_ROOT, Settings
from voice_agent.dialog import name_choice as name_choice_module
from voice_agent.dialog.listening import listening_prompt
from voice_agent.dialog.name_choice import (
    HEARD_MARGIN,
    LETTER_FLOOR,
    MAX_LETTER_DISTANCE,
    PRIOR_WEIGHT,
    SNAPS,
    NameChoice,
    choose_name,
    names_to_score,
)
from voice_agent.dialog.name_lexicon import name_lexicon
from voice_agent.dialog.names import fold, name_words
from voice_agent.dialog.spelling import LetterScores, spelled_letters, spelling_verifies
from voice_agent.dialog.understanding import understand


@dataclass
class Sample:
    name: str
    voice: str
    line: str
    half: str
    heard_name: str | None = None
    heard_logprob: float | None = None
    letters: str = ""
    scored: dict[str, list[list[float]]] = field(default_factory=dict)

    @property
    def heard_right(self) -> bool:
        return self.heard_name is not None and fold(self.heard_name) == fold(self.name)


def script_full_names(scripts: Path) -> list[str]:
    names: list[str] = []
    for _path, script in discover([scripts]):
        for name in (script.caller.facts.get("name"),
                     script.expect.booking.name if script.expect.booking else None):
            if name and len(name.split()) >= 2 and name not in names:
                names.append(name)
    return names


def collect(names: list[str], voices: list[str], lines: list[str], *, halves: bool,
            cached_only: bool = False) -> list[Sample]:
    salon = load_businesses(Settings().businesses_dir)["demo-salon"]
    name_listening = listening_prompt(salon, "name", NAME_QUESTION)
    spell_listening = listening_prompt(salon, "spell", SPELL_QUESTION)
    store = Store(CACHE / "heard.json", cached_only=cached_only)
    lexicon = name_lexicon()
    ear: Ear | None = None
    today = date(2026, 11, 23)
    samples: list[Sample] = []
    for voice_name in voices:
        voice = voice_for(voice_name)
        for line in lines:
            for i, name in enumerate(names):
                half = ("train" if i % 2 == 0 else "test") if halves else "scripts"
                s = Sample(name, voice_name, line, half)
                base = f"{voice_name}|{line}|{name}"
                if cached_only and f"{base}|spell" not in store.data:
                    continue
                name_pcm = line_audio(voice_name, voice, line, f"{name}.")
                spell_pcm = line_audio(voice_name, voice, line, spell(name))

                def the_ear() -> Ear:
                    nonlocal ear
                    ear = ear or Ear()
                    return ear

                heard_text, stats = store.get(base + "|name", lambda p=name_pcm: the_ear()
                                              .transcribe(p, name_listening.prompt,
                                                          name_listening.examples))
                s.heard_logprob = stats.get("avg_logprob")
                s.heard_name = understand(heard_text, salon, today, asked="name").name
                spell_text, _ = store.get(base + "|spell", lambda p=spell_pcm: the_ear()
                                          .transcribe(p, spell_listening.prompt, ()))
                s.letters = spelled_letters(spell_text)
                wanted = names_to_score(s.heard_name, s.letters, lexicon, max_distance=None
                                        ) if s.heard_name else []
                for snap in agreeing_snaps(s.heard_name, s.letters):
                    wanted += [snap, *lexicon.rivals(snap)]
                wanted = list(dict.fromkeys(wanted))
                scored = store.letter_scores(base, wanted, lambda m, p=spell_pcm: the_ear(
                    ).letters(p, spell_listening.prompt, m))
                if scored is None:
                    continue
                s.scored = scored
                samples.append(s)
                print(f"{len(samples)} {base}: heard {s.heard_name!r}, letters {s.letters!r}",
                      file=sys.stderr, flush=True)
            store.save()
    store.save()
    return samples


# The grid search asks the same questions many times: letter_distance is pure.
name_choice_module.letter_distance = functools.lru_cache(maxsize=None)(
    name_choice_module.letter_distance)
_BEFORE: dict[int, str | None] = {}


def verdict_before(s: Sample) -> str | None:
    if id(s) not in _BEFORE:
        _BEFORE[id(s)] = _verdict_before(s)
    return _BEFORE[id(s)]


def _verdict_before(s: Sample) -> str | None:
    """The name the agent writes unreviewed before: the heard one, when the spelling verifies
    it (``spelling_verifies``)."""
    if not s.heard_name or s.heard_name not in s.scored:
        return None
    scores = LetterScores(s.heard_name, tuple(tuple(w) for w in s.scored[s.heard_name]))
    return s.heard_name if spelling_verifies(s.heard_name, s.letters, scores,
                                             s.heard_logprob) else None


def choice(s: Sample, **kw: float) -> NameChoice | None:
    if not s.heard_name:
        return None
    return choose_name(s.heard_name, s.letters, s.scored, name_lexicon(), **kw)


def verdict_after(s: Sample, **kw: float) -> str | None:
    found = choice(s, **kw)
    return verdict_before(s) or (found.name if found else None)


def agreeing_snaps(heard: str | None, letters: str) -> list[str]:
    """The census names nearest the spelled letters that share a word, in its place, with
    the heard name (and are not it): the spelling and the hearing agree on part of it."""
    if not heard:
        return []
    words = name_words(heard)
    snaps = name_lexicon().snaps(letters, words=min(len(words), 2), limit=SNAPS)
    return [n for n in snaps if fold(n) != fold(heard) and len(name_words(n)) == len(words)
            and any(a == b for a, b in zip(name_words(n), words, strict=True))]


def verdict_snap(s: Sample, **kw: float) -> str | None:
    after = verdict_after(s, **kw)
    if after:
        return after
    for snap in agreeing_snaps(s.heard_name, s.letters):
        if snap in s.scored:
            found = choose_name(snap, s.letters, s.scored, name_lexicon(), **kw)
            if found:
                return found.name
    return None


def counts(samples: list[Sample], **kw: float) -> dict[str, dict[str, int]]:
    by: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s in samples:
        for key in (f"{s.voice}/{s.line}", "all"):
            c = by[key]
            c["samples"] += 1
            c["heard_right"] += s.heard_right
            for label, got in (("before", verdict_before(s)), ("after", verdict_after(s, **kw)),
                               ("snap", verdict_snap(s, **kw))):
                c[f"{label}_right"] += got is not None and fold(got) == fold(s.name)
                c[f"{label}_wrong"] += got is not None and fold(got) != fold(s.name)
    return {k: dict(v) for k, v in by.items()}


def tune(samples: list[Sample]) -> dict[str, float]:
    """The margins and floor writing the most right names with no wrong one."""
    best: tuple[int, float, dict[str, float]] | None = None
    for heard, floor, prior, dist in itertools.product(
            (1.0, 1.5, 2.0, 3.0, 4.0), (-6.0, -8.0, -99.0), (0.0, 0.5, 1.0),
            (0.4, 0.5, 0.6, 0.8, 99.0)):
        kw = {"heard_margin": heard, "letter_floor": floor, "prior_weight": prior,
              "max_distance": dist}
        c = counts(samples, **kw)["all"]
        if c["after_wrong"] > c["before_wrong"]:
            continue
        key = (c["after_right"], heard + floor - dist)  # ties: the most cautious
        if best is None or key > best[:2]:
            best = (*key, kw)
    assert best is not None
    return best[2]


def table(samples: list[Sample], title: str, **kw: float) -> dict[str, Any]:
    by = counts(samples, **kw)
    print(f"\n== {title}: {len(samples)} samples ({kw})")
    print(f"{'voice/line':22s} {'heard':>8s} {'before right/wrong':>19s} "
          f"{'after right/wrong':>18s} {'snap right/wrong':>17s}")
    for key, c in sorted(by.items(), key=lambda kv: kv[0] == "all"):
        print(f"{key:22s} {c['heard_right']:3d}/{c['samples']:<4d} {c['before_right']:10d}/"
              f"{c['before_wrong']:<8d} {c['after_right']:9d}/{c['after_wrong']:<8d} "
              f"{c['snap_right']:8d}/{c['snap_wrong']:<8d}")
    return by


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=60)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--voices", default="piper,piper-high,espeak-f")
    ap.add_argument("--lines", default="clean,band+snr15")
    ap.add_argument("--scripts", action="store_true", help="the call scripts' names instead")
    ap.add_argument("--every", type=int, default=1,
                    help="with --scripts: every Nth of the scripts' names (in script order)")
    ap.add_argument("--tune", action="store_true", help="choose margins on the train half")
    ap.add_argument("--cached-only", action="store_true",
                    help="score what is cached; hear nothing new (no model loaded)")
    ap.add_argument("--out", type=Path, default=CACHE / "name-choice.json")
    args = ap.parse_args()
    voices, lines = args.voices.split(","), args.lines.split(",")
    prod = {"heard_margin": HEARD_MARGIN, "letter_floor": LETTER_FLOOR,
            "prior_weight": PRIOR_WEIGHT, "max_distance": MAX_LETTER_DISTANCE}
    out: dict[str, Any] = {"production": prod}
    if args.scripts:
        names = script_full_names(REPO_ROOT / "evals" / "calls")[::args.every]
        samples = collect(names, voices, lines, halves=False, cached_only=args.cached_only)
        out["names"] = names
        out["scripts"] = table(samples, "call scripts' names", **prod)
    else:
        census_dir = Path(str(resources.files("names")))
        names = pick_names(census_dir, args.count, args.seed,
                           script_names(REPO_ROOT / "evals" / "calls"))
        samples = collect(names, voices, lines, halves=True, cached_only=args.cached_only)
        train = [s for s in samples if s.half == "train"]
        test = [s for s in samples if s.half == "test"]
        tuned = tune(train) if args.tune else prod
        out |= {"names": names, "tuned": tuned,
                "train": table(train, "train half", **tuned),
                "test": table(test, "test half (reported)", **tuned)}
        if tuned != prod:
            out["test_production"] = table(test, "test half, production values", **prod)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
