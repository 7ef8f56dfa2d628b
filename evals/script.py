"""Call scripts (``evals/calls/**/*.yaml``): pydantic models and loaders.

The format is specified in ``EVAL_FORMAT.md``. Every model allows extra fields (the runner may
accept more than the contract). Timestamps may be quoted ISO 8601 strings or unquoted YAML
timestamps, but must carry a UTC offset: a naive time is rejected, since an instant cannot be
compared without one. Errors raised by :func:`load_script` name the file and the field.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from connectors.yaml_doc import safe_load

__all__ = [
    "AskKind",
    "CalendarEntry",
    "CallScript",
    "Caller",
    "CallerTurn",
    "Expectation",
    "ExpectedBooking",
    "ExpectedCancellation",
    "KeptBooking",
    "Outcome",
    "ScriptError",
    "load_script",
    "load_scripts",
]

AskKind = Literal["service", "date", "time", "name", "phone", "confirm", "anything"]
Outcome = Literal["booked", "rescheduled", "cancelled", "no_booking", "transferred"]


class ScriptError(ValueError):
    """A call script that cannot be read; the message names the file and the field."""


def _require_offset(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO 8601 timestamp: {value!r}") from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"timestamp {value.isoformat()} has no UTC offset; "
                "write it with one, e.g. 2026-11-23T09:00:00-05:00"
            )
        return value
    if isinstance(value, dt.date):
        raise ValueError(f"{value.isoformat()} is a date; a full timestamp with offset is needed")
    return value


def _phone_str(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError('phone numbers must be quoted in YAML, e.g. "+15551230001"')
    return value


def _scalar_str(value: Any) -> Any:
    """Fact values: YAML may turn ``date: 2026-12-01`` or ``time: 15:00`` into non-strings."""
    if isinstance(value, dt.date | dt.time | int | float) and not isinstance(value, bool):
        return value.isoformat() if isinstance(value, dt.date | dt.time) else str(value)
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_require_offset)]
Phone = Annotated[str, BeforeValidator(_phone_str)]
FactValue = Annotated[str, BeforeValidator(_scalar_str)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class CalendarEntry(_Model):
    service: str
    start: Instant
    name: str | None = None
    phone: Phone | None = None
    staff: str | None = None


class CallerTurn(_Model):
    say: str = ""
    if_asked: AskKind | None = None
    hangup: bool = False  # the caller hangs up here, whatever was asked

    @model_validator(mode="after")
    def _says_or_hangs_up(self) -> CallerTurn:
        if not self.hangup and not self.say.strip():
            raise ValueError("a caller turn needs `say` (or `hangup: true`)")
        return self


class Caller(_Model):
    phone: Phone
    facts: dict[str, FactValue] = Field(default_factory=dict)
    turns: list[CallerTurn] = Field(min_length=1)


class ExpectedBooking(_Model):
    service: str
    start: Instant
    name: str | None = None
    phone: Phone | None = None
    staff: str | None = None


class ExpectedCancellation(_Model):
    service: str
    start: Instant


class KeptBooking(_Model):
    """An entry that must still be in the calendar after the call, unchanged."""

    service: str
    start: Instant
    staff: str | None = None


class Expectation(_Model):
    outcome: Outcome
    booking: ExpectedBooking | None = None
    cancelled: ExpectedCancellation | None = None
    kept: list[KeptBooking] = Field(default_factory=list)
    also_booked: list[ExpectedBooking] = Field(default_factory=list)
    max_agent_turns: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _fields_for_outcome(self) -> Expectation:
        if self.outcome in ("booked", "rescheduled") and self.booking is None:
            raise ValueError(f"outcome {self.outcome!r} needs expect.booking")
        if self.outcome in ("rescheduled", "cancelled") and self.cancelled is None:
            raise ValueError(f"outcome {self.outcome!r} needs expect.cancelled")
        return self


class CallScript(_Model):
    id: str = Field(min_length=1)
    description: str = ""
    business: str = Field(min_length=1)
    now: Instant
    calendar: list[CalendarEntry] = Field(default_factory=list)
    caller: Caller
    expect: Expectation


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid call script ({exc.error_count()} error(s))"]
    for err in exc.errors(include_url=False):
        msg = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"  {path}: {_loc(err['loc'])}: {msg}")
    return "\n".join(lines)


def load_script(path: Path | str) -> CallScript:
    """Read and validate one call script; raise :class:`ScriptError` naming file and field."""
    path = Path(path)
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ScriptError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ScriptError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ScriptError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ScriptError(f"{path}: a call script must be a YAML mapping")
    try:
        return CallScript.model_validate(data)
    except ValidationError as exc:
        raise ScriptError(_format_errors(path, exc)) from None


def load_scripts(paths: list[Path]) -> list[CallScript]:
    """Load scripts from files and directories (searched recursively for ``*.yaml``, sorted).

    Script ids must be unique across everything loaded.
    """
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(p.rglob("*.yaml")))
        elif p.exists():
            files.append(p)
        else:
            raise ScriptError(f"{p}: no such file or directory")
    scripts: list[CallScript] = []
    seen: dict[str, Path] = {}
    for f in files:
        script = load_script(f)
        if script.id in seen:
            raise ScriptError(f"{f}: id: {script.id!r} is already used by {seen[script.id]}")
        seen[script.id] = f
        scripts.append(script)
    return scripts
