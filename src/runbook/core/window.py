"""The booked window: when a host may be changed, as wall-clock times in a named time zone.

`window: {tz: Asia/Tokyo, days: [mon, tue, wed], start: "21:00", end: "23:00"}` in the
inventory. A window whose end is not later than its start crosses midnight and ends on the
next day (`start: "23:00", end: "01:00"`); `days` name the day it starts (every day when left
out). The end is not part of the window: at 23:00 sharp a 21:00-23:00 window is closed.

Times are the zone's wall clock. On a night the zone changes its clocks, an opening over the
change lasts as long as the clocks say (01:30-03:30 lasts one hour when clocks jump from 02:00
to 03:00); a start or end inside the jump is taken with the offset before it, an hour that
happens twice counts from its first time.

Everything here is given the time; nothing reads the clock but the clocks at the end:
`system_clock` (this machine's), and `FixedClock` for `RUNBOOK_NOW`, a testing aid.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..words import EN, Said, Words

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
# An IANA zone name (Asia/Tokyo, UTC, America/Argentina/Buenos_Aires): never a path.
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$")


def zone_problem(name: str) -> str | None:
    """Why `name` is not a time zone this machine knows, or None."""
    if not _ZONE_NAME.match(name) or name in ("localtime", "posixrules", "Factory"):
        return f"'{name}' is not a time zone name"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone '{name}'"
    return None


def time_problem(text: str) -> str | None:
    """Why `text` is not a time of day as a window writes it ("21:00"), or None."""
    return None if TIME.match(text) else f"'{text}' is not a time of day (HH:MM, 00:00 to 23:59)"


@dataclass(frozen=True)
class Window:
    """The times a host may be changed: from `start` to `end` on `days`, in zone `tz`.

    Attributes:
        tz: an IANA time zone name, e.g. Asia/Tokyo.
        start, end: "HH:MM" on the zone's clock; an end not after the start is the next day.
        days: the days an opening starts on ("mon" ... "sun").
    """

    tz: str
    start: str
    end: str
    days: tuple[str, ...] = DAYS

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def crosses_midnight(self) -> bool:
        return _time(self.end) <= _time(self.start)

    def describe(self, words: Words = EN) -> str:
        """The window in words, its zone named: `mon, tue 23:00-01:00 (next day) Asia/Tokyo`."""
        return words(self.said())

    def said(self) -> Said:
        """The window as a message, to be said in any language (`describe`)."""
        days: Said
        if set(self.days) == set(DAYS):
            days = Said("when.every-day")
        else:
            names = [Said(f"when.{day}") for day in self._ordered_days()]
            days = functools.reduce(lambda a, b: Said("when.list", {"first": a, "rest": b}), names)
        after: Said | str = Said("when.next-day") if self.crosses_midnight else ""
        values = {"days": days, "start": self.start, "end": self.end, "after": after}
        return Said("when.window", {**values, "tz": self.tz})

    def opening(self, moment: datetime) -> tuple[datetime, datetime] | None:
        """The opening (start, end, in the window's zone) that `moment` falls in, or None."""
        instant = _utc(moment)
        local = instant.astimezone(self.zone)
        for day in (local.date() - timedelta(days=1), local.date()):
            start, end = self._opening_on(day)
            if DAYS[day.weekday()] in self.days and _utc(start) <= instant < _utc(end):
                return start, end
        return None

    def contains(self, moment: datetime) -> bool:
        return self.opening(moment) is not None

    def next_opening(self, moment: datetime) -> tuple[datetime, datetime]:
        """The first opening that starts after `moment`."""
        instant = _utc(moment)
        first = instant.astimezone(self.zone).date()
        for offset in range(9):
            day = first + timedelta(days=offset)
            start, end = self._opening_on(day)
            if DAYS[day.weekday()] in self.days and _utc(start) > instant:
                return start, end
        raise AssertionError(f"no opening within a week of {moment}: {self}")  # days not empty

    def to_json(self) -> dict[str, Any]:
        return {"tz": self.tz, "days": list(self.days), "start": self.start, "end": self.end}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Window:
        return cls(
            tz=str(data["tz"]),
            start=str(data["start"]),
            end=str(data["end"]),
            days=tuple(data.get("days") or DAYS),
        )

    def _opening_on(self, day: date) -> tuple[datetime, datetime]:
        start = datetime.combine(day, _time(self.start), tzinfo=self.zone)
        end_day = day + timedelta(days=1) if self.crosses_midnight else day
        return start, datetime.combine(end_day, _time(self.end), tzinfo=self.zone)

    def _ordered_days(self) -> list[str]:
        return [d for d in DAYS if d in self.days]


def clock_text(moment: datetime, zone: tzinfo | None = None, words: Words = EN) -> str:
    """`moment` on a clock, its zone named: `Thu 2026-04-16 21:30 JST (UTC+09:00)` (in
    Japanese `2026-04-16(木) 21:30 JST (UTC+09:00)`).

    `zone` None is this machine's zone (TZ, else /etc/localtime).
    """
    return words(clock_said(moment, zone))


def clock_said(moment: datetime, zone: tzinfo | None = None) -> Said:
    """`clock_text` as a message, to be said in any language (its weekday a word of ours)."""
    local = _utc(moment).astimezone(zone)
    digits = local.strftime("%z")
    offset = f"UTC{digits[:3]}:{digits[3:]}"
    name = local.tzname() or ""
    if name in ("UTC", "GMT") and digits == "+0000":
        named = "UTC"
    elif not name or name[0] in "+-":  # zones without an abbreviation: "+03"
        named = offset
    else:
        named = f"{name} ({offset})"
    names = ("year", "month", "day", "hour", "minute")
    said = dict(zip(names, f"{local:%Y %m %d %H %M}".split(), strict=True))
    return Said(f"window.clock.{DAYS[local.weekday()]}", {**said, "zone": named})


def _time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _utc(moment: datetime) -> datetime:
    """`moment` in UTC. Aware datetimes that share a zone compare by wall clock, even across a
    clock change; in UTC they compare as instants."""
    if moment.tzinfo is None:
        raise ValueError(f"a time without a zone: {moment}")
    return moment.astimezone(UTC)


# --- clocks ------------------------------------------------------------------------------------


def system_clock() -> datetime:
    """This machine's clock."""
    return datetime.now(UTC)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 time with its offset (`2026-04-16T21:30:00+09:00`, or `...Z`)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"'{text.strip()}' is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise ValueError(f"'{text.strip()}' has no offset (add one: +09:00, Z)")
    return moment


@dataclass(frozen=True)
class FixedClock:
    """`RUNBOOK_NOW`, a testing aid: a fixed time, or `@FILE`, a file holding one, read at
    every look at the clock (a test rewrites it to let time pass between two steps)."""

    value: str

    def __call__(self) -> datetime:
        if self.value.startswith("@"):
            return parse_instant(Path(self.value[1:]).read_text(encoding="utf-8"))
        return parse_instant(self.value)

    def __str__(self) -> str:
        return f"RUNBOOK_NOW={self.value}"


def clock_from(value: str | None) -> Callable[[], datetime]:
    """The clock `RUNBOOK_NOW` names (a testing aid), or this machine's when it is unset.

    Raises ValueError (or OSError for `@FILE`) for a value that is not a time, at once.
    """
    if not value:
        return system_clock
    clock = FixedClock(value)
    clock()
    return clock
