"""The bench's arithmetic and bench.json shape on synthetic timings, and the stock server's
webhook (its app built without models: the bot is never started)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from evals.bench.latency import pick_scripts
from evals.bench.load import capacity, classify_failure, level_summary
from evals.bench.profiles import profile_env
from evals.bench.report import render_bench, render_load, write_html
from evals.bench.stats import (
    REPORTED,
    bench_document,
    ours_turn_stages,
    ratios,
    stock_turn_stages,
    summarize,
)
from evals.bench.stock_server import StockConfig, create_app
from evals.simulator import twilio_messages as tm
from evals.simulator.caller import SimCallerError

T0 = 1_700_000_000.0


def _turn(**over):
    turn = {"speech_end_ts": T0, "stt_done_ts": T0 + 0.9, "turn_end_ts": T0 + 1.5,
            "llm_first_token_ts": T0 + 2.0, "tts_first_audio_ts": T0 + 2.3,
            "first_audio_sent_ts": T0 + 2.35,
            "stt_segments": [{"seconds": 0.2}, {"seconds": 0.6}],
            "policy_events": [{"event": "decision"},
                              {"event": "connector_call", "op": "list_free_slots",
                               "seconds": 0.1},
                              {"event": "connector_call", "op": "book", "seconds": 0.05}]}
    return turn | over


def test_ours_stages_and_overhead():
    s = ours_turn_stages(_turn(), vad_stop_secs=0.2)
    assert s is not None
    assert s["total"] == pytest.approx(2.35)
    assert s["turn_decision"] == pytest.approx(0.2 + 0.6)  # VAD stop + wait after transcript
    assert s["stt"] == pytest.approx(0.6)  # the last segment is on the critical path
    assert s["connector"] == pytest.approx(0.15)
    assert s["dialog"] == pytest.approx(0.5 - 0.15)
    assert s["tts"] == pytest.approx(0.3)
    # overhead = total - stages: VAD stop -> STT start hop (0.1) + sending (0.05)
    assert s["overhead"] == pytest.approx(0.15)
    parts = sum(s[k] for k in ("turn_decision", "stt", "dialog", "connector", "tts", "overhead"))
    assert parts == pytest.approx(s["total"])


def test_a_turn_with_its_own_vad_wait_counts_it_in_the_turn_decision():
    """A spelling turn's VAD waits 0.8 s, not the configured 0.2: not our overhead."""
    spelled = _turn(stt_segments=[{"seconds": 0.6, "vad_stop_s": 0.8}],
                    speech_end_ts=T0 - 0.6)
    s = ours_turn_stages(spelled, vad_stop_secs=0.2)
    plain = ours_turn_stages(_turn(stt_segments=[{"seconds": 0.6}]), vad_stop_secs=0.2)
    assert s is not None and plain is not None
    assert s["turn_decision"] == pytest.approx(plain["turn_decision"] + 0.6)
    assert s["overhead"] == pytest.approx(plain["overhead"])


def test_ours_stt_without_segment_times_and_missing_stamps():
    s = ours_turn_stages(_turn(stt_segments=[{"avg_logprob": -0.2}]), vad_stop_secs=0.2)
    assert s is not None and s["stt"] == pytest.approx(0.7)  # 0.9 - VAD stop 0.2
    assert ours_turn_stages(_turn(first_audio_sent_ts=None), vad_stop_secs=0.2) is None


def test_stock_stages_from_a_breakdown():
    breakdown = {"measured_from": "user_silence", "total_secs": 3.0, "contributions": [
        {"key": "endpointing_wait", "duration_secs": 0.2},
        {"key": "transcription", "duration_secs": 0.8},
        {"key": "turn_detection", "duration_secs": 0.5},
        {"key": "llm_inference", "duration_secs": 0.6},
        {"key": "sentence_aggregation", "duration_secs": 0.4},
        {"key": "speech_synthesis", "duration_secs": 0.3},
        {"key": "output_transport", "duration_secs": 0.1},
        {"key": "pipeline", "duration_secs": 0.1}]}
    s = stock_turn_stages(breakdown)
    assert s == pytest.approx({"turn_decision": 0.7, "stt": 0.8, "dialog": 1.0,
                               "connector": 0.0, "tts": 0.3, "overhead": 0.2, "total": 3.0})
    assert stock_turn_stages(breakdown | {"measured_from": "client_connected"}) is None


def test_percentiles_ratio_and_document_shape():
    turns = [{"total": float(v), "stt": v / 10} for v in range(1, 101)]
    ours = summarize(turns, [1.0, 2.0, 3.0])
    assert ours["total"]["p50"] == pytest.approx(50.5)
    assert ours["total"]["p95"] == pytest.approx(95.05)
    assert ours["total"]["p99"] == pytest.approx(99.01)
    assert ours["total"]["n"] == 100 and ours["caller_side"]["n"] == 3
    assert ours["dialog"] == {"p50": None, "p95": None, "p99": None, "n": 0}
    stock = summarize([{"total": 2 * float(v), "stt": 0.0} for v in range(1, 101)], [2.0])
    r = ratios(ours, stock)
    assert r["total"]["p50"] == pytest.approx(0.5)
    assert r["stt"]["p50"] is None  # stock 0: no ratio
    assert r["dialog"]["p95"] is None
    doc = bench_document(ours=ours, stock=stock, machine={"cpus": 2}, models={"llm": "x"},
                         scripts=["a.yaml"])
    assert set(doc) >= {"ours", "stock", "ratio", "machine", "models", "scripts"}
    for side in ("ours", "stock", "ratio"):
        assert set(doc[side]) == set(REPORTED)
        assert all({"p50", "p95", "p99"} <= set(v) for v in doc[side].values())
    json.dumps(doc)  # serialisable as bench.json
    assert "Latency bench" in render_bench(doc)


def test_write_html(tmp_path: Path):
    doc = bench_document(ours=summarize([{"total": 1.0}], [1.1]), stock=None, machine={},
                         models={}, scripts=[])
    html = write_html(doc, tmp_path)
    assert html.is_file() and json.loads((tmp_path / "bench.json").read_text())["ratio"] == {}


def test_load_levels_refusals_and_capacity():
    refused = classify_failure(SimCallerError(
        "webhook http://x answered unusable TwiML: TwiML has no <Connect><Stream>"))
    assert refused == "refused"
    assert classify_failure(SimCallerError("cannot open media stream")) == "failed"
    assert classify_failure(RuntimeError("boom")) == "failed"
    lv1 = level_summary(1, [{"status": "completed", "correct": True, "totals": [1.0, 2.0],
                             "caller_side": [1.1]}])
    lv2 = level_summary(2, [{"status": "completed", "correct": False, "totals": [2.0, 2.4]},
                            {"status": "refused", "error": "busy"}])
    lv3 = level_summary(3, [{"status": "completed", "correct": True, "totals": [3.0, 4.0]}])
    assert (lv2["completed"], lv2["refused"], lv2["failed"], lv2["booking_correct"]) == (
        1, 1, 0, 0)
    assert capacity([lv1, lv2, lv3]) == 1  # C=2 refused a call, C=3 is over 2.5 s
    assert capacity([lv3]) is None
    assert "capacity" in render_load({"levels": [lv1], "capacity": 1, "p95_limit_s": 2.5})


def test_pick_scripts_is_deterministic_and_spread():
    first, again = pick_scripts(12), pick_scripts(12)
    assert first == again and len(first) == 12 and len(set(first)) == 12
    assert len({p.parent.name for p in first}) == 12
    assert {p.name.split("-")[0] for p in first} == {"dental", "salon"}
    many = pick_scripts(30)
    cats = {p.parent for p in pick_scripts(12)}
    assert {p.parent for p in many} >= cats and len(many) == 30


def test_profiles():
    assert profile_env("cpu") == {}
    gpu = profile_env("gpu", llm_url="http://vllm:8000/v1")
    assert gpu["LLM_BASE_URL"] == "http://vllm:8000/v1"
    assert gpu["VOICE_AGENT_STT_DEVICE"] == "cuda"
    with pytest.raises(ValueError):
        profile_env("tpu")


def _config(tmp_path: Path) -> StockConfig:
    return StockConfig(whisper_dir="", stt_device="cpu", stt_compute_type="int8",
                       llm_base_url="", llm_model="m", llm_api_key="k", llm_max_tokens=16,
                       tts_base_url="", piper_voice="v", prompts_dir=tmp_path, businesses={},
                       out_dir=tmp_path)


def test_stock_webhook_answers_twiml_with_a_stream(tmp_path: Path):
    started = []

    async def never(_ws, _cfg):  # the bot is not started by the webhook
        started.append(True)

    app = create_app(lambda: _config(tmp_path), never)
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        resp = client.post(
            "/telephony/twilio/voice?business=demo-salon&now=2026-11-23T10%3A00%3A00-05%3A00",
            data={"CallSid": "CA1", "From": "+15551230001"},
            headers={"X-Twilio-Signature": "anything"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith(
        "application/xml")
    target = tm.parse_twiml_stream(resp.text)  # what the simulated caller reads
    assert target.url == "ws://testserver/ws"
    assert target.parameters == {"business": "demo-salon", "now": "2026-11-23T10:00:00-05:00",
                                 "from_number": "+15551230001"}
    assert started == []


def test_stock_not_ready_until_configured(tmp_path: Path):
    async def never(_ws, _cfg):
        raise AssertionError("not started")

    with TestClient(create_app(lambda: None, never)) as client:
        assert client.get("/readyz").status_code == 503


def test_the_servers_busy_twiml_is_what_load_counts_as_refused():
    from voice_agent.telephony.twilio_webhook import hangup_twiml

    with pytest.raises(tm.MessageError) as err:  # what the simulated caller does with it
        tm.parse_twiml_stream(hangup_twiml("All our lines are busy."))
    exc = SimCallerError(f"webhook http://x answered unusable TwiML: {err.value}")
    assert classify_failure(exc) == "refused"


def test_rebuild_from_a_finished_run(tmp_path: Path):
    from sqlmodel import Session

    from evals.bench.latency import rebuild_document
    from evals.bench.stock_server import LATENCY_FILE
    from voice_agent.config import Settings
    from voice_agent.store.db import make_engine, upgrade
    from voice_agent.store.models import Call, Turn

    engine = make_engine(Settings(data_dir=tmp_path / "ours", database_url=None).db_url)
    upgrade(engine)
    with Session(engine) as session:
        call = Call(provider_call_id="CA1", business="demo-salon")
        session.add(call)
        session.commit()
        turn = {k: v for k, v in _turn().items() if k != "stt_segments" and k != "policy_events"}
        session.add(Turn(call_id=call.id, index=0, stt_segments=[{"seconds": 0.6}], **turn))
        session.commit()
    engine.dispose()
    (tmp_path / "stock").mkdir()
    (tmp_path / "stock" / LATENCY_FILE).write_text(json.dumps(
        {"call_sid": "CA2", "measured_from": "user_silence", "total_secs": 2.0,
         "contributions": [{"key": "llm_inference", "duration_secs": 2.0}]}) + "\n")
    (tmp_path / "bench.json").write_text(json.dumps({
        "scripts": ["a.yaml"], "machine": {"cpus": 2}, "models": {},
        "calls": {"ours": [{"id": "a", "call_sid": "CA1", "caller_side": [2.5], "turns": []}],
                  "stock": [{"id": "a", "call_sid": "CA2", "caller_side": [2.1], "turns": []}]}}))
    doc = rebuild_document(tmp_path)
    assert doc["ours"]["total"]["p50"] == pytest.approx(2.35)
    assert doc["ours"]["caller_side"]["p50"] == pytest.approx(2.5)
    assert doc["stock"]["dialog"]["p50"] == pytest.approx(2.0)
    assert doc["ratio"]["total"]["p50"] == pytest.approx(2.35 / 2.0, abs=1e-3)
    assert len(doc["calls"]["ours"][0]["turns"]) == 1 and doc["rebuilt"] is True
