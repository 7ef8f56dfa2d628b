"""Two hearings of one name: the name said and the name spelled, each scored against the same
closed set of census names (``voice_agent/dialog/name_choice.py`` ``choose_joint``).

``name_choice.py`` takes only the name whisper wrote for the caller's "Dana Smith." and asks
the spelling's audio to single it out. Whisper base writes a census name right about one time
in ten over these lines (``name-capture-census60``), so most spellings are never given the
chance. A receptionist weighs both: the name as it sounded and the letters as they sounded.
Here every candidate (the heard name, the census names nearest the spelled letters and
nearest the heard words, and their rivals) is scored by forced decoding on **both** clips:
its letters on the spelling's audio and its words ("Dana Smith.") on the name's audio, plus
its census prior; the best is taken only when it leads every other candidate by a margin, its
letters fit, and its words fit the name's audio nearly as well as what whisper wrote there
(``name_gap``: a name the census lacks must not be replaced by the nearest one it has).

**Names and audio**: as ``name_choice.py`` (its cache under ``var/name-capture/``): every
10th of the call scripts' own names (census and not: Poppy Lane, Bethan Price) and 30
census names nobody here picked, alternating between a **train** half and a **test** half.
``--tune`` picks the thresholds on the scripts' names and the train half (the most names
written with no wrong one) and reports the test half.

**Scores**, per voice and line: names heard right; names written right and **wrong** by the
agent's rule before (``spelling_verifies`` or ``choose_name``) and by the joint rule. It
measures; it asserts nothing.

    .venv/bin/python benchmarks/name_joint.py --tune
"""

from __future__ import annotations

import argparse
import dataclasses
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
from name_capture import CACHE, NAME_QUESTION, SPELL_QUESTION, Ear, Store, line_audio, voice_for
from name_choice import script_full_names

from connectors.schedule import load_businesses
from evals.simulator.caller_policy import spell
from voice_agent.config import REPO_ROOT, Settings
from voice_agent.dialog.listening import listening_prompt
from voice_agent.dialog.name_choice import (
    JOINT,
    choose_joint,
    choose_name,
    joint_candidates,
    rivals_of_pick,
)
from voice_agent.dialog.name_lexicon import name_lexicon
from voice_agent.dialog.names import fold
from voice_agent.dialog.spelling import (
    LetterScores,
    spelled_letters,
    spelling_verifies,
)
from voice_agent.dialog.understanding import understand


@dataclass
class Sample:
    name: str
    voice: str
    line: str
    half: str
    heard_name: str | None = None
    heard_text: str = ""
    heard_logprob: float | None = None
    letters: str = ""
    also: str = ""  # the spelling read as letters only (``--letters-only``)
    plain: list[str] = field(default_factory=list)  # the candidates without ``also``
    spelled: dict[str, list[list[float]]] = field(default_factory=dict)
    said: dict[str, float] = field(default_factory=dict)  # candidate -> words' log-likelihood
    said_free: float = 0.0  # what whisper wrote for the name, scored the same way
    # a pick's sound-alikes (per pick: name -> its letters' and its words' scores)
    alikes: dict[str, dict[str, tuple[list[list[float]], float]]] = field(default_factory=dict)

    @property
    def heard_right(self) -> bool:
        return self.heard_name is not None and fold(self.heard_name) == fold(self.name)


def collect(names: list[str], voices: list[str], lines: list[str], *, halves: bool,
            letters_only: bool = False) -> list[Sample]:
    from voice_agent.pipeline.spelling_check import letters_only as read_letters_only
    from voice_agent.pipeline.spelling_check import said_logprobs

    salon = load_businesses(Settings().businesses_dir)["demo-salon"]
    name_listening = listening_prompt(salon, "name", NAME_QUESTION)
    spell_listening = listening_prompt(salon, "spell", SPELL_QUESTION)
    store = Store(CACHE / "heard.json")
    lexicon = name_lexicon()
    ear: Ear | None = None
    today = date(2026, 11, 23)
    samples: list[Sample] = []

    def the_ear() -> Ear:
        nonlocal ear
        ear = ear or Ear()
        return ear

    for voice_name in voices:
        voice = voice_for(voice_name)
        for line in lines:
            for i, name in enumerate(names):
                half = ("train" if i % 2 == 0 else "test") if halves else "scripts"
                s = Sample(name, voice_name, line, half)
                base = f"{voice_name}|{line}|{name}"
                name_pcm = line_audio(voice_name, voice, line, f"{name}.")
                spell_pcm = line_audio(voice_name, voice, line, spell(name))
                heard_text, stats = store.get(base + "|name", lambda p=name_pcm: the_ear()
                                              .transcribe(p, name_listening.prompt,
                                                          name_listening.examples))
                s.heard_text = heard_text
                s.heard_logprob = stats.get("avg_logprob")
                s.heard_name = understand(heard_text, salon, today, asked="name").name
                spell_text, _ = store.get(base + "|spell", lambda p=spell_pcm: the_ear()
                                          .transcribe(p, spell_listening.prompt, ()))
                s.letters = spelled_letters(spell_text)
                if letters_only:
                    s.also = spelled_letters(store.get(base + "|spell-letters-only", lambda p=(
                        spell_pcm): read_letters_only(the_ear().model, p.astype("int16")
                                                      .tobytes(), prompt=spell_listening
                                                      .prompt)[0]))
                s.plain = joint_candidates(s.heard_name, heard_text, s.letters, lexicon)
                wanted = list(dict.fromkeys([*s.plain, *joint_candidates(
                    s.heard_name, heard_text, s.letters, lexicon, s.also)]))
                if s.heard_name:
                    wanted = list(dict.fromkeys([s.heard_name, *wanted]))
                scored = store.letter_scores(base, wanted, lambda m, p=spell_pcm: the_ear(
                    ).letters(p, spell_listening.prompt, m))
                said = store.letter_scores(base, [*wanted, "\0free"], lambda m, p=name_pcm,
                                           t=heard_text: [
                    float(v) for v in said_logprobs(
                        the_ear().model, p.astype("int16").tobytes(),
                        [t if c == "\0free" else c for c in m],
                        prompt=name_listening.prompt)], tag="said1")
                assert scored is not None and said is not None
                s.spelled, s.said_free = scored, said.pop("\0free")
                s.said = said
                picks = loose_picks(s) | (loose_picks(without_also(s)) if s.also else set())
                for pick in picks:
                    alike = rivals_of_pick(pick, s.letters, s.also)
                    a_letters = store.letter_scores(base, alike, lambda m, p=spell_pcm: the_ear(
                        ).letters(p, spell_listening.prompt, m))
                    a_said = store.letter_scores(base, alike, lambda m, p=name_pcm: [
                        float(v) for v in said_logprobs(the_ear().model,
                                                        p.astype("int16").tobytes(), m,
                                                        prompt=name_listening.prompt)],
                        tag="said1")
                    assert a_letters is not None and a_said is not None
                    s.alikes[pick] = {a: (a_letters[a], a_said[a]) for a in alike}
                samples.append(s)
                print(f"{len(samples)} {base}: heard {s.heard_name!r}, letters {s.letters!r}, "
                      f"{len(wanted)} scored", file=sys.stderr, flush=True)
            store.save()
    store.save()
    return samples


SAID_WEIGHTS = (0.0, 0.5, 1.0)


def loose_picks(s: Sample) -> set[str]:
    """The names ``choose_joint`` could take under any thresholds the grid tries: their
    sound-alikes are scored, as the agent scores its pick's."""
    picks = set()
    for weight in SAID_WEIGHTS:
        found = choose_joint(s.letters, s.spelled, s.said, s.said_free, name_lexicon(),
                             margin=2.0, name_gap=-6.0, median_floor=-3.0, max_distance=0.8,
                             said_weight=weight, also=s.also)
        if found:
            picks.add(found.name)
    return picks


def without_also(s: Sample) -> Sample:
    """The sample as the joint rule saw it before the letters-only reading: its candidates
    from the transcript's letters alone."""
    keep = set(s.plain) | ({s.heard_name} if s.heard_name else set())
    return dataclasses.replace(
        s, also="", spelled={n: v for n, v in s.spelled.items() if n in keep},
        said={n: v for n, v in s.said.items() if n in keep})


def verdict_before(s: Sample) -> str | None:
    """The agent's rule before: the heard name, verified by its letters or singled out."""
    if not s.heard_name or s.heard_name not in s.spelled:
        return None
    scores = LetterScores(s.heard_name, tuple(tuple(w) for w in s.spelled[s.heard_name]))
    if spelling_verifies(s.heard_name, s.letters, scores, s.heard_logprob):
        return s.heard_name
    found = choose_name(s.heard_name, s.letters, s.spelled, name_lexicon())
    return found.name if found else None


def verdict_joint(s: Sample, **kw: float) -> str | None:
    before = verdict_before(s)
    if before:
        return before
    plain = {k: v for k, v in kw.items() if k != "alike_margin"}
    found = choose_joint(s.letters, s.spelled, s.said, s.said_free, name_lexicon(), **plain,
                         also=s.also)
    if found is None:
        return None
    found = choose_joint(s.letters, s.spelled, s.said, s.said_free, name_lexicon(), **kw,
                         alikes=s.alikes.get(found.name, {}), also=s.also)
    return found.name if found else None


def counts(samples: list[Sample], **kw: float) -> dict[str, dict[str, int]]:
    by: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s in samples:
        for key in (f"{s.voice}/{s.line}", "all"):
            c = by[key]
            c["samples"] += 1
            c["heard_right"] += s.heard_right
            c["in_set"] += any(fold(n) == fold(s.name) for n in s.said)
            c["in_plain_set"] += any(fold(n) == fold(s.name) for n in without_also(s).said)
            plain = verdict_joint(without_also(s), **kw) if s.also else verdict_joint(s, **kw)
            for label, got in (("before", verdict_before(s)), ("plain", plain),
                               ("joint", verdict_joint(s, **kw))):
                c[f"{label}_right"] += got is not None and fold(got) == fold(s.name)
                c[f"{label}_wrong"] += got is not None and fold(got) != fold(s.name)
    return {k: dict(v) for k, v in by.items()}


def tune(samples: list[Sample]) -> dict[str, float]:
    """The thresholds writing the most right names with no wrong one (ties: cautious)."""
    best: tuple[int, float, dict[str, float]] | None = None
    for weight, margin, gap, median, alike in itertools.product(
            SAID_WEIGHTS, (3.0, 4.0, 6.0), (-2.0, -4.0, -6.0), (-1.5, -2.0), (0.0, 2.0, 4.0)):
        kw = {"margin": margin, "name_gap": gap, "median_floor": median, "max_distance": 0.6,
              "said_weight": weight, "alike_margin": alike}
        c = counts(samples, **kw)["all"]
        if c["joint_wrong"] > c["before_wrong"]:
            continue
        key = (c["joint_right"], margin + gap + median + alike)
        if best is None or key > best[:2]:
            best = (*key, kw)
    assert best is not None
    return best[2]


def table(samples: list[Sample], title: str, **kw: float) -> dict[str, Any]:
    by = counts(samples, **kw)
    print(f"\n== {title}: {len(samples)} samples ({kw})")
    print(f"{'voice/line':22s} {'heard':>8s} {'in set':>7s} {'before right/wrong':>19s} "
          f"{'transcript letters':>18s} {'+ letters only':>15s}")
    for key, c in sorted(by.items(), key=lambda kv: kv[0] == "all"):
        print(f"{key:22s} {c['heard_right']:3d}/{c['samples']:<4d} {c['in_set']:7d} "
              f"{c['before_right']:10d}/{c['before_wrong']:<8d} "
              f"{c['plain_right']:9d}/{c['plain_wrong']:<8d} "
              f"{c['joint_right']:9d}/{c['joint_wrong']:<5d}")
    return by


def misses(samples: list[Sample], **kw: float) -> list[dict[str, Any]]:
    """Every name the joint rule wrote wrong, and why it took it: for QA of the rule."""
    out = []
    for s in samples:
        got = verdict_joint(s, **kw)
        if got is not None and fold(got) != fold(s.name):
            out.append({"name": s.name, "voice": s.voice, "line": s.line, "wrote": got,
                        "heard": s.heard_text, "letters": s.letters})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=30, help="census names")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--every", type=int, default=10, help="every Nth of the scripts' names")
    ap.add_argument("--voices", default="piper,piper-high,espeak-f")
    ap.add_argument("--lines", default="clean,band+snr15")
    ap.add_argument("--tune", action="store_true",
                    help="choose thresholds on the scripts' names and the census train half")
    ap.add_argument("--letters-only", action="store_true",
                    help="candidates also from the spelling read as letters only (the agent's)")
    ap.add_argument("--out", type=Path, default=CACHE / "name-joint.json")
    args = ap.parse_args()
    voices, lines = args.voices.split(","), args.lines.split(",")
    calls = REPO_ROOT / "evals" / "calls"
    script_names_heard = script_full_names(calls)[::args.every]
    census_names = pick_names(Path(str(resources.files("names"))), args.count, args.seed,
                              script_names(calls))
    scripts = collect(script_names_heard, voices, lines, halves=False,
                      letters_only=args.letters_only)
    census = collect(census_names, voices, lines, halves=True, letters_only=args.letters_only)
    train = [s for s in census if s.half == "train"]
    test = [s for s in census if s.half == "test"]
    prod = dict(JOINT)
    tuned = tune(scripts + train) if args.tune else prod
    out: dict[str, Any] = {
        "production": prod, "tuned": tuned, "script_names": script_names_heard,
        "census_names": census_names,
        "scripts": table(scripts, "call scripts' names (tuned on)", **tuned),
        "train": table(train, "census train half (tuned on)", **tuned),
        "test": table(test, "census test half (reported)", **tuned),
        "wrong": misses(scripts + census, **tuned)}
    if tuned != prod:
        out["test_production"] = table(test, "census test half, production values", **prod)
    print(json.dumps(out["wrong"], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
