"""Process-wide resources shared by every call on this worker.

Models load once at startup (a call never waits for a load); the readiness probe turns
green only after they are loaded and the sidecars answer. The LLM and TTS are reached over
HTTP: the embedded sidecars by default, vLLM / a Piper deployment when their URLs are set.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import openai
from faster_whisper import WhisperModel
from sqlalchemy import Engine

from connectors.base import Connector
from connectors.schedule import Business, load_businesses
from voice_agent import metrics
from voice_agent.booking.confirmations import Confirmations
from voice_agent.booking.connector_cache import ConnectorCache
from voice_agent.booking.outbox import Outbox
from voice_agent.config import Settings
from voice_agent.dialog.prompt import load_replies
from voice_agent.dialog.replies import fixed_sentences
from voice_agent.pipeline.call import CallLeg, CallResources, run_call
from voice_agent.pipeline.phrase_cache import PhraseCache
from voice_agent.pipeline.turn_end_model import TurnEndModel, load_turn_end_model
from voice_agent.runtime.model_files import ModelPaths, assemble_all, verify_model_files
from voice_agent.runtime.sidecars import Sidecar, free_port, llm_sidecar, piper_sidecar
from voice_agent.runtime.tracing import start_tracing
from voice_agent.store.calls import CallStore
from voice_agent.store.db import make_engine, upgrade
from voice_agent.store.private_files import private_dir
from voice_agent.store.secret_box import secret_box_for
from voice_agent.telephony.admission import Admission
from voice_agent.telephony.sip.pipecat_transport import SipCallTransport
from voice_agent.telephony.sip.server import SipServer, SipServerOptions
from voice_agent.telephony.stream_token import StreamTokens

log = logging.getLogger(__name__)
PURGE_INTERVAL_S = 24 * 3600


@dataclass
class Runtime:
    settings: Settings
    engine: Engine | None = None
    businesses: dict[str, Business] = field(default_factory=dict)
    models: ModelPaths | None = None
    whisper: WhisperModel | None = None
    turn_model: TurnEndModel | None = None  # Smart Turn, when settings.turn_model
    sidecars: list[Sidecar] = field(default_factory=list)
    llm_base_url: str | None = None
    tts_base_url: str | None = None
    llm: openai.AsyncOpenAI | None = None
    http: aiohttp.ClientSession | None = None
    ready: bool = False
    draining: bool = False  # shutting down: no new calls, the calls in progress may finish
    closing: asyncio.Event = field(default_factory=asyncio.Event)  # ... their time is up
    admission: Admission = field(init=False)
    phrases: PhraseCache | None = None
    _connectors: ConnectorCache | None = None
    _stream_tokens: StreamTokens | None = None
    confirmations: Confirmations | None = None  # texts, when sms_from is set
    _reconciler: asyncio.Task[None] | None = None
    _purger: asyncio.Task[None] | None = None
    sip: SipServer | None = None  # the SIP trunk listener, when sip_enabled

    def __post_init__(self) -> None:
        self.admission = Admission(self.settings.max_concurrent_calls)

    @property
    def active_calls(self) -> int:
        return self.admission.active

    @property
    def connectors(self) -> ConnectorCache:
        if self._connectors is None:
            assert self.engine is not None
            self._connectors = ConnectorCache(self.engine, secret_box_for(self.settings))
        return self._connectors

    @property
    def stream_tokens(self) -> StreamTokens:
        """One-time Media Stream tokens issued by this process's webhook (in memory)."""
        if self._stream_tokens is None:
            self._stream_tokens = StreamTokens(ttl_s=self.settings.stream_token_ttl_s)
        return self._stream_tokens

    async def start(self) -> None:
        s = self.settings
        private_dir(s.data_dir)
        private_dir(s.recordings_dir)
        start_tracing(s)  # before any call: OpenTelemetry, when an endpoint is set
        self.engine = make_engine(s.db_url)
        await asyncio.to_thread(upgrade, self.engine)
        self.businesses = load_businesses(s.businesses_dir)
        self.confirmations = confirmations_for(s, self.engine, self.businesses)
        self.models = await asyncio.to_thread(assemble_all, s.models_dir, s.llm_embedded)
        # Every file checked against its recorded sha256 right before it is loaded: a
        # mismatch (ModelIntegrityError) stops the start, nothing is loaded.
        await asyncio.to_thread(verify_model_files, self.models, s.llm_embedded)
        from voice_agent.pipeline.whisper_model import load_whisper

        started = time.monotonic()
        self.whisper = await asyncio.to_thread(
            load_whisper, self.models.whisper_dir, device=s.stt_device,
            compute_type=s.stt_compute_type, cpu_threads=s.stt_cpu_threads,
        )
        metrics.observe_model_load("whisper", time.monotonic() - started)
        if s.turn_model:
            self.turn_model = await asyncio.to_thread(load_turn_end_model)
        logs = s.data_dir / "logs"
        starts = []
        if s.llm_base_url:
            self.llm_base_url = s.llm_base_url.rstrip("/")
        else:
            sidecar = llm_sidecar(
                gguf=self.models.llm_gguf, port=s.llm_sidecar_port or free_port(),
                n_ctx=s.llm_ctx, n_threads=s.llm_threads, model_alias=s.llm_model,
                log_path=logs / "llm.log", nice=s.llm_sidecar_nice,
            )
            self.sidecars.append(sidecar)
            self.llm_base_url = sidecar.base_url + "/v1"
            starts.append(_timed("llm_sidecar", sidecar.start()))
        if s.tts_base_url:
            self.tts_base_url = s.tts_base_url.rstrip("/")
        else:
            sidecar = piper_sidecar(
                model=self.models.piper_model, port=s.tts_sidecar_port or free_port(),
                log_path=logs / "tts.log",
            )
            self.sidecars.append(sidecar)
            self.tts_base_url = sidecar.base_url
            starts.append(_timed("tts_sidecar", sidecar.start()))
        await asyncio.gather(*starts)
        self.llm = openai.AsyncOpenAI(
            base_url=self.llm_base_url, api_key=s.llm_api_key, timeout=s.llm_timeout_s,
            max_retries=1,
        )
        self.http = aiohttp.ClientSession()
        await self._warm_llm()
        await self._make_phrase_cache()
        if s.reconcile_interval_s > 0:
            self._reconciler = asyncio.create_task(self._reconcile_loop(), name="reconciler")
        if s.recordings_retention_days or s.transcripts_retention_days:
            self._purger = asyncio.create_task(self._purge_loop(), name="retention")
        if s.sip_enabled:
            await self._start_sip()
        self.ready = True

    async def _start_sip(self) -> None:
        """SIP calls go through the same per-call pipeline as Twilio's (pipeline/call.py)."""

        async def handler(transport: SipCallTransport, leg: CallLeg) -> object:
            return await run_call(self.call_resources(), transport, leg)

        self.sip = SipServer(SipServerOptions.from_settings(self.settings), handler=handler,
                             businesses=self.businesses, admission=self.admission,
                             ready=lambda: self.ready, draining=lambda: self.draining)
        await self.sip.start()
        log.info("runtime ready: llm=%s tts=%s", self.llm_base_url, self.tts_base_url)

    async def _warm_llm(self) -> None:
        """One tiny request so the first caller does not pay the model's cold start."""
        assert self.llm is not None
        try:
            await self.llm.chat.completions.create(
                model=self.settings.llm_model, messages=[{"role": "user", "content": "Hi"}],
                max_tokens=1,
            )
        except openai.OpenAIError as exc:
            log.warning("LLM warm-up failed: %s", exc)

    async def _make_phrase_cache(self) -> None:
        """The fixed sentences' audio cache; synthesised before readiness when
        ``tts_warm_phrases`` (else each is synthesised the first time a call says it)."""
        s = self.settings
        if s.tts_phrase_cache_mb <= 0:
            return
        replies = load_replies(s.prompts_dir)
        sentences = set().union(*(fixed_sentences(replies, b) for b in self.businesses.values()))
        self.phrases = PhraseCache(sentences, max_bytes=s.tts_phrase_cache_mb * 1024 * 1024)
        if s.tts_warm_phrases and self.http is not None and self.models is not None:
            added = await self.phrases.warm(self.http, f"{self.tts_base_url}/synthesize",
                                            self.models.piper_model.stem)
            log.info("phrase cache warmed: %d sentences, %.1f MB", added,
                     self.phrases.size_bytes / 1e6)

    async def _reconcile_loop(self) -> None:
        from voice_agent.booking.reconciler import OutboxReconciler

        assert self.engine is not None
        texts = self.confirmations
        reconciler = OutboxReconciler(self.engine, self.businesses, self.connector_for,
                                      sms=texts.sms if texts else None, confirmations=texts)
        await reconciler.run_forever(self.settings.reconcile_interval_s)

    async def purge_expired(self) -> Any:
        """Delete recordings and transcripts past the retention settings (a PurgeReport)."""
        from voice_agent.store.models import utcnow
        from voice_agent.store.retention import purge

        assert self.engine is not None
        s, now = self.settings, utcnow()

        def before(days: int | None) -> Any:
            return now - timedelta(days=days) if days else None

        return await asyncio.to_thread(
            purge, self.engine, s.recordings_dir,
            recordings_before=before(s.recordings_retention_days),
            transcripts_before=before(s.transcripts_retention_days))

    async def _purge_loop(self) -> None:
        """Retention applied at start and then daily, on every worker (idempotent)."""
        while True:
            try:
                await self.purge_expired()
            except Exception:
                log.exception("retention purge failed")
            await asyncio.sleep(PURGE_INTERVAL_S)

    async def drain(self, deadline_s: float, *, goodbye_s: float = 20.0) -> int:
        """Stop taking calls; let those in progress finish for up to ``deadline_s``; then
        have each say goodbye and hang up (its request kept as a callback), waiting up to
        ``goodbye_s`` for that. Returns how many calls had to be ended."""
        self.draining = True
        log.warning("draining: %d call(s) in progress, deadline %.0f s", self.active_calls,
                    deadline_s)
        loop = asyncio.get_running_loop()
        ended = 0
        for wait_s, close in ((deadline_s, False), (goodbye_s, True)):
            if close and self.active_calls:
                ended = self.active_calls
                log.warning("drain deadline passed: ending %d call(s) politely", ended)
                self.closing.set()
            until = loop.time() + wait_s
            while self.active_calls and loop.time() < until:  # noqa: ASYNC110  (a count, no event)
                await asyncio.sleep(0.1)
        return ended

    async def stop(self) -> None:
        self.ready = False
        if self.sip is not None:
            await self.sip.stop()
        for task in (self._reconciler, self._purger):
            if task is not None:
                task.cancel()
        if self.http is not None:
            await self.http.close()
        if self.llm is not None:
            await self.llm.close()
        if self._connectors is not None:
            await self._connectors.aclose()
        if self.confirmations is not None:
            await self.confirmations.aclose()  # texts in flight get a moment to go out
        await asyncio.gather(*(s.stop() for s in self.sidecars), return_exceptions=True)
        if self.engine is not None:
            self.engine.dispose()

    def sidecar(self, name: str) -> Sidecar | None:
        return next((s for s in self.sidecars if s.name == name), None)

    async def tts_healthy(self) -> bool:
        sidecar = self.sidecar("tts")
        if sidecar is not None:
            return await sidecar.healthy()
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"{self.tts_base_url}/voices")).status_code < 500
        except httpx.HTTPError:
            return False

    def breaker_states(self) -> list[tuple[str, str, str]]:
        """Circuit state of each connector built so far (none before the first call)."""
        return self._connectors.breaker_states() if self._connectors is not None else []

    def connector_for(self, business: Business) -> Connector:
        """The business's configured connector (builtin when none is configured), wrapped in
        the shared timeout/retry/circuit-breaker layer; rebuilt when its config changes."""
        assert self.engine is not None
        return self.connectors.get(business)

    def call_resources(self) -> CallResources:
        """What a call needs from this worker (the models are loaded once, here)."""
        assert self.whisper is not None and self.llm is not None and self.http is not None
        assert self.models is not None and self.tts_base_url is not None
        return CallResources(
            settings=self.settings, whisper=self.whisper, llm=self.llm, http=self.http,
            tts_base_url=self.tts_base_url, piper_voice=self.models.piper_model.stem,
            connector_for=self.connector_for, call_store=self.call_store, outbox=self.outbox,
            tts_healthy=self.tts_healthy, phrases=self.phrases, closing=self.closing,
            turn_model=self.turn_model,
        )

    @property
    def call_store(self) -> CallStore:
        assert self.engine is not None
        return CallStore(self.engine)

    @property
    def outbox(self) -> Outbox:
        assert self.engine is not None
        return Outbox(self.engine, confirmations=self.confirmations)

    @property
    def prompts_dir(self) -> Path:
        return self.settings.prompts_dir


async def _timed(model: str, start: Awaitable[None]) -> None:
    """Start a model's sidecar and record how long it took to answer (its load time)."""
    started = time.monotonic()
    await start
    metrics.observe_model_load(model, time.monotonic() - started)


def confirmations_for(settings: Settings, engine: Engine,
                      businesses: dict[str, Business]) -> Confirmations | None:
    """Texts through Twilio Messaging when a sending number is configured."""
    if not settings.sms_from:
        return None
    from voice_agent.booking.sms import TwilioSms
    from voice_agent.dialog.prompt import load_replies

    sms = TwilioSms(account_sid=settings.twilio_account_sid,
                    auth_token=settings.twilio_auth_token, sender=settings.sms_from,
                    base_url=settings.twilio_api_base_url)
    return Confirmations(engine=engine, sms=sms, texts=load_replies(settings.prompts_dir),
                         businesses=businesses)
