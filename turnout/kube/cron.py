"""Cron schedules as the CronJob controller reads them (pure, no I/O).

Kubernetes parses `spec.schedule` with robfig/cron's standard parser: five fields (minute, hour,
day of month, month, day of week), `*`/`?`, lists, ranges, steps, month and weekday names, and the
`@yearly`/`@annually`/`@monthly`/`@weekly`/`@daily`/`@midnight`/`@hourly` macros. When both day
fields are restricted a day matches either one (classic cron); when either is `*` both must match.
Times are computed in the CronJob's `spec.timeZone` (an IANA name), else UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from turnout.kube.errors import Cause
from turnout.kube.fielderrors import invalid_value, required
from turnout.types import Obj

MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS), ("day of week", 0, 6, _DAYS))
_HORIZON_YEARS = 5  # a schedule with no time in this horizon (Feb 30) never fires


class CronError(ValueError):
    """A schedule the real parser refuses; the message says which field and why."""


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_star: bool
    weekdays_star: bool
    tz: tzinfo = UTC

    def day_matches(self, d: datetime) -> bool:
        dom = d.day in self.days
        dow = (d.isoweekday() % 7) in self.weekdays
        if self.days_star or self.weekdays_star:
            return dom and dow
        return dom or dow

    def next_after(self, t: datetime) -> datetime | None:
        """The first scheduled time strictly after `t` (aware), in UTC; None if there is none."""
        local = t.astimezone(self.tz).replace(second=0, microsecond=0, tzinfo=None)
        cur = local + timedelta(minutes=1)
        limit = cur.year + _HORIZON_YEARS
        while cur.year <= limit:
            if cur.month not in self.months:
                cur = datetime(cur.year + (cur.month == 12), cur.month % 12 + 1, 1)
                continue
            if not self.day_matches(cur):
                cur = datetime(cur.year, cur.month, cur.day) + timedelta(days=1)
                continue
            if cur.hour not in self.hours:
                cur = cur.replace(minute=0) + timedelta(hours=1)
                continue
            if cur.minute not in self.minutes:
                cur += timedelta(minutes=1)
                continue
            out = cur.replace(tzinfo=self.tz).astimezone(UTC)
            if out > t:  # a wall time repeated by a DST change fires once
                return out
            cur += timedelta(minutes=1)
        return None

    def times_between(self, after: datetime, until: datetime, limit: int = 101) -> list[datetime]:
        """Scheduled times in (after, until], at most `limit` of them (oldest first)."""
        out: list[datetime] = []
        t = self.next_after(after)
        while t is not None and t <= until and len(out) < limit:
            out.append(t)
            t = self.next_after(t)
        return out


    def last_between(self, after: datetime, until: datetime) -> datetime | None:
        """The latest scheduled time in (after, until], found in growing windows back from
        `until` so a long gap of every-minute times is not walked from its start."""
        for days in (1 / 24, 1, 32, 367, 366 * _HORIZON_YEARS):
            start = max(after, until - timedelta(days=days))
            found = self.times_between(start, until, limit=10**6)
            if found:
                return found[-1]
            if start == after:
                return None
        return None


def zone(name: str | None) -> tzinfo:
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise CronError(f"unknown time zone {name}") from e


def parse(schedule: str, time_zone: str | None = None) -> Schedule:
    text = schedule.strip()
    if "TZ" in text:
        raise CronError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise CronError(f"unrecognized descriptor: {text}")
        text = MACROS[text.lower()]
    parts = text.split()
    if len(parts) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(parts)}: {schedule}")
    m, h, dom, mon, dow = (_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True))
    return Schedule(m, h, dom, mon, dow, days_star=parts[2][0] in "*?",
                    weekdays_star=parts[4][0] in "*?", tz=zone(time_zone))


def _field(text: str, what: str, lo: int, hi: int, names: dict[str, int]) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        rng, _, step_s = part.partition("/")
        step = 1
        if step_s:
            if not step_s.isdigit() or int(step_s) == 0:
                raise CronError(f"invalid step in {what} field: {part}")
            step = int(step_s)
        if rng in ("*", "?"):
            start, end = lo, hi
        else:
            a, dash, b = rng.partition("-")
            start = _value(a, what, lo, hi, names)
            end = _value(b, what, lo, hi, names) if dash else (hi if step_s else start)
            if start > end:
                raise CronError(f"beginning of range ({start}) beyond end of range ({end}) "
                                f"in {what} field: {part}")
        out.update(range(start, end + 1, step))
    return frozenset(out)


def _value(text: str, what: str, lo: int, hi: int, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise CronError(f"failed to parse int from {text!r} in {what} field")
    v = int(text)
    if not lo <= v <= hi:
        raise CronError(f"{what} value {v} out of range [{lo}, {hi}]")
    return v


def validate_cronjob(obj: Obj) -> list[Cause]:
    """spec.schedule and spec.timeZone as kube-apiserver checks them."""
    spec = obj.get("spec") or {}
    schedule, tz = spec.get("schedule"), spec.get("timeZone")
    out: list[Cause] = []
    if not schedule:
        out.append(required("spec.schedule", ""))
    elif isinstance(schedule, str):
        try:
            parse(schedule)
        except CronError as e:
            out.append(invalid_value("spec.schedule", schedule, str(e)))
    if isinstance(tz, str):
        try:
            zone(tz)
        except CronError as e:
            out.append(invalid_value("spec.timeZone", tz, str(e)))
    return out
