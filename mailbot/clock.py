"""clock: the one source of "now". Code that acts at a time is handed a Clock, never reads
the wall clock itself, so a test, a cron replay or `--now` moves every part at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns an aware datetime: the moment mailbot acts at."""


def system_clock() -> datetime:
    """The machine's time, in UTC."""
    return datetime.now(UTC)


def fixed(moment: datetime) -> Clock:
    """A clock stopped at `moment` (aware): what `--now` gives a command."""
    if moment.tzinfo is None:
        raise ValueError("a fixed clock needs an aware datetime")
    return lambda: moment


def parse_moment(text: str) -> datetime:
    """An ISO 8601 time with its UTC offset; ValueError names what was wrong."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        example = "2026-11-23T10:00+02:00"
        raise ValueError(f"{text!r} is not an ISO 8601 time (e.g. {example})") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (e.g. 2026-11-23T10:00+02:00)")
    return moment
