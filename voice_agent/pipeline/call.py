"""Build and run the pipecat pipeline for one phone call.

transport in (μ-law 8 kHz → PCM 16 kHz) → Silero VAD → faster-whisper (shared model)
→ dialog (turn detection, policy + LLM + tools)
→ Piper TTS (HTTP) → transport out (8 kHz μ-law) → recorder (both sides).
"""

from __future__ import annotations

import logging
import wave
from datetime import datetime
from pathlib import Path

from fastapi import WebSocket
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.audio.audio_buffer_processor import AudioBufferProcessor
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from pipecat.workers.runner import WorkerRunner

from voice_agent.business import Business
from voice_agent.dialog.manager import DialogManager, LLMOptions
from voice_agent.dialog.prompt import load_replies, render_system_prompt
from voice_agent.logging_utils import mask_phone
from voice_agent.pipeline.dialog_processor import CallOutcome, DialogProcessor
from voice_agent.pipeline.runtime import Runtime
from voice_agent.pipeline.stt import SharedWhisperSTTService
from voice_agent.pipeline.tts import TimedPiperHttpTTSService
from voice_agent.pipeline.turn_clock import TurnClock
from voice_agent.telephony.twilio_serializer import SafeTwilioFrameSerializer
from voice_agent.telephony.twilio_stream import StreamStart

log = logging.getLogger(__name__)
PIPELINE_SAMPLE_RATE = 16_000
RECORDING_RATE = 8_000


async def run_twilio_call(
    runtime: Runtime,
    websocket: WebSocket,
    start: StreamStart,
    *,
    business: Business,
    caller: str | None,
    now: datetime,
) -> CallOutcome:
    s = runtime.settings
    store = runtime.call_store
    prompt = render_system_prompt(runtime.prompts_dir, business, now)
    call = await store.create_call(
        provider="twilio", provider_call_id=start.call_sid, stream_id=start.stream_sid,
        business=business.name, caller_phone=caller, prompt_version=prompt.version,
        clock_now=now,
    )
    log.info("call %s started for %s from %s", call.id, business.name, mask_phone(caller))
    manager = DialogManager(
        business=business, connector=runtime.connector_for(business), llm=runtime.llm,
        llm_options=LLMOptions(model=s.llm_model, max_tokens=s.llm_max_tokens),
        prompt=prompt, replies=load_replies(runtime.prompts_dir), now=now,
        caller_phone=caller, outbox=runtime.outbox, call_id=call.id,
        review_threshold=s.review_threshold,
        count_llm_disagreement=s.review_on_llm_disagreement,
    )
    serializer = SafeTwilioFrameSerializer(
        start.stream_sid, call_sid=start.call_sid, account_sid=s.twilio_account_sid,
        auth_token=s.twilio_auth_token, base_url=s.twilio_api_base_url,
        params=SafeTwilioFrameSerializer.InputParams(auto_hang_up=s.twilio_hang_up),
        max_message_bytes=s.max_ws_message_bytes,
    )
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True, audio_out_enabled=True, add_wav_header=False,
            serializer=serializer, session_timeout=s.max_call_seconds,
        ),
    )
    vad = VADProcessor(vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=s.vad_stop_secs)))
    stt = SharedWhisperSTTService(model=runtime.whisper)
    if s.transfer_number and s.twilio_hang_up:
        manager.transfer_available = True

        def _transfer() -> None:
            serializer.transfer_to = s.transfer_number

        manager.on_transfer = _transfer
    clock = TurnClock(vad_stop_secs=s.vad_stop_secs)
    tts = TimedPiperHttpTTSService(
        clock=clock, base_url=f"{runtime.tts_base_url}/synthesize", aiohttp_session=runtime.http,
        settings=TimedPiperHttpTTSService.Settings(voice=runtime.models.piper_model.stem),
    )
    dialog = DialogProcessor(
        manager=manager, store=store, call_id=call.id, clock=clock,
        prompt_hash=prompt.sha256, tts_ready=runtime.tts_healthy,
        speech_timeout_s=s.user_speech_timeout_s,
    )
    recorder = AudioBufferProcessor(sample_rate=RECORDING_RATE, num_channels=2)
    output = transport.output()
    pipeline = Pipeline([
        transport.input(), vad, stt, dialog, tts, output, recorder,
    ])
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=PIPELINE_SAMPLE_RATE, audio_out_sample_rate=RECORDING_RATE,
        ),
        idle_timeout_secs=120,
    )
    recording = s.recordings_dir / f"{call.id}.wav"
    chunks: list[bytes] = []

    @recorder.event_handler("on_audio_data")
    async def _on_audio(_proc, audio: bytes, sample_rate: int, num_channels: int) -> None:
        chunks.append(audio)

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
        await recorder.stop_recording()
        _write_wav(recording, b"".join(chunks))
        await store.update_call(call.id, recording_path=str(recording),
                                outcome=manager.state.outcome)
        await store.finish_call(call.id, status=status, reason=dialog.outcome.end_reason)
        log.info("call %s ended (%s) after %d turns", call.id, dialog.outcome.end_reason,
                 dialog.outcome.turns)
    return dialog.outcome


def _write_wav(path: Path, stereo_pcm: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(RECORDING_RATE)
        wav.writeframes(stereo_pcm)
