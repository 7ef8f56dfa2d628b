"""How often a misheard answer to an offer of times is asked about rightly, on SGD time turns.

**Turns**: user turns of the SGD dev split (``/work/shared/data/sgd_turns``, CC BY-SA 4.0; or
``--sgd FILE``) that inform a time (a canonical ``HH:MM``, 07:00-21:00), and short answers
that state none (yes, no, goodbye, thanks, "something else?", a choice without a time). The
time turns are split by a hash of their phrase into a **train** half (where ``--tune`` sets
the thresholds) and a **report** half (what is reported), so the halves share no phrase and
each phrase is heard once; the answers without a time by a hash of their dialogue.

**Offers**: each time turn gets an offer of three times on one day (Tuesday, December 1 at the
demo salon): its own time, one within two hours of it and one on the same minute of another
hour (the agent's offers sit on the slot grid, so they often share the minute), seeded from the
turn. The caller answers with the turn's time phrase as SGD writes it ("half past 4 in the
afternoon"), framed as a short answer ("Half past 4 in the afternoon, please.").

**Audio**: said by the eval's caller voices (``evals/simulator/caller_voice.py``: ``piper``,
``piper-high``, ``espeak-f``) over the telephone line (``phone_line.py``, ``band+snr15``),
through G.711 μ-law to 16 kHz, and transcribed by the production ``transcribe`` with the
listening prompt the dialog gives after that offer (whole utterances: no VAD).

**Written answers**: every other SGD user turn that states no date or time (~9,800, halves by
dialogue), read as written after an offer: the matcher should keep quiet on words that are
not a time, and one answer in a thousand is more than the 60 spoken ones can show.

**Scores**: the regular reading (``understand``) and the booking policy decide first, as in a
call; on the turns where they found nothing to act on, the closed-set matcher
(``voice_agent.dialog.heard_times``) either asks about one time (right or WRONG), offers a
choice of two (with or without the right one), or falls back to the which-time question. The
same is counted on the answers that state no time: the matcher should never fire there.
``--tune`` sets the thresholds on the train half: the most right times asked about with no
wrong time and no non-time answer asked about even ``BUFFER`` below them (the margins half
of it); the production thresholds are printed beside them, and both halves are reported.

Everything whisper produces is cached under ``var/heard-times/`` (audio as .npy, transcripts
in ``heard.json``): ``--cached-only`` re-scores in a minute or two (the written answers)
without loading a model. It measures; it asserts nothing.

    PYTHONPATH=. .venv/bin/python benchmarks/heard_times.py --tune
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import random
import re
import sys
import time as _time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from connectors.base import Slot
from connectors.schedule import Business, load_businesses
from evals.simulator.phone_line import parse_line
from voice_agent.config import REPO_ROOT, Settings
from voice_agent.dialog.heard_times import (
    CHOICE_MARGIN,
    CHOICE_MIN,
    CONFIRM_MARGIN,
    CONFIRM_MIN,
    Candidate,
    judge,
)
from voice_agent.dialog.listening import listening_prompt
from voice_agent.dialog.policy import BookingPolicy, Check
from voice_agent.dialog.prompt import load_replies
from voice_agent.dialog.replies import ReplyRenderer, Say
from voice_agent.dialog.state import Availability, DialogState
from voice_agent.dialog.understanding import understand
from voice_agent.telephony.codec import SAMPLE_RATE, resample, ulaw_decode, ulaw_encode

sys.path.insert(0, str(Path(__file__).parent))  # run as a script or imported
from name_capture import CACHE as PIPER_CACHE
from name_capture import voice_for  # the Piper voices share one Piper run per text

CACHE = REPO_ROOT / "var" / "heard-times"
SGD = Path("/work/shared/data/sgd_turns/dev.jsonl")
TODAY = date(2026, 11, 23)  # a Monday, as the call scripts' clock
OFFER_DAY = date(2026, 12, 1)
TIME_SLOTS = {"time", "appointment_time", "pickup_time", "leaving_time", "new_alarm_time",
              "show_time", "journey_start_time", "start_time"}
FRAMES = ("{p}.", "{p}, please.", "Let's do {p}.", "I'll take {p}.")
NON_TIME_GROUPS = {  # the acts of an answer that states no time, by kind
    "yes": {"AFFIRM"}, "no": {"NEGATE", "THANK_YOU"}, "goodbye": {"GOODBYE", "THANK_YOU"},
    "thanks": {"THANK_YOU"}, "other times": {"REQUEST_ALTS"}, "select": {"SELECT"},
}
FIRST, LAST = time(7, 0), time(21, 0)
TEXT = "text"  # the written non-time answers, read as they are (no voice, no line)


# --------------------------------------------------------------------------- samples
@dataclass
class Turn:
    key: str  # dialogue_id:turn
    half: str  # train | report
    kind: str  # time | yes | no | ...
    answer: str  # what the caller says
    truth: time | None  # the time the caller means (None: states no time)
    offered: list[time]


def _half(key: str) -> str:
    return "train" if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else "report"


def _grid() -> list[time]:
    t, out = datetime.combine(OFFER_DAY, FIRST), []
    while t.time() <= LAST:
        out.append(t.time())
        t += timedelta(minutes=15)
    return out


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def make_offer(truth: time, rng: random.Random) -> list[time]:
    """The true time, one within two hours of it, one on its minute at another hour."""
    grid = [t for t in _grid() if t != truth]
    near = [t for t in grid if 15 <= abs(_minutes(t) - _minutes(truth)) <= 120]
    same_minute = [t for t in grid if t.minute == truth.minute and t.hour != truth.hour]
    first = rng.choice(near)
    second = rng.choice([t for t in same_minute if t != first] or [t for t in grid
                                                                     if t != first])
    return sorted([truth, first, second])


def load_turns(path: Path, per_half: int, non_time_per_group: int, seed: int) -> list[Turn]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    timed: dict[str, dict[str, Turn]] = {"train": {}, "report": {}}
    untimed: dict[tuple[str, str], list[Turn]] = defaultdict(list)
    for row in rows:
        key, half = f"{row['dialogue_id']}:{row['turn']}", _half(row["dialogue_id"])
        acts = {a["act"] for a in row["acts"]}
        said = next((a for a in row["acts"] if a["act"] in ("INFORM", "SELECT")
                     and a["slot"] in TIME_SLOTS and a["canonical_values"]
                     and re.fullmatch(r"\d\d:\d\d", a["canonical_values"][0])
                     and a["values"]), None)
        if said is not None:
            hh, mm = map(int, said["canonical_values"][0].split(":"))
            truth, phrase = time(hh, mm), said["values"][0].replace('"', "'")
            if not FIRST <= truth <= LAST:
                continue
            r = random.Random(key)
            answer = r.choice(FRAMES).format(p=phrase)
            answer = answer[0].upper() + answer[1:]
            folded = " ".join(phrase.lower().split())
            half = _half(folded)  # the halves share no phrase: what is reported is unseen
            if folded not in timed[half]:  # each phrase once
                timed[half][folded] = Turn(key, half, "time", answer, truth,
                                           make_offer(truth, r))
            continue
        if row["has_date_time"] or len(row["utterance"].split()) > 10:
            continue
        for kind, wanted in NON_TIME_GROUPS.items():
            if acts == wanted and row["utterance"].lower().strip(" .!") not in {
                    t.answer.lower().strip(" .!") for t in untimed[(half, kind)]}:
                r = random.Random(key)
                truth = r.choice(_grid())
                untimed[(half, kind)].append(Turn(key, half, kind, row["utterance"], None,
                                                  make_offer(truth, r)))
    turns: list[Turn] = []
    for half in ("train", "report"):
        pool = sorted(timed[half].values(), key=lambda t: t.key)
        rng.shuffle(pool)
        turns += pool[:per_half]
        for kind in NON_TIME_GROUPS:
            pool = sorted(untimed[(half, kind)], key=lambda t: t.key)
            rng.shuffle(pool)
            turns += pool[:non_time_per_group]
    return turns


def load_text_answers(path: Path, skip: set[str]) -> list[Turn]:
    """Every other SGD user turn that states no date or time, as text (no audio): does the
    matcher keep quiet on written words that are not a time? Halves by dialogue."""
    out = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        key = f"{row['dialogue_id']}:{row['turn']}"
        if row["has_date_time"] or key in skip:
            continue
        r = random.Random(key)
        out.append(Turn(key, _half(row["dialogue_id"]), "text", row["utterance"], None,
                        make_offer(r.choice(_grid()), r)))
    return out


# --------------------------------------------------------------------------- audio
def prefetch_piper(texts: list[str]) -> None:
    """Synthesise every text Piper has not said yet in one Piper process (a process per
    text spends most of its time loading the voice), into ``SharedPiper``'s cache."""
    import subprocess
    import tempfile
    import wave

    from evals.simulator.caller_voice import _trim_silence
    from voice_agent.runtime.model_files import piper_voice

    def path(text: str) -> Path:  # where SharedPiper (name_capture.py) keeps Piper's audio
        key = hashlib.sha256(f"piper-raw|{text}".encode()).hexdigest()[:16]
        return PIPER_CACHE / "audio" / "piper-raw" / f"{key}.npy"

    missing = list(dict.fromkeys(t for t in texts if not path(t).exists()))
    if not missing:
        return
    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(tmp) / "lines.txt"
        lines.write_text("\n".join(missing) + "\n")
        subprocess.run([sys.executable, "-m", "piper", "-m", str(piper_voice()[0]), "-i",
                        str(lines), "-d", str(Path(tmp) / "wav")], check=True,
                       capture_output=True)
        wavs = sorted((Path(tmp) / "wav").glob("*.wav"), key=lambda p: int(p.stem))
        if len(wavs) != len(missing):
            raise RuntimeError(f"piper wrote {len(wavs)} files for {len(missing)} lines")
        for text, wav_path in zip(missing, wavs, strict=True):
            with wave.open(str(wav_path), "rb") as wav:
                rate = wav.getframerate()
                pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
            out = path(text)
            out.parent.mkdir(parents=True, exist_ok=True)
            np.save(out, _trim_silence(pcm.astype(np.int16), rate))


def line_audio(voice_name: str, voice: Any, line_spec: str, text: str) -> np.ndarray:
    """What the agent's recogniser gets (16 kHz int16) when ``voice`` says ``text`` over the
    line (the voice's 8 kHz PCM cached, the line and μ-law applied on top)."""
    key = hashlib.sha256(f"{voice_name}|{text}".encode()).hexdigest()[:16]
    path = CACHE / "audio" / voice_name / f"{key}.npy"
    if path.exists():
        pcm = np.load(path)
    else:
        pcm = asyncio.run(voice.synthesize(text))
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, pcm)
    lined = parse_line(line_spec).apply(pcm)
    return resample(ulaw_decode(ulaw_encode(lined)), SAMPLE_RATE, 16_000)


class NotCached(Exception):
    """--cached-only: this turn has not been heard yet."""


class Store:
    def __init__(self, path: Path, *, cached_only: bool) -> None:
        self.path, self.cached_only = path, cached_only
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        self.dirty = 0

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self.data:
            if self.cached_only:
                raise NotCached(key)
            self.data[key] = make()
            self.dirty += 1
            if self.dirty >= 10:
                self.save()
        return self.data[key]

    def save(self) -> None:
        if self.cached_only or not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=0))
        tmp.replace(self.path)
        self.dirty = 0


def offer_slots(business: Business, offered: list[time]) -> list[Slot]:
    starts = [datetime.combine(OFFER_DAY, t, tzinfo=business.tz) for t in offered]
    return [Slot(start=s, end=s + timedelta(minutes=30), staff="Maria") for s in starts]


def offer_text(business: Business, replies: dict[str, str], slots: list[Slot]) -> str:
    words = ReplyRenderer(business=business, replies=replies, today=TODAY)
    return words.render(Say("offer_times", {"service": "haircut", "day": words.day(OFFER_DAY),
                                            "times": words.times(slots)}))


@dataclass
class Heard:
    turn: Turn
    voice: str
    line: str
    text: str
    logprob: float | None


def hear_all(turns: list[Turn], voices: list[str], line: str, business: Business,
             replies: dict[str, str], *, cached_only: bool) -> list[Heard]:
    from voice_agent.pipeline.whisper_model import load_whisper, transcribe
    from voice_agent.runtime.model_files import assemble_whisper

    store = Store(CACHE / "heard.json", cached_only=cached_only)
    model: Any = None
    out: list[Heard] = []
    started = _time.monotonic()
    if not cached_only and {"piper", "piper-high"} & set(voices):
        prefetch_piper([t.answer for t in turns])
    for voice_name in voices:
        voice = None
        for turn in turns:
            question = offer_text(business, replies, offer_slots(business, turn.offered))
            listening = listening_prompt(business, "time", question)
            key = f"{voice_name}|{line}|{turn.answer}|{listening.prompt}"

            def decode(turn: Turn = turn, listening: Any = listening,
                       voice_name: str = voice_name) -> Any:
                nonlocal model, voice
                if model is None:
                    settings = Settings()
                    model = load_whisper(assemble_whisper(settings.models_dir), device="cpu",
                                         compute_type="int8",
                                         cpu_threads=settings.stt_cpu_threads)
                voice = voice or voice_for(voice_name)
                pcm = line_audio(voice_name, voice, line, turn.answer)
                return transcribe(model, pcm.astype(np.int16).tobytes(),
                                  prompt=listening.prompt, examples=listening.examples)

            try:
                text, stats = store.get(key, decode)
            except NotCached:
                continue
            out.append(Heard(turn, voice_name, line, text, stats.get("avg_logprob")))
            if len(out) % 20 == 0:
                print(f"{len(out)} heard ({_time.monotonic() - started:.0f} s) "
                      f"{voice_name}: {turn.answer!r} -> {text!r}", file=sys.stderr,
                      flush=True)
        store.save()
    store.save()
    return out


# --------------------------------------------------------------------------- scores
@dataclass
class Outcome:
    heard: Heard
    regular: str  # right | other (the reading gave the policy something) | nothing
    candidates: list[Candidate]  # the matcher's scores, when it ran

    @property
    def truth(self) -> time | None:
        return self.heard.turn.truth


def decide(h: Heard, business: Business, replies: dict[str, str]) -> Outcome:
    """What the booking policy does with the heard answer, just after offering the times."""
    policy = BookingPolicy(business=business, replies=replies, today=TODAY)
    slots = offer_slots(business, h.turn.offered)
    state = DialogState(caller_phone="+15551230001", service=business.service("haircut"),
                        day=OFFER_DAY, asked="time", heard=True, offered_times=list(slots),
                        availability=Availability("haircut", OFFER_DAY, list(slots),
                                                  _time.monotonic()))
    u = understand(h.text, business, TODAY, asked="time")
    decision = policy.decide(state, u)
    event = state.heard_event
    if event is not None and event.get("verdict") != "answered":
        by_start = {s.start.isoformat(): s for s in slots}
        return Outcome(h, "nothing", [Candidate(by_start[c["start"]], c["score"], c["said"])
                                      for c in event["candidates"]])
    took = state.offer.start if state.offer is not None else (
        decision.start if isinstance(decision, Check) else None)
    right = took is not None and h.turn.truth is not None and took.timetz().replace(
        tzinfo=None) == h.turn.truth
    return Outcome(h, "right" if right else "other", [])


@dataclass(frozen=True)
class Thresholds:
    confirm_min: float = CONFIRM_MIN
    confirm_margin: float = CONFIRM_MARGIN
    choice_min: float = CHOICE_MIN
    choice_margin: float = CHOICE_MARGIN


def verdict(o: Outcome, t: Thresholds) -> tuple[str, bool]:
    """confirm | choice | none, and whether the right time is in what is asked."""
    v = judge(o.candidates, confirm_min=t.confirm_min, confirm_margin=t.confirm_margin,
              choice_min=t.choice_min, choice_margin=t.choice_margin)
    asked = v.candidates[:1] if v.kind == "confirm" else v.candidates[:2]
    return v.kind, any(c.slot.start.timetz().replace(tzinfo=None) == o.truth for c in asked)


def counts(outcomes: list[Outcome], t: Thresholds) -> dict[str, dict[str, int]]:
    by: dict[str, Counter[str]] = defaultdict(Counter)
    for o in outcomes:
        timed = o.heard.turn.kind == "time"
        text = o.heard.voice == TEXT
        for key in (o.heard.voice,) if text else (o.heard.voice, "all voices"):
            c = by[key]
            c["time turns" if timed else "non-time answers"] += 1
            if o.regular != "nothing":
                c[f"regular reading: {o.regular}" if timed else "non-time: read"] += 1
                continue
            kind, right = verdict(o, t)
            if not timed:
                c["non-time: matcher ran"] += 1
                c[f"non-time: fired ({kind})" if kind != "none" else "non-time: fell back"] += 1
                continue
            c["nothing read"] += 1
            c[{("confirm", True): "asked RIGHT time", ("confirm", False): "asked WRONG time",
               ("choice", True): "choice with right", ("choice", False): "choice without right",
               }.get((kind, right), "fell back to which-time")] += 1
    return {k: dict(v) for k, v in sorted(by.items(), key=lambda kv: (
        kv[0] == TEXT, kv[0] == "all voices"))}


BUFFER = 0.05  # no wrong question within this of the thresholds set (margins: half of it)


def tune(outcomes: list[Outcome]) -> Thresholds:
    """On the train half: the confirm thresholds that ask about the most right times while no
    wrong one (nor any answer that states no time) would be asked about even ``BUFFER`` below
    them; of those, the strictest. Then, likewise, the choice thresholds with the most choices
    holding the right time less those without it, and no non-time answer given a choice."""
    ran = [o for o in outcomes if o.regular == "nothing"]
    grid = [x / 100 for x in range(30, 100)]
    margins = [x / 100 for x in range(0, 41)]
    # judge()'s inputs, once: the three best scores, where the true time ranks (-1: not
    # offered, a non-time answer), how many times were offered
    scores = np.array([([c.score for c in o.candidates] + [0.0] * 3)[:3] for o in ran])
    rank = np.array([next((i for i, c in enumerate(o.candidates) if c.slot.start.timetz()
                           .replace(tzinfo=None) == o.truth), -1) for o in ran])
    offered = np.array([len(o.candidates) for o in ran])
    timed = np.array([o.truth is not None for o in ran])
    top, second, third = scores.T

    def tally(t: Thresholds, kind: str) -> tuple[int, int, int]:
        """(right, wrong, fired on non-time) for questions of ``kind`` under ``t``, as
        ``verdict`` counts them."""
        confirm = (offered > 0) & (top >= t.confirm_min) & (top - second >= t.confirm_margin)
        if kind == "confirm":
            asked, right = confirm, rank == 0
        else:
            asked = ~confirm & (offered > 1) & (second >= t.choice_min) & (
                second - third >= t.choice_margin)
            right = (rank == 0) | (rank == 1)
        return (int((asked & right & timed).sum()), int((asked & ~right & timed).sum()),
                int((asked & ~timed).sum()))

    def confirm_key(cmin: float, margin: float) -> tuple[Any, ...]:
        right, _, _ = tally(Thresholds(cmin, margin, 2.0, 2.0), "confirm")
        _, wrong, fired = tally(Thresholds(cmin - BUFFER, margin - BUFFER / 2, 2.0, 2.0),
                                "confirm")
        return (wrong + fired == 0, right, cmin, margin)

    best = max(confirm_key(a, b) for a in grid for b in margins)
    cmin, cmargin = best[2], best[3]

    def choice_key(mn: float, margin: float) -> tuple[Any, ...]:
        right, wrong, _ = tally(Thresholds(cmin, cmargin, mn, margin), "choice")
        _, _, fired = tally(Thresholds(cmin, cmargin, mn - BUFFER, margin - BUFFER / 2),
                            "choice")
        return (fired == 0, right - wrong, mn, margin)

    choice = max(choice_key(a, b) for a in grid for b in margins)
    return Thresholds(cmin, cmargin, choice[2], choice[3])


def closest_miss(outcomes: list[Outcome], t: Thresholds) -> dict[str, Any] | None:
    """The answer whose best time is not the caller's (or who named none) that came nearest
    to a "did you say ...?": how far short of the thresholds it fell (score or lead)."""
    def short_by(o: Outcome) -> float:
        s = [c.score for c in o.candidates] + [0.0]
        return max(t.confirm_min - s[0], t.confirm_margin - (s[0] - s[1]))

    wrong = [o for o in outcomes if o.regular == "nothing" and o.candidates and (
        o.truth is None or o.candidates[0].slot.start.timetz().replace(tzinfo=None)
        != o.truth)]
    if not wrong:
        return None
    o = min(wrong, key=short_by)
    s = [c.score for c in o.candidates] + [0.0]
    return {"voice": o.heard.voice, "said": o.heard.turn.answer, "heard": o.heard.text,
            "score": s[0], "lead": round(s[0] - s[1], 3), "short_by": round(short_by(o), 3)}


def print_table(title: str, table: dict[str, dict[str, int]]) -> None:
    cols = ["time turns", "regular reading: right", "regular reading: other", "nothing read",
            "asked RIGHT time", "asked WRONG time", "choice with right", "choice without right",
            "fell back to which-time", "non-time answers", "non-time: read",
            "non-time: matcher ran", "non-time: fired (confirm)", "non-time: fired (choice)"]
    short = ["turns", "reg ok", "reg other", "nothing", "RIGHT", "WRONG", "ch+", "ch-",
             "fallback", "non-t", "nt read", "nt ran", "nt conf", "nt ch"]
    print(f"\n== {title}")
    print(f"{'voice':12s}" + "".join(f"{s:>10s}" for s in short))
    for voice, c in table.items():
        print(f"{voice:12s}" + "".join(f"{c.get(k, 0):10d}" for k in cols))


# --------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sgd", type=Path, default=SGD)
    ap.add_argument("--per-half", type=int, default=130, help="time turns per half (at most)")
    ap.add_argument("--non-time", type=int, default=5, help="answers per kind and half")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--voices", default="piper,piper-high,espeak-f")
    ap.add_argument("--line", default="band+snr15")
    ap.add_argument("--cached-only", action="store_true")
    ap.add_argument("--collect-only", action="store_true", help="hear, score nothing")
    ap.add_argument("--tune", action="store_true", help="set the thresholds on the train half")
    ap.add_argument("--no-text-answers", dest="text_answers", action="store_false",
                    help="leave out the written non-time answers (every other SGD turn)")
    ap.add_argument("--out", type=Path,
                    default=REPO_ROOT / "evals" / "results" / "heard-times-sgd-dev.json")
    args = ap.parse_args()
    settings = Settings()
    business = load_businesses(settings.businesses_dir)["demo-salon"]
    replies = load_replies(REPO_ROOT / "prompts")
    turns = load_turns(args.sgd, args.per_half, args.non_time, args.seed)
    print(Counter((t.half, t.kind) for t in turns), file=sys.stderr)
    heard = hear_all(turns, args.voices.split(","), args.line, business, replies,
                     cached_only=args.cached_only)
    print(f"{len(heard)} heard", file=sys.stderr)
    if args.collect_only:
        return 0
    texts = load_text_answers(args.sgd, {t.key for t in turns}) if args.text_answers else []
    heard += [Heard(t, TEXT, "none", t.answer, None) for t in texts]
    outcomes = [decide(h, business, replies) for h in heard]
    train = [o for o in outcomes if o.heard.turn.half == "train"]
    report = [o for o in outcomes if o.heard.turn.half == "report"]
    production = Thresholds()
    tuned = tune(train) if args.tune else production
    print(f"thresholds: production {production}; tuned on the train half {tuned}")
    out: dict[str, Any] = {
        "source": "SGD dev user turns (CC BY-SA 4.0, google-research-datasets/"
                  "dstc8-schema-guided-dialogue), via /work/shared/data/sgd_turns",
        "voices": args.voices.split(","), "line": args.line, "seed": args.seed,
        "turns": {h: dict(Counter(t.kind for t in turns + texts if t.half == h))
                  for h in ("train", "report")},
        "production_thresholds": dataclasses.asdict(production),
        "tuned_thresholds": dataclasses.asdict(tuned),
    }
    for label, t in (("production", production), ("tuned", tuned)):
        if label == "tuned" and t == production:
            continue
        for half, rows in (("train", train), ("report", report)):
            table = counts(rows, t)
            print_table(f"{half} half, {label} thresholds {dataclasses.astuple(t)}", table)
            out[f"{half}_{label}"] = table
    for half, rows in (("train", train), ("report", report)):
        miss = closest_miss(rows, production)
        out[f"{half}_closest_miss"] = miss
        if miss:
            print(f"{half}: the wrong or non-time answer nearest to being asked about: "
                  f"{miss['heard']!r} (score {miss['score']}, lead {miss['lead']}; "
                  f"{miss['short_by']} short)")
    out["examples"] = [
        {"half": o.heard.turn.half, "voice": o.heard.voice, "said": o.heard.turn.answer,
         "heard": o.heard.text, "offered": [x.strftime("%H:%M") for x in o.heard.turn.offered],
         "verdict": verdict(o, production)[0],
         "scores": [(c.slot.start.strftime("%H:%M"), c.score, c.said) for c in o.candidates]}
        for o in outcomes if o.regular == "nothing" and (
            o.heard.voice != TEXT or verdict(o, production)[0] != "none")]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
