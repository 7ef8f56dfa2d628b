"""evals.sgd: SGD appointment dialogues -> call scripts + business fixtures."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.schedule import load_businesses
from evals.runner import discover, fixture_dirs
from evals.script import load_script
from evals.sgd import DEFAULT_SRC, convert, parse_date, parse_time
from voice_agent.cli import app


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sgd")
    return out, convert(DEFAULT_SRC, "dev", out)


def _book_calls(dialogue_id: str) -> list[tuple[dict, set[str]]]:
    for line in (DEFAULT_SRC / "dev.jsonl").read_text().splitlines():
        d = json.loads(line)
        if d["dialogue_id"] == dialogue_id:
            return [(f["service_call"]["parameters"], {a["act"] for a in f["actions"]})
                    for t in d["turns"] for f in t["frames"]
                    if f.get("service_call", {}).get("method") == "BookAppointment"]
    raise AssertionError(dialogue_id)


def test_counts_and_every_script_loads(converted) -> None:
    out, counts = converted
    assert counts["read"] == 44
    assert counts["converted"] > 0
    assert counts["converted"] + sum(counts["skipped"].values()) == counts["read"]
    assert counts["outcomes"]["booked"] > 0 and counts["outcomes"]["no_booking"] > 0
    files = sorted((out / "dev").glob("*.yaml"))
    assert len(files) == counts["converted"]
    businesses = load_businesses(out / "businesses")
    assert len(businesses) == counts["businesses"]
    for f in files:
        script = load_script(f)
        biz = businesses[script.business]
        assert biz.timezone == "America/Los_Angeles" and not biz.staff
        assert script.now.isoformat() == "2019-03-01T09:00:00-08:00"
        assert script.caller.facts["name"] == "SGD Caller"
        if script.expect.booking is not None:
            b = script.expect.booking
            assert b.service == "appointment" and b.name == "SGD Caller"
            local = b.start.astimezone(biz.tz)
            assert local.minute % biz.slot_minutes == 0
            assert biz.hours[("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]]
    assert "CC BY-SA 4.0" in (out / "README.md").read_text()
    assert "dstc8-schema-guided-dialogue" in (out / "README.md").read_text()
    assert (out / "LICENSE").read_bytes() == (DEFAULT_SRC / "LICENSE.txt").read_bytes()


def test_hand_checked_booking_matches_book_appointment(converted) -> None:
    out, _ = converted
    # 3_00032: "Can you book it for the 7th at 4 pm please?" -> David A. Flakoll, NOTIFY_SUCCESS
    [(params, acts)] = _book_calls("3_00032")
    assert "NOTIFY_SUCCESS" in acts
    assert params == {"appointment_date": "2019-03-07", "appointment_time": "16:00",
                      "therapist_name": "David A. Flakoll"}
    script = load_script(out / "dev" / "sgd-dev-3_00032.yaml")
    assert script.business == "david-a-flakoll"
    assert script.expect.outcome == "booked"
    assert script.expect.booking.start.isoformat() == "2019-03-07T16:00:00-08:00"
    # The provider search ("find me a psychologist in Pleasant Hill") is dropped: the agent is
    # the provider's receptionist. The bare "can you book me an appointment?" opens the call.
    assert script.caller.turns[0].say == "Hi, I'd like to book an appointment."
    assert script.caller.turns[1].say == "Can you book it for the 7th at 4 pm please?"
    assert script.caller.turns[2].if_asked == "confirm"  # "Yes, perfect." after a CONFIRM
    assert (script.caller.turns[3].say, script.caller.turns[3].if_asked) == (
        "It's SGD Caller.", "name")  # a receptionist asks for the name
    assert not any("Pleasant Hill" in t.say for t in script.caller.turns)
    assert script.calendar == []
    biz = load_businesses(out / "businesses")["david-a-flakoll"]
    assert biz.display_name == "David A. Flakoll"
    assert "psychologist" in biz.services[0].aliases
    assert biz.hours["mon"] == ("08:00", "20:00")


def test_failed_booking_becomes_busy_slot(converted) -> None:
    out, _ = converted
    # 3_00034: 12:30 on the 6th fails (NOTIFY_FAILURE), caller declines the alternative
    [(params, acts)] = _book_calls("3_00034")
    assert "NOTIFY_FAILURE" in acts and params["appointment_time"] == "12:30"
    script = load_script(out / "dev" / "sgd-dev-3_00034.yaml")
    assert script.expect.outcome == "no_booking"
    assert [e.start.isoformat() for e in script.calendar] == ["2019-03-06T12:30:00-08:00"]
    # 3_00037: 16:45 fails, 16:30 succeeds: 15-minute grid and service so both fit
    script = load_script(out / "dev" / "sgd-dev-3_00037.yaml")
    assert script.expect.booking.start.isoformat() == "2019-03-01T16:30:00-08:00"
    assert [e.start.isoformat() for e in script.calendar] == ["2019-03-01T16:45:00-08:00"]
    biz = load_businesses(out / "businesses")[script.business]
    assert biz.slot_minutes == 15 and biz.services[0].minutes == 15


def test_after_dst_and_on_sunday(converted) -> None:
    out, _ = converted
    script = load_script(out / "dev" / "sgd-dev-3_00044.yaml")  # 2019-03-11 14:15, after DST
    assert script.expect.booking.start.isoformat() == "2019-03-11T14:15:00-07:00"
    businesses = load_businesses(out / "businesses")
    sundays = [s for s in map(load_script, (out / "dev").glob("*.yaml"))
               if s.expect.booking and s.expect.booking.start.weekday() == 6]
    assert sundays and all("sun" in businesses[s.business].hours for s in sundays)


def test_runner_finds_generated_businesses(converted) -> None:
    out, _ = converted
    scripts = discover([out])  # the businesses/ folder holds fixtures, not scripts
    assert len(scripts) == len(list((out / "dev").glob("*.yaml")))
    assert (out / "businesses").resolve() in fixture_dirs([out / "dev"])
    assert (out / "businesses").resolve() in fixture_dirs([out / "dev" / "sgd-dev-3_00032.yaml"])


@pytest.mark.parametrize(("text", "expected"), [
    ("March 8th", "2019-03-08"), ("8th of March", "2019-03-08"), ("the 8th", "2019-03-08"),
    ("9th of this month", "2019-03-09"), ("tomorrow", "2019-03-02"), ("today", "2019-03-01"),
    ("day after tomorrow", "2019-03-03"), ("next Monday", "2019-03-04"),
    ("Friday next week", "2019-03-08"), ("this Saturday", "2019-03-02"),
    ("Thursday", "2019-03-07"), ("2019-03-12", "2019-03-12"), ("whenever", None),
])
def test_parse_date(text: str, expected: str | None) -> None:
    got = parse_date(text)
    assert (got.isoformat() if got else None) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("3:30 pm", "15:30"), ("half past 4", "16:30"), ("morning 11:30", "11:30"),
    ("quarter to 5 in the evening", "16:45"), ("quarter to 12 in the morning", "11:45"),
    ("Four pm", "16:00"), ('1 o"clock in the afternoon', "13:00"), ("noon", "12:00"),
    ("afternoon 12:15", "12:15"), ("10 in the morning", "10:00"), ("at 3", "15:00"),
    ("15:30", "15:30"), ("07:00", "07:00"), ("sometime", None),
])
def test_parse_time(text: str, expected: str | None) -> None:
    got = parse_time(text)
    assert (got.strftime("%H:%M") if got else None) == expected


def test_parser_agrees_with_sgd_canonical_values() -> None:
    pairs = []
    for line in (DEFAULT_SRC / "dev.jsonl").read_text().splitlines():
        for t in json.loads(line)["turns"]:
            for f in t["frames"]:
                for a in f["actions"]:
                    if a["slot"] in ("appointment_date", "appointment_time"):
                        pairs += [(a["slot"], v, c) for v, c in zip(a["values"],
                                                                   a["canonical_values"],
                                                                   strict=False)]
    assert len(pairs) > 100
    for slot, value, canonical in pairs:
        got = parse_date(value) if slot == "appointment_date" else parse_time(value)
        assert got == (dt.date.fromisoformat(canonical) if slot == "appointment_date"
                       else dt.time.fromisoformat(canonical)), value


def test_cli(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["eval", "sgd", "--split", "dev", str(DEFAULT_SRC),
                                   "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "dialogues read: 44" in res.output and "converted:" in res.output
    bad = CliRunner().invoke(app, ["eval", "sgd", "--split", "test", "--out", str(tmp_path)])
    assert bad.exit_code == 2


def test_a_booking_callers_goal_is_in_its_facts(converted) -> None:
    """So that a day or time question asked again gets an answer (EVAL_FORMAT rule 4)."""
    out, _ = converted
    booked = 0
    for f in sorted((out / "dev").glob("*.yaml")):
        script = load_script(f)
        if script.expect.booking is None:
            assert set(script.caller.facts) == {"name"}
            continue
        booked += 1
        start = script.expect.booking.start
        assert script.caller.facts["date"] == f"{start:%A}, {start:%B} {start.day}"
        hour = start.hour % 12 or 12
        assert script.caller.facts["time"].startswith(f"{hour}")
        assert script.caller.facts["time"].endswith(" on " + script.caller.facts["date"])
        assert ("am" if start.hour < 12 else "pm") in script.caller.facts["time"]
    assert booked > 10
