"""Dates domain: calendar arithmetic on ISO dates (YYYY-MM-DD), Gregorian calendar."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Literal

import numpy as np

from selfgym.tools import ToolError, ToolSet

NAME = "dates"
DESCRIPTION = "calendar and date arithmetic"

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
Weekday = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ToolError(f"{text!r} is not a date in YYYY-MM-DD form") from None


def add_days(date: str, days: int) -> str:
    """The date days days after date (negative: before).

    Args:
        date: a date, YYYY-MM-DD.
        days: how many days to add.
    """
    return (_date(date) + dt.timedelta(days=days)).isoformat()


def add_months(date: str, months: int) -> str:
    """The same day months calendar months later, clamped to the month's last day (Jan 31 + 1 -> Feb 28/29).

    Args:
        date: a date, YYYY-MM-DD.
        months: how many months to add (negative: earlier).
    """
    d = _date(date)
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    day = min(d.day, calendar.monthrange(year, month + 1)[1])
    return dt.date(year, month + 1, day).isoformat()


def weekday(date: str) -> str:
    """The day of the week of date (Monday ... Sunday).

    Args:
        date: a date, YYYY-MM-DD.
    """
    return WEEKDAYS[_date(date).weekday()]


def days_between(start: str, end: str) -> int:
    """Whole days from start to end (negative when end is earlier).

    Args:
        start: first date, YYYY-MM-DD.
        end: second date, YYYY-MM-DD.
    """
    return (_date(end) - _date(start)).days


def next_weekday(date: str, day: Weekday) -> str:
    """The first date strictly after date that falls on weekday day.

    Args:
        date: a date, YYYY-MM-DD.
        day: weekday name, e.g. Friday.
    """
    d = _date(date)
    ahead = (WEEKDAYS.index(day) - d.weekday() - 1) % 7 + 1
    return (d + dt.timedelta(days=ahead)).isoformat()


def add_business_days(date: str, days: int) -> str:
    """The date days working days (Monday to Friday) after date; weekends are skipped.

    Args:
        date: a date, YYYY-MM-DD.
        days: working days to add (0 or more).
    """
    if days < 0:
        raise ToolError("days must be 0 or more")
    d = _date(date)
    while days:
        d += dt.timedelta(days=1)
        if d.weekday() < 5:
            days -= 1
    return d.isoformat()


def iso_week(date: str) -> int:
    """The ISO 8601 week number (1-53) of date.

    Args:
        date: a date, YYYY-MM-DD.
    """
    return _date(date).isocalendar()[1]


def toolset() -> ToolSet:
    return ToolSet([add_days, add_months, weekday, days_between, next_weekday, add_business_days, iso_week])


# ------------------------------------------------------------------------------ templates
def _random_date(rng: np.random.Generator) -> str:
    return (dt.date(2023, 1, 1) + dt.timedelta(days=int(rng.integers(0, 1100)))).isoformat()


def weekday_after(rng: np.random.Generator, call) -> tuple[str, str, str]:
    start, days = _random_date(rng), int(rng.integers(20, 700))
    answer = call("weekday", date=call("add_days", date=start, days=days))
    return f"What day of the week is it {days} days after {start}?", answer, "text"


def months_countdown(rng: np.random.Generator, call) -> tuple[str, int, str]:
    signed, today = _random_date(rng), _random_date(rng)
    months = int(rng.integers(3, 30))
    expiry = call("add_months", date=signed, months=months)
    answer = call("days_between", start=today, end=expiry)
    prompt = (f"A contract signed on {signed} expires exactly {months} months later. Counting from {today}, how "
              "many days until it expires (negative if it already has)?")
    return prompt, answer, "number"


def project_week(rng: np.random.Generator, call) -> tuple[str, int, str]:
    start, days = _random_date(rng), int(rng.integers(5, 60))
    answer = call("iso_week", date=call("add_business_days", date=start, days=days))
    prompt = (f"A job starts on {start} and finishes {days} working days (Monday to Friday) after its start "
              "date. In which ISO week number does it finish?")
    return prompt, answer, "number"


def meeting_date(rng: np.random.Generator, call) -> tuple[str, str, str]:
    start, day = _random_date(rng), WEEKDAYS[int(rng.integers(0, 5))]
    weeks = int(rng.integers(1, 6))
    first = call("next_weekday", date=start, day=day)
    answer = call("add_days", date=first, days=7 * weeks)
    prompt = (f"A team meets on the first {day} after {start}, and then again {weeks} week(s) later. "
              "On what date (YYYY-MM-DD) is that second meeting?")
    return prompt, answer, "text"


def quarter_span(rng: np.random.Generator, call) -> tuple[str, str, str]:
    start = _random_date(rng)
    months = int(rng.integers(2, 13))
    end = call("add_months", date=start, months=months)
    span = call("days_between", start=start, end=end)
    answer = call("weekday", date=call("add_days", date=start, days=span // 2))
    prompt = (f"A trial runs from {start} to the same day {months} months later. On what weekday is its midpoint, "
              "taken as the start date plus half of the trial's length in days, rounded down?")
    return prompt, answer, "text"


TEMPLATES = [weekday_after, months_countdown, project_week, meeting_date, quarter_span]
