"""The tools the LLM may call: strict JSON schemas and argument validation.

Schemas are built once per business and stay byte-identical for the whole call (prefix
caching). A tool call whose arguments do not validate is rejected with a short, caller-safe
reason that goes back to the LLM; it is never executed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from connectors.schedule import Business

CHECK_AVAILABILITY = "check_availability"
BOOK_APPOINTMENT = "book_appointment"
FIND_MY_APPOINTMENTS = "find_my_appointments"
CANCEL_APPOINTMENT = "cancel_appointment"
RESCHEDULE_APPOINTMENT = "reschedule_appointment"
TRANSFER_TO_HUMAN = "transfer_to_human"
END_CALL = "end_call"
TOOL_NAMES = (CHECK_AVAILABILITY, BOOK_APPOINTMENT, FIND_MY_APPOINTMENTS, CANCEL_APPOINTMENT,
              RESCHEDULE_APPOINTMENT, TRANSFER_TO_HUMAN, END_CALL)
MAX_ARGUMENT_CHARS = 2_000


class ToolError(Exception):
    """A caller-safe reason a tool call was refused or failed; said back to the LLM."""


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str = "call_0"
    source: str = "tool_calls"  # tool_calls | content_json | policy
    raw: str | None = None


@dataclass
class ToolRecord:
    """What happened to one tool call, for the turn log."""

    name: str
    arguments: dict[str, Any]
    source: str
    status: str  # executed | rejected | failed | corrected
    result: Any = None
    reason: str | None = None
    corrected_arguments: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "arguments": self.arguments,
            "source": self.source,
            "status": self.status,
            "result": self.result,
            "reason": self.reason,
        }
        if self.corrected_arguments is not None:
            data["corrected_arguments"] = self.corrected_arguments
        data.update(self.extra)
        return data


def tool_schemas(business: Business) -> list[dict[str, Any]]:
    service_ids = [s.id for s in business.services]
    return [
        {
            "type": "function",
            "function": {
                "name": CHECK_AVAILABILITY,
                "description": "Find free start times for a service on a day. "
                "Give time to check one exact time.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "service": {"type": "string", "enum": service_ids},
                        "date": {"type": "string", "description": "YYYY-MM-DD"},
                        "time": {"type": "string", "description": "HH:MM, 24-hour"},
                    },
                    "required": ["service", "date"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": BOOK_APPOINTMENT,
                "description": "Book the slot the caller explicitly confirmed.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "service": {"type": "string", "enum": service_ids},
                        "start": {"type": "string", "description": "YYYY-MM-DDTHH:MM local"},
                        "name": {"type": "string"},
                        "phone": {"type": "string"},
                    },
                    "required": ["service", "start", "name", "phone"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": FIND_MY_APPOINTMENTS,
                "description": "Find the caller's upcoming appointments.",
                "parameters": {
                    "type": "object",
                    "properties": {"phone": {"type": "string"}, "name": {"type": "string"}},
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": CANCEL_APPOINTMENT,
                "description": "Cancel the appointment the caller confirmed.",
                "parameters": {
                    "type": "object",
                    "properties": {"booking_id": {"type": "string"}},
                    "required": ["booking_id"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": RESCHEDULE_APPOINTMENT,
                "description": "Move the appointment to the new start the caller confirmed.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "booking_id": {"type": "string"},
                        "new_start": {"type": "string", "description": "YYYY-MM-DDTHH:MM local"},
                    },
                    "required": ["booking_id", "new_start"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": TRANSFER_TO_HUMAN,
                "description": "Pass the caller to a human colleague.",
                "parameters": {
                    "type": "object",
                    "properties": {"reason": {"type": "string"}},
                    "required": ["reason"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": END_CALL,
                "description": "End the call after saying goodbye.",
                "parameters": {"type": "object", "properties": {}},
            },
        },
    ]


def tool_result_messages(name: str, args: dict[str, Any], result: Any, call_id: str
                         ) -> list[dict[str, Any]]:
    """A tool call the code made and its result, as the chat messages the LLM reads."""
    return [{"role": "assistant", "content": "", "tool_calls": [{
        "id": call_id, "type": "function",
        "function": {"name": name, "arguments": json.dumps(args)}}]},
        {"role": "tool", "tool_call_id": call_id, "content": json.dumps(result)}]


def forced_choice(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


def parse_arguments(raw: str | dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    if len(raw) > MAX_ARGUMENT_CHARS:
        raise ToolError("The request was too long.")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ToolError("The tool arguments were not valid JSON.") from None
    if not isinstance(value, dict):
        raise ToolError("The tool arguments must be an object.")
    return value


def _json_values(text: str) -> list[Any]:
    """Every top-level JSON value (object or list) embedded in free text, in order."""
    decoder = json.JSONDecoder()
    values, i = [], 0
    while i < len(text):
        if text[i] in "{[":
            try:
                value, end = decoder.raw_decode(text, i)
            except json.JSONDecodeError:
                i += 1
                continue
            values.append(value)
            i = end
        else:
            i += 1
    return values


def tool_calls_from_content(content: str | None) -> list[ToolCall]:
    """Small models often write the tool call as JSON text instead of ``tool_calls``:
    a bare object, a list of them, or Qwen's ``<tool_call>...</tool_call>`` blocks."""
    if not content or "{" not in content:
        return []
    items: list[Any] = []
    for value in _json_values(re.sub(r"</?tool_call>", " ", content)):
        items.extend(value if isinstance(value, list) else [value])
    calls = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        function = item.get("function") if isinstance(item.get("function"), dict) else {}
        name = item.get("name") or function.get("name")
        args = item.get("arguments", item.get("parameters", function.get("arguments", {})))
        if name in TOOL_NAMES:
            try:
                arguments = parse_arguments(args)
            except ToolError:
                continue
            calls.append(ToolCall(name, arguments, id=f"call_c{i}", source="content_json",
                                  raw=json.dumps(item)[:MAX_ARGUMENT_CHARS]))
    return calls


def parse_iso_date(value: Any) -> date:
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ToolError("The date must be written as YYYY-MM-DD.") from None


def parse_hhmm(value: Any) -> time:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::\d{2})?\s*", str(value))
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ToolError("The time must be written as HH:MM.")
    return time(int(m.group(1)), int(m.group(2)))


def parse_local_start(value: Any, business: Business) -> datetime:
    try:
        start = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ToolError("The start must be written as YYYY-MM-DDTHH:MM.") from None
    if start.tzinfo is None:
        return start.replace(tzinfo=business.tz)
    return start.astimezone(business.tz)


def require_service(value: Any, business: Business) -> str:
    service = str(value or "").strip()
    ids = {s.id for s in business.services}
    if service in ids:
        return service
    found = business.find_service(service)
    if found is None:
        raise ToolError(f"Unknown service. Offer one of: {', '.join(sorted(ids))}.")
    return found.id
