"""How many of a spelling's letters whisper gets right over a phone line: its free transcript
(what the agent reads the letters from today) against a decode that may write nothing but
letters (``pipeline/spelling_check.letters_only``), on names we did not pick.

**Names and audio**: as ``name_joint.py`` (its cache under ``var/name-capture/``): the call
scripts' own names (every ``--every``-th) and ``--count`` census names (seed 2026, none in
our scripts), each spelled the way the simulated caller spells it ("D, A, N, A, then S, M,
I, T, H") by the eval's caller voices over its telephone lines, through G.711 μ-law, after
the dialog's own spelling prompt.

**Scores**, per voice and line and in all: the letter error rate (edit distance over the
true letters), spellings heard exactly, and how often the true name is among the census
names nearest the letters (``NameLexicon.snaps``, what the joint name choice scores): the
truth must be a candidate before anything can pick it. It measures; it asserts nothing.

    .venv/bin/python benchmarks/spelling_decode.py --every 1 --count 30
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

sys.path.insert(0, str(Path(__file__).parent))  # run as a script or imported
from census_names import pick_names, script_names
from name_capture import CACHE, SPELL_QUESTION, Ear, line_audio, voice_for
from name_choice import script_full_names

from connectors.schedule import load_businesses
from evals.simulator.caller_policy import spell
from voice_agent.config import REPO_ROOT, Settings
from voice_agent.dialog.listening import listening_prompt
from voice_agent.dialog.name_choice import JOINT_SNAPS
from voice_agent.dialog.name_lexicon import name_lexicon
from voice_agent.dialog.names import fold
from voice_agent.dialog.spelling import spelled_letters
from voice_agent.pipeline.spelling_check import letters_only

DECODERS = ("free", "letters_only")


def truth_letters(name: str) -> str:
    return "".join(ch for ch in fold(name) if ch.isalpha())


def measure(names: list[str], voices: list[str], lines: list[str], beam: int
            ) -> list[dict[str, Any]]:
    salon = load_businesses(Settings().businesses_dir)["demo-salon"]
    prompt = listening_prompt(salon, "spell", SPELL_QUESTION).prompt
    lexicon = name_lexicon()
    ear = Ear()
    rows: list[dict[str, Any]] = []
    for voice_name in voices:
        voice = voice_for(voice_name)
        for line in lines:
            for name in names:
                pcm = line_audio(voice_name, voice, line, spell(name)).astype("int16").tobytes()
                truth = truth_letters(name)
                row: dict[str, Any] = {"name": name, "voice": voice_name, "line": line}
                t0 = time.perf_counter()
                free, _ = ear.transcribe(line_audio(voice_name, voice, line, spell(name)),
                                         prompt, ())
                t1 = time.perf_counter()
                forced, _score = letters_only(ear.model, pcm, prompt=prompt, beam_size=beam)
                t2 = time.perf_counter()
                for decoder, text, seconds in (("free", free, t1 - t0),
                                               ("letters_only", forced, t2 - t1)):
                    letters = spelled_letters(text)
                    snaps = lexicon.snaps(letters, words=2, limit=JOINT_SNAPS) \
                        if len(letters) >= 4 else []
                    row[decoder] = {
                        "text": text, "letters": letters,
                        "errors": Levenshtein.distance(letters, truth), "of": len(truth),
                        "candidate": any(fold(s) == fold(name) for s in snaps),
                        "seconds": round(seconds, 3)}
                rows.append(row)
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups["all"].append(r)
        groups[f"voice {r['voice']}"].append(r)
        groups[f"line {r['line']}"].append(r)
    out: dict[str, Any] = {}
    for key, group in groups.items():
        out[key] = {"spellings": len(group)}
        for d in DECODERS:
            errors = sum(r[d]["errors"] for r in group)
            letters = sum(r[d]["of"] for r in group)
            secs = sorted(r[d]["seconds"] for r in group)
            out[key][d] = {
                "letter_error": round(errors / letters, 3),
                "exact": sum(r[d]["errors"] == 0 for r in group),
                "truth_candidate": sum(r[d]["candidate"] for r in group),
                "seconds_p50": secs[len(secs) // 2]}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=30, help="census names")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--every", type=int, default=1, help="every Nth of the scripts' names")
    ap.add_argument("--voices", default="piper,piper-high,espeak-f")
    ap.add_argument("--lines", default="clean,band+snr15")
    ap.add_argument("--beam", type=int, default=4)
    ap.add_argument("--out", type=Path, default=CACHE / "spelling-decode.json")
    args = ap.parse_args()
    voices, lines = args.voices.split(","), args.lines.split(",")
    calls = REPO_ROOT / "evals" / "calls"
    ours = script_full_names(calls)[::args.every]
    census = pick_names(Path(str(resources.files("names"))), args.count, args.seed,
                        script_names(calls)) if args.count else []
    result: dict[str, Any] = {"script_names": ours, "census_names": census, "beam": args.beam}
    for label, names in (("scripts", ours), ("census", census)):
        if names:
            rows = measure(names, voices, lines, args.beam)
            result[label] = {"summary": summary(rows), "rows": rows}
            print(label, json.dumps(result[label]["summary"]["all"], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
