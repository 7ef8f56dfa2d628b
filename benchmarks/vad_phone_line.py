"""Silero VAD on a telephone line: short answers caught, and line noise taken for speech.

Short answers ("Yes.", "No.", "Okay.", ...) said by the simulated caller voices, padded with a
second of silence each side, are taken through a phone line (band-limiting, line noise, 8 kHz
μ-law) and fed to pipecat's ``SileroVADAnalyzer`` in 20 ms chunks as the call pipeline does;
60 s of the line with nobody speaking counts false starts. Each (confidence, min_volume)
pair is one row. It measures; it asserts nothing.

    .venv/bin/python benchmarks/vad_phone_line.py --voices piper,piper-high,espeak-f \
        --lines clean,band+snr15,band+snr10
"""

from __future__ import annotations

import argparse
import asyncio

import numpy as np
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams, VADState
from rich.console import Console
from rich.table import Table

from evals.simulator.caller_voice import make_caller_voice
from evals.simulator.phone_line import parse_line
from voice_agent.telephony.codec import SAMPLE_RATE, resample, ulaw_decode, ulaw_encode

SHORT = ["Yes.", "Yes, please.", "No.", "Okay.", "That's right.", "No, thanks.", "Yep.", "Sure."]
CHUNK = 640  # 20 ms of 16 kHz int16


def _phone16(pcm8: np.ndarray) -> np.ndarray:
    return resample(ulaw_decode(ulaw_encode(pcm8)), SAMPLE_RATE, 16_000)


async def speech_starts(params: VADParams, audio16: np.ndarray) -> int:
    analyzer = SileroVADAnalyzer(params=params)
    analyzer.set_sample_rate(16_000)
    data, starts, before = audio16.astype(np.int16).tobytes(), 0, VADState.QUIET
    for i in range(0, len(data) - CHUNK + 1, CHUNK):
        state = await analyzer.analyze_audio(data[i:i + CHUNK])
        starts += state == VADState.SPEAKING and before != VADState.SPEAKING
        before = state
    return starts


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--voices", default="piper,piper-high,espeak-f")
    ap.add_argument("--lines", default="clean,band+snr15,band+snr10")
    ap.add_argument("--confidence", default="0.5,0.6,0.7")
    ap.add_argument("--min-volume", default="0.3,0.6")
    args = ap.parse_args()
    grid = [(float(c), float(v)) for c in args.confidence.split(",")
            for v in args.min_volume.split(",")]
    caught = {g: 0 for g in grid}
    false = {g: 0 for g in grid}
    total = 0
    silence = np.zeros(SAMPLE_RATE, dtype=np.int16)
    for name in args.voices.split(","):
        voice = make_caller_voice(name)
        clips = [await voice.synthesize(t) for t in SHORT]
        for spec in args.lines.split(","):
            line = parse_line(spec)
            speech = [_phone16(line.apply(np.concatenate([silence, c, silence]))) for c in clips]
            noise = _phone16(line.apply(np.zeros(SAMPLE_RATE * 60, dtype=np.int16)))
            total += len(speech)
            for conf, vol in grid:
                p = VADParams(confidence=conf, min_volume=vol, start_secs=0.2, stop_secs=0.2)
                caught[(conf, vol)] += sum([await speech_starts(p, s) >= 1 for s in speech])
                false[(conf, vol)] += await speech_starts(p, noise)
    table = Table(title=f"Silero VAD over the phone line ({args.voices}; {args.lines})")
    for col in ("confidence", "min_volume", "short answers caught", "false starts (noise)"):
        table.add_column(col, justify="right")
    for conf, vol in grid:
        table.add_row(f"{conf}", f"{vol}", f"{caught[(conf, vol)]}/{total}",
                      str(false[(conf, vol)]))
    Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
