"""Can Smart Turn v3.2 end a caller's turn sooner, on phone audio, without cutting callers off?

The dialog ends a turn a speech timeout (0.6 s) after the VAD reports silence. Ending it as
soon as the transcript is in whenever the turn model is sure the caller has finished would
take up to that timeout off every reply. The cost is a caller cut off mid-sentence. This
measures both sides on audio we did not record for the model:

- **finished** turns: the caller lines of the call scripts, spoken by the simulated caller
  voices over the chosen telephone lines, with the VAD's 0.2 s of trailing silence;
- **unfinished** turns: the same audio cut at the quietest 20 ms inside its middle part
  (35-75 % of its length), as when a caller pauses to think mid-sentence.

For each voice and line it prints P(finished) percentiles and, per threshold, the share of
finished turns that would end early and of unfinished turns that would be cut off, plus the
inference time. With ``--transcripts`` each clip is also transcribed (whisper base, as in a
call) and the rule the dialog applies is scored: the model's score at the threshold **and**
the transcript reading as finished (``turn_detector.sounds_finished``), and the transcript
gate alone. It measures; it asserts nothing. ``--out`` writes the figures as JSON.

    .venv/bin/python benchmarks/turn_end.py --voices piper,piper-high,espeak-f \
        --lines clean,band+snr15 --limit 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from evals.script import load_scripts
from evals.simulator.caller_voice import make_caller_voice
from evals.simulator.phone_line import parse_line
from voice_agent.pipeline.turn_detector import sounds_finished
from voice_agent.pipeline.turn_end_model import MODEL_RATE, load_turn_end_model
from voice_agent.telephony.codec import SAMPLE_RATE, resample, ulaw_decode, ulaw_encode

THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95)
VAD_STOP_S = 0.2


def caller_lines(root: Path, limit: int) -> list[str]:
    seen: list[str] = []
    for script in load_scripts(sorted(root.rglob("*.yaml"))):
        for turn in script.caller.turns:
            text = turn.say.strip()
            if len(text.split()) >= 4 and text not in seen:  # a cut needs a middle
                seen.append(text)
    step = max(1, len(seen) // limit)
    return seen[::step][:limit]


def cut_in_the_middle(pcm: np.ndarray) -> np.ndarray:
    frame = SAMPLE_RATE // 50
    n = pcm.size // frame
    energy = np.array([np.abs(pcm[i * frame:(i + 1) * frame].astype(np.float64)).mean()
                       for i in range(n)])
    lo, hi = int(n * 0.35), max(int(n * 0.35) + 1, int(n * 0.75))
    quietest = lo + int(np.argmin(energy[lo:hi]))
    return pcm[:quietest * frame]


def as_heard(pcm8k: np.ndarray, line_spec: str) -> np.ndarray:
    """8 kHz caller audio + the VAD's trailing silence, over the line, as the model gets it."""
    padded = np.concatenate([pcm8k, np.zeros(int(SAMPLE_RATE * VAD_STOP_S), np.int16)])
    sent = parse_line(line_spec).apply(padded.astype(np.int16))
    heard = resample(ulaw_decode(ulaw_encode(sent)), SAMPLE_RATE, MODEL_RATE)
    return heard.astype(np.float32) / 32768.0


def _whisper():  # the production model, as assembled by `make setup`
    from voice_agent.config import Settings
    from voice_agent.pipeline.whisper_model import load_whisper
    from voice_agent.runtime.model_files import assemble_whisper

    s = Settings()
    return load_whisper(assemble_whisper(s.models_dir), device="cpu", compute_type="int8",
                        cpu_threads=2)


def _finished_text(stt, audio: np.ndarray) -> bool:
    from voice_agent.pipeline.whisper_model import transcribe

    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    return sounds_finished(transcribe(stt, pcm)[0])


async def measure(voices: list[str], lines: list[str], texts: list[str], *,
                  transcripts: bool = False) -> dict:
    model = load_turn_end_model()
    stt = _whisper() if transcripts else None
    out: dict = {"utterances": len(texts), "thresholds": list(THRESHOLDS), "rows": []}
    seconds: list[float] = []
    for voice_kind in voices:
        voice = make_caller_voice(voice_kind)
        audio = [await voice.synthesize(t) for t in texts]
        for line in lines:
            scores: dict[str, list[float]] = {"finished": [], "unfinished": []}
            reads: dict[str, list[bool]] = {"finished": [], "unfinished": []}
            for pcm in audio:
                for kind, clip in (("finished", pcm), ("unfinished", cut_in_the_middle(pcm))):
                    heard = as_heard(clip, line)
                    start = time.perf_counter()
                    scores[kind].append(model.probability(heard))
                    seconds.append(time.perf_counter() - start)
                    if stt is not None:
                        reads[kind].append(_finished_text(stt, heard))
            row = {"voice": voice_kind, "line": line,
                   "p_finished": _quantiles(scores["finished"]),
                   "p_unfinished": _quantiles(scores["unfinished"]),
                   "early_end": {}, "cut_off": {}}
            for t in THRESHOLDS:
                row["early_end"][str(t)] = _share(scores["finished"], t)
                row["cut_off"][str(t)] = _share(scores["unfinished"], t)
            if stt is not None:
                row["text_only"] = {k: _share([float(r) for r in reads[k]], 0.5)
                                    for k in reads}
                row["rule"] = {str(t): {k: _share([float(p >= t and r) for p, r in
                                                   zip(scores[k], reads[k], strict=True)], 0.5)
                                        for k in reads} for t in THRESHOLDS}
            out["rows"].append(row)
    out["inference_s"] = _quantiles(seconds)
    return out


def _share(values: list[float], threshold: float) -> float:
    return round(sum(v >= threshold for v in values) / max(1, len(values)), 3)


def _quantiles(values: list[float]) -> dict[str, float]:
    qs = statistics.quantiles(values, n=20) if len(values) > 1 else values * 19
    return {"p5": round(qs[0], 3), "p50": round(statistics.median(values), 3),
            "p95": round(qs[-1], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scripts", type=Path, default=Path("evals/calls"))
    parser.add_argument("--voices", default="piper,piper-high,espeak-f")
    parser.add_argument("--lines", default="clean,band+snr15")
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--transcripts", action="store_true",
                        help="also transcribe and score the transcript gate and the rule")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    texts = caller_lines(args.scripts, args.limit)
    result = asyncio.run(measure(args.voices.split(","), args.lines.split(","), texts,
                                 transcripts=args.transcripts))
    console = Console()
    table = Table("voice", "line", "P(fin) finished p5/p50", "P(fin) unfinished p50/p95",
                  *[f"t={t}: early / cut" for t in THRESHOLDS])
    for r in result["rows"]:
        table.add_row(r["voice"], r["line"],
                      f"{r['p_finished']['p5']:.2f} / {r['p_finished']['p50']:.2f}",
                      f"{r['p_unfinished']['p50']:.2f} / {r['p_unfinished']['p95']:.2f}",
                      *[f"{r['early_end'][str(t)]:.0%} / {r['cut_off'][str(t)]:.0%}"
                        for t in THRESHOLDS])
    console.print(table)
    if args.transcripts:
        rule = Table("voice", "line", "text gate: early / cut",
                     *[f"t={t} and text: early / cut" for t in THRESHOLDS])
        for r in result["rows"]:
            rule.add_row(r["voice"], r["line"],
                         f"{r['text_only']['finished']:.0%} / {r['text_only']['unfinished']:.0%}",
                         *[f"{r['rule'][str(t)]['finished']:.0%} / "
                           f"{r['rule'][str(t)]['unfinished']:.0%}" for t in THRESHOLDS])
        console.print(rule)
    console.print(f"{result['utterances']} lines per voice and line; inference s "
                  f"{result['inference_s']}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
