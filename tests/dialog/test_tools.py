"""Tool schemas, JSON-in-content tool calls and argument validation."""

import json
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from connectors.schedule import Business
from voice_agent.dialog.tools import (
    BOOK_APPOINTMENT,
    CHECK_AVAILABILITY,
    END_CALL,
    MAX_ARGUMENT_CHARS,
    TOOL_NAMES,
    TRANSFER_TO_HUMAN,
    ToolError,
    ToolRecord,
    forced_choice,
    parse_arguments,
    parse_hhmm,
    parse_iso_date,
    parse_local_start,
    require_service,
    tool_calls_from_content,
    tool_schemas,
)

NY = ZoneInfo("America/New_York")


# -- schemas --------------------------------------------------------------------------------


def test_tool_schemas_shape(salon: Business) -> None:
    schemas = tool_schemas(salon)
    assert [s["function"]["name"] for s in schemas] == list(TOOL_NAMES)
    for schema in schemas:
        assert schema["type"] == "function"
        fn = schema["function"]
        assert fn["description"]
        params = fn["parameters"]
        assert params["type"] == "object"
        assert set(params.get("required", [])) <= set(params["properties"])
    by_name = {s["function"]["name"]: s["function"]["parameters"] for s in schemas}
    assert by_name[CHECK_AVAILABILITY]["required"] == ["service", "date"]
    assert set(by_name[BOOK_APPOINTMENT]["required"]) == {"service", "start", "name", "phone"}
    assert by_name[TRANSFER_TO_HUMAN]["required"] == ["reason"]
    assert by_name[END_CALL]["properties"] == {}


def test_service_enum_is_the_business_service_ids(salon: Business, dental: Business) -> None:
    for business, ids in ((salon, ["haircut", "color", "blowdry"]),
                          (dental, ["checkup", "cleaning", "emergency"])):
        schemas = {s["function"]["name"]: s for s in tool_schemas(business)}
        for name in (CHECK_AVAILABILITY, BOOK_APPOINTMENT):
            props = schemas[name]["function"]["parameters"]["properties"]
            assert props["service"]["enum"] == ids


def test_tool_schemas_are_byte_stable(salon: Business) -> None:
    # prefix caching needs the same bytes on every request of a call
    dump = json.dumps(tool_schemas(salon), sort_keys=False)
    assert json.dumps(tool_schemas(salon), sort_keys=False) == dump


def test_forced_choice() -> None:
    assert forced_choice(BOOK_APPOINTMENT) == {
        "type": "function", "function": {"name": BOOK_APPOINTMENT}
    }


# -- tool calls written as text ----------------------------------------------------------------


def test_content_json_with_tool_call_tags() -> None:
    content = (
        '<tool_call>\n{"name": "check_availability", "arguments": '
        '{"service": "haircut", "date": "2026-12-01", "time": "15:00"}}\n</tool_call>'
    )
    [call] = tool_calls_from_content(content)
    assert call.name == CHECK_AVAILABILITY
    assert call.arguments == {"service": "haircut", "date": "2026-12-01", "time": "15:00"}
    assert call.source == "content_json"
    assert call.raw is not None and call.raw.startswith("{")


def test_content_json_without_tags_and_with_prose() -> None:
    content = 'Sure! {"name": "transfer_to_human", "arguments": {"reason": "asked"}} Thanks.'
    [call] = tool_calls_from_content(content)
    assert call.name == TRANSFER_TO_HUMAN and call.arguments == {"reason": "asked"}


def test_content_json_with_parameters_key() -> None:
    content = '{"name": "book_appointment", "parameters": {"service": "haircut", ' \
              '"start": "2026-12-01T15:00", "name": "Dana Smith", "phone": "+15551230001"}}'
    [call] = tool_calls_from_content(content)
    assert call.name == BOOK_APPOINTMENT
    assert call.arguments["name"] == "Dana Smith"


def test_content_json_with_string_arguments_and_function_wrapper() -> None:
    content = json.dumps({"function": {"name": "end_call"}, "arguments": "{}"})
    [call] = tool_calls_from_content(content)
    assert call.name == END_CALL and call.arguments == {}


LIST_BUG = (
    "tools.py tool_calls_from_content: the greedy {.*} regex drops the list brackets, so a "
    "JSON list (or two <tool_call> blocks) is not valid JSON and yields no calls"
)


def test_content_json_list_of_calls() -> None:
    content = json.dumps([
        {"name": "check_availability", "arguments": {"service": "haircut", "date": "2026-12-01"}},
        {"name": "end_call", "arguments": {}},
    ])
    calls = tool_calls_from_content(content)
    assert [c.name for c in calls] == [CHECK_AVAILABILITY, END_CALL]
    assert calls[0].id != calls[1].id


@pytest.mark.parametrize(
    "content",
    [
        None,
        "",
        "Sure, I can help with that.",
        "{not json at all}",
        '{"name": "check_availability", "arguments": {"service": ',  # truncated
        '{"name": "delete_everything", "arguments": {}}',  # not one of our tools
        '{"name": "check_availability", "arguments": "[1, 2]"}',  # arguments not an object
        '{"name": "check_availability", "arguments": "not json"}',
        '["just", "strings"]',
    ],
)
def test_content_garbage_gives_no_calls(content: str | None) -> None:
    assert tool_calls_from_content(content) == []


def test_content_two_tool_call_blocks() -> None:
    content = (
        '<tool_call>{"name": "check_availability", "arguments": {"service": "haircut", '
        '"date": "2026-12-01"}}</tool_call>\n<tool_call>{"name": "end_call", "arguments": {}}'
        "</tool_call>"
    )
    assert [c.name for c in tool_calls_from_content(content)] == [CHECK_AVAILABILITY, END_CALL]


# -- argument parsing ---------------------------------------------------------------------------


def test_parse_arguments() -> None:
    assert parse_arguments(None) == {}
    assert parse_arguments("") == {}
    assert parse_arguments({"a": 1}) == {"a": 1}
    assert parse_arguments('{"service": "haircut"}') == {"service": "haircut"}


def test_parse_arguments_limits() -> None:
    at_limit = json.dumps({"reason": "x" * (MAX_ARGUMENT_CHARS - 20)})
    assert len(at_limit) <= MAX_ARGUMENT_CHARS
    assert parse_arguments(at_limit)["reason"].startswith("x")
    too_long = json.dumps({"reason": "x" * MAX_ARGUMENT_CHARS})
    with pytest.raises(ToolError, match="too long"):
        parse_arguments(too_long)


@pytest.mark.parametrize("raw", ["{", "not json", "[1, 2]", '"a string"', "42"])
def test_parse_arguments_rejects_non_objects(raw: str) -> None:
    with pytest.raises(ToolError):
        parse_arguments(raw)


def test_parse_iso_date() -> None:
    assert parse_iso_date("2026-12-01") == date(2026, 12, 1)
    assert parse_iso_date(" 2026-12-01T15:00 ") == date(2026, 12, 1)
    for bad in ("next Tuesday", "12/01/2026", "2026-13-01", None, ""):
        with pytest.raises(ToolError, match="YYYY-MM-DD"):
            parse_iso_date(bad)


def test_parse_hhmm() -> None:
    assert parse_hhmm("15:00") == time(15, 0)
    assert parse_hhmm("9:30") == time(9, 30)
    assert parse_hhmm(" 09:30:00 ") == time(9, 30)
    for bad in ("3 pm", "24:00", "12:60", "1500", "", None):
        with pytest.raises(ToolError, match="HH:MM"):
            parse_hhmm(bad)


def test_parse_local_start(salon: Business) -> None:
    assert parse_local_start("2026-12-01T15:00", salon) == datetime(2026, 12, 1, 15, tzinfo=NY)
    # an explicit offset is converted to business time
    start = parse_local_start("2026-12-01T20:00:00+00:00", salon)
    assert start == datetime(2026, 12, 1, 15, tzinfo=NY)
    assert start.tzinfo == NY
    for bad in ("tomorrow at 3", "2026-12-01 3pm", "", None):
        with pytest.raises(ToolError, match="YYYY-MM-DDTHH:MM"):
            parse_local_start(bad, salon)


def test_require_service(salon: Business, dental: Business) -> None:
    assert require_service("haircut", salon) == "haircut"
    assert require_service(" color ", salon) == "color"
    assert require_service("trim", salon) == "haircut"  # alias
    assert require_service("Hair colouring", salon) == "color"  # display name
    assert require_service("scale and polish", dental) == "cleaning"
    with pytest.raises(ToolError, match="Offer one of: blowdry, color, haircut"):
        require_service("massage", salon)
    with pytest.raises(ToolError):
        require_service(None, salon)


def test_tool_record_as_dict() -> None:
    rec = ToolRecord("book_appointment", {"service": "haircut"}, "policy", "corrected",
                     corrected_arguments={"service": "color"}, extra={"latency": 0.1})
    data = rec.as_dict()
    assert data["status"] == "corrected"
    assert data["corrected_arguments"] == {"service": "color"}
    assert data["latency"] == 0.1
    assert "corrected_arguments" not in ToolRecord("end_call", {}, "policy", "executed").as_dict()
