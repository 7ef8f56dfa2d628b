"""The pipecat processor that turns caller turns into agent replies.

It sits between STT and TTS, and replaces pipecat's user-turn processor and LLM context
aggregators: the booking policy owns the LLM context (``DialogManager``), so the system
prompt and tools stay byte-identical across turns, and the end of a caller's turn is decided
by ``TurnDetector`` (speech timeout after VAD stop, once every segment is transcribed; sooner
when the turn model's ``TurnEndScoreFrame`` for that pause is at ``turn_end_threshold`` and
the transcript reads as finished; never sooner while letters or digits are awaited).
Each turn is stored when its reply is decided and updated when its first audio reaches the
caller. While the caller spells a name or says a number, the VAD waits longer before it calls
a pause the end of speech (``VADParamsUpdateFrame`` upstream), so the letters reach whisper
as one segment: decoded alone, a single letter comes out as a word ("A" as "Okay"). Keys the
caller presses (``InputDTMFFrame``) are gathered into one keypad turn: at
``#``, at once for 1/2 when a yes or no is awaited, or after ``KEYPAD_PAUSE_S`` without a key.

When nothing comes back for ``no_input_s`` after the agent's reply (an answer the VAD did not
catch, a transcript that came out empty, a caller who stepped away), the agent says it did not
catch that and asks again, at most ``MAX_NO_INPUT_REPROMPTS`` times in a row; then it notes a
callback and ends the call. Without it a lost answer left both sides waiting in silence. An
answer that arrives as the prompt starts (a caller slow to reply: "Yes, please." a moment too
late) is the answer, never a backchannel to the prompt: in audio evals the simulated caller's
"Yes, please." to "Shall I book that?" landed under "Sorry, I didn't catch that" and was
dropped, and the booking with it.

Barge-in needs speech that lasts: the agent stops talking only when the caller has been
speaking for ``MIN_BARGE_IN_S`` after the VAD's start (a cough, an "mm-hm" or an "okay" under
a confirmation does not cut it short), and a short backchannel heard while the agent kept
talking is logged and dropped rather than answered as a turn.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    EndWorkerFrame,
    ErrorFrame,
    Frame,
    InputDTMFFrame,
    InterruptionFrame,
    StartFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    VADParamsUpdateFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.tts_service import TTSService

from voice_agent import metrics
from voice_agent.dialog.keypad import CONFIRM_KEYS, END_KEY
from voice_agent.dialog.manager import DialogManager, LLMUnavailableError
from voice_agent.dialog.spelling import LetterScores
from voice_agent.logging_utils import mask_text, remember_pii
from voice_agent.pipeline.played_marks import PlayedMarks
from voice_agent.pipeline.turn_clock import TurnClock
from voice_agent.pipeline.turn_detector import TurnDetector
from voice_agent.pipeline.turn_end_scorer import TurnEndScoreFrame
from voice_agent.store.calls import CallStore
from voice_agent.store.models import Turn

log = logging.getLogger(__name__)
KEYPAD_PAUSE_S = 4.0
_SENTENCES = re.compile(r"[^.!?]+[.!?]*")
MIN_BARGE_IN_S = 0.4  # of speech after the VAD start (itself 0.2 s of speech)
MAX_BACKCHANNEL_WORDS = 2
SPELLING_VAD_STOP_S = 0.8
SPELLING_PAUSE_S = 1.0  # after the VAD's own, longer, stop
MAX_KEYS = 20
MAX_NO_INPUT_REPROMPTS = 2
END_GRACE_S = 10.0  # a turn in flight at the end of the call (it may be writing a booking)


@dataclass
class CallOutcome:
    """What the call ended with, for the caller of the pipeline."""

    end_reason: str | None = None
    turns: int = 0
    transcript: list[tuple[str, str]] = field(default_factory=list)


class DialogProcessor(FrameProcessor):
    def __init__(
        self,
        *,
        manager: DialogManager,
        store: CallStore,
        call_id: str,
        clock: TurnClock,
        prompt_hash: str,
        tts_ready: Callable[[], Awaitable[bool]] | None = None,
        speech_timeout_s: float = 0.6,
        vad_params: VADParams | None = None,
        played: PlayedMarks | None = None,
        closing: asyncio.Event | None = None,
        turn_end_threshold: float | None = None,
        no_input_s: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._manager = manager
        self._store = store
        self._call_id = call_id
        self._clock = clock
        self._prompt_hash = prompt_hash
        self._tts_ready = tts_ready
        self._turn = TurnDetector()
        self._turn_timer: asyncio.TimerHandle | None = None
        self._speech_timeout_s = speech_timeout_s
        self._turn_end_threshold = turn_end_threshold
        self._vad_stops = 0  # numbered as the TurnEndScorer numbers them
        self._bot_speaking = False
        self._last_row: Turn | None = None
        self._turn_index = 0
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ending = False
        self._tts_failed = False
        self._barge_timer: asyncio.TimerHandle | None = None
        self._over_agent = False  # the caller's speech began while the agent was talking
        self._interrupted = False  # ... and it cut the agent off
        self._under_agent = False  # the last speech began and ended under the agent's voice
        self._vad_params = vad_params
        self._played = played
        self._reply_first = 0  # the reply's first utterance (PlayedMarks numbering)
        self._cut_short: tuple[Turn, int] | None = None  # the reply a barge-in cut, its first
        self._vad_stop_s = vad_params.stop_secs if vad_params else None
        self._keys = ""
        self._keys_timer: asyncio.TimerHandle | None = None
        self.outcome = CallOutcome()
        self._closing = closing  # set when the worker shuts down: end this call politely
        self._quiet = False  # the caller has hung up: nothing more is spoken
        self._no_input_s = no_input_s
        self._no_input_timer: asyncio.TimerHandle | None = None
        self._no_inputs = 0  # no-input prompts in a row since the caller was last heard
        self._reply_pending = False  # a reply was handed to TTS and has not started playing
        self._reprompting = False  # a no-input prompt is on its way or playing

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            self._spawn(self._manager.prefill())
            if self._closing is not None:
                self._spawn(self._close_when_told(self._closing))
            await self._say(self._manager.greeting())
        elif isinstance(frame, TranscriptionFrame):
            # Consumed here: TTS would otherwise speak the caller's own words.
            self._clock.stt_done = time.time()
            text = frame.text.strip()
            if self._under_agent and len(text.split()) <= MAX_BACKCHANNEL_WORDS:
                log.info("backchannel while the agent spoke, not a turn (%d words)",
                         len(text.split()))
                text = ""  # counted as transcribed, adds nothing to the turn
            self._turn.add_transcript(text, frame.result)
            self._maybe_end_turn()
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            await self.push_frame(frame, direction)
            self._turn.speech_started()
            self._cancel_turn_timer()
            self._cancel_no_input()
            # Speech under a no-input prompt is the answer that came late, not a backchannel.
            self._over_agent = self._bot_speaking and not self._reprompting
            self._interrupted = False
            if self._bot_speaking:  # barge-in, if the caller keeps talking
                self._barge_timer = asyncio.get_running_loop().call_later(
                    MIN_BARGE_IN_S, lambda: self._spawn(self._barge_in()))
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            await self.push_frame(frame, direction)
            self._clock.speech_end = time.time() - self._clock.vad_stop_secs
            if self._barge_timer is not None:  # too short to be an interruption
                self._barge_timer.cancel()
                self._barge_timer = None
            self._under_agent = self._over_agent and self._bot_speaking and not (
                self._interrupted)
            self._turn.speech_stopped()
            self._vad_stops += 1
            self._cancel_turn_timer()
            self._turn_timer = asyncio.get_running_loop().call_later(
                self._end_of_turn_pause(), self._on_turn_timer)
            self._arm_no_input()  # in case the speech comes out as no words
        elif isinstance(frame, TurnEndScoreFrame):
            if frame.stop == self._vad_stops and not self._turn.speaking:
                letters = self._manager.state.awaits_letters_or_digits
                self._turn.scored(frame.probability,
                                  threshold=None if letters else self._turn_end_threshold)
                self._maybe_end_turn()
        elif isinstance(frame, InputDTMFFrame):
            self._cancel_no_input()
            await self._on_key(str(frame.button.value))
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking, self._reply_pending = True, False
            self._cancel_no_input()
            await self.push_frame(frame, direction)
            if direction == FrameDirection.UPSTREAM and self._clock.awaiting_reply:
                self._clock.first_audio_sent = time.time()
                self._clock.awaiting_reply = False
                self._spawn(self._store_audio_stamps())
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = self._reprompting = False
            await self.push_frame(frame, direction)
            self._arm_no_input()
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._answer_last_words()  # before the end reaches the pipeline's sink
            await self.push_frame(frame, direction)
            await self._stop_tasks()
        elif isinstance(frame, ErrorFrame) and direction == FrameDirection.UPSTREAM:
            await self.push_frame(frame, direction)
            if frame.processor is not None and isinstance(frame.processor, TTSService):
                self._spawn(self._tts_failure(frame.error))
        else:
            await self.push_frame(frame, direction)

    def _end_of_turn_pause(self) -> float:
        """How long a silence after speech ends the caller's turn (longer for letters)."""
        if self._manager.state.awaits_letters_or_digits:
            return max(self._speech_timeout_s, SPELLING_PAUSE_S)
        return self._speech_timeout_s

    async def _barge_in(self) -> None:
        self._barge_timer = None
        if self._bot_speaking:
            self._interrupted = True
            if self._last_row is not None:
                self._cut_short = (self._last_row, self._reply_first)
            await self.push_frame(InterruptionFrame())  # stop the agent's audio (Twilio clear)

    async def _on_key(self, key: str) -> None:
        if self._bot_speaking:
            await self.push_frame(InterruptionFrame())  # a key press is a barge-in too
        if self._keys_timer is not None:
            self._keys_timer.cancel()
            self._keys_timer = None
        self._keys = (self._keys + key)[-MAX_KEYS:]
        yes_no = self._manager.state.asked == "confirm" and self._keys in CONFIRM_KEYS
        if key == END_KEY or yes_no:
            self._keys_done()
        else:
            self._keys_timer = asyncio.get_running_loop().call_later(
                KEYPAD_PAUSE_S, self._keys_done)

    def _keys_done(self) -> None:
        self._keys_timer = None
        keys, self._keys = self._keys, ""
        if keys:
            self._clock.turn_end = time.time()
            self._spawn(self._answer("", [], keys=keys))

    def _cancel_turn_timer(self) -> None:
        if self._turn_timer is not None:
            self._turn_timer.cancel()
            self._turn_timer = None

    def _arm_no_input(self) -> None:
        self._cancel_no_input()
        if self._no_input_s > 0 and not (self._ending or self._quiet):
            self._no_input_timer = asyncio.get_running_loop().call_later(
                self._no_input_s, self._on_no_input)

    def _cancel_no_input(self) -> None:
        if self._no_input_timer is not None:
            self._no_input_timer.cancel()
            self._no_input_timer = None

    def _on_no_input(self) -> None:
        self._no_input_timer = None
        t = self._turn
        if (t.speaking or t.texts or t.segments_pending > 0 or self._keys or self._bot_speaking
                or self._lock.locked() or self._ending or self._tts_failed
                or self._reply_pending):
            return  # something is on its way, being answered, or a reply is yet to play
        self._spawn(self._no_input())

    async def _no_input(self) -> None:
        """Nothing came back after the reply: say so and ask again; in the end, give up."""
        async with self._lock:
            if self._ending:
                return
            self._no_inputs += 1
            give_up = self._no_inputs > MAX_NO_INPUT_REPROMPTS
            if give_up:
                await self._manager.record_callback("caller silent")
            text = self._manager.apology("no_input_goodbye" if give_up else "no_input")
            log.info("no input for %.1f s after the reply (%d in a row)", self._no_input_s,
                     self._no_inputs)
            row = Turn(call_id=self._call_id, index=self._turn_index, caller_text=None,
                       agent_text=text, prompt_hash=self._prompt_hash,
                       policy_events=[{"event": "no_input", "silent_s": self._no_input_s,
                                       "in_a_row": self._no_inputs}])
            self._turn_index += 1
            self._clock.clear_caller_stamps()
            await self._finish_turn(row)
            self._reprompting = True
            await self._say(text)
            if give_up:
                await self._end_call("no_input")

    def _on_turn_timer(self) -> None:
        self._turn_timer = None
        self._turn.timeout_elapsed = True
        self._maybe_end_turn()

    def _maybe_end_turn(self) -> None:
        if self._turn.complete:
            self._cancel_turn_timer()  # when the turn model ended it first
            text, stats = self._turn.take()
            if self._clock is not None:
                self._clock.turn_end = time.time()
                if stats:  # the VAD's wait of this turn (longer for letters), for the bench
                    stats[-1] = {**stats[-1], "vad_stop_s": self._clock.vad_stop_secs}
            self._spawn(self._answer(text, stats))

    async def _answer_last_words(self) -> None:
        """The caller hung up right after speaking ("Yes, book it." and gone): what they said
        is still a turn. It is read, decided and stored like any other (a yes to a slot then
        books it, here or in ``flush``), though nobody is left to hear the reply."""
        if self._ending or not self._turn.texts or self._lock.locked():
            return
        if self._turn_timer is not None:
            self._turn_timer.cancel()
            self._turn_timer = None
        text, stats = self._turn.take()
        self._quiet = True
        await self._answer(text, stats)

    async def _stop_tasks(self) -> None:
        """At the end of the call nothing of it may outlive it: timers are cancelled, a turn
        in flight gets ``END_GRACE_S`` to finish (its booking is then written, or left
        pending in the outbox), and every task still running is cancelled and awaited."""
        for timer in (self._turn_timer, self._barge_timer, self._keys_timer,
                      self._no_input_timer):
            if timer is not None:
                timer.cancel()
        self._turn_timer = self._barge_timer = self._keys_timer = self._no_input_timer = None
        def running() -> list[asyncio.Task[None]]:
            return [t for t in self._tasks if not t.done() and t is not asyncio.current_task()]

        if running() and self._lock.locked():
            await asyncio.wait(running(), timeout=END_GRACE_S)
        tasks = running()  # including what the finished turn spawned
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("call task failed: %s: %s", type(exc).__name__,
                      mask_text(str(exc))[:200])

    async def _say(self, text: str, *, reset_clock: bool = True) -> None:
        if self._quiet:  # the call is over: the reply is stored, not spoken
            return
        await self._speak(text, reset_clock=reset_clock)

    async def _speak(self, text: str, *, reset_clock: bool) -> None:
        """Speak a reply a sentence at a time, so that marks tell which sentences were heard."""
        if reset_clock:
            self._clock.reset_for_reply()
        self._reply_first = self._played.next_utterance if self._played else 0
        self._reply_pending = bool(text.strip())
        for sentence in _SENTENCES.findall(text) or [text]:
            if sentence.strip():
                await self.push_frame(TTSSpeakFrame(sentence.strip()))

    async def _close_when_told(self, closing: asyncio.Event) -> None:
        """The worker is shutting down and its drain deadline passed: after the turn being
        answered (if any), say goodbye, keep what the caller wanted as a callback, and end
        the call with every turn stored."""
        await closing.wait()
        async with self._lock:
            if self._ending:
                return
            await self._manager.record_callback("worker shutting down")
            text = self._manager.apology("shutdown_goodbye")
            row = Turn(call_id=self._call_id, index=self._turn_index, caller_text=None,
                       agent_text=text, prompt_hash=self._prompt_hash,
                       policy_events=[{"event": "shutdown"}])
            self._turn_index += 1
            await self._finish_turn(row)
            await self._say(text)
            await self._end_call("shutdown")

    async def _end_call(self, reason: str) -> None:
        if self._ending:
            return
        self._ending = True
        self.outcome.end_reason = reason
        if not self._quiet:  # a call the caller already left is ending anyway
            await self.push_frame(EndWorkerFrame())

    async def _answer(self, text: str, stats: list[dict[str, Any]], keys: str | None = None
                      ) -> None:
        async with self._lock:
            if self._ending:
                return
            index = self._turn_index
            self._turn_index += 1
            self._no_inputs = 0
            self._cancel_no_input()
            heard_all = await self._store_what_was_heard()
            row = Turn(call_id=self._call_id, index=index,
                       caller_text=text if keys is None else f"(keypad) {keys}",
                       prompt_hash=self._prompt_hash)
            _fill_confidence(row, stats)
            try:
                result = await self._manager.handle_turn(
                    text, stt_avg_logprob=row.stt_avg_logprob, keys=keys, heard_all=heard_all,
                    letters=_letter_scores(stats))
            except Exception as exc:
                internal = not isinstance(exc, LLMUnavailableError)
                log.error("%s mid-call: %s: %s", "turn failed" if internal else "LLM unavailable",
                          type(exc).__name__, mask_text(str(exc))[:200])
                await self._manager.record_callback("internal error" if internal
                                                    else "llm unavailable")
                row.agent_text = self._manager.apology()
                row.policy_events = [{"event": "internal_error" if internal
                                      else "llm_unavailable", "error": type(exc).__name__}]
                await self._finish_turn(row)
                await self._say(row.agent_text, reset_clock=False)
                await self._end_call("internal_error" if internal else "llm_unavailable")
                return
            remember_pii(self._manager.state.name)  # masked in every later log line
            row.agent_text = result.agent_text
            row.tool_calls = result.tool_calls
            row.policy_events = result.policy_events
            row.llm_messages = result.llm_messages
            self._clock.llm_first_token = time.time()  # the reply text is decided
            await self._finish_turn(row)
            await self._fit_vad_to_answer()
            await self._say(result.agent_text, reset_clock=False)
            self._spawn(self._log_proposals(row))
            if result.end_call:
                await self._end_call(self._manager.state.outcome)

    async def _store_what_was_heard(self) -> bool:
        """If the caller cut the last reply short, store what they heard of it; False when
        they did not hear all of it (a yes then answers a question they may not have heard)."""
        if self._cut_short is None:
            return True
        row, first = self._cut_short
        self._cut_short = None
        row.agent_interrupted = True
        row.agent_text_heard = self._played.heard_since(first) if self._played else None
        await self._save(row)
        planned = " ".join(_SENTENCES.findall(row.agent_text or "")).strip()
        return bool(row.agent_text_heard) and row.agent_text_heard.strip() == planned

    async def _fit_vad_to_answer(self) -> None:
        """Letters and digits come with pauses: let the VAD wait longer for them."""
        if self._vad_params is None:
            return
        stop = SPELLING_VAD_STOP_S if self._manager.state.awaits_letters_or_digits else (
            self._vad_params.stop_secs)
        if stop != self._vad_stop_s:
            self._vad_stop_s = stop
            self._clock.vad_stop_secs = stop
            params = self._vad_params.model_copy(update={"stop_secs": stop})
            await self.push_frame(VADParamsUpdateFrame(params=params), FrameDirection.UPSTREAM)

    async def _finish_turn(self, row: Turn) -> None:
        """Store the turn now; store it again with audio timings once the reply plays."""
        self._clock.reset_for_reply()  # the audio stamps still belong to the previous reply
        for key, value in self._clock.snapshot().items():
            setattr(row, key, value)
        self._last_row = row
        await self._save(row)
        self.outcome.turns += 1
        self.outcome.transcript.append((row.caller_text or "", row.agent_text or ""))

    async def _store_audio_stamps(self) -> None:
        row = self._last_row
        if row is None or row.first_audio_sent_ts is not None:
            return
        row.tts_first_audio_ts = self._clock.tts_first_audio
        row.first_audio_sent_ts = self._clock.first_audio_sent
        metrics.observe_turn(row)  # the turn is final: its reply reached the caller
        await self._save(row)

    async def _save(self, row: Turn) -> None:
        """Store a turn; a store that fails is logged and the call goes on (the reply is
        still spoken, and the row is stored again with its audio stamps)."""
        try:
            await self._store.save_turn(row)
        except Exception as exc:
            log.error("turn %s of call %s not stored: %s: %s", row.index, row.call_id,
                      type(exc).__name__, mask_text(str(exc))[:200])

    async def flush(self) -> None:
        """At call end: finish what the caller said yes to (``DialogManager.hang_up``), store
        the last turn with whatever audio stamps arrived, and wait briefly for the LLM's
        background tool proposals so they are logged too."""
        try:
            await self._manager.hang_up()
        except Exception:  # the call is over either way; what was recorded stays recorded
            log.exception("finishing the call's open request failed")
        row = self._last_row
        if row is None:
            return
        await self._manager.settle(timeout_s=10)
        if row.first_audio_sent_ts is None:
            row.tts_first_audio_ts = self._clock.tts_first_audio
            row.first_audio_sent_ts = self._clock.first_audio_sent
        await self._save(row)

    async def _log_proposals(self, row: Turn) -> None:
        """Store the turn again once the LLM's background tool proposals have landed."""
        await self._manager.settle()
        await self._save(row)

    async def _tts_failure(self, error: str) -> None:
        if self._tts_failed:
            return
        self._tts_failed = True
        log.error("TTS failed mid-call: %s", error[:200])
        await self._manager.record_callback("tts unavailable")
        if self._tts_ready is not None:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not await self._tts_ready():  # noqa: ASYNC110
                await asyncio.sleep(0.5)  # polling a health endpoint: no event to wait on
        await self._say(self._manager.apology())
        await self._end_call("tts_unavailable")


def _letter_scores(stats: list[dict[str, Any]]) -> LetterScores | None:
    """The turn's audio read as the heard name's letters, when the spelling came as one
    segment (a name scored against part of its spelling proves nothing)."""
    spoken = [s for s in stats if s.get("segments")]
    return LetterScores.from_stats(spoken[0]) if len(spoken) == 1 else None


def _fill_confidence(row: Turn, stats: list[dict[str, Any]]) -> None:
    logprobs = [s["avg_logprob"] for s in stats if s.get("avg_logprob") is not None]
    no_speech = [s["no_speech_prob"] for s in stats if s.get("no_speech_prob") is not None]
    row.stt_avg_logprob = sum(logprobs) / len(logprobs) if logprobs else None
    row.stt_no_speech_prob = max(no_speech) if no_speech else None
    row.stt_segments = [dict(s) for s in stats]
