"""SLA deadlines: durations (``"1d"``, ``"1h30m"``), timestamps, and what happens at a deadline."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from heso.errors import HesoConfigError
from heso.receipt import format_timestamp

if TYPE_CHECKING:
    from heso.config import Runtime

DENY = "deny"
ESCALATE = "escalate"
AUTO_APPROVE = "auto_approve"
ON_TIMEOUT = (DENY, ESCALATE, AUTO_APPROVE)
DEFAULT_SLA = timedelta(days=1)

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:\d+[wdhms])+")
_PART = re.compile(r"(\d+)([wdhms])")


def parse_duration(value: str | timedelta, what: str = "sla") -> timedelta:
    """``"1d"``, ``"2h"``, ``"1h30m"``, ``"45s"``, ``"1w"`` or a ``timedelta``; must be positive."""
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, str) and _DURATION.fullmatch(value.strip()):
        seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(value.strip()))
        delta = timedelta(seconds=seconds)
    else:
        raise HesoConfigError(
            f"{what} must be a duration like '30m', '2h', '1d' or '1h30m', not {value!r}",
            key=what,
        )
    if delta <= timedelta(0):
        raise HesoConfigError(f"{what} must be positive, not {value!r}", key=what)
    return delta


def check_on_timeout(value: str) -> str:
    """``value`` if it is ``deny``, ``escalate`` or ``auto_approve``."""
    if value not in ON_TIMEOUT:
        raise HesoConfigError(
            f"on_timeout must be one of {', '.join(ON_TIMEOUT)}, not {value!r}", key="on_timeout"
        )
    return value


def parse_time(value: str | datetime, what: str = "time") -> datetime:
    """An aware UTC datetime from a ``datetime`` or an RFC 3339 string with a zone."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise HesoConfigError(
                f"{what} must be an RFC 3339 timestamp with a zone, not {value!r}",
                key=what,
                hint='e.g. "2026-01-01T00:00:00Z"',
            ) from None
    elif isinstance(value, datetime):
        moment = value
    else:
        raise HesoConfigError(f"{what} must be a datetime or an RFC 3339 string", key=what)
    if moment.tzinfo is None:
        raise HesoConfigError(f"{what} must carry a time zone", key=what, hint="use UTC")
    return moment.astimezone(timezone.utc)


def stamp(moment: datetime) -> str:
    """RFC 3339 UTC form used in every approval record."""
    return format_timestamp(moment)


def clock(runtime: Runtime | None = None) -> datetime:
    """Now: the runtime's pinned clock, else ``HESO_CLOCK``, else the system clock."""
    pinned = getattr(getattr(runtime, "config", None), "clock_override", None)
    if pinned is None:
        pinned = os.environ.get("HESO_CLOCK") or None
    return parse_time(pinned, "HESO_CLOCK") if pinned else datetime.now(timezone.utc)


def describe_left(deadline: datetime, now: datetime) -> str:
    """``"3h12m left"`` or ``"overdue by 5m"``."""
    delta = deadline - now
    overdue = delta < timedelta(0)
    seconds = int(abs(delta).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    text = "".join(parts[:2]) or f"{secs}s"
    return f"overdue by {text}" if overdue else f"{text} left"
