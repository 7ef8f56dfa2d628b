"""Call script models and loaders (format from EVAL_FORMAT.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from evals.script import CallScript, ScriptError, load_script, load_scripts

EXAMPLE = """\
id: salon-book-basic            # unique
description: Caller books a haircut next Tuesday at 3 pm; the slot is free.
business: demo-salon
now: 2026-11-23T09:00:00-05:00  # the agent's clock for the whole call
calendar:                       # bookings that exist before the call (optional)
  - {service: haircut, start: 2026-12-01T14:00:00-05:00, name: Existing Client, phone: "+15550000000", staff: Maria}
caller:
  phone: "+15551230001"         # caller ID the telephony layer presents
  facts: {name: Dana Smith}     # answers the simulated caller gives when asked and no line fits
  turns:                        # said in order, one per caller turn
    - say: Hi, I'd like to book a haircut.
    - say: Next Tuesday at 3 pm.
    - say: Dana Smith.
      if_asked: name            # optional: hold this line until the agent asks for this
    - say: Yes please, book it.
      if_asked: confirm
expect:
  outcome: booked               # booked | rescheduled | cancelled | no_booking | transferred
  booking:                      # the calendar entry that must exist after the call (booked/rescheduled)
    service: haircut
    start: 2026-12-01T15:00:00-05:00
    name: Dana Smith            # compared case- and space-insensitively
  max_agent_turns: 10           # optional
"""  # noqa: E501

EST = dt.timezone(dt.timedelta(hours=-5))


def _write(tmp_path: Path, text: str, name: str = "call.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_example_from_eval_format(tmp_path: Path) -> None:
    script = load_script(_write(tmp_path, EXAMPLE))
    assert isinstance(script, CallScript)
    assert script.id == "salon-book-basic"
    assert script.now == dt.datetime(2026, 11, 23, 9, tzinfo=EST)
    assert script.calendar[0].staff == "Maria"
    assert script.calendar[0].phone == "+15550000000"
    assert script.caller.facts == {"name": "Dana Smith"}
    assert [t.if_asked for t in script.caller.turns] == [None, None, "name", "confirm"]
    assert script.expect.outcome == "booked"
    assert script.expect.booking is not None
    assert script.expect.booking.start == dt.datetime(2026, 12, 1, 20, tzinfo=dt.UTC)
    assert script.expect.booking.phone is None
    assert script.expect.max_agent_turns == 10


def test_quoted_timestamps_and_extra_fields(tmp_path: Path) -> None:
    text = EXAMPLE.replace(
        "now: 2026-11-23T09:00:00-05:00", 'now: "2026-11-23T09:00:00-05:00"\ntags: [smoke]'
    )
    script = load_script(_write(tmp_path, text))
    assert script.now == dt.datetime(2026, 11, 23, 9, tzinfo=EST)
    assert script.model_extra == {"tags": ["smoke"]}


@pytest.mark.parametrize("now", ["2026-11-23T09:00:00", '"2026-11-23T09:00:00"'])
def test_naive_timestamp_rejected(tmp_path: Path, now: str) -> None:
    path = _write(tmp_path, EXAMPLE.replace("2026-11-23T09:00:00-05:00", now))
    with pytest.raises(ScriptError) as err:
        load_script(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "now: timestamp 2026-11-23T09:00:00 has no UTC offset" in msg


def test_missing_field_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, EXAMPLE.replace("business: demo-salon\n", ""))
    with pytest.raises(ScriptError, match=r"call\.yaml: business: Field required"):
        load_script(path)


def test_nested_errors_name_the_path(tmp_path: Path) -> None:
    text = EXAMPLE.replace("if_asked: confirm", "if_asked: confirmation").replace(
        'name: Existing Client, phone: "+15550000000"', "name: Existing Client, phone: +1555"
    )
    with pytest.raises(ScriptError) as err:
        load_script(_write(tmp_path, text))
    msg = str(err.value)
    assert "caller.turns[3].if_asked: Input should be" in msg
    assert "calendar[0].phone: phone numbers must be quoted" in msg


def test_outcome_requires_its_fields(tmp_path: Path) -> None:
    text = EXAMPLE.replace("outcome: booked", "outcome: rescheduled")
    with pytest.raises(ScriptError, match=r"expect: outcome 'rescheduled' needs expect.cancelled"):
        load_script(_write(tmp_path, text))


def test_bad_yaml_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="not valid YAML"):
        load_script(_write(tmp_path, "id: [unclosed", "bad.yaml"))
    with pytest.raises(ScriptError, match="must be a YAML mapping"):
        load_script(_write(tmp_path, "- a\n- b\n", "list.yaml"))
    with pytest.raises(ScriptError, match="cannot read"):
        load_script(tmp_path / "missing.yaml")


def test_load_scripts_globs_dirs_sorted_and_checks_ids(tmp_path: Path) -> None:
    _write(tmp_path, EXAMPLE.replace("salon-book-basic", "b-call"), "calls/sub/b.yaml")
    _write(tmp_path, EXAMPLE.replace("salon-book-basic", "a-call"), "calls/a.yaml")
    _write(tmp_path, "not a script", "calls/notes.txt")
    single = _write(tmp_path, EXAMPLE.replace("salon-book-basic", "c-call"), "c.yaml")
    scripts = load_scripts([tmp_path / "calls", single])
    assert [s.id for s in scripts] == ["a-call", "b-call", "c-call"]
    dup = _write(tmp_path, EXAMPLE.replace("salon-book-basic", "a-call"), "dup.yaml")
    with pytest.raises(ScriptError, match="already used by"):
        load_scripts([tmp_path / "calls", dup])
    with pytest.raises(ScriptError, match="no such file"):
        load_scripts([tmp_path / "nope"])


def test_repository_scripts_load() -> None:
    calls = Path(__file__).resolve().parents[2] / "evals" / "calls"
    for script in load_scripts([calls]):
        assert script.caller.turns
