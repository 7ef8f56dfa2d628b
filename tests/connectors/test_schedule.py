from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from connectors.schedule import (
    Business,
    Service,
    load_business,
    load_businesses,
)
from voice_agent.config import DEFAULT_BUSINESSES_DIR

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
SAT = date(2026, 12, 5)
SUN = date(2026, 12, 6)
FRI = date(2026, 12, 4)


@pytest.fixture(scope="module")
def salon() -> Business:
    return load_business(DEFAULT_BUSINESSES_DIR / "demo-salon.yaml")


@pytest.fixture(scope="module")
def dental() -> Business:
    return load_business(DEFAULT_BUSINESSES_DIR / "demo-dental.yaml")


def _business(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "b",
        "display_name": "B",
        "timezone": "Europe/London",
        "hours": {"mon": ["09:00", "17:00"]},
        "slot_minutes": 30,
        "services": [{"id": "x", "name": "X", "minutes": 30}],
    }
    data.update(overrides)
    return data


def test_businesses_are_configuration_at_the_top_of_the_repo(monkeypatch, tmp_path) -> None:
    from voice_agent.config import Settings

    repo = Path(__file__).resolve().parent.parent.parent
    assert DEFAULT_BUSINESSES_DIR == repo / "businesses"
    assert Settings().businesses_dir == DEFAULT_BUSINESSES_DIR
    monkeypatch.setenv("VOICE_AGENT_BUSINESSES_DIR", str(tmp_path))
    assert Settings().businesses_dir == tmp_path


def test_load_salon_exact(salon: Business) -> None:
    assert salon.name == "demo-salon"
    assert salon.display_name == "Bella Hair Studio"
    assert salon.timezone == "America/New_York"
    assert salon.tz == NY
    assert salon.hours == {
        "mon": ("09:00", "18:00"),
        "tue": ("09:00", "18:00"),
        "wed": ("09:00", "18:00"),
        "thu": ("09:00", "20:00"),
        "fri": ("09:00", "20:00"),
        "sat": ("10:00", "16:00"),
    }
    assert salon.slot_minutes == 30
    assert salon.services == [
        Service(id="haircut", name="Haircut", minutes=30, aliases=["trim", "cut"]),
        Service(
            id="color", name="Hair colouring", minutes=90, aliases=["colour", "dye", "highlights"]
        ),
        Service(id="blowdry", name="Blow-dry", minutes=30, aliases=["blow out", "blowout"]),
    ]
    assert salon.staff == ["Maria", "Tom"]
    assert salon.staff_members == ["Maria", "Tom"]


def test_load_dental_exact(dental: Business) -> None:
    assert dental.name == "demo-dental"
    assert dental.display_name == "Riverside Dental"
    assert dental.tz == LONDON
    assert dental.hours == {
        **{d: ("08:30", "17:00") for d in ("mon", "tue", "wed", "thu")},
        "fri": ("08:30", "13:00"),
    }
    assert dental.slot_minutes == 15
    assert [(s.id, s.name, s.minutes, s.aliases) for s in dental.services] == [
        ("checkup", "Check-up", 30, ["check up", "exam", "examination"]),
        ("cleaning", "Hygienist cleaning", 45, ["clean", "scale and polish", "hygienist"]),
        ("emergency", "Emergency appointment", 15, ["toothache", "urgent", "pain"]),
    ]
    assert dental.staff == ["Dr Patel", "Dr Okafor"]


def test_load_businesses_keys_by_name(salon: Business, dental: Business) -> None:
    businesses = load_businesses(DEFAULT_BUSINESSES_DIR)
    assert businesses["demo-salon"] == salon
    assert businesses["demo-dental"] == dental


def test_implicit_staff_member() -> None:
    business = Business.model_validate(_business())
    assert business.staff_members == ["default"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'd like a trim please", "haircut"),
        ("Can I book a HAIRCUT?", "haircut"),
        ("two haircuts please", "haircut"),
        ("some highlights", "color"),
        ("hair colouring and a cut", "color"),  # longest match wins
        ("a blow-dry", "blowdry"),
        ("just a blow out", "blowdry"),
        ("cutting board", None),  # whole words only
        ("hello there", None),
    ],
)
def test_find_service_salon(salon: Business, text: str, expected: str | None) -> None:
    found = salon.find_service(text)
    assert (found.id if found else None) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I need a check-up", "checkup"),
        ("a check up please", "checkup"),
        ("checkup", "checkup"),
        ("an Examination", "checkup"),
        ("scale and polish", "cleaning"),
        ("see the hygienist", "cleaning"),
        ("I've got terrible toothache", "emergency"),
        ("exams", "checkup"),
    ],
)
def test_find_service_dental(dental: Business, text: str, expected: str | None) -> None:
    found = dental.find_service(text)
    assert (found.id if found else None) == expected


def test_opening_window(salon: Business, dental: Business) -> None:
    assert salon.opening_window(SAT) == (
        datetime(2026, 12, 5, 10, 0, tzinfo=NY),
        datetime(2026, 12, 5, 16, 0, tzinfo=NY),
    )
    assert salon.opening_window(SUN) is None
    opens, closes = dental.opening_window(FRI) or (None, None)
    assert opens == datetime(2026, 12, 4, 8, 30, tzinfo=LONDON)
    assert closes == datetime(2026, 12, 4, 13, 0, tzinfo=LONDON)
    assert dental.opening_window(SAT) is None


def test_candidate_starts_salon_saturday_colour(salon: Business) -> None:
    starts = salon.candidate_starts("color", SAT)
    assert starts[0] == datetime(2026, 12, 5, 10, 0, tzinfo=NY)
    assert starts[-1] == datetime(2026, 12, 5, 14, 30, tzinfo=NY)
    assert len(starts) == 10
    assert all(s.tzinfo == NY for s in starts)
    assert salon.candidate_starts("haircut", SAT)[-1].time() == time(15, 30)
    assert salon.candidate_starts("haircut", SUN) == []


def test_candidate_starts_dental_friday(dental: Business) -> None:
    checkups = dental.candidate_starts("checkup", FRI)
    assert checkups[0] == datetime(2026, 12, 4, 8, 30, tzinfo=LONDON)
    assert checkups[-1] == datetime(2026, 12, 4, 12, 30, tzinfo=LONDON)
    cleanings = dental.candidate_starts("cleaning", FRI)
    assert cleanings[-1].time() == time(12, 15)
    assert len(cleanings) == 16
    assert dental.candidate_starts("emergency", FRI)[-1].time() == time(12, 45)
    assert dental.candidate_starts("checkup", date(2026, 12, 7))[-1].time() == time(16, 30)


def test_candidate_starts_use_elapsed_time_across_dst() -> None:
    business = Business.model_validate(
        _business(
            hours={"sun": ["00:00", "03:00"]},
            slot_minutes=60,
            services=[{"id": "x", "name": "X", "minutes": 60}],
        )
    )
    # 2026-03-29: London clocks jump from 01:00 GMT to 02:00 BST, so 00:00-03:00 is two hours.
    starts = business.candidate_starts("x", date(2026, 3, 29))
    assert [s.astimezone(UTC).hour for s in starts] == [0, 1]


def test_is_within_hours(salon: Business, dental: Business) -> None:
    def sat(h: int, m: int = 0) -> datetime:
        return datetime(2026, 12, 5, h, m, tzinfo=NY)

    assert salon.is_within_hours("haircut", sat(15, 30))
    assert salon.is_within_hours("color", sat(14, 30))
    assert salon.is_within_hours("haircut", sat(10).astimezone(UTC))  # any tz in, same instant
    assert not salon.is_within_hours("color", sat(15))
    assert not salon.is_within_hours("haircut", sat(9, 30))
    assert not salon.is_within_hours("haircut", sat(10, 15))
    assert not salon.is_within_hours("haircut", datetime(2026, 12, 6, 12, tzinfo=NY))
    assert not dental.is_within_hours("cleaning", datetime(2026, 12, 4, 12, 30, tzinfo=LONDON))
    assert dental.is_within_hours("cleaning", datetime(2026, 12, 4, 12, 15, tzinfo=LONDON))


def test_hours_violation_says_why(salon: Business) -> None:
    assert "closed on Sundays" in (
        salon.hours_violation("haircut", datetime(2026, 12, 6, 12, tzinfo=NY)) or ""
    )
    assert "opens at 10:00" in (
        salon.hours_violation("haircut", datetime(2026, 12, 5, 9, tzinfo=NY)) or ""
    )
    assert "after closing" in (
        salon.hours_violation("color", datetime(2026, 12, 5, 15, tzinfo=NY)) or ""
    )
    assert "every 30 minutes" in (
        salon.hours_violation("haircut", datetime(2026, 12, 5, 10, 15, tzinfo=NY)) or ""
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        salon.is_within_hours("haircut", datetime(2026, 12, 5, 10))
    with pytest.raises(KeyError):
        salon.is_within_hours("massage", datetime(2026, 12, 5, 10, tzinfo=NY))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"hours": {"mon": ["17:00", "09:00"]}}, "not before closing"),
        ({"hours": {"mon": ["9am", "17:00"]}}, "HH:MM"),
        ({"hours": {"monday": ["09:00", "17:00"]}}, "unknown day"),
        ({"slot_minutes": 0}, "greater than 0"),
        (
            {
                "services": [
                    {"id": "x", "name": "X", "minutes": 30},
                    {"id": "x", "name": "Y", "minutes": 15},
                ]
            },
            "unique",
        ),
        ({"staff": ["Ann", "Ann"]}, "unique"),
    ],
)
def test_validation(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Business.model_validate(_business(**overrides))


def test_load_businesses_reads_every_yaml(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "name: a\ndisplay_name: A\ntimezone: UTC\nhours: {sat: ['10:00', '12:00']}\n"
        "slot_minutes: 60\nservices: [{id: s, name: S, minutes: 60}]\n"
    )
    (tmp_path / "notes.txt").write_text("ignored")
    businesses = load_businesses(tmp_path)
    assert list(businesses) == ["a"]
    assert businesses["a"].candidate_starts("s", SAT) == [
        datetime(2026, 12, 5, 10, tzinfo=ZoneInfo("UTC")),
        datetime(2026, 12, 5, 11, tzinfo=ZoneInfo("UTC")),
    ]
