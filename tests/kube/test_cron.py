"""Cron schedules: robfig/cron's standard syntax, as Kubernetes accepts it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from turnout.kube import cron


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def test_every_minute_and_steps() -> None:
    s = cron.parse("*/1 * * * *")
    assert s.next_after(at(2026, 1, 1, 10, 0, 30)) == at(2026, 1, 1, 10, 1)
    s = cron.parse("*/15 9-17 * * MON-FRI")
    assert s.next_after(at(2026, 1, 2, 17, 50)) == at(2026, 1, 5, 9, 0)  # Fri → Mon
    assert cron.parse("5/20 * * * *").minutes == frozenset({5, 25, 45})


def test_macros() -> None:
    assert cron.parse("@hourly").next_after(at(2026, 3, 1, 10, 0)) == at(2026, 3, 1, 11, 0)
    assert cron.parse("@daily").next_after(at(2026, 3, 1, 10, 0)) == at(2026, 3, 2)
    assert cron.parse("@weekly").next_after(at(2026, 3, 1, 10, 0)) == at(2026, 3, 8)  # a Sunday
    assert cron.parse("@monthly").next_after(at(2026, 3, 1)) == at(2026, 4, 1)
    assert cron.parse("@yearly").next_after(at(2026, 3, 1)) == at(2027, 1, 1)


def test_day_fields_or_when_both_restricted_and_when_either_is_star() -> None:
    both = cron.parse("0 0 13 * FRI")  # the 13th, or any Friday
    assert both.next_after(at(2026, 3, 1)) == at(2026, 3, 6)  # Friday the 6th
    one = cron.parse("0 0 * * FRI")
    assert one.next_after(at(2026, 3, 6)) == at(2026, 3, 13)
    assert cron.parse("0 0 30 2 *").next_after(at(2026, 1, 1)) is None  # never


def test_time_zone() -> None:
    s = cron.parse("0 9 * * *", "Europe/Paris")
    assert s.next_after(at(2026, 1, 10, 0, 0)) == at(2026, 1, 10, 8, 0)  # CET
    assert s.next_after(at(2026, 7, 10, 0, 0)) == at(2026, 7, 10, 7, 0)  # CEST


def test_times_between_is_bounded() -> None:
    s = cron.parse("* * * * *")
    ts = s.times_between(at(2026, 1, 1), at(2026, 1, 1, 0, 3))
    assert ts == [at(2026, 1, 1, 0, 1), at(2026, 1, 1, 0, 2), at(2026, 1, 1, 0, 3)]
    assert len(s.times_between(at(2026, 1, 1), at(2026, 1, 2), limit=101)) == 101


@pytest.mark.parametrize(("schedule", "words"), [
    ("* * * *", "expected exactly 5 fields, found 4"),
    ("61 * * * *", "minute value 61 out of range"),
    ("* * * * 7", "day of week value 7 out of range"),
    ("5-2 * * * *", "beginning of range (5) beyond end of range (2)"),
    ("*/0 * * * *", "invalid step"),
    ("@fortnightly", "unrecognized descriptor"),
    ("TZ=UTC * * * * *", "use timeZone field instead"),
])
def test_bad_schedules_say_why(schedule: str, words: str) -> None:
    with pytest.raises(cron.CronError, match=words.replace("(", r"\(").replace(")", r"\)")):
        cron.parse(schedule)


def test_validation_names_the_field() -> None:
    causes = cron.validate_cronjob({"spec": {"schedule": "bad", "timeZone": "Mars/Olympus"}})
    assert [c.field for c in causes] == ["spec.schedule", "spec.timeZone"]
    assert "unknown time zone Mars/Olympus" in causes[1].message


def test_last_between_finds_the_latest_time_without_walking_a_long_gap() -> None:
    s = cron.parse("* * * * *")
    assert s.last_between(at(2020, 1, 1), at(2026, 1, 1, 0, 0, 30)) == at(2026, 1, 1)
    assert cron.parse("0 0 1 1 *").last_between(at(2020, 1, 1), at(2026, 6, 1)) == \
        at(2026, 1, 1)
    assert s.last_between(at(2026, 1, 1), at(2026, 1, 1, 0, 0, 30)) is None
