"""How well the STT path hears, with and without the listening prompt, on a telephone line.

Two sets, each taken through the production path's audio chain (8 kHz, G.711 μ-law, back to
16 kHz) and transcribed by the production ``transcribe`` (whisper base, CPU):

1. **Real human speech**: Debian's ``pocketsphinx-testdata`` recordings that come with
   transcripts (LibriVox read speech, spoken playing cards, and the two raw recordings whose
   words pocketsphinx's own tests assert: a command and a digit string; ``apt-get install
   pocketsphinx-testdata``, or ``--real-speech DIR`` pointing at its ``test/data``). The prompt
   here is the demo salon's, after a generic question: the words are unrelated to it, so the
   WER shows whether the prompt harms speech it does not describe.
2. **Caller lines** from the call scripts, spoken by the simulated caller voices over the
   chosen telephone lines, each with the prompt for the question its line answers
   (``if_asked``; lines that answer no particular question get the opening question). Besides
   WER it reports **slot agreement**: whether the understanding code reads the same service,
   day, time, name, yes and no from the transcript as from the script's text.

Prints tables and writes JSON (``--out``). It measures; it asserts nothing.

    .venv/bin/python benchmarks/stt_listening.py --lines clean,band+snr10 --sample 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein
from rich.console import Console
from rich.table import Table

from connectors.schedule import load_businesses
from evals.runner import discover
from evals.simulator.caller_voice import make_caller_voice
from evals.simulator.phone_line import PhoneLine, parse_line
from voice_agent.config import REPO_ROOT, Settings
from voice_agent.dialog.listening import Listening, listening_prompt
from voice_agent.dialog.understanding import understand
from voice_agent.pipeline.whisper_model import load_whisper, transcribe
from voice_agent.runtime.model_files import assemble_whisper
from voice_agent.telephony.codec import SAMPLE_RATE, resample, ulaw_decode, ulaw_encode

REAL_SPEECH = Path("/usr/share/pocketsphinx/test/data")
OPENING = "Thank you for calling. How can I help you today?"
QUESTIONS = {  # what the agent says before a line held for each kind (the policy's wording)
    "service": "What would you like to book?",
    "date": "What day would you like to come in?",
    "time": "What time would suit you?",
    "name": "Can I have your name for the booking, please?",
    "phone": "And shall we use the number you're calling from?",
    "confirm": "So that's a haircut on Tuesday, December 1 at 3 PM. Shall I book that?",
    "anything": "Is there anything else I can help with?",
}
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    return " ".join(_ONES[int(d)] for d in str(n))


def normalise(text: str) -> list[str]:
    """Lower-case words without punctuation; numbers as words ("3 pm" = "three pm")."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"(\d+):(\d\d)", lambda m: f"{m.group(1)} {m.group(2)}", text)
    text = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", r"\1", text)
    text = re.sub(r"\d+", lambda m: f" {_number_words(int(m.group(0)))} ", text)
    text = re.sub(r"\b([ap])\.m\.", r"\1m", text)
    text = re.sub(r"[^\w' ]+", " ", text)
    return text.split()


def wer(refs: list[str], hyps: list[str]) -> float:
    errors = sum(Levenshtein.distance(normalise(r), normalise(h)) for r, h in zip(refs, hyps,
                                                                               strict=True))
    return errors / max(1, sum(len(normalise(r)) for r in refs))


def over_the_phone(pcm16k: np.ndarray) -> bytes:
    """16 kHz int16 → 8 kHz μ-law → 16 kHz int16 bytes, as the call pipeline receives it."""
    narrow = resample(pcm16k.astype(np.int16), 16_000, SAMPLE_RATE)
    return resample(ulaw_decode(ulaw_encode(narrow)), SAMPLE_RATE, 16_000).tobytes()


def _read_audio(path: Path) -> np.ndarray:
    if path.suffix == ".wav":
        with wave.open(str(path), "rb") as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            return resample(pcm.astype(np.int16), w.getframerate(), 16_000)
    return np.fromfile(path, dtype="<i2").astype(np.int16)  # raw 16 kHz


# Raw 16 kHz recordings of the package whose words pocketsphinx's own tests assert
# (test_keyphrase/test_ps "go forward ten meters"; the tidigits python test's decode_raw).
RAW_WITH_TRANSCRIPTS = {"goforward.raw": "go forward ten meters",
                        "tidigits/dhd.2934z.raw": "two nine three four zero"}


def real_speech(data_dir: Path) -> list[tuple[str, Path, str]]:
    """(id, audio file, transcript) of the recordings that ship with transcripts."""
    items = [(Path(name).stem, data_dir / name, ref) for name, ref in RAW_WITH_TRANSCRIPTS.items()
             if (data_dir / name).exists()]
    for listing in (data_dir / "librivox" / "transcription", data_dir / "cards" /
                    "cards.transcription"):
        if not listing.exists():
            continue
        for row in listing.read_text().splitlines():
            m = re.match(r"\s*<s>(.*)</s>\s*\((\S+)\)", row)
            if m:
                audio = listing.parent / f"{m.group(2)}.wav"
                if audio.exists():
                    items.append((m.group(2), audio, " ".join(m.group(1).split())))
    return items


@dataclass
class Heard:
    ref: str
    hyp: str
    seconds: float
    prompted: bool
    rejected: str | None


def _hear(model: Any, audio: bytes, ref: str, listening: Listening | None, beam: int) -> Heard:
    t0 = time.perf_counter()
    text, stats = transcribe(model, audio, prompt=listening.prompt if listening else None,
                             examples=listening.examples if listening else (), beam_size=beam)
    return Heard(ref, text, time.perf_counter() - t0, stats["prompted"],
                 stats.get("prompt_rejected"))


def _slots(text: str, business: Any, today: Any, asked: str | None) -> dict[str, Any]:
    u = understand(text, business, today, asked=asked)
    return {"service": u.service.id if u.service else None, "day": u.day,
            "time": u.tod.exact if u.tod else None,
            "name": (u.name or "").lower() or None, "affirm": u.affirm, "deny": u.deny}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real-speech", type=Path, default=REAL_SPEECH)
    ap.add_argument("--voices", default="piper,piper-high,espeak-f")
    ap.add_argument("--lines", default="clean,band+snr15")
    ap.add_argument("--sample", type=int, default=40, help="caller lines per voice and line")
    ap.add_argument("--beams", default="1")
    ap.add_argument("--scripts", type=Path, nargs="*", default=[REPO_ROOT / "evals" / "calls"])
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "var" / "stt-listening.json")
    args = ap.parse_args()
    console = Console()
    settings = Settings()
    model = load_whisper(assemble_whisper(settings.models_dir), device="cpu",
                         compute_type="int8", cpu_threads=settings.stt_cpu_threads)
    businesses = load_businesses(settings.businesses_dir)
    salon = businesses["demo-salon"]
    beams = [int(b) for b in args.beams.split(",")]
    report: dict[str, Any] = {"real_speech": {}, "caller_lines": {}}

    items = real_speech(args.real_speech)
    if not items:
        console.print(f"[yellow]no real speech under {args.real_speech}: "
                      "apt-get install pocketsphinx-testdata (or --real-speech DIR)[/]")
    table = Table("real speech (8 kHz μ-law)", "beam", "WER", "s/utt p50", "prompt kept")
    for beam in beams:
        for label, prompt in (("no context", None),
                              ("with context", listening_prompt(salon, "anything", OPENING))):
            heard = [_hear(model, over_the_phone(_read_audio(p)), ref, prompt, beam)
                     for _id, p, ref in items]
            if not heard:
                continue
            row = {"utterances": len(heard), "wer": round(wer([h.ref for h in heard],
                                                              [h.hyp for h in heard]), 4),
                   "seconds_p50": round(statistics.median(h.seconds for h in heard), 3),
                   "prompt_kept": sum(h.prompted for h in heard),
                   "hypotheses": [h.hyp for h in heard]}
            report["real_speech"][f"{label}/beam{beam}"] = row
            table.add_row(label, str(beam), f"{row['wer']:.3f}", f"{row['seconds_p50']:.2f}",
                          f"{row['prompt_kept']}/{len(heard)}")
    console.print(table)

    lines = []
    for _path, script in discover(args.scripts):
        prev = None
        for turn in script.caller.turns:
            if turn.say and not getattr(turn, "hangup", False):
                lines.append((script, turn.say, turn.if_asked, prev))
            prev = turn.if_asked
    random.Random(13).shuffle(lines)
    table = Table("voice", "line", "context", "WER", "slots agree", "s/utt p50", "rejected")
    for voice_name in args.voices.split(","):
        voice = make_caller_voice(voice_name)
        for spec in args.lines.split(","):
            line: PhoneLine = parse_line(spec)
            sample = lines[: args.sample]
            audio = [over_the_phone(resample(line.apply(asyncio.run(voice.synthesize(say))),
                                             SAMPLE_RATE, 16_000)) for _s, say, _k, _p in sample]
            for beam in beams:
                for label in ("no context", "with context"):
                    heard, agree = [], 0
                    for (script, say, kind, _prev), pcm in zip(sample, audio, strict=True):
                        business = businesses[script.business]
                        asked = kind if kind in QUESTIONS else None
                        prompt = None if label == "no context" else listening_prompt(
                            business, asked, QUESTIONS.get(asked or "", OPENING))
                        h = _hear(model, pcm, say, prompt, beam)
                        heard.append(h)
                        today = script.now.date()
                        agree += _slots(say, business, today, asked) == _slots(
                            h.hyp, business, today, asked)
                    key = f"{voice_name}/{line.name}/{label}/beam{beam}"
                    row = {"utterances": len(heard),
                           "wer": round(wer([h.ref for h in heard], [h.hyp for h in heard]), 4),
                           "slot_agreement": round(agree / max(1, len(heard)), 4),
                           "seconds_p50": round(statistics.median(h.seconds for h in heard), 3),
                           "prompt_rejected": sum(h.rejected is not None for h in heard)}
                    report["caller_lines"][key] = row
                    table.add_row(voice_name, line.name, f"{label} b{beam}", f"{row['wer']:.3f}",
                                  f"{row['slot_agreement']:.3f}", f"{row['seconds_p50']:.2f}",
                                  str(row["prompt_rejected"]))
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))
    console.print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
