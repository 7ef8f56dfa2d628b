"""SafeTwilioFrameSerializer: Twilio JSON <-> pipecat frames, never raising on hostile input."""

from __future__ import annotations

import base64
import json
import math
import struct
from types import SimpleNamespace

import pytest
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    EndFrame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    TextFrame,
)

from voice_agent.telephony.twilio_serializer import SafeTwilioFrameSerializer

STREAM_SID = "MZ0123456789abcdef0123456789abcdef"


@pytest.fixture
async def ser() -> SafeTwilioFrameSerializer:
    serializer = SafeTwilioFrameSerializer(
        STREAM_SID, call_sid="CA1", params=SafeTwilioFrameSerializer.InputParams(auto_hang_up=False)
    )
    # setup() only reads the pipeline's input sample rate from FrameProcessorSetup.
    await serializer.setup(SimpleNamespace(audio_in_sample_rate=16_000))  # type: ignore[arg-type]
    return serializer


def media(payload: object, **extra: object) -> str:
    return json.dumps({"event": "media", "streamSid": STREAM_SID,
                       "media": {"track": "inbound", "chunk": "1", "timestamp": "20",
                                 "payload": payload, **extra}})


def tone(n_samples: int, rate: int = 8000, freq: float = 440.0) -> bytes:
    samples = (int(8000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n_samples))
    return struct.pack(f"<{n_samples}h", *samples)


ULAW_20MS = base64.b64encode(bytes([0x7F, 0xFF, 0x80, 0x00] * 40)).decode()


async def test_media_becomes_16k_pcm(ser) -> None:
    # 160 μ-law samples at 8 kHz = 320 samples at 16 kHz = 640 bytes per message. pipecat's
    # soxr stream resampler releases its output in ~100 ms blocks, so most messages yield
    # nothing and every fifth one a block: compare totals over 1 s.
    results = [await ser.deserialize(media(ULAW_20MS)) for _ in range(50)]
    frames = [f for f in results if f is not None]
    assert frames and all(isinstance(f, InputAudioRawFrame) for f in frames)
    assert {(f.sample_rate, f.num_channels) for f in frames} == {(16_000, 1)}
    total = sum(len(f.audio) for f in frames)
    assert 50 * 640 - 3_200 <= total <= 50 * 640
    assert all(len(f.audio) % 2 == 0 for f in frames)
    assert ser.dropped == 0


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(media("not base64!!"), id="bad-base64"),
        pytest.param(media("QUJ"), id="bad-padding"),
        pytest.param("not json", id="not-json"),
        pytest.param(b"\xff\xfe\x00garbage", id="not-utf8"),
        pytest.param("[1, 2, 3]", id="json-array"),
        pytest.param('"media"', id="json-string"),
        pytest.param("[" * 5_000, id="deeply-nested"),
        pytest.param(media("A" * 70_000), id="oversized-message"),
        pytest.param(json.dumps({"event": "surprise"}), id="unknown-event"),
        pytest.param(json.dumps({"noevent": 1}), id="no-event"),
        pytest.param(json.dumps({"event": "media"}), id="media-without-object"),
        pytest.param(json.dumps({"event": "media", "media": "AAAA"}), id="media-not-object"),
        pytest.param(json.dumps({"event": "media", "media": {}}), id="media-without-payload"),
        pytest.param(media(123), id="payload-not-string"),
        pytest.param(media(base64.b64encode(bytes(8_001)).decode()), id="payload-too-large"),
        pytest.param(json.dumps({"event": "dtmf", "dtmf": "5"}), id="dtmf-not-object"),
    ],
)
async def test_hostile_input_is_dropped_without_raising(ser, data) -> None:
    assert await ser.deserialize(data) is None
    assert ser.dropped == 1


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(json.dumps({"event": "connected", "protocol": "Call"}), id="connected"),
        pytest.param(json.dumps({"event": "start", "start": {}}), id="start"),
        pytest.param(media(ULAW_20MS, track="outbound"), id="outbound-track"),
        pytest.param(media(""), id="empty-payload"),
        pytest.param(json.dumps({"event": "dtmf", "dtmf": {"digit": "x"}}), id="unknown-digit"),
    ],
)
async def test_ignored_messages(ser, data) -> None:
    assert await ser.deserialize(data) is None


async def test_a_mark_echo_is_passed_on_as_played(ser) -> None:
    from pipecat.frames.frames import InputTransportMessageFrame

    frame = await ser.deserialize(json.dumps({"event": "mark", "sequenceNumber": "4",
                                              "mark": {"name": "utterance-3"}}))
    assert isinstance(frame, InputTransportMessageFrame)
    assert frame.message == {"event": "mark", "mark": {"name": "utterance-3"}}
    assert await ser.deserialize(json.dumps({"event": "mark", "mark": {}})) is None
    assert ser.dropped == 1


async def test_payload_at_the_limit_is_accepted(ser) -> None:
    frame = await ser.deserialize(media(base64.b64encode(bytes([0xFF]) * 8_000).decode()))
    assert isinstance(frame, InputAudioRawFrame)


async def test_stop_ends_the_pipeline(ser) -> None:
    frame = await ser.deserialize(json.dumps({"event": "stop", "stop": {"callSid": "CA1"}}))
    assert isinstance(frame, EndFrame)


async def test_dtmf_becomes_a_keypad_frame(ser) -> None:
    frame = await ser.deserialize(json.dumps(
        {"event": "dtmf", "streamSid": STREAM_SID, "sequenceNumber": "5",
         "dtmf": {"track": "inbound_track", "digit": "5"}}))
    assert isinstance(frame, InputDTMFFrame)
    assert frame.button == KeypadEntry.FIVE


async def test_bytes_input_is_accepted(ser) -> None:
    big = base64.b64encode(bytes([0x7F, 0xFF]) * 800).decode()  # 200 ms: past the latency
    assert isinstance(await ser.deserialize(media(big).encode()), InputAudioRawFrame)


async def test_drops_are_counted(ser) -> None:
    for _ in range(3):
        assert await ser.deserialize("garbage") is None
    assert ser.dropped == 3
    await ser.deserialize(media(ULAW_20MS))
    assert ser.dropped == 3


async def test_interruption_clears_twilio_buffer(ser) -> None:
    assert json.loads(await ser.serialize(InterruptionFrame())) == {
        "event": "clear", "streamSid": STREAM_SID}


async def test_output_audio_becomes_ulaw_media(ser) -> None:
    pcm = tone(1600)  # 200 ms at 8 kHz, 3200 bytes of 16-bit PCM
    message = json.loads(await ser.serialize(
        OutputAudioRawFrame(audio=pcm, sample_rate=8000, num_channels=1)))
    assert message["event"] == "media"
    assert message["streamSid"] == STREAM_SID
    payload = base64.b64decode(message["media"]["payload"], validate=True)
    assert len(payload) == len(pcm) // 2


async def test_other_frames_are_not_sent(ser) -> None:
    assert await ser.serialize(TextFrame("hello")) is None
    assert await ser.serialize(EndFrame()) is None  # auto_hang_up=False: no REST call
