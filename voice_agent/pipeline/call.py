"""Build and run the pipecat pipeline for one phone call, whatever carries its audio.

transport in (8 kHz telephone audio → PCM 16 kHz) → Silero VAD → faster-whisper (shared model)
→ dialog (turn detection, policy + LLM + tools)
→ Piper TTS (HTTP) → transport out (8 kHz) → recorder (both sides).

The transport comes from the telephony layer (Twilio Media Streams today, a SIP/RTP leg
tomorrow); everything this call needs from its worker comes in as :class:`CallResources`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import aiohttp
import openai
from faster_whisper import WhisperModel
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.audio.audio_buffer_processor import AudioBufferProcessor
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.transports.base_transport import BaseTransport
from pipecat.workers.runner import WorkerRunner

from connectors.base import Connector
from connectors.schedule import Business
from voice_agent import metrics
from voice_agent.booking.outbox import Outbox
from voice_agent.config import Settings
from voice_agent.dialog.llm_reading import LLMReader
from voice_agent.dialog.manager import DialogManager, LLMOptions
from voice_agent.dialog.prompt import load_replies, render_system_prompt
from voice_agent.logging_utils import mask_phone
from voice_agent.pipeline.dialog_processor import CallOutcome, DialogProcessor
from voice_agent.pipeline.phrase_cache import PhraseCache
from voice_agent.pipeline.played_marks import PlayedMarks
from voice_agent.pipeline.recording import StreamingWav
from voice_agent.pipeline.stt import SharedWhisperSTTService
from voice_agent.pipeline.tts import TimedPiperHttpTTSService
from voice_agent.pipeline.turn_clock import TurnClock
from voice_agent.pipeline.turn_end_model import TurnEndModel
from voice_agent.pipeline.turn_end_scorer import TurnEndScorer
from voice_agent.store.calls import CallStore

log = logging.getLogger(__name__)
PIPELINE_SAMPLE_RATE = 16_000
RECORDING_RATE = 8_000
# The recorder hands over (and the file grows by) about a second of audio at a time: bytes of
# one track (16-bit mono at RECORDING_RATE), the stereo chunk is twice that.
RECORDING_CHUNK_BYTES = RECORDING_RATE * 2


@dataclass(frozen=True)
class CallResources:
    """What one call draws from its worker: shared models, clients and stores."""

    settings: Settings
    whisper: WhisperModel
    llm: openai.AsyncOpenAI
    http: aiohttp.ClientSession
    tts_base_url: str
    piper_voice: str
    connector_for: Callable[[Business], Connector]
    call_store: CallStore
    outbox: Outbox
    tts_healthy: Callable[[], Awaitable[bool]]
    phrases: PhraseCache | None = None  # fixed sentences' audio, shared by the worker's calls
    closing: asyncio.Event | None = None  # set when the worker's drain deadline has passed
    turn_model: TurnEndModel | None = None  # Smart Turn, shared; None: the timeout alone


def pipeline_worker(pipeline: Pipeline, *, call_id: str, tracing: bool) -> PipelineWorker:
    """The call's pipecat worker; with ``tracing`` (an OpenTelemetry exporter configured:
    ``runtime/tracing.py``) pipecat's conversation and turn spans carry the call's id."""
    return PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=PIPELINE_SAMPLE_RATE, audio_out_sample_rate=RECORDING_RATE,
        ),
        idle_timeout_secs=120,
        enable_rtvi=False,  # no RTVI client on a phone call (it logged every Twilio mark echo)
        enable_tracing=tracing, conversation_id=call_id,
    )


@dataclass(frozen=True)
class CallLeg:
    """Who is calling whom, as the telephony layer saw it."""

    provider: str  # twilio | sip
    provider_call_id: str
    stream_id: str | None
    caller: str | None
    business: Business
    now: datetime
    transfer: Callable[[], None] | None = None  # hands the caller to a human, when possible
    attestation: str | None = None  # how far the carrier vouches for the caller ID


async def run_call(resources: CallResources, transport: BaseTransport, leg: CallLeg
                   ) -> CallOutcome:
    s = resources.settings
    store = resources.call_store
    business, now = leg.business, leg.now
    prompt = render_system_prompt(s.prompts_dir, business, now)
    call = await store.create_call(
        provider=leg.provider, provider_call_id=leg.provider_call_id, stream_id=leg.stream_id,
        business=business.name, caller_phone=leg.caller, prompt_version=prompt.version,
        clock_now=now, caller_attestation=leg.attestation,
    )
    log.info("call %s started for %s from %s", call.id, business.name, mask_phone(leg.caller))
    manager = DialogManager(
        business=business, connector=resources.connector_for(business), llm=resources.llm,
        llm_options=LLMOptions(model=s.llm_model, max_tokens=s.llm_max_tokens,
                               reply_budget_s=s.llm_reply_budget_s),
        prompt=prompt, now=now,
        replies=load_replies(s.prompts_dir, texts=resources.outbox.confirmations is not None),
        caller_phone=leg.caller, outbox=resources.outbox, call_id=call.id,
        review_threshold=s.review_threshold,
        count_llm_disagreement=s.review_on_llm_disagreement,
        propose_tools=s.llm_tool_proposals,
        reader=LLMReader(resources.llm, model=s.llm_model, business=business,
                         schema_mode=s.schema_mode),
        reading=s.reading_mode,
    )
    vad_params = VADParams(stop_secs=s.vad_stop_secs, confidence=s.vad_confidence,
                           min_volume=s.vad_min_volume)
    # Building Silero's ONNX session takes ~40 ms of CPU: not on the loop other calls share.
    vad = VADProcessor(vad_analyzer=await asyncio.to_thread(SileroVADAnalyzer, params=vad_params))
    stt = SharedWhisperSTTService(
        model=resources.whisper, beam_size=s.stt_beam_size,
        prompt=manager.listening_prompt if s.stt_context else None,
        later_scores=manager.expect_name_rivals)
    if leg.transfer is not None:
        manager.transfer_available = True
        manager.on_transfer = leg.transfer
    clock = TurnClock(vad_stop_secs=s.vad_stop_secs)
    tts = TimedPiperHttpTTSService(
        clock=clock, base_url=f"{resources.tts_base_url}/synthesize",
        aiohttp_session=resources.http, phrases=resources.phrases,
        settings=TimedPiperHttpTTSService.Settings(voice=resources.piper_voice),
    )
    played = PlayedMarks(stream_sid=leg.stream_id)
    dialog = DialogProcessor(
        manager=manager, store=store, call_id=call.id, clock=clock,
        prompt_hash=prompt.sha256, tts_ready=resources.tts_healthy,
        speech_timeout_s=s.user_speech_timeout_s, vad_params=vad_params, played=played,
        no_input_s=s.no_input_reprompt_s,
        closing=resources.closing,
        turn_end_threshold=s.turn_end_threshold if resources.turn_model else None,
    )
    scorer = [TurnEndScorer(resources.turn_model)] if resources.turn_model else []
    recorder = AudioBufferProcessor(sample_rate=RECORDING_RATE, num_channels=2,
                                    buffer_size=RECORDING_CHUNK_BYTES)
    output = transport.output()
    pipeline = Pipeline([
        transport.input(), vad, *scorer, stt, dialog, tts, played, output, recorder,
    ])
    worker = pipeline_worker(pipeline, call_id=call.id, tracing=bool(s.otel_endpoint))
    recording = StreamingWav(s.recordings_dir / f"{call.id}.wav", sample_rate=RECORDING_RATE)

    @recorder.event_handler("on_audio_data")
    async def _on_audio(_proc, audio: bytes, sample_rate: int, num_channels: int) -> None:
        recording.write(audio)  # ~32 kB a second: appended at once, not kept

    @transport.event_handler("on_client_connected")
    async def _on_connected(_transport, _client) -> None:
        await recorder.start_recording()

    @transport.event_handler("on_client_disconnected")
    async def _on_disconnected(_transport, _client) -> None:
        if dialog.outcome.end_reason is None:
            dialog.outcome.end_reason = "caller_hung_up"
        await worker.cancel()

    status = "completed"
    try:
        await WorkerRunner(handle_sigint=False).run(worker)
    except Exception:
        status = "failed"
        log.exception("call %s pipeline failed", call.id)
        raise
    finally:
        await dialog.flush()
        await recorder.stop_recording()  # hands over the last partial second
        recording.close()
        await store.update_call(call.id, recording_path=str(recording.path),
                                outcome=manager.state.outcome)
        await store.finish_call(call.id, status=status, reason=dialog.outcome.end_reason)
        metrics.observe_call(outcome=manager.state.outcome, end_reason=dialog.outcome.end_reason,
                             status=status)
        log.info("call %s ended (%s) after %d turns", call.id, dialog.outcome.end_reason,
                 dialog.outcome.turns)
    return dialog.outcome

