"""The only place that reads the environment.

Every setting can be given as an environment variable prefixed ``VOICE_AGENT_`` (or in a
``.env`` file). A few well-known names are accepted without the prefix (``LLM_BASE_URL``,
``TTS_BASE_URL``, ``DATABASE_URL``, ``TWILIO_*``) so deployments read naturally.
Outside ``env=dev`` the settings refuse to start with default secrets; in ``dev`` they refuse
anything that faces the outside (a non-loopback bind, a public URL), and ``voice-agent serve``
warns loudly that it runs in development mode. Validation errors never echo input values.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
# The deployment's business definitions (configuration, not eval fixtures): one YAML each.
DEFAULT_BUSINESSES_DIR = REPO_ROOT / "businesses"
DEV_TWILIO_TOKEN = "dev-twilio-auth-token"
DEV_TWILIO_ACCOUNT = "AC00000000000000000000000000000000"


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address (``127.0.0.0/8``, ``::1``)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refuse_dev_bind(host: str) -> None:
    """Development mode runs with public, well-known secrets: it may only listen on loopback."""
    if not is_loopback(host):
        raise ValueError(
            f"refusing to listen on {host[:60]!r} in development mode (VOICE_AGENT_ENV=dev "
            "uses a public Twilio token); bind 127.0.0.1, or set VOICE_AGENT_ENV=prod with "
            "TWILIO_AUTH_TOKEN and VOICE_AGENT_SECRET_KEY"
        )


def _alias(name: str) -> AliasChoices:
    return AliasChoices(f"VOICE_AGENT_{name}", name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VOICE_AGENT_", env_file=".env", extra="ignore", populate_by_name=True,
        # A validation error must never print a secret (it used to show part of SECRET_KEY).
        hide_input_in_errors=True,
    )

    env: Literal["dev", "test", "prod"] = "dev"
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = Field(
        default=None,
        description="Externally visible base URL (https://...) used in TwiML and for "
        "signature validation behind a proxy. Defaults to the request's own URL.",
    )
    data_dir: Path = REPO_ROOT / "var"
    models_dir: Path = REPO_ROOT / ".models"
    database_url: str | None = Field(default=None, validation_alias=_alias("DATABASE_URL"))
    businesses_dir: Path = DEFAULT_BUSINESSES_DIR
    prompts_dir: Path = REPO_ROOT / "prompts"

    # Twilio
    twilio_account_sid: str = Field(
        DEV_TWILIO_ACCOUNT, validation_alias=_alias("TWILIO_ACCOUNT_SID")
    )
    twilio_auth_token: str = Field(DEV_TWILIO_TOKEN, validation_alias=_alias("TWILIO_AUTH_TOKEN"))
    twilio_api_base_url: str = Field(
        "https://api.twilio.com", validation_alias=_alias("TWILIO_API_BASE_URL")
    )
    twilio_hang_up: bool = True
    # Confirmations by text (Twilio Messaging, at twilio_api_base_url): the number they are
    # sent from. Unset: no texts, and the agent never promises one.
    sms_from: str | None = Field(default=None, validation_alias=_alias("SMS_FROM"))
    default_business: str = "demo-salon"
    transfer_number: str | None = Field(
        default=None,
        description="E.164 number a caller asking for a human is transferred to (Twilio <Dial>). "
        "Unset: the agent takes a callback request instead.",
    )

    # SIP trunks (voice_agent/telephony/sip/): off unless enabled. Bound to loopback and
    # answering only loopback peers by default: list the trunk's addresses (IPs or CIDR,
    # comma-separated) in sip_allowed_peers before binding a public address.
    sip_enabled: bool = False
    sip_host: str = "127.0.0.1"
    sip_port: int = Field(5060, ge=0, le=65535)
    sip_tcp: bool = True
    sip_advertised_host: str | None = Field(
        default=None, description="Address put in Via, Contact and SDP (behind NAT: the public "
        "one). Defaults to sip_host, or the first non-loopback address when that is 0.0.0.0.")
    sip_allowed_peers: str = ""
    sip_rtp_port_min: int = Field(20000, ge=1024, le=65534)
    sip_rtp_port_max: int = Field(20999, ge=1025, le=65535)
    # Called number (the Request-URI's user) -> business name, as JSON; a Request-URI naming a
    # business picks it too; anything else gets default_business.
    sip_numbers: dict[str, str] = Field(default_factory=dict)
    # Digest authentication of the trunk (both set: every INVITE must authenticate).
    sip_username: str | None = None
    sip_password: SecretStr | None = None
    # Blind transfer target for "a human, please" (REFER); default sip:<transfer_number>@<trunk>
    sip_transfer_uri: str | None = Field(default=None, max_length=200)
    sip_answer_delay_s: float = Field(0.0, ge=0, le=30)  # rings before answering
    sip_rate_per_s: float = Field(20.0, ge=0)  # new requests per source address (0 = off)
    sip_rate_burst: float = Field(40.0, ge=1)

    # LLM: any OpenAI-compatible server (vLLM in production). Unset = embedded llama.cpp.
    llm_base_url: str | None = Field(default=None, validation_alias=_alias("LLM_BASE_URL"))
    llm_api_key: str = Field("not-needed", validation_alias=_alias("LLM_API_KEY"))
    llm_model: str = Field("qwen2.5-coder-0.5b-instruct", validation_alias=_alias("LLM_MODEL"))
    # Which embedded GGUF the llama.cpp sidecar serves (voice_agent/runtime/model_files.py):
    # qwen2.5-coder-0.5b (the `models` extra) or qwen2.5-coder-1.5b (the `models-1-5b` extra).
    llm_embedded: Literal["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"] = "qwen2.5-coder-0.5b"
    llm_timeout_s: float = 30.0
    # How long the caller may wait in silence for a free LLM reply (then a clarifying question)
    llm_reply_budget_s: float = Field(8.0, gt=0)
    # Calls this worker takes at once (admission); above it the webhook says a short
    # message and hangs up, and /readyz reports not-ready. Size it with `voice-agent bench
    # load` on the target machine.
    max_concurrent_calls: int = Field(4, ge=1, le=1000)
    # The sentences every call says word for word, synthesised once per worker (0: off);
    # warmed before readiness when set, else the first call to say one synthesises it.
    tts_phrase_cache_mb: int = Field(48, ge=0, le=4096)
    tts_warm_phrases: bool = False
    capacity_message: str = Field(
        "Sorry, all our lines are busy right now. Please call again in a few minutes.",
        max_length=300)
    llm_max_tokens: int = 160
    llm_ctx: int = 4096
    llm_threads: int = 2
    # CPU niceness of the embedded LLM server: on a shared CPU, speech recognition (on the
    # critical path) wins over the LLM's background prefill and tool proposals.
    llm_sidecar_nice: int = Field(5, ge=0, le=19)

    # TTS: Piper HTTP server. Unset = embedded Piper sidecar.
    tts_base_url: str | None = Field(default=None, validation_alias=_alias("TTS_BASE_URL"))

    # STT (faster-whisper). GPU: stt_device=cuda, stt_compute_type=float16.
    stt_device: str = "cpu"
    stt_compute_type: str = "int8"
    stt_cpu_threads: int = 2
    # Condition each transcription on what the agent expects to hear (dialog/listening.py),
    # gated against hallucination (pipeline/whisper_model.py); beam size of the decoder.
    stt_context: bool = True
    stt_beam_size: int = Field(1, ge=1, le=10)

    # Turn taking
    vad_stop_secs: float = 0.2
    # Silero's speech threshold and the minimum volume it counts. Of 72 short answers ("Yes.",
    # "No, thanks.") said by three caller voices over three phone lines, pipecat's defaults
    # (0.7, 0.6) caught 64 and 68 in two runs, 0.6 and 0.3 caught 71 and 72, with no false
    # start in 9 minutes of line noise either way (benchmarks/vad_phone_line.py).
    vad_confidence: float = Field(0.6, ge=0.1, le=0.95)
    vad_min_volume: float = Field(0.3, ge=0.0, le=1.0)
    user_speech_timeout_s: float = 0.6
    # Seconds of silence after the agent's reply before it says it heard nothing and asks
    # again (an answer the VAD missed, or a caller who stepped away); after
    # MAX_NO_INPUT_REPROMPTS such prompts in a row the call ends with a callback noted.
    # 0 turns it off. At 6 s the prompt cut in twice in 40 audio calls as the simulated caller
    # began its first line (6.6 s after the greeting, on a busy box).
    no_input_reprompt_s: float = Field(8.0, ge=0.0, le=60.0)
    # End a turn before the speech timeout when pipecat's bundled Smart Turn v3.2 scores the
    # pause at least this sure that the caller has finished and whisper's transcript reads as
    # finished (benchmarks/turn_end.py); never while letters or digits are awaited.
    turn_model: bool = True
    turn_end_threshold: float = Field(0.9, ge=0.5, le=1.0)

    # Sidecar ports (0 = pick a free one)
    llm_sidecar_port: int = 0
    tts_sidecar_port: int = 0

    # Bookings whose confidence score (voice_agent/dialog/confidence.py) is below this go to
    # the human review queue instead of the calendar.
    review_threshold: float = 0.45
    review_on_llm_disagreement: bool = False
    # Log the LLM's own proposal for each tool call the policy makes (background requests).
    llm_tool_proposals: bool = False
    # The LLM's typed reading of each caller turn (voice_agent/dialog/llm_reading.py):
    # "always"; "when_unsure" (only when the fast reader does not settle the question pending);
    # "off". "auto": always with an LLM server configured (LLM_BASE_URL, e.g. vLLM); off on the
    # embedded CPU model, where it was measured to add seconds per turn and no accuracy
    # (README, "How a turn works").
    llm_reading: Literal["auto", "always", "when_unsure", "off"] = "auto"
    # How the reading's JSON schema goes to the server: "llama_cpp" (response_format
    # json_object + schema) or "openai" (json_schema: vLLM structured outputs); "auto" by backend.
    llm_schema_mode: Literal["auto", "llama_cpp", "openai"] = "auto"

    # Connector secrets (API keys, CalDAV passwords) are Fernet-encrypted at rest with this
    # key (``voice-agent secret-key`` prints a new one). A comma-separated list rotates keys:
    # the first encrypts, all decrypt. Required outside dev; dev keeps one in data_dir.
    secret_key: SecretStr | None = Field(default=None, validation_alias=_alias("SECRET_KEY"))
    # How often the outbox reconciler looks for booking intents left pending (0 = never).
    reconcile_interval_s: float = 60.0

    # Media Streams: the one-time token the webhook hands out is good for this many seconds
    # (Twilio opens the stream within about a second; a trial account's message first takes
    # a few more), and a stream must send ``start`` this soon after it is accepted.
    stream_token_ttl_s: float = Field(30.0, gt=0, le=600)
    stream_handshake_timeout_s: float = Field(10.0, gt=0, le=120)

    # Edge limits, enforced before routing, parsing and authentication (voice_agent/api/edge.py):
    # request bodies (the Twilio webhook has its own, smaller limit), JSON shape, and per-IP
    # token buckets on the webhook and on the operator API (/admin, /review, /metrics).
    # A rate of 0 turns that limit off.
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    max_json_depth: int = Field(32, ge=2, le=256)
    max_json_members: int = Field(2000, ge=10)
    webhook_rate_per_s: float = Field(5.0, ge=0)
    webhook_rate_burst: int = Field(50, ge=1)
    api_rate_per_s: float = Field(5.0, ge=0)
    api_rate_burst: int = Field(60, ge=1)

    # /docs, /redoc and /openapi.json. Off by default: the schema maps the whole operator API
    # for anyone who can reach the server. Turn on only where the server is private.
    api_docs: bool = False

    # Retention (``voice-agent purge``): call recordings and transcripts (turn rows) older
    # than this many days are deleted; None keeps them. Call rows and bookings stay.
    recordings_retention_days: int | None = Field(default=None, ge=1)
    transcripts_retention_days: int | None = Field(default=None, ge=1)

    max_ws_message_bytes: int = 64 * 1024
    max_call_seconds: int = 1800
    # How long a worker told to stop (SIGTERM) may wait for its calls in progress to end
    # before it is stopped anyway. The deployment's terminationGracePeriodSeconds must cover
    # the preStop sleep plus this (infra/helm checks it). Read by the drain on SIGTERM.
    drain_deadline_s: float = Field(120.0, gt=0)
    # OpenTelemetry (optional, off by default; `pip install 'voice-agent[tracing]'`): pipecat's
    # conversation and turn spans, exported over OTLP/HTTP to this traces endpoint, e.g.
    # http://otel-collector:4318/v1/traces.
    otel_endpoint: str | None = Field(None, max_length=500)
    otel_service_name: str = Field("voice-agent", max_length=100)

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.env != "dev" and self.twilio_auth_token == DEV_TWILIO_TOKEN:
            raise ValueError(
                "TWILIO_AUTH_TOKEN is the development default; set the real token outside dev"
            )
        if self.env == "dev":
            refuse_dev_bind(self.host)
            if self.sip_enabled:
                refuse_dev_bind(self.sip_host)
            if self.public_url:
                raise ValueError(
                    "VOICE_AGENT_PUBLIC_URL is set but VOICE_AGENT_ENV is dev: development mode "
                    "never faces the outside (set VOICE_AGENT_ENV=prod and real secrets)"
                )
        if self.env != "dev" and self.secret_key is None:
            raise ValueError(
                "VOICE_AGENT_SECRET_KEY is required outside dev: it encrypts connector secrets "
                "(generate one with `voice-agent secret-key`)"
            )
        if self.sip_rtp_port_min >= self.sip_rtp_port_max:
            raise ValueError("VOICE_AGENT_SIP_RTP_PORT_MIN must be below _MAX")
        for peer in self.sip_peers:
            try:
                ipaddress.ip_network(peer, strict=False)
            except ValueError:
                raise ValueError("an entry of VOICE_AGENT_SIP_ALLOWED_PEERS is not an IP "
                                 "address or CIDR network") from None
        if (self.sip_username is None) != (self.sip_password is None):
            raise ValueError("set both VOICE_AGENT_SIP_USERNAME and _PASSWORD, or neither")
        return self

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'voice_agent.db'}"

    @property
    def reading_mode(self) -> str:
        if self.llm_reading != "auto":
            return self.llm_reading
        return "always" if self.llm_base_url else "off"

    @property
    def schema_mode(self) -> Literal["llama_cpp", "openai"]:
        if self.llm_schema_mode != "auto":
            return self.llm_schema_mode
        return "openai" if self.llm_base_url else "llama_cpp"

    @property
    def sip_peers(self) -> list[str]:
        """The SIP allow-list; empty means loopback only."""
        return [p.strip() for p in self.sip_allowed_peers.split(",") if p.strip()] or [
            "127.0.0.0/8", "::1/128"]

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"


@lru_cache
def get_settings() -> Settings:
    return Settings()
