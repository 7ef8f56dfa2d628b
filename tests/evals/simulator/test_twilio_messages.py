"""Media Streams messages, field for field as Twilio sends them (counters are strings)."""

from __future__ import annotations

import base64
import json
import re

import pytest

from evals.simulator import twilio_messages as tm

SID = "MZ" + "a" * 32


def test_new_sid_shape() -> None:
    for prefix in ("CA", "MZ", "AC"):
        sid = tm.new_sid(prefix)
        assert re.fullmatch(prefix + r"[0-9a-f]{32}", sid)
    assert tm.new_sid("CA") != tm.new_sid("CA")


def test_connected() -> None:
    assert tm.build_connected() == {"event": "connected", "protocol": "Call", "version": "1.0.0"}


def test_start() -> None:
    msg = tm.build_start(
        sequence_number=1,
        account_sid="AC1",
        stream_sid=SID,
        call_sid="CA1",
        custom_parameters={"business": "demo-salon"},
    )
    assert msg == {
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "accountSid": "AC1",
            "streamSid": SID,
            "callSid": "CA1",
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": {"business": "demo-salon"},
        },
        "streamSid": SID,
    }
    json.dumps(msg)  # serialisable


def test_media_counters_are_strings() -> None:
    payload = bytes(range(160))
    msg = tm.build_media(
        sequence_number=3, stream_sid=SID, chunk=2, timestamp_ms=20, payload=payload
    )
    assert msg == {
        "event": "media",
        "sequenceNumber": "3",
        "media": {
            "track": "inbound",
            "chunk": "2",
            "timestamp": "20",
            "payload": base64.b64encode(payload).decode(),
        },
        "streamSid": SID,
    }


def test_mark_stop_dtmf() -> None:
    assert tm.build_mark(sequence_number=7, stream_sid=SID, name="m1") == {
        "event": "mark",
        "streamSid": SID,
        "sequenceNumber": "7",
        "mark": {"name": "m1"},
    }
    assert tm.build_stop(sequence_number=9, stream_sid=SID, account_sid="AC1", call_sid="CA1") == {
        "event": "stop",
        "sequenceNumber": "9",
        "streamSid": SID,
        "stop": {"accountSid": "AC1", "callSid": "CA1"},
    }
    assert tm.build_dtmf(sequence_number=4, stream_sid=SID, digit="1") == {
        "event": "dtmf",
        "streamSid": SID,
        "sequenceNumber": "4",
        "dtmf": {"track": "inbound_track", "digit": "1"},
    }
    with pytest.raises(ValueError, match="DTMF"):
        tm.build_dtmf(sequence_number=4, stream_sid=SID, digit="12")


def test_parse_server_messages() -> None:
    audio = b"\x01\x02\xff"
    media = {"event": "media", "streamSid": SID, "media": {"payload": base64.b64encode(audio)}}
    media["media"]["payload"] = media["media"]["payload"].decode()
    assert tm.parse_server_message(json.dumps(media)) == tm.ServerMedia(audio)
    mark = {"event": "mark", "streamSid": SID, "mark": {"name": "greeting"}}
    assert tm.parse_server_message(json.dumps(mark).encode()) == tm.ServerMark("greeting")
    assert tm.parse_server_message('{"event":"clear","streamSid":"x"}') == tm.ServerClear()


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"event": "media", "media": {}}', "media.payload"),
        ('{"event": "media", "media": {"payload": "@@@"}}', "base64"),
        ('{"event": "mark", "mark": {"name": 3}}', "mark.name"),
        ('{"event": "bogus"}', "unexpected event"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_parse_rejects_malformed(raw: str | bytes, match: str) -> None:
    with pytest.raises(tm.MessageError, match=match):
        tm.parse_server_message(raw)


def test_parse_twiml_stream() -> None:
    twiml = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        '<Stream url="wss://agent.example.com/telephony/twilio/stream">'
        '<Parameter name="business" value="demo-salon"/><Parameter name="from" value="+1555"/>'
        "</Stream></Connect></Response>"
    )
    target = tm.parse_twiml_stream(twiml)
    assert target.url == "wss://agent.example.com/telephony/twilio/stream"
    assert target.parameters == {"business": "demo-salon", "from": "+1555"}


@pytest.mark.parametrize(
    ("twiml", "match"),
    [
        ("<Response><Say>hi", "not XML"),
        ("<Foo/>", "root"),
        ("<Response><Say>Sorry</Say></Response>", "no <Connect><Stream>"),
        ("<Response><Connect><Stream/></Connect></Response>", "no url"),
    ],
)
def test_parse_twiml_rejects(twiml: str, match: str) -> None:
    with pytest.raises(tm.MessageError, match=match):
        tm.parse_twiml_stream(twiml)
