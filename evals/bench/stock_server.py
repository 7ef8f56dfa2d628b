"""Stock pipecat on the same models: the baseline ``voice-agent bench latency`` compares against.

The bot is pipecat's own Twilio voice agent, wired as pipecat 1.14 wires it
(``examples/getting-started/06-voice-agent.py`` run with ``-t twilio``; its transport from
``pipecat.runner.utils._create_telephony_transport``, its webhook from
``pipecat.runner.run._setup_telephony_routes``):

    FastAPIWebsocketTransport(TwilioFrameSerializer) → WhisperSTTService → LLMContextAggregatorPair
    (default user turn strategies, Silero VAD) → OpenAILLMService → PiperHttpTTSService → out

with our models in place of its cloud services: ``WhisperSTTService`` on our assembled whisper
directory, ``OpenAILLMService`` on the same llama.cpp server binary and GGUF (started with our
``llm_sidecar``) with our rendered system prompt, ``PiperHttpTTSService`` on a Piper sidecar with
our voice. ``UserBotLatencyObserver`` measures each turn; every breakdown is appended to
``DATA_DIR/stock-latency.jsonl`` (one JSON object per line, with the call's ``call_sid``).

Differences from the example, each because the simulator or this box needs it: the webhook is
answered at ``/telephony/twilio/voice`` with the business and the pinned clock as ``<Parameter>``s
(the example ignores both); no signature or token is checked; replies are capped at our
``llm_max_tokens`` (as ours are: a 0.5B model left uncapped can talk for minutes);
``auto_hang_up=False`` (no Twilio account behind a local run); the LLM service says
``supports_developer_role = False``, as pipecat's ``OLLamaLLMService`` does, since llama.cpp's
server accepts no ``developer`` role (so the example's greeting instruction goes as "user");
the LLM gets the same one-token warm-up request before readiness as ours. It books nothing.

Run as its own process (``stock_server()`` below does): ``python -m evals.bench.stock_server
--port P --data-dir D``; settings (models, LLM/TTS URLs, STT device) come from the environment
exactly as for ``voice-agent serve``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from rich.console import Console

from evals.simulator.server import server_process
from voice_agent.runtime.sidecars import free_port
from voice_agent.telephony.twilio_webhook import connect_stream_twiml, stream_url

LATENCY_FILE = "stock-latency.jsonl"


@dataclass
class StockConfig:
    whisper_dir: str
    stt_device: str
    stt_compute_type: str
    llm_base_url: str
    llm_model: str
    llm_api_key: str
    llm_max_tokens: int
    tts_base_url: str
    piper_voice: str
    prompts_dir: Path
    businesses: dict[str, Any]
    out_dir: Path


BotRunner = Callable[[WebSocket, StockConfig], Awaitable[None]]


def create_app(config: Callable[[], StockConfig | None], run_bot: BotRunner,
               lifespan: Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]
               | None = None) -> FastAPI:
    """The webhook, the media WebSocket and ``/readyz``. ``config()`` is None until the models
    and sidecars are up; ``run_bot`` runs one call (``run_stock_bot`` in production)."""
    app = FastAPI(title="stock pipecat (bench baseline)", lifespan=lifespan)

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        ready = config() is not None
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    @app.post("/telephony/twilio/voice")
    async def voice(request: Request) -> Response:
        parameters = {k: request.query_params[k] for k in ("business", "now")
                      if k in request.query_params}
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        parameters["from_number"] = form.get("From", "")[:32]
        twiml = connect_stream_twiml(ws_url=stream_url(str(request.url), path="/ws"),
                                     parameters=parameters)
        return Response(twiml, media_type="application/xml")

    @app.websocket("/ws")
    async def media(websocket: WebSocket) -> None:
        cfg = config()
        await websocket.accept()
        if cfg is None:
            await websocket.close(code=1013)
            return
        await run_bot(websocket, cfg)

    return app


async def run_stock_bot(websocket: WebSocket, cfg: StockConfig) -> None:
    """One call through stock pipecat (06-voice-agent's ``run_bot``, our models)."""
    import aiohttp
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.frames.frames import LLMRunFrame
    from pipecat.observers.user_bot_latency_observer import UserBotLatencyObserver
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import (
        LLMContextAggregatorPair,
        LLMUserAggregatorParams,
    )
    from pipecat.runner.utils import parse_telephony_websocket
    from pipecat.serializers.twilio import TwilioFrameSerializer
    from pipecat.services.openai.llm import OpenAILLMService
    from pipecat.services.piper.tts import PiperHttpTTSService
    from pipecat.services.whisper.stt import WhisperSTTService
    from pipecat.transports.websocket.fastapi import (
        FastAPIWebsocketParams,
        FastAPIWebsocketTransport,
    )
    from pipecat.workers.runner import WorkerRunner

    from voice_agent.dialog.prompt import render_system_prompt

    _, call_data = await parse_telephony_websocket(websocket)
    body = call_data.get("body") or {}
    business = cfg.businesses[body.get("business") or next(iter(cfg.businesses))]
    now = datetime.fromisoformat(body["now"]) if body.get("now") else datetime.now(UTC)
    prompt = render_system_prompt(cfg.prompts_dir, business, now)
    call_sid = call_data["call_id"]
    serializer = TwilioFrameSerializer(
        stream_sid=call_data["stream_id"], call_sid=call_sid,
        params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
    )
    transport = FastAPIWebsocketTransport(websocket=websocket, params=FastAPIWebsocketParams(
        audio_in_enabled=True, audio_out_enabled=True, add_wav_header=False,
        serializer=serializer))
    stt = WhisperSTTService(device=cfg.stt_device, compute_type=cfg.stt_compute_type,
                            settings=WhisperSTTService.Settings(model=cfg.whisper_dir))
    async with aiohttp.ClientSession() as http:
        tts = PiperHttpTTSService(base_url=f"{cfg.tts_base_url}/synthesize", aiohttp_session=http,
                                  settings=PiperHttpTTSService.Settings(voice=cfg.piper_voice))
        class LlamaCppLLMService(OpenAILLMService):
            # llama.cpp's server has no "developer" role: pipecat's own switch for such
            # OpenAI-compatible servers (its OLLamaLLMService sets the same) sends it as "user".
            supports_developer_role = False

        llm = LlamaCppLLMService(api_key=cfg.llm_api_key, base_url=cfg.llm_base_url,
                               settings=OpenAILLMService.Settings(
                                   model=cfg.llm_model, max_tokens=cfg.llm_max_tokens,
                                   system_instruction=f"{prompt.text}\n\n{prompt.clock}"))
        context = LLMContext()
        user_aggregator, assistant_aggregator = LLMContextAggregatorPair(
            context, user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer()))
        pipeline = Pipeline([transport.input(), stt, user_aggregator, llm, tts,
                             transport.output(), assistant_aggregator])
        latency = UserBotLatencyObserver()
        worker = PipelineWorker(
            pipeline, params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
            observers=[latency])
        out = cfg.out_dir / LATENCY_FILE

        @latency.event_handler("on_latency_breakdown")
        async def _on_breakdown(_observer: Any, breakdown: Any) -> None:
            record = {"call_sid": call_sid, "at": time.time(), **breakdown.model_dump(mode="json")}
            with out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

        @transport.event_handler("on_client_connected")
        async def _on_connected(_transport: Any, _client: Any) -> None:
            context.add_message({"role": "developer",
                                 "content": "Please introduce yourself to the user."})
            await worker.queue_frames([LLMRunFrame()])

        runner = WorkerRunner(handle_sigint=False)

        @transport.event_handler("on_client_disconnected")
        async def _on_disconnected(_transport: Any, _client: Any) -> None:
            await runner.cancel()

        await runner.run(worker)


# -- its own process ---------------------------------------------------------------------------
def _serve(port: int, data_dir: Path) -> None:  # pragma: no cover - runs in the child
    import uvicorn

    from connectors.schedule import load_businesses
    from voice_agent.config import Settings
    from voice_agent.runtime.model_files import assemble_all
    from voice_agent.runtime.sidecars import llm_sidecar, piper_sidecar

    s = Settings(data_dir=data_dir, database_url=None)
    state: dict[str, StockConfig] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        models = await asyncio.to_thread(assemble_all, s.models_dir, s.llm_embedded)
        sidecars, logs = [], data_dir / "logs"
        llm_url, tts_url = (s.llm_base_url or "").rstrip("/"), (s.tts_base_url or "").rstrip("/")
        if not llm_url:  # the same server, model, context and threads as `voice-agent serve`
            llm = llm_sidecar(gguf=models.llm_gguf, port=free_port(), n_ctx=s.llm_ctx,
                              n_threads=s.llm_threads, model_alias=s.llm_model,
                              log_path=logs / "llm.log", nice=s.llm_sidecar_nice)
            sidecars.append(llm)
            llm_url = llm.base_url + "/v1"
        if not tts_url:
            tts = piper_sidecar(model=models.piper_model, port=free_port(),
                                log_path=logs / "tts.log")
            sidecars.append(tts)
            tts_url = tts.base_url
        await asyncio.gather(*(sc.start() for sc in sidecars))
        await _warm_llm(llm_url, s.llm_model, s.llm_api_key)
        state["config"] = StockConfig(
            whisper_dir=str(models.whisper_dir), stt_device=s.stt_device,
            stt_compute_type=s.stt_compute_type, llm_base_url=llm_url, llm_model=s.llm_model,
            llm_api_key=s.llm_api_key, llm_max_tokens=s.llm_max_tokens, tts_base_url=tts_url,
            piper_voice=models.piper_model.stem, prompts_dir=s.prompts_dir,
            businesses=load_businesses(s.businesses_dir), out_dir=data_dir)
        try:
            yield
        finally:
            state.clear()
            await asyncio.gather(*(sc.stop() for sc in sidecars), return_exceptions=True)

    app = create_app(lambda: state.get("config"), run_stock_bot, lifespan)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


async def _warm_llm(base_url: str, model: str, api_key: str) -> None:
    """The tiny request ``voice-agent serve`` makes before readiness, so neither agent's first
    caller pays the model's cold start (a failure is left for the first call to show)."""
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=120, max_retries=1)
    try:
        await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hi"}], max_tokens=1)
    except openai.OpenAIError:
        pass
    finally:
        await client.close()


@contextlib.contextmanager
def stock_server(data_dir: Path, *, console: Console, port: int = 0,
                 env: dict[str, str] | None = None) -> Iterator[str]:
    """Run the stock bot in a subprocess with its data under ``data_dir``; yields its base URL
    once ``/readyz`` is green; stops it (and its sidecars) on exit. ``env`` as for
    ``agent_server`` (a bench profile's settings)."""
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "stock-server.log"
    console.print(f"[dim]starting stock pipecat on {base_url} (log: {log_path})[/]")
    t0 = time.monotonic()
    with server_process([sys.executable, "-m", "evals.bench.stock_server", "--port", str(port),
                         "--data-dir", str(data_dir)], base_url=base_url,
                        env=os.environ | (env or {}) | {"VOICE_AGENT_ENV": "dev"},
                        log_path=log_path):
        console.print(f"[dim]stock pipecat ready in {time.monotonic() - t0:.1f} s[/]")
        yield base_url


def read_breakdowns(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / LATENCY_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    ns = parser.parse_args()
    _serve(ns.port, ns.data_dir)
