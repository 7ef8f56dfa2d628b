"""Configuration of the webhook connector: settings models, templates, JSON pointers.

The template language is only ``{{ name }}`` (spaces optional), rendered by hand: no Jinja, no
expressions, no filters. In a JSON body a string that is exactly one placeholder becomes the
variable's typed value (an integer, or ``null`` for a missing staff member); anything else is
string interpolation. A query parameter whose value is exactly one placeholder is left out when
the variable has no value. Path placeholders (``{{ booking_id }}``, or the OpenAPI-style
``{booking_id}``) are percent-encoded. There is no escape for a literal ``{{``.

Variables by operation (any other name is refused when the settings are validated). Times are
ISO 8601 with the business's UTC offset, ``*_utc`` ones end in ``Z``, dates are local
``YYYY-MM-DD``; ``name`` and ``phone`` may not appear in a path (paths reach logs):

* availability: service, service_name, duration_minutes, window_start, window_end,
  window_start_utc, window_end_utc, date / end_date (first / last day of the window), timezone
* book: service, service_name, duration_minutes, start, end, start_utc, end_utc, date,
  end_date, staff (null: anyone), name, phone, idempotency_key, timezone
* get, cancel: booking_id, timezone
* reschedule: those of book except idempotency_key (start = the new start, name / phone / staff
  as the CRM has them), plus booking_id and new_start
* find: phone, name (null when not searched by), timezone
* health: date (today), timezone

Response fields are located with RFC 6901 JSON pointers (``""`` is the whole document,
``/result/openings/0/when``; ``~1`` is ``/`` and ``~0`` is ``~`` inside a key).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime, tzinfo
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    HttpUrl,
    JsonValue,
    SecretStr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from connectors.base import MalformedResponseError
from connectors.registry import StrictModel

__all__ = [
    "MISSING", "AvailabilityMapping", "BookingFields", "BookingMapping", "BusyMapping",
    "Endpoint", "FindMapping", "Pointer", "StartsMapping", "StoredBookingMapping",
    "WebhookSecrets", "WebhookSettings", "as_datetime", "as_list", "as_text", "check_template",
    "json_strings", "optional", "render_json", "render_query", "render_string", "required",
    "resolve", "same_phone",
]

Value = str | int | None
Variables = Mapping[str, Value]

_NAME = r"([A-Za-z_][A-Za-z0-9_]*)"
_PLACEHOLDER = re.compile(r"\{\{\s*" + _NAME + r"\s*\}\}")
_PATH_PLACEHOLDER = re.compile(r"\{\{\s*" + _NAME + r"\s*\}\}|\{" + _NAME + r"\}")
_POINTER = re.compile(r"(/([^~]|~[01])*)*")
_INDEX = re.compile(r"0|[1-9][0-9]*")
MISSING: Any = object()


# -- templates ---------------------------------------------------------------------------------


def _placeholders(template: str, *, path: bool) -> list[str]:
    pattern = _PATH_PLACEHOLDER if path else _PLACEHOLDER
    names = [str(m[m.lastindex or 1]) for m in pattern.finditer(template)]
    rest = pattern.sub("", template)
    if "{{" in rest or "}}" in rest or (path and ("{" in rest or "}" in rest)):
        raise ValueError(f"malformed placeholder in {template!r} (write {{{{ name }}}})")
    return names


def check_template(
    template: str,
    allowed: frozenset[str],
    *,
    path: bool = False,
    forbidden: frozenset[str] = frozenset(),
) -> None:
    """``ValueError`` naming the first unknown (or forbidden) variable in ``template``."""
    for name in _placeholders(template, path=path):
        if name not in allowed:
            known = ", ".join(sorted(allowed))
            raise ValueError(f"unknown template variable {name!r} (known here: {known})")
        if name in forbidden:
            raise ValueError(f"{name!r} may not appear in a path (paths end up in logs); "
                             "send it in the query or the body")


def json_strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, object keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_strings(item)


def _encode_segment(text: str) -> str:
    if text in (".", ".."):
        return text.replace(".", "%2E")  # never a dot segment that walks up the path
    return quote(text, safe="")


def render_string(template: str, variables: Variables, *, path: bool = False) -> str:
    pattern = _PATH_PLACEHOLDER if path else _PLACEHOLDER

    def substitute(match: re.Match[str]) -> str:
        value = variables[str(match[match.lastindex or 1])]
        text = "" if value is None else str(value)
        return _encode_segment(text) if path else text

    return pattern.sub(substitute, template)


def render_json(template: Any, variables: Variables) -> Any:
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        return variables[whole[1]] if whole else render_string(template, variables)
    if isinstance(template, dict):
        return {render_string(k, variables): render_json(v, variables)
                for k, v in template.items()}
    if isinstance(template, list):
        return [render_json(item, variables) for item in template]
    return template


def render_query(query: Mapping[str, str], variables: Variables) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, template in query.items():
        whole = _PLACEHOLDER.fullmatch(template)
        if whole and variables[whole[1]] is None:
            continue
        params[key] = render_string(template, variables)
    return params


# -- JSON pointers -----------------------------------------------------------------------------


def _check_pointer(pointer: str) -> str:
    if not _POINTER.fullmatch(pointer):
        raise ValueError("a JSON pointer is empty or starts with '/' (RFC 6901: write '~' as "
                         "~0 and '/' as ~1 inside a key)")
    return pointer


Pointer = Annotated[str, AfterValidator(_check_pointer)]


def resolve(document: Any, pointer: str) -> Any:
    """The value at ``pointer``, or :data:`MISSING`."""
    node = document
    if pointer == "":
        return node
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and _INDEX.fullmatch(token) and int(token) < len(node):
            node = node[int(token)]
        else:
            return MISSING
    return node


def required(document: Any, pointer: str, what: str) -> Any:
    value = resolve(document, pointer)
    if value is MISSING:
        raise MalformedResponseError(f"{what}: answer has nothing at {pointer!r}")
    return value


def optional(document: Any, pointer: str | None) -> Any:
    """The value at an optional pointer; None when not configured, absent or null."""
    if pointer is None:
        return None
    value = resolve(document, pointer)
    return None if value is MISSING else value


def as_list(document: Any, pointer: str, what: str) -> list[Any]:
    items = required(document, pointer, what)
    if not isinstance(items, list):
        raise MalformedResponseError(f"{what}: value at {pointer!r} is not a list")
    return items


def as_text(value: Any, pointer: str, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise MalformedResponseError(f"{what}: value at {pointer!r} is not text")


def as_datetime(value: Any, pointer: str, what: str, tz: tzinfo) -> datetime:
    """An ISO 8601 date-time, aware in ``tz``; one without an offset is read in ``tz``."""
    try:
        if not isinstance(value, str) or len(value) < 16:  # a date alone is not a start time
            raise ValueError
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=tz)
        return parsed.astimezone(tz)
    except (ValueError, OverflowError):
        raise MalformedResponseError(
            f"{what}: value at {pointer!r} is not an ISO 8601 date-time") from None


# -- response mappings -------------------------------------------------------------------------


class StartsMapping(StrictModel):
    """The CRM lists free start times: ``slots_pointer`` is the list; inside each item
    ``start_pointer`` (``""`` when the item is the date-time itself) and the staff member."""

    mode: Literal["starts"] = "starts"
    slots_pointer: Pointer
    start_pointer: Pointer
    staff_pointer: Pointer | None = None


class BusyMapping(StrictModel):
    """The CRM lists busy intervals; an interval without a staff member blocks everyone."""

    mode: Literal["busy"]
    busy_pointer: Pointer
    busy_start_pointer: Pointer
    busy_end_pointer: Pointer
    busy_staff_pointer: Pointer | None = None


def _mode(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("mode", "starts")
    return getattr(value, "mode", None)


AvailabilityMapping = Annotated[
    Annotated[StartsMapping, Tag("starts")] | Annotated[BusyMapping, Tag("busy")],
    Discriminator(_mode),
]


class BookingFields(StrictModel):
    """Where a booking's fields are, relative to the booking object. Optional fields the CRM
    does not send are filled from the request (or from the booking read before a change)."""

    id_pointer: Pointer
    start_pointer: Pointer | None = None
    end_pointer: Pointer | None = None  # default: start + the service's duration
    service_pointer: Pointer | None = None  # a service id, name or alias of the business
    status_pointer: Pointer | None = None
    cancelled_values: tuple[str, ...] = ("cancelled", "canceled")
    name_pointer: Pointer | None = None
    phone_pointer: Pointer | None = None
    staff_pointer: Pointer | None = None


class BookingMapping(BookingFields):
    booking_pointer: Pointer = ""  # where the booking object is in the answer


class StoredBookingMapping(BookingMapping):
    """A booking read back by id must carry its own start time and service."""

    start_pointer: Pointer
    service_pointer: Pointer


class FindMapping(BookingFields):
    list_pointer: Pointer
    start_pointer: Pointer
    service_pointer: Pointer


# -- configuration ----------------------------------------------------------------------------

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
HeaderName = Annotated[str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]
ErrorStatus = Annotated[int, Field(ge=400, le=599)]

_SLOT_VARS = {"service", "service_name", "duration_minutes", "start", "end", "start_utc",
              "end_utc", "date", "end_date", "staff", "timezone"}
_WINDOW_VARS = {"service", "service_name", "duration_minutes", "window_start", "window_end",
                "window_start_utc", "window_end_utc", "date", "end_date", "timezone"}
_PERSONAL = frozenset({"name", "phone"})


class Endpoint(StrictModel):
    """One HTTP call. ``path`` is relative to ``base_url``; ``query`` values and ``body``
    strings are templates over the operation's variables (``variables``)."""

    variables: ClassVar[frozenset[str]] = frozenset({"timezone", "date"})
    method: Method = "GET"
    path: str
    query: dict[str, str] = Field(default_factory=dict)
    body: JsonValue = None  # None: no body

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.startswith("/") or "?" in value or "#" in value:
            raise ValueError("a path starts with '/' and has no query (use 'query')")
        check_template(value, cls.variables, path=True, forbidden=_PERSONAL)
        return value

    @field_validator("query")
    @classmethod
    def _check_query(cls, value: dict[str, str]) -> dict[str, str]:
        for key, template in value.items():
            try:
                check_template(template, cls.variables)
            except ValueError as exc:
                raise ValueError(f"parameter {key!r}: {exc}") from None
        return value

    @field_validator("body")
    @classmethod
    def _check_body(cls, value: JsonValue) -> JsonValue:
        for text in json_strings(value):
            check_template(text, cls.variables)
        return value

    @model_validator(mode="after")
    def _no_get_body(self) -> Endpoint:
        if self.method == "GET" and self.body is not None:
            raise ValueError("a GET request has no body")
        return self


class AvailabilityEndpoint(Endpoint):
    variables = frozenset(_WINDOW_VARS)
    response: AvailabilityMapping


class BookEndpoint(Endpoint):
    variables = frozenset(_SLOT_VARS | {"name", "phone", "idempotency_key"})
    method: Method = "POST"
    response: BookingMapping


class GetEndpoint(Endpoint):
    variables = frozenset({"booking_id", "timezone"})
    response: StoredBookingMapping


class CancelEndpoint(Endpoint):
    variables = frozenset({"booking_id", "timezone"})
    method: Method
    response: BookingMapping | None = None  # None: the answer body is ignored


class RescheduleEndpoint(Endpoint):
    variables = frozenset(_SLOT_VARS | {"booking_id", "new_start", "name", "phone"})
    method: Method
    response: BookingMapping | None = None


class FindEndpoint(Endpoint):
    variables = frozenset({"name", "phone", "timezone"})
    response: FindMapping


class WebhookSettings(StrictModel):
    """Where the CRM is and how each operation maps onto it (see :mod:`connectors.webhook`)."""

    base_url: HttpUrl
    auth_header_name: HeaderName = "Authorization"
    availability: AvailabilityEndpoint
    book: BookEndpoint
    get: GetEndpoint | None = None
    cancel: CancelEndpoint | None = None
    reschedule: RescheduleEndpoint | None = None
    find: FindEndpoint | None = None
    health: Endpoint | None = None
    conflict_statuses: tuple[ErrorStatus, ...] = (409,)
    not_found_statuses: tuple[ErrorStatus, ...] = (404,)
    idempotency_header: HeaderName | None = "Idempotency-Key"

    @field_validator("cancel")
    @classmethod
    def _cancel_readable(cls, value: CancelEndpoint | None, info: ValidationInfo) -> Any:
        if value is None or info.data.get("get") is not None:
            return value
        mapping = value.response
        if mapping is None or mapping.start_pointer is None or mapping.service_pointer is None:
            raise ValueError("without a 'get' endpoint, cancel needs a response mapping with "
                             "start_pointer and service_pointer")
        return value

    @field_validator("reschedule")
    @classmethod
    def _reschedule_needs_get(cls, value: RescheduleEndpoint | None, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("get") is None:
            raise ValueError("reschedule needs a 'get' endpoint (to check the new start "
                             "against the booking's service before asking the CRM)")
        return value


def _no_newlines(value: SecretStr) -> SecretStr:
    if re.search(r"[\r\n\0]", value.get_secret_value()):
        raise ValueError("a header value cannot contain line breaks")
    return value


class WebhookSecrets(StrictModel):
    auth_header_value: SecretStr | None = None  # e.g. "Bearer abc..."; sent as auth_header_name
    extra_headers: dict[HeaderName, SecretStr] = Field(default_factory=dict)

    @field_validator("auth_header_value")
    @classmethod
    def _check_value(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None else _no_newlines(value)

    @field_validator("extra_headers")
    @classmethod
    def _check_extra(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        return {k: _no_newlines(v) for k, v in value.items()}


# -- matching ---------------------------------------------------------------------------------


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone).lstrip("0")


def same_phone(a: str, b: str) -> bool:
    """Equal digits, or one the national form of the other ("+1 212…" vs "(212)…")."""
    short, long = sorted((_digits(a), _digits(b)), key=len)
    return short == long or (len(short) >= 7 and long.endswith(short))
