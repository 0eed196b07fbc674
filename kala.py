#!/usr/bin/env python3
"""kala.py: a job scheduler server in one file, compatible with Kala's JSON API.

Jobs are created over HTTP with an ISO 8601 repeating schedule
(``R5/2030-01-01T09:00:00Z/PT10M``), run as local commands or HTTP requests,
retried, chained as dependent jobs and counted; everything is kept in a SQLite
file so it survives restarts and ``kill -9``.

    python3 kala.py serve              # http://127.0.0.1:8000, database ./kala.db
    python3 kala.py run "echo hello"   # run one command exactly as the server would

Standard library only, Python 3.9 or newer.
"""

import os
import sys

if __name__ == "__main__" and __spec__ is None and sys.argv[1:2] == ["serve"] \
        and __file__.endswith(".py") and sys.gettrace() is None:  # not under a debugger
    # Run as a script, this file's syntax tree stays in memory until the script ends
    # (CPython frees it when the module's code returns): 19 MB of an empty server's 49.
    # A server runs this file again as an imported module instead, from its cached
    # bytecode where Python may write one, in the same process (its pid, arguments,
    # environment, interpreter flags and sys.path are kept), before any other import.
    import subprocess
    _SCRIPT = os.path.abspath(__file__)
    _HOME = sys.path[0] if sys.path and sys.path[0] == os.path.dirname(_SCRIPT) else ""
    try:
        os.execv(sys.executable, [
            sys.executable, *subprocess._args_from_interpreter_flags(), "-c",
            "import importlib.util as u, sys; h, f, *a = sys.argv[1:]; "
            "sys.path[:1] = ([h] if h else []) if sys.path[:1] == [''] else sys.path[:1]; "
            "sys.argv = [f, *a]; s = u.spec_from_file_location('kala', f); "
            "k = sys.modules['kala'] = u.module_from_spec(s); s.loader.exec_module(k); "
            "sys.exit(k.main(a))", _HOME, _SCRIPT, *sys.argv[1:]])  # "kala.py serve" for pgrep
    except (OSError, AttributeError, TypeError):  # no interpreter to run: go on as a script
        pass

import argparse
import base64
import bisect
import calendar
import collections
import copy
import dataclasses
import enum
import errno
import faulthandler
import fcntl
import functools
import hashlib
import heapq
import hmac
import http.client
import importlib
import io
import ipaddress
import itertools
import json
import logging
import math
import queue
import re
import select
import selectors
import shlex
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import (Any, Callable, ClassVar, Dict, Iterable, Iterator, List, NamedTuple,
                    Optional, Sequence, Set, Tuple, Union)

try:
    import zoneinfo
except ImportError:  # pragma: no cover - Python 3.8 and older are not supported
    zoneinfo = None

__version__ = "0.1.0"
#: The importable API, section by section: enough to embed a scheduler and its
#: server in another program (a KalaServer needs a KalaApp over a Store and a
#: Scheduler) or to test against the pieces.
__all__ = [
    "KalaError", "InvalidInput", "JobNotFound", "JobRunning", "StoreUnavailable", "StoreFull",
    "CommitUncertain",
    "Duration", "Schedule", "CronSchedule", "parse_duration", "parse_schedule", "parse_cron",
    "format_time",
    "Job", "RemoteProperties", "RunStat", "OccurrencePlan", "job_from_request", "job_to_json",
    "stat_to_json", "app_stats_to_json", "plan_occurrence", "resume_cursor", "too_late",
    "OrphanPlan", "plan_orphan",
    "Store", "SqliteStore", "PostgresStore", "MysqlStore", "ServerStore", "open_store",
    "LedgerFence", "RowFence", "ClaimKey", "Claim", "Timer", "Takeover", "NodeDeath", "AppCounts",
    "RunResult", "NodeLock",
    "Attempt", "CommandRunner", "CommandWatcher",
    "Scheduler", "Lease", "Starter", "RunAttempts", "Completion", "Maintenance", "Timing",
    "Outcome", "FollowUps", "SchedulerMetrics", "metrics_exposition", "openapi_document",
    "AccessPolicy", "KalaApp", "Route", "RouteNotFound", "KalaServer", "tls_context",
    "build_parser", "main",
]

log = logging.getLogger("kala")


# =============================================================================
# Errors
# =============================================================================

class KalaError(Exception):
    """Root of every error kala.py raises on purpose."""


class InvalidInput(KalaError, ValueError):
    """Input that breaks the contract: answered with HTTP 400 or exit status 2."""


class JobNotFound(KalaError, LookupError):
    """No job has the id asked for: answered with HTTP 404."""


class JobRunning(KalaError):
    """A manual start of a job whose ``concurrency`` is ``forbid`` while it runs."""

    def __init__(self, job_id: str, run_id: int):
        super().__init__(f"job {job_id!r} is running (run {run_id}) and its concurrency is "
                         f"forbid: wait for that run to end, or set concurrency to allow or "
                         f"replace")
        self.run_id = run_id


class StoreUnavailable(KalaError):
    """The database cannot be read or written now (locked, an I/O error, damaged):
    answered with HTTP 503, and nothing was changed."""


class StoreFull(StoreUnavailable):
    """The database's disk (or its size limit) is full: answered with HTTP 507."""


class CommitUncertain(StoreUnavailable):
    """The database was lost while it committed a write, and could not be asked
    since whether the write was made (PostgreSQL): answered with HTTP 503."""


class LeaseLapsed(StoreUnavailable):
    """This process went longer than its lease's trust without hearing from the
    database between the check before a run's fork and the fork itself (it was
    stopped, or starved of CPU): the command was not started, and the database is
    asked again before it is (Lease.may_fork)."""


# =============================================================================
# Schedules: ISO 8601 repeating intervals, cron expressions, occurrence arithmetic
# =============================================================================

#: How Kala (and Go) write "never".
ZERO_TIME = "0001-01-01T00:00:00Z"

# Numbers have at most 18 digits: int() refuses 4,300 and more, and nothing
# longer means anything on a calendar that ends in year 9999.
_DURATION_RE = re.compile(
    r"P(?:(?P<weeks>\d{1,18})W"
    r"|(?:(?P<years>\d{1,18})Y)?(?:(?P<months>\d{1,18})M)?(?:(?P<days>\d{1,18})D)?"
    r"(?:T(?:(?P<hours>\d{1,18})H)?(?:(?P<minutes>\d{1,18})M)?"
    r"(?:(?P<seconds>\d{1,18}(?:\.\d{1,9})?)S)?)?)\Z",
    re.ASCII,  # \d is 0-9 only: int() would take other scripts' digits too
)
_START_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?\Z",
    re.ASCII,
)
_DURATION_EXAMPLES = "e.g. PT10S, P1DT2H, P1Y2M10DT2H30M15S, P2W"
_SCHEDULE_EXAMPLE = "R2/2030-06-04T19:25:16Z/PT10S"
#: Average Gregorian month and year, used only to guess an occurrence index
#: that is then corrected exactly.
_AVERAGE_MONTH_SECONDS = 365.2425 * 86400 / 12
#: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the first and last moments a
#: datetime (and an RFC 3339 time) can show.
_FIRST_TIMESTAMP, _LAST_TIMESTAMP = -62135596800.0, 253402300799.0


@dataclasses.dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration: calendar steps (Y, M, W, D) and exact steps (H, M, S)."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: float = 0.0

    @property
    def calendar_months(self) -> int:
        return self.years * 12 + self.months

    @property
    def calendar_days(self) -> int:
        return self.weeks * 7 + self.days

    @property
    def exact_seconds(self) -> float:
        return self.hours * 3600 + self.minutes * 60 + self.seconds

    @property
    def is_zero(self) -> bool:
        return not (self.calendar_months or self.calendar_days or self.exact_seconds)

    def approximate_seconds(self) -> float:
        return (self.calendar_months * _AVERAGE_MONTH_SECONDS
                + self.calendar_days * 86400 + self.exact_seconds)


def parse_duration(text: str) -> Duration:
    """Parse ``P[nY][nM][nD][T[nH][nM][nS]]`` or ``PnW``; raise InvalidInput otherwise."""
    match = _DURATION_RE.match(text) if isinstance(text, str) else None
    if (match is None or not any(match.groupdict().values())
            or text.endswith("T")):
        shown = text[:80] + "..." if isinstance(text, str) and len(text) > 80 else text
        raise InvalidInput(f"invalid duration {shown!r} (expected {_DURATION_EXAMPLES}; "
                           f"numbers of up to 18 digits)")
    fields = {name: (float(value) if name == "seconds" else int(value))
              for name, value in match.groupdict().items() if value is not None}
    return Duration(**fields)


def _zone(name: Optional[str]):
    """The tzinfo for an IANA zone name; InvalidInput when unknown."""
    if zoneinfo is None:  # pragma: no cover
        raise InvalidInput("the timezone field needs Python 3.9 or newer (zoneinfo)")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(
            f"unknown timezone {name!r} (expected an IANA name, e.g. Europe/Berlin)"
        ) from None


def parse_start(text: str, zone=None) -> datetime:
    """Parse a schedule's start; no offset means ``zone``, or UTC without one."""
    match = _START_RE.match(text)
    if match is None:
        raise InvalidInput(
            f"invalid start {text!r} (expected YYYY-MM-DDTHH:MM:SS with optional "
            f".ffffff and Z or +HH:MM, e.g. 2030-06-04T19:25:16.828696-07:00)"
        )
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    if offset is None:
        tzinfo = zone or timezone.utc
    elif offset == "Z":
        tzinfo = timezone.utc
    else:
        sign = -1 if offset[0] == "-" else 1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise InvalidInput(f"invalid offset {offset!r} in start {text!r} (e.g. -07:00)")
        tzinfo = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute),
                        int(second), micros, tzinfo=tzinfo)
    except ValueError as exc:
        raise InvalidInput(f"invalid start {text!r}: {exc} (e.g. 2030-06-04T19:25:16Z)") from None


def _add_months(wall: datetime, months: int) -> datetime:
    """Calendar month step; a day past the month's end clamps to its last day."""
    years, month0 = divmod(wall.month - 1 + months, 12)
    year = wall.year + years
    day = min(wall.day, calendar.monthrange(year, month0 + 1)[1])
    return wall.replace(year=year, month=month0 + 1, day=day)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A parsed ``R[n]/<start>/<interval>``: occurrence k is start + k x interval."""

    repeats: Optional[int]          # None: forever; n: the first run plus n repeats
    start: datetime                 # aware; its tzinfo is the wall clock of calendar steps
    interval: Optional[Duration]    # None only when repeats == 0
    start_written: bool = True      # False: the start is the job's creation (R/PT5M, @every)

    @property
    def last_index(self) -> Optional[int]:
        return self.repeats

    @functools.cached_property
    def _exact_step(self) -> Optional[Tuple[float, float]]:
        """(start, seconds) when every step is exact (no months or days): occurrence k
        is then start + k x seconds, with no datetime made (every claim plans its
        jobs: a claim of ten 786-822 -> 750-770 us, bench/claim_cost.py)."""
        interval = self.interval
        if interval is not None and (interval.calendar_months or interval.calendar_days):
            return None
        return self.start.timestamp(), interval.exact_seconds if interval else 0.0

    def occurrence(self, k: int) -> float:
        """Epoch seconds of occurrence k, computed from the start so runs never drift."""
        exact = self._exact_step
        if exact is not None:
            try:
                when = exact[0] + k * exact[1]
            except OverflowError:  # k past any float
                return math.inf
            return when if when <= _LAST_TIMESTAMP else math.inf
        if k == 0:
            when = self.start.timestamp()
            return when if when <= _LAST_TIMESTAMP else math.inf
        interval = self.interval
        base = self.start
        try:
            if interval.calendar_months or interval.calendar_days:
                # Calendar steps move the wall clock of the start's zone, so P1D at
                # 09:00 stays at 09:00 across a DST change; exact steps are elapsed time.
                wall = self.start.replace(tzinfo=None)
                wall = _add_months(wall, k * interval.calendar_months)
                wall += timedelta(days=k * interval.calendar_days)
                base = wall.replace(tzinfo=self.start.tzinfo, fold=0)
            when = base.timestamp() + k * interval.exact_seconds
        except (OverflowError, ValueError):
            return math.inf  # past year 9999: there is no such occurrence
        return when if when <= _LAST_TIMESTAMP else math.inf

    def index_at_or_before(self, when: float) -> int:
        """The largest k with occurrence(k) <= when (-1 before the start), ignoring R."""
        start = self.occurrence(0)
        if when < start:
            return -1
        if self.interval is None or self.interval.is_zero:
            return 0
        k = int((when - start) // self.interval.approximate_seconds())
        while self.occurrence(k + 1) <= when:
            k += 1
        while k > 0 and self.occurrence(k) > when:
            k -= 1
        return k

    def first_index_at_or_after(self, when: float) -> int:
        k = self.index_at_or_before(when)
        return k if k >= 0 and self.occurrence(k) == when else k + 1

    def has_index(self, k: int) -> bool:
        return (self.repeats is None or k <= self.repeats) and self.occurrence(k) != math.inf

    def next_index(self, k: int) -> int:
        return k + 1

    def first_index(self, created_at: float) -> int:
        """The occurrence a job created at ``created_at`` starts from: the start."""
        return 0


# --- cron expressions ------------------------------------------------------------

_CRON_EXAMPLES = '"*/15 9-17 * * MON-FRI", "0 3 * * *", "@daily" or "@every 5m"'
_CRON_MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                "DEC")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
#: name, lowest and highest value, names standing for values from the lowest.
_CRON_FIELDS = (("second", 0, 59, ()), ("minute", 0, 59, ()), ("hour", 0, 23, ()),
                ("day of month", 1, 31, ()), ("month", 1, 12, _MONTH_NAMES),
                ("day of week", 0, 7, _DAY_NAMES))
_GO_DURATION_RE = re.compile(r"(?:[0-9]{1,9}(?:\.[0-9]{1,9})?(?:h|ms|m|s))+\Z", re.ASCII)
_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_LONGEST_MONTH = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31,
                  11: 30, 12: 31}
#: Longer than any change of a zone's clock: how far around a moment the wall clock
#: may run twice or skip.
_CLOCK_CHANGE_REACH = 3 * 3600
_ONE_SECOND, _ONE_MINUTE, _ONE_HOUR, _ONE_DAY = (
    timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1), timedelta(days=1))
_UNIX_EPOCH = datetime(1970, 1, 1)
#: How far ahead a cron expression is searched before it counts as never matching.
_CRON_HORIZON_YEARS = 50


def _cron_error(text: str, why: str) -> InvalidInput:
    shown = text[:80] + "..." if len(text) > 80 else text
    return InvalidInput(f"invalid cron expression {shown!r}: {why} (e.g. {_CRON_EXAMPLES})")


def _cron_value(word: str, field: tuple, text: str) -> int:
    name, low, high, names = field
    if word.upper() in names:
        return low + names.index(word.upper())
    if not re.fullmatch(r"[0-9]{1,2}", word, re.ASCII) or not low <= int(word) <= high:
        expected = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
        raise _cron_error(text, f"{name} {word!r} is not {expected}")
    return int(word)


def _cron_field(part: str, field: tuple, text: str) -> Tuple[int, ...]:
    """The values one field of a cron expression allows: lists of ``*``, ``a``,
    ``a-b``, each with an optional ``/step`` (``a/step`` runs from a to the highest)."""
    name, low, high, _ = field
    values = set()
    for term in part.split(","):
        base, slash, step_text = term.partition("/")
        step = 1
        if slash:
            if not re.fullmatch(r"[0-9]{1,3}", step_text, re.ASCII) or int(step_text) == 0:
                raise _cron_error(text, f"step {step_text!r} in {name} {term!r} is not a "
                                        f"whole number above 0")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first_word, _, last_word = base.partition("-")
            first, last = (_cron_value(first_word, field, text),
                           _cron_value(last_word, field, text))
            if last < first:
                raise _cron_error(text, f"{name} range {base!r} runs backwards")
        else:
            first = _cron_value(base, field, text)
            last = high if slash else first
        values.update(range(first, last + 1, step))
    return tuple(sorted(values))


def _at_least(values: Tuple[int, ...], value: int) -> Optional[int]:
    """The smallest of the sorted ``values`` that is at least ``value``."""
    i = bisect.bisect_left(values, value)
    return values[i] if i < len(values) else None


def _wall_time(epoch_second: int) -> datetime:
    return _UNIX_EPOCH + timedelta(seconds=epoch_second)


def _epoch_second(wall: datetime) -> int:
    return (wall - _UNIX_EPOCH) // _ONE_SECOND


@dataclasses.dataclass(frozen=True)
class CronSchedule:
    """A cron expression: the moments, in whole seconds, whose wall-clock time in
    ``zone`` its fields match. Occurrence k is the one at epoch second k.

    Daylight saving time, as Vixie cron on Debian and cronsim: an expression with a
    fixed minute and hour (five fields, neither starting with ``*``) names times of day;
    one the clock skips runs when the clock jumps (02:30 runs at 03:00), and one the
    clock shows twice runs the first time only. Any other expression (``*/15 * * * *``,
    six fields, ``@hourly``) names moments: it runs at every moment whose wall-clock
    time matches, so an hour the clock skips has none and one it repeats has them twice.
    """

    text: str
    seconds: Tuple[int, ...]
    minutes: Tuple[int, ...]
    hours: Tuple[int, ...]
    days: Tuple[int, ...]
    months: Tuple[int, ...]
    weekdays: Tuple[int, ...]   # 0 Sunday .. 6 Saturday
    either_day: bool            # both day fields restricted: either may match (Vixie)
    zone: Optional[object]      # None: UTC
    times_of_day: bool          # the daylight-saving rule for fixed times of day applies

    last_index = None           # a cron expression never ends by itself

    def occurrence(self, k: int) -> float:
        return float(k)

    def has_index(self, k: int) -> bool:
        return self.at_or_after(k) == k

    def next_index(self, k: int) -> int:
        following = self.at_or_after(k + 1)
        return k + 1 if following is None else following

    def first_index(self, created_at: float) -> int:
        """The occurrence a job created at ``created_at`` starts from: the next one."""
        return self.first_index_at_or_after(created_at)

    def first_index_at_or_after(self, when: float) -> int:
        found = self.at_or_after(math.ceil(when))
        return int(_LAST_TIMESTAMP) + 1 if found is None else found

    def index_at_or_before(self, when: float) -> int:
        """The latest occurrence at or before ``when`` (-1: none): a look back over
        growing spans, then a bisection for the last start whose next one is in time."""
        last = math.floor(min(when, _LAST_TIMESTAMP))
        span = 60
        while True:
            earliest = max(last - span, int(_FIRST_TIMESTAMP))
            found = self.at_or_after(earliest)
            if found is not None and found <= last:
                break
            if earliest == int(_FIRST_TIMESTAMP) or span > _CRON_HORIZON_YEARS * 366 * 86400:
                return -1
            span *= 16
        while earliest < last:
            middle = (earliest + last + 1) // 2
            found = self.at_or_after(middle)
            if found is not None and found <= last:
                earliest = middle
            else:
                last = middle - 1
        return earliest

    def at_or_after(self, moment: int) -> Optional[int]:
        """The first occurrence at or after epoch second ``moment``; None: none left."""
        moment = max(moment, int(_FIRST_TIMESTAMP) + 86400)
        if moment > _LAST_TIMESTAMP:
            return None
        try:
            found = (self._time_of_day_at_or_after(moment) if self.times_of_day
                     else self._moment_at_or_after(moment))
        except (OverflowError, ValueError):  # a wall-clock time past the end of year 9999
            return None
        return found if found is not None and found <= _LAST_TIMESTAMP else None

    def _moment_at_or_after(self, moment: int) -> Optional[int]:
        # Between two changes of the zone's clock the wall clock is the moment plus a
        # fixed offset: look for the first wall-clock match in that stretch, and go
        # on from the change when the match lies past it.
        give_up = moment + _CRON_HORIZON_YEARS * 366 * 86400
        while moment <= give_up:
            offset = self._offset(moment)
            wall = self._wall_at_or_after(_wall_time(moment + offset))
            if wall is None:
                return None
            found = _epoch_second(wall) - offset
            change = self._offset_change(moment, found, offset)
            if change is None:
                return found
            moment = change
        return None

    def _time_of_day_at_or_after(self, moment: int) -> Optional[int]:
        offset = self._offset(moment)
        wall = _wall_time(moment + offset)
        if (self._offset(moment - _CLOCK_CHANGE_REACH) != offset
                or self._offset(moment + _CLOCK_CHANGE_REACH) != offset):
            wall -= timedelta(seconds=_CLOCK_CHANGE_REACH)  # a skipped time may land here
        while True:
            wall = self._wall_at_or_after(wall)
            if wall is None:
                return None
            found = self._first_moment_showing(wall)
            if found >= moment:
                return found
            wall += _ONE_SECOND

    def _first_moment_showing(self, wall: datetime) -> int:
        """The first moment the zone's clock shows ``wall``, or, when the clock skips
        it, the first whole minute after it that the clock shows."""
        while True:
            moment = int(wall.replace(tzinfo=self.zone).timestamp())  # fold=0: the first
            if datetime.fromtimestamp(moment, self.zone).replace(tzinfo=None) == wall:
                return moment
            wall += _ONE_MINUTE

    def _offset(self, moment: int) -> int:
        if self.zone is None:
            return 0
        return int(datetime.fromtimestamp(moment, self.zone).utcoffset().total_seconds())

    def _offset_change(self, moment: int, until: int, offset: int) -> Optional[int]:
        """The first second in (moment, until] at which the zone's offset is no longer
        ``offset`` (None: none); clocks change at most once a day."""
        if self.zone is None:
            return None
        probe = moment
        while probe < until:
            ahead = min(probe + 86400, until)
            if self._offset(ahead) != offset:
                while ahead - probe > 1:
                    middle = (probe + ahead) // 2
                    probe, ahead = (middle, ahead) if self._offset(middle) == offset else (
                        probe, middle)
                return ahead
            probe = ahead
        return None

    def _wall_at_or_after(self, wall: datetime) -> Optional[datetime]:
        """The first wall-clock time (naive) at or after ``wall`` that the fields match."""
        give_up = wall.year + _CRON_HORIZON_YEARS
        try:
            while wall.year <= give_up:
                if wall.month not in self.months:
                    month = _at_least(self.months, wall.month)
                    wall = (datetime(wall.year, month, 1) if month is not None
                            else datetime(wall.year + 1, self.months[0], 1))
                    continue
                midnight = datetime(wall.year, wall.month, wall.day)
                if not self._day_matches(wall):
                    wall = midnight + _ONE_DAY
                    continue
                hour = _at_least(self.hours, wall.hour)
                if hour is None:
                    wall = midnight + _ONE_DAY
                    continue
                if hour > wall.hour:
                    wall = wall.replace(hour=hour, minute=0, second=0)
                minute = _at_least(self.minutes, wall.minute)
                if minute is None:
                    wall = wall.replace(minute=0, second=0) + _ONE_HOUR
                    continue
                if minute > wall.minute:
                    wall = wall.replace(minute=minute, second=0)
                second = _at_least(self.seconds, wall.second)
                if second is None:
                    wall = wall.replace(second=0) + _ONE_MINUTE
                    continue
                return wall.replace(second=second)
        except (OverflowError, ValueError):  # past the end of year 9999
            pass
        return None

    def _day_matches(self, wall: datetime) -> bool:
        day_of_month = wall.day in self.days
        day_of_week = (wall.weekday() + 1) % 7 in self.weekdays
        if self.either_day:
            return day_of_month or day_of_week
        return day_of_month and day_of_week


def parse_cron(text: str, zone=None) -> CronSchedule:
    """Parse a cron expression: five fields (minute hour day-of-month month
    day-of-week), or six with a leading seconds field, or a macro such as @daily."""
    expression = _CRON_MACROS.get(text.lower(), text)
    parts = expression.split()
    if len(parts) not in (5, 6):
        raise _cron_error(text, f"it has {len(parts)} fields, not 5 (minute hour "
                                f"day-of-month month day-of-week) or 6 (seconds first)")
    if len(parts) == 5:
        parts.insert(0, "0")
    seconds, minutes, hours, days, months, weekdays = (
        _cron_field(part, field, text) for part, field in zip(parts, _CRON_FIELDS))
    either_day = not (parts[3].startswith("*") or parts[5].startswith("*"))
    if not either_day and days[0] > max(_LONGEST_MONTH[month] for month in months):
        raise _cron_error(text, "no month it names has the day it names")
    return CronSchedule(
        text, seconds, minutes, hours, days, months,
        tuple(sorted({day % 7 for day in weekdays})), either_day, zone,
        times_of_day=(zone is not None and len(expression.split()) == 5
                      and not parts[1].startswith("*") and not parts[2].startswith("*")))


def parse_every(text: str) -> Duration:
    """An @every interval: ISO 8601 (PT5M) or Go's form (5m, 1h30m, 90s, 1.5h)."""
    if text.startswith("P"):
        return parse_duration(text)
    if not _GO_DURATION_RE.match(text):
        raise InvalidInput(f"invalid interval {text[:80]!r} after @every (expected an ISO "
                           f"8601 duration or hours, minutes, seconds, e.g. PT5M, 5m, 1h30m, "
                           f"90s)")
    seconds = sum(float(number) * _GO_UNITS[unit]
                  for number, unit in re.findall(r"([0-9.]+)(ms|h|m|s)", text))
    return Duration(seconds=seconds)


ScheduleKind = Union[Schedule, CronSchedule]


def parse_schedule(text: str, zone=None, anchor: Optional[float] = None) -> ScheduleKind:
    """Parse a job's schedule: ``R[n]/<start>/<interval>``; ``R[n]/<interval>``, which
    starts at ``anchor`` (the job's creation, else now); a cron expression or macro;
    or ``@every <interval>``, whose first run is one interval after ``anchor``.
    ``zone`` reads wall-clock times: a start without an offset, cron fields."""
    if not isinstance(text, str):
        raise InvalidInput(f"invalid schedule {text!r} (expected a string)")
    if text.startswith("@every"):
        return _every_schedule(text, zone, anchor)
    if text.startswith("@") or (" " in text.strip() and not re.match(r"R[0-9]*/", text)):
        return parse_cron(text, zone)
    parts = text.split("/")
    if len(parts) == 2 and parts[1].startswith("P"):  # R/PT5M: from its creation
        parts.insert(1, "")
    elif len(parts) != 3:
        raise InvalidInput(
            f"invalid schedule {text!r} (expected R[n]/<start>/<interval>, "
            f"e.g. {_SCHEDULE_EXAMPLE}, R/PT5M, or a cron expression, e.g. {_CRON_EXAMPLES})"
        )
    repeat_text, start_text, interval_text = parts
    if not re.fullmatch(r"R[0-9]{0,18}", repeat_text):
        raise InvalidInput(
            f"invalid repeat count {repeat_text[:40]!r} in schedule {text[:80]!r} "
            f"(expected R for forever or Rn with n up to 18 digits, e.g. {_SCHEDULE_EXAMPLE})"
        )
    repeats = None if repeat_text == "R" else int(repeat_text[1:])
    if len(text.split("/")) == 2:
        start = _anchor_time(anchor, zone)
    else:
        start = parse_start(start_text, zone)
    try:
        if zone is not None:
            start = start.astimezone(zone)  # calendar steps keep the zone's wall clock
        first = start.timestamp()
    except (OverflowError, ValueError):
        first = math.inf
    if first > _LAST_TIMESTAMP:
        raise InvalidInput(f"schedule {text!r} starts past the end of year 9999 (in UTC or in "
                           f"its timezone), the last time a schedule can name "
                           f"(e.g. {_SCHEDULE_EXAMPLE})")
    interval = parse_duration(interval_text) if interval_text else None
    if repeats != 0 and (interval is None or interval.is_zero):
        raise InvalidInput(
            f"invalid schedule {text!r}: a repeating schedule needs an interval longer "
            f"than zero (e.g. {_SCHEDULE_EXAMPLE}; R0/<start>/ runs once)"
        )
    return Schedule(repeats, start, interval, start_written=len(text.split("/")) == 3)


def _anchor_time(anchor: Optional[float], zone) -> datetime:
    return datetime.fromtimestamp(time.time() if anchor is None else anchor,
                                  zone or timezone.utc)


def _every_schedule(text: str, zone, anchor: Optional[float]) -> Schedule:
    """``@every <interval>``: forever, the first run one interval after ``anchor``."""
    word, _, interval_text = text.partition(" ")
    if word != "@every" or not interval_text.strip():
        raise InvalidInput(f"invalid schedule {text[:80]!r} (expected @every and an "
                           f"interval, e.g. @every 5m, @every 1h30m, @every PT5M)")
    interval = parse_every(interval_text.strip())
    if interval.is_zero:
        raise InvalidInput(f"invalid schedule {text[:80]!r}: the interval must be longer "
                           f"than zero (e.g. @every 5m)")
    first = Schedule(None, _anchor_time(anchor, zone), interval).occurrence(1)
    if first > _LAST_TIMESTAMP:
        raise InvalidInput(f"invalid schedule {text[:80]!r}: its first run would come after "
                           f"year 9999 (e.g. @every 5m)")
    return Schedule(None, datetime.fromtimestamp(first, zone or timezone.utc), interval,
                    start_written=False)


def format_time(when: Optional[float]) -> str:
    """RFC 3339 in UTC, or Kala's zero time for "never"."""
    if when is None or not _FIRST_TIMESTAMP <= when <= _LAST_TIMESTAMP:
        return ZERO_TIME  # also for a time no RFC 3339 text can show: no such moment
    return datetime.fromtimestamp(when, timezone.utc).isoformat(
        timespec="microseconds")[:-6] + "Z"  # without its "+00:00"


# =============================================================================
# The job model: its fields, their validation, what runs when, and Kala's JSON
# =============================================================================

LOCAL_JOB, REMOTE_JOB = 0, 1
#: A job's ``concurrency``: what happens to a run due while one of it goes on.
CONCURRENCY_POLICIES = ("allow", "forbid", "replace")
#: Fields a job template may name: Kala's Job field name (what its Go template
#: sees, ``{{.Name}}`` or ``{{$.Name}}``) -> kala.py's, which ``{{name}}`` names too.
TEMPLATE_FIELDS = {
    "Id": "id", "Name": "name", "Owner": "owner", "Command": "command",
    "Schedule": "schedule", "Retries": "retries", "Epsilon": "epsilon",
    "Disabled": "disabled", "JobType": "type", "OnFailureJob": "on_failure_job",
    "ResumeAtNextScheduledTime": "resume_at_next_scheduled_time",
    "Timezone": "timezone", "Timeout": "timeout",
}
_TEMPLATE_NAMES = {**{go.lower(): ours for go, ours in TEMPLATE_FIELDS.items()},
                   **{ours: ours for ours in TEMPLATE_FIELDS.values()}}
#: Template fields of the run rather than the job (kala.py's): what a failure job
#: learns of the run that failed, from the variable of the same meaning; empty in
#: any other run.
RUN_TEMPLATE_FIELDS = {
    "FailedJobId": "KALA_FAILED_JOB_ID", "FailedJobName": "KALA_FAILED_JOB_NAME",
    "FailedRunId": "KALA_FAILED_RUN_ID", "FailedError": "KALA_FAILED_ERROR",
}
_RUN_TEMPLATE_NAMES = {**{go.lower(): variable for go, variable in RUN_TEMPLATE_FIELDS.items()},
                       **{variable[len("KALA_"):].lower(): variable
                          for variable in RUN_TEMPLATE_FIELDS.values()}}
_HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")   # RFC 9110's token
_HEADER_BREAK = re.compile(r"[\x00\r\n]")


# --- reading a request's fields ------------------------------------------------

def _expect(body: dict, key: str, kinds, default, what: str, within: str = ""):
    """``body[key]`` if it is one of ``kinds`` (``default`` if absent); ``within``
    names the object it is in, e.g. remote_properties."""
    value = body.get(key, default)
    if value is None:
        return default
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        name = f"{within}.{key}" if within else key
        raise InvalidInput(f"field {name!r} must be {what}, got {json.dumps(value)[:80]}")
    return value


def _nonnegative_int(body: dict, key: str, default: int = 0) -> int:
    value = _expect(body, key, int, default, "a non-negative integer")
    if value < 0:
        raise InvalidInput(f"field {key!r} must be a non-negative integer, got {value}")
    return value


def _seconds_field(body: dict, key: str) -> float:
    value = _expect(body, key, (int, float), 0, "a number of seconds")
    if not 0 <= value <= 10 ** 9:  # also false for NaN (json.loads accepts NaN)
        raise InvalidInput(f"field {key!r} must be a number of seconds from 0 (none) to "
                           f"10^9, got {value}")
    return float(value)


def _id_list(body: dict, key: str) -> List[str]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInput(
            f"field {key!r} must be a list of job ids or null, got {json.dumps(value)[:80]}")
    if len(set(value)) != len(value):
        raise InvalidInput(f"field {key!r} names a job twice: {value}")
    return value


def _environment(body: dict, key: str = "environment") -> Dict[str, str]:
    value = _expect(body, key, dict, {}, 'an object of strings, e.g. {"LANG": "C"}')
    for name, text in value.items():
        if not _ENV_NAME.fullmatch(name) or not isinstance(text, str) or "\0" in text:
            raise InvalidInput(f"environment variable {name!r}: {json.dumps(text)[:80]} is not "
                               'a NAME (letters, digits, _) with a string value, e.g. {"LANG": "C"}')
        if name.startswith("KALA_"):
            raise InvalidInput(f"environment variable {name!r}: names starting with KALA_ are "
                               "set by kala.py for each run")
    return value


def _remote_properties(body: dict, remote: bool = True) -> Optional["RemoteProperties"]:
    """The remote_properties of a remote job (``remote``), checked for use; of a local
    job, None, after checking only that what was sent has the types its schema says
    (a Kala client sends Go's zero value: empty strings, 0 and nulls)."""
    props = body.get("remote_properties", body.get("remote_proporties"))  # Kala's old typo
    if not remote and props is None:
        return None
    if not isinstance(props, dict):
        raise InvalidInput("a remote job (type 1) needs remote_properties with a url, "
                           'e.g. {"url": "http://127.0.0.1:9000/ping"}' if remote else
                           "field 'remote_properties' must be an object (or null), got "
                           f"{json.dumps(props)[:80]}")
    field = functools.partial(_expect, props, within="remote_properties")
    url = field("url", str, "", "a string")
    method = field("method", str, "", "a string").upper() or "GET"
    headers = {}
    for name, values in field("headers", dict, {}, "an object").items():
        values = [values] if isinstance(values, str) else values
        if (not _HEADER_NAME.fullmatch(name) or not isinstance(values, list)
                or not all(isinstance(v, str) and not _HEADER_BREAK.search(v) for v in values)):
            raise InvalidInput(f"remote_properties.headers[{name!r}] must be a header name with "
                               "a list of one-line strings, e.g. "
                               '{"Accept": ["application/json"]}')
        headers[name] = values
    timeout = field("timeout", int, 30, "a whole number of seconds")
    codes = field("expected_response_codes", list, [200], "a list of HTTP status codes")
    text = field("body", str, "", "a string")
    if not 0 <= timeout <= 10 ** 9:
        raise InvalidInput(f"remote_properties.timeout must be a number of seconds from 1 to "
                           f"10^9 (0: the default, 30), got {timeout}")
    if not remote:
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
            raise InvalidInput("remote_properties.expected_response_codes must be a list of "
                               f"HTTP status codes, got {json.dumps(codes)[:80]}")
        return None
    if method not in _HTTP_METHODS:
        raise InvalidInput(f"remote_properties.method {method!r} is not one of "
                           f"{', '.join(_HTTP_METHODS)}")
    if not codes or not all(isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 599
                            for c in codes):
        raise InvalidInput("remote_properties.expected_response_codes must be a non-empty list "
                           f"of HTTP status codes, got {json.dumps(codes)[:80]}")
    return RemoteProperties(url, method, text, headers, timeout or 30, codes)


def _text(what: str = "a string", strip: bool = False, default: str = ""):
    """A reader of a string field (stripped of surrounding space if ``strip``)."""
    def read(body: dict, key: str) -> str:
        value = _expect(body, key, str, default, what)
        return value.strip() if strip else value
    return read


def _flag(body: dict, key: str) -> bool:
    return _expect(body, key, bool, False, "true or false")


def _job_type(body: dict, key: str) -> int:
    job_type = _expect(body, key, int, LOCAL_JOB, "0 (local command) or 1 (remote request)")
    if job_type not in (LOCAL_JOB, REMOTE_JOB):
        raise InvalidInput(f"field {key!r} must be 0 (local command) or 1 (remote request), "
                           f"got {job_type}")
    return job_type


def _factor(body: dict, key: str) -> float:
    return float(_expect(body, key, (int, float), 1, "a number"))


def _delimiters(body: dict, key: str) -> str:
    """Kala's TemplateDelimiters, or kala.py's own name for it."""
    return _expect(body, key, str, body.get("template_delimiters") or "",
                   "a string like \"{{ }}\"").strip()


# --- a job's fields, declared once -------------------------------------------------

_TEXT_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_DURATION = {"type": "string", "description": "ISO 8601 duration, e.g. PT30S; empty: none"}
_REMOTE_SCHEMA = {
    "type": "object",
    "properties": {
        "url": {"type": "string"}, "method": {"type": "string"}, "body": {"type": "string"},
        "headers": {"type": ["object", "null"], "additionalProperties": {
            "type": ["array", "string"], "items": {"type": "string"}}},
        "timeout": {"type": "number", "minimum": 0},
        "expected_response_codes": {"type": ["array", "null"], "items": {"type": "integer"}},
    },
}


def _definition(default=None, *, read: Optional[Callable], schema: dict, form: Optional[str],
                json_name: Optional[str] = None, write: Callable = lambda value: value,
                factory: Optional[Callable] = None):
    """A field of a job's definition, declared once: kept in the job's stored spec,
    read from a request body by ``read(body, key)`` (None: the job is given it),
    written to Kala's JSON as ``json_name`` (its own name by default) by ``write``,
    described to OpenAPI by ``schema``, and edited in the web page's form as ``form``
    (text, lines, number, flag, choice, job, map, remote; None: not in the form)."""
    metadata = {"definition": True, "read": read, "schema": schema, "form": form,
                "json": json_name, "write": write}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass
class RemoteProperties:
    """What a remote job (type 1) sends and which answers count as success."""

    url: str
    method: str = "GET"
    body: str = ""
    headers: Dict[str, List[str]] = dataclasses.field(default_factory=dict)
    timeout: int = 30
    expected_response_codes: List[int] = dataclasses.field(default_factory=lambda: [200])


def _remote_json(remote: Optional[RemoteProperties]) -> dict:
    if remote is None:  # what Go's zero value looks like, for local jobs
        return {"url": "", "method": "", "body": "", "headers": None, "timeout": 0,
                "expected_response_codes": None}
    return dataclasses.asdict(remote)


@dataclasses.dataclass
class Job:
    """A job's definition (what a request says, fixed until an edit) and its state
    (counters, its place in the schedule), which the store keeps."""

    id: str
    name: str = _definition("", read=_text(strip=True), form="text",
                            schema={"type": "string", "minLength": 1})
    command: str = _definition("", read=_text(), form="lines", schema={
        "type": "string", "description": "a local job's command (type 0)"})
    owner: str = _definition("", read=_text(), form="text", schema={"type": "string"})
    type: int = _definition(LOCAL_JOB, read=_job_type, form="choice",
                            schema={"type": "integer", "enum": [LOCAL_JOB, REMOTE_JOB]})
    schedule: str = _definition("", read=_text(strip=True), form="text", schema={
        "type": "string", "description": "R[n]/<start>/<interval>, R/PT5M, a cron "
                                         "expression or @every 5m"})
    timezone: str = _definition("", read=_text(), form="text", schema={
        "type": "string", "description": "IANA zone, e.g. Europe/Berlin"})
    retries: int = _definition(0, read=_nonnegative_int, form="number",
                               schema={"type": "integer", "minimum": 0})
    epsilon: str = _definition("", read=_text(strip=True), form="text", schema=_DURATION)
    timeout: float = _definition(0.0, read=_seconds_field, form="number",
                                 schema={"type": "number", "minimum": 0, "maximum": 10 ** 9})
    on_failure_job: str = _definition("", read=_text("a job id string"), form="job",
                                      schema={"type": "string"})
    remote: Optional[RemoteProperties] = _definition(  # read with the type (_check_job)
        None, read=None, form="remote", json_name="remote_properties", write=_remote_json,
        schema=_REMOTE_SCHEMA)
    resume_at_next_scheduled_time: bool = _definition(False, read=_flag, form="flag",
                                                      schema={"type": "boolean"})
    template_delimiters: str = _definition(
        "", read=_delimiters, form="text", json_name="TemplateDelimiters",
        schema={"type": "string", "examples": ["{{ }}"]})
    environment: Dict[str, str] = _definition(read=_environment, form="map", factory=dict,
                                              schema=_TEXT_MAP)
    created_at: float = dataclasses.field(default=0.0, metadata={"stored": True})
    # runs only when started: by hand, by a parent, on failure
    trigger_only: bool = _definition(False, read=_flag, form="flag", schema={"type": "boolean"})
    # its command's working directory ("": serve --workdir)
    cwd: str = _definition("", read=_text("an absolute path string"), form="text",
                           schema={"type": "string", "description": "an absolute path"})
    # a run due while one goes: allow, forbid (skip), replace
    concurrency: str = _definition("allow", read=_text("allow, forbid or replace",
                                                       default="allow"),
                                   form="choice", schema={"type": "string",
                                                          "enum": list(CONCURRENCY_POLICIES)})
    # ISO 8601 duration before the first retry ("": at once)
    retry_delay: str = _definition("", read=_text("an ISO 8601 duration", strip=True),
                                   form="text", schema=_DURATION)
    # each further retry waits this many times longer
    retry_backoff: float = _definition(1.0, read=_factor, form="number",
                                       schema={"type": "number", "minimum": 1, "maximum": 1000})
    # the longest wait, however far the backoff grows
    retry_delay_max: str = _definition("", read=_text("an ISO 8601 duration", strip=True),
                                       form="text", schema=_DURATION)
    # edits so far; in its claim keys after the first
    revision: int = dataclasses.field(default=0, metadata={"stored": True})
    # State, kept by the store:
    disabled: bool = False
    parent_jobs: List[str] = dataclasses.field(default_factory=list)
    dependent_jobs: List[str] = dataclasses.field(default_factory=list)
    cursor: int = 0                       # index of the next occurrence to claim
    next_run_at: Optional[float] = None   # None: no timer (child, done)
    is_done: bool = False
    success_count: int = 0
    last_success: Optional[float] = None
    error_count: int = 0
    last_error: Optional[float] = None
    last_attempted_run: Optional[float] = None
    finished_runs: int = 0

    #: The fields stored as the job's one JSON document (its spec): the definition
    #: and what the server gives it (created_at, revision); remote goes as a dict.
    SPEC_FIELDS: ClassVar[Tuple[str, ...]] = ()

    def spec(self) -> dict:
        spec = {name: getattr(self, name) for name in self.SPEC_FIELDS}
        spec["remote"] = dataclasses.asdict(self.remote) if self.remote else None
        return spec

    @classmethod
    def from_spec(cls, job_id: str, spec: dict, **state) -> "Job":
        remote = spec.get("remote")
        fields = {name: spec[name] for name in cls.SPEC_FIELDS if name in spec}
        return cls(id=job_id, remote=RemoteProperties(**remote) if remote else None,
                   **fields, **state)

    def timing(self) -> Optional[ScheduleKind]:
        """When the job runs by itself: its schedule, once at creation, or never (a
        child, a trigger-only job)."""
        if self.parent_jobs or self.trigger_only:
            return None
        if not self.schedule:
            return Schedule(0, datetime.fromtimestamp(self.created_at, timezone.utc), None)
        return _job_schedule(self.schedule, self.timezone, self.created_at)

    def retry_wait(self, failures: int) -> float:
        """Seconds to wait before the retry that follows ``failures`` failed attempts:
        retry_delay x retry_backoff^(failures - 1), at most retry_delay_max."""
        if not self.retry_delay:
            return 0.0
        wait = parse_duration(self.retry_delay).approximate_seconds()
        try:
            wait *= self.retry_backoff ** (failures - 1)
        except OverflowError:
            wait = math.inf
        if self.retry_delay_max:
            wait = min(wait, parse_duration(self.retry_delay_max).approximate_seconds())
        return min(wait, 10.0 ** 9)

    def epsilon_seconds(self) -> Optional[float]:
        return parse_duration(self.epsilon).approximate_seconds() if self.epsilon else None

    def render(self, text: str, run: Optional[Dict[str, str]] = None) -> str:
        """Substitute job fields into ``text`` between the job's template delimiters,
        as Kala's Go template does with the job as its data (``{{.Name}}``,
        ``{{$.Owner}}``, ``${$.Owner}`` with ``"${ }"``); the run's fields
        (RUN_TEMPLATE_FIELDS) come from ``run``, its environment."""
        if not self.template_delimiters:
            return text

        def value(match) -> str:
            variable = _RUN_TEMPLATE_NAMES.get(match.group(1).lower())
            if variable is not None:
                return (run or {}).get(variable, "")
            return _go_text(getattr(self, _template_field(match.group(1), text)))
        return _template_pattern(self.template_delimiters).sub(value, text)


#: A job's definition fields (dataclasses.Field, their metadata saying how each is
#: read, written and shown), in the order Job declares them.
DEFINITION_FIELDS = tuple(f for f in dataclasses.fields(Job) if f.metadata.get("definition"))
Job.SPEC_FIELDS = tuple(f.name for f in dataclasses.fields(Job)
                        if f.name != "remote" and (f.metadata.get("definition")
                                                   or f.metadata.get("stored")))


def json_name(field: dataclasses.Field) -> str:
    """What Kala's JSON (and a request) calls a definition field."""
    return field.metadata["json"] or field.name


#: Each definition field's (JSON name, attribute, how it is read, how it is written),
#: looked up once: a job's JSON and a request's reading go through them every time.
_DEFINITION_WAYS = tuple((json_name(field), field.name, field.metadata["read"],
                          field.metadata["write"]) for field in DEFINITION_FIELDS)


@functools.lru_cache(maxsize=4096)
def _job_schedule(text: str, zone_name: str, anchor: float) -> ScheduleKind:
    """A job's parsed schedule; kept, as jobs are planned again at every claim."""
    return parse_schedule(text, _zone(zone_name) if zone_name else None, anchor)


def _template_delimiters(delimiters: str) -> Tuple[str, str]:
    """Kala's rule: a left and a right delimiter separated by one space."""
    parts = delimiters.split(" ")
    if len(parts) != 2 or not all(parts):
        raise InvalidInput(
            f"TemplateDelimiters {delimiters!r} must be a left and a right delimiter "
            'separated by one space, e.g. "{{ }}" or "${ }"')
    return parts[0], parts[1]


def _template_pattern(delimiters: str) -> "re.Pattern":
    left, right = _template_delimiters(delimiters)
    return re.compile(re.escape(left) + r"\s*(?:\$?\.)?([A-Za-z_]\w*)\s*" + re.escape(right))


def _template_field(name: str, text: str) -> str:
    field = _TEMPLATE_NAMES.get(name.lower())
    if field is None:
        raise InvalidInput(
            f"unknown template field {name!r} in {text!r} "
            f"(known: {', '.join('.' + go for go in (*TEMPLATE_FIELDS, *RUN_TEMPLATE_FIELDS))}, "
            f"or in lower case)")
    return field


def _go_text(value) -> str:
    """A field as Go's template prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- what runs when: a job's occurrences, a dead process's runs ----------------------

@dataclasses.dataclass(frozen=True)
class OccurrencePlan:
    """What claiming a job's due occurrence does: run it (or skip it), and what is next."""

    run_index: Optional[int]        # None: the occurrence was missed and is skipped
    scheduled_for: float
    next_cursor: int
    next_run_at: Optional[float]    # None: the schedule is exhausted


def plan_occurrence(job: Job, now: float, late_grace: float,
                    missed_before: float = -math.inf,
                    ahead: float = 0.0) -> Optional[OccurrencePlan]:
    """Decide what to do with a job whose next occurrence may be due at ``now``
    (or within ``ahead`` seconds of it: a claim made ahead, started on time).

    An occurrence is missed when it came due before ``missed_before`` (when no
    serve process was running: downtime) or more than ``late_grace`` seconds ago
    (the scheduler was frozen). Missed occurrences are coalesced into one run, of
    the latest; that run is skipped when the job resumes at its next scheduled
    time. An occurrence that is merely late (a busy machine, a handoff from a dead
    process) runs as itself, even when the next one is due too, so nothing is
    lost to a slow claim. Any run later than the job's epsilon is skipped.
    Returns None when nothing is due.
    """
    timing = job.timing()
    if (timing is None or not timing.has_index(job.cursor)
            or timing.occurrence(job.cursor) > now + ahead):
        return None

    def missed(k: int) -> bool:
        when = timing.occurrence(k)
        return when < missed_before or now - when > late_grace

    due = job.cursor
    if missed(due):
        due = max(due, timing.index_at_or_before(now))
        if timing.last_index is not None:
            due = min(due, timing.last_index)
    scheduled_for = timing.occurrence(due)
    skip = bool(job.schedule) and (too_late(job, scheduled_for, now)
                                   or (job.resume_at_next_scheduled_time and missed(due)))
    following = timing.next_index(due)
    next_run_at = timing.occurrence(following) if timing.has_index(following) else None
    return OccurrencePlan(None if skip else due, scheduled_for, following, next_run_at)


def too_late(job: Job, scheduled_for: float, now: float) -> bool:
    """Kala's epsilon: a run (or a retry) of a job may not start more than
    ``epsilon`` after its scheduled time."""
    epsilon = job.epsilon_seconds()
    return epsilon is not None and now - scheduled_for > epsilon


class OrphanPlan(NamedTuple):
    """What a process taking over a dead one does with a run it left running."""

    take_over: bool          # run it here as it is: it never started
    retry: bool              # it failed with its process; claim the next attempt
    failure_job_owed: bool   # it failed for good, and the job has a failure job


def plan_orphan(job: Optional[Job], scheduled_for: float, attempts_before: int,
                never_started: bool, now: float) -> OrphanPlan:
    """Decide the fate of a run whose process died (``job`` None: deleted since).

    A claim that never started is run by the survivor, unless it is now too late
    (epsilon). Any other run failed with its process: the attempt in flight counts,
    and the next one is claimed if the job has retries left and it is not too late;
    a run that failed for good owes the job's failure job.
    """
    if job is None:
        return OrphanPlan(False, False, False)
    in_time = not too_late(job, scheduled_for, now)
    if never_started and in_time:
        return OrphanPlan(True, False, False)
    retry = attempts_before + 1 <= job.retries and in_time
    return OrphanPlan(False, retry, not retry and bool(job.on_failure_job))


def upcoming_occurrences(job: Job, now: float, until: float = math.inf,
                         most: int = 10) -> List[float]:
    """When a job will run by itself next (at most ``most`` times, until ``until``): from
    its cursor, or for a disabled one from where it would pick up if enabled at
    ``now``. Empty for a job that runs only when started, and for one done."""
    timing = job.timing()
    if timing is None or job.is_done:
        return []
    cursor = resume_cursor(job, now)[0] if job.disabled else job.cursor
    times = []
    while len(times) < most and timing.has_index(cursor):
        when = timing.occurrence(cursor)
        if when > until:
            break
        times.append(when)
        cursor = timing.next_index(cursor)
    return times


def resume_cursor(job: Job, now: float) -> Tuple[int, Optional[float]]:
    """Where an enabled job picks up: occurrences that passed while it was off are dropped."""
    timing = job.timing()
    if timing is None:
        return job.cursor, None
    cursor = job.cursor
    if job.schedule:
        cursor = max(cursor, timing.first_index_at_or_after(now))
    return cursor, (timing.occurrence(cursor) if timing.has_index(cursor) else None)


# --- a job from a request, checked ------------------------------------------------

def job_from_request(body, *, now: float, default_owner: str = "", edit: bool = False) -> Job:
    """Validate a create-job (or, ``edit``, a replace-job) request body and build the
    Job it describes, each definition field read as Job declares it. An edit may
    keep a schedule whose start has passed.

    Unknown fields are ignored (Kala clients send ids, stats and zero times);
    anything malformed raises InvalidInput naming the field and the valid form.
    """
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object describing a job")
    definition = {name: read(body, key)
                  for key, name, read, _ in _DEFINITION_WAYS if read is not None}
    definition["owner"] = definition["owner"] or default_owner
    job = Job(id=str(uuid.uuid4()), created_at=now, **definition,
              disabled=_expect(body, "disabled", bool, False, "true or false"),
              parent_jobs=_id_list(body, "parent_jobs"))
    _check_job(job, body, now, edit)
    return job


def _check_job(job: Job, body: dict, now: float, edit: bool = False) -> None:
    if not job.name:
        raise InvalidInput("field 'name' is required (a non-empty string)")
    job.remote = _remote_properties(body, remote=job.type == REMOTE_JOB)
    if job.type != REMOTE_JOB:
        if not job.command.strip():
            raise InvalidInput("field 'command' is required for a local job (type 0), "
                               'e.g. "echo hello"')
        if "\0" in job.command:
            raise InvalidInput(f"command {job.command!r} contains a NUL character, which no "
                               "program can be given")
        try:
            shlex.split(job.command)
        except ValueError as exc:
            raise InvalidInput(f"command {job.command!r} cannot be split into words: {exc}") \
                from None
    if job.cwd and (not os.path.isabs(job.cwd) or "\0" in job.cwd):
        raise InvalidInput(f"field 'cwd' must be an absolute path, e.g. \"/srv/reports\", "
                           f"got {job.cwd!r}")
    for field in ("retry_delay", "retry_delay_max"):
        if getattr(job, field):
            try:
                parse_duration(getattr(job, field))
            except InvalidInput as exc:
                raise InvalidInput(f"field {field!r}: {exc}") from None
    if not 1 <= job.retry_backoff <= 1000:  # also false for NaN
        raise InvalidInput(f"field 'retry_backoff' must be a factor from 1 (the same wait "
                           f"each time) to 1000, e.g. 2, got {job.retry_backoff}")
    if job.concurrency not in CONCURRENCY_POLICIES:
        raise InvalidInput(f"field 'concurrency' must be allow (runs may overlap), forbid (a "
                           f"run due while one goes is skipped) or replace (the running one "
                           f"is stopped), got {job.concurrency!r}")
    if job.trigger_only and job.schedule:
        raise InvalidInput(f"a trigger_only job has no schedule (it runs when started, by a "
                           f"parent or as a failure job); drop one of them, got schedule "
                           f"{job.schedule!r}")
    if job.epsilon:
        parse_duration(job.epsilon)
    if job.template_delimiters:
        _check_templates(job)
    if job.remote:
        _check_url(job.render(job.remote.url))  # as it will be requested
    if job.schedule:
        timing = parse_schedule(job.schedule, _zone(job.timezone) if job.timezone else None,
                                now)
        if (isinstance(timing, Schedule) and timing.start_written
                and timing.start.timestamp() < now and not edit):
            raise InvalidInput(
                f"schedule {job.schedule!r} starts at {format_time(timing.start.timestamp())}, "
                f"which has already passed (now {format_time(now)})")
    elif job.timezone:
        _zone(job.timezone)


def _check_url(url: str) -> None:
    if not re.match(r"https?://[^/\s]+", url) or re.search(r"[\x00-\x20\x7f]", url):
        raise InvalidInput(f"remote_properties.url must be an http:// or https:// URL without "
                           f"spaces or control characters (spell a space %20), got {url!r}")


def _check_templates(job: Job) -> None:
    texts = [job.command] + ([job.remote.url, job.remote.body] if job.remote else [])
    for text in texts:
        job.render(text)  # raises InvalidInput on an unknown field


# --- Kala's JSON shapes ---------------------------------------------------------

def job_to_json(job: Job, now: Optional[float] = None) -> dict:
    """Kala's JSON of a job: its definition as Job declares it, its state, and the
    counters twice (flat, the seed's shape, and in ``metadata``, Kala's). Given
    ``now``, a disabled job's ``next_run_at`` is when it would run if enabled now
    (never a time past); without, the occurrence it stopped at."""
    next_run_at = job.next_run_at
    if job.disabled and now is not None:
        next_run_at = (upcoming_occurrences(job, now, most=1) or [None])[0]
    metadata = {
        "success_count": job.success_count,
        "last_success": format_time(job.last_success),
        "error_count": job.error_count,
        "last_error": format_time(job.last_error),
        "last_attempted_run": format_time(job.last_attempted_run),
        "number_of_finished_runs": job.finished_runs,
    }
    return {
        **_definition_json(job),
        "disabled": job.disabled,
        "dependent_jobs": job.dependent_jobs or None,
        "parent_jobs": job.parent_jobs or None,
        "next_run_at": format_time(next_run_at),
        "success_count": job.success_count,
        "last_success": metadata["last_success"],
        "error_count": job.error_count,
        "last_error": metadata["last_error"],
        "last_attempted_run": metadata["last_attempted_run"],
        "is_done": job.is_done,
        "metadata": metadata,
        "created_at": format_time(job.created_at),
    }


def _definition_json(job: Job) -> dict:
    """The head of a job's JSON: its name, id and definition, which change only
    when the job is edited."""
    return {"name": job.name, "id": job.id,
            **{key: write(getattr(job, name)) for key, name, _, write in _DEFINITION_WAYS}}


def job_shown(job: Job) -> str:
    """What a job's ``shown`` column keeps: the text of its JSON's head (name, id,
    definition) and, on a line of its own, of its ``created_at``. A job's JSON is
    written from it and the state columns (StoredJob.json_text) without reading the
    spec or building the job."""
    head = json.dumps(_definition_json(job), ensure_ascii=False)[1:-1]
    return f"{head}\n{json.dumps(format_time(job.created_at))}"


def spec_digest(spec_text: str) -> int:
    """Which spec a ``shown`` column was made from (``shown_of``): one another
    kala.py version wrote without it no longer matches, and is not shown from it."""
    return zlib.crc32(spec_text.encode())


_JSON_FLAGS = ("false", "true")


@functools.lru_cache(maxsize=4096)
def _parsed_spec(spec_text: str) -> dict:
    return json.loads(spec_text)


def _stored_spec(spec_text: str) -> dict:
    """A stored spec as a dict of its own. Parsed once for each text: every claim reads
    its jobs again (a job read 13.4 us, 8.7 since; json.loads was 4.3). The
    environment and remote are copied: no two jobs share a mutable value."""
    spec = dict(_parsed_spec(spec_text))
    spec["environment"] = dict(spec.get("environment") or {})
    if spec.get("remote"):
        spec["remote"] = copy.deepcopy(spec["remote"])
    return spec


class StoredJob(NamedTuple):
    """A job's row as the store reads it (its spec, state and shown text) with its
    parents and children: made into a Job, or straight into the text of its JSON."""

    row: Any
    parents: Sequence[str] = ()
    children: Sequence[str] = ()

    def job(self) -> Job:
        row = self.row
        state = {name: row[name] for name in _JOB_STATE}
        state["disabled"] = bool(state["disabled"])
        state["is_done"] = bool(state["is_done"])
        return Job.from_spec(row["id"], _stored_spec(row["spec"]), parent_jobs=list(self.parents),
                             dependent_jobs=list(self.children), **state)

    def json_text(self, now: float) -> str:
        """``json.dumps(job_to_json(self.job(), now), ensure_ascii=False)``, byte for
        byte, from the shown text where it is the spec's (a disabled job's next run
        depends on ``now``: that one is built). The row is read by position (the
        columns of _SHOWN_COLUMNS): by name, a third of the time of a full list."""
        (_, spec, disabled, _, next_run_at, is_done, successes, last_success, errors,
         last_error, attempted, finished, shown, shown_of) = self.row[:14]
        if shown is None or disabled or shown_of != spec_digest(spec):
            return json.dumps(job_to_json(self.job(), now), ensure_ascii=False)
        head, _, created = shown.partition("\n")
        success, error = format_time(last_success), format_time(last_error)
        attempted = format_time(attempted)
        successes, errors = int(successes), int(errors)
        children, parents = (json.dumps(list(ids), ensure_ascii=False) if ids else "null"
                             for ids in (self.children, self.parents))
        return (f'{{{head}, "disabled": false, "dependent_jobs": {children}, '
                f'"parent_jobs": {parents}, "next_run_at": "{format_time(next_run_at)}", '
                f'"success_count": {successes}, "last_success": "{success}", '
                f'"error_count": {errors}, "last_error": "{error}", '
                f'"last_attempted_run": "{attempted}", '
                f'"is_done": {_JSON_FLAGS[bool(is_done)]}, "metadata": {{'
                f'"success_count": {successes}, "last_success": "{success}", '
                f'"error_count": {errors}, "last_error": "{error}", '
                f'"last_attempted_run": "{attempted}", '
                f'"number_of_finished_runs": {int(finished)}}}, '
                f'"created_at": {created}}}')


@dataclasses.dataclass
class RunStat:
    """One finished run of a job, as ``/api/v1/job/stats/{id}/`` reports it."""

    job_id: str
    ran_at: float
    retries: int
    success: bool
    duration_ns: int
    scheduled_for: Optional[float] = None
    trigger: str = ""
    node: str = ""
    output: str = ""
    error: str = ""
    run_id: Optional[int] = None    # what a start with ?wait=false answered
    output_dropped: int = 0
    skipped: bool = False           # concurrency forbid: it did not run (``error`` says why)


def stat_to_json(stat: RunStat) -> dict:
    return {
        "job_id": stat.job_id,
        "ran_at": format_time(stat.ran_at),
        "number_of_retries": stat.retries,
        "success": stat.success,
        "execution_duration": stat.duration_ns,
        "scheduled_for": format_time(stat.scheduled_for),
        "trigger": stat.trigger,
        "node": stat.node,
        "output": stat.output,
        "error": stat.error,
        "run_id": stat.run_id,
        "output_truncated": stat.output_dropped > 0,
        "output_dropped_bytes": stat.output_dropped,
        "skipped": stat.skipped,
    }


def app_stats_to_json(counts: "AppCounts", now: float) -> dict:
    return {
        "active_jobs": counts.active,
        "disabled_jobs": counts.disabled,
        "jobs": counts.jobs,
        "error_count": counts.errors,
        "success_count": counts.successes,
        "next_run_at": format_time(counts.next_run_at),
        "last_attempted_run": format_time(counts.last_attempted_run),
        "created": format_time(now),
        "nodes": [{"id": node, "heartbeat": format_time(beat), "runs_going": running,
                   "deaths_seen": deaths} for node, beat, running, deaths in counts.nodes],
    }

# --- export and import: moving jobs between stores ---------------------------

#: A run's states in the store (and in an export).
_RUNNING, _SUCCEEDED, _FAILED = "running", "succeeded", "failed"
_SKIPPED = "skipped"   # a concurrency forbid job's occurrence, due while a run went on
#: The format of ``kala.py export``; ``import`` reads this one.
EXPORT_FORMAT = "kala.py export 1"
_EXPORTED_COUNTERS = ("success_count", "error_count", "finished_runs")
_EXPORTED_TIMES = ("last_success", "last_error", "last_attempted_run")
_EXPORTED_RUN = ("trigger", "scheduled_for", "node", "state", "ran_at", "finished_at",
                 "retries", "duration_ns", "output", "error")


def job_to_export(job: Job) -> dict:
    """A job as ``kala.py export`` writes it: id, definition, schedule position, counters."""
    return {"id": job.id, "definition": job.spec(), "disabled": job.disabled,
            "cursor": job.cursor, "is_done": job.is_done, "parent_jobs": job.parent_jobs,
            **{name: getattr(job, name) for name in _EXPORTED_COUNTERS + _EXPORTED_TIMES}}


class ImportedJobs(NamedTuple):
    """What an export file holds, checked: the jobs (parents first), and the finished
    runs of each job, oldest first."""

    jobs: List[Job]
    runs: Dict[str, List[dict]]


def jobs_from_export(document) -> ImportedJobs:
    """Check an export document and rebuild its jobs; InvalidInput names what is wrong."""
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise InvalidInput(f"not a kala.py export: expected a JSON object with "
                           f"\"format\": \"{EXPORT_FORMAT}\"")
    entries = document.get("jobs")
    if not isinstance(entries, list):
        raise InvalidInput("field 'jobs' must be a list")
    jobs, runs = [], {}
    for number, entry in enumerate(entries, 1):
        try:
            job, job_runs = _job_from_export(entry)
        except InvalidInput as exc:
            label = entry.get("id") if isinstance(entry, dict) else None
            raise InvalidInput(f"job {number} ({label or 'no id'}): {exc}") from None
        if job.id in runs:
            raise InvalidInput(f"job {job.id} appears twice")
        jobs.append(job)
        runs[job.id] = job_runs
    known = set(runs)
    for job in jobs:
        for other in [*job.parent_jobs, *filter(None, [job.on_failure_job])]:
            if other not in known:
                raise InvalidInput(f"job {job.id} refers to job {other}, which is not in "
                                   f"the file")
    return ImportedJobs(_parents_first(jobs), runs)


def _job_from_export(entry) -> Tuple[Job, List[dict]]:
    if not isinstance(entry, dict):
        raise InvalidInput("each job must be a JSON object")
    job_id = entry.get("id")
    if not isinstance(job_id, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,200}", job_id):
        raise InvalidInput("field 'id' must be a job id (letters, digits, _ . : -)")
    spec = entry.get("definition")
    if not isinstance(spec, dict):
        raise InvalidInput("field 'definition' must be an object")
    state = {"parent_jobs": _id_list(entry, "parent_jobs"),
             "disabled": _expect(entry, "disabled", bool, False, "true or false"),
             "is_done": _expect(entry, "is_done", bool, False, "true or false"),
             "cursor": _nonnegative_int(entry, "cursor")}
    for name in _EXPORTED_COUNTERS:
        state[name] = _nonnegative_int(entry, name)
    for name in _EXPORTED_TIMES:
        value = entry.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not _FIRST_TIMESTAMP <= value <= _LAST_TIMESTAMP):
            raise InvalidInput(f"field {name!r} must be a time in seconds since 1970, or null")
        state[name] = value
    try:
        job = Job.from_spec(job_id, spec, **state)
        # The definition is checked as its creation was, at the time it was created.
        job_from_request({**job_to_json(job), "remote_properties": _remote_json(job.remote)},
                         now=float(job.created_at))
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"field 'definition' is not a job's: {exc}") from None
    timing = job.timing()
    job.next_run_at = (timing.occurrence(job.cursor) if timing is not None and not job.is_done
                       and timing.has_index(job.cursor) else None)
    runs = entry.get("runs", [])
    if not isinstance(runs, list) or not all(map(_is_exported_run, runs)):
        raise InvalidInput(f"field 'runs' must be a list of finished runs, each with "
                           f"{', '.join(_EXPORTED_RUN)}")
    return job, runs


def _is_exported_run(run) -> bool:
    def number(value, optional=False):
        return (value is None and optional) or (
            isinstance(value, (int, float)) and not isinstance(value, bool)
            and _FIRST_TIMESTAMP <= value <= _LAST_TIMESTAMP)
    return (isinstance(run, dict) and set(run) == set(_EXPORTED_RUN)
            and run["state"] in (_SUCCEEDED, _FAILED)
            and all(isinstance(run[name], str) for name in ("trigger", "node", "output", "error"))
            and number(run["ran_at"]) and number(run["scheduled_for"], True)
            and number(run["finished_at"], True)
            and all(isinstance(run[name], int) and not isinstance(run[name], bool)
                    and 0 <= run[name] < 10 ** 18 for name in ("retries", "duration_ns")))


def _parents_first(jobs: List[Job]) -> List[Job]:
    """The jobs in their order (an export's is creation order), except that a job
    listed before one of its parents moves after it."""
    placed: Dict[str, Job] = {}
    pending = list(jobs)
    while pending:
        waiting = []
        for job in pending:
            if all(parent in placed for parent in job.parent_jobs):
                placed[job.id] = job
            else:
                waiting.append(job)
        if len(waiting) == len(pending):
            raise InvalidInput(f"jobs {', '.join(job.id for job in pending)} depend on each "
                               f"other in a circle")
        pending = waiting
    return list(placed.values())



# =============================================================================
# Storage: the tables, and the claims that make each occurrence run once
# =============================================================================
#
# One core (Store, in four parts: jobs, claims, history, nodes) speaks the SQL
# every database shares and owns the claim protocol; a small part a database
# (SqliteStore, PostgresStore, MysqlStore) says only what that database does
# differently: its connections and transactions, its types, its upserts and
# batches, and how its processes fence each other (LedgerFence, RowFence).

#: Every table: (name, columns), each column (name, kind, constraints). A kind is
#: kala.py's own type, which each database names (Store._TYPES): key (an id or a
#: short word, indexed), text, time (seconds since 1970), count, flag, serial (a
#: row id the database assigns) and order (the jobs' creation order, where the
#: database keeps none by itself). A run row is also the claim that makes an
#: occurrence run once. Columns added since a table was first created are added
#: to it when a store opens it.
_TABLES = (
    ("jobs", (
        ("seq", "order", ""), ("id", "key", "PRIMARY KEY"), ("spec", "text", "NOT NULL"),
        ("disabled", "flag", "NOT NULL DEFAULT 0"), ("cursor", "count", "NOT NULL DEFAULT 0"),
        ("next_run_at", "time", ""), ("is_done", "flag", "NOT NULL DEFAULT 0"),
        ("success_count", "count", "NOT NULL DEFAULT 0"), ("last_success", "time", ""),
        ("error_count", "count", "NOT NULL DEFAULT 0"), ("last_error", "time", ""),
        ("last_attempted_run", "time", ""), ("finished_runs", "count", "NOT NULL DEFAULT 0"),
        ("version", "count", "NOT NULL DEFAULT 0"),
        # Copies of the spec's name, owner and command, for searching and sorting.
        ("name", "text", ""), ("owner", "text", ""), ("command", "text", ""),
        # The text of its JSON's head (job_shown), and the digest of the spec it is of.
        ("shown", "text", ""), ("shown_of", "count", ""))),
    # One counter, bumped by every change to a job's timer, so each process can
    # fetch just what changed since it last looked.
    ("counters", (("name", "key", "PRIMARY KEY"), ("value", "count", "NOT NULL"))),
    ("dependencies", (("seq", "serial", ""), ("parent_id", "key", "NOT NULL"),
                      ("child_id", "key", "NOT NULL"))),
    ("runs", (
        ("id", "serial", ""), ("job_id", "key", "NOT NULL"),
        ("claim_key", "key", "NOT NULL UNIQUE"), ("trigger", "key", "NOT NULL"),
        ("scheduled_for", "time", ""), ("node", "key", "NOT NULL"), ("state", "key", "NOT NULL"),
        ("ran_at", "time", "NOT NULL"),
        ("started_at", "time", ""),           # its start's mark, where the row fences it
        ("finished_at", "time", ""), ("retries", "count", "NOT NULL DEFAULT 0"),
        ("duration_ns", "count", "NOT NULL DEFAULT 0"), ("output", "text", "NOT NULL DEFAULT ''"),
        ("output_dropped", "count", "NOT NULL DEFAULT 0"), ("error", "text", "NOT NULL DEFAULT ''"),
        ("owed_by", "key", ""),               # who still owes its children or failure job
        ("retry_at", "time", ""),             # a retry waiting (retry_delay): when it is due
        ("replaced_by", "count", ""),         # the concurrency replace run that stops it
        ("stop_requested", "time", ""))),     # when a stop of it was asked for (the API)
    # Deleted jobs, so that other processes drop their timers at once; kept for
    # DELETION_MEMORY seconds (a process paused longer drops them when they fire).
    ("deleted_jobs", (("id", "key", "NOT NULL"), ("version", "count", "NOT NULL"),
                      ("deleted_at", "time", "NOT NULL"))),
    ("nodes", (("id", "key", "PRIMARY KEY"), ("started_at", "time", "NOT NULL"),
               ("heartbeat", "time", "NOT NULL"),
               ("deaths", "count", "NOT NULL DEFAULT 0"),   # processes it took for dead
               # Since when some process has run without a break, as far as it knows
               # (the catch-up rule's downtime); NULL: since its own start.
               ("up_since", "time", ""))),
)
#: Indexes: (name, table, columns, condition, columns where no index is partial).
_INDEXES = (
    ("jobs_by_version", "jobs", "version", "", ""),
    ("dependencies_parent", "dependencies", "parent_id, seq", "", ""),
    ("dependencies_child", "dependencies", "child_id, seq", "", ""),
    ("jobs_due", "jobs", "next_run_at", "disabled = 0 AND is_done = 0",
     "disabled, is_done, next_run_at"),
    ("runs_by_job", "runs", "job_id, id", "", ""),
    ("runs_running", "runs", "node", "state = 'running'", "state, node"),
    # Finished runs whose children (or failure job) a process still owes: one
    # that dies in the middle of a chain leaves it to a survivor.
    ("runs_owing", "runs", "owed_by", "owed_by IS NOT NULL", "owed_by"),
    ("runs_finished", "runs", "finished_at", "", ""),
    ("deleted_jobs_by_version", "deleted_jobs", "version", "", ""),
    # Jobs an older kala.py stored without their shown text (none, once filled in):
    # each start looks for them, and a scan of every job cost 90 ms at 100,000.
    ("jobs_unshown", "jobs", "shown_of", "shown_of IS NULL", "shown_of"),
)
#: Column names some databases reserve (MySQL: CURSOR, TRIGGER), always quoted;
#: MySQL sessions read double quotes as SQL does (ANSI_QUOTES).
_RESERVED = frozenset(("cursor", "trigger"))
_JOB_STATE = ("disabled", "cursor", "next_run_at", "is_done", "success_count", "last_success",
              "error_count", "last_error", "last_attempted_run", "finished_runs")


def _column(name: str) -> str:
    return f'"{name}"' if name in _RESERVED else name


_JOB_COLUMNS = ", ".join(_column(name) for name in ("id", "spec") + _JOB_STATE)
_SHOWN_COLUMNS = f"{_JOB_COLUMNS}, shown, shown_of"
#: How long a deletion is remembered for the processes that still time the job.
DELETION_MEMORY = 600.0
#: The error recorded for a run whose process stopped heartbeating.
NODE_DIED = "node died"
#: The error recorded for a run ended through the API (POST /api/v1/job/stop/ID/).
STOPPED_BY_REQUEST = "stopped by request"
#: Results are committed at most once per this many seconds while they stream in:
#: those arriving meanwhile share the next commit (and its fsync). A lone result (a
#: run started through the API, waiting) commits at once. At 500 runs a second on
#: SQLite, 10 ms cost the results thread 115-142 us a run (a commit's fsync costs
#: its thread ~0.4 ms of CPU here), 50 ms 60-77 us (bench/run_cost.py).
RESULT_COMMIT_SPACING = 0.05
#: A claim (Scheduler.run_due) also takes every occurrence due within this many
#: seconds after the first: a thousand jobs spread over a second cost 20
#: transactions, not 1,000. A claim's commit costs its thread more CPU than its
#: rows: at 500 runs a second on SQLite, 20 ms cost the timer thread 105 us a run,
#: 50 ms 75-85 (bench/run_cost.py), and the firing lag's p99 did not grow.
CLAIM_BATCH = 0.05


class JobQuery(NamedTuple):
    """Which jobs a list asks for, and in what order (``GET /api/v1/job/?q=&state=&sort=``)."""

    text: str = ""     # words in the name, owner or command, in any case
    state: str = ""    # one of JOB_STATES ("": any)
    sort: str = ""     # one of JOB_SORTS, "-" before it for the reverse ("": creation order)


#: What a job list can be sorted by: the SQL of each key (None: creation order).
JOB_SORTS = {"created": None, "name": "lower(name)", "owner": "lower(owner)",
             "next": "next_run_at", "last": "last_attempted_run", "errors": "error_count",
             "successes": "success_count"}
#: The states a job list can be limited to, as SQL.
JOB_STATES = {
    "active": "disabled = 0 AND is_done = 0",
    "disabled": "disabled = 1",
    "done": "is_done = 1",
    "failing": "last_error IS NOT NULL AND (last_success IS NULL OR last_error > last_success)",
    "running": "id IN (SELECT job_id FROM runs WHERE state = 'running')",
}


class ClaimKey:
    """The keys runs are claimed under (``runs.claim_key``, unique): a key says what a
    run is, so whoever claims the same thing again finds it claimed. Built and read
    here only."""

    @staticmethod
    def occurrence(job: Job, index: int) -> str:
        """Occurrence ``index`` of a job's schedule; an edited job's keys name its
        revision (Kala's runs, from before any edit, keep theirs)."""
        return f"{job.id}@{job.revision}.{index}" if job.revision else f"{job.id}@{index}"

    @staticmethod
    def manual() -> str:
        return f"manual:{uuid.uuid4()}"

    @staticmethod
    def child(parent_run_id: int, child_id: str) -> str:
        return f"{parent_run_id}>{child_id}"

    @staticmethod
    def failure(failed_run_id: int) -> str:
        return f"{failed_run_id}!"

    @staticmethod
    def retry(key: str, attempts: int) -> str:
        """The retry a survivor claims after the run's process died with ``attempts``
        attempts made."""
        return f"{key}~{attempts}"

    @staticmethod
    def imported() -> str:
        return f"imported:{uuid.uuid4()}"

    @staticmethod
    def failed_run(key: str) -> Optional[int]:
        """The failed run a failure job's run was claimed for; None for any other key."""
        return int(key[:-1]) if key.endswith("!") and key[:-1].isdigit() else None


@dataclasses.dataclass
class Claim:
    """A run this process has claimed in the database and must now execute."""

    run_id: int
    job: Job
    trigger: str                    # schedule, manual, parent or failure
    scheduled_for: float
    key: str = ""
    prior_attempts: int = 0         # attempts made by a process that died running it
    #: The scheduler's lease generation when the database last vouched for this
    #: claim; an older one must be confirmed before it starts (Lease.may_fork).
    generation: int = 0
    #: Whether its start is marked (the fence said it may start): None until
    #: asked; False when another process had taken it over.
    start_marked: Optional[bool] = None
    #: The start time it was marked with, kept to mark it again with the same
    #: if the answer was lost.
    start_stamp: Optional[float] = None
    #: A retry that waits (retry_delay): when it starts, and what came before it here.
    retry_at: Optional[float] = None
    first_ran_at: Optional[float] = None
    earlier: List["Attempt"] = dataclasses.field(default_factory=list)
    uncounted_failures: int = 0     # of prior_attempts: those not in error_count yet
    #: What became of it here once settled (Completion.settle), with its result;
    #: ``settled`` is set then, for whoever waits (a start through the API).
    outcome: Optional["Outcome"] = None
    result: Optional["RunResult"] = None
    settled: Optional[threading.Event] = None
    #: The follow-ups it is one of (a child, a failure job): they go on once it settled.
    chain: Optional["FollowUps"] = None

    @property
    def start_time(self) -> float:
        return self.scheduled_for if self.retry_at is None else self.retry_at


class Timer(NamedTuple):
    """When a job's next occurrence, the one at ``cursor``, is due: ``when`` is
    None for a job that waits for nothing (disabled, done, deleted, a child)."""

    job_id: str
    when: Optional[float]
    cursor: int


class NodeDeath(NamedTuple):
    """A process taken for dead: how it was found dead, and what became of its runs."""

    node: str
    how: str             # e.g. "its lock was freed", "its heartbeat is 12.0 s old"
    taken_over: int = 0  # claims it never started, now this process's to run
    failed: int = 0      # runs recorded NODE_DIED
    retried: int = 0     # of those, retries claimed here
    followups: int = 0   # finished runs whose follow-ups it owed, now owed here


class Takeover(NamedTuple):
    """What a process inherits from processes taken for dead (``Store.reap_nodes``)."""

    failed: List[Tuple[int, str]]          # (run id, job id): failed as NODE_DIED
    runs: List[Claim]                      # to run here: claims never started, and retries
    followups: List[Tuple[Claim, bool]]    # finished runs (and success) whose children or
                                           # failure job this process now owes
    deaths: List[NodeDeath] = []           # each process taken for dead, for the log


class AppCounts(NamedTuple):
    """The figures of ``/api/v1/stats/``, counted over every job."""

    jobs: int
    disabled: int
    active: int
    errors: int
    successes: int
    next_run_at: Optional[float]
    last_attempted_run: Optional[float]
    nodes: List[Tuple[str, float, int, int]]  # (node id, last heartbeat, runs going, deaths
                                              # it found), oldest first


@dataclasses.dataclass
class RunResult:
    """How a claimed run went, all attempts included."""

    success: bool
    ran_at: float
    finished_at: float
    retries: int                    # attempts after the first
    failures: int                   # failed attempts, each one adds to error_count
    output: str = ""
    error: str = ""
    output_dropped: int = 0         # bytes of output not kept (before what is)
    followups_owed: bool = False    # children or a failure job are to run after it

    @property
    def duration_ns(self) -> int:
        return int(round((self.finished_at - self.ran_at) * 1e9))


#: Histogram buckets (seconds, upper bounds) fitting what each one measures.
LAG_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
               0.5, 1.0, 2.5, 5.0, 10.0)
RUN_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
DATABASE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                    2.5, 5.0)


class Histogram:
    """A Prometheus histogram: how many observations fell at or below each bucket
    (the store times its commits with one, the scheduler its runs and lags)."""

    def __init__(self, buckets: Sequence[float]):
        self.buckets = tuple(buckets)
        self._counts = [0] * (len(self.buckets) + 1)   # the last: above every bucket
        self.count, self.sum = 0, 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._counts[bisect.bisect_left(self.buckets, value)] += 1
            self.count += 1
            self.sum += value

    def exposition(self, name: str) -> List[str]:
        with self._lock:
            counts, count, total = list(self._counts), self.count, self.sum
        lines, cumulative = [], 0
        for bound, n in zip((*self.buckets, math.inf), counts):
            cumulative += n
            lines.append(f'{name}_bucket{{le="{_metric_number(bound)}"}} {cumulative}')
        return lines + [f"{name}_sum {_metric_number(total)}", f"{name}_count {count}"]


def _metric_number(value: float) -> str:
    return "+Inf" if value == math.inf else repr(float(value)) if value % 1 else str(int(value))


# --- threads that say what they are -----------------------------------------------

class KalaThread(threading.Thread):
    """A daemon thread whose name the system shows too (``top -H``, ``ps -L -o
    tid,comm,pcpu``, ``/proc/PID/task/TID/comm``), on Linux: which of kala.py's
    threads uses the CPU is then one look (Python names its threads for itself only)."""

    def __init__(self, target: Callable, name: str, args: tuple = ()):
        super().__init__(target=target, name=name, args=args, daemon=True)

    def run(self) -> None:
        try:  # the kernel keeps 15 bytes of it
            with open(f"/proc/self/task/{threading.get_native_id()}/comm", "w") as comm:
                comm.write(self.name[:15])
        except OSError:
            pass  # not Linux, or no /proc: the name stays Python's alone
        super().run()


# --- writing in batches ---------------------------------------------------------

class _GroupCommit:
    """Writes what several threads submit at about the same time in one transaction.

    The first thread to arrive writes; whatever others submit meanwhile waits
    and goes into the next write together, so a burst of creations costs one
    commit (one fsync), not one each. Every caller returns after its own entry
    is committed, with its own answer (or the write's exception).
    """

    def __init__(self, write_batch: Callable[[list], list]):
        self._write_batch = write_batch
        self._lock = threading.Lock()
        self._pending: list = []
        self._writing = False

    def submit(self, entry):
        slot = {"entry": entry, "done": threading.Event()}
        with self._lock:
            self._pending.append(slot)
            leader, self._writing = not self._writing, True
        if leader:
            self._write_while_pending()
        slot["done"].wait()
        if "error" in slot:
            raise slot["error"]
        return slot["answer"]

    def _write_while_pending(self) -> None:
        while True:
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._writing = False
                    return
            try:
                answers = self._write_batch([slot["entry"] for slot in batch])
                for slot, answer in zip(batch, answers):
                    slot["answer"] = answer
            except Exception as exc:
                for slot in batch:
                    slot["error"] = exc
            for slot in batch:
                slot["done"].set()


#: Results the database cannot take now (away, locked past its busy timeout, its
#: disk full) are written again after these waits (seconds: the first, the longest,
#: doubling): a run left "running" would be nobody's to settle while its process lives.
WRITE_AGAIN = (0.1, 2.0)


class _WriteBehind:
    """A thread that writes what is put to it in batches: whatever arrives while
    one transaction commits goes into the next, so a thousand results a second
    cost a few dozen commits, and the thread that puts one need not wait."""

    _FLUSH = object()

    def __init__(self, write_batch: Callable[[list], list], name: str, spacing: float = 0.0,
                 retry: Tuple[float, float] = (0.0, 0.0)):
        self._write_batch = write_batch
        self._spacing = spacing   # seconds from one write to the next, at least
        #: Waits (first, longest) before writing a batch again that failed with
        #: StoreUnavailable (the database is away); (0, 0): not again.
        self._retry = retry
        self._closing = threading.Event()
        self._queue: "queue.SimpleQueue" = queue.SimpleQueue()
        self._thread = KalaThread(self._write, name)
        self._start_lock = threading.Lock()

    def put(self, entry, then: Callable[[object], None]) -> None:
        """Write ``entry`` soon; ``then(answer)`` (the write's exception instead of
        an answer if it failed) is called in the writer's thread once committed."""
        with self._start_lock:
            if self._thread.ident is None:
                self._thread.start()
            elif not self._thread.is_alive():
                raise KalaError("the store is closed: nothing writes results any more")
        self._queue.put((entry, then))

    def submit(self, entry):
        """Write ``entry`` and return its answer once committed."""
        done, answers = threading.Event(), []
        self.put(entry, lambda answer: (answers.append(answer), done.set()))
        done.wait()
        if isinstance(answers[0], Exception):
            raise answers[0]
        return answers[0]

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Return once everything put so far is written (or given up: closing), or
        after ``timeout`` seconds; False if the timeout came first."""
        if not self._thread.is_alive():
            return True
        done = threading.Event()
        self.put(self._FLUSH, lambda answer: done.set())
        return done.wait(timeout)

    def close(self) -> None:
        self._closing.set()   # a batch the database refuses now is given up
        self.flush()
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _write_persistently(self, entries: list) -> Iterable:
        """The batch's answers; the write's exception for each when it failed (after
        retrying while the database was away, unless closing)."""
        wait = self._retry[0]
        while True:
            try:
                return self._write_batch(entries)
            except StoreUnavailable as exc:
                if not wait or self._closing.is_set():
                    return itertools.repeat(exc)
                log.warning("%d result(s) wait for the database: %s; writing them again in "
                            "%.1f s", len(entries), exc, wait)
                self._closing.wait(wait)
                wait = min(wait * 2, self._retry[1])
            except Exception as exc:
                return itertools.repeat(exc)

    def _write(self) -> None:
        last_write, streaming = -math.inf, False
        for first in iter(self._queue.get, None):
            # Spaced only while results stream in (the last batch held several): a
            # lone result (a run started through the API, waiting) commits at once.
            pause = last_write + self._spacing - time.monotonic()
            if pause > 0 and streaming:
                time.sleep(pause)
            last_write = time.monotonic()
            batch = [first]
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            entries = [entry for entry, _ in batch if entry is not self._FLUSH]
            streaming = len(entries) > 1
            answers = iter(self._write_persistently(entries) if entries else ())
            for entry, then in batch:
                try:
                    then(None if entry is self._FLUSH else next(answers))
                except Exception:  # the writer must outlive any one caller
                    log.exception("after writing %r", entry)


# --- the core every database shares: jobs, claims, history, nodes -------------------

class _JobRecords:
    """The store's jobs, their dependencies and their timers (part of Store)."""

    def create_job(self, job: Job) -> None:
        """Store a validated job; unknown parents or failure job: InvalidInput, nothing kept.
        Returns once the job is committed; jobs created together share one commit."""
        timing = job.timing()
        if timing is not None:
            job.cursor = timing.first_index(job.created_at)
        job.next_run_at = (timing.occurrence(job.cursor)
                           if timing is not None and timing.has_index(job.cursor) else None)
        refused = self._creations.submit(job)
        if refused is not None:
            raise refused

    def _write_creations(self, jobs: List[Job]) -> List[Optional[InvalidInput]]:
        with self._transaction() as db:
            version = self._bump_version(db)
            self._announce(db)
            return [self._insert_job(db, job, version) for job in jobs]

    def _insert_job(self, db, job: Job, version: int) -> Optional[InvalidInput]:
        for parent in job.parent_jobs:
            if not self._exists(db, parent):
                return InvalidInput(f"parent job {parent!r} does not exist")
        if job.on_failure_job and not self._exists(db, job.on_failure_job):
            return InvalidInput(f"on_failure_job {job.on_failure_job!r} does not exist")
        spec = json.dumps(job.spec())
        db.execute('INSERT INTO jobs (id, spec, disabled, "cursor", next_run_at, version, name, '
                   "owner, command, shown, shown_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (job.id, spec, job.disabled, job.cursor, job.next_run_at, version, job.name,
                    job.owner, job.command, job_shown(job), spec_digest(spec)))
        if job.parent_jobs:
            db.executemany("INSERT INTO dependencies (parent_id, child_id) VALUES (?, ?)",
                           [(parent, job.id) for parent in job.parent_jobs])
        return None

    @staticmethod
    def _exists(db, job_id: str) -> bool:
        return db.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is not None

    def _load(self, db, job_id: str) -> Optional[Job]:
        return self._load_many(db, [job_id]).get(job_id)

    def _load_many(self, db, job_ids: List[str]) -> Dict[str, Job]:
        return {job_id: stored.job()
                for job_id, stored in self._stored_many(db, job_ids, _JOB_COLUMNS).items()}

    def _stored_many(self, db, job_ids: List[str],
                     columns: str = _SHOWN_COLUMNS) -> Dict[str, StoredJob]:
        """The jobs of ``job_ids`` that exist, with their parents and children, each
        read in one statement (consistent without a transaction); job ids hold no
        comma, so one joins them."""
        jobs = {}
        for first in range(0, len(job_ids), 500):  # old SQLite takes 999 parameters at most
            chunk = job_ids[first:first + 500]
            rows = db.execute(
                f"SELECT {columns}, {self._joined_ids('parent_id', 'child_id')} AS "
                f"parents, {self._joined_ids('child_id', 'parent_id')} AS children FROM jobs "
                f"WHERE id IN ({', '.join('?' * len(chunk))})", chunk).fetchall()
            for row in rows:
                jobs[row["id"]] = StoredJob(
                    row, row["parents"].split(",") if row["parents"] else (),
                    row["children"].split(",") if row["children"] else ())
        return jobs

    def get_job(self, job_id: str) -> Job:
        with self._reading() as db:
            job = self._load(db, job_id)
        if job is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return job

    def stored_job(self, job_id: str) -> StoredJob:
        with self._reading() as db:
            stored = self._stored_many(db, [job_id]).get(job_id)
        if stored is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return stored

    def list_jobs(self, limit: Optional[int] = None, offset: int = 0,
                  query: Optional[JobQuery] = None) -> List[Job]:
        """Jobs in the order they were created (or ``query``'s: its words, state and
        sort); ``limit`` and ``offset`` page through them."""
        return [stored.job() for stored in self.stored_jobs(limit, offset, query)]

    def each_stored_job(self, batch: int = 1000) -> Iterator[StoredJob]:
        """Every job as read for its JSON, in the order they were created, ``batch``
        a read: all at once, the rows of 100,000 jobs were 150 MB, most of which the
        process kept. Each batch is read whole; a job created or deleted between two
        may be in the list or not, but none is in it twice."""
        order = self._CREATION_ORDER
        after = -(2 ** 62)
        while True:
            with self._reading() as db:
                rows = db.execute(
                    f"SELECT {_SHOWN_COLUMNS}, {self._joined_ids('parent_id', 'child_id')} "
                    f"AS parents, {self._joined_ids('child_id', 'parent_id')} AS children, "
                    f"{order} AS list_key FROM jobs WHERE {order} > ? ORDER BY {order} "
                    "LIMIT ?", (after, batch)).fetchall()
            for row in rows:
                yield StoredJob(row, row["parents"].split(",") if row["parents"] else (),
                                row["children"].split(",") if row["children"] else ())
            if len(rows) < batch:
                return
            after = rows[-1]["list_key"]

    def stored_jobs(self, limit: Optional[int] = None, offset: int = 0,
                    query: Optional[JobQuery] = None) -> List[StoredJob]:
        """list_jobs's jobs as read: for their JSON."""
        if query is None:
            with self._snapshot() as db:
                rows = db.execute(f"SELECT {_SHOWN_COLUMNS} FROM jobs ORDER BY "
                                  f"{self._CREATION_ORDER} LIMIT ? OFFSET ?",
                                  (self._NO_LIMIT if limit is None else limit,
                                   offset)).fetchall()
                edges = db.execute(
                    "SELECT parent_id, child_id FROM dependencies ORDER BY seq").fetchall()
            parents: Dict[str, List[str]] = {}
            children: Dict[str, List[str]] = {}
            for parent, child in edges:
                parents.setdefault(child, []).append(parent)
                children.setdefault(parent, []).append(child)
            return [StoredJob(row, parents.get(row["id"], ()), children.get(row["id"], ()))
                    for row in rows]
        where, params = self._job_filter(query)
        key = JOB_SORTS.get(query.sort.lstrip("-")) or self._CREATION_ORDER
        order = f"({key} IS NULL), {key}{' DESC' if query.sort.startswith('-') else ''}"
        with self._reading() as db:
            # The page's ids first: the rest is read for those alone, not for every
            # job the sort goes through.
            ids = [row[0] for row in db.execute(
                f"SELECT id FROM jobs {where} ORDER BY {order}, {self._CREATION_ORDER} "
                "LIMIT ? OFFSET ?",
                (*params, self._NO_LIMIT if limit is None else limit, offset)).fetchall()]
            stored = self._stored_many(db, ids)
        return [stored[job_id] for job_id in ids if job_id in stored]

    @staticmethod
    def _job_filter(query: JobQuery) -> Tuple[str, tuple]:
        """The WHERE clause of ``query``'s words (in the name, owner or command, any
        case) and state."""
        conditions, params = [], []
        if query.text:
            pattern = "%" + re.sub(r"([!%_])", r"!\1", query.text.lower()) + "%"
            conditions.append("(lower(name) LIKE ? ESCAPE '!' OR lower(owner) LIKE ? "
                              "ESCAPE '!' OR lower(command) LIKE ? ESCAPE '!')")
            params += [pattern] * 3
        if query.state:
            conditions.append(JOB_STATES[query.state])
        return (("WHERE " + " AND ".join(conditions)) if conditions else ""), tuple(params)

    def jobs_due_by(self, until: float, limit: int) -> List[Job]:
        """The enabled jobs whose next occurrence comes by ``until``, soonest first."""
        with self._reading() as db:
            rows = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE disabled = 0 AND "
                              "is_done = 0 AND next_run_at <= ? ORDER BY next_run_at LIMIT ?",
                              (until, limit)).fetchall()
        return [StoredJob(row).job() for row in rows]

    def failed_run(self, run_id: int) -> Tuple[str, str, str]:
        """(job id, job name, error) of a finished run, for the failure job it
        triggered; empty strings for what is gone (the job deleted since)."""
        with self._reading() as db:
            row = db.execute("SELECT job_id, error FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                return "", "", ""
            job = self._load(db, row[0])
        return row[0], job.name if job else "", row[1]

    def dependent_jobs(self, job_id: str) -> List[str]:
        with self._reading() as db:
            return [r[0] for r in db.execute(
                "SELECT child_id FROM dependencies WHERE parent_id = ? ORDER BY seq", (job_id,))]

    def delete_job(self, job_id: str, now: float) -> List[str]:
        """Delete a job, its stats, and each child left without a parent; return their ids."""
        with self._transaction() as db:
            if not self._exists(db, job_id):
                raise JobNotFound(f"no job with id {job_id!r}")
            deleted, pending = [], [job_id]
            while pending:
                current = pending.pop(0)
                children = [r[0] for r in db.execute(
                    "SELECT child_id FROM dependencies WHERE parent_id = ? ORDER BY seq",
                    (current,))]
                db.execute("DELETE FROM dependencies WHERE parent_id = ? OR child_id = ?",
                           (current, current))
                db.execute("DELETE FROM jobs WHERE id = ?", (current,))
                db.execute("DELETE FROM runs WHERE job_id = ?", (current,))
                deleted.append(current)
                pending.extend(child for child in children if not db.execute(
                    "SELECT 1 FROM dependencies WHERE child_id = ?", (child,)).fetchone())
            self._remember_deletions(db, deleted, now)
        return deleted

    def delete_all(self, now: float) -> None:
        with self._transaction() as db:
            self._remember_deletions(db, [r[0] for r in db.execute("SELECT id FROM jobs")], now)
            for table in ("dependencies", "runs", "jobs"):
                db.execute(f"DELETE FROM {table}")  # table names are constants

    def _remember_deletions(self, db, job_ids: List[str], now: float) -> None:
        version = self._bump_version(db)
        self._announce(db)
        db.execute("DELETE FROM deleted_jobs WHERE deleted_at < ?", (now - DELETION_MEMORY,))
        db.executemany("INSERT INTO deleted_jobs (id, version, deleted_at) VALUES (?, ?, ?)",
                       [(job_id, version, now) for job_id in job_ids])

    def set_disabled(self, job_id: str, disabled: bool, now: float) -> Job:
        """Disable, or enable from the next occurrence after ``now`` (missed ones dropped)."""
        with self._transaction() as db:
            job = self._load(db, job_id)
            if job is None:
                raise JobNotFound(f"no job with id {job_id!r}")
            if job.disabled == disabled:
                return job
            job.disabled = disabled
            if not disabled:
                job.cursor, job.next_run_at = resume_cursor(job, now)
                job.is_done = job.is_done or (bool(job.schedule) and job.next_run_at is None)
            db.execute('UPDATE jobs SET disabled = ?, "cursor" = ?, next_run_at = ?, '
                       "is_done = ?, version = ? WHERE id = ?",
                       (disabled, job.cursor, job.next_run_at, job.is_done,
                        self._bump_version(db), job_id))
            self._announce(db)
            return job

    def replace_job(self, job_id: str, job: Job, now: float, *, keep_disabled: bool,
                    keep_parents: bool) -> Job:
        """Replace a job's definition (an edit), keeping its id, counters, history
        and place among its parents and children. A changed schedule takes effect
        from its first occurrence at or after ``now``; nothing missed is caught up."""
        with self._transaction() as db:
            old = self._load(db, job_id)
            if old is None:
                raise JobNotFound(f"no job with id {job_id!r}")
            if not keep_parents and job.parent_jobs != old.parent_jobs:
                raise InvalidInput(f"an edit keeps the job's parent_jobs ({old.parent_jobs}); "
                                   f"to move it in a chain, create a new job")
            if job.on_failure_job and not self._exists(db, job.on_failure_job):
                raise InvalidInput(f"on_failure_job {job.on_failure_job!r} does not exist")
            for field in dataclasses.fields(Job):  # the state it keeps
                if field.name not in (*Job.SPEC_FIELDS, "remote", "disabled"):
                    setattr(job, field.name, getattr(old, field.name))
            job.id, job.created_at, job.revision = job_id, old.created_at, old.revision + 1
            if keep_disabled:
                job.disabled = old.disabled
            timing = job.timing()
            if (job.schedule, job.timezone, job.trigger_only) != (
                    old.schedule, old.timezone, old.trigger_only):
                if timing is None or not job.schedule:  # nothing more runs by itself
                    job.cursor, job.next_run_at, job.is_done = 0, None, timing is not None
                else:
                    job.cursor = timing.first_index_at_or_after(now)
                    job.next_run_at = (timing.occurrence(job.cursor)
                                       if timing.has_index(job.cursor) else None)
                    job.is_done = job.next_run_at is None
            spec = json.dumps(job.spec())
            db.execute('UPDATE jobs SET spec = ?, disabled = ?, "cursor" = ?, next_run_at = ?, '
                       "is_done = ?, version = ?, name = ?, owner = ?, command = ?, shown = ?, "
                       "shown_of = ? WHERE id = ?",
                       (spec, job.disabled, job.cursor, job.next_run_at, job.is_done,
                        self._bump_version(db), job.name, job.owner, job.command,
                        job_shown(job), spec_digest(spec), job_id))
            self._announce(db)
            return job

    def timer_changes(self, since: int) -> Tuple[int, List[Timer]]:
        """Jobs whose timer changed (or that were deleted) after version ``since``:
        (latest version, their timers)."""
        with self._snapshot() as db:
            rows = db.execute(
                'SELECT id, next_run_at, "cursor", disabled, is_done, version FROM jobs '
                "WHERE version > ? ORDER BY version", (since,)).fetchall()
            deleted = db.execute("SELECT id FROM deleted_jobs WHERE version > ?",
                                 (since,)).fetchall()
            latest = db.execute(
                "SELECT value FROM counters WHERE name = 'timer_version'").fetchone()[0]
        return latest, [Timer(r["id"], None if r["disabled"] or r["is_done"] else r["next_run_at"],
                              r["cursor"]) for r in rows] + [Timer(r["id"], None, 0)
                                                             for r in deleted]

    def timers_due(self, before: float) -> Tuple[int, List[Timer]]:
        """The timers of the jobs due before ``before`` (enabled, not done), with the
        version they are as of."""
        with self._snapshot() as db:
            latest = db.execute(
                "SELECT value FROM counters WHERE name = 'timer_version'").fetchone()[0]
            rows = db.execute('SELECT id, next_run_at, "cursor" FROM jobs WHERE disabled = 0 '
                              "AND is_done = 0 AND next_run_at < ?", (before,)).fetchall()
        return latest, [Timer(*row) for row in rows]

    def _bump_version(self, db) -> int:
        """The next timer version: every process re-reads jobs changed after its last look."""
        db.execute("UPDATE counters SET value = value + 1 WHERE name = 'timer_version'")
        return db.execute("SELECT value FROM counters WHERE name = 'timer_version'").fetchone()[0]

    def _announce(self, db) -> None:
        """Tell the other processes at once that jobs changed (beside the version,
        which they poll); where the database cannot, they poll."""

    def wait_for_changes(self, timeout: float, stop: threading.Event) -> bool:
        """Wait ``timeout`` seconds, or less when another process announces a change
        (or ``stop`` is set); True when something was announced."""
        stop.wait(timeout)
        return False


class _ClaimRecords:
    """The claim protocol (part of Store): each occurrence, manual start, child run and
    failure job is claimed once, in a transaction that checks and moves the job's
    durable cursor or inserts a run under its unique key; only the run's owner can
    record its retries and its result."""

    def claim_occurrences(self, due: List[Tuple[str, int]], now: float, node: str,
                          late_grace: float, ahead: float = 0.0,
                          note_skipped: Callable[[str, str], None] = lambda reason, job: None,
                          ) -> Tuple[List[Claim], List[Timer]]:
        """Claim the occurrences of (job id, cursor) pairs due by ``now + ahead``
        in one transaction.

        The cursor is compared and advanced inside the transaction, so an
        occurrence is claimed at most once whoever else holds a stale timer. The
        fence is told of the claims before the commit. Returns the claims to
        execute and the timers to set; ``note_skipped(reason, job id)`` hears of
        each occurrence skipped.
        """
        claims, timers = [], []
        with self._transaction() as db:
            self._register(db, node, now)
            # Occurrences due before the processes running now have run without a
            # break came due while none was running: those were missed (the
            # catch-up rule). One that fell behind and died leaves them late instead.
            missed_before = db.execute("SELECT MIN(COALESCE(up_since, started_at)) "
                                       "FROM nodes").fetchone()[0]
            version = None  # one bump serves every job this transaction changes
            due = list(dict.fromkeys(due))
            jobs = self._load_many(db, [job_id for job_id, _ in due])
            going = self._runs_going(db, [job.id for job in jobs.values()
                                          if job.concurrency != "allow"])
            updates, runs, skipped = [], [], []   # written together, after the decisions
            for job_id, cursor in due:
                job = jobs.get(job_id)
                if job is None or job.disabled or job.is_done:
                    continue  # deleted or disabled since the timer was set
                if job.cursor != cursor:
                    # Claimed by another process first: follow the job's real timer.
                    if job.next_run_at is not None:
                        timers.append(Timer(job_id, job.next_run_at, job.cursor))
                    continue
                plan = plan_occurrence(job, now, late_grace, missed_before, ahead)
                if plan is None:
                    if job.next_run_at is not None:
                        timers.append(Timer(job_id, job.next_run_at, cursor))
                    continue
                ran = plan.run_index is not None
                key = ClaimKey.occurrence(job, plan.run_index)
                run = (job_id, key, "schedule", plan.scheduled_for, node, now)
                if ran and job.concurrency == "forbid" and job_id in going:
                    skipped.append((*run, going[job_id]))
                    ran = False
                version = version or self._bump_version(db)
                updates.append((plan.next_cursor, plan.next_run_at, plan.next_run_at is None, ran,
                                max(now, plan.scheduled_for), version, job_id, cursor))
                if ran:
                    runs.append(run)
                    claims.append(Claim(0, job, "schedule", plan.scheduled_for, key))
                elif plan.run_index is None:
                    note_skipped("missed", job_id)
                    log.info("job %s: skipped the occurrence due %s (missed)", job_id,
                             format_time(plan.scheduled_for))
                if plan.next_run_at is not None:
                    timers.append(Timer(job_id, plan.next_run_at, plan.next_cursor))
            self._advance_jobs(db, updates)
            for claim, run_id in zip(claims, self._insert_runs(db, runs)):
                claim.run_id = run_id
            self._insert_skipped(db, skipped)
            for run in skipped:
                note_skipped("concurrency", run[0])
            self._replace_going(db, [claim for claim in claims if claim.job.id in going])
            self.fence.claimed([claim.run_id for claim in claims])
        return claims, timers

    @staticmethod
    def _runs_going(db, job_ids: List[str]) -> Dict[str, int]:
        """The oldest run going of each of ``job_ids`` (on any process), by job."""
        if not job_ids:
            return {}
        marks = ", ".join("?" * len(job_ids))
        return {row[0]: row[1] for row in db.execute(
            f"SELECT job_id, MIN(id) FROM runs WHERE state = ? AND job_id IN ({marks}) "
            f"GROUP BY job_id", (_RUNNING, *job_ids)).fetchall()}

    @staticmethod
    def _insert_skipped(db, skipped: List[tuple]) -> None:
        """Record occurrences of concurrency forbid jobs skipped for a run going: (job id,
        key, trigger, scheduled for, node, now, the run going) each."""
        for job_id, key, trigger, scheduled_for, node, now, going in skipped:
            log.info("job %s: skipped the occurrence due %s: run %s is still running "
                     "(concurrency forbid)", job_id, format_time(scheduled_for), going)
            db.execute(
                'INSERT INTO runs (job_id, claim_key, "trigger", scheduled_for, node, state, '
                "ran_at, finished_at, output, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?)",
                (job_id, key, trigger, scheduled_for, node, _SKIPPED, now, now,
                 f"skipped: run {going} was still running (concurrency forbid)"))

    @staticmethod
    def _replace_going(db, claims: List[Claim]) -> None:
        """Ask for the end of the runs going of concurrency replace jobs that these new
        runs replace: the process running each stops it (``replaced_runs``)."""
        for claim in claims:
            db.execute("UPDATE runs SET replaced_by = ? WHERE job_id = ? AND state = ? "
                       "AND id < ? AND replaced_by IS NULL",
                       (claim.run_id, claim.job.id, _RUNNING, claim.run_id))

    def runs_held(self, node: str) -> int:
        """Runs ``node`` holds: going, claimed ahead, or waiting for a retry."""
        with self._reading() as db:
            return db.execute("SELECT COUNT(*) FROM runs WHERE node = ? AND state = ?",
                              (node, _RUNNING)).fetchone()[0]

    def runs_to_end(self, node: str) -> Dict[int, str]:
        """This process's runs that are to end, and why: a newer run replaces them
        (concurrency replace), or a stop was asked for."""
        with self._reading() as db:
            return {row[0]: (STOPPED_BY_REQUEST if row[2] is not None else
                             f"replaced by run {row[1]} (concurrency replace)")
                    for row in db.execute(
                        "SELECT id, replaced_by, stop_requested FROM runs WHERE node = ? AND "
                        "state = ? AND (replaced_by IS NOT NULL OR stop_requested IS NOT NULL)",
                        (node, _RUNNING)).fetchall()}

    def request_stop(self, job_id: str, now: float, run_id: Optional[int] = None) -> List[int]:
        """Ask for the end of a job's runs going (or of one of them), wherever they run:
        each process ends its own (``runs_to_end``). Returns the runs asked to stop."""
        with self._transaction() as db:
            if not self._exists(db, job_id):
                raise JobNotFound(f"no job with id {job_id!r}")
            chosen = "" if run_id is None else " AND id = ?"
            rows = [row[0] for row in db.execute(
                f"SELECT id FROM runs WHERE job_id = ? AND state = ?{chosen}",
                (job_id, _RUNNING, *([run_id] if run_id is not None else []))).fetchall()]
            if rows:
                db.execute(f"UPDATE runs SET stop_requested = ? WHERE id IN "
                           f"({', '.join('?' * len(rows))}) AND stop_requested IS NULL",
                           (now, *rows))
            return rows

    def write_outputs(self, outputs: List[Tuple[int, str, str]]) -> None:
        """The output so far of runs going: (run id, node, output) each, written while
        the run is still this node's (the API shows it, from any process)."""
        with self._transaction() as db:
            db.executemany("UPDATE runs SET output = ? WHERE id = ? AND node = ? AND state = ?",
                           [(output, run_id, node, _RUNNING) for run_id, node, output in outputs])

    def _advance_jobs(self, db, updates: List[tuple]) -> None:
        """Move claimed jobs on: (next cursor, next run at, is done, ran, attempted at,
        version, job id, cursor) each."""
        db.executemany(
            'UPDATE jobs SET "cursor" = ?, next_run_at = ?, is_done = ?, '
            "last_attempted_run = CASE WHEN ? = 1 THEN ? ELSE last_attempted_run END, "
            'version = ? WHERE id = ? AND "cursor" = ?',
            [(cursor, at, int(done), int(ran), *rest) for cursor, at, done, ran, *rest in updates])

    def _insert_runs(self, db, runs: List[tuple]) -> List[int]:
        """Insert running runs of (job id, key, trigger, scheduled for, node, claimed
        at); their ids."""
        return [db.execute(
            'INSERT INTO runs (job_id, claim_key, "trigger", scheduled_for, node, state, ran_at, '
            "output, error) VALUES (?, ?, ?, ?, ?, ?, ?, '', '')",
            (*run[:5], _RUNNING, run[5])).lastrowid for run in runs]

    def claim_run(self, job_id: str, key: str, trigger: str, node: str, now: float,
                  allow_disabled: bool = False,
                  note_skipped: Callable[[str, str], None] = lambda reason, job: None,
                  ) -> Optional[Claim]:
        """Claim a run outside the schedule (manual start, child, failure job) under ``key``.

        Returns None when ``key`` was already claimed or the job is disabled (unless
        ``allow_disabled``); JobNotFound for an unknown job.
        """
        with self._transaction() as db:
            job = self._load(db, job_id)
            if job is None:
                raise JobNotFound(f"no job with id {job_id!r}")
            if job.disabled and not allow_disabled:
                return None
            if db.execute("SELECT 1 FROM runs WHERE claim_key = ?", (key,)).fetchone():
                return None
            self._register(db, node, now)
            going = self._runs_going(db, [job_id] if job.concurrency != "allow" else [])
            if going and job.concurrency == "forbid":
                if trigger == "manual":
                    raise JobRunning(job_id, going[job_id])
                self._insert_skipped(db, [(job_id, key, trigger, now, node, now, going[job_id])])
                note_skipped("concurrency", job_id)
                return None
            [run_id] = self._insert_runs(db, [(job_id, key, trigger, now, node, now)])
            db.execute("UPDATE jobs SET last_attempted_run = ? WHERE id = ?", (now, job_id))
            claim = Claim(run_id, job, trigger, now, key)
            self._replace_going(db, [claim] if going else [])
            self.fence.claimed([run_id])
        return claim

    def wait_for_retry(self, claim: Claim, node: str, attempts_failed: int, now: float,
                       retry_at: float) -> bool:
        """Keep a run whose retry waits (retry_delay) as a claim due at ``retry_at``,
        which a process taking this one for dead takes over (its start mark is
        cleared); False when the claim was lost meanwhile."""
        with self._transaction() as db:
            self._register(db, node, now)
            return bool(db.execute(
                "UPDATE runs SET retries = ?, retry_at = ?, started_at = NULL "
                "WHERE id = ? AND node = ? AND state = ?",
                (attempts_failed, retry_at, claim.run_id, node, _RUNNING)).rowcount)

    def retry_starting(self, claim: Claim, node: str) -> bool:
        """A waiting retry is about to start here: from now on a process taking this
        one for dead fails it (as started) instead of running it; False when the
        claim was lost meanwhile. Said twice (a commit whose answer was lost), the
        same answer."""
        with self._transaction() as db:
            return bool(db.execute(
                "UPDATE runs SET retry_at = NULL WHERE id = ? AND node = ? AND state = ?",
                (claim.run_id, node, _RUNNING)).rowcount)

    def record_retry(self, claim: Claim, node: str, attempts_failed: int, now: float) -> bool:
        """Note a retry on the run, so a process taking over after a death knows the
        count; False when the claim was lost (this process was taken for dead). It
        heartbeats too: the retry starts right after, as a claim would."""
        with self._transaction() as db:
            self._register(db, node, now)
            return bool(db.execute(
                "UPDATE runs SET retries = ? WHERE id = ? AND node = ? AND state = ?",
                (attempts_failed, claim.run_id, node, _RUNNING)).rowcount)

    def finish_run(self, claim: Claim, node: str, result: RunResult) -> bool:
        """Record a run's result and count it; False when the claim was lost meanwhile.

        Sets ``result.followups_owed`` when children (after a success) or the
        failure job (after a failure) are to run; the run keeps that debt in the
        database until ``followups_done``. Returns once the result is committed;
        results finishing together share one commit, written again while the
        database cannot take it.
        """
        return self._results.submit((claim, node, result))

    def finish_run_later(self, claim: Claim, node: str, result: RunResult,
                         then: Callable[[Union[bool, Exception]], None]) -> None:
        """``finish_run`` without waiting: ``then(what finish_run returns, or the
        write's exception)`` is called from the writer thread once committed."""
        self._results.put((claim, node, result), then)

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Return once every result handed to ``finish_run_later`` is committed (False:
        ``timeout`` came first, the database being away)."""
        return self._results.flush(timeout)

    def _write_results(self, batch) -> List[bool]:
        with self._transaction() as db:
            return [self._write_result(db, *entry) for entry in batch]

    @staticmethod
    def _write_result(db, claim: Claim, node: str, result: RunResult) -> bool:
        if result.success:
            owed = db.execute("SELECT 1 FROM dependencies WHERE parent_id = ? LIMIT 1",
                              (claim.job.id,)).fetchone() is not None
        else:
            owed = bool(claim.job.on_failure_job)
        state = _SUCCEEDED if result.success else _FAILED
        updated = db.execute(
            "UPDATE runs SET state = ?, ran_at = ?, finished_at = ?, retries = ?, "
            "duration_ns = ?, output = ?, output_dropped = ?, error = ?, owed_by = ? "
            "WHERE id = ? AND node = ? AND state = ?",
            (state, result.ran_at, result.finished_at, result.retries, result.duration_ns,
             result.output, result.output_dropped, result.error, node if owed else None,
             claim.run_id, node, _RUNNING)).rowcount
        if not updated:
            # Written already, by a commit whose answer was lost (then retried)?
            again = db.execute("SELECT owed_by FROM runs WHERE id = ? AND node = ? AND state = ? "
                               "AND finished_at = ?",
                               (claim.run_id, node, state, result.finished_at)).fetchone()
            result.followups_owed = again is not None and again[0] is not None
            return again is not None
        result.followups_owed = owed
        db.execute(
            "UPDATE jobs SET success_count = success_count + ?, "
            "last_success = CASE WHEN ? = 1 THEN ? ELSE last_success END, "
            "error_count = error_count + ?, "
            "last_error = CASE WHEN ? = 1 THEN ? ELSE last_error END, "
            "finished_runs = finished_runs + 1 WHERE id = ?",
            (int(result.success), int(result.success), result.finished_at, result.failures,
             int(result.failures > 0), result.finished_at, claim.job.id))
        return True

    def confirm_claims(self, run_ids: List[int], node: str, now: float) -> List[int]:
        """Heartbeat, and return those of ``run_ids`` that ``node`` still owns, not
        settled (a process that was silent checks this before it starts them)."""
        with self._transaction() as db:
            self._register(db, node, now)
            marks = ",".join("?" * len(run_ids))
            return [row[0] for row in db.execute(
                f"SELECT id FROM runs WHERE id IN ({marks}) AND node = ? AND state = ?",
                (*run_ids, node, _RUNNING))]

    def followups_done(self, run_id: int, node: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE runs SET owed_by = NULL WHERE id = ? AND owed_by = ?",
                       (run_id, node))

    def unstarted_runs(self, node: str) -> List[Claim]:
        """The runs ``node`` has claimed and not marked started, as claims again: after
        a claim whose commit was uncertain (only where starts are marked in the row),
        the process runs what it did claim; one it also holds starts once (its mark
        says so)."""
        with self._reading() as db:
            rows = db.execute("SELECT * FROM runs WHERE node = ? AND state = ? "
                              "AND started_at IS NULL ORDER BY id", (node, _RUNNING)).fetchall()
            jobs = {row["job_id"]: self._load(db, row["job_id"]) for row in rows}
        return [Claim(row["id"], jobs[row["job_id"]], row["trigger"], row["scheduled_for"],
                      row["claim_key"], prior_attempts=row["retries"])
                for row in rows if jobs[row["job_id"]] is not None]


class _RunHistory:
    """Finished runs as stats, the figures over every job, pruning, and moving jobs
    between stores (part of Store)."""

    def job_stats(self, job_id: str, limit: Optional[int] = None,
                  offset: int = 0) -> List[RunStat]:
        """A job's finished runs, oldest first (Kala's order); paged with ``limit``
        (None: all) and ``offset``, newest first."""
        paged = limit is not None or offset > 0
        order = "id DESC" if paged else "id"  # a constant, not input
        with self._snapshot() as db:
            if not self._exists(db, job_id):
                raise JobNotFound(f"no job with id {job_id!r}")
            rows = db.execute(
                'SELECT job_id, ran_at, retries, state, duration_ns, scheduled_for, "trigger", '
                f"node, output, error, id, output_dropped FROM runs WHERE job_id = ? "
                f"AND state != ? ORDER BY {order} LIMIT ? OFFSET ?",
                (job_id, _RUNNING, self._NO_LIMIT if limit is None else limit,
                 offset)).fetchall()
        return [RunStat(r["job_id"], r["ran_at"], r["retries"], r["state"] == _SUCCEEDED,
                        r["duration_ns"], r["scheduled_for"], r["trigger"], r["node"],
                        r["output"], r["error"], r["id"], r["output_dropped"],
                        r["state"] == _SKIPPED) for r in rows]

    def count_jobs(self, query: Optional[JobQuery] = None) -> int:
        """How many jobs there are (that ``query`` finds)."""
        where, params = self._job_filter(query) if query else ("", ())
        with self._reading() as db:
            return db.execute(f"SELECT COUNT(*) FROM jobs {where}", params).fetchone()[0]

    def recent_runs(self, job_ids: List[str], count: int) -> Dict[str, List[RunStat]]:
        """The newest ``count`` finished runs of each of ``job_ids``, oldest first, in
        one statement (the run strips of the web page's list)."""
        runs: Dict[str, List[RunStat]] = {job_id: [] for job_id in job_ids}
        if not job_ids or count <= 0:
            return runs
        with self._reading() as db:
            rows = db.execute(
                'SELECT job_id, ran_at, retries, state, duration_ns, scheduled_for, "trigger", '
                "node, error, id, output_dropped FROM (SELECT *, ROW_NUMBER() OVER "
                "(PARTITION BY job_id ORDER BY id DESC) AS newest FROM runs WHERE job_id IN "
                f"({', '.join('?' * len(job_ids))}) AND state != ?) AS recent "
                "WHERE newest <= ? ORDER BY id", (*job_ids, _RUNNING, count)).fetchall()
        for r in rows:
            runs[r["job_id"]].append(RunStat(
                r["job_id"], r["ran_at"], r["retries"], r["state"] == _SUCCEEDED,
                r["duration_ns"], r["scheduled_for"], r["trigger"], r["node"], "",
                r["error"][:200], r["id"], r["output_dropped"], r["state"] == _SKIPPED))
        return runs

    def running_runs(self, job_id: str) -> List[dict]:
        """The runs of a job going now, on any process, with the output they wrote so
        far (as their processes last wrote it: about every second)."""
        with self._reading() as db:
            if not self._exists(db, job_id):
                raise JobNotFound(f"no job with id {job_id!r}")
            rows = db.execute(
                'SELECT id, node, "trigger", scheduled_for, ran_at, retries, retry_at, output, '
                "stop_requested FROM runs WHERE job_id = ? AND state = ? ORDER BY id",
                (job_id, _RUNNING)).fetchall()
        return [{"run_id": r["id"], "node": r["node"], "trigger": r["trigger"],
                 "scheduled_for": r["scheduled_for"], "claimed_at": r["ran_at"],
                 "attempts_failed": r["retries"], "retry_at": r["retry_at"],
                 "output": r["output"], "stop_requested": r["stop_requested"] is not None}
                for r in rows]

    def app_counts(self) -> AppCounts:
        with self._snapshot() as db:
            row = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(disabled), 0), COALESCE(SUM(error_count), 0), "
                "COALESCE(SUM(success_count), 0), "
                "MIN(CASE WHEN disabled = 0 AND is_done = 0 THEN next_run_at END), "
                "MAX(last_attempted_run) FROM jobs").fetchone()
            nodes = db.execute(
                "SELECT id, heartbeat, (SELECT COUNT(*) FROM runs WHERE runs.node = nodes.id "
                "AND runs.state = ?), deaths FROM nodes ORDER BY started_at",
                (_RUNNING,)).fetchall()
        jobs, disabled, errors, successes = (int(value) for value in row[:4])
        return AppCounts(jobs=jobs, disabled=disabled, active=jobs - disabled, errors=errors,
                         successes=successes, next_run_at=row[4], last_attempted_run=row[5],
                         nodes=[tuple(n) for n in nodes])

    def export(self, with_runs: bool = False) -> dict:
        """Every job (and with ``with_runs`` its finished runs) as ``kala.py export``
        writes them, read in one consistent snapshot."""
        with self._snapshot() as db:
            rows = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY "
                              f"{self._CREATION_ORDER}").fetchall()
            edges = db.execute(
                "SELECT parent_id, child_id FROM dependencies ORDER BY seq").fetchall()
            runs = db.execute(f"SELECT job_id, {', '.join(map(_column, _EXPORTED_RUN))} "
                              f"FROM runs WHERE state != ? ORDER BY id",
                              (_RUNNING,)).fetchall() if with_runs else []
        parents: Dict[str, List[str]] = {}
        for parent, child in edges:
            parents.setdefault(child, []).append(parent)
        history: Dict[str, List[dict]] = {}
        for run in runs:
            history.setdefault(run["job_id"], []).append(
                {name: run[name] for name in _EXPORTED_RUN})
        jobs = []
        for row in rows:
            entry = job_to_export(StoredJob(row, parents.get(row["id"], ())).job())
            if with_runs:
                entry["runs"] = history.get(row["id"], [])
            jobs.append(entry)
        return {"format": EXPORT_FORMAT, "jobs": jobs}

    def import_jobs(self, imported: ImportedJobs, replace: bool = False) -> None:
        """Load exported jobs in one transaction, keeping their ids, schedule positions,
        counters and dependencies (a child is listed after its parents, in their order).
        Jobs whose ids exist already: InvalidInput and nothing changed, unless
        ``replace`` (the existing ones, with their history, are replaced)."""
        with self._transaction() as db:
            ids = [job.id for job in imported.jobs]
            clashes = [row[0] for start in range(0, len(ids), 500) for row in db.execute(
                f"SELECT id FROM jobs WHERE id IN ({', '.join('?' * len(ids[start:start + 500]))})",
                ids[start:start + 500]).fetchall()]
            if clashes and not replace:
                raise InvalidInput(f"{len(clashes)} job(s) exist already, e.g. {clashes[0]}; "
                                   f"nothing was imported (--replace replaces them)")
            for job_id in clashes:
                db.execute("DELETE FROM dependencies WHERE child_id = ?", (job_id,))
                db.execute("DELETE FROM runs WHERE job_id = ?", (job_id,))
                db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            version = self._bump_version(db)
            jobs = imported.jobs  # parents first: each child's edges in its parents' order
            specs = [json.dumps(job.spec()) for job in jobs]
            db.executemany(
                f"INSERT INTO jobs ({_SHOWN_COLUMNS}, version, name, owner, command) "
                f"VALUES ({', '.join('?' * (len(_JOB_STATE) + 8))})",
                [(job.id, spec, *[getattr(job, name) for name in _JOB_STATE], job_shown(job),
                  spec_digest(spec), version, job.name, job.owner, job.command)
                 for job, spec in zip(jobs, specs)])
            db.executemany("INSERT INTO dependencies (parent_id, child_id) VALUES (?, ?)",
                           [(parent, job.id) for job in jobs for parent in job.parent_jobs])
            db.executemany(
                f"INSERT INTO runs (job_id, claim_key, {', '.join(map(_column, _EXPORTED_RUN))}) "
                f"VALUES ({', '.join('?' * (len(_EXPORTED_RUN) + 2))})",
                [(job.id, ClaimKey.imported(), *[run[name] for name in _EXPORTED_RUN])
                 for job in jobs for run in imported.runs.get(job.id, [])])
            self._announce(db)

    def prune_stats(self, finished_before: float) -> int:
        with self._transaction() as db:
            return db.execute("DELETE FROM runs WHERE state != ? AND finished_at < ?",
                              (_RUNNING, finished_before)).rowcount

    def prune_history(self, job_id: str, keep: int) -> int:
        """Delete a job's finished runs but the newest ``keep`` (and those whose
        follow-ups are still owed); its counters stay."""
        with self._transaction() as db:
            newest_dropped = db.execute(
                "SELECT id FROM runs WHERE job_id = ? AND state != ? ORDER BY id DESC "
                "LIMIT 1 OFFSET ?", (job_id, _RUNNING, keep)).fetchone()
            if newest_dropped is None:
                return 0
            return db.execute(
                "DELETE FROM runs WHERE job_id = ? AND state != ? AND owed_by IS NULL "
                "AND id <= ?", (job_id, _RUNNING, newest_dropped[0])).rowcount

    def checkpoint(self) -> None:
        """Maintenance the database does not do by itself (SQLite's WAL checkpoints)."""


class _NodeRecords:
    """The serve processes sharing the store (part of Store): each registers and
    heartbeats; one taken for dead has its runs settled by whoever found it: the
    claims it never started taken over, the others failed as ``node died`` (and
    retried if they may be), the follow-ups it owed taken on."""

    def _register(self, db, node: str, now: float) -> None:
        # Also in every claim: a process reaped while paused (SIGSTOP) comes back
        # as alive before it claims anything new, with the time it started (it was
        # running all along: no downtime for the catch-up rule). Writers take
        # turns, so an update that finds no row can insert it. The beat is stamped
        # now that this transaction has the writers' turn.
        beat = max(now, self._heartbeat_clock()) if self._heartbeat_clock else now
        if not db.execute("UPDATE nodes SET heartbeat = ? WHERE id = ?", (beat, node)).rowcount:
            db.execute("INSERT INTO nodes (id, started_at, heartbeat) VALUES (?, ?, ?)",
                       (node, self._joined_at.get(node, now), beat))

    def join(self, node: str, now: float) -> Takeover:
        """Register ``node``; what a dead earlier process left under the same id is
        taken over as ``reap_nodes`` does."""
        self._joined_at[node] = now
        with self._transaction() as db:
            # An earlier process under this id ended: this one starts afresh (the
            # time between them was downtime, unless others ran).
            db.execute("DELETE FROM nodes WHERE id = ?", (node,))
            self._register(db, node, now)
            takeover = self._fail_runs(db, {node: "an earlier process under its id ended"},
                                       now, node, quiet=True)
        self.fence.settled([node])
        return takeover

    def leave(self, node: str, now: float) -> None:
        with self._transaction() as db:
            self._hand_on_uptime(db, {node: now})
            db.execute("DELETE FROM nodes WHERE id = ?", (node,))

    @staticmethod
    def _hand_on_uptime(db, leaving: Dict[str, float]) -> None:
        """Processes that started while one ``leaving`` (id: when it was last known
        alive) still ran have run without a break since it had: for the catch-up
        rule, what came due meanwhile is late, not missed (a backlog the dead one
        left is run, not skipped). One that started after it had gone counts its
        own start."""
        if not leaving:
            return
        marks = ", ".join("?" * len(leaving))
        for node, since in db.execute(
                f"SELECT id, COALESCE(up_since, started_at) FROM nodes WHERE id IN ({marks})",
                list(leaving)).fetchall():
            db.execute(f"UPDATE nodes SET up_since = ? WHERE started_at <= ? AND "
                       f"COALESCE(up_since, started_at) > ? AND id NOT IN ({marks})",
                       (since, leaving[node], since, *leaving))

    def nodes(self) -> List[Tuple[str, float]]:
        """(node id, last heartbeat) of every registered process, oldest first."""
        with self._reading() as db:
            return [tuple(row) for row in db.execute(
                "SELECT id, heartbeat FROM nodes ORDER BY started_at, id")]

    def reap_nodes(self, dead: List[str], now: float, lease: float, reaper: str) -> Takeover:
        """Settle the runs of dead processes; claim a retry for those with retries left.

        ``dead`` are processes the fence knows dead (their lock is free); any process
        whose heartbeat is older than ``lease`` counts as dead too (it hangs), as do
        runs of processes that are not registered at all. A dead process cannot
        finish its runs any more: every write of a run checks its owner and state.
        A run the fence says never started is taken over as it is, not failed.
        Returns the Takeover; the reaper also heartbeats here.
        """
        with self._transaction() as db:
            # A reaper that was itself silent for a lease (every writer waited for
            # one stopped while holding the write lock: none of them could beat)
            # measures the others' silence up to its own last heartbeat.
            previous = db.execute("SELECT heartbeat FROM nodes WHERE id = ?",
                                  (reaper,)).fetchone()
            heard_until = previous[0] if previous and now - previous[0] > lease else now
            dead = self._still_dead(db, dead, now)
            self._register(db, reaper, now)
            stale = [(row[0], row[1]) for row in db.execute(
                "SELECT id, heartbeat FROM nodes WHERE heartbeat < ? AND id != ?",
                (heard_until - lease, reaper))] if math.isfinite(lease) else []
            gone = [row[0] for row in db.execute(
                "SELECT DISTINCT node FROM runs WHERE state = ? AND node NOT IN "
                "(SELECT id FROM nodes)", (_RUNNING,))]
            victims = {node: "its runs are running without it" for node in gone}
            victims.update((node, f"its heartbeat is {now - beat:.1f} s old, over its lease "
                                  f"of {lease:g} s") for node, beat in stale)
            victims.update((node, "its lock was freed") for node in dead)
            if not victims:
                return Takeover([], [], [])
            self._hand_on_uptime(db, dict(db.execute(
                f"SELECT id, heartbeat FROM nodes WHERE id IN ({', '.join('?' * len(victims))})",
                sorted(victims)).fetchall()))
            db.executemany("DELETE FROM nodes WHERE id = ?", [(n,) for n in sorted(victims)])
            db.execute("UPDATE nodes SET deaths = deaths + ? WHERE id = ?", (len(victims), reaper))
            takeover = self._fail_runs(db, victims, now, reaper)
        self.fence.settled(sorted(victims))
        return takeover

    def _still_dead(self, db, nodes: List[str], now: float) -> List[str]:
        """Of the processes the fence found dead before this transaction, those it
        still takes for dead in it: a free lock file is a death."""
        return nodes

    def _fail_runs(self, db, victims: Dict[str, str], now: float, reaper: str,
                   quiet: bool = False) -> Takeover:
        """Settle the runs of the processes in ``victims`` (node -> how it was found
        dead); ``quiet``: report no death that left nothing behind."""
        failed, retries = [], []
        nodes = sorted(victims)
        marks = ",".join("?" * len(nodes))
        chains = self._take_over_followups(db, nodes, marks, reaper)
        counts = {node: collections.Counter() for node in nodes}
        for _, _, owner in chains:
            counts[owner]["followups"] += 1
        orphans = db.execute(
            f"SELECT * FROM runs WHERE state = ? AND node IN ({marks}) ORDER BY id"
            f"{self._LOCK_ROWS}", (_RUNNING, *nodes)).fetchall()
        # Their jobs read once: a process that died behind left thousands of runs, and
        # each read is a round trip inside the writers' turn on a database server.
        jobs = self._load_many(db, sorted({run["job_id"] for run in orphans}))
        for run in orphans:
            count = counts[run["node"]]
            job = jobs.get(run["job_id"])
            waiting = run["retry_at"] is not None  # a retry waiting: it has not started
            plan = plan_orphan(job, run["scheduled_for"], run["retries"],
                               waiting or self.fence.never_started(run), now)
            if plan.take_over:
                count["taken_over"] += 1
                db.execute("UPDATE runs SET node = ? WHERE id = ?", (reaper, run["id"]))
                retries.append(Claim(run["id"], job, run["trigger"], run["scheduled_for"],
                                     run["claim_key"], prior_attempts=run["retries"],
                                     retry_at=run["retry_at"],
                                     first_ran_at=run["ran_at"] if waiting else None,
                                     uncounted_failures=run["retries"] if waiting else 0))
                continue
            db.execute("UPDATE runs SET state = ?, finished_at = ?, error = ? WHERE id = ?",
                       (_FAILED, now, NODE_DIED, run["id"]))
            db.execute("UPDATE jobs SET error_count = error_count + 1, last_error = ?, "
                       "finished_runs = finished_runs + 1 WHERE id = ?", (now, run["job_id"]))
            failed.append((run["id"], run["job_id"]))
            count["failed"] += 1
            if job is None or not (plan.retry or plan.failure_job_owed):
                continue
            job = self._load(db, job.id)  # with its counters as they are now (templates)
            if plan.retry:
                attempts = run["retries"] + 1  # the one in flight died with its process
                key = ClaimKey.retry(run["claim_key"], attempts)
                [run_id] = self._insert_runs(db, [(job.id, key, run["trigger"],
                                                   run["scheduled_for"], reaper, now)])
                db.execute("UPDATE runs SET retries = ? WHERE id = ?", (attempts, run_id))
                retries.append(Claim(run_id, job, run["trigger"], run["scheduled_for"], key,
                                     prior_attempts=attempts))
                count["retried"] += 1
            elif plan.failure_job_owed:
                db.execute("UPDATE runs SET owed_by = ? WHERE id = ?", (reaper, run["id"]))
                chains.append((Claim(run["id"], job, run["trigger"], run["scheduled_for"],
                                     run["claim_key"]), False, run["node"]))
                count["followups"] += 1
        self.fence.claimed([claim.run_id for claim in retries])
        deaths = [NodeDeath(node, victims[node], **counts[node]) for node in nodes
                  if counts[node] or not quiet]
        return Takeover(failed, retries, [(claim, success) for claim, success, _ in chains],
                        deaths)

    def _take_over_followups(self, db, nodes, marks, reaper):
        # Latest run first: a child's own children come before its next sibling.
        owing = db.execute(
            'SELECT id, job_id, state, claim_key, "trigger", scheduled_for, owed_by FROM runs '
            f"WHERE owed_by IN ({marks}) ORDER BY id DESC", nodes).fetchall()
        chains = []
        jobs = self._load_many(db, sorted({run["job_id"] for run in owing}))
        for run in owing:
            job = jobs.get(run["job_id"])
            db.execute("UPDATE runs SET owed_by = ? WHERE id = ?",
                       (reaper if job is not None else None, run["id"]))
            if job is not None:
                chains.append((Claim(run["id"], job, run["trigger"], run["scheduled_for"],
                                     run["claim_key"]), run["state"] == _SUCCEEDED,
                               run["owed_by"]))
        return chains


class Store(_JobRecords, _ClaimRecords, _RunHistory, _NodeRecords):
    """Every read and write of kala.py's state: jobs, claims, results, stats, nodes.

    This is the part every database shares: the SQL and the claim protocol. A
    database's own part (SqliteStore, PostgresStore, MysqlStore) gives it
    connections and transactions (``_transaction`` takes the writers' turn, so
    every read-then-write decision holds; ``_reading`` and ``_snapshot`` read),
    its column types and its few statements of its own, and its fence (``fence``:
    how its processes know each other alive and which claims started). Several
    processes may open the same database; the claims keep every occurrence to
    one of them.

    ``Store(path)`` and ``Store()`` open a SQLite file or a database in memory, as
    before there were several databases (as ``pathlib.Path()`` gives a PosixPath);
    ``open_store`` picks the part for a URL.
    """

    #: Seconds of occurrences one claim takes together (Scheduler.claim_batch), and
    #: from one commit of results to the next: each transaction costs round trips
    #: on a server, an fsync on SQLite.
    claim_batch = CLAIM_BATCH
    result_spacing = RESULT_COMMIT_SPACING
    #: What a database names kala.py's column kinds (_TABLES).
    _TYPES: Dict[str, str] = {}
    _CREATION_ORDER = "seq"
    _NO_LIMIT: Optional[int] = None   # what LIMIT takes for "no limit"
    _LOCK_ROWS = ""                   # locks rows read in a writer's turn, where that matters
    #: Where the store's rows are; ``where`` names the database for messages.
    path: Optional[str] = None
    where = ""

    def __new__(cls, *args, **kwargs):
        return super().__new__(SqliteStore if cls is Store else cls)

    def __init__(self, fence: Union["LedgerFence", "RowFence"]):
        """Called by a database's part once its connections are set up."""
        self.fence = fence
        #: How long each commit took (GET /metrics).
        self.commit_seconds = Histogram(DATABASE_BUCKETS)
        self._joined_at: Dict[str, float] = {}   # when each node of this process joined
        #: The clock a heartbeat is stamped with when it is written, inside the writers'
        #: turn (``stamp_heartbeats_with``); without one, the time the caller gave.
        self._heartbeat_clock: Optional[Callable[[], float]] = None
        self._results = _WriteBehind(self._write_results, "kala-results",
                                     spacing=self.result_spacing, retry=WRITE_AGAIN)
        self._creations = _GroupCommit(self._write_creations)
        self._make_schema()

    def stamp_heartbeats_with(self, clock: Callable[[], float]) -> None:
        """Heartbeats carry ``clock``'s time when written, not the time their call was
        made: a process whose heartbeat waited in the writers' queue past its lease (a
        writer stopped in its turn) is not taken for dead the moment it gets through.
        Its own trust still counts from before the call (Lease.confirming)."""
        self._heartbeat_clock = clock

    def close(self) -> None:
        """Write the results still waiting (unless the database is away), let go of
        this process's fence; a database's part closes its connections after."""
        self._results.close()
        self.fence.release()

    # --- what a database's part provides --------------------------------------------

    @contextmanager
    def _transaction(self):
        """A write transaction in the writers' turn, committed at the end."""
        raise NotImplementedError

    @contextmanager
    def _reading(self):
        """A connection for reads of one statement each, for the caller alone."""
        raise NotImplementedError

    @contextmanager
    def _snapshot(self):
        """A consistent read of several statements."""
        raise NotImplementedError

    def _columns(self, db, table: str) -> List[str]:
        """The names of ``table``'s columns as the database has them now."""
        raise NotImplementedError

    def _joined_ids(self, column: str, key: str) -> str:
        """SQL for the ``column`` values of the dependencies whose ``key`` is the job
        (``jobs.id``), joined by commas in the order they were made."""
        raise NotImplementedError

    # --- the schema -------------------------------------------------------------------

    def _make_schema(self) -> None:
        with self._transaction() as db:
            self._create_schema(db)

    def _create_schema(self, db) -> None:
        """The tables and indexes, made where missing; columns added since a table
        was made are added to it."""
        for table, columns in _TABLES:
            declared = [(name, self._declaration(kind, constraints))
                        for name, kind, constraints in columns]
            declared = [(name, sql) for name, sql in declared if sql is not None]
            db.execute(f"CREATE TABLE IF NOT EXISTS {table} ("
                       + ", ".join(f"{_column(name)} {sql}" for name, sql in declared) + ")"
                       + self._TABLE_OPTIONS)
            present = set(self._columns(db, table))
            for name, sql in declared:
                if name not in present:  # names of ours, not input
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {_column(name)} {sql}")
        for index in _INDEXES:
            self._create_index(db, *index)
        if db.execute("SELECT 1 FROM counters WHERE name = 'timer_version'").fetchone() is None:
            db.execute("INSERT INTO counters (name, value) VALUES ('timer_version', 0)")
        # Jobs stored before their name, owner, command and shown text had columns.
        for row in db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE shown_of IS NULL"
                              ).fetchall():  # shown and shown_of are written together
            job = StoredJob(row).job()
            db.execute("UPDATE jobs SET name = ?, owner = ?, command = ?, shown = ?, "
                       "shown_of = ? WHERE id = ?",
                       (job.name, job.owner, job.command, job_shown(job),
                        spec_digest(row["spec"]), job.id))

    _TABLE_OPTIONS = ""

    def _declaration(self, kind: str, constraints: str) -> Optional[str]:
        """A column's type and constraints here (None: this database has no such column)."""
        sql = self._TYPES[kind]
        return None if sql is None else f"{sql} {constraints}".strip()

    def _create_index(self, db, name: str, table: str, columns: str, condition: str,
                      unconditional: str) -> None:
        db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})"
                   + (f" WHERE {condition}" if condition else ""))


# --- SQLite: one file, which serve processes on one host share ------------------------

class NodeLock:
    """A lock file held by a serve process for as long as it lives.

    The kernel releases an ``flock`` when its process dies, however it dies, so
    another process that can take the lock knows the owner is gone, within one
    maintenance tick instead of a heartbeat lease.

    The file is also the process's start ledger: a ring of slots where each run
    it claims is written as -id before the claim commits, and as +id just before
    its command starts. The writes reach the page cache, which outlives a killed
    process, so whoever takes the process for dead (its lock free, or its
    heartbeat too old) can tell the claims that never started (the survivor runs
    them) from those that may have (they failed with it). A slot since taken by
    another run proves nothing, and counts as started.
    """

    LEDGER_SLOTS = 65536    # 512 KiB, written sparsely: far more than are ever claimed ahead
    _SLOT = struct.Struct("<q")

    def __init__(self, directory: str, node: str):
        self.node = node
        self.path = os.path.join(directory, self.file_name(node))
        self._fd: Optional[int] = None
        #: The ledger an earlier process under the same id left, read at acquire().
        self.inherited_ledger: Optional[bytes] = None

    @staticmethod
    def file_name(node: str) -> str:
        return "node-" + re.sub(r"[^A-Za-z0-9_.:-]", "_", node) + ".lock"

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if not _flock_nonblocking(fd):
            os.close(fd)
            raise KalaError(f"node id {self.node!r} is already in use by a live process "
                            f"(its lock {self.path} is held); give this one another --node-id")
        self.inherited_ledger = os.pread(fd, self.LEDGER_SLOTS * self._SLOT.size, 0)
        os.ftruncate(fd, 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None

    def mark_claimed(self, run_ids: Iterable[int]) -> None:
        self._mark((-run_id, run_id) for run_id in run_ids)

    def mark_started(self, run_id: int) -> None:
        self._mark([(run_id, run_id)])

    def _mark(self, entries) -> None:
        if self._fd is not None:
            for value, run_id in entries:
                os.pwrite(self._fd, self._SLOT.pack(value),
                          (run_id % self.LEDGER_SLOTS) * self._SLOT.size)

    @classmethod
    def never_started(cls, ledger: Optional[bytes], run_id: int) -> bool:
        """Whether a dead process's ledger shows ``run_id`` claimed and not started.
        A slot since taken by another run proves nothing: that run counts as started."""
        offset = (run_id % cls.LEDGER_SLOTS) * cls._SLOT.size
        if ledger is None or len(ledger) < offset + cls._SLOT.size:
            return False
        return cls._SLOT.unpack_from(ledger, offset)[0] == -run_id

    @classmethod
    def read_ledger(cls, directory: str, node: str) -> Optional[bytes]:
        """The ledger of a process that may still be alive but is silent (stopped):
        it checks its ownership in the database before it starts anything now."""
        try:
            with open(os.path.join(directory, cls.file_name(node)), "rb") as file:
                return file.read(cls.LEDGER_SLOTS * cls._SLOT.size)
        except OSError:
            return None

    @classmethod
    def remains(cls, directory: str, node: str) -> Optional[bytes]:
        """The ledger of ``node`` if nobody holds its lock (the file is then removed),
        else None.

        A missing file proves nothing (someone may have cleaned the folder): that
        process is left to its heartbeat lease.
        """
        path = os.path.join(directory, cls.file_name(node))
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            if not _flock_nonblocking(fd):
                return None
            ledger = os.pread(fd, cls.LEDGER_SLOTS * cls._SLOT.size, 0)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass  # another process found it dead at the same moment
            return ledger
        finally:
            os.close(fd)


class LedgerFence:
    """How serve processes sharing a SQLite file fence each other, through lock files
    beside it: each holds an ``flock`` on a file of its own for as long as it lives
    (the kernel frees it at its death, however it dies), and keeps its start ledger
    there (NodeLock). Whoever takes a process for dead reads its ledger: claims
    never started are run, the others failed. A store in memory is shared by no one:
    its fence holds nothing and finds nobody dead."""

    #: How long before its time a run's start is noted (StartQueue): at its time.
    mark_ahead = 0.0
    #: Only a process's death frees its lock: the heartbeat lease alone bounds trust.
    trust = math.inf

    def __init__(self, locks_dir: Optional[str]):
        self.locks_dir = locks_dir
        self._lock: Optional[NodeLock] = None
        self._dead: Dict[str, bytes] = {}                # found dead, until settled: ledgers
        self._silent: Dict[str, Optional[bytes]] = {}    # read for a takeover by lease

    def hold(self, node: str) -> None:
        """Take ``node``'s lock for as long as this process lives (KalaError if a live
        process holds it); the ledger an earlier process under the same id left is
        kept for the takeover of its runs (``Store.join``)."""
        if self.locks_dir is None:
            return
        self._lock = NodeLock(self.locks_dir, node)
        self._lock.acquire()
        self._silent[node] = self._lock.inherited_ledger

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def claimed(self, run_ids: List[int]) -> None:
        """Called inside a claim's transaction: the claims go to the start ledger, so
        that a survivor runs them if this process dies before it starts them."""
        if self._lock is not None:
            self._lock.mark_claimed(run_ids)

    def starting(self, run_ids: List[int], node: str, stamp: float) -> List[int]:
        """Note runs as started, just before their forks: from here a survivor fails
        them rather than runs them. All stay this process's, as far as the ledger
        can tell: the lease decides the rest (Lease.may_fork)."""
        if self._lock is not None:
            for run_id in run_ids:
                self._lock.mark_started(run_id)
        return list(run_ids)

    def dead(self, nodes: List[str], now: float = math.inf,
             silent_for: float = 0.0) -> List[str]:
        """Which of ``nodes`` are known dead: their lock is free (the file is then
        removed, its ledger kept until their runs are settled). The others are left
        to their heartbeat lease. (A flock is freed only by its process's death:
        ``now`` and ``silent_for`` matter where presence is a database session.)"""
        if self.locks_dir is not None:
            for node in nodes:
                if node not in self._dead:
                    ledger = NodeLock.remains(self.locks_dir, node)
                    if ledger is not None:
                        self._dead[node] = ledger
        return sorted(self._dead)

    def died_lately(self, nodes: List[str], now: float, silent_for: float) -> bool:
        """Between heartbeats, whether a process died (where asking costs a read): here
        the next maintenance looks, as looking removes lock files."""
        return False

    def never_started(self, run) -> bool:
        """Whether the ledger of ``run``'s process shows it claimed and not started. A
        process whose lock is still held but whose heartbeat is too old (stopped,
        hung) has its ledger read too: it checks with the database before it starts
        anything now."""
        node = run["node"]
        ledger = self._dead.get(node)
        if ledger is None:
            if node not in self._silent and self.locks_dir is not None:
                self._silent[node] = NodeLock.read_ledger(self.locks_dir, node)
            ledger = self._silent.get(node)
        return NodeLock.never_started(ledger, run["id"])

    def settled(self, nodes: List[str]) -> None:
        """The runs of ``nodes`` are settled (committed): their ledgers are dropped."""
        for node in nodes:
            self._dead.pop(node, None)
            self._silent.pop(node, None)


#: File systems on which SQLite's locking cannot be trusted by several processes.
NETWORK_FILESYSTEMS = frozenset((
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph", "glusterfs",
    "lustre", "gpfs", "beegfs", "davfs", "fuse.sshfs", "fuse.glusterfs", "fuse.ceph",
    "fuse.s3fs", "fuse.gcsfuse", "fuse.rclone", "fuse.davfs2"))


def filesystem_type(path: str, mounts: str = "/proc/mounts") -> Optional[str]:
    """The type of the file system holding ``path`` (None where /proc/mounts is missing)."""
    try:
        with open(mounts, encoding="utf-8", errors="replace") as table:
            entries = [line.split() for line in table]
    except OSError:
        return None
    target = os.path.realpath(path)
    best, best_type = "", None
    for fields in entries:
        if len(fields) < 3:
            continue
        mount_point = fields[1].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, fields[2]
    return best_type


def _flock_nonblocking(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


class SqliteStore(Store):
    """The store in a SQLite file, which serve processes on one host share (or in
    memory: ``path=None``, serve --no-persist).

    The file runs in WAL mode with ``synchronous=FULL``: a write has reached the
    disk before the API answers, so an acknowledged job survives ``kill -9``.
    Writers from every process take turns on one ``flock`` and then SQLite's write
    lock (``BEGIN IMMEDIATE``); reads have a connection of their own.
    """

    _TYPES = {"key": "TEXT", "text": "TEXT", "time": "REAL", "count": "INTEGER",
              "flag": "INTEGER", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
              "order": None}       # SQLite keeps the order: rowid
    _CREATION_ORDER = "rowid"
    _NO_LIMIT = -1
    #: How long the WAL may grow (bytes) before a checkpoint holds writers back for
    #: the end of its copy; also how long the file is left when the WAL starts over.
    WAL_BOUND = 64 * 1024 * 1024

    def __init__(self, path: Optional[str] = None, *, busy_timeout: float = 30.0,
                 mounts: str = "/proc/mounts"):
        self.path = path
        self.where = f"database {path!r}" if path else "the in-memory database"
        self._lock = threading.RLock()
        self._write_lock_fd = None
        if path is not None:
            fstype = filesystem_type(os.path.dirname(os.path.abspath(path)), mounts)
            if fstype in NETWORK_FILESYSTEMS:
                raise KalaError(f"database {path!r} is on a network file system ({fstype}), "
                                f"where SQLite's locking is not safe; put it on a local disk")
            # Created private to its owner (job commands often hold secrets), before
            # any connection: closing a descriptor of the file would drop every POSIX
            # lock this process holds on it, and another process closing its last
            # connection would then think itself the last one and reset the WAL.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            try:
                os.mkdir(self.locks_dir, 0o700)
            except FileExistsError:
                pass
            self._write_lock_fd = os.open(os.path.join(self.locks_dir, "write.lock"),
                                          os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._db = self._connect(busy_timeout)
        # Reads get a connection of their own (WAL lets them run beside a write),
        # so API reads and timer syncs never wait behind a commit's fsync. One is
        # enough: parallel readers contend on few cores (README, Benchmarks).
        self._reader, self._read_lock = self._db, self._lock
        if path is not None:
            self._reader, self._read_lock = self._connect(busy_timeout), threading.Lock()
            self._reader.execute("PRAGMA query_only=1")
            # Checkpoints (copying the WAL into the database, with an fsync) are
            # made by maintenance on a connection of their own, not inside a
            # commit that a claim is waiting for.
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = self._connect(busy_timeout)
            self._page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
        super().__init__(LedgerFence(self.locks_dir))

    @property
    def locks_dir(self) -> Optional[str]:
        """Where the processes sharing this database keep their lock files (beside
        the real file, so that processes reaching it by other paths agree)."""
        return None if self.path is None else os.path.realpath(self.path) + "-locks"

    def _connect(self, busy_timeout: float) -> sqlite3.Connection:
        target = ":memory:" if self.path is None else self.path
        db = sqlite3.connect(target, timeout=busy_timeout, isolation_level=None,
                             check_same_thread=False)
        db.row_factory = sqlite3.Row
        if self.path is not None:
            # Switching to WAL (a no-op once it is) fails at once, without waiting,
            # while another process opens or checkpoints the file: in the writers'
            # turn, and tried again until the busy timeout.
            deadline = time.monotonic() + busy_timeout
            while True:
                try:
                    with self._writer_turn():
                        db.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
            db.execute("PRAGMA synchronous=FULL")
            db.execute(f"PRAGMA journal_size_limit={int(self.WAL_BOUND)}")
        return db

    def close(self) -> None:
        super().close()
        with self._lock, self._read_lock:
            self._db.close()
            self._reader.close()
            if self.path is not None:
                self._checkpointer.close()
            if self._write_lock_fd is not None:
                os.close(self._write_lock_fd)
                self._write_lock_fd = None

    @contextmanager
    def _transaction(self):
        # isolation_level=None: sqlite3 never opens transactions by itself, so the
        # BEGIN IMMEDIATE here is what makes a read-then-write claim atomic.
        with self._lock, self._writer_turn(), self._errors_explained():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                committing = time.monotonic()
                self._db.execute("COMMIT")
                self.commit_seconds.observe(time.monotonic() - committing)
            except BaseException:
                if self._db.in_transaction:  # a COMMIT that failed (disk full) is still open
                    self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def _reading(self):
        with self._read_lock, self._errors_explained():
            yield self._reader

    @contextmanager
    def _snapshot(self):
        with self._reading() as db:
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")

    @contextmanager
    def _errors_explained(self):
        """SQLite's errors as the store's: what the database's state stops, not a bug."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "full" in str(exc):
                raise StoreFull(f"{self.where} cannot grow: {exc}; nothing was changed "
                                f"(free some disk space)") from None
            raise StoreUnavailable(f"{self.where} cannot be used now: {exc}; nothing was "
                                   f"changed") from None
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.IntegrityError):
                raise  # a constraint kala.py relies on: a bug, not the database's state
            raise StoreUnavailable(
                f"database {self.path!r} is damaged ({exc}): restore it from a backup, "
                f"or recover what is left with: sqlite3 {self.path} .recover") from None

    @contextmanager
    def _writer_turn(self):
        """Writers from all processes queue on one flock before BEGIN IMMEDIATE.

        SQLite's busy handler polls with growing sleeps, so under contention a
        writer can wait seconds while others keep winning; the kernel hands a
        flock to waiters in turn.
        """
        if self._write_lock_fd is None:
            yield
            return
        fcntl.flock(self._write_lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._write_lock_fd, fcntl.LOCK_UN)

    def _columns(self, db, table: str) -> List[str]:
        return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]  # ours, not input

    def _joined_ids(self, column: str, key: str) -> str:
        return (f"(SELECT group_concat({column}) FROM (SELECT {column} FROM dependencies "
                f"WHERE {key} = jobs.id ORDER BY seq) AS edges)")

    def checkpoint(self) -> None:
        """Copy committed WAL pages into the database without holding up writers. Once
        the WAL is longer than WAL_BOUND, what writers added meanwhile is copied with
        them held back, so that the next write starts the WAL over: SQLite does that
        only for a write begun once every page was copied, and writers working
        without pause (a burst of creations) always began theirs before; 100,000
        creations left a WAL of 1.4 GB (and a full list read through it a third
        slower)."""
        if self.path is None:
            return
        _, pages, _ = self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if pages * self._page_size > self.WAL_BOUND:
            with self._lock, self._writer_turn():  # the next write starts the WAL over
                self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")


# --- databases on a server: shared by serve processes on several machines -------

#: How long a session may sit idle in a transaction, a statement run, a lock be
#: waited for; and how soon a silent peer's connection is given up (each side's
#: TCP keepalives and unacknowledged data). A node cut off from the database loses
#: its sessions, and with them its presence lock, within SERVER_CUTOFF seconds
#: where the server keeps TCP keepalives (PostgreSQL).
SERVER_IDLE_IN_TRANSACTION = 2.0
SERVER_STATEMENT_TIMEOUT = 15.0
SERVER_LOCK_TIMEOUT = 10.0
SERVER_CUTOFF = 8.0
#: TCP keepalives: first probe after 3 idle seconds, then every second, 3 probes.
SERVER_KEEPALIVES = (3, 1, 3)
#: How long a node whose presence lock is free must also have been silent before
#: it counts as dead (it takes its lock again within milliseconds of losing it).
PRESENCE_GRACE = 0.75
#: Reconnection waits grow from the first to the last, doubling.
SERVER_RECONNECT = (0.1, 2.0)


def import_driver(module: str, missing: str):
    """The driver ``module``, imported only for a database that needs it; KalaError
    ``missing`` (saying how to install it) where it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise KalaError(missing) from None


def url_scheme(target: Optional[str]) -> str:
    """What a database URL starts with (``postgresql``...); empty for a file name."""
    return target.split("://", 1)[0] if target and "://" in target else ""


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class _Row(tuple):
    """A row readable by position and by column name, as a sqlite3.Row is."""

    def __new__(cls, values, names: Dict[str, int]):
        row = super().__new__(cls, values)
        row.names = names
        return row

    def __getitem__(self, key):
        return super().__getitem__(self.names[key] if isinstance(key, str) else key)


class ServerSession:
    """One connection to a database server, spoken to as the store speaks to sqlite3
    (``?`` placeholders, rows by name), which reconnects with growing waits after
    it is lost; until then each use fails at once with StoreUnavailable. A
    driver's part says how to connect, run a statement, and tell a lost
    connection."""

    def __init__(self, name: str):
        self.name = name   # what messages call it: "the PostgreSQL database HOST:PORT/DB"
        self.in_transaction = False
        self._raw = None
        self._retry_at = -math.inf
        self._wait = SERVER_RECONNECT[0]
        self._statements: Dict[str, str] = {}

    def _open(self):
        """A new connection, its session settings made (raises the driver's errors)."""
        raise NotImplementedError

    def _run(self, raw, sql: str, params):
        """Run one statement on ``raw``: a cursor with fetchone, fetchall, rowcount."""
        raise NotImplementedError

    def _lost(self, exc: Exception) -> bool:
        """Whether ``exc`` says the connection itself is gone."""
        raise NotImplementedError

    def _failure(self) -> type:
        """The driver's root error class, what a failed connect raises."""
        raise NotImplementedError

    def connection(self):
        if self._raw is not None:
            return self._raw
        if time.monotonic() < self._retry_at:
            raise StoreUnavailable(f"{self.name} cannot be reached; trying again in "
                                   f"{self._retry_at - time.monotonic():.1f} s")
        try:
            self._raw = self._open()
        except self._failure() as exc:
            self._retry_at = time.monotonic() + self._wait
            self._wait = min(self._wait * 2, SERVER_RECONNECT[1])
            raise StoreUnavailable(f"{self.name} cannot be reached: "
                                   f"{_first_line(exc)}") from None
        self._wait = SERVER_RECONNECT[0]
        return self._raw

    def execute(self, sql: str, params=()):
        idle = not self.in_transaction
        statement, values = self._statement(sql), self._values(params)
        try:
            cursor = self._run(self.connection(), statement, values)
        except Exception as exc:
            if not (idle and self._lost(exc)):
                raise
            # The connection was lost while idle (the server restarted, or ended the
            # session): a statement outside a transaction, or its BEGIN, is safe to
            # say again, once, on a new one.
            self.drop()
            cursor = self._run(self.connection(), statement, values)
        word = sql.split(None, 1)[0].upper()
        if word in ("BEGIN", "START"):
            self.in_transaction = True
        elif word in ("COMMIT", "ROLLBACK"):
            self.in_transaction = False
        return cursor

    def executemany(self, sql: str, rows):
        """One statement per row, each waited for. (Not the drivers' executemany: a
        pipeline cut off in the middle leaves the server waiting for the rest
        while it holds the writers' turn, where no idle timeout applies.)"""
        for row in rows:
            self.execute(sql, row)

    def _statement(self, sql: str) -> str:
        if sql not in self._statements:
            self._statements[sql] = sql.replace("?", "%s")  # no ? or % is ever literal here
        return self._statements[sql]

    @classmethod
    def _values(cls, params):
        return [int(value) if isinstance(value, bool) else
                cls._values(value) if isinstance(value, list) else value  # an array's items
                for value in params]

    def connected(self) -> bool:
        return self._raw is not None

    def drop(self) -> None:
        """Close the connection (a later use reconnects)."""
        raw, self._raw, self.in_transaction = self._raw, None, False
        if raw is not None:
            try:
                raw.close()
            except Exception:  # already broken: nothing to close cleanly
                pass

    close = drop


class RowFence:
    """How serve processes sharing a database server fence each other. A run's start
    is marked in its row just before its command starts, and the mark is made only
    while the run is still this process's: whoever takes the process for dead runs
    the claims never marked, fails the others, and locks their rows to decide, so
    whichever commits first wins. A process's presence is a lock held by a session
    of its own, which the server frees when the session ends (it died, or its
    connection was cut off and the server noticed)."""

    #: Starts are marked this long ahead, together: at a thousand runs a second, a
    #: round trip each just before its fork made the lag p99 17 to 80 ms. The cost:
    #: a process killed in that time leaves its runs due in it failed as "node
    #: died" without having run them.
    mark_ahead = 0.01

    def __init__(self, store: "ServerStore", grace: float = PRESENCE_GRACE):
        self._store = store
        self.grace = grace
        #: A live process whose presence session was ended is taken for dead after
        #: ``grace`` of silence, before it may notice: it asks before starting
        #: anything once two thirds of that went by without a heartbeat.
        self.trust = grace * 2 / 3

    def hold(self, node: str) -> None:
        self._store._hold_presence(node)

    def release(self) -> None:
        self._store._release_presence()

    def claimed(self, run_ids: List[int]) -> None:
        """The row is the ledger: nothing to note."""

    def starting(self, run_ids: List[int], node: str, stamp: float) -> List[int]:
        """Mark runs as started with ``stamp``; those that ``node`` still owns (a mark
        made again with the same stamp, its answer lost, finds itself)."""
        return self._store._mark_started(run_ids, node, stamp)

    def dead(self, nodes: List[str], now: float = math.inf,
             silent_for: float = 0.0) -> List[str]:
        """Nodes whose presence lock is free and that have not beaten for ``grace``
        (PRESENCE_GRACE): a session the server ended (a restart, a terminated backend)
        frees a live node's lock until it takes it again, within milliseconds. A
        reaper that was cut off itself for that long (``silent_for``) judges nobody:
        the others may still be reconnecting."""
        if not nodes or silent_for > self.grace:
            return []
        return self._store._presence_gone(nodes, now - self.grace)

    def died_lately(self, nodes: List[str], now: float, silent_for: float) -> bool:
        """Between heartbeats, whether a process died: a read, so asked every tick."""
        return bool(self.dead(nodes, now, silent_for))

    @staticmethod
    def never_started(run) -> bool:
        return run["started_at"] is None

    def settled(self, nodes: List[str]) -> None:
        """Nothing kept for a takeover: the rows say it all."""


class ServerStore(Store):
    """What the stores on a database server share (PostgreSQL, MySQL): four
    sessions that reconnect (writes, reads, start marks, and presence), results
    kept and written again while the server is away, a commit whose answer was
    lost asked about, and a RowFence. A database's part says how to take the
    writers' turn, ask about a commit, hold a presence lock and mark starts."""

    #: A transaction is a dozen round trips here: at a thousand runs a second, 50
    #: claims a second held the writers' turn all the time (with results then
    #: committed every 10 ms).
    claim_batch = 0.1
    _LOCK_ROWS = " FOR UPDATE"   # a run's start is marked without the writers' turn
    #: What the messages call this database.
    _KIND = "server"
    #: SQL naming the schema (or database) the tables are in, and joining a column's
    #: values of several rows with commas, in the order of their ``seq``.
    _SCHEMA = ""
    _JOINED = ""

    def __init__(self, url: str, where: str):
        self.url, self.where = url, where
        self._lock = threading.RLock()
        self._db = self._session("writes")
        self._read_lock = threading.Lock()
        self._reader = self._session("reads")
        self._start_lock = threading.Lock()
        self._starts = self._session("starts")
        self._presence_lock = threading.Lock()
        self._presence = self._session("presence")
        self._node: Optional[str] = None
        super().__init__(RowFence(self))

    def _session(self, purpose: str) -> ServerSession:
        """A session for ``purpose``: writes, reads, starts (marks) or presence."""
        raise NotImplementedError

    def close(self) -> None:
        super().close()
        with self._lock, self._read_lock, self._start_lock:
            for session in (self._db, self._reader, self._starts):
                session.close()

    # --- transactions -------------------------------------------------------------

    def _columns(self, db, table: str) -> List[str]:
        return [row[0] for row in db.execute(
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_schema = {self._SCHEMA} AND table_name = ?", (table,))]

    def _joined_ids(self, column: str, key: str) -> str:
        return (f"(SELECT {self._JOINED.format(column=column)} FROM dependencies "
                f"WHERE {key} = jobs.id)")

    def _begin_writing(self, session: ServerSession):
        """Take the writers' turn in the open transaction; returns what tells later
        whether it committed (``_committed``)."""
        raise NotImplementedError

    def _committed(self, session: ServerSession, token) -> Optional[bool]:
        """Whether the transaction of ``token`` committed; None while unknown."""
        raise NotImplementedError

    @contextmanager
    def _transaction(self):
        with self._lock, self._errors_explained(self._db):
            session = self._db
            session.execute("BEGIN")
            try:
                token = self._begin_writing(session)
                yield session
            except BaseException:
                if session.in_transaction:
                    try:
                        session.execute("ROLLBACK")
                    except self._driver.Error:
                        session.drop()
                raise
            try:
                committing = time.monotonic()
                session.execute("COMMIT")
                self.commit_seconds.observe(time.monotonic() - committing)
            except self._driver.Error as exc:
                session.drop()
                status = self._commit_status(session, token)
                if status:
                    return
                if status is False:
                    raise StoreUnavailable(f"the {self._KIND} database {self.where} was lost "
                                           f"while committing ({_first_line(exc)}); nothing "
                                           f"was changed") from None
                raise CommitUncertain(
                    f"the {self._KIND} database {self.where} was lost while committing "
                    f"({_first_line(exc)}); the write may or may not have been made") from None

    def _commit_status(self, session: ServerSession, token) -> Optional[bool]:
        """Whether the transaction of ``token`` committed, asked again for up to
        SERVER_CUTOFF seconds; None if the database could not say."""
        deadline = time.monotonic() + SERVER_CUTOFF
        wait = SERVER_RECONNECT[0]
        while True:
            try:
                status = self._committed(session, token)
                if status is not None:
                    return status
            except (self._driver.Error, StoreUnavailable):
                session.drop()
            if time.monotonic() + wait > deadline:
                return None
            time.sleep(wait)
            wait = min(wait * 2, SERVER_RECONNECT[1])

    @contextmanager
    def _reading(self):
        with self._read_lock, self._errors_explained(self._reader):
            yield self._reader

    _SNAPSHOT = "BEGIN"   # what begins a consistent read-only transaction

    @contextmanager
    def _snapshot(self):
        with self._reading() as db:
            db.execute(self._SNAPSHOT)
            try:
                yield db
            finally:
                if db.in_transaction:
                    db.execute("COMMIT")

    def _full(self, exc: Exception) -> bool:
        """Whether ``exc`` says the database cannot grow (its disk, its memory)."""
        return False

    @contextmanager
    def _errors_explained(self, session: Optional[ServerSession] = None):
        driver = self._driver
        try:
            yield
        except driver.IntegrityError:
            raise  # a constraint kala.py relies on: a bug, not the database's state
        except driver.Error as exc:
            if session is not None and (session.in_transaction or session._lost(exc)):
                session.drop()
            if self._full(exc):
                raise StoreFull(f"the {self._KIND} database {self.where} cannot grow: "
                                f"{_first_line(exc)}; nothing was changed") from None
            raise StoreUnavailable(f"the {self._KIND} database {self.where} cannot be used "
                                   f"now: {_first_line(exc)}; nothing was changed") from None

    # --- presence and start marks (RowFence) ----------------------------------------

    def _lock_presence(self, session: ServerSession, node: str) -> bool:
        """Take ``node``'s presence lock on ``session``; False when another holds it."""
        raise NotImplementedError

    def _presence_held(self, db, nodes: List[str]) -> set:
        """Those of ``nodes`` whose presence lock some session holds."""
        raise NotImplementedError

    def _mark_started(self, run_ids: List[int], node: str, stamp: float) -> List[int]:
        raise NotImplementedError

    def wait_for_changes(self, timeout: float, stop: threading.Event) -> bool:
        """Wait ``timeout`` seconds, or less when another process announces a change,
        on the presence session: one that was lost is taken again (a process that
        took this one for dead meanwhile has taken its runs over, and the fencing
        stops it from starting them)."""
        if self._node is not None:
            with self._presence_lock:
                if self._keep_presence():
                    try:
                        announced = self._await_announcement(timeout, stop)
                        if announced is not None:
                            return announced
                    except self._driver.Error as exc:
                        self._presence.drop()
                        log.warning("lost this node's presence session on %s (%s); taking "
                                    "it again", self.where, _first_line(exc))
        stop.wait(timeout)
        return False

    def _await_announcement(self, timeout: float, stop: threading.Event) -> Optional[bool]:
        """Wait up to ``timeout`` on the presence session for an announcement (True), or
        none (False); None: the database makes none, the caller waits."""
        raise NotImplementedError

    def _hold_presence(self, node: str) -> None:
        self._node = node
        with self._presence_lock:
            try:
                self._take_presence()
            except KalaError:
                self._node = None
                raise

    def _take_presence(self) -> None:
        """Connect the presence session and take this node's lock (and listen)."""
        with self._errors_explained(self._presence):
            if not self._lock_presence(self._presence, self._node):
                self._presence.drop()
                raise KalaError(f"node id {self._node!r} is already in use by a live process "
                                f"on {self.where}; give this one another --node-id")

    def _release_presence(self) -> None:
        with self._presence_lock:
            self._presence.close()
        self._node = None

    def _keep_presence(self) -> bool:
        """Take the presence lock again if its session was lost (a process that took
        this one for dead meanwhile has taken its runs over, and the fencing stops
        it from starting them); False when it could not."""
        try:
            if not self._presence.connected():
                self._take_presence()
            return True
        except KalaError as exc:  # StoreUnavailable, or the id taken meanwhile
            self._presence.drop()
            log.warning("lost this node's presence session on %s (%s); taking it again",
                        self.where, _first_line(exc))
            return False

    def _still_dead(self, db, nodes: List[str], now: float) -> List[str]:
        """Those found dead (presence lock free, silent for the grace) before the
        reaper's turn came that have not beaten since: one held up in the same queue
        may have got through first, confirmed a run it owns and forked it (a MySQL
        chaos run saw such runs recorded 'node died' beside the next run of their
        forbid job)."""
        if not nodes:
            return nodes
        marks = ", ".join("?" * len(nodes))
        beats = dict(db.execute(f"SELECT id, heartbeat FROM nodes WHERE id IN ({marks})",
                                nodes).fetchall())
        return [node for node in nodes
                if beats.get(node, -math.inf) < now - self.fence.grace]

    def _presence_gone(self, nodes: List[str], silent_since: float) -> List[str]:
        with self._snapshot() as db:
            held = self._presence_held(db, nodes)
            beats = dict(db.execute("SELECT id, heartbeat FROM nodes").fetchall())
        return [node for node in nodes
                if node not in held and beats.get(node, -math.inf) < silent_since]

    # --- batches in one statement each ------------------------------------------------
    # Round trips are what a database server costs, each in the writers' turn: a
    # claim's runs, the jobs it moves on and the results finishing together go in a
    # statement each, their rows as one JSON parameter, which json writes in C and
    # the database reads as a table (json_to_recordset, JSON_TABLE).

    @staticmethod
    def _rows(columns: str, rows) -> str:
        """``rows`` as a JSON text of objects, ``columns`` naming the values of each
        (booleans as integers, as SQLite stores them)."""
        names = columns.split(", ")
        return json.dumps([dict(zip(names, row)) for row in rows])

    def _write_results(self, batch) -> List[bool]:
        """Results finishing together in three statements, not three a result: at a
        thousand runs a second the round trips, each in the writers' turn, held up
        the claims. A lone result (a run started through the API, waiting for it)
        goes row by row: a batch costs more than it saves for one row."""
        if len(batch) == 1:
            return super()._write_results(batch)
        with self._transaction() as db:
            written = self._write_together(db, self._result_rows(db, batch))
            if written:
                self._count_results(db, self._result_counts(batch, written))
            for claim, node, result in batch:
                if claim.run_id not in written and self._write_result(db, claim, node, result):
                    written.add(claim.run_id)  # written already, by a commit whose answer was lost
            return [claim.run_id in written for claim, _, _ in batch]

    def _result_rows(self, db, batch) -> List[tuple]:
        """The runs' rows to write, each (id, node, state, ran at, finished at, retries,
        duration, output, error, owed by, output dropped); each result learns whether
        it owes follow-ups (its children, or its failure job)."""
        parents = sorted({claim.job.id for claim, _, result in batch if result.success})
        if parents:
            among, values = self._among(parents)
            parents = {row[0] for row in db.execute(
                f"SELECT DISTINCT parent_id FROM dependencies WHERE parent_id {among}", values)}
        rows = []
        for claim, node, result in batch:
            result.followups_owed = (claim.job.id in parents if result.success
                                     else bool(claim.job.on_failure_job))
            rows.append((claim.run_id, node, _SUCCEEDED if result.success else _FAILED,
                         result.ran_at, result.finished_at, result.retries, result.duration_ns,
                         result.output, result.error,
                         node if result.followups_owed else None, result.output_dropped))
        return rows

    @staticmethod
    def _among(ids: List[str]) -> Tuple[str, list]:
        """SQL saying a job id is one of ``ids``, and its parameters."""
        return f"IN ({', '.join('?' * len(ids))})", ids

    def _write_together(self, db, rows: List[tuple]) -> set:
        """Write the rows (``_result_rows``) of runs still running on their node, in one
        statement; the ids of those written."""
        raise NotImplementedError

    @staticmethod
    def _result_counts(batch, written: set) -> List[tuple]:
        """What the results written add to their jobs' counters: (job id, successes,
        last success, errors, last error, finished runs) a job."""
        counts: Dict[str, list] = {}
        for claim, _, result in batch:
            if claim.run_id in written:
                entry = counts.setdefault(claim.job.id, [0, None, 0, None, 0])
                if result.success:  # the last one recorded sets the time, as one by one
                    entry[0] += 1
                    entry[1] = result.finished_at
                if result.failures > 0:
                    entry[2] += result.failures
                    entry[3] = result.finished_at
                entry[4] += 1
        return [(job_id, *entry) for job_id, entry in counts.items()]

    def _count_results(self, db, counts: List[tuple]) -> None:
        """Add ``_result_counts`` to the jobs' counters, in one statement."""
        raise NotImplementedError


# --- PostgreSQL ---------------------------------------------------------------------

#: The channel on which a process announces a change of jobs to the others (the
#: payload names the schema: deployments in several schemas share a channel).
_POSTGRES_CHANNEL = "kala_jobs"


def postgres_driver():
    """psycopg (version 3), imported only for a PostgreSQL database."""
    return import_driver("psycopg", "a PostgreSQL database needs the psycopg driver (version "
                                    "3.2 or newer): python3 -m pip install 'psycopg[binary]'")


def is_postgres_url(target: Optional[str]) -> bool:
    return url_scheme(target) in ("postgres", "postgresql")


def postgres_conninfo(driver, url: str, application: str) -> Tuple[str, str]:
    """The connection string for ``url`` with kala.py's session settings (options the
    URL or PGOPTIONS give are kept), and HOST:PORT/DB to name it by (no password)."""
    try:
        settings = driver.conninfo.conninfo_to_dict(url)
    except driver.Error as exc:
        raise KalaError(f"not a usable PostgreSQL URL: {_first_line(exc)}") from None
    where = (f"{settings.get('host', 'localhost')}:{settings.get('port', 5432)}/"
             f"{settings.get('dbname', '')}")
    idle, interval, count = SERVER_KEEPALIVES
    server_side = {
        "idle_in_transaction_session_timeout": int(SERVER_IDLE_IN_TRANSACTION * 1000),
        "statement_timeout": int(SERVER_STATEMENT_TIMEOUT * 1000),
        "lock_timeout": int(SERVER_LOCK_TIMEOUT * 1000),
        "tcp_keepalives_idle": idle, "tcp_keepalives_interval": interval,
        "tcp_keepalives_count": count, "tcp_user_timeout": int(SERVER_CUTOFF * 1000),
        "client_connection_check_interval": 1000,
        # Statements are prepared after a few runs (psycopg); a generic plan made
        # while the tables were small scanned all of runs at every claim as they grew.
        "plan_cache_mode": "force_custom_plan"}
    given = settings.get("options", os.environ.get("PGOPTIONS", ""))
    settings["options"] = " ".join(
        [given] * bool(given) + [f"-c {name}={value}" for name, value in server_side.items()])
    settings.setdefault("application_name", os.environ.get("PGAPPNAME") or application)
    settings.update(connect_timeout=str(int(SERVER_CUTOFF)), keepalives="1",
                    keepalives_idle=str(idle), keepalives_interval=str(interval),
                    keepalives_count=str(count), tcp_user_timeout=str(int(SERVER_CUTOFF * 1000)))
    return driver.conninfo.make_conninfo(**settings), where


def _no_nul(text: Optional[str]) -> Optional[str]:
    """PostgreSQL's text holds no NUL (a command's output may): shown as U+FFFD."""
    return text.replace("\x00", "\ufffd") if text else text


class PostgresSession(ServerSession):
    """A session with PostgreSQL (psycopg 3), in autocommit mode: BEGIN and COMMIT are
    said when meant."""

    def __init__(self, driver, conninfo: str, where: str):
        super().__init__(f"the PostgreSQL database {where}")
        self._driver, self._conninfo = driver, conninfo

    def _open(self):
        def rows(cursor):
            names = {column.name: i for i, column in enumerate(cursor.description or ())}
            return lambda values: _Row(values, names)
        return self._driver.connect(self._conninfo, autocommit=True, row_factory=rows)

    def _run(self, raw, sql: str, params):
        return raw.execute(sql, params)

    def _lost(self, exc: Exception) -> bool:
        return (isinstance(exc, self._driver.OperationalError) and self._raw is not None
                and self._raw.closed)

    def _failure(self) -> type:
        return self._driver.Error

    @classmethod
    def _values(cls, params):
        return [_no_nul(value) if isinstance(value, str) else value
                for value in super()._values(params)]


#: A list of values sent as one JSON text, for ``column = ANY(...)`` (an index scan).
_ANY_TEXT = "ANY(ARRAY(SELECT json_array_elements_text(?::json)))"
_ANY_BIGINT = "ANY(ARRAY(SELECT json_array_elements_text(?::json)::bigint))"


class PostgresStore(ServerStore):
    """The store on a PostgreSQL database, which serve processes on several machines
    share: the same tables, claims and results as on SQLite.

    Writers take turns on a transaction-level advisory lock, as SQLite's writers take
    turns on its one write lock; a node's presence is a session-level advisory lock;
    announcements of changed jobs are a NOTIFY. Batches go in one statement each:
    round trips are what PostgreSQL costs, and one short query text is parsed and
    prepared once; their rows travel as one JSON text (``_rows``), which json writes
    in C (sent as an array a column, they went through psycopg's array dumper in
    Python, a third of a claim's work).
    """

    _KIND = "PostgreSQL"
    _SCHEMA = "current_schema()"
    _JOINED = "string_agg({column}, ',' ORDER BY seq)"
    _TYPES = {"key": "TEXT", "text": "TEXT", "time": "DOUBLE PRECISION", "count": "BIGINT",
              "flag": "INTEGER", "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
              "order": "BIGINT GENERATED ALWAYS AS IDENTITY"}
    _SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    def __init__(self, url: str, *, application: str = "kala.py"):
        self._driver = postgres_driver()
        self._conninfo, where = postgres_conninfo(self._driver, url, application)
        # The tables' schema (search_path): deployments in two schemas of one
        # database keep apart, their advisory locks and announcements too.
        probe = self._session_at(where)
        try:
            self.schema = probe.execute("SELECT current_schema()").fetchone()[0]
        except self._driver.Error as exc:
            raise StoreUnavailable(f"the PostgreSQL database {where} cannot be used now: "
                                   f"{_first_line(exc)}") from None
        finally:
            probe.close()
        if self.schema is None:
            raise KalaError(f"the PostgreSQL database {where} has no schema to create "
                            f"kala.py's tables in (check search_path)")
        self._writers_key = self._lock_key("writers")
        super().__init__(url, where)

    def _session(self, purpose: str) -> ServerSession:
        return self._session_at(self.where)

    def _session_at(self, where: str) -> ServerSession:
        return PostgresSession(self._driver, self._conninfo, where)

    def _lock_key(self, name: str) -> int:
        """An advisory lock key of kala.py's in this schema: ``writers`` (whose turn it
        is to write) or ``node NAME`` (held by a node for as long as it lives)."""
        digest = hashlib.sha256(f"kala.py\0{self.schema}\0{name}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def _create_schema(self, db) -> None:
        super()._create_schema(db)
        db.execute("CREATE INDEX IF NOT EXISTS jobs_by_seq ON jobs (seq)")

    def _begin_writing(self, session: ServerSession) -> str:
        # The transaction's id: if the connection is lost while it commits, the
        # server can still tell whether it did.
        return session.execute("SELECT pg_advisory_xact_lock(?), pg_current_xact_id()::text",
                               (self._writers_key,)).fetchone()[1]

    def _committed(self, session: ServerSession, xid: str) -> Optional[bool]:
        status = session.execute("SELECT pg_xact_status(?::xid8)", (xid,)).fetchone()[0]
        return None if status == "in progress" else status == "committed"

    def _full(self, exc: Exception) -> bool:
        return isinstance(exc, (self._driver.errors.DiskFull, self._driver.errors.OutOfMemory))

    def _bump_version(self, db) -> int:
        return db.execute("UPDATE counters SET value = value + 1 "
                          "WHERE name = 'timer_version' RETURNING value").fetchone()[0]

    def _announce(self, db) -> None:
        db.execute("SELECT pg_notify(?, ?)", (_POSTGRES_CHANNEL, self.schema))

    def _await_announcement(self, timeout: float, stop: threading.Event) -> Optional[bool]:
        """Listen on the presence session for another process's NOTIFY."""
        deadline = time.monotonic() + timeout
        while not stop.is_set() and time.monotonic() < deadline:
            # In short waits, so that a stopping scheduler is not kept waiting.
            wait = min(0.05, max(0.0, deadline - time.monotonic()))
            for notice in self._presence.connection().notifies(timeout=wait, stop_after=1):
                if notice.payload == self.schema:
                    return True
        return False

    def _lock_presence(self, session: ServerSession, node: str) -> bool:
        if not session.execute("SELECT pg_try_advisory_lock(?)",
                               (self._lock_key(f"node {node}"),)).fetchone()[0]:
            return False
        session.execute(f"LISTEN {_POSTGRES_CHANNEL}")
        return True

    def _presence_held(self, db, nodes: List[str]) -> set:
        held = {(row[0] << 32) | row[1] for row in db.execute(
            "SELECT classid::bigint, objid::bigint FROM pg_locks "
            "WHERE locktype = 'advisory' AND objsubid = 1 AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")}
        return {node for node in nodes
                if self._lock_key(f"node {node}") & 0xFFFFFFFFFFFFFFFF in held}

    def _mark_started(self, run_ids: List[int], node: str, stamp: float) -> List[int]:
        """One statement, its own transaction (one round trip), not in the writers'
        turn: the row locks order it against a takeover."""
        with self._start_lock, self._errors_explained(self._starts):
            return [row[0] for row in self._starts.execute(
                # The node as a column, not a constant: with a constant, a planner
                # without statistics yet (a new table) took the partial index of
                # running runs, which holds every finished one too until a vacuum.
                "UPDATE runs SET started_at = ? FROM json_to_recordset(?::json) "
                "AS v(id bigint, node text) WHERE runs.id = v.id AND runs.node = v.node "
                "AND runs.state = ? AND (runs.started_at IS NULL OR runs.started_at = ?) "
                f"AND runs.id = {_ANY_BIGINT} RETURNING runs.id",
                (stamp, self._rows("id, node", [(run_id, node) for run_id in run_ids]),
                 _RUNNING, stamp, json.dumps(list(run_ids))))]

    # --- batches in one statement each ------------------------------------------------

    def _insert_runs(self, db, runs: List[tuple]) -> List[int]:
        if not runs:
            return []
        ids = dict(db.execute(
            'INSERT INTO runs (job_id, claim_key, "trigger", scheduled_for, node, state, '
            'ran_at) SELECT job_id, claim_key, "trigger", scheduled_for, node, ?, ran_at '
            'FROM json_to_recordset(?::json) AS v(job_id text, claim_key text, "trigger" text, '
            "scheduled_for double precision, node text, ran_at double precision) "
            "RETURNING claim_key, id",
            (_RUNNING, self._rows("job_id, claim_key, trigger, scheduled_for, node, ran_at",
                                  runs))).fetchall())
        return [ids[run[1]] for run in runs]

    def _advance_jobs(self, db, updates: List[tuple]) -> None:
        if not updates:
            return
        db.execute(
            'UPDATE jobs SET "cursor" = v.next_cursor, next_run_at = v.next_run_at, '
            "is_done = v.is_done, last_attempted_run = CASE WHEN v.ran = 1 "
            "THEN v.attempted ELSE last_attempted_run END, version = v.version "
            "FROM json_to_recordset(?::json) AS v(next_cursor bigint, "
            "next_run_at double precision, is_done integer, ran integer, "
            'attempted double precision, version bigint, id text, "cursor" bigint) '
            'WHERE jobs.id = v.id AND jobs."cursor" = v."cursor" '
            f"AND jobs.id = {_ANY_TEXT}",  # by the primary key, not a scan of every row
            (self._rows(
                "next_cursor, next_run_at, is_done, ran, attempted, version, id, cursor",
                [(cursor, at, int(done), int(ran), *rest)
                 for cursor, at, done, ran, *rest in updates]),
             json.dumps([update[6] for update in updates])))

    @staticmethod
    def _among(ids: List[str]) -> Tuple[str, list]:
        return f"= {_ANY_TEXT}", [json.dumps(ids)]  # one query text, whatever the count

    def _write_together(self, db, rows: List[tuple]) -> set:
        return {row[0] for row in db.execute(
            "UPDATE runs SET state = v.state, ran_at = v.ran_at, finished_at = v.finished_at, "
            "retries = v.retries, duration_ns = v.duration_ns, output = v.output, "
            "error = v.error, owed_by = v.owed_by, output_dropped = v.output_dropped "
            "FROM json_to_recordset(?::json) AS v(id bigint, node text, state text, "
            "ran_at double precision, finished_at double precision, retries integer, "
            "duration_ns bigint, output text, error text, owed_by text, output_dropped bigint) "
            "WHERE runs.id = v.id AND runs.node = v.node AND runs.state = ? "
            f"AND runs.id = {_ANY_BIGINT} RETURNING runs.id",
            (self._rows("id, node, state, ran_at, finished_at, retries, duration_ns, "
                        "output, error, owed_by, output_dropped",
                        [(*row[:7], _no_nul(row[7]), _no_nul(row[8]), *row[9:])
                         for row in rows]),
             _RUNNING, json.dumps([row[0] for row in rows])))}

    def _count_results(self, db, counts: List[tuple]) -> None:
        db.execute(
            "UPDATE jobs SET success_count = success_count + v.successes, "
            "last_success = COALESCE(v.last_success, jobs.last_success), "
            "error_count = error_count + v.errors, "
            "last_error = COALESCE(v.last_error, jobs.last_error), "
            "finished_runs = finished_runs + v.finished FROM json_to_recordset(?::json) "
            "AS v(id text, successes bigint, last_success double precision, errors bigint, "
            "last_error double precision, finished bigint) "
            f"WHERE jobs.id = v.id AND jobs.id = {_ANY_TEXT}",
            (self._rows("id, successes, last_success, errors, last_error, finished", counts),
             json.dumps([count[0] for count in counts])))


# --- MySQL and MariaDB ------------------------------------------------------------------

#: What a MySQL URL's query may say (TLS, a socket), as PyMySQL names them.
_MYSQL_URL_OPTIONS = ("ssl_ca", "ssl_cert", "ssl_key", "ssl_verify_cert", "ssl_verify_identity",
                      "ssl_disabled", "unix_socket")
#: Errors that say the connection is gone: PyMySQL's own (0), can't connect,
#: server gone away, lost during a query, lost at the handshake.
_MYSQL_CONNECTION_ERRORS = (0, 2003, 2006, 2013, 2055)
#: Errors that say the database cannot grow: its disk, a table full, out of memory.
_MYSQL_FULL_ERRORS = (1021, 1041, 1114)


def mysql_driver():
    """PyMySQL, imported only for a MySQL or MariaDB database."""
    return import_driver("pymysql", "a MySQL or MariaDB database needs the PyMySQL driver: "
                                    "python3 -m pip install pymysql (or: apt install "
                                    "python3-pymysql)")


def is_mysql_url(target: Optional[str]) -> bool:
    return url_scheme(target) in ("mysql", "mariadb")


#: The oldest servers with all the SQL the MySQL store uses: JSON_TABLE came last.
MYSQL_OLDEST = {"MySQL": (8, 0, 4), "MariaDB": (10, 6, 0)}


def mysql_version_problem(version: str) -> Optional[str]:
    """Why a server answering ``SELECT VERSION()`` with ``version`` cannot hold
    kala.py's jobs, or None when it can."""
    release = version.split("-")[0]
    kind = "MariaDB" if "mariadb" in version.lower() else "MySQL"
    numbers = tuple(int(number) for number in re.findall(r"\d+", release)[:3])
    if numbers >= MYSQL_OLDEST[kind]:
        return None
    oldest = ".".join(map(str, MYSQL_OLDEST[kind]))
    return (f"{kind} {release} is too old for kala.py, which needs {kind} {oldest} or "
            f"newer (for JSON_TABLE)")


def mysql_settings(url: str, application: str) -> Tuple[dict, str]:
    """PyMySQL's connection settings for ``mysql://USER:PASSWORD@HOST:PORT/DB?...`` (or
    ``mariadb://``), and HOST:PORT/DB to name it by (no password)."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or 3306
    except ValueError:
        port = None
    database = urllib.parse.unquote(parts.path.lstrip("/"))
    if port is None or not database or "/" in database:
        raise KalaError(f"not a usable MySQL URL: {parts.scheme}://{parts.hostname or ''}"
                        f"{parts.path} (expected mysql://USER@HOST:PORT/DATABASE)")
    options = dict(urllib.parse.parse_qsl(parts.query))
    unknown = sorted(set(options) - set(_MYSQL_URL_OPTIONS))
    if unknown:
        raise KalaError(f"MySQL URL option {unknown[0]!r} is unknown (known: "
                        f"{', '.join(_MYSQL_URL_OPTIONS)})")
    host = parts.hostname or "localhost"
    settings = {"host": host, "port": port, "user": urllib.parse.unquote(parts.username or ""),
                "password": urllib.parse.unquote(parts.password or ""), "database": database,
                "charset": "utf8mb4", "autocommit": True, "connect_timeout": int(SERVER_CUTOFF),
                "program_name": application}
    if "unix_socket" in options:
        settings["unix_socket"] = options.pop("unix_socket")
    if options.get("ssl_disabled", "").lower() in ("1", "true", "yes"):
        if len(options) > 1:
            raise KalaError(f"MySQL URL option ssl_disabled=true cannot go with "
                            f"{sorted(set(options) - {'ssl_disabled'})[0]}")
        settings["ssl_disabled"] = True  # no TLS even where the server offers it
    elif set(options) - {"ssl_disabled"}:
        settings["ssl"] = mysql_tls(options)
    return settings, f"{host}:{port}/{database}"


def mysql_tls(options: Dict[str, str]):
    """The TLS a MySQL URL asks for (``ssl_ca``, ``ssl_cert``, ``ssl_key``,
    ``ssl_verify_cert``, ``ssl_verify_identity``), as MySQL's client takes them: the
    server's certificate checked against ``ssl_ca`` (or the system's), its name too
    with ``ssl_verify_identity``. One context, made once, for every connection (PyMySQL
    would load the certificates again at each one)."""
    import ssl  # only when TLS is asked for

    def flag(name: str, default: bool) -> bool:
        return options[name].lower() in ("1", "true", "yes") if name in options else default

    identity = flag("ssl_verify_identity", False)
    try:
        context = ssl.create_default_context(cafile=options.get("ssl_ca"))
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT  # MySQL's own certificates fail it
        context.check_hostname = identity
        context.verify_mode = (ssl.CERT_REQUIRED if identity or flag("ssl_verify_cert",
                                                                     "ssl_ca" in options)
                               else ssl.CERT_NONE)
        if "ssl_cert" in options or "ssl_key" in options:
            context.load_cert_chain(options.get("ssl_cert") or options["ssl_key"],
                                    options.get("ssl_key"))
    except (OSError, ssl.SSLError) as exc:
        raise KalaError(f"the MySQL URL's TLS files cannot be used: {exc}") from None
    return context


class MysqlSession(ServerSession):
    """A session with MySQL or MariaDB (PyMySQL), in autocommit mode, for ``purpose``
    (writes, reads, starts or presence); its settings are made again after each
    reconnection, as the server it reached takes them (its handshake says which)."""

    def __init__(self, driver, settings: dict, name: str, purpose: str = "reads"):
        super().__init__(name)
        self._driver, self._settings, self.purpose = driver, settings, purpose
        self.connection_id: Optional[int] = None

    def _setup(self, mariadb: bool) -> List[str]:
        setup = ["SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'ANSI_QUOTES')",
                 f"SET SESSION innodb_lock_wait_timeout = {int(SERVER_LOCK_TIMEOUT)}",
                 "SET SESSION group_concat_max_len = 1048576",
                 "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"]
        if mariadb:
            setup += [f"SET SESSION idle_transaction_timeout = {int(SERVER_IDLE_IN_TRANSACTION)}",
                      f"SET SESSION max_statement_time = {SERVER_STATEMENT_TIMEOUT:g}"]
        elif self.purpose in ("writes", "starts"):  # MySQL ends nothing idle in a transaction
            setup.append(f"SET SESSION wait_timeout = {int(SERVER_IDLE_IN_TRANSACTION)}")
        return setup

    def _open(self):
        raw = self._driver.connect(client_flag=self._driver.constants.CLIENT.FOUND_ROWS,
                                   **self._settings)
        try:
            with raw.cursor() as cursor:
                for statement in self._setup("mariadb" in raw.get_server_info().lower()):
                    cursor.execute(statement)
        except BaseException:
            raw.close()
            raise
        self.connection_id = raw.thread_id()
        return raw

    def _run(self, raw, sql: str, params):
        with raw.cursor() as cursor:
            cursor.execute(sql, params or None)
            return _MysqlResult(cursor)

    def _lost(self, exc: Exception) -> bool:
        return (isinstance(exc, (self._driver.OperationalError, self._driver.InterfaceError))
                and bool(exc.args) and exc.args[0] in _MYSQL_CONNECTION_ERRORS)

    def _failure(self) -> type:
        return self._driver.MySQLError


class _MysqlResult:
    """A statement's result, read whole, with rows by position and by column name."""

    def __init__(self, cursor):
        names = {column[0]: i for i, column in enumerate(cursor.description or ())}
        self._rows = [_Row(values, names) for values in cursor.fetchall()] if names else []
        self.rowcount, self.lastrowid = cursor.rowcount, cursor.lastrowid

    def fetchone(self):
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self):
        return iter(self.fetchall())


class MysqlStore(ServerStore):
    """The store on a MySQL 8 or MariaDB 10.11 database, which serve processes on several
    machines share, as they share a PostgreSQL one.

    What MySQL does differently: writers take turns on a row lock (``counters``'
    row ``writers``, locked FOR UPDATE), and each write inserts a marker row in
    that statement, by which a commit whose answer was lost is known (once the
    lost connection is gone from the server); a node's presence is a named lock
    (GET_LOCK) of a session of its own, which the server frees when the session
    ends; there are no announcements (each process polls, four times a second);
    double quotes name columns (ANSI_QUOTES), as elsewhere; a batch's rows travel
    as one JSON text, read as a table by JSON_TABLE. On MariaDB a session idle in a
    transaction is ended after 2 s, as on PostgreSQL; MySQL has no such setting, so
    there a writer's sessions are ended after 2 s of any idleness (and reconnect
    when next used).
    """

    # Tables: InnoDB (transactions, row locks), text in UTF-8 compared byte by byte
    # (job ids are case-sensitive), ids short enough to index.
    _TYPES = {"key": "VARCHAR(255)", "text": "MEDIUMTEXT", "time": "DOUBLE", "count": "BIGINT",
              "flag": "INTEGER", "serial": "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
              "order": "BIGINT NOT NULL AUTO_INCREMENT UNIQUE"}
    _TABLE_OPTIONS = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    # SQL of its own.
    _SNAPSHOT = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"
    _NO_LIMIT = 18446744073709551615
    _SCHEMA = "DATABASE()"
    _JOINED = "GROUP_CONCAT({column} ORDER BY seq SEPARATOR ',')"
    _KIND = "MySQL"
    #: How long the commit markers are kept (a commit's fate is asked within seconds).
    MARKER_MEMORY = 600.0

    def __init__(self, url: str, *, application: str = "kala.py"):
        self._driver = mysql_driver()
        self._settings, where = mysql_settings(url, application)
        self._KIND = "MariaDB" if url.startswith("mariadb") else "MySQL"
        self._namespace = self._settings["database"]
        self._markers_pruned_at = -math.inf
        super().__init__(url, where)

    def _session(self, purpose: str) -> ServerSession:
        timeout = SERVER_CUTOFF if purpose == "presence" else SERVER_STATEMENT_TIMEOUT + 5
        return MysqlSession(self._driver, {**self._settings, "read_timeout": int(timeout),
                                           "write_timeout": int(timeout)},
                            f"the {self._KIND} database {self.where}", purpose)

    def _make_schema(self) -> None:
        """Under a named lock, as DDL commits by itself here (no transaction holds it),
        on a server new enough for every statement (said at once, not at a claim)."""
        with self._lock, self._errors_explained(self._db):
            db, lock = self._db, f"kala.py.schema.{self._lock_name('schema')}"
            problem = mysql_version_problem(db.execute("SELECT VERSION()").fetchone()[0])
            if problem is not None:
                raise KalaError(f"the {self._KIND} database {self.where}: {problem}")
            if not db.execute("SELECT GET_LOCK(?, ?)",
                              (lock, int(SERVER_LOCK_TIMEOUT))).fetchone()[0]:
                raise StoreUnavailable(f"the {self._KIND} database {self.where} is busy: "
                                       f"another process holds its schema lock")
            try:
                self._create_schema(db)
                db.execute(f"CREATE TABLE IF NOT EXISTS commits (id CHAR(32) PRIMARY KEY, "
                           f"at DOUBLE NOT NULL){self._TABLE_OPTIONS}")
                if not db.execute("SELECT 1 FROM counters WHERE name = 'writers'").fetchone():
                    db.execute("INSERT INTO counters (name, value) VALUES ('writers', 0)")
            finally:
                db.execute("SELECT RELEASE_LOCK(?)", (lock,))

    def _declaration(self, kind: str, constraints: str) -> Optional[str]:
        # MySQL gives long text no literal default: every insert says it.
        return super()._declaration(kind, constraints.replace(" DEFAULT ''", "")
                                    if kind == "text" else constraints)

    def _create_index(self, db, name: str, table: str, columns: str, condition: str,
                      unconditional: str) -> None:
        if not db.execute("SELECT 1 FROM information_schema.statistics WHERE table_schema = "
                          "DATABASE() AND table_name = ? AND index_name = ? LIMIT 1",
                          (table, name)).fetchone():
            db.execute(f"CREATE INDEX {name} ON {table} ({unconditional or columns})")

    def _begin_writing(self, session: ServerSession) -> Tuple[str, Optional[int]]:
        marker = uuid.uuid4().hex
        session.execute("INSERT INTO commits (id, at) SELECT ?, ? FROM counters "
                        "WHERE name = 'writers' FOR UPDATE", (marker, time.time()))
        return marker, session.connection_id

    def _committed(self, session: ServerSession, token: Tuple[str, Optional[int]]
                   ) -> Optional[bool]:
        marker, lost_connection = token
        if session.execute("SELECT COUNT(*) FROM information_schema.processlist WHERE id = ?",
                           (lost_connection,)).fetchone()[0]:
            return None  # its transaction may still commit, or be rolled back
        return session.execute("SELECT 1 FROM commits WHERE id = ?",
                               (marker,)).fetchone() is not None

    def _full(self, exc: Exception) -> bool:
        return bool(exc.args) and exc.args[0] in _MYSQL_FULL_ERRORS

    def checkpoint(self) -> None:
        """Drop commit markers older than MARKER_MEMORY (once a minute)."""
        now = time.time()
        if now - self._markers_pruned_at > 60.0:
            with self._transaction() as db:
                db.execute("DELETE FROM commits WHERE at < ?", (now - self.MARKER_MEMORY,))
            self._markers_pruned_at = now

    def _await_announcement(self, timeout: float, stop: threading.Event) -> Optional[bool]:
        """No announcements here: only a look that the presence session (and with it the
        lock) is still there; the caller waits."""
        self._presence.execute("SELECT 1")
        return None

    def _lock_name(self, name: str) -> str:
        """A named lock of kala.py's in this database (MySQL takes 64 characters)."""
        return hashlib.sha256(f"kala.py\0{self._namespace}\0{name}".encode()).hexdigest()[:40]

    def _lock_presence(self, session: ServerSession, node: str) -> bool:
        return bool(session.execute("SELECT GET_LOCK(?, 0)",
                                    (self._lock_name(f"node {node}"),)).fetchone()[0])

    def _presence_held(self, db, nodes: List[str]) -> set:
        held = set()
        for first in range(0, len(nodes), 100):
            chunk = nodes[first:first + 100]
            row = db.execute(f"SELECT {', '.join(['IS_USED_LOCK(?)'] * len(chunk))}",
                             [self._lock_name(f"node {node}") for node in chunk]).fetchone()
            held.update(node for node, owner in zip(chunk, row) if owner is not None)
        return held

    # --- batches in a statement each (or a part each: ROWS_PER_STATEMENT) ---------------

    #: JSON_TABLE's column type for each kind (text compared byte by byte, as stored).
    _ROW_TYPES = {"key": "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                  "text": "MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                  "time": "DOUBLE", "count": "BIGINT", "flag": "INTEGER"}
    #: The most JSON text (bytes) one statement carries: a server refuses a statement
    #: longer than its max_allowed_packet (MariaDB's default 16 MB, old MySQL's 4 MB),
    #: and 300 results finishing together with 64 KB of output each made 19 MB, which
    #: was refused, and written again, for ever.
    ROWS_PER_STATEMENT = 2 * 1024 * 1024

    def _row_tables(self, columns: str, rows) -> Iterator[Tuple[str, list, str]]:
        """``rows`` as tables ``v`` (JSON_TABLE: MySQL 8.0.4, MariaDB 10.6), each with
        its rows and the JSON text it reads, its one parameter, at most
        ROWS_PER_STATEMENT long (a row longer than that goes alone); ``columns``
        names each value of a row with its kind (``"id count, node key"``)."""
        named = [column.split() for column in columns.split(", ")]
        defined = ", ".join(f"{_column(name)} {self._ROW_TYPES[kind]} PATH '$[{i}]'"
                            for i, (name, kind) in enumerate(named))
        table = f"JSON_TABLE(?, '$[*]' COLUMNS ({defined})) AS v"
        chunk: list = []
        texts: List[str] = []
        size = 0
        for row in rows:
            text = json.dumps(row)  # ASCII: as many bytes as characters
            if chunk and size + len(text) > self.ROWS_PER_STATEMENT:
                yield table, chunk, f"[{', '.join(texts)}]"
                chunk, texts, size = [], [], 0
            chunk.append(row)
            texts.append(text)
            size += len(text) + 2
        if chunk:
            yield table, chunk, f"[{', '.join(texts)}]"

    def _insert_runs(self, db, runs: List[tuple]) -> List[int]:
        if len(runs) < 2:
            return super()._insert_runs(db, runs)
        for table, _, rows in self._row_tables("job_id key, claim_key key, trigger key, "
                                               "scheduled_for time, node key, ran_at time", runs):
            db.execute('INSERT INTO runs (job_id, claim_key, "trigger", scheduled_for, node, '
                       'state, ran_at, output, error) SELECT v.job_id, v.claim_key, v."trigger", '
                       f"v.scheduled_for, v.node, ?, v.ran_at, '', '' FROM {table}",
                       (_RUNNING, rows))
        among, keys = self._among([run[1] for run in runs])
        ids = dict(db.execute(f"SELECT claim_key, id FROM runs WHERE claim_key {among}",
                              keys).fetchall())
        return [ids[run[1]] for run in runs]

    def _advance_jobs(self, db, updates: List[tuple]) -> None:
        if len(updates) < 2:
            return super()._advance_jobs(db, updates)
        for table, chunk, rows in self._row_tables(
                "next_cursor count, next_run_at time, is_done flag, ran flag, attempted time, "
                "version count, id key, cursor count",
                [(cursor, at, int(done), int(ran), *rest)
                 for cursor, at, done, ran, *rest in updates]):
            among, ids = self._among([update[6] for update in chunk])
            db.execute(f'UPDATE jobs JOIN {table} ON jobs.id = v.id AND jobs."cursor" = '
                       'v."cursor" SET jobs."cursor" = v.next_cursor, jobs.next_run_at = '
                       "v.next_run_at, jobs.is_done = v.is_done, jobs.last_attempted_run = "
                       "CASE WHEN v.ran = 1 THEN v.attempted ELSE jobs.last_attempted_run END, "
                       f"jobs.version = v.version WHERE jobs.id {among}", (rows, *ids))

    def _write_together(self, db, rows: List[tuple]) -> set:
        # No UPDATE ... RETURNING here: the runs still running are locked and read
        # first (a takeover waits for the writers' turn, a start mark changes no state).
        marks = ", ".join("?" * len(rows))
        running = set(db.execute(f"SELECT id, node FROM runs WHERE id IN ({marks}) AND state = ?"
                                 f"{self._LOCK_ROWS}", (*[row[0] for row in rows], _RUNNING)
                                 ).fetchall())
        rows = [row for row in rows if (row[0], row[1]) in running]
        for table, chunk, values in self._row_tables(
                "id count, node key, state key, ran_at time, finished_at time, retries count, "
                "duration_ns count, output text, error text, owed_by key, output_dropped count",
                rows):
            db.execute(f"UPDATE runs JOIN {table} ON runs.id = v.id SET runs.state = v.state, "
                       "runs.ran_at = v.ran_at, runs.finished_at = v.finished_at, "
                       "runs.retries = v.retries, runs.duration_ns = v.duration_ns, "
                       "runs.output = v.output, runs.error = v.error, runs.owed_by = v.owed_by, "
                       "runs.output_dropped = v.output_dropped "
                       f"WHERE runs.id IN ({', '.join('?' * len(chunk))})",
                       (values, *[row[0] for row in chunk]))
        return {row[0] for row in rows}

    def _count_results(self, db, counts: List[tuple]) -> None:
        for table, chunk, rows in self._row_tables(
                "id key, successes count, last_success time, errors count, last_error time, "
                "finished count", counts):
            among, ids = self._among([count[0] for count in chunk])
            db.execute(f"UPDATE jobs JOIN {table} ON jobs.id = v.id "
                       "SET jobs.success_count = jobs.success_count + v.successes, "
                       "jobs.last_success = COALESCE(v.last_success, jobs.last_success), "
                       "jobs.error_count = jobs.error_count + v.errors, "
                       "jobs.last_error = COALESCE(v.last_error, jobs.last_error), "
                       f"jobs.finished_runs = jobs.finished_runs + v.finished "
                       f"WHERE jobs.id {among}", (rows, *ids))

    def _mark_started(self, run_ids: List[int], node: str, stamp: float) -> List[int]:
        """Marked in one statement (its own transaction, not in the writers' turn: the
        row locks order it against a takeover), then read back: a run marked with
        ``stamp`` is no longer one a survivor would take over, so it stays this
        node's until a survivor fails it (which the read leaves out)."""
        marks = ", ".join("?" * len(run_ids))
        with self._start_lock, self._errors_explained(self._starts):
            self._starts.execute(
                f"UPDATE runs SET started_at = ? WHERE id IN ({marks}) AND node = ? "
                f"AND state = ? AND (started_at IS NULL OR started_at = ?)",
                (stamp, *run_ids, node, _RUNNING, stamp))
            return [row[0] for row in self._starts.execute(
                f"SELECT id FROM runs WHERE id IN ({marks}) AND node = ? AND state = ? "
                f"AND started_at = ?", (*run_ids, node, _RUNNING, stamp))]


def open_store(target: Optional[str], *, application: str = "kala.py") -> Store:
    """The store at ``target``: a PostgreSQL or MySQL URL, a SQLite file, or None (memory)."""
    if is_postgres_url(target):
        return PostgresStore(target, application=application)
    if is_mysql_url(target):
        return MysqlStore(target, application=application)
    return SqliteStore(target)


# =============================================================================
# Running a job: a local command without a shell, or an HTTP request
# =============================================================================

#: How much of a run's output (stdout and stderr together) is kept: the last 64 KiB.
OUTPUT_TAIL_BYTES = 64 * 1024


@dataclasses.dataclass
class Attempt:
    """One try at running a job."""

    success: bool
    output: str = ""
    error: str = ""                 # why it failed, in Kala's words where Kala has some
    output_dropped: int = 0         # bytes of output before what ``output`` kept


class OutputTail:
    """The last ``limit`` bytes a command wrote, and how many came before them."""

    def __init__(self, limit: int):
        self.limit = limit
        self.kept = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.kept += chunk
        extra = len(self.kept) - self.limit
        if extra > 0:
            del self.kept[:extra]
            self.dropped += extra

    def text(self) -> Tuple[str, int]:
        """(the output kept, bytes dropped before it): see ``kept_output``."""
        return kept_output(self.kept.decode("utf-8", "replace"), self.dropped)


def kept_output(text: str, dropped: int) -> Tuple[str, int]:
    """``text`` that lost ``dropped`` bytes before it, cut to start at a line (the
    partial one counts as dropped too) after a line saying how much went; as it
    is when nothing was dropped."""
    if not dropped:
        return text, 0
    cut = text.find("\n")
    if 0 <= cut < len(text) - 1:
        dropped += len(text[:cut + 1].encode())
        text = text[cut + 1:]
    return f"[kala.py: {dropped} earlier bytes of output dropped]\n{text}", dropped


#: What a job's command inherits from the server's environment (with LC_*): the
#: rest, a token or cloud credentials, stays with the server unless
#: ``--pass-env`` names it or the job sets it in its ``environment``.
INHERITED_VARIABLES = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ",
                       "TMPDIR")


def job_base_environment(server_environment: Dict[str, str],
                         passed: Iterable[str] = ()) -> Dict[str, str]:
    """The environment every job starts from: a few harmless variables of the server's."""
    names = set(INHERITED_VARIABLES).union(passed)
    environment = {name: value for name, value in server_environment.items()
                   if name in names or name.startswith("LC_")}
    environment.setdefault("PATH", os.defpath)
    return environment


#: After a timeout's kill, how long the output may stay open (held by something
#: that escaped the kill) before the run ends without it.
OUTPUT_GRACE = 1.0
#: While commands end often (rounds of ends less than twice this apart), the watcher
#: waits this long after a round before it looks again: the ends that come meanwhile
#: are handled in one wake-up, most of them exited by then (no pidfd to watch). At
#: 500 runs a second the watcher's CPU went from 90-122 to 47-60 us a run, the
#: server's thread switches from 5.2-5.5 to 4.0-4.4 a run (bench/run_cost.py). A run's
#: end is learnt up to this much later; a lone one's (fewer than ~50 a second) at once.
#: Reading output does not count, and a round that filled a read does not wait: a
#: command writing fast is read as fast as before.
WATCH_GATHER = 0.01
#: The most the watcher reads of a command's output at a time.
OUTPUT_CHUNK = 65536


def kill_group(process: subprocess.Popen) -> None:
    """Kill a command started in a session of its own, with whatever it started."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass  # already gone


def kill_output_holders(output_fd: int) -> None:
    """Kill every other process holding the pipe ``output_fd`` reads: what a command
    started in a session of its own (``setsid``) escapes the kill of its group.
    Linux's /proc tells who holds it; elsewhere this does nothing."""
    try:
        pipe = f"pipe:[{os.fstat(output_fd).st_ino}]"
        pids = [pid for pid in os.listdir("/proc") if pid.isdigit() and int(pid) != os.getpid()]
    except OSError:
        return
    for pid in pids:
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == pipe for fd in descriptors):
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            continue  # gone meanwhile, or not ours to look at


def end_timed_out(process: subprocess.Popen) -> None:
    """A timeout: SIGKILL to the command's process group, then to whatever else
    still holds its output."""
    kill_group(process)
    kill_output_holders(process.stdout.fileno())


def attempts_output(attempts: Sequence[Attempt], limit: int) -> Tuple[str, int]:
    """One output for a run's attempts: one attempt's as it is; several, each after
    a line naming it, the whole kept to its last ``limit`` bytes. Returns (output,
    bytes of output dropped)."""
    if len(attempts) == 1:
        return attempts[0].output, attempts[0].output_dropped
    parts, dropped = [], 0
    for number, attempt in enumerate(attempts, 1):
        outcome = "succeeded" if attempt.success else f"failed: {attempt.error}"
        text = attempt.output if attempt.output.endswith("\n") or not attempt.output \
            else attempt.output + "\n"
        parts.append(f"[kala.py: attempt {number} {outcome}]\n{text}")
        dropped += attempt.output_dropped
    whole = "".join(parts).encode()
    if len(whole) <= limit:
        return whole.decode(), dropped
    output, cut = kept_output(whole[-limit:].decode("utf-8", "replace"), len(whole) - limit)
    return output, dropped + cut


def command_outcome(status: int, tail: OutputTail, timed_out_after: Optional[float]) -> Attempt:
    """The Attempt of a command that ended with exit ``status`` (negative: killed by a signal)."""
    output, dropped = tail.text()
    if timed_out_after is not None:  # even if its leader had exited 0: it was not done
        return Attempt(False, output, f"timed out after {timed_out_after:g}s", dropped)
    if status == 0:
        return Attempt(True, output, "", dropped)
    if status < 0:
        return Attempt(False, output, f"signal: {signal.Signals(-status).name}", dropped)
    return Attempt(False, output, f"exit status {status}", dropped)


class _RequestDeadline:
    """Ends a remote job's request when its whole time is up. urllib's timeout
    bounds each read only: a server trickling a byte a second could hold a run
    (and its worker) for hours."""

    def __init__(self, seconds: float):
        self.expired = False
        self._sockets: list = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_RequestDeadline":
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()

    def opener(self) -> urllib.request.OpenerDirector:
        return urllib.request.build_opener(_BoundedHTTPHandler(self), _BoundedHTTPSHandler(self))

    def connection(self, http_class, host, **options):
        """An http.client connection whose socket is shut down at the deadline."""
        connection = http_class(host, **options)
        connect = connection.connect

        def connect_within_deadline():
            connect()
            with self._lock:
                self._sockets.append(connection.sock)
                expired = self.expired
            if expired:
                self._shut(connection.sock)

        connection.connect = connect_within_deadline
        return connection

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            self._shut(sock)

    @staticmethod
    def _shut(sock) -> None:
        try:
            # The plain socket's shutdown, also under TLS: the reading thread's
            # recv returns at once, whatever state the TLS layer is in.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


class _BoundedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _RequestDeadline):
        super().__init__()
        self.deadline = deadline

    def do_open(self, http_class, req, **options):
        return super().do_open(functools.partial(self.deadline.connection, http_class), req,
                               **options)


class _BoundedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _RequestDeadline):
        super().__init__()
        self.deadline = deadline

    do_open = _BoundedHTTPHandler.do_open


def still_cleared(cleared: Optional[Callable[[], bool]]) -> None:
    """Asked right before a run's command is forked or its request sent: LeaseLapsed
    when ``cleared`` (the lease's last word, Lease.clearance) no longer lets it."""
    if cleared is not None and not cleared():
        raise LeaseLapsed("this process went past its lease's trust without hearing from "
                          "the database right before the fork")


class ProcessSpawner:
    """Starts a program with ``posix_spawn`` in a session of its own, stdin on
    /dev/null, stdout and stderr on one descriptor, SIGPIPE and SIGXFSZ back at
    their defaults (Python ignores them): what Popen did here, for ~60 us of the
    server's CPU instead of ~135 us and without a copy of its page tables (glibc's
    posix_spawn is a vfork and an exec).

    The call waits until the child has called exec, ~0.35 ms. os.posix_spawn holds
    the GIL all that time, so no other thread of the server runs (a burst of 1,000
    starts stops the API for a third of a second); called through ctypes (~35 us
    more of Python) it does not. ctypes is used where it and the C library's
    functions are found, os.posix_spawn where not. No descriptor of the server's
    reaches the child: every one it opens is close-on-exec, and those it inherited
    are made so when the spawner is made (``close_inherited_descriptors_on_exec``).
    """

    # <spawn.h>'s flags, the same in glibc and musl.
    _SETSIGDEF, _SETSIGMASK, _SETSID = 0x04, 0x08, 0x80
    #: Signals Python ignores and a command expects at their defaults.
    DEFAULT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ")
                            if hasattr(signal, name))

    def __init__(self, native: bool = True):
        close_inherited_descriptors_on_exec()
        self._found: Dict[Tuple[str, str], Tuple[str, float]] = {}  # see find()
        #: os.fsencode's encoding, for one call a variable instead of three
        self._encoding = (sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
        self._arrays: Dict[tuple, Tuple[bytes, Any]] = {}   # see _arguments()
        self._shared: Optional[Tuple[Dict[str, str], List[bytes]]] = None  # _shared_variables()
        self._spare_actions: List[Tuple[Any, int]] = []    # see _file_actions()
        self._libc = self._native_library() if native else None
        if self._libc is not None:
            self._devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            import ctypes
            self._ctypes = ctypes
            # Opaque C structures, given more room than any C library needs for them.
            self._attributes = ctypes.create_string_buffer(1024)
            default, mask = ctypes.create_string_buffer(256), ctypes.create_string_buffer(256)
            libc = self._libc
            libc.sigemptyset(default)
            for number in self.DEFAULT_SIGNALS:
                libc.sigaddset(default, number)
            libc.sigemptyset(mask)
            for call in (libc.posix_spawnattr_init(self._attributes),
                         libc.posix_spawnattr_setsigdefault(self._attributes, default),
                         libc.posix_spawnattr_setsigmask(self._attributes, mask),
                         libc.posix_spawnattr_setflags(self._attributes, ctypes.c_short(
                             self._SETSIGDEF | self._SETSIGMASK | self._SETSID))):
                if call:
                    raise OSError(call, os.strerror(call))

    def find(self, program: str, path: str) -> str:
        """The file a program name stands for, looked up in ``path`` as Popen does
        (a name with a slash is the file); FileNotFoundError when there is none. A
        lookup (~20 us) is kept for a second: a program installed meanwhile earlier
        in the path is found within a second."""
        if os.sep in program:
            return program
        now = time.monotonic()
        found, found_at = self._found.get((program, path), (None, -math.inf))
        if found is None or now - found_at > 1.0:
            found = shutil.which(program, path=path)
            if found is None:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
            if len(self._found) >= 1024:
                self._found.clear()
            self._found[(program, path)] = (found, now)
        return found

    @classmethod
    def for_this_system(cls) -> Optional["ProcessSpawner"]:
        """A spawner on Linux with glibc 2.26 or later, whose posix_spawn can start a
        session (POSIX_SPAWN_SETSID); None elsewhere, where commands start with Popen."""
        try:
            name, _, version = os.confstr("CS_GNU_LIBC_VERSION").partition(" ")
            release = tuple(int(part) for part in version.split(".")[:2])
        except (AttributeError, ValueError, OSError):
            return None  # not glibc (musl, macOS): Popen, which knows its platform
        if not (sys.platform.startswith("linux") and hasattr(os, "posix_spawn")
                and name == "glibc" and release >= (2, 26)):
            return None
        return cls()

    @property
    def native(self) -> bool:
        """Whether spawns go through ctypes (letting go of the GIL)."""
        return self._libc is not None

    @staticmethod
    def _native_library():
        """The C library through ctypes, or None where that cannot be had."""
        if not sys.platform.startswith("linux"):
            return None
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.posix_spawn.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.c_char_p,
                                         ctypes.c_void_p, ctypes.c_void_p,
                                         ctypes.c_void_p, ctypes.c_void_p]
            libc.posix_spawn_file_actions_addopen.argtypes = [
                ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint]
            for name in ("posix_spawn_file_actions_init", "posix_spawn_file_actions_adddup2",
                         "posix_spawn_file_actions_destroy", "posix_spawnattr_init",
                         "posix_spawnattr_setsigdefault", "posix_spawnattr_setsigmask",
                         "posix_spawnattr_setflags", "sigemptyset", "sigaddset"):
                getattr(libc, name)
        except (ImportError, OSError, AttributeError):
            return None
        return libc

    def spawn(self, program: str, argv: List[str], environment: Dict[str, str],
              output: int, cleared: Optional[Callable[[], bool]] = None,
              base: Optional[Dict[str, str]] = None) -> int:
        """Start ``program`` (a path) with ``argv`` and ``environment`` over ``base``
        (the variables every start shares, the same dict each time: encoded once),
        its stdout and stderr on ``output``; its pid, or OSError (no such program,
        not executable). ``cleared`` is asked last, right before the call that forks
        (LeaseLapsed)."""
        if self._libc is None:
            still_cleared(cleared)
            return os.posix_spawn(
                program, argv, {**(base or {}), **environment},
                file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                              (os.POSIX_SPAWN_DUP2, output, 1), (os.POSIX_SPAWN_DUP2, output, 2)],
                setsid=True, setsigdef=self.DEFAULT_SIGNALS, setsigmask=())
        ctypes, libc, encoding = self._ctypes, self._libc, self._encoding
        path, arguments = self._arguments(program, argv)
        variables = [*self._shared_variables(base, environment),
                     *[f"{name}={value}".encode(*encoding)
                       for name, value in environment.items()]]
        pairs = (ctypes.c_char_p * (len(variables) + 1))(*variables, None)
        pid = ctypes.c_int()
        actions, slot = self._file_actions()
        try:
            os.dup2(output, slot, inheritable=False)  # what the child's 1 and 2 become
            try:
                still_cleared(cleared)
                failed = libc.posix_spawn(ctypes.byref(pid), path, actions, self._attributes,
                                          arguments, pairs)
            finally:
                os.dup2(self._devnull, slot, inheritable=False)  # the pipe is not kept open
        finally:
            self._spare_actions.append((actions, slot))
        if failed:
            raise OSError(failed, os.strerror(failed), program)
        return pid.value

    def _arguments(self, program: str, argv: List[str]) -> Tuple[bytes, Any]:
        """The program's path and its argument array as the C library takes them, made
        once for each command (the array is only read by posix_spawn, so starts
        going on together share it). Up to 1,024 kept."""
        key = (program, *argv)
        made = self._arrays.get(key)
        if made is None:
            words = [os.fsencode(word) for word in argv]
            if len(self._arrays) >= 1024:
                self._arrays.clear()
            made = self._arrays[key] = (os.fsencode(program), (
                self._ctypes.c_char_p * (len(words) + 1))(*words, None))
        return made

    def _shared_variables(self, base: Optional[Dict[str, str]],
                          over: Dict[str, str]) -> List[bytes]:
        """``base``'s ``NAME=value`` encoded, but for the names ``over`` sets: made
        once for that dict (a run's own variables change at every run and are
        encoded each time: kept, they filled a cache of pairs that had to be
        emptied)."""
        if not base:
            return []
        shared = self._shared
        if shared is None or shared[0] is not base:
            shared = self._shared = (base, [
                f"{name}={value}".encode(*self._encoding)
                for name, value in base.items()])
        if any(name in base for name in over):
            return [text for name, text in zip(base, shared[1]) if name not in over]
        return shared[1]

    def _file_actions(self) -> Tuple[Any, int]:
        """A posix_spawn file-actions object made once, and the descriptor number it
        reads (close-on-exec, held here): the child's stdin from /dev/null, its stdout
        and stderr from that descriptor, which each start points at its run's pipe
        (glibc's posix_spawn returns once the child has called exec, so it may be
        pointed elsewhere right after). Made once instead of at each start (five calls
        through ctypes, ~20 us); one for each start going on at the same time, handed
        back after its start."""
        try:
            return self._spare_actions.pop()
        except IndexError:
            pass
        ctypes, libc = self._ctypes, self._libc
        actions, slot = ctypes.create_string_buffer(512), os.dup(self._devnull)
        libc.posix_spawn_file_actions_init(actions)
        failed = (libc.posix_spawn_file_actions_addopen(actions, 0, os.fsencode(os.devnull),
                                                        os.O_RDONLY, 0)
                  or libc.posix_spawn_file_actions_adddup2(actions, slot, 1)
                  or libc.posix_spawn_file_actions_adddup2(actions, slot, 2))
        if failed:
            libc.posix_spawn_file_actions_destroy(actions)
            os.close(slot)
            raise OSError(failed, os.strerror(failed))
        return actions, slot


class SpawnedCommand:
    """A command a ProcessSpawner started, with what the followers use of a Popen:
    ``pid``, ``args``, ``stdout`` (its stdout and stderr on one pipe), ``wait()``."""

    def __init__(self, pid: int, args: List[str], stdout: io.RawIOBase):
        self.pid, self.args, self.stdout = pid, args, stdout
        self.returncode: Optional[int] = None

    @classmethod
    def start(cls, spawner: ProcessSpawner, argv: List[str], environment: Dict[str, str],
              cleared: Optional[Callable[[], bool]] = None,
              base: Optional[Dict[str, str]] = None) -> "SpawnedCommand":
        """Start ``argv`` with ``environment`` over ``base`` (a bare program name is
        looked up in their PATH, as Popen does); OSError when it cannot start."""
        program = spawner.find(argv[0], environment.get("PATH", (base or {}).get(
            "PATH", os.defpath)))
        output, write_end = os.pipe()
        try:
            pid = spawner.spawn(program, argv, environment, write_end, cleared, base)
        except BaseException:
            os.close(output)
            raise
        finally:
            os.close(write_end)
        return cls(pid, argv, os.fdopen(output, "rb", buffering=0))

    def wait(self) -> int:
        """Its exit status once it has exited (negative: the signal that killed it)."""
        return self._reap(0)

    def poll(self) -> Optional[int]:
        """Its exit status if it has exited, else None."""
        return self._reap(os.WNOHANG)

    def _reap(self, options: int) -> Optional[int]:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, options)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def close_inherited_descriptors_on_exec() -> None:
    """Make every descriptor past stderr that this process inherited close-on-exec, so
    that the commands it starts get none of them (Popen's close_fds, which
    posix_spawn has not; what Python, SQLite and the drivers open is so already)."""
    try:
        descriptors = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return  # no /proc: posix_spawn is used on Linux only
    for fd in descriptors:
        if fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # the directory listing's own descriptor, closed by now


class CommandRunner:
    """Makes one attempt at a job: split its command like a shell word list and
    run it without a shell (its exit status decides), or send its HTTP request."""

    def __init__(self, output_limit: int = OUTPUT_TAIL_BYTES,
                 base_environment: Optional[Dict[str, str]] = None, workdir: str = "",
                 spawner: Union["ProcessSpawner", None, str] = "linux"):
        self.output_limit = output_limit
        self.workdir = workdir   # where a job without a cwd of its own runs ("": here)
        #: What starts commands: a ProcessSpawner (by default on Linux), or Popen where
        #: there is none or the command has a working directory of its own (which
        #: posix_spawn cannot set before Python 3.13).
        self.spawner = ProcessSpawner.for_this_system() if spawner == "linux" else spawner
        self.base_environment = (job_base_environment(dict(os.environ))
                                 if base_environment is None else base_environment)
        self._words: Dict[str, Tuple[str, ...]] = {}  # see words()

    def attempt(self, job: Job, environment: Optional[Dict[str, str]] = None,
                cleared: Optional[Callable[[], bool]] = None) -> Attempt:
        """One try at ``job``; a local command runs with the base environment, the
        job's own variables, then ``environment`` (what the run learns about itself).
        ``cleared``: see ``start``."""
        if job.type == REMOTE_JOB:
            still_cleared(cleared)
            try:
                return self.request(job.remote,
                                    functools.partial(job.render, run=environment or {}))
            except InvalidInput as exc:
                return Attempt(False, error=str(exc))
        started = self.start(job, environment, cleared)
        if isinstance(started, Attempt):
            return started
        return self.follow(started, job.timeout)

    def start(self, job: Job, environment: Optional[Dict[str, str]] = None,
              cleared: Optional[Callable[[], bool]] = None,
              ) -> Union[subprocess.Popen, Attempt]:
        """Start a local job's command and return its process, or the failed
        Attempt when it cannot start (a command that is no word list, no program).
        ``cleared``, when given, is asked right before the fork: when it says no,
        nothing is started and LeaseLapsed is raised."""
        try:
            return self.spawn(job.render(job.command, environment),
                              {**job.environment, **(environment or {})},
                              job.cwd or self.workdir, cleared)
        except InvalidInput as exc:
            return Attempt(False, error=str(exc))

    def run_command(self, command: str, timeout: float = 0.0,
                    environment: Optional[Dict[str, str]] = None) -> Attempt:
        started = self.spawn(command, environment)
        if isinstance(started, Attempt):
            return started
        return self.follow(started, timeout)

    def spawn(self, command: str, environment: Optional[Dict[str, str]] = None,
              cwd: str = "", cleared: Optional[Callable[[], bool]] = None,
              ) -> Union[subprocess.Popen, Attempt]:
        """Start ``command`` (its stdout and stderr on one pipe); InvalidInput when
        it is no word list, the failed Attempt when its program cannot start."""
        argv = self.words(command)
        if any("\0" in text for text in (*argv, *(environment or {}).values())):
            # A template filled in with a field holding one (a job's name, say).
            raise InvalidInput(f"command {command!r} or its environment contains a NUL "
                               f"character, which no program can be given")
        environment = environment or {}
        if cwd and not os.path.isdir(cwd):
            return Attempt(False, error=f"working directory {cwd!r} does not exist (or is "
                                        f"not a directory)")
        try:
            if self.spawner is not None and not cwd:
                return SpawnedCommand.start(self.spawner, argv, environment, cleared,
                                            self.base_environment)
            environment = {**self.base_environment, **environment}
            still_cleared(cleared)
            # A session of its own: a timeout kills the whole process group, and a
            # Ctrl-C meant for the server does not reach the jobs.
            return subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, close_fds=True, start_new_session=True,
                env=environment, cwd=cwd or None)
        except OSError as exc:
            return Attempt(False, error=self._spawn_error(argv[0], exc))

    def words(self, command: str) -> List[str]:
        """``command`` split like a shell word list (InvalidInput when it is none). A
        job's command is split once, not at every run (shlex: ~30 us a command);
        up to 1,024 commands are kept."""
        words = self._words.get(command)
        if words is None:
            try:
                words = tuple(shlex.split(command))
            except ValueError as exc:
                raise InvalidInput(f"command {command!r} cannot be split into words: "
                                   f"{exc}") from None
            if not words:
                raise InvalidInput("the command is empty")
            if len(self._words) >= 1024:
                self._words.clear()
            self._words[command] = words
        return list(words)

    def follow(self, process: subprocess.Popen, timeout: float = 0.0,
               tail: Optional[OutputTail] = None) -> Attempt:
        """Read a started command's output (into ``tail``, which others may read while
        it grows) until it ends; at ``timeout`` it is killed (``end_timed_out``), and
        its output is given up OUTPUT_GRACE later."""
        deadline = time.monotonic() + timeout if timeout else math.inf
        tail, timed_out = tail or OutputTail(self.output_limit), False
        output = process.stdout.fileno()
        with process.stdout, selectors.DefaultSelector() as selector:
            selector.register(output, selectors.EVENT_READ)
            while True:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    if timed_out:
                        break  # something that escaped the kill still holds the output
                    timed_out, deadline = True, time.monotonic() + OUTPUT_GRACE
                    end_timed_out(process)
                    continue
                if selector.select(min(wait, 3600.0)):
                    chunk = os.read(output, 65536)
                    if not chunk:
                        break
                    tail.add(chunk)
        status = process.wait()
        return command_outcome(status, tail, timeout if timed_out else None)

    @staticmethod
    def _spawn_error(program: str, exc: OSError) -> str:
        if isinstance(exc, FileNotFoundError):
            return f'exec: "{program}": executable file not found in $PATH'
        return f'exec: "{program}": {exc.strerror or exc}'

    def request(self, remote: RemoteProperties, render: Callable[[str], str]) -> Attempt:
        body = render(remote.body).encode() if remote.body else None
        request = urllib.request.Request(render(remote.url), data=body, method=remote.method)
        for name, values in remote.headers.items():
            request.add_header(name, ", ".join(values))
        with _RequestDeadline(remote.timeout) as deadline:
            try:
                with deadline.opener().open(request, timeout=remote.timeout) as response:
                    status, payload = response.status, response.read(self.output_limit)
            except urllib.error.HTTPError as exc:
                status, payload = exc.code, exc.read(self.output_limit)
            except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
                status, payload = None, getattr(exc, "reason", exc)
        if deadline.expired:  # what was read is cut short, whatever the status said
            return Attempt(False, error=f"{remote.method} {remote.url} failed: timed out "
                                        f"after {remote.timeout}s")
        if status is None:
            return Attempt(False, error=f"{remote.method} {remote.url} failed: {payload}")
        output = payload.decode("utf-8", "replace")
        if status in remote.expected_response_codes:
            return Attempt(True, output)
        return Attempt(False, output, f"{remote.method} {remote.url} answered {status}, "
                                      f"expected {remote.expected_response_codes}")


class _FollowedCommand:
    """A started command the watcher follows: its output so far, and how far it got."""

    def __init__(self, process: subprocess.Popen, pidfd: int, timeout: float,
                 done: Callable[[Attempt], None], tail: OutputTail):
        self.process = process
        self.pidfd = pidfd
        self.timeout = timeout
        self.done = done
        self.tail = tail
        self.output_open = True
        self.running = True
        self.timed_out = False

    @property
    def ended(self) -> bool:
        """Exited, and everything it started has closed the output too."""
        return not (self.output_open or self.running)


class CommandWatcher:
    """One thread following every started command: it reads their output, learns
    of their exit when the output closes (from a pidfd for one that closes it
    before it exits) and kills those past their timeout, so a running command
    costs a few file descriptors instead of a thread blocked on it. While commands
    end often it looks every ``gather`` seconds, not at each end (WATCH_GATHER).

    Linux only (epoll, pidfd: kernel 5.3); elsewhere ``supported()`` is False
    and the scheduler gives each run a worker thread instead.
    """

    def __init__(self, output_limit: int = OUTPUT_TAIL_BYTES, gather: float = WATCH_GATHER):
        self.output_limit = output_limit
        self.gather = gather
        self._epoll = select.epoll()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._epoll.register(self._wake_read, select.EPOLLIN)
        self._by_fd: Dict[int, _FollowedCommand] = {}
        self._followed = 0
        self._finished = 0                     # commands finished so far (the watcher's own)
        self._deadlines: list = []             # (monotonic, seq, command)
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._sleeping_until = math.inf
        self._stopping_at: Optional[float] = None
        self._stopping = threading.Event()   # ends a gather's wait (stop)
        self._thread = KalaThread(self._watch, "kala-watcher")

    @staticmethod
    def supported() -> bool:
        if not (hasattr(select, "epoll") and hasattr(os, "pidfd_open")):
            return False
        try:
            os.close(os.pidfd_open(os.getpid()))
        except OSError:
            return False  # a kernel older than 5.3
        return True

    def __len__(self) -> int:
        return self._followed

    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def follow(self, process: subprocess.Popen, timeout: float,
               done: Callable[[Attempt], None], tail: Optional[OutputTail] = None) -> None:
        """Follow a started command (its output into ``tail``, which others may read
        while it grows); ``done(attempt)`` is called in the watcher's thread once its
        output is closed and it has exited."""
        deadline = time.monotonic() + timeout if timeout else math.inf
        try:
            pidfd = os.pidfd_open(process.pid)
        except OSError:
            kill_group(process)
            process.wait()
            process.stdout.close()
            raise
        command = _FollowedCommand(process, pidfd, timeout, done,
                                   tail or OutputTail(self.output_limit))
        with self._lock:
            self._followed += 1
            if timeout:
                heapq.heappush(self._deadlines, (deadline, next(self._seq), command))
            wake = deadline < self._sleeping_until
        output = process.stdout.fileno()
        self._by_fd[output] = command
        self._epoll.register(output, select.EPOLLIN)
        if wake:
            self._wake()

    def stop(self, timeout: float) -> None:
        """Wait up to ``timeout`` for the followed commands to end, then stop watching
        (a command still running then is left to itself)."""
        if self._epoll.closed:
            return
        self._stopping_at = time.monotonic() + timeout
        self._stopping.set()
        self._wake()
        if self._thread.is_alive():
            self._thread.join(timeout + 1.0)
        if not self._thread.is_alive():
            self._epoll.close()
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _wake(self) -> None:
        try:
            os.write(self._wake_write, b"x")
        except BlockingIOError:
            pass  # a wake-up is pending already

    def _watch(self) -> None:
        last_round = -math.inf  # when the last round that finished a command ended
        while not (self._stopping_at is not None
                   and (not self._followed or time.monotonic() >= self._stopping_at)):
            with self._lock:
                self._sleeping_until = min(self._deadlines[0][0] if self._deadlines else math.inf,
                                           self._stopping_at or math.inf)
            wait = self._sleeping_until - time.monotonic()
            finished, streaming = self._finished, False
            for fd, _ in self._epoll.poll(min(max(wait, 0.0), 60.0)):
                if fd == self._wake_read:
                    os.read(self._wake_read, 4096)
                    continue
                streaming = self._event(fd) == OUTPUT_CHUNK or streaming
            self._kill_overdue()
            if self._finished > finished and not streaming:
                last_round = self._gather(last_round)

    def _gather(self, last_round: float) -> float:
        """After a round that finished commands (an output closing before its
        command exits finishes none): while such rounds come less than twice the
        gather time apart (commands end often), wait the gather time before looking
        again (WATCH_GATHER). Returns when this round ended."""
        now = time.monotonic()
        if now - last_round < 2 * self.gather:
            self._stopping.wait(self.gather)
        return now

    def _event(self, fd: int) -> int:
        """Read a command's output, or learn of its output closing or its exit (and
        finish it if both): the bytes read."""
        command = self._by_fd[fd]
        if fd == command.pidfd:
            command.running = False
            self._forget(fd)
        else:
            chunk = os.read(fd, OUTPUT_CHUNK)
            if chunk:
                command.tail.add(chunk)
                return len(chunk)
            self._output_closed(command)
        if command.ended:
            self._finish(command)
        return 0

    def _output_closed(self, command: _FollowedCommand) -> None:
        """Its output is closed (or given up on). Whether it has exited is asked then,
        and only a command still running has its pidfd watched: most close their
        output by exiting, and watching every pidfd from the start cost two epoll
        calls and a wake-up a run."""
        command.output_open = False
        self._forget(command.process.stdout.fileno())
        command.process.stdout.close()
        if command.process.poll() is not None:
            command.running = False
        else:
            self._by_fd[command.pidfd] = command
            self._epoll.register(command.pidfd, select.EPOLLIN)

    def _forget(self, fd: int) -> None:
        self._epoll.unregister(fd)
        del self._by_fd[fd]

    def _finish(self, command: _FollowedCommand) -> None:
        os.close(command.pidfd)
        status = command.process.wait()   # it has exited: this only reaps it
        self._finished += 1
        with self._lock:
            self._followed -= 1
            if len(self._deadlines) > 2 * self._followed + 64:  # drop the ended ones
                self._deadlines = [entry for entry in self._deadlines if not entry[2].ended]
                heapq.heapify(self._deadlines)
        try:
            command.done(command_outcome(status, command.tail,
                                         command.timeout if command.timed_out else None))
        except Exception:  # the watcher must outlive any one run
            log.exception("recording the end of %s failed", command.process.args)

    def _kill_overdue(self) -> None:
        now = time.monotonic()
        with self._lock:
            overdue = []
            while self._deadlines and self._deadlines[0][0] <= now:
                overdue.append(heapq.heappop(self._deadlines)[2])
        for command in overdue:
            if command.ended:
                continue
            if command.timed_out:  # killed OUTPUT_GRACE ago, output still held open
                self._output_closed(command)
                if command.ended:
                    self._finish(command)
                continue
            # Its leader may have exited with something it started still holding
            # the output: not reaped yet, the leader's pid is still its group's.
            command.timed_out = True
            end_timed_out(command.process)
            with self._lock:
                heapq.heappush(self._deadlines, (now + OUTPUT_GRACE, next(self._seq), command))


class CommandThreads:
    """The follower where there is no CommandWatcher (no epoll or pidfd): a thread
    per running command, reading it as ``CommandRunner.follow`` does. Same
    interface: ``follow(process, timeout, done)``, ``start()``, ``stop(timeout)``."""

    def __init__(self, runner: "CommandRunner"):
        self._runner = runner
        self._threads: set = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._threads)

    def start(self) -> None:
        pass  # threads start with their commands

    def follow(self, process: subprocess.Popen, timeout: float,
               done: Callable[[Attempt], None], tail: Optional[OutputTail] = None) -> None:
        thread = KalaThread(self._follow, "kala-command",
                            args=(process, timeout, done, tail))
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _follow(self, process: subprocess.Popen, timeout: float,
                done: Callable[[Attempt], None], tail: Optional[OutputTail]) -> None:
        try:
            done(self._runner.follow(process, timeout, tail))
        except Exception:  # the run's bookkeeping failed: logged, the server goes on
            log.exception("recording the end of %s failed", process.args)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def stop(self, timeout: float) -> None:
        """Wait up to ``timeout`` for the followed commands to end."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


# =============================================================================
# The scheduler: timers claim, a starter starts, a follower follows, maintenance
# settles what dead processes left
# =============================================================================

#: Default bound on runs at once, and the size of the pool of worker threads for
#: what blocks (remote jobs, retries, chains of dependent jobs); many per core,
#: since a run mostly waits for its process.
DEFAULT_WORKERS = min(128, 32 * (os.cpu_count() or 1))
#: An occurrence this many seconds overdue counts as missed even though a serve
#: process was running (the whole machine was paused): it is coalesced.
LATE_GRACE = 60.0
#: A serve process whose heartbeat is this old is taken for dead (it hangs); its
#: runs are failed. A process that really died is noticed sooner, by its lock file.
NODE_LEASE = 10.0
#: How often a serve process heartbeats and looks for dead ones.
HEARTBEAT_INTERVAL = 0.5
#: How often a serve process looks for jobs changed by the others.
SYNC_INTERVAL = 0.25
#: A process keeps the timers of the occurrences due within this many seconds and
#: reads the next ones from the database as the window moves (every half of it):
#: its memory follows the jobs due soon, not all of them (100,000 daily jobs held
#: 25 MB of timers).
TIMER_HORIZON = 600.0
#: A wall clock that moved this much more (or less) than the monotonic clock
#: between two heartbeats was stepped (NTP, a resumed VM).
CLOCK_STEP = 1.0
#: How far ahead of an occurrence it is claimed: the claim's transaction (and a
#: slow disk's fsync) happens before the start time instead of delaying it.
CLAIM_AHEAD = 0.1
#: How long a process waits before claiming an occurrence that another live
#: process is preferred for (by hash), so runs spread over the processes.
HANDOFF_DELAY = 0.25
#: /readyz: how long the database may take no write from this process, and how
#: far behind its timers the scheduler may be, before the process is not ready.
READY_WRITE_SILENCE = 2.0
READY_LAG = 1.0
#: A process whose starter is this far behind claims nothing (other live processes
#: claim what it leaves after HANDOFF_DELAY): claims it could not start soon would
#: wait in its queue, a process taken for dead meanwhile would hand them all to one
#: survivor at once, and a process alone would hold an ever longer queue of them.
LEAVE_LAG = READY_LAG
#: How often a process holding its claims back looks whether it caught up.
LEAVE_PAUSE = 0.1


class _Deadlines:
    """A heap of (when, seq, ...) entries that a thread sleeps on until the first is due."""

    def __init__(self):
        self._heap: list = []
        self._seq = itertools.count()
        self._changed = threading.Condition()

    def wait(self, clock: Callable[[], float], longest: float) -> None:
        """Sleep until the earliest entry is due, an entry is added, or ``longest`` passes."""
        with self._changed:
            delay = self._heap[0][0] - clock() if self._heap else longest
            if delay > 0:
                self._changed.wait(min(delay, longest))

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def earliest(self) -> Optional[float]:
        """When the first entry is due (None when there is none)."""
        with self._changed:
            return self._heap[0][0] if self._heap else None

    def _pop_due(self, now: float, keep: Callable[[tuple], bool] = lambda entry: True) -> list:
        """Pop the entries due by ``now``, earliest first; those ``keep`` refuses
        (called under the lock) are dropped."""
        with self._changed:
            due = []
            while self._heap and self._heap[0][0] <= now:
                entry = heapq.heappop(self._heap)
                if keep(entry):
                    due.append(entry)
            return due


#: Finished runs kept per job by default (serve --keep-runs; 0 keeps all).
KEEP_RUNS = 1000


class HistoryBound:
    """Keeps each job's history to about its newest ``keep`` runs: counts the runs
    this process recorded per job, and names a job for pruning once it recorded a
    tenth of ``keep`` more (so a prune reads at most ``keep`` rows for many written)."""

    def __init__(self, keep: int):
        self.keep = keep
        self._step = max(1, keep // 10)
        self._new: Dict[str, int] = {}
        self._lock = threading.Lock()

    def recorded(self, job_id: str) -> None:
        if self.keep:
            with self._lock:
                self._new[job_id] = self._new.get(job_id, 0) + 1

    def due(self) -> List[str]:
        """The jobs to prune now (each is then counted from zero again)."""
        with self._lock:
            due = [job_id for job_id, count in self._new.items() if count >= self._step]
            for job_id in due:
                del self._new[job_id]
        return due


#: How long a replaced or stopped run's command has between SIGTERM and SIGKILL.
REPLACE_GRACE = 5.0
#: How often the output of a command still running is written where the API reads it.
OUTPUT_WRITE_INTERVAL = 1.0


class EndableCommands:
    """The local commands running here, by run id, with their output so far: so that
    one a newer run replaces (concurrency replace) or a stop was asked for (on any
    process) can be ended, SIGTERM to its process group, then SIGKILL once ``grace``
    (REPLACE_GRACE) has passed; and so that their output can be shown while they run.
    A claim asked to end before it started is remembered until it would start."""

    def __init__(self, monotonic: Callable[[], float], grace: float = REPLACE_GRACE):
        self.monotonic = monotonic
        self.grace = grace
        self._lock = threading.Lock()
        self._running: Dict[int, Tuple[subprocess.Popen, Optional[OutputTail]]] = {}
        self._kill_at: Dict[int, float] = {}
        self._signalled: Set[int] = set()         # SIGTERM sent: not again
        self._reasons: Dict[int, str] = {}        # why a run is ending (or ended)
        self._written: Dict[int, Tuple[int, float]] = {}  # output size and time last written

    def add(self, claim: Claim, process: subprocess.Popen,
            tail: Optional[OutputTail] = None) -> None:
        with self._lock:
            self._running[claim.run_id] = (process, tail)
            reason = self._reasons.get(claim.run_id)
        if reason is not None:  # asked to end while it was starting
            self.end({claim.run_id: reason})

    def end(self, reasons: Dict[int, str]) -> None:
        """End the runs of ``reasons`` (run id -> why): the commands running here now,
        and those not started yet once they would start (``ending_before_start``)."""
        with self._lock:
            for run_id, reason in reasons.items():
                self._reasons.setdefault(run_id, reason)
                entry = self._running.get(run_id)
                if entry is None or run_id in self._signalled:
                    continue
                log.info("run %s: %s; ending it", run_id, reason)
                self._signalled.add(run_id)
                self._kill_at[run_id] = self.monotonic() + self.grace
                try:
                    os.killpg(entry[0].pid, signal.SIGTERM)
                except OSError:
                    pass  # ended meanwhile

    def kill_overdue(self) -> None:
        with self._lock:
            now = self.monotonic()
            for run_id, kill_at in list(self._kill_at.items()):
                if kill_at <= now:
                    del self._kill_at[run_id]
                    if run_id in self._running:
                        kill_group(self._running[run_id][0])

    def ending_before_start(self, run_id: int) -> Optional[str]:
        """Why a claim about to start is to end instead (None: it may start)."""
        with self._lock:
            return self._reasons.get(run_id)

    def ended(self, claim: Claim, attempt: Attempt) -> Attempt:
        """A command's attempt is over; one that was ended says why."""
        with self._lock:
            self._running.pop(claim.run_id, None)
            self._kill_at.pop(claim.run_id, None)
            self._signalled.discard(claim.run_id)
            self._written.pop(claim.run_id, None)
            reason = self._reasons.get(claim.run_id)
        if reason is None:
            return attempt
        return dataclasses.replace(attempt, success=False, error=reason)

    def ending(self, run_id: int) -> bool:
        """Whether a run is being ended (it is not retried then)."""
        return run_id in self._reasons

    def forget(self, run_id: int) -> None:
        with self._lock:
            self._reasons.pop(run_id, None)

    def output(self, run_id: int) -> Optional[str]:
        """The output so far of a command running here (None: not running here)."""
        with self._lock:
            entry = self._running.get(run_id)
        if entry is None or entry[1] is None:
            return None
        return entry[1].text()[0]

    def outputs_to_write(self) -> List[Tuple[int, str]]:
        """(run id, output so far) of the commands whose output grew since it was last
        written, at most once per OUTPUT_WRITE_INTERVAL each."""
        now = self.monotonic()
        with self._lock:
            entries = [(run_id, tail) for run_id, (_, tail) in self._running.items()
                       if tail is not None]
        due = []
        for run_id, tail in entries:
            size = tail.dropped + len(tail.kept)
            written_size, written_at = self._written.get(run_id, (0, -math.inf))
            if size != written_size and now - written_at >= OUTPUT_WRITE_INTERVAL:
                self._written[run_id] = (size, now)
                due.append((run_id, tail.text()[0]))
        return due

    def __bool__(self) -> bool:
        return bool(self._running or self._reasons)


class TimerHeap(_Deadlines):
    """When to claim the next occurrence of every scheduled job, earliest first.

    Each job has at most one live entry, its latest (when, cursor); older heap
    entries are skipped when popped. Entries are still hints, not truth: a claim
    checks the cursor in the database, so a stale one only costs a transaction.
    """

    def __init__(self):
        super().__init__()
        self._live: Dict[str, Tuple[float, int]] = {}

    def __len__(self) -> int:
        return len(self._live)

    def heap_size(self) -> int:
        """Entries held, cancelled ones included (they go once they outnumber the live)."""
        return len(self._heap)

    def job_ids(self) -> List[str]:
        with self._changed:
            return list(self._live)

    def push(self, timers: Iterable[Timer], read: bool = False) -> None:
        """Set timers; one with an older cursor than the live one is ignored unless
        ``read`` from the database (a sync, an edit): an edited schedule may count
        from a lower index (a stale read only costs a claim that finds the cursor moved)."""
        with self._changed:
            earliest = self._heap[0] if self._heap else None
            for job_id, when, cursor in timers:
                live = self._live.get(job_id)
                if live is not None and (live == (when, cursor) or (live[1] > cursor
                                                                    and not read)):
                    continue
                self._live[job_id] = (when, cursor)
                heapq.heappush(self._heap, (when, next(self._seq), job_id, cursor))
            if self._heap and self._heap[0] is not earliest:
                # Only a new earliest entry changes how long the timer thread sleeps:
                # waking it for every job created cost a thread switch a creation.
                self._changed.notify()

    def cancel(self, job_ids) -> None:
        with self._changed:
            for job_id in job_ids:
                self._live.pop(job_id, None)
            if len(self._heap) > 2 * len(self._live) + 64:  # drop what was cancelled
                self._heap = [entry for entry in self._heap
                              if self._live.get(entry[2]) == (entry[0], entry[3])]
                heapq.heapify(self._heap)

    def pop_due(self, now: float) -> List[Tuple[str, int]]:
        """(job id, cursor) of the live timers due by ``now``."""
        return [(job_id, cursor) for _, _, job_id, cursor in self._pop_due(now, self._take_live)]

    def _take_live(self, entry: tuple) -> bool:
        when, _, job_id, cursor = entry
        if self._live.get(job_id) != (when, cursor):
            return False  # replaced or cancelled since it was pushed
        del self._live[job_id]
        return True


class StartQueue(_Deadlines):
    """Runs claimed ahead of their occurrence, each waiting for its start time, or
    for ``mark_ahead`` before it when its start is still to be marked (the fence's
    ``mark_ahead``)."""

    def __init__(self, mark_ahead: float = 0.0):
        super().__init__()
        self.mark_ahead = mark_ahead

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, claims, when: Optional[float] = None, early: bool = True) -> None:
        """Queue claims for their time (or for ``when``, a later try); ``early``
        False: those to be marked too, at their time."""
        with self._changed:
            earliest = self._heap[0] if self._heap else None
            for claim in claims:
                at = claim.start_time if claim.start_marked is not None or not early else (
                    claim.start_time - self.mark_ahead)
                heapq.heappush(self._heap, (at if when is None else when, next(self._seq), claim))
            if self._heap and self._heap[0] is not earliest:  # the starter's wait is shorter
                self._changed.notify()

    def pop_due(self, now: float) -> List["Claim"]:
        return [claim for _, _, claim in self._pop_due(now)]

    def claims(self) -> List["Claim"]:
        """The claims waiting, in no order."""
        with self._changed:
            return [claim for _, _, claim in self._heap]


class WorkerPool:
    """A fixed number of threads running submitted tasks; size 0 runs them inline."""

    def __init__(self, size: int):
        self.size = size
        self._tasks: "queue.SimpleQueue" = queue.SimpleQueue()
        self._threads = [KalaThread(self._work, f"kala-worker-{i}")
                         for i in range(size)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(self, task: Callable, *args) -> None:
        if self.size == 0:
            self._call(task, args)
        else:
            self._tasks.put((task, args))

    def stop(self, timeout: float) -> None:
        for _ in self._threads:
            self._tasks.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        for item in iter(self._tasks.get, None):
            self._call(*item)

    @staticmethod
    def _call(task: Callable, args: tuple) -> None:
        try:
            task(*args)
        except Exception:  # a worker must outlive any one run
            log.exception("task %s failed", getattr(task, "__name__", task))


class SchedulerMetrics:
    """What this process did, for ``GET /metrics``: counters and histograms. Labels
    come from small fixed sets (result, trigger, reason), never from jobs: a job's
    figures are its stats, and a label per job would grow without bound."""

    RESULTS = ("succeeded", "failed", "skipped")
    TRIGGERS = ("schedule", "manual", "parent", "failure")
    SKIP_REASONS = ("missed", "concurrency")

    def __init__(self):
        self._lock = threading.Lock()
        self.runs = {(result, trigger): 0 for result in self.RESULTS for trigger in self.TRIGGERS}
        self.skipped = dict.fromkeys(self.SKIP_REASONS, 0)
        self.retries = 0
        self.claims = 0
        self.run_seconds = Histogram(RUN_BUCKETS)
        self.lag_seconds = Histogram(LAG_BUCKETS)
        self.claim_seconds = Histogram(DATABASE_BUCKETS)

    def run_finished(self, trigger: str, success: bool, retries: int, seconds: float) -> None:
        with self._lock:
            key = ("succeeded" if success else "failed", trigger)
            if key in self.runs:
                self.runs[key] += 1
            self.retries += retries
        self.run_seconds.observe(seconds)

    def occurrence_skipped(self, reason: str, trigger: str = "schedule") -> None:
        with self._lock:
            self.skipped[reason] += 1
            if reason == "concurrency" and ("skipped", trigger) in self.runs:
                self.runs["skipped", trigger] += 1

    def claimed(self, count: int, seconds: float) -> None:
        with self._lock:
            self.claims += count
        self.claim_seconds.observe(seconds)


def metrics_exposition(metrics: SchedulerMetrics, counts: "AppCounts", *, node: str,
                       running: int, heartbeat_age: float, commit_seconds: Histogram) -> str:
    """The Prometheus text exposition format, version 0.0.4 (``commit_seconds``: the
    store's commit times)."""
    out: List[str] = []

    def family(name: str, kind: str, help_text: str, samples: Iterable[str]) -> None:
        out.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples])
    with metrics._lock:
        runs, skipped = dict(metrics.runs), dict(metrics.skipped)
        retries, claims = metrics.retries, metrics.claims
    family("kala_runs_total", "counter", "Runs this process finished, by result and trigger.",
           [f'kala_runs_total{{result="{result}",trigger="{trigger}"}} {n}'
            for (result, trigger), n in runs.items()])
    family("kala_retries_total", "counter", "Retries made by the runs this process finished.",
           [f"kala_retries_total {retries}"])
    family("kala_skipped_occurrences_total", "counter",
           "Occurrences this process skipped: missed (downtime, epsilon) or concurrency forbid.",
           [f'kala_skipped_occurrences_total{{reason="{reason}"}} {n}'
            for reason, n in skipped.items()])
    family("kala_run_duration_seconds", "histogram", "How long runs took, retries included.",
           metrics.run_seconds.exposition("kala_run_duration_seconds"))
    family("kala_firing_lag_seconds", "histogram",
           "How late scheduled runs started after their scheduled time.",
           metrics.lag_seconds.exposition("kala_firing_lag_seconds"))
    family("kala_runs_running", "gauge", "Runs going in this process now.",
           [f"kala_runs_running {running}"])
    family("kala_jobs", "gauge", "Jobs in the database, by state.",
           [f'kala_jobs{{state="enabled"}} {counts.active}',
            f'kala_jobs{{state="disabled"}} {counts.disabled}'])
    family("kala_claims_total", "counter", "Runs this process claimed on schedule.",
           [f"kala_claims_total {claims}"])
    family("kala_claim_seconds", "histogram", "How long a claim transaction took.",
           metrics.claim_seconds.exposition("kala_claim_seconds"))
    family("kala_database_commit_seconds", "histogram", "How long this process's commits took.",
           commit_seconds.exposition("kala_database_commit_seconds"))
    family("kala_node_info", "gauge", "This process's node id.",
           [f'kala_node_info{{node="{_label_value(node)}"}} 1'])
    family("kala_heartbeat_age_seconds", "gauge",
           "Seconds since this process's last heartbeat in the database.",
           [f"kala_heartbeat_age_seconds {_metric_number(round(heartbeat_age, 6))}"])
    family("kala_nodes", "gauge", "Processes registered in the database.",
           [f"kala_nodes {len(counts.nodes)}"])
    return "\n".join(out) + "\n"


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


class Outcome(enum.Enum):
    """What became of a claimed run in this process (``Claim.outcome``)."""

    RECORDED = "recorded"          # it ran here and its result is committed
    CLAIM_LOST = "claim lost"      # it ran here, but its claim was gone: result refused
    NOT_RECORDED = "not recorded"  # it ran here, and writing its result failed for good
    NOT_STARTED = "not started"    # another process took it over before it started here
    DEFERRED = "deferred"          # not settled yet: a retry waits for its retry_delay


class FollowUps:
    """A chain of what finished runs owe, run one after another as Kala runs them: a
    run's children after its success (in the order they were created), or its
    failure job after its failure; each once the one before has settled, and a
    child's own follow-ups before its next sibling. Each is claimed under a key made
    of the run and itself, so a process taking over a dead one's chain skips what
    was claimed already. Only one thread works on a chain at a time."""

    def __init__(self):
        self._frames: List[list] = []   # [run's claim, its success, job ids left (None: unread)]

    def owe(self, claim: Claim, success: bool) -> None:
        self._frames.append([claim, success, None])

    def next_step(self, store: "Store", node: str) -> Optional[Tuple[str, str, str]]:
        """(job id, claim key, trigger) of the next follow-up; None when every one is
        claimed. A run whose follow-ups are all claimed stops owing them in the store."""
        while self._frames:
            frame = self._frames[-1]
            claim, success, pending = frame
            if pending is None:
                frame[2] = pending = (store.dependent_jobs(claim.job.id) if success else
                                      [claim.job.on_failure_job] * bool(claim.job.on_failure_job))
            if pending:
                if success:
                    return pending[0], ClaimKey.child(claim.run_id, pending[0]), "parent"
                return pending[0], ClaimKey.failure(claim.run_id), "failure"
            store.followups_done(claim.run_id, node)
            self._frames.pop()
        return None

    def claimed(self) -> None:
        """The follow-up ``next_step`` named is claimed (or gone): on to the one after."""
        self._frames[-1][2].pop(0)


def default_node_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


#: How many times a run about to start is confirmed when each answer comes back too late
#: to be trusted (Lease.may_fork); then it waits a second and tries again.
MAY_FORK_ASKS = 3


class Lease:
    """Fencing on this process's side: when the database last heard from it, and a
    lease generation bumped whenever it went longer than its trust (half a lease,
    or less where the fence can find it dead sooner) without hearing so. Every
    claim carries the generation it was made (or last confirmed) in; one from an
    older generation is confirmed in the database before it starts.
    """

    def __init__(self, store: Store, node: str, lease: float, clock: Callable[[], float],
                 monotonic: Callable[[], float]):
        self.store, self.node, self.lease = store, node, lease
        self.clock, self.monotonic = clock, monotonic
        #: How long after the database last heard from it this process starts claims
        #: without asking: less than any silence after which another process may
        #: take it for dead (a whole lease; on a database server, PRESENCE_GRACE with
        #: its presence session ended, which a live process does not see at once).
        self.trust = min(lease / 2, store.fence.trust)
        #: When this process last heard from the database that it is alive (monotonic):
        #: a heartbeat or a claim, which register it.
        self.confirmed_at = -math.inf
        self._generation = 0
        self._lock = threading.Lock()
        #: Set when a claim's commit was uncertain: maintenance looks for what it claimed.
        self.claims_uncertain = threading.Event()

    def silent_for(self) -> float:
        return self.monotonic() - self.confirmed_at

    @contextmanager
    def confirming(self):
        """Around a store call that heartbeats this process (a claim, maintenance):
        yields the generation that claims made by the call belong to."""
        before = self.monotonic()  # before the caller reads the wall clock it beats with
        with self._lock:
            generation = self._generation_at(before)
        try:
            yield generation
        except CommitUncertain:
            self.claims_uncertain.set()  # the next maintenance finds what was claimed
            raise
        with self._lock:
            self.confirmed_at = max(self.confirmed_at, before)

    def _generation_at(self, now: float) -> int:
        """The generation at monotonic ``now``: a new one once ``trust`` went by
        without a confirmed heartbeat (call with the lock held)."""
        if now - self.confirmed_at > self.trust:
            self._generation += 1
        return self._generation

    def confirm(self, claims: List[Claim]) -> None:
        """Confirm in one round trip the claims due to start that ``may_fork`` would
        otherwise ask the database about one by one (those of an older generation,
        after a silence over ``trust``). Those still this process's join the current
        generation; the others are asked about again, and refused, at their fork.
        The database not answering leaves it to ``may_fork`` too."""
        with self._lock:
            current = self._generation_at(self.monotonic())
        stale = [claim for claim in claims if claim.generation != current]
        if len(stale) < 2:
            return
        for first in range(0, len(stale), 500):  # SQL parameters are bounded
            chunk = stale[first:first + 500]
            try:
                with self.confirming() as generation:
                    owned = set(self.store.confirm_claims([claim.run_id for claim in chunk],
                                                          self.node, self.clock()))
            except StoreUnavailable:
                return
            for claim in chunk:
                if claim.run_id in owned:
                    claim.generation = generation

    def may_fork(self, claim: Claim) -> bool:
        """Whether this process may start ``claim`` now, asked right before its command
        is forked (or its request sent), after the fence noted or marked its start.

        Another process takes this one for dead only after a whole lease of silence
        (or its presence gone and PRESENCE_GRACE of silence), and then reads its
        ledger, or the run's start mark: a claim not noted or marked as started is
        run by that process instead, one that was is recorded ``node died``. So a
        claim may start here only if no more than ``trust`` (less than either) went
        by without a heartbeat since it was claimed or last confirmed (its
        generation is the current one); after such a gap (SIGSTOP, a frozen VM, a
        writer that held the database, a connection that hung, threads starved of
        CPU) the database is asked. This holds after a start mark made ahead too: a
        run marked, then paused past ``trust``, is not started when it is continued.
        The runner asks once more right before the fork (``clearance``), so what
        remains is the call that forks (and, across machines, the difference of
        their clocks, within what ``trust`` leaves of the grace). Raises
        StoreUnavailable when the database cannot say.

        An answer that came back later than ``trust`` after the question is asked
        again: the heartbeat the question wrote is as old as the question, and a
        process that found it older than a lease may have failed the run meanwhile
        (a chaos run saw a run forked 2.8 s late, recorded ``node died``, beside the
        next run of its forbid job).
        """
        if self._current(claim):
            return True
        for _ in range(MAY_FORK_ASKS):
            with self.confirming() as generation:
                owned = self.store.confirm_claims([claim.run_id], self.node, self.clock())
            if not owned:
                log.warning("job %s: not starting run %s: this process was silent for a "
                            "while and another one has taken the run over (or recorded it "
                            "'%s')", claim.job.id, claim.run_id, NODE_DIED)
                return False
            with self._lock:
                if generation == self._generation_at(self.monotonic()):
                    claim.generation = generation
                    return True
        raise StoreUnavailable(f"the database confirmed run {claim.run_id} too late "
                               f"{MAY_FORK_ASKS} times (over {self.trust:g} s each)")

    def clearance(self, claim: Claim) -> Callable[[], bool]:
        """What the runner asks right before ``claim``'s fork (or request), after
        ``may_fork`` let it start: whether no silence past ``trust`` came since. A
        pause between the check and the fork (SIGSTOP, threads starved of CPU; a
        chaos run saw a run forked 3 ms after a 4.6 s stop, beside the survivor's
        next run of its forbid job) then stops it there (LeaseLapsed)."""
        return functools.partial(self._current, claim)

    def _current(self, claim: Claim) -> bool:
        """Whether ``claim`` belongs to the current generation (no silence past ``trust``
        since it was made or confirmed)."""
        with self._lock:
            return claim.generation == self._generation_at(self.monotonic())


class RunAttempts:
    """Makes a claimed run's attempts, one after another: its command or request,
    its retries (at once, or after their delay as a claim waiting in the start
    queue), and its result. Every retry is known to the database before it is made:
    a process taking this one for dead must not make it too."""

    def __init__(self, store: Store, node: str, runner, lease: Lease, queue: "StartQueue",
                 endable: EndableCommands, metrics: SchedulerMetrics,
                 clock: Callable[[], float], stop: threading.Event):
        self.store, self.node, self.runner, self.lease = store, node, runner, lease
        self.queue, self.endable, self.metrics = queue, endable, metrics
        self.clock, self._stop = clock, stop

    def environment(self, claim: Claim) -> Dict[str, str]:
        """What a run's command learns about itself, in environment variables; a
        failure job also learns what failed (read from the store)."""
        environment = {"KALA_JOB_ID": claim.job.id, "KALA_JOB_NAME": claim.job.name,
                       "KALA_RUN_ID": str(claim.run_id), "KALA_TRIGGER": claim.trigger,
                       "KALA_SCHEDULED_FOR": format_time(claim.scheduled_for),
                       "KALA_NODE": self.node}
        failed_run = ClaimKey.failed_run(claim.key)
        if claim.trigger == "failure" and failed_run is not None:
            job_id, name, error = self.store.failed_run(failed_run)
            environment.update(KALA_FAILED_JOB_ID=job_id, KALA_FAILED_JOB_NAME=name,
                               KALA_FAILED_RUN_ID=str(failed_run), KALA_FAILED_ERROR=error)
        return environment

    def retried_now(self, claim: Claim, attempt: Attempt) -> bool:
        """Whether a first attempt that ended (followed, not made in a worker) is to be
        retried: the retries then go on in a worker."""
        return (not attempt.success and claim.prior_attempts < claim.job.retries
                and not self.endable.ending(claim.run_id))

    def make(self, claim: Claim, environment: Dict[str, str], ran_at: Optional[float] = None,
             attempt: Optional[Attempt] = None, cleared: Optional[Callable[[], bool]] = None,
             ) -> Union[RunResult, "Outcome"]:
        """Make a claimed run's attempts, retries included; ``attempt`` is a first one
        already made, started at ``ran_at``. ``Outcome.DEFERRED`` when the next
        attempt waits for its retry_delay in the start queue. ``cleared`` is asked
        right before the first attempt made here forks (LeaseLapsed when it says no)."""
        job = claim.job
        lag_unnoted = attempt is None
        ran_at = claim.first_ran_at or (self.clock() if ran_at is None else ran_at)
        failures = claim.prior_attempts
        earlier: List[Attempt] = list(claim.earlier)
        while True:
            if attempt is None:
                try:
                    attempt = self._attempt(claim, environment, cleared)
                except LeaseLapsed:
                    raise  # not started: the claim waits and asks the database
                except Exception as exc:  # whatever it is, the run fails, not the thread
                    log.exception("job %s: run %s could not start", job.id, claim.run_id)
                    attempt = Attempt(False, error=f"could not start: {exc}")
                if lag_unnoted:  # once it went ahead: a lapsed lease is tried again later
                    self.note_lag(claim, ran_at)
                    lag_unnoted = False
            if attempt.success:
                break
            failures += 1
            if failures > job.retries or self.endable.ending(claim.run_id):
                break
            if too_late(job, claim.scheduled_for, self.clock()):
                break  # too late to retry: Kala's epsilon
            if job.retry_delay:
                if self._persistently(self._wait_for_retry, claim, ran_at, failures,
                                      [*earlier, attempt]):
                    return Outcome.DEFERRED  # the retry waits in the start queue, as a claim
                break  # it would start too late (epsilon), or the claim was lost
            if not self._persistently(self._record_retry, claim, failures):
                break  # taken for dead meanwhile: another process owns the run now
            earlier.append(attempt)
            attempt = cleared = None  # a retry recorded: the database just said it is ours
        return self.result(claim, ran_at, failures, attempt, earlier)

    def _persistently(self, write: Callable[..., bool], *args) -> bool:
        """``write(*args)``, written again every second while the database is away;
        False when stopping meanwhile."""
        while True:
            try:
                return write(*args)
            except StoreUnavailable as exc:
                log.warning("a retry waits for the database (%s); trying again in a second",
                            exc)
                if self._stop.wait(1.0):
                    return False

    def _record_retry(self, claim: Claim, failures: int) -> bool:
        with self.lease.confirming():
            return self.store.record_retry(claim, self.node, failures, self.clock())

    def _wait_for_retry(self, claim: Claim, ran_at: float, failures: int,
                        attempts: List[Attempt]) -> bool:
        """Queue the next attempt of a run after its retry_delay, holding no thread or
        slot: the run waits in the database as a claim due then (so it survives this
        process) and in the start queue. False when it is not to be retried: too
        late (epsilon) or the claim was lost."""
        now = self.clock()
        retry_at = now + claim.job.retry_wait(failures)
        if too_late(claim.job, claim.scheduled_for, retry_at):
            return False
        with self.lease.confirming():
            owned = self.store.wait_for_retry(claim, self.node, failures, now, retry_at)
        if not owned:
            return False
        log.info("job %s: run %s failed (attempt %d); retrying at %s", claim.job.id,
                 claim.run_id, failures, format_time(retry_at))
        claim.uncounted_failures += failures - claim.prior_attempts
        claim.prior_attempts, claim.retry_at = failures, retry_at
        claim.first_ran_at, claim.earlier = ran_at, attempts
        claim.start_marked = claim.start_stamp = None
        self.queue.push([claim])
        return True

    def _attempt(self, claim: Claim, environment: Dict[str, str],
                 cleared: Optional[Callable[[], bool]] = None) -> Attempt:
        """One attempt made here and now; a concurrency replace job's command is
        kept where a newer run can end it."""
        job = claim.job
        if job.type != LOCAL_JOB or not isinstance(self.runner, CommandRunner):
            return self.runner.attempt(job, environment, cleared)
        started = self.runner.start(job, environment, cleared)
        if isinstance(started, Attempt):
            return started
        tail = OutputTail(self.runner.output_limit)
        self.endable.add(claim, started, tail)
        return self.endable.ended(claim, self.runner.follow(started, job.timeout, tail))

    def result(self, claim: Claim, ran_at: float, failures: int, last: Attempt,
               earlier: Sequence[Attempt] = ()) -> RunResult:
        """A run's result from its last attempt and its ``failures`` (those of a
        dead process that ran it before included); the output of each attempt
        made here is kept."""
        self.endable.forget(claim.run_id)
        output, dropped = attempts_output(
            [*earlier, last], getattr(self.runner, "output_limit", OUTPUT_TAIL_BYTES))
        return RunResult(last.success, ran_at, self.clock(),
                         retries=failures if last.success else failures - 1,
                         failures=failures - claim.prior_attempts + claim.uncounted_failures,
                         output=output,
                         error=last.error, output_dropped=dropped)

    def note_lag(self, claim: Claim, started_at: float) -> None:
        if claim.trigger == "schedule" and claim.first_ran_at is None:  # not a retry
            self.metrics.lag_seconds.observe(max(0.0, started_at - claim.scheduled_for))


#: At most this many starts are marked together (one statement on a database
#: server, one ledger write on SQLite) and then started one after another, ~1 ms
#: each. A process killed meanwhile leaves the rest of the batch marked and not
#: started: recorded "node died" without having run. With a batch of up to
#: --workers (64) runs, a process behind lost ~450 runs so per 25,000-occurrence
#: chaos run on PostgreSQL.
MARK_BATCH = 16
#: The fewest starts due together that the starter shares with the ForkHelper: a
#: hand-off costs two thread switches, which at a steady rate (batches of one to a
#: few) cost more than the second thread gains.
HELP_FROM = 8


class ForkHelper:
    """A second thread starting commands when several are due at once. A start waits
    ~0.35 ms for its child's exec, outside the GIL (ProcessSpawner), so two threads
    start 12-15 % more processes a second than one (the children's exec takes the
    rest of two cores; a burst of 1,000 jobs came a fifth sooner); the starter
    hands every other start of a batch of HELP_FROM or more here and waits for them
    before it goes on (a start it has marked is never left behind)."""

    def __init__(self):
        self._handed: "queue.SimpleQueue[Optional[Tuple[List[Claim], Callable]]]" = \
            queue.SimpleQueue()
        self._done = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start_all(self, claims: List[Claim], start: Callable[[Claim], None]) -> None:
        """``start(claim)`` for each of ``claims``, half of them in the helper's thread;
        returns once all have been started."""
        if len(claims) < HELP_FROM:
            for claim in claims:
                start(claim)
            return
        if self._thread is None:
            self._thread = KalaThread(self._help, "kala-forks")
            self._thread.start()
        self._done.clear()
        self._handed.put((claims[1::2], start))
        try:
            for claim in claims[0::2]:
                start(claim)
        finally:
            self._done.wait()  # even after a failure here: one hand-off at a time

    def stop(self, timeout: float) -> None:
        if self._thread is not None:
            self._handed.put(None)
            self._thread.join(timeout)

    def _help(self) -> None:
        while True:
            handed = self._handed.get()
            if handed is None:
                return
            claims, start = handed
            for claim in claims:
                try:
                    start(claim)
                except Exception:  # start() fails a run it cannot start; this is a bug
                    log.exception("job %s: starting run %s failed", claim.job.id, claim.run_id)
            self._done.set()


class Starter:
    """Starts claimed runs at their time, at most --workers at once, whatever claimed
    them (a timer, the API, a parent, a failure, a takeover): each comes out of the
    start queue, takes a slot, has its start noted or marked by the store's fence
    (``mark_ahead`` before its time, together with those due next), and is checked
    against the lease right before its fork. A local command is then followed by
    the follower (a CommandWatcher, or CommandThreads); what blocks (a remote
    request, retries, or any attempt where nothing follows commands) runs in a pool
    worker. A start the database cannot confirm gives its slot back and waits a
    second: it is tried again until it runs or another process has taken it over.
    """

    def __init__(self, store: Store, node: str, lease: Lease, attempts: RunAttempts,
                 pool: WorkerPool, queue: StartQueue, endable: EndableCommands,
                 workers: int, clock: Callable[[], float]):
        self.store, self.node, self.lease, self.attempts = store, node, lease, attempts
        self.pool, self.queue, self.endable, self.clock = pool, queue, endable, clock
        self.fence = store.fence
        self.slots = threading.Semaphore(max(1, workers))
        #: What follows running commands (set at start); None: every attempt in a worker.
        self.follower: Optional[Union[CommandWatcher, CommandThreads]] = None
        self.completion: Optional["Completion"] = None   # where runs end (set by Scheduler)
        #: The last start stamp given: each mark's is later, so that a run marked once
        #: can be marked again only through the claim that holds its stamp.
        self._last_stamp = -math.inf
        #: The start time of the earliest claim taken out of the queue and not started
        #: yet (waiting for a slot, its mark or its fork); None when there is none.
        self._in_hand_since: Optional[float] = None
        self.forks = ForkHelper()

    def behind_since(self) -> Optional[float]:
        """When the earliest claim still to be started was due: in the queue, or out
        of it and waiting for a slot or its fork (a takeover of thousands of runs
        leaves the queue at once). None when nothing waits."""
        times = [when for when in (self.queue.earliest(), self._in_hand_since)
                 if when is not None]
        return min(times) if times else None

    def on_time(self, claims: List[Claim], now: float) -> None:
        """Queue claims to start at their time (wakes the starter thread)."""
        self.queue.push(claims)
        if not self.pool.size:
            self.start_due(now)

    def start_due(self, now: Optional[float] = None) -> None:
        """Start the claimed runs whose start time has come. A run whose start is still
        to be marked comes out ``mark_ahead`` before its time: it is marked with the
        others coming due next, together, and waits for its time again."""
        now = self.clock() if now is None else now
        due = self.queue.pop_due(now)
        early = [claim for claim in due if claim.start_time > now]
        if early:
            due = [claim for claim in due if claim.start_time <= now]
            self._mark_early(early + self.queue.pop_due(now + self.queue.mark_ahead))
        try:
            while due:
                self._in_hand_since = due[0].start_time
                self.slots.acquire()  # given back when the run has ended, or it waits again
                batch = [due.pop(0)]
                while due and len(batch) < MARK_BATCH and self.slots.acquire(blocking=False):
                    batch.append(due.pop(0))
                commands = []
                ready = self._ready(batch)
                # After a silence (a pause, or a loop through a backlog that outlasted
                # the lease's trust): one round trip for all still to start, not one each.
                self.lease.confirm(ready + due)
                for claim in ready:
                    if self.follower is None or claim.job.type == REMOTE_JOB:
                        self.pool.submit(self._run_in_worker, claim)
                    else:
                        commands.append(claim)
                self.forks.start_all(commands, self._start_command)
        finally:
            self._in_hand_since = None

    def _ready(self, batch: List[Claim]) -> List[Claim]:
        """Those of ``batch`` (each holding a slot) whose start may go ahead: a waiting
        retry is first taken back out of a survivor's reach, then each start is
        noted or marked. One the database cannot answer for now waits a second and
        tries again; one another process took over is settled as not started."""
        ready = []
        for claim in batch:
            reason = self.endable.ending_before_start(claim.run_id)
            if reason is not None:  # a stop was asked for before it started: it does not
                now = self.clock()
                self._finished(claim, self.attempts.result(
                    claim, claim.first_ran_at or now, claim.prior_attempts + 1,
                    Attempt(False, error=reason), claim.earlier), wait=False)
                continue
            if claim.retry_at is not None:
                try:
                    if not self.store.retry_starting(claim, self.node):
                        log.warning("job %s: not starting the retry of run %s: another "
                                    "process has taken it over", claim.job.id, claim.run_id)
                        self._not_started(claim)
                        continue
                except StoreUnavailable as exc:
                    self._try_again(claim, exc)
                    continue
                claim.retry_at = None
            ready.append(claim)
        unmarked = [claim for claim in ready if claim.start_marked is None]
        if unmarked and not self._mark(unmarked):  # they wait a second and try again
            for _ in unmarked:
                self.slots.release()
        marked = []
        for claim in ready:
            if claim.start_marked:
                marked.append(claim)
            elif claim.start_marked is False:
                log.warning("job %s: not starting run %s: it was started already, or another "
                            "process has taken it over", claim.job.id, claim.run_id)
                self._not_started(claim)
        return marked

    def _mark_early(self, claims: List[Claim]) -> None:
        """Mark the starts of runs coming due, together (MARK_BATCH at most), while
        slots are free for them; the others are marked at their time, once they
        have a slot (a run waiting for one stays a claim that a survivor would run)."""
        free = [claim for claim in claims
                if claim.start_marked is None and self.slots.acquire(blocking=False)]
        for _ in free:
            self.slots.release()
        free = free[:MARK_BATCH]  # the others are marked at their time too
        if free and not self._mark(free):  # those wait a second and try again
            retried = {claim.run_id for claim in free}
            claims = [claim for claim in claims if claim.run_id not in retried]
        self.queue.push(claims, early=False)

    def _mark(self, claims: List[Claim]) -> bool:
        """Have the fence note or mark the runs about to start; False when the database
        cannot answer: they wait a second in the queue and try again (each keeps its
        claim, which a process taking this one for dead would take over). A mark is
        no heartbeat: the lease is checked at the fork."""
        # A run queued twice (read back after an uncertain commit while its claim was
        # on its way to start) is marked through one claim: the first, unless another
        # is waited for, followed or stamped already. Marked together, both would
        # have been told it is theirs.
        chosen: Dict[int, Claim] = {}
        for claim in claims:
            other = chosen.get(claim.run_id)
            if other is None or (other.settled is None and other.chain is None
                                 and other.start_stamp is None):
                chosen[claim.run_id] = claim
        try:
            owned = set()
            now = self._last_stamp = max(self.clock(), self._last_stamp + 1e-6)
            for claim in claims:
                claim.start_stamp = claim.start_stamp or now
            for stamp in sorted({claim.start_stamp for claim in claims}):
                owned.update(self.fence.starting(
                    [claim.run_id for claim in claims if claim.start_stamp == stamp],
                    self.node, stamp))
        except StoreUnavailable as exc:
            log.warning("cannot mark %d run(s) started (%s); trying again in a second",
                        len(claims), exc)
            self.queue.push(claims, when=self.clock() + 1.0)
            return False
        for claim in claims:
            claim.start_marked = claim.run_id in owned and chosen[claim.run_id] is claim
        return True

    def _try_again(self, claim: Claim, exc: StoreUnavailable) -> None:
        """A claim holding a slot whose start cannot go ahead now (the database cannot
        say whether it is still this process's, or this process went silent past its
        trust right before the fork): it gives the slot back and waits a second in
        the queue, a claim not started (which a survivor would run)."""
        log.warning("job %s: run %s cannot start now (%s); trying again in a second",
                    claim.job.id, claim.run_id, exc)
        self.fence.claimed([claim.run_id])
        claim.start_marked = None  # noted or marked again (with its stamp) next time
        self.slots.release()
        self.queue.push([claim], when=self.clock() + 1.0)

    def _not_started(self, claim: Claim) -> None:
        """A claim holding a slot that another process took over before it started here."""
        self.slots.release()
        self.completion.settle(claim, Outcome.NOT_STARTED)

    def _cleared(self, claim: Claim) -> Optional[Dict[str, str]]:
        """Right before a run's fork: its environment when the lease lets it start; None
        when it may not (another process took it over: settled) or the database cannot
        say (it waits a second)."""
        try:
            environment = self.attempts.environment(claim)
            if self.lease.may_fork(claim):
                return environment
            self._not_started(claim)
        except StoreUnavailable as exc:
            self._try_again(claim, exc)
        return None

    def _start_command(self, claim: Claim) -> None:
        """Start a claimed local command; the follower calls ``_attempted`` at its end."""
        ran_at = self.clock()
        environment = self._cleared(claim)
        if environment is None:
            return
        try:
            started = self.attempts.runner.start(claim.job, environment,
                                                 self.lease.clearance(claim))
            if not isinstance(started, Attempt):
                self.attempts.note_lag(claim, ran_at)
                tail = OutputTail(self.attempts.runner.output_limit)
                self.endable.add(claim, started, tail)
                self.follower.follow(started, claim.job.timeout,
                                     functools.partial(self._attempted, claim, ran_at,
                                                       environment), tail)
                return
        except LeaseLapsed as exc:
            self._try_again(claim, exc)
            return
        except Exception as exc:  # out of file descriptors, say: the run fails, not the starter
            log.exception("job %s: starting run %s failed", claim.job.id, claim.run_id)
            started = Attempt(False, error=f"could not start: {exc}")
        self._attempted(claim, ran_at, environment, started)

    def _attempted(self, claim: Claim, ran_at: float, environment: Dict[str, str],
                   attempt: Attempt) -> None:
        """The first attempt of a followed command has ended (in the follower's
        thread, which must not wait): retries go on in a worker."""
        attempt = self.endable.ended(claim, attempt)
        if self.attempts.retried_now(claim, attempt):
            self.pool.submit(self._run_in_worker, claim, ran_at, attempt, environment)
            return
        self._finished(claim, self.attempts.result(
            claim, claim.first_ran_at or ran_at, claim.prior_attempts + (not attempt.success),
            attempt, claim.earlier), wait=False)

    def _run_in_worker(self, claim: Claim, ran_at: Optional[float] = None,
                       attempt: Optional[Attempt] = None,
                       environment: Optional[Dict[str, str]] = None) -> None:
        """A run's attempts that block, in a pool worker (``attempt``: a first one
        already made, followed)."""
        cleared = None
        if attempt is None:
            environment = self._cleared(claim)
            if environment is None:
                return
            cleared = self.lease.clearance(claim)
        try:
            result = self.attempts.make(claim, environment, ran_at, attempt, cleared)
        except LeaseLapsed as exc:
            self._try_again(claim, exc)
            return
        except Exception as exc:  # a bug: the run is recorded as failed, never dropped
            log.exception("job %s: run %s failed in kala.py", claim.job.id, claim.run_id)
            result = self.attempts.result(claim, claim.first_ran_at or ran_at or self.clock(),
                                          claim.prior_attempts + 1,
                                          Attempt(False, error=f"kala.py failed running it: "
                                                               f"{exc}"))
        self._finished(claim, result)

    def _finished(self, claim: Claim, result: Union[RunResult, "Outcome"],
                  wait: bool = True) -> None:
        """A run's attempts are over here: its slot is given back, and its result goes
        to be recorded (``Outcome.DEFERRED``: a retry waits for its time in the queue)."""
        self.slots.release()
        if result is not Outcome.DEFERRED:
            self.completion.record(claim, result, wait)


class Completion:
    """Where every run ends: its result recorded (the worker waits for the commit; the
    follower's thread hands it to the store's writer, which writes it again while
    the database is away), logged and counted; then its fate settled: whoever waits
    for it is told, and what it owes follows (its children after a success, its
    failure job after a failure), one after another as FollowUps chains them."""

    def __init__(self, store: Store, node: str, pool: WorkerPool, metrics: SchedulerMetrics,
                 history: HistoryBound, stop: threading.Event,
                 claim_run: Callable[[str, str, str], Optional[Claim]],
                 start: Callable[[List[Claim], float], None], clock: Callable[[], float]):
        self.store, self.node, self.pool, self.metrics = store, node, pool, metrics
        self.history, self._stop, self.clock = history, stop, clock
        self._claim_run, self._start = claim_run, start

    def record(self, claim: Claim, result: RunResult, wait: bool = True) -> None:
        if not wait:
            self.store.finish_run_later(claim, self.node, result,
                                        functools.partial(self._recorded, claim, result))
            return
        try:
            recorded = self.store.finish_run(claim, self.node, result)
        except Exception as exc:
            recorded = exc
        self._recorded(claim, result, recorded)

    def _recorded(self, claim: Claim, result: RunResult, recorded) -> None:
        """A run's result is committed (True), refused (False: its claim was gone) or
        could not be written (the exception, once the writer gave up)."""
        if isinstance(recorded, Exception):
            log.error("job %s: recording run %s failed: %s", claim.job.id, claim.run_id,
                      recorded)
            self.settle(claim, Outcome.NOT_RECORDED, result)
            return
        self._log_result(claim, result, recorded)
        self.history.recorded(claim.job.id)
        self.settle(claim, Outcome.RECORDED if recorded else Outcome.CLAIM_LOST, result)

    def settle(self, claim: Claim, outcome: "Outcome", result: Optional[RunResult] = None) -> None:
        """A claimed run's fate here is known: its follow-ups start, the chain it is
        part of goes on, and whoever waits for it is told."""
        claim.outcome, claim.result = outcome, result
        if outcome is Outcome.RECORDED and result.followups_owed:
            self.follow_up(claim, result.success)
        elif claim.chain is not None:
            self.pool.submit(self._advance, claim.chain)
        if claim.settled is not None:
            claim.settled.set()

    def follow_up(self, claim: Claim, success: bool) -> None:
        """Run what a finished run owes (``success``: its children, else its failure
        job), before what its own chain holds next."""
        chain = claim.chain or FollowUps()
        chain.owe(claim, success)
        self.pool.submit(self._advance, chain)

    def _advance(self, chain: FollowUps) -> None:
        """Claim and queue the next follow-up of ``chain``; it goes on once that one has
        settled. While the database is away it tries again every second."""
        while True:
            try:
                step = chain.next_step(self.store, self.node)
                if step is None:
                    return
                job_id, key, trigger = step
                try:
                    follower = self._claim_run(job_id, key, trigger)
                except JobNotFound:
                    follower = None  # deleted meanwhile
            except StoreUnavailable as exc:
                log.warning("follow-ups wait for the database (%s); trying again in a second",
                            exc)
                if self._stop.wait(1.0):
                    return  # the run still owes them: a survivor takes them over
                continue
            chain.claimed()
            if follower is not None:
                follower.chain = chain
                self._start([follower], self.clock())
                return

    def _log_result(self, claim: Claim, result: RunResult, recorded: bool) -> None:
        self.metrics.run_finished(claim.trigger, result.success, result.retries,
                                  result.duration_ns / 1e9)
        if not recorded:
            log.warning("job %s: run %s finished but its claim was gone (job deleted, or "
                        "this process was taken for dead)", claim.job.id, claim.run_id)
        # One line a finished run; with --log-format json its fields are the record's.
        outcome = "succeeded" if result.success else "failed"
        duration = result.duration_ns / 1e9
        log.log(logging.INFO if result.success else logging.WARNING,
                "job %s (%s): run %s (%s) %s in %.3f s after %d attempt(s)%s", claim.job.id,
                claim.job.name, claim.run_id, claim.trigger, outcome, duration,
                result.retries + 1, f": {result.error}" if result.error else "",
                extra={"run": {"job_id": claim.job.id, "job_name": claim.job.name,
                               "run_id": claim.run_id, "trigger": claim.trigger,
                               "result": outcome, "duration_s": round(duration, 6),
                               "attempts": result.retries + 1, "error": result.error}})


class Maintenance:
    """What a process does every heartbeat interval: tell the database it lives, settle
    the runs of processes taken for dead (those the fence finds dead, those silent
    for a lease) and run what they left, prune stats and histories, and follow what
    the others changed. Between heartbeats it only follows the changes, unless the
    fence says cheaply that someone died."""

    def __init__(self, store: Store, node: str, lease: Lease, timing: "Timing",
                 starter: Starter, completion: Completion, history: HistoryBound,
                 clock: Callable[[], float], monotonic: Callable[[], float],
                 jobstat_ttl: Optional[float], clock_step: float = CLOCK_STEP):
        self.store, self.node, self.lease, self.timing = store, node, lease, timing
        self.starter, self.completion, self.history = starter, completion, history
        self.clock, self.monotonic = clock, monotonic
        self.jobstat_ttl = jobstat_ttl          # seconds; None keeps stats forever
        self.clock_step = clock_step
        self._last_tick: Optional[Tuple[float, float]] = None   # (wall, monotonic)
        self._leases_trusted_from = -math.inf                  # monotonic

    def maintain(self, now: Optional[float] = None) -> None:
        """Heartbeat, settle the runs of dead processes, prune, sync timers."""
        if self.lease.claims_uncertain.is_set():
            self.lease.claims_uncertain.clear()  # before the read: a later one sets it again
            try:
                claims = self.store.unstarted_runs(self.node)
            except Exception:
                self.lease.claims_uncertain.set()  # looked for again at the next maintenance
                raise
            waiting = {claim.run_id for claim in self.starter.queue.claims()}
            claims = [claim for claim in claims if claim.run_id not in waiting]
            log.warning("a claim's commit was uncertain: %d unstarted run(s) of this process "
                        "are queued again (each starts once)", len(claims))
            self.starter.on_time(claims, self.clock())
        with self.lease.confirming() as generation:
            now = self.clock() if now is None else now
            others = [node for node, _ in self.store.nodes() if node != self.node]
            dead = self.store.fence.dead(others, now, self.lease.silent_for())
            lease = self.lease.lease if self._leases_trusted(now) else math.inf
            reaped = self.store.reap_nodes(dead, now, lease, self.node)
        self.take_over(reaped, generation)
        self.timing.live_nodes = sorted(node for node, beat in self.store.nodes()
                                        if beat >= now - self.lease.lease)
        if self.jobstat_ttl is not None:
            self.store.prune_stats(now - self.jobstat_ttl)
        for job_id in self.history.due():
            self.store.prune_history(job_id, self.history.keep)
        self.store.checkpoint()
        self.timing.sync()

    def someone_died(self) -> bool:
        """Between heartbeats, whether the fence says a process died (where asking is a
        read), so that its claims are taken over at once."""
        others = [node for node in self.timing.live_nodes if node != self.node]
        return bool(others) and self.store.fence.died_lately(others, self.clock(),
                                                            self.lease.silent_for())

    def _leases_trusted(self, now: float) -> bool:
        """False for a lease after the wall clock was stepped: the others' heartbeats
        are in the old time until they beat again, and would all look stale."""
        tick = self.monotonic()
        if self._last_tick is not None:
            wall_then, tick_then = self._last_tick
            if abs((now - wall_then) - (tick - tick_then)) > self.clock_step:
                log.warning("the wall clock was stepped by %.1f s; trusting no heartbeat "
                            "lease for %g s", (now - wall_then) - (tick - tick_then),
                            self.lease.lease)
                self._leases_trusted_from = tick + self.lease.lease
        self._last_tick = (now, tick)
        return tick >= self._leases_trusted_from

    def take_over(self, takeover: Takeover, generation: int) -> None:
        """Start what processes taken for dead left to this one (their unstarted
        claims and retries at their time, the follow-ups they owed), and log it."""
        for death in takeover.deaths:
            log.warning("node %s taken for dead (%s): %d run(s) it had claimed and not "
                        "started taken over to run here, %d recorded '%s' (%d of them "
                        "retried here), %d chain(s) of follow-ups it owed finished here",
                        death.node, death.how, death.taken_over, death.failed, NODE_DIED,
                        death.retried, death.followups)
        for run_id, job_id in takeover.failed:
            log.info("job %s: run %s failed: the process running it died", job_id, run_id)
        for claim in takeover.runs:
            claim.generation = generation
            log.info("job %s: running run %s that a dead process left", claim.job.id,
                     claim.run_id)
        self.starter.on_time(takeover.runs, self.clock())  # one claimed ahead keeps its time
        for claim, success in takeover.followups:
            log.info("job %s: running what follows run %s, which a dead process left",
                     claim.job.id, claim.run_id)
            self.completion.follow_up(claim, success)


class Timing:
    """Every job's timer: followed from the database (what any process created,
    changed, claimed or deleted), and claimed a little ahead of its time, a batch at
    a time. Several processes time every job; the claim decides which one runs an
    occurrence, the preferred one by hash trying first."""

    def __init__(self, store: Store, node: str, lease: Lease, starter: Starter,
                 metrics: SchedulerMetrics, clock: Callable[[], float],
                 monotonic: Callable[[], float], skipped: Callable[..., None], *,
                 late_grace: float, claim_ahead: float, claim_batch: float,
                 handoff: float = HANDOFF_DELAY):
        self.store, self.node, self.lease, self.starter = store, node, lease, starter
        self.metrics, self.clock, self.monotonic, self._skipped = metrics, clock, monotonic, skipped
        self.late_grace, self.claim_ahead, self.claim_batch = late_grace, claim_ahead, claim_batch
        self.handoff = handoff
        self.heap = TimerHeap()
        #: The processes heard from within a lease (maintenance sets it), this one's included.
        self.live_nodes = [node]
        #: Whether due occurrences are left unclaimed now (the starter is behind).
        self.holding = False
        self._synced_version: Optional[int] = None   # None: nothing read yet
        self._sync_lock = threading.Lock()
        #: Timers are held for the occurrences due before this time (TIMER_HORIZON).
        self.horizon = clock() + TIMER_HORIZON

    def sync(self) -> None:
        """Follow jobs created, changed or claimed by any process since the last look,
        and read the next timers once half the window has passed."""
        with self._sync_lock:  # what it read is applied before a deletion here is
            if self._synced_version is None:
                self._read_window(self.clock())
                return
            self._synced_version, changes = self.store.timer_changes(self._synced_version)
            self.heap.cancel(timer.job_id for timer in changes if timer.when is None)
            self._set((timer for timer in changes if timer.when is not None), read=True)
            if self._window_ending(self.clock()):
                self._read_window(self.clock())

    def _read_window(self, now: float) -> None:
        """Read the timers due before TIMER_HORIZON from ``now`` (the first time, with
        the version they are as of: the changes after it follow by sync), then move
        the horizon there. A read that fails moves nothing: it is tried again. A
        timer set past the old horizon meanwhile (a claim's, a creation's) was dropped;
        its change moved the version, so the next sync sets it."""
        horizon = now + TIMER_HORIZON
        version, timers = self.store.timers_due(horizon)
        self.horizon = horizon
        if self._synced_version is None:
            self._synced_version = version
        self._set(timers, read=True)

    def _window_ending(self, now: float) -> bool:
        return now + self.claim_ahead + self.claim_batch + TIMER_HORIZON / 2 >= self.horizon

    def _look_ahead(self, now: float) -> None:
        """Read the next timers once half the window has passed, if maintenance (whose
        sync does it first, off the timer thread) has not: it is late, or the clock
        jumped."""
        if self._window_ending(now):
            with self._sync_lock:
                if self._window_ending(now):
                    self._read_window(now)

    def jobs_deleted(self, job_ids: Optional[List[str]] = None) -> None:
        """Drop the timers of jobs deleted through this process (None: every job), after
        any sync that read them before their deletion was committed."""
        with self._sync_lock:
            self.heap.cancel(self.heap.job_ids() if job_ids is None else job_ids)

    def job_changed(self, job: Job) -> None:
        """Time a job that was created, edited or enabled through this process."""
        if not job.disabled and not job.is_done and job.next_run_at is not None:
            self._set([Timer(job.id, job.next_run_at, job.cursor)], read=True)

    def _set(self, timers: Iterable[Timer], read: bool = False) -> None:
        """Set the timers due before the horizon; a later one is read again when the
        window reaches it (one ``read`` from the database drops the job's timer)."""
        near, later = [], []
        for timer in timers:
            (near if timer.when < self.horizon else later).append(timer)
        if later and read:
            self.heap.cancel(timer.job_id for timer in later)
        self.heap.push((Timer(timer.job_id, self._claim_time(timer) - self.claim_ahead,
                              timer.cursor) for timer in near), read)

    def hold_claims(self, now: float) -> bool:
        """Whether to claim nothing now: this process's starter is over LEAVE_LAG
        behind (its slots are taken, or it cannot fork as fast as runs come due),
        until it is less than half that behind. The other live processes claim what
        it leaves; the timers stay, and it claims what no other has once it has
        caught up. A process alone holds back too: the occurrences wait unclaimed,
        and once it claims them, those more than the late grace (60 s) late are
        missed (the catch-up rule), so a machine that cannot keep up holds a second
        of claims, not a queue that grows without end (its memory grew 4 MB a second
        with 2,000 runs a second asked of it), and runs late by a minute at most."""
        first = self.starter.behind_since()
        lag = LEAVE_LAG / 2 if self.holding else LEAVE_LAG  # not a log line a look
        holding = first is not None and now - first > lag
        if holding != self.holding:
            self.holding = holding
            if not holding:
                log.info("the starter has caught up: claiming occurrences again")
            elif len(self.live_nodes) > 1:
                log.warning("the starter is %.1f s behind: leaving the occurrences coming "
                            "due to the other processes until it catches up", now - first)
            else:
                log.warning("the starter is %.1f s behind: claiming no occurrences until it "
                            "catches up (those then more than %g s late are missed)",
                            now - first, self.late_grace)
        return holding

    def _claim_time(self, timer: Timer) -> float:
        """When this process tries to claim an occurrence: at once if it is the
        preferred process by hash of (job, occurrence), else a little later."""
        nodes = self.live_nodes
        if len(nodes) < 2:
            return timer.when
        preferred = nodes[zlib.crc32(f"{timer.job_id}@{timer.cursor}".encode()) % len(nodes)]
        return timer.when if preferred == self.node else timer.when + self.handoff

    def run_due(self, now: Optional[float] = None) -> List[Claim]:
        """Claim every occurrence due at ``now`` (or within the claim batch after
        it) and queue the claims to start at their time; none while this process
        holds them back (``hold_claims``)."""
        self._look_ahead(self.clock() if now is None else now)
        if self.hold_claims(self.clock() if now is None else now):
            return []
        with self.lease.confirming() as generation:
            now = self.clock() if now is None else now
            due = self.heap.pop_due(now + self.claim_batch)
            if not due:
                return []
            try:
                claiming = self.monotonic()
                claims, timers = self.store.claim_occurrences(
                    due, now, self.node, self.late_grace, self.claim_ahead + self.claim_batch,
                    note_skipped=self._skipped)
                self.metrics.claimed(len(claims), self.monotonic() - claiming)
            except Exception:
                self.heap.push(Timer(job_id, now, cursor) for job_id, cursor in due)
                raise
        for claim in claims:
            claim.generation = generation
        self._set(timers)
        self.starter.on_time(claims, now)
        return claims


class Scheduler:
    """Claims due occurrences in the store and runs them, in parts with one job each.

    How a scheduled run goes: the timer thread claims each occurrence a little
    ahead of its time (Timing); the starter thread starts it at its time within
    --workers, after the fence noted its start and the lease allows it (Starter,
    Lease); the follower follows its command, or a pool worker makes its attempts
    (RunAttempts); Completion records its result and starts what follows it;
    Maintenance heartbeats and settles what dead processes left. A manual start,
    a child and a failure job are claimed where they arise and go through the same
    start queue.

    Time comes from ``clock`` only; a test passes a fake clock and calls
    ``run_due()`` itself instead of calling ``start()`` (``workers=0`` runs
    everything inline). Several schedulers (in several processes) may share one
    database: each times every job, and the claim in the store decides which one
    runs an occurrence.
    """

    def __init__(self, store: Store, runner: Optional[CommandRunner] = None, *,
                 node: Optional[str] = None, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 workers: int = DEFAULT_WORKERS, late_grace: float = LATE_GRACE,
                 lease: float = NODE_LEASE, jobstat_ttl: Optional[float] = None,
                 keep_runs: int = KEEP_RUNS, claim_ahead: float = CLAIM_AHEAD,
                 claim_batch: Optional[float] = None, replace_grace: float = REPLACE_GRACE,
                 heartbeat_interval: float = HEARTBEAT_INTERVAL,
                 sync_interval: float = SYNC_INTERVAL,
                 on_maintained: Callable[[], None] = lambda: None):
        self.store = store
        store.stamp_heartbeats_with(clock)
        self.runner = runner or CommandRunner()
        self.node = node or default_node_id()
        self.clock, self.monotonic = clock, monotonic
        self.heartbeat_interval, self.sync_interval = heartbeat_interval, sync_interval
        #: Called after each maintenance round that went through: a watchdog's ping
        #: (systemd's), which stops when the scheduler hangs.
        self.on_maintained = on_maintained
        self.metrics = SchedulerMetrics()
        self.history = HistoryBound(keep_runs)  # 0 keeps every run
        self.pool = WorkerPool(workers)
        self.starts = StartQueue(store.fence.mark_ahead)
        self.endable = EndableCommands(monotonic, replace_grace)
        self._stop = threading.Event()
        self._claiming_over = threading.Event()
        self.fencing = Lease(store, self.node, lease, clock, monotonic)
        self.attempts = RunAttempts(store, self.node, self.runner, self.fencing, self.starts,
                                    self.endable, self.metrics, clock, self._stop)
        self.starter = Starter(store, self.node, self.fencing, self.attempts, self.pool,
                               self.starts, self.endable, workers, clock)
        self.completion = Completion(store, self.node, self.pool, self.metrics, self.history,
                                     self._stop, self._claim_run, self.starter.on_time, clock)
        self.starter.completion = self.completion
        self.timing = Timing(store, self.node, self.fencing, self.starter, self.metrics, clock,
                             monotonic, self._skipped, late_grace=late_grace,
                             claim_ahead=claim_ahead,
                             claim_batch=store.claim_batch if claim_batch is None else claim_batch)
        self.maintenance = Maintenance(store, self.node, self.fencing, self.timing, self.starter,
                                       self.completion, self.history, clock, monotonic,
                                       jobstat_ttl)
        self.timers = self.timing.heap
        # Those that claim (a due occurrence, a dead process's run) come before the
        # one that starts what they claimed: stop() ends them in this order.
        self._threads = [KalaThread(self._timer_loop, "kala-timer"),
                         KalaThread(self._maintenance_loop, "kala-maintenance"),
                         KalaThread(self._start_loop, "kala-starter")]

    # The parts' doings that the API, the command line and tests call.

    def run_due(self, now: Optional[float] = None) -> List[Claim]:
        return self.timing.run_due(now)

    def start_due(self, now: Optional[float] = None) -> None:
        self.starter.start_due(now)

    def maintain(self, now: Optional[float] = None) -> None:
        self.maintenance.maintain(now)

    def sync_timers(self) -> None:
        self.timing.sync()

    def job_changed(self, job: Job) -> None:
        self.timing.job_changed(job)

    def jobs_deleted(self, job_ids: Optional[List[str]] = None) -> None:
        self.timing.jobs_deleted(job_ids)

    @property
    def follower(self) -> Optional[Union[CommandWatcher, CommandThreads]]:
        return self.starter.follower

    @property
    def jobstat_ttl(self) -> Optional[float]:
        return self.maintenance.jobstat_ttl

    @jobstat_ttl.setter
    def jobstat_ttl(self, seconds: Optional[float]) -> None:
        self.maintenance.jobstat_ttl = seconds

    # --- life cycle -------------------------------------------------------------

    def start(self) -> None:
        """Take this process's place in the fence, register, and start timing every job."""
        self.store.fence.hold(self.node)
        if self.pool.size and isinstance(self.runner, CommandRunner):
            self.starter.follower = (CommandWatcher(self.runner.output_limit)
                                     if CommandWatcher.supported()
                                     else CommandThreads(self.runner))
            self.starter.follower.start()
        self.pool.start()
        with self.fencing.confirming() as generation:
            left = self.store.join(self.node, self.clock())
        self.maintenance.take_over(left, generation)
        # The first maintenance (timers read, the dead reaped) runs in its thread: a
        # process taking over thousands of runs listens meanwhile.
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop timing new runs and wait up to ``timeout`` in all for the running ones."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        self.timers.wake()
        for thread in self._threads:
            if thread is self._threads[-1]:  # the starter: nothing more can be claimed now
                self._claiming_over.set()
                self.starts.wake()
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        self.starter.forks.stop(max(0.0, deadline - time.monotonic()))
        if self.follower is not None:
            self.follower.stop(max(0.0, deadline - time.monotonic()))
        # Their results, and so the follow-ups they owe, are known before the pool stops.
        if not self.store.flush(max(0.0, deadline - time.monotonic())):
            log.warning("stopping with results not written (the database is away): their "
                        "runs will be recorded 'node died' by the process that takes over")
        self.pool.stop(max(0.0, deadline - time.monotonic()))
        try:
            self.store.leave(self.node, self.clock())
        except StoreUnavailable as exc:
            log.warning("could not say goodbye to the database (%s): the others take this "
                        "process for dead once its lock is free", exc)
        self.store.fence.release()

    def health(self) -> Dict[str, bool]:
        """Whether each of the scheduler's threads is alive (GET /healthz)."""
        threads = {thread.name: thread.is_alive() for thread in self._threads}
        if isinstance(self.follower, CommandWatcher):
            threads["kala-watcher"] = self.follower.alive()
        return threads

    def readiness(self) -> List[str]:
        """Why this process should not be given work now (GET /readyz); empty when
        it is ready. Cheap: it reads what the threads keep, and asks nothing."""
        reasons = []
        silent, lease = self.fencing.silent_for(), self.fencing.lease
        if silent > READY_WRITE_SILENCE:
            reasons.append(f"the database has taken no write from this process for "
                           f"{silent:.1f} s (it heartbeats every {self.heartbeat_interval:g} s)")
        if silent > lease / 2:
            reasons.append(f"this process does not hold its lease: it starts no claim before "
                           f"the database confirms it (lease {lease:g} s)")
        now = self.clock()
        for name, first in (("timer", self.timers.earliest()),
                            ("starter", self.starter.behind_since())):
            if first is not None and now - first > READY_LAG:
                reasons.append(f"the {name} is {now - first:.1f} s behind")
        return reasons

    def _timer_loop(self) -> None:
        while not self._stop.is_set():
            self.timers.wait(self.clock, longest=1.0)
            if self._stop.is_set():
                break
            try:
                self.run_due()
                if self.timing.holding:  # the due timers stay due: look again shortly
                    self._stop.wait(LEAVE_PAUSE)
            except Exception:
                log.exception("claiming due runs failed; retrying in a second")
                self._stop.wait(1.0)

    def _start_loop(self) -> None:
        # Runs already claimed still start on time when the server stops: the
        # loop ends once nothing more can be claimed and none is waiting.
        while not (self._claiming_over.is_set() and not self.starts):
            self.starts.wait(self.clock, longest=1.0)
            try:
                self.start_due()
            except Exception:
                log.exception("starting due runs failed")

    def _maintenance_loop(self) -> None:
        next_heartbeat = -math.inf
        while not self._stop.is_set():
            try:
                if self.monotonic() >= next_heartbeat or self.maintenance.someone_died():
                    next_heartbeat = self.monotonic() + self.heartbeat_interval
                    self.maintain()
                else:
                    self.sync_timers()
                self._end_commands()
                self.on_maintained()
            except Exception:
                log.exception("maintenance failed; retrying")
            try:
                self.store.wait_for_changes(self.sync_interval, self._stop)
            except Exception:  # the loop must outlive any one failure
                log.exception("waiting for changes failed")
                self._stop.wait(self.sync_interval)

    def _end_commands(self) -> None:
        """End the commands here of runs that newer ones replace (concurrency replace) or
        that a stop was asked for, and write where the API reads it the output of
        those still running."""
        if self.endable or self.starts:
            self.endable.end(self.store.runs_to_end(self.node))
        self.endable.kill_overdue()
        outputs = self.endable.outputs_to_write()
        if outputs:
            self.store.write_outputs([(run_id, self.node, text) for run_id, text in outputs])

    # --- runs started through the API, and follow-ups ------------------------------

    def start_job(self, job_id: str) -> Optional[RunResult]:
        """Run a job now (the API's start route): returns once its run has finished
        and its result is recorded (None if another process took it over before it
        could start here)."""
        claim = self._claim_run(job_id, ClaimKey.manual(), "manual", allow_disabled=True)
        claim.settled = threading.Event()
        self.starter.on_time([claim], self.clock())
        while not claim.settled.wait(1.0):
            if self._claiming_over.is_set() and not self._threads[-1].is_alive():
                return None  # stopped before it could start: a survivor runs it
        return claim.result if claim.outcome is not Outcome.NOT_STARTED else None

    def stop_job(self, job_id: str, run_id: Optional[int] = None) -> List[int]:
        """Ask for the end of a job's runs going (or of one), wherever they run; those
        here end at once: SIGTERM, then SIGKILL after the grace (REPLACE_GRACE). Each
        is recorded failed, ``stopped by request``. Returns the runs asked to stop."""
        stopping = self.store.request_stop(job_id, self.clock(), run_id)
        if stopping:
            self.endable.end({run: STOPPED_BY_REQUEST for run in stopping
                                  if self._runs_here(run)})
        return stopping

    def _runs_here(self, run_id: int) -> bool:
        return self.endable.output(run_id) is not None or any(
            claim.run_id == run_id for claim in self.starts.claims())

    def running_runs(self, job_id: str) -> List[dict]:
        """A job's runs going now, on any process, with their output so far (the
        freshest for those running here)."""
        runs = self.store.running_runs(job_id)
        for run in runs:
            here = self.endable.output(run["run_id"]) if run["node"] == self.node else None
            if here is not None:
                run["output"] = here
        return runs

    def start_job_soon(self, job_id: str) -> int:
        """Claim a run of a job now and queue it to start (the start route with
        ``?wait=false``); returns the run's id at once."""
        claim = self._claim_run(job_id, ClaimKey.manual(), "manual", allow_disabled=True)
        self.starter.on_time([claim], self.clock())
        return claim.run_id

    def _claim_run(self, job_id: str, key: str, trigger: str,
                   allow_disabled: bool = False) -> Optional[Claim]:
        with self.fencing.confirming() as generation:
            claim = self.store.claim_run(
                job_id, key, trigger, self.node, self.clock(), allow_disabled=allow_disabled,
                note_skipped=functools.partial(self._skipped, trigger=trigger))
        if claim is not None:
            claim.generation = generation
        return claim

    def _skipped(self, reason: str, job_id: str, trigger: str = "schedule") -> None:
        """An occurrence was skipped; a concurrency skip is kept in the job's history."""
        self.metrics.occurrence_skipped(reason, trigger)
        if reason == "concurrency":
            self.history.recorded(job_id)


# =============================================================================
# The HTTP API
# =============================================================================

#: Largest request body accepted (Kala's clients send a few hundred bytes).
MAX_BODY_BYTES = 1 << 20
#: How long a request may take to arrive once its first byte has: a client that
#: trickles its headers (slowloris) loses its connection instead of holding a thread.
REQUEST_DEADLINE = 10.0
#: How long a keep-alive connection may wait for its next request.
IDLE_TIMEOUT = 30.0
#: Connections served at once; the next ones are answered 503 and closed.
MAX_CONNECTIONS = 256
#: Request bodies a web page can send to any site without the browser asking first.
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_JOB_ID = r"(?P<job_id>[^/]+)"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class RequestRejected(KalaError):
    """A request the HTTP layer refuses before it reaches a route (413, 401...)."""

    def __init__(self, status: HTTPStatus, message: str, headers: Optional[dict] = None):
        super().__init__(message)
        self.status = status
        self.headers = headers


def is_loopback(host: str) -> bool:
    """Whether a host name or address can only mean this machine."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True  # browsers resolve *.localhost themselves, never through DNS
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(netloc: str) -> str:
    """The name in a Host header or an origin: 'a:80' -> 'a', '[::1]:80' -> '::1'."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1:].split("]", 1)[0]
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


# --- who may use the API ----------------------------------------------------------

class AccessPolicy:
    """Who may use the API, decided from a request's headers before its body is read.

    - the Host: a server on loopback answers only to loopback names, so a DNS
      name an attacker rebinds to 127.0.0.1 cannot read jobs from a browser;
    - cross-site writes: a POST or DELETE from another origin's page, or with a
      body type a page can send anywhere without asking (text/plain...), is refused;
    - the bearer token, when one is set, for everything but the page itself.
    """

    def __init__(self, token: Optional[str] = None, *, loopback_only: bool = True,
                 allowed_hosts: Iterable[str] = ()):
        self._token = token.encode() if token else None
        self.loopback_only = loopback_only
        self.allowed_hosts = frozenset(_host_name(name).rstrip(".") for name in allowed_hosts)
        self._verdicts: Dict[str, bool] = {}  # Host header -> allowed (a few distinct ones)

    @property
    def needs_token(self) -> bool:
        return self._token is not None

    def check(self, method: str, headers, *, public: bool = False) -> None:
        """Raise RequestRejected (403, 415 or 401) unless the request may go on."""
        host = headers.get("Host")
        if host is not None and not self._host_header_allowed(host):
            raise RequestRejected(
                HTTPStatus.FORBIDDEN, f"this server does not answer to the host {host[:100]!r} "
                                      "(a name pointing at 127.0.0.1 is not enough; the server's "
                                      "owner can allow it with --allow-host)")
        if method not in _SAFE_METHODS:
            self._check_same_site(method, headers, host)
        if self._token is not None and not public:
            self._check_token(headers)

    def _host_header_allowed(self, host: str) -> bool:
        allowed = self._verdicts.get(host)
        if allowed is None:
            allowed = self.host_allowed(_host_name(host))
            if len(self._verdicts) < 64:  # bounded: any client can send any Host
                self._verdicts[host] = allowed
        return allowed

    def host_allowed(self, name: str) -> bool:
        name = name.rstrip(".")
        if is_loopback(name) or name in self.allowed_hosts:
            return True
        if self.loopback_only:
            return False
        if not self.allowed_hosts:
            return True
        try:
            ipaddress.ip_address(name)
            return True  # an address cannot be rebound; only DNS names can
        except ValueError:
            return False

    def _check_same_site(self, method: str, headers, host: Optional[str]) -> None:
        origin = headers.get("Origin")
        if origin is not None:
            netloc = urllib.parse.urlsplit(origin.strip()).netloc.lower()  # "null" has none
            if not netloc or (netloc != (host or "").strip().lower()
                              and _host_name(netloc) not in self.allowed_hosts):
                raise RequestRejected(
                    HTTPStatus.FORBIDDEN, f"{method} from the web origin {origin[:100]!r} "
                                          "refused: changes come from this server's own page "
                                          "or from clients that send no Origin")
        fetch_site = headers.get("Sec-Fetch-Site", "").strip().lower()
        if fetch_site == "cross-site":
            raise RequestRejected(HTTPStatus.FORBIDDEN,
                                  f"{method} refused: the browser says it comes from another site")
        content_type = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        # curl -d sends application/x-www-form-urlencoded, and Kala's README shows
        # exactly that; a browser form can never make such a body valid JSON (it
        # percent-encodes braces and quotes), and a script's request carries
        # Origin or Sec-Fetch-*. So that type is refused from browsers only.
        from_browser = origin is not None or fetch_site != ""
        if content_type in _FORM_TYPES and (from_browser or content_type != _FORM_TYPES[0]):
            raise RequestRejected(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"Content-Type {content_type!r} is not accepted for {method}: send JSON as "
                "application/json (or with no Content-Type)")

    def _check_token(self, headers) -> None:
        """The token as ``Bearer <token>``, or as the password of HTTP Basic
        credentials (any user name): Kala's Go client and kala-python send those
        when their base URL carries them, ``http://kala:TOKEN@host:8000``."""
        scheme, _, given = headers.get("Authorization", "").strip().partition(" ")
        scheme, given = scheme.lower(), given.strip()
        if scheme == "basic":
            given = self._basic_password(given)
        if scheme not in ("bearer", "basic") or not given:
            raise RequestRejected(HTTPStatus.UNAUTHORIZED,
                                  "this server needs a token: send Authorization: Bearer <token> "
                                  "(or Basic credentials with the token as password)",
                                  self._challenges(headers, 'Bearer realm="kala.py"'))
        if not hmac.compare_digest(given.encode("latin-1", "replace"), self._token):
            raise RequestRejected(HTTPStatus.UNAUTHORIZED, "the token is not this server's",
                                  self._challenges(headers, 'Bearer realm="kala.py", '
                                                            'error="invalid_token"'))

    @staticmethod
    def _challenges(headers, bearer: str) -> dict:
        # A browser gets no Basic challenge: it would open its own login dialog
        # instead of letting the page ask for the token.
        basic = "" if "Sec-Fetch-Mode" in headers else ', Basic realm="kala.py", charset="UTF-8"'
        return {"WWW-Authenticate": bearer + basic}

    @staticmethod
    def _basic_password(credentials: str) -> str:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return ""  # answered like a missing token
        return decoded.partition(":")[2]


def _query_count(query: Dict[str, str], name: str) -> Optional[int]:
    text = query.get(name)
    if text is None:
        return None
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise InvalidInput(f"query parameter {name}={text!r} must be a whole number "
                           f"(e.g. ?limit=100&offset=200)")
    return int(text)


def _query_flag(query: Dict[str, str], name: str, default: bool) -> bool:
    text = query.get(name)
    if text is None:
        return default
    if text.lower() not in ("true", "false", "1", "0"):
        raise InvalidInput(f"query parameter {name}={text!r} must be true or false "
                           f"(e.g. ?{name}=false)")
    return text.lower() in ("true", "1")


#: Query parameters that ask the job list for a page (kala.py's) instead of Kala's all.
_LIST_PARAMETERS = frozenset(("q", "state", "sort", "limit", "offset", "runs"))


def _job_query(query: Dict[str, str]) -> JobQuery:
    """The JobQuery a list request asks for; InvalidInput naming the valid forms."""
    state, sort, text = query.get("state", ""), query.get("sort", ""), query.get("q", "").strip()
    if state and state not in JOB_STATES:
        raise InvalidInput(f"query parameter state={state!r} must be one of "
                           f"{', '.join(JOB_STATES)}")
    if sort and sort.lstrip("-") not in JOB_SORTS:
        raise InvalidInput(f"query parameter sort={sort!r} must be one of "
                           f"{', '.join(JOB_SORTS)}, with - before it for the reverse "
                           f"(e.g. ?sort=-last)")
    if len(text) > 200:
        raise InvalidInput("query parameter q must be at most 200 characters")
    return JobQuery(text, state, sort)


def _query_time(query: Dict[str, str], name: str, default: float) -> float:
    text = query.get(name)
    if text is None:
        return default
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        if when.tzinfo is None:
            raise ValueError("no offset")
        return when.timestamp()
    except ValueError:
        raise InvalidInput(f"query parameter {name}={text!r} must be an RFC 3339 time with "
                           f"an offset, e.g. 2030-06-04T19:25:16Z") from None


def _run_mark(stat: RunStat) -> dict:
    """A finished run as the page's run strips draw it."""
    return {"run_id": stat.run_id, "ran_at": format_time(stat.ran_at),
            "duration": round(stat.duration_ns / 1e9, 6),
            "result": "skipped" if stat.skipped else "succeeded" if stat.success else "failed",
            "trigger": stat.trigger, "node": stat.node, "error": stat.error}


class RouteNotFound(KalaError, LookupError):
    """No route has the path asked for: answered with HTTP 404."""


# --- the API's description: OpenAPI 3.1, built from the routes -------------------

_TIME = {"type": "string", "description": "RFC 3339 in UTC; 0001-01-01T00:00:00Z is never",
         "examples": ["2030-06-04T19:25:16.828696Z"]}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_JOB_FIELD_SCHEMAS = {json_name(field): field.metadata["schema"] for field in DEFINITION_FIELDS}


def _or_null(schema: dict) -> dict:
    """``schema`` that also allows null, and so do the properties it names: a request's
    null is taken as the field left out (Go clients send null for an empty list)."""
    if "type" not in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    schema = dict(schema)
    kinds = schema["type"]
    kinds = [kinds] if isinstance(kinds, str) else kinds
    schema["type"] = kinds + ["null"] if "null" not in kinds else kinds
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = schema["enum"] + [None]
    if "properties" in schema:
        schema["properties"] = {name: _or_null(part)
                                for name, part in schema["properties"].items()}
    return schema


#: A job as created or replaced (its fields as Job declares them); the server checks
#: more than this says (a schedule's grammar, that a local job has a command, that
#: named jobs exist): those get a 400.
_JOB_REQUEST_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "if": {"required": ["type"], "properties": {"type": {"const": REMOTE_JOB}}},
    "then": {"required": ["remote_properties"]},
    "else": {"required": ["command"]},
    "properties": {
        **{name: _or_null(schema) for name, schema in _JOB_FIELD_SCHEMAS.items()},
        "name": _JOB_FIELD_SCHEMAS["name"],
        "disabled": {"type": ["boolean", "null"]},
        "parent_jobs": {"type": ["array", "null"], "items": {"type": "string"}},
    },
}
_JOB_SCHEMA = {
    "type": "object",
    "required": ["id", "name", "schedule", "next_run_at", "metadata", "is_done"],
    "properties": {
        **_JOB_FIELD_SCHEMAS,
        "disabled": {"type": "boolean"},
        "name": {"type": "string"},
        "id": {"type": "string"},
        "dependent_jobs": {"type": ["array", "null"], "items": {"type": "string"}},
        "parent_jobs": {"type": ["array", "null"], "items": {"type": "string"}},
        "next_run_at": _TIME, "last_success": _TIME, "last_error": _TIME,
        "last_attempted_run": _TIME, "created_at": _TIME,
        "success_count": {"type": "integer"}, "error_count": {"type": "integer"},
        "is_done": {"type": "boolean"},
        "metadata": {"type": "object", "properties": {
            "success_count": {"type": "integer"}, "last_success": _TIME,
            "error_count": {"type": "integer"}, "last_error": _TIME,
            "last_attempted_run": _TIME, "number_of_finished_runs": {"type": "integer"}}},
    },
}
_RUN_STAT_SCHEMA = {
    "type": "object",
    "required": ["job_id", "ran_at", "number_of_retries", "success", "execution_duration"],
    "properties": {
        "job_id": {"type": "string"}, "ran_at": _TIME, "scheduled_for": _TIME,
        "number_of_retries": {"type": "integer"}, "success": {"type": "boolean"},
        "execution_duration": {"type": "integer", "description": "nanoseconds"},
        "trigger": {"type": "string", "enum": ["schedule", "manual", "parent", "failure"]},
        "node": {"type": "string"}, "output": {"type": "string"}, "error": {"type": "string"},
        "run_id": {"type": ["integer", "null"]}, "output_truncated": {"type": "boolean"},
        "output_dropped_bytes": {"type": "integer"}, "skipped": {"type": "boolean"},
    },
}
_SCHEMAS = {
    "Error": {"type": "object", "required": ["error"],
              "properties": {"error": {"type": "string"}, "run_id": {"type": "integer"}}},
    "JobRequest": _JOB_REQUEST_SCHEMA,
    "Job": _JOB_SCHEMA,
    "RunStat": _RUN_STAT_SCHEMA,
}
_PAGE_PARAMETERS = (
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                 "maximum": 999999999}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                  "maximum": 999999999}},
)
_LIST_QUERY = _PAGE_PARAMETERS + (
    {"name": "q", "in": "query", "description": "words in the name, owner or command",
     "schema": {"type": "string", "maxLength": 200}},
    # Empty (as a form leaves them) means none: every state, creation order.
    {"name": "state", "in": "query", "schema": {"type": "string",
                                                "enum": ["", *JOB_STATES]}},
    {"name": "sort", "in": "query", "schema": {"type": "string", "enum": [""] + [
        prefix + key for key in JOB_SORTS for prefix in ("", "-")]}},
    {"name": "runs", "in": "query", "description": "each job's newest N finished runs",
     "schema": {"type": "integer", "minimum": 0, "maximum": 999999999}},
)


def _json_answer(description: str, schema: Optional[dict] = None) -> dict:
    answer = {"description": description}
    if schema is not None:
        answer["content"] = {"application/json": {"schema": schema}}
    return answer


def _operation(summary: str, answers: Dict[int, dict], *, query: Sequence[dict] = (),
               body: bool = False, operation_id: str = "", links: Optional[dict] = None
               ) -> dict:
    """An OpenAPI operation: what a route takes and every answer it may give (the
    errors any route may answer are added by ``openapi_document``)."""
    operation = {"summary": summary, "operationId": operation_id,
                 "responses": {str(status): answer for status, answer in answers.items()}}
    if query:
        operation["parameters"] = list(query)
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/JobRequest"}}}}
    if links:
        operation["responses"]["201"]["links"] = links
    return operation


def openapi_document(routes: Sequence[Tuple[str, Dict[str, "Route"]]]) -> dict:
    """The OpenAPI 3.1 description of ``routes`` (path, {method: Route}): each path's
    ``{id}`` is a job's id; every operation may also answer the errors of any
    request (400 malformed, 413 too large, 503 database away...)."""
    paths: Dict[str, dict] = {}
    for path, methods in routes:
        item = paths.setdefault(path, {})
        if "{id}" in path:
            item["parameters"] = [{"name": "id", "in": "path", "required": True,
                                   "schema": {"type": "string", "minLength": 1}}]
        for method, route in methods.items():
            operation = json.loads(json.dumps(route.doc))  # a copy of its own
            answers = operation["responses"]
            for status, why in ((400, "a malformed request: the error says what is wrong"),
                                (413, "the body is too large"),
                                (507, "the database's disk is full"),
                                (503, "the database cannot be used now: try again")):
                answers.setdefault(str(status), _json_answer(why, _ERROR_REF))
            if "{id}" in path:
                answers.setdefault("404", _json_answer("no job with that id", _ERROR_REF))
            if not route.public:  # when serve has a token
                answers["401"] = _json_answer("the token is missing or wrong", _ERROR_REF)
                operation["security"] = [{"token": []}]
            item[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "kala.py", "version": __version__,
                 "description": "A job scheduler with Kala's JSON API."},
        "paths": paths,
        "components": {"schemas": _SCHEMAS, "securitySchemes": {
            "token": {"type": "http", "scheme": "bearer"}}},
    }


# --- the routes: what each request does ---------------------------------------------

class PlainText(NamedTuple):
    """An answer that is text of its own type rather than JSON (the metrics)."""

    text: str
    content_type: str = "text/plain; charset=utf-8"


class JsonText(NamedTuple):
    """A JSON answer written as text already."""

    text: str


class JsonParts(NamedTuple):
    """A JSON answer too long to make whole first (the full list): its parts,
    written as they are made, in chunks (HTTP/1.1 chunked transfer coding)."""

    parts: Iterable[str]


def _jobs_object(entries: Iterable[Tuple[str, str]]) -> str:
    """``{"jobs": {id: job, ...}}`` from the jobs' JSON texts."""
    return '{"jobs": {' + ", ".join([f"{_json_key(job_id)}: {text}"
                                     for job_id, text in entries]) + "}}"


def _jobs_object_parts(entries: Iterable[Tuple[str, str]]) -> Iterator[str]:
    """``_jobs_object(entries)`` in parts, a job at a time."""
    yield '{"jobs": {'
    separator = ""
    for job_id, text in entries:
        yield f"{separator}{_json_key(job_id)}: "
        yield text  # not copied behind its key: 116 MB at 100,000 jobs
        separator = ", "
    yield "}}"


def _json_key(text: str) -> str:
    """``json.dumps(text, ensure_ascii=False)``, at a fifth of the cost for a job id
    made by kala.py (a UUID: letters, digits and dashes, which need no escape)."""
    if text.isascii() and text.replace("-", "").isalnum():
        return f'"{text}"'
    return json.dumps(text, ensure_ascii=False)


#: The timeline's count of runs across jobs: in this many parts of the window, from
#: at most this many runs of each job: every run of a job every second in the page's
#: default hour (~1 us each: 200 such jobs cost 0.7 s).
TIMELINE_BUCKETS, TIMELINE_COUNTED = 60, 3600

#: What Prometheus reads: its text exposition format.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Route(NamedTuple):
    """What serves one method on one path, and what it needs of the request."""

    handler: Callable
    doc: dict               # its OpenAPI operation (_operation)
    body: bool = False      # a JSON object body is required (to create a job)
    public: bool = False    # served without the token (the page holds no data)


class KalaApp:
    """The API's routes over a store and a scheduler; knows nothing of sockets."""

    def __init__(self, store: Store, scheduler: Scheduler, *, default_owner: str = "",
                 metrics_public: bool = False):
        self.store = store
        self.scheduler = scheduler
        self.default_owner = default_owner
        self.clock = scheduler.clock
        #: (path pattern, {method: Route}); paths are matched without a trailing slash.
        job_answer = _json_answer("the job", {
            "type": "object", "required": ["job"],
            "properties": {"job": {"$ref": "#/components/schemas/Job"}}})
        jobs_answer = _json_answer("every job (a page of them with any of the query's "
                                   "parameters), by id", {
            "type": "object", "required": ["jobs"], "properties": {
                "jobs": {"type": "object",
                         "additionalProperties": {"$ref": "#/components/schemas/Job"}},
                "order": {"type": "array", "items": {"type": "string"}},
                "total": {"type": "integer"}}})
        done = {"description": "done"}
        conflict = _json_answer("concurrency forbid and the job is running: the run's id",
                                _ERROR_REF)
        #: (path as OpenAPI writes it, {method: Route}); ``{id}`` is a job's id, and a
        #: path matches with or without its trailing slash. Every route has its doc.
        self.documented_routes = [
            ("/api/v1/job/", {
                "GET": Route(self.list_jobs, _operation(
                    "List jobs", {200: jobs_answer}, query=_LIST_QUERY,
                    operation_id="listJobs")),
                "POST": Route(self.create_job, _operation(
                    "Create a job", {201: _json_answer("created", {
                        "type": "object", "required": ["id"],
                        "properties": {"id": {"type": "string"}}})},
                    body=True, operation_id="createJob", links={
                        name: {"operationId": name, "parameters": {"id": "$response.body#/id"}}
                        for name in ("getJob", "replaceJob", "deleteJob", "jobStats", "startJob",
                                     "disableJob", "enableJob")}),
                    body=True)}),
            ("/api/v1/job/all/", {"DELETE": Route(self.delete_all, _operation(
                "Delete every job", {204: done}, operation_id="deleteAllJobs"))}),
            ("/api/v1/job/stats/{id}/", {"GET": Route(self.job_stats, _operation(
                "A job's finished runs (oldest first; newest first when paged)",
                {200: _json_answer("its runs", {
                    "type": "object", "required": ["job_stats"], "properties": {
                        "job_stats": {"type": "array",
                                      "items": {"$ref": "#/components/schemas/RunStat"}}}})},
                query=_PAGE_PARAMETERS, operation_id="jobStats"))}),
            ("/api/v1/job/start/{id}/", {"POST": Route(self.start_job, _operation(
                "Run a job now", {
                    204: {"description": "the run has finished (Kala's answer)"},
                    202: _json_answer("?wait=false: the run's id, at once", {
                        "type": "object", "required": ["run_id"],
                        "properties": {"run_id": {"type": "integer"}}}),
                    409: conflict},
                query=({"name": "wait", "in": "query", "schema": {
                    "type": "string", "enum": ["true", "false", "1", "0"]}},),
                operation_id="startJob"))}),
            ("/api/v1/job/stop/{id}/", {"POST": Route(self.stop_job, _operation(
                "Stop a job's runs going (or one), wherever they run", {200: _json_answer(
                    "the runs asked to stop (none going: an empty list)", {
                        "type": "object", "required": ["stopping"], "properties": {
                            "stopping": {"type": "array", "items": {"type": "integer"}}}})},
                query=({"name": "run_id", "in": "query", "schema": {
                    "type": "integer", "minimum": 0, "maximum": 999999999}},),
                operation_id="stopJob"))}),
            ("/api/v1/job/running/{id}/", {"GET": Route(self.running_runs, _operation(
                "A job's runs going now, with their output so far", {200: _json_answer(
                    "its runs going", {"type": "object", "required": ["runs"], "properties": {
                        "runs": {"type": "array", "items": {"type": "object"}}}})},
                operation_id="runningRuns"))}),
            ("/api/v1/job/next/{id}/", {"GET": Route(self.next_runs, _operation(
                "When a job runs next by itself", {200: _json_answer("its next runs", {
                    "type": "object", "required": ["next_runs"], "properties": {
                        "next_runs": {"type": "array", "items": _TIME}}})},
                query=({"name": "count", "in": "query", "schema": {
                    "type": "integer", "minimum": 0, "maximum": 999999999}},),
                operation_id="nextRuns"))}),
            ("/api/v1/timeline/", {"GET": Route(self.timeline, _operation(
                "What runs when, across jobs, in a window of time", {200: _json_answer(
                    "the jobs due in the window, soonest first, with their runs in it", {
                        "type": "object", "required": ["jobs"], "properties": {
                            "from": _TIME, "to": _TIME,
                            "jobs": {"type": "array", "items": {"type": "object"}},
                            "buckets": {"type": "array", "items": {"type": "integer"},
                                        "description": f"runs in each {TIMELINE_BUCKETS}th "
                                                       f"of the window, of every job listed"},
                            "buckets_capped": {"type": "boolean", "description": (
                                f"whether a job had more than {TIMELINE_COUNTED} runs in "
                                f"the window: its first {TIMELINE_COUNTED} are counted")}}})},
                query=({"name": "from", "in": "query", "schema": {"type": "string"}},
                       {"name": "to", "in": "query", "schema": {"type": "string"}},
                       {"name": "limit", "in": "query", "schema": {
                           "type": "integer", "minimum": 0, "maximum": 999999999}}),
                operation_id="timeline"))}),
            ("/api/v1/job/disable/{id}/", {"POST": Route(self.disable_job, _operation(
                "Disable a job", {204: done}, operation_id="disableJob"))}),
            ("/api/v1/job/enable/{id}/", {"POST": Route(self.enable_job, _operation(
                "Enable a job", {204: done}, operation_id="enableJob"))}),
            ("/api/v1/job/{id}/", {
                "GET": Route(self.get_job, _operation("A job", {200: job_answer},
                                                      operation_id="getJob")),
                "PUT": Route(self.replace_job, _operation(
                    "Replace a job's definition", {200: job_answer}, body=True,
                    operation_id="replaceJob"), body=True),
                "DELETE": Route(self.delete_job, _operation(
                    "Delete a job", {204: done}, operation_id="deleteJob"))}),
            ("/api/v1/stats/", {"GET": Route(self.app_stats, _operation(
                "Figures over every job", {200: _json_answer("the figures", {
                    "type": "object", "required": ["Stats"],
                    "properties": {"Stats": {"type": "object"}}})},
                operation_id="appStats"))}),
            ("/api/v1/openapi.json", {"GET": Route(self.openapi, _operation(
                "This description", {200: _json_answer("OpenAPI 3.1", {"type": "object"})},
                operation_id="openapi"), public=True)}),
            ("/healthz", {"GET": Route(self.healthz, _operation(
                "Whether this process's threads are alive", {
                    200: _json_answer("alive", {"type": "object"}),
                    503: _json_answer("a thread is not running", {"type": "object"})},
                operation_id="healthz"), public=True)}),
            ("/readyz", {"GET": Route(self.readyz, _operation(
                "Whether this process should be given work", {
                    200: _json_answer("ready", {"type": "object"}),
                    503: _json_answer("not ready: the reasons", {"type": "object"})},
                operation_id="readyz"), public=True)}),
            ("/metrics", {"GET": Route(self.metrics, _operation(
                "This process's figures for Prometheus", {200: {
                    "description": "the text exposition format 0.0.4",
                    "content": {METRICS_CONTENT_TYPE: {"schema": {"type": "string"}}}}},
                operation_id="metrics"), public=metrics_public)}),
            ("/", {"GET": Route(self.web_page, _operation(
                "The web page", {200: {"description": "the page", "content": {
                    "text/html; charset=utf-8": {"schema": {"type": "string"}}}}},
                operation_id="webPage"), public=True)}),
            ("/webui/", {"GET": Route(self.web_page, _operation(
                "The web page (Kala's address)", {200: {"description": "the page", "content": {
                    "text/html; charset=utf-8": {"schema": {"type": "string"}}}}},
                operation_id="webUi"), public=True)}),
        ]
        self.routes = [(re.compile(re.escape(path.rstrip("/")).replace(r"\{id\}", _JOB_ID)
                                   + r"\Z"), methods)
                       for path, methods in self.documented_routes]

    def route(self, target: str) -> Tuple[Optional[Dict[str, Route]], dict, dict]:
        """(routes by method, path parameters, query) for a request target;
        (None, {}, query) when no path matches."""
        path, _, query_text = target.partition("?")
        path = urllib.parse.unquote(path).rstrip("/")
        query = (dict(urllib.parse.parse_qsl(query_text, keep_blank_values=True))
                 if query_text else {})
        for pattern, methods in self.routes:
            match = pattern.match(path)
            if match:
                return methods, match.groupdict(), query
        return None, {}, query

    # Each handler takes the parsed body, the query parameters and the path
    # parameters, and returns (status, JSON-able payload or None).

    def list_jobs(self, body, query):
        """Kala's shape: every job, in the order they were created. With any of
        ``?q= &state= &sort= &limit= &offset= &runs=`` (kala.py's): a page of the jobs
        whose name, owner or command hold the words of ``q``, in ``state``, in the
        ``sort`` order, with ``total`` (how many were found) and ``order`` (their ids
        in order); ``runs=N`` adds each one's newest N finished runs, oldest first
        (``recent_runs``)."""
        # Each job's JSON is written as text from its row (StoredJob.json_text): at
        # 100,000 jobs, building and encoding dicts took most of the answer's time.
        now = self.clock()
        if not set(query) & _LIST_PARAMETERS:
            # Written as it is made: at 100,000 jobs (116 MB) the whole text, then its
            # bytes, then the answer took a copy of 116 MB each, and the client
            # waited for all of it before the first byte.
            return HTTPStatus.OK, JsonParts(_jobs_object_parts(
                (stored.row["id"], stored.json_text(now))
                for stored in self.store.each_stored_job()))
        found = _job_query(query)
        limit, offset = _query_count(query, "limit"), _query_count(query, "offset") or 0
        answer = {stored.row["id"]: stored.json_text(now)
                  for stored in self.store.stored_jobs(limit, offset, found)}
        runs = min(_query_count(query, "runs") or 0, 100)
        if runs:
            recent = self.store.recent_runs(list(answer), runs)
            for job_id, text in answer.items():
                marks = json.dumps([_run_mark(stat) for stat in recent[job_id]],
                                   ensure_ascii=False)
                answer[job_id] = f'{text[:-1]}, "recent_runs": {marks}}}'
        order = json.dumps(list(answer), ensure_ascii=False)
        return HTTPStatus.OK, JsonText(f'{_jobs_object(answer.items())[:-1]}, "order": {order}, '
                                       f'"total": {self.store.count_jobs(found)}}}')

    def create_job(self, body, query):
        job = job_from_request(body, now=self.clock(), default_owner=self.default_owner)
        self.store.create_job(job)
        self.scheduler.job_changed(job)
        log.info("job %s (%s) created", job.id, job.name)
        return HTTPStatus.CREATED, {"id": job.id}

    def get_job(self, body, query, job_id):
        return HTTPStatus.OK, JsonText(
            f'{{"job": {self.store.stored_job(job_id).json_text(self.clock())}}}')

    def next_runs(self, body, query, job_id):
        """When a job runs next by itself (``?count=N``, 10 by default, at most 1,000)."""
        count = min(_query_count(query, "count") or 10, 1000)
        job = self.store.get_job(job_id)
        return HTTPStatus.OK, {"next_runs": [format_time(when) for when in upcoming_occurrences(
            job, self.clock(), most=count)]}

    def timeline(self, body, query):
        """What runs when between ``from`` and ``to`` (RFC 3339; now and an hour from
        now by default): the jobs due soonest first (at most ``limit``, 100 by
        default), each with its occurrences in the window (at most 100 each)."""
        now = self.clock()
        start = _query_time(query, "from", now)
        end = _query_time(query, "to", start + 3600.0)
        if not start < end <= start + 31 * 86400:
            raise InvalidInput("query parameters from and to must make a window of up to 31 "
                               "days, to after from (e.g. ?from=2030-01-01T00:00:00Z&"
                               "to=2030-01-01T01:00:00Z)")
        limit = min(_query_count(query, "limit") or 100, 1000)
        jobs, buckets, capped = [], [0] * TIMELINE_BUCKETS, False
        for job in self.store.jobs_due_by(end, limit):
            times = [when for when in upcoming_occurrences(job, now, end,
                                                           most=TIMELINE_COUNTED + 1)
                     if when >= start]
            if times:
                jobs.append({"id": job.id, "name": job.name, "owner": job.owner,
                             "runs": [format_time(when) for when in times[:100]],
                             "more": len(times) > 100})
                capped = capped or len(times) > TIMELINE_COUNTED
                for when in times[:TIMELINE_COUNTED]:
                    buckets[min(TIMELINE_BUCKETS - 1,
                                int((when - start) / (end - start) * TIMELINE_BUCKETS))] += 1
        return HTTPStatus.OK, {"from": format_time(start), "to": format_time(end), "jobs": jobs,
                               "buckets": buckets, "buckets_capped": capped}

    def stop_job(self, body, query, job_id):
        """Stop a job's runs going (or one, ``?run_id=N``), wherever they run: SIGTERM,
        then SIGKILL after 5 s; each is recorded failed, ``stopped by request``. A claim
        not started yet ends without starting."""
        return HTTPStatus.OK, {"stopping": self.scheduler.stop_job(
            job_id, _query_count(query, "run_id"))}

    def running_runs(self, body, query, job_id):
        """A job's runs going now, on any process, with their output so far (written
        by the process running each about every second)."""
        return HTTPStatus.OK, {"runs": [
            {**run, "scheduled_for": format_time(run["scheduled_for"]),
             "claimed_at": format_time(run["claimed_at"]),
             "retry_at": format_time(run["retry_at"])}
            for run in self.scheduler.running_runs(job_id)]}

    def replace_job(self, body, query, job_id):
        """An edit: the body is validated as a creation's; the job keeps its id,
        counters, history and dependencies (200 and the job as it is now)."""
        job = job_from_request(body, now=self.clock(), default_owner=self.default_owner,
                               edit=True)
        job = self.store.replace_job(job_id, job, self.clock(),
                                     keep_disabled="disabled" not in body,
                                     keep_parents="parent_jobs" not in body)
        self.scheduler.job_changed(job)
        log.info("job %s (%s) edited", job.id, job.name)
        return HTTPStatus.OK, {"job": job_to_json(job, self.clock())}

    def delete_job(self, body, query, job_id):
        deleted = self.store.delete_job(job_id, self.clock())
        self.scheduler.jobs_deleted(deleted)
        log.info("deleted job(s) %s", ", ".join(deleted))
        return HTTPStatus.NO_CONTENT, None

    def delete_all(self, body, query):
        self.store.delete_all(self.clock())
        self.scheduler.jobs_deleted()
        log.info("deleted all jobs")
        return HTTPStatus.NO_CONTENT, None

    def job_stats(self, body, query, job_id):
        """Kala's shape: every finished run, oldest first. ``?limit=N&offset=M``
        pages through them newest first (the latest runs of a long history)."""
        limit, offset = _query_count(query, "limit"), _query_count(query, "offset") or 0
        stats = self.store.job_stats(job_id, limit, offset)
        return HTTPStatus.OK, {"job_stats": [stat_to_json(s) for s in stats]}

    def start_job(self, body, query, job_id):
        """Kala's 204 once the run has finished; ``?wait=false``: 202 and the run's
        id at once (its stat carries the same ``run_id``)."""
        if not _query_flag(query, "wait", default=True):
            return HTTPStatus.ACCEPTED, {"run_id": self.scheduler.start_job_soon(job_id)}
        self.scheduler.start_job(job_id)
        return HTTPStatus.NO_CONTENT, None

    def disable_job(self, body, query, job_id):
        self.store.set_disabled(job_id, True, self.clock())
        return HTTPStatus.NO_CONTENT, None

    def enable_job(self, body, query, job_id):
        self.scheduler.job_changed(self.store.set_disabled(job_id, False, self.clock()))
        return HTTPStatus.NO_CONTENT, None

    def app_stats(self, body, query):
        return HTTPStatus.OK, {"Stats": app_stats_to_json(self.store.app_counts(), self.clock())}

    def healthz(self, body, query):
        """The process is up and its threads are alive (for a liveness probe)."""
        threads = self.scheduler.health()
        dead = sorted(name for name, alive in threads.items() if not alive)
        return (HTTPStatus.SERVICE_UNAVAILABLE if dead else HTTPStatus.OK,
                {"status": f"threads not running: {', '.join(dead)}" if dead else "ok",
                 "threads": threads})

    def readyz(self, body, query):
        """The database takes writes, the scheduler keeps up, this process holds
        its lease (for a load balancer or a monitor)."""
        reasons = self.scheduler.readiness()
        return (HTTPStatus.SERVICE_UNAVAILABLE if reasons else HTTPStatus.OK,
                {"ready": not reasons, "reasons": reasons, "node": self.scheduler.node})

    def metrics(self, body, query):
        """This process's figures in Prometheus's text format (for a scrape)."""
        scheduler, counts = self.scheduler, self.store.app_counts()
        beats = [beat for node, beat, _, _ in counts.nodes if node == scheduler.node]
        return HTTPStatus.OK, PlainText(metrics_exposition(
            scheduler.metrics, counts, node=scheduler.node,
            running=self.store.runs_held(scheduler.node),
            heartbeat_age=self.clock() - beats[0] if beats else math.inf,
            commit_seconds=self.store.commit_seconds), METRICS_CONTENT_TYPE)

    def openapi(self, body, query):
        """The OpenAPI 3.1 description of every route (schemathesis checks it)."""
        return HTTPStatus.OK, openapi_document(self.documented_routes)

    def web_page(self, body, query):
        return HTTPStatus.OK, WEB_PAGE



# --- the HTTP server: connections, requests, answers ---------------------------------

class _RequestHandler(BaseHTTPRequestHandler):
    """Turns HTTP/1.1 requests into KalaApp calls; every answer is one buffered write."""

    protocol_version = "HTTP/1.1"
    server_version = f"kala.py/{__version__}"
    disable_nagle_algorithm = True
    wbufsize = -1           # headers and body leave in one write (no Nagle stall)
    timeout = IDLE_TIMEOUT  # an idle keep-alive connection gives its thread back
    request_deadline = REQUEST_DEADLINE

    def setup(self):
        super().setup()
        self._arrival = _RequestArrival(self.connection, self.timeout, self.request_deadline)
        self.rfile = io.BufferedReader(self._arrival)

    def handle(self):
        if self.server.tls is not None:
            try:
                self.connection.settimeout(self.request_deadline)
                self.connection.do_handshake()
            except OSError as exc:  # ssl.SSLError included: a plain-HTTP client, a scanner
                log.debug("TLS handshake with %s failed: %s", self.address_string(), exc)
                return
        super().handle()

    def handle_one_request(self):
        self._arrival.wait_for_request()
        super().handle_one_request()

    def date_time_string(self, timestamp=None):
        if timestamp is not None:
            return super().date_time_string(timestamp)
        # Formatting the Date header is a visible cost at thousands of answers
        # a second; it changes once a second.
        second = int(time.time())
        cached_second, text = self.server.date_header
        if cached_second != second:
            text = super().date_time_string(second)
            self.server.date_header = (second, text)
        return text

    def do_GET(self):
        self._serve("GET")

    def do_HEAD(self):
        self._serve("HEAD")

    def do_POST(self):
        self._serve("POST")

    def do_DELETE(self):
        self._serve("DELETE")

    def do_PUT(self):
        self._serve("PUT")

    def do_PATCH(self):
        self._serve("PATCH")

    def do_OPTIONS(self):
        self._serve("OPTIONS")

    def __getattr__(self, name: str):
        # Any other method token: answered by the routes (405 with Allow on a
        # known path), not with http.server's 501 page.
        if name.startswith("do_") and _HEADER_NAME.fullmatch(name[3:]):
            return functools.partial(self._serve, name[3:])
        raise AttributeError(name)

    def _serve(self, method: str) -> None:
        app: KalaApp = self.server.app
        try:
            methods, params, query = app.route(self.path)
            public = methods is not None and any(r.public for r in methods.values())
            self.server.access.check(method, self.headers, public=public)
            raw = self._read_body()  # even when unused: keep-alive needs the socket drained
            if methods is None:
                raise RouteNotFound(f"no route {self.path!r} (the API is under /api/v1/)")
            route = methods.get("GET" if method == "HEAD" else method)
            if route is None:
                allowed = ", ".join(sorted(methods))
                self._send_json(HTTPStatus.METHOD_NOT_ALLOWED,
                                {"error": f"{method} is not allowed on {self.path} "
                                          f"(allowed: {allowed})"}, {"Allow": allowed})
                return
            status, payload = route.handler(self._parse_json(raw, route.body), query, **params)
        except Exception as exc:
            self._send_failure(exc)
        else:
            if isinstance(payload, str):
                self._send(status, payload.encode(), "text/html; charset=utf-8", _PAGE_HEADERS)
            elif isinstance(payload, JsonText):
                self._send(status, payload.text.encode(), "application/json")
            elif isinstance(payload, JsonParts):
                self._send_parts(status, payload.parts, "application/json")
            elif isinstance(payload, PlainText):
                self._send(status, payload.text.encode(), payload.content_type)
            elif payload is None:
                self._send(status, b"", None)
            else:
                self._send_json(status, payload)

    def _send_failure(self, exc: Exception) -> None:
        """The answer to a request that failed before any of its answer was sent: what
        the client did wrong is a 4xx, a database it cannot reach now a 503."""
        if isinstance(exc, RequestRejected):
            self.close_connection = True  # the unread body is still on the socket
            self._send_json(exc.status, {"error": str(exc)}, exc.headers)
            self._discard_unread_body()
        elif isinstance(exc, InvalidInput):
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        elif isinstance(exc, (JobNotFound, RouteNotFound)):
            self._send_json(HTTPStatus.NOT_FOUND, {"error": str(exc)})
        elif isinstance(exc, JobRunning):
            self._send_json(HTTPStatus.CONFLICT, {"error": str(exc), "run_id": exc.run_id})
        elif isinstance(exc, StoreFull):
            self._send_json(HTTPStatus.INSUFFICIENT_STORAGE, {"error": str(exc)})
        elif isinstance(exc, StoreUnavailable):
            self._send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(exc)},
                            {"Retry-After": "1"})
        else:
            log.error("%s %s failed", self.command, self.path, exc_info=exc)
            self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR,
                            {"error": f"internal error: {type(exc).__name__}: {exc}"})

    def _body_length(self) -> int:
        """The body's length from the headers; a request whose framing two parties
        could read differently (request smuggling, RFC 9112 6.3) is refused."""
        encodings = [e.strip().lower() for header in self.headers.get_all("Transfer-Encoding", [])
                     for e in header.split(",")]
        lengths = {v.strip() for header in self.headers.get_all("Content-Length", [])
                   for v in header.split(",")}
        if encodings and (lengths or encodings != ["chunked"]):
            raise RequestRejected(HTTPStatus.BAD_REQUEST,
                                  "a request with Transfer-Encoding "
                                  f"{', '.join(encodings)!r} and a Content-Length, or a "
                                  "coding other than chunked, is ambiguous; send "
                                  "Content-Length alone")
        if encodings:
            raise RequestRejected(HTTPStatus.LENGTH_REQUIRED,
                                  "chunked request bodies are not supported; send Content-Length")
        if len(lengths) > 1:
            raise RequestRejected(HTTPStatus.BAD_REQUEST,
                                  f"conflicting Content-Length values {sorted(lengths)}")
        length_text = lengths.pop() if lengths else "0"
        if not re.fullmatch(r"[0-9]{1,18}", length_text or "0"):
            raise RequestRejected(HTTPStatus.BAD_REQUEST,
                                  f"invalid Content-Length {length_text[:40]!r}")
        return int(length_text or "0")

    def _read_body(self) -> bytes:
        length = self._body_length()
        if length > MAX_BODY_BYTES:
            raise RequestRejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                  f"request body of {length} bytes is over the limit of "
                                  f"{MAX_BODY_BYTES} bytes")
        chunks, received = [], 0
        try:
            while received < length:
                chunk = self.rfile.read1(length - received)
                if not chunk:
                    break  # the client closed its side
                chunks.append(chunk)
                received += len(chunk)
        except OSError:  # socket.timeout included: the client went quiet
            pass
        body = b"".join(chunks)
        if len(body) < length:
            raise RequestRejected(HTTPStatus.REQUEST_TIMEOUT,
                                  f"the request body ended after {len(body)} of the {length} "
                                  f"bytes its Content-Length announced")
        return body

    def _discard_unread_body(self, seconds: float = 2.0) -> None:
        """Read and drop what the client still sends, for a bounded time, so that
        closing the socket does not reset it before the client reads the answer."""
        self.wfile.flush()
        deadline = time.monotonic() + seconds
        try:
            self.connection.shutdown(socket.SHUT_WR)
            while time.monotonic() < deadline:
                self.connection.settimeout(max(0.01, deadline - time.monotonic()))
                if not self.connection.recv(65536):
                    break
        except OSError:
            pass  # the client went away: nothing left to protect

    @staticmethod
    def _parse_json(raw: bytes, required: bool):
        if not raw.strip():
            if required:
                raise InvalidInput("the request body is empty; expected a JSON job object, "
                                   'e.g. {"name": "hello", "command": "echo hello"}')
            return None
        try:
            body = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"the request body is not UTF-8: {exc}") from None
        except RecursionError:
            raise InvalidInput("the request body nests JSON too deeply (a job is a flat "
                               "object with a few small objects in it)") from None
        except ValueError as exc:
            if not required:
                return None  # start/enable/disable ignore their body, as Kala does
            raise InvalidInput(f"the request body is not valid JSON: {exc}") from None
        # JSON may spell half a UTF-16 pair (\ud800), which is no character: it
        # could be stored but never written out again, to a client or a process.
        if _SURROGATE_ESCAPE.search(raw):
            try:
                json.dumps(body, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidInput("the request body contains a lone UTF-16 surrogate (such "
                                   "as \\ud800), which is not a character") from None
        return body

    def _send_json(self, status: HTTPStatus, payload, headers=None) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self._send(status, body, "application/json", headers)

    def _send(self, status: HTTPStatus, body: bytes, content_type: Optional[str],
              headers: Optional[dict] = None) -> None:
        """The status line, the header fields and the body, in one write."""
        self.log_request(status)
        framing = {} if status == HTTPStatus.NO_CONTENT else {"Content-Length": len(body)}
        self.wfile.write(self._head(status, content_type, {**framing, **(headers or {})})
                         + (body if self.command != "HEAD" else b""))

    #: How much of an answer sent in parts goes in one chunk.
    CHUNK_SIZE = 256 * 1024

    def _send_parts(self, status: HTTPStatus, parts: Iterable[str],
                    content_type: str) -> None:
        """An answer written as it is made, in chunks of CHUNK_SIZE; one shorter than
        a chunk, and any to HTTP/1.0 (which has no chunks) or HEAD, goes whole with
        its length as the others do. A failure half-way can no longer change the
        status: it is logged and the connection closed, so the client sees the
        answer cut short rather than taking it as whole."""
        whole = self.request_version != "HTTP/1.1" or self.command == "HEAD"
        parts = iter(parts)
        chunk: List[str] = []
        size = 0
        try:
            for part in parts:
                chunk.append(part)
                size += len(part)
                if size >= self.CHUNK_SIZE and not whole:
                    break
            else:
                self._send(status, "".join(chunk).encode(), content_type)
                return
        except Exception as exc:  # nothing is sent yet: its status still can be (503...)
            self._send_failure(exc)
            return
        self.log_request(status)
        self.wfile.write(self._head(status, content_type, {"Transfer-Encoding": "chunked"}))
        try:
            for part in parts:
                chunk.append(part)
                size += len(part)
                if size >= self.CHUNK_SIZE:
                    self._write_chunk("".join(chunk).encode())
                    chunk, size = [], 0
            self._write_chunk("".join(chunk).encode())
        except Exception:
            log.exception("%s %s failed half-way through its answer", self.command, self.path)
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%b\r\n" % (len(data), data))

    def _head(self, status: HTTPStatus, content_type: Optional[str], headers: dict) -> bytes:
        """The status line and header fields of an answer, with the blank line."""
        head = [f"{self.protocol_version} {status.value} {status.phrase}",
                f"Server: {self.version_string()}", f"Date: {self.date_time_string()}"]
        if content_type:
            head.append(f"Content-Type: {content_type}")
        head.extend(f"{name}: {value}" for name, value in headers.items())
        if self.close_connection:
            head.append("Connection: close")
        head.append("\r\n")
        return "\r\n".join(head).encode("latin-1")

    def parse_request(self) -> bool:
        # Empty lines before a request line are skipped (RFC 9112, 2.2); a line of
        # only whitespace is garbage and gets its 400 like any other.
        while self.raw_requestline in (b"\r\n", b"\n"):
            self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline:
            return False  # the client left
        if not self.raw_requestline.strip():
            self.command, self.request_version, self.requestline = "", "HTTP/1.0", ""
            self.send_error(HTTPStatus.BAD_REQUEST, "empty request line")
            return False
        words = str(self.raw_requestline, "iso-8859-1").split()
        if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0"):
            return super().parse_request()  # its answers to HTTP/0.9, 2.0, garbage
        # The common request, read without http.server's email parser: a tenth of a
        # request's CPU went to building a Message of its header fields.
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.command, self.path, self.request_version = words
        self.close_connection = self.request_version == "HTTP/1.0"
        if self.path.startswith("//"):  # as http.server does: never an absolute URI
            self.path = "/" + self.path.lstrip("/")
        self.headers = _RequestHeaders()
        while True:
            line = self.rfile.readline(65537)
            if len(line) > 65536:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long")
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            name, colon, value = str(line, "iso-8859-1").partition(":")
            if not colon or not _HEADER_NAME.fullmatch(name):
                # No folded lines (obs-fold) nor space before the colon (RFC 9112, 5).
                self.send_error(HTTPStatus.BAD_REQUEST,
                                f"malformed header line {line[:80]!r}")
                return False
            if not self.headers.add(name, value.strip()):
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
                return False
        connection = self.headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        if (self.headers.get("Expect", "").lower() == "100-continue"
                and self.request_version == "HTTP/1.1"):
            return self.handle_expect_100()
        return True

    def handle_expect_100(self) -> bool:
        # Sent now, not left in the write buffer: a client (curl, for a body over
        # 1 KiB) waits for it before it sends the body.
        self.send_response_only(HTTPStatus.CONTINUE)
        self.end_headers()
        self.wfile.flush()
        return True

    def send_error(self, code, message=None, explain=None):
        """Malformed requests (bad request line, oversized headers) get JSON too."""
        self.close_connection = True
        try:
            status = HTTPStatus(code)
        except ValueError:
            status = HTTPStatus.BAD_REQUEST
        text = message or status.phrase
        if not getattr(self, "command", None):
            self.command = ""
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.0"  # unparseable request line: still send a status
        self._send_json(status, {"error": text})

    def log_request(self, code="-", size="-"):
        if log.isEnabledFor(logging.DEBUG):  # formatting it costs even when not shown
            # The query's values stay out of the log: a client may send a secret there.
            line = re.sub(r"([?&][^=&\s]*)=[^&\s]*", r"\1=…", self.requestline)
            self.log_message('"%s" %s %s', line, int(code) if isinstance(code, int) else code,
                             size)

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)


class _RequestHeaders:
    """A request's header fields by name in any case, as http.server's Message answers
    ``get`` and ``get_all``; at most MAX_FIELDS of them."""

    MAX_FIELDS = 100

    def __init__(self):
        self._fields: Dict[str, List[str]] = {}
        self._count = 0

    def add(self, name: str, value: str) -> bool:
        """Keep a field; False past MAX_FIELDS."""
        self._count += 1
        self._fields.setdefault(name.lower(), []).append(value)
        return self._count <= self.MAX_FIELDS

    def get(self, name: str, default=None):
        values = self._fields.get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str, default=None):
        return list(self._fields.get(name.lower(), ())) or default

    def __getitem__(self, name: str):
        return self.get(name)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._fields


class _RequestArrival(io.RawIOBase):
    """A connection's read side with two clocks: how long it may wait idle for a
    request, and how long a request may take once its first byte has arrived
    (a per-read timeout alone lets a client send one byte every 29 s forever)."""

    def __init__(self, sock: socket.socket, idle: float, deadline: float):
        super().__init__()
        self.sock, self.idle, self.deadline = sock, idle, deadline
        self._started: Optional[float] = None

    def readable(self) -> bool:
        return True

    def wait_for_request(self) -> None:
        self._started = None

    def readinto(self, buffer) -> int:
        now = time.monotonic()
        if self._started is None:
            self.sock.settimeout(self.idle)
        else:
            left = self._started + self.deadline - now
            if left <= 0:
                raise socket.timeout(f"the request took over {self.deadline:g}s to arrive")
            self.sock.settimeout(left)
        received = self.sock.recv_into(buffer)
        if self._started is None:
            self._started = time.monotonic()  # the request's first byte, not the idle wait's start
        return received


class KalaServer(ThreadingHTTPServer):
    """The HTTP server: one thread per connection (up to a cap), HTTP/1.1 keep-alive,
    an access policy checked on every request, and TLS when given a context."""

    daemon_threads = True
    allow_reuse_address = True
    #: Connections the kernel queues before accept() takes them (socketserver's
    #: default of 5 resets a burst of clients); past MAX_CONNECTIONS they get a 503.
    request_queue_size = 1024

    def __init__(self, address: Tuple[str, int], app: KalaApp, *,
                 access: Optional[AccessPolicy] = None, tls=None,
                 max_connections: int = MAX_CONNECTIONS):
        self.app = app
        self.access = access or AccessPolicy()
        self.tls = tls  # an ssl.SSLContext, or None for plain HTTP
        self.max_connections = max_connections
        self._turned_away, self._next_busy_warning = 0, -math.inf
        self.date_header = (0, "")
        self._connection_slots = threading.BoundedSemaphore(max_connections)
        self.stop_request: Optional[StopRequest] = None  # serve's SIGTERM and Ctrl-C
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _RequestHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def get_request(self):
        sock, address = super().get_request()
        if self.tls is not None:
            # The handshake happens in the connection's own thread, under a
            # deadline, so a client that never finishes it cannot stall accept().
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def service_actions(self) -> None:  # serve_forever's every turn, in the main thread
        if self.stop_request is not None:
            self.stop_request.check()

    def process_request(self, request, client_address):
        if not self._connection_slots.acquire(blocking=False):
            self._turned_away += 1
            if time.monotonic() >= self._next_busy_warning:  # not a line per connection
                self._next_busy_warning = time.monotonic() + 10.0
                log.warning("%d connections open: turning new ones away (%d so far, the "
                            "latest from %s)", self.max_connections, self._turned_away,
                            client_address[0])
            self._turn_away(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._connection_slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connection_slots.release()

    def _turn_away(self, request) -> None:
        if self.tls is None:
            body = b'{"error": "too many connections; try again shortly"}'
            try:
                request.setblocking(False)  # the accept loop never waits on this client
                request.send(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
                             b"application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            except OSError:
                pass
        self.shutdown_request(request)

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # a client that vanished or spoke garbage TLS
            log.debug("connection from %s ended: %s", client_address[0], error)
        else:
            log.exception("unexpected error serving %s", client_address[0])


def tls_context(cert_file: str, key_file: Optional[str] = None):
    """A server-side TLS context from PEM files (the key may be inside the cert file)."""
    import ssl  # only when TLS is asked for

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        # An empty password makes an encrypted key fail here instead of prompting.
        context.load_cert_chain(cert_file, key_file or None, password=lambda: b"")
    except (OSError, ssl.SSLError) as exc:
        detail = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise KalaError(f"cannot load the TLS certificate {cert_file!r}"
                        + (f" and key {key_file!r}" if key_file else "")
                        + f": {detail} (expected unencrypted PEM files)") from None
    return context


# =============================================================================
# The web page: one document, its style and its script (served at / and /webui/)
# =============================================================================

#: The page's style and script. They are allowed by their hashes in the page's
#: Content-Security-Policy, which forbids every other script, inline event
#: handlers and all third-party sources.
_PAGE_STYLE = r"""
:root { --line: #c8c8c8; --muted: #595959; --bad: #a4000f; --good: #0a5c2c; --ok-mark: #2e7d32; --bad-mark: #c62828; --skip-mark: #767676; --accent: #0645ad; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { font: 15px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #111; background: #fff; }
header { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: baseline; padding: .6rem 1rem; border-bottom: 2px solid #111; }
header h1 { font-size: 1.2rem; margin: 0; }
header h1 a { color: inherit; text-decoration: none; }
nav a { margin-right: 1rem; }
nav a[aria-current=page] { font-weight: 700; color: #111; }
main { padding: 0 1rem 2rem; max-width: 84rem; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible, summary:focus-visible { outline: 3px solid #1a73e8; outline-offset: 1px; }
h2 { font-size: 1.15rem; margin: 1.2rem 0 .5rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .4rem; text-align: left; vertical-align: top; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; color: inherit; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.small { font-size: .85rem; }
.bad { color: var(--bad); font-weight: 600; }
.good { color: var(--good); }
.badge { display: inline-block; padding: 0 .4rem; border: 1px solid currentColor; border-radius: 3px; font-size: .85rem; margin-left: .4rem; vertical-align: middle; }
.toolbar { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; margin: .8rem 0; }
label { display: block; font-weight: 600; }
label span { display: block; font-weight: normal; color: var(--muted); font-size: .85rem; }
label input, label select, label textarea { font-weight: normal; }
td.when { white-space: nowrap; }
input, select, textarea, button { font: inherit; }
input[type=text], input[type=search], input[type=number], input[type=datetime-local], input[type=time], input[type=password], select, textarea { padding: .3rem; border: 1px solid #767676; border-radius: 3px; max-width: 100%; }
#filter { width: 22rem; }
textarea { width: 100%; min-height: 3.5rem; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
button { padding: .35rem .8rem; border: 1px solid #333; border-radius: 3px; background: #f2f2f2; color: #111; cursor: pointer; }
button:disabled { color: var(--muted); cursor: default; }
button.danger { border-color: var(--bad); color: var(--bad); }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: .8rem 0; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dl.fields dt { font-weight: 600; }
dl.fields dd { margin: 0; overflow-wrap: anywhere; }
pre { background: #f4f4f4; border: 1px solid var(--line); padding: .5rem; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 20rem; overflow: auto; margin: .3rem 0; }
code { overflow-wrap: anywhere; }
fieldset { border: 1px solid var(--line); margin: 0 0 1rem; padding: .6rem .8rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: .8rem 1rem; }
.grid .wide { grid-column: 1 / -1; }
.grid input[type=text], .grid input[type=search], .grid input[type=number], .grid input[type=datetime-local], .grid input[type=time], .grid select { width: 100%; }
.grid label.check { font-weight: normal; }
[role=alert] { border: 2px solid var(--bad); padding: .5rem .7rem; margin: .8rem 0; }
[role=alert]:empty { display: none; }
#notice:empty { display: none; }
#notice { border: 1px dashed #333; padding: .4rem .7rem; margin: .8rem 0; }
.stats { display: flex; flex-wrap: wrap; gap: .2rem 1.2rem; margin: .6rem 0 0; padding: 0; list-style: none; }
.stats b { font-variant-numeric: tabular-nums; }
.pager { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin: .8rem 0; }
.pager label { display: inline; font-weight: normal; }
svg { display: block; overflow: visible; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", sans-serif; fill: #111; }
svg .axis { stroke: #767676; stroke-width: 1; fill: none; }
svg text.axis-label { fill: var(--muted); }
.succeeded { fill: var(--ok-mark); }
.failed { fill: var(--bad-mark); }
.skipped { fill: var(--skip-mark); }
.strip { cursor: pointer; }
.strip-note { display: block; font-size: .8rem; color: var(--muted); max-width: 12rem; }
.strip-note:empty { display: none; }
.panels { display: grid; grid-template-columns: minmax(0, 2fr) minmax(14rem, 1fr); gap: 1rem 2rem; align-items: start; }
svg.graph, svg.durations { max-width: 100%; height: auto; }
figure { margin: 0; }
figcaption { font-weight: 600; margin: 1.2rem 0 .4rem; }
ol.next { margin: 0; padding-left: 1.4rem; }
.graph rect { fill: #f2f2f2; stroke: #555; }
.graph rect.this { fill: #e3ecfa; stroke: var(--accent); stroke-width: 2; }
.graph path { stroke: #555; fill: none; stroke-width: 1.5; }
.graph path.arrow { fill: #555; stroke: none; }
.graph path.on-failure { stroke: var(--bad-mark); stroke-dasharray: 5 4; }
.graph a text { fill: var(--accent); text-decoration: underline; }
.graph text.edge-label { fill: var(--bad); font-size: 11px; }
.going { border: 1px solid var(--line); border-left: 4px solid var(--accent); padding: .4rem .7rem; margin: .5rem 0; }
.going-head { display: flex; flex-wrap: wrap; gap: .3rem 1rem; align-items: center; }
table.timeline td, table.timeline th { padding: .2rem .4rem; vertical-align: middle; }
table.timeline td:first-child, table.timeline th:first-child { width: 14rem; max-width: 40vw; overflow-wrap: anywhere; }
.axis-labels { position: relative; height: 1.2rem; font-size: .8rem; color: var(--muted); font-weight: normal; }
.axis-labels span { position: absolute; transform: translateX(-50%); white-space: nowrap; }
.axis-labels span:first-child { transform: none; }
.axis-labels span:last-child { transform: translateX(-100%); }
.track { width: 100%; height: 18px; }
.track rect.run { fill: var(--accent); }
.track rect.crowd { fill: #5b6f8f; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 40rem) {
  table.cards thead { display: none; }
  table.cards tr { display: block; border: 1px solid var(--line); margin: 0 0 .6rem; padding: .3rem; }
  table.cards td { display: flex; gap: .5rem; border: 0; padding: .15rem .3rem; text-align: left; }
  table.cards td::before { content: attr(data-label); min-width: 6.5rem; font-weight: 600; }
  table.cards td.num { text-align: left; }
  dl.fields { grid-template-columns: 1fr; }
  dl.fields dd { margin-bottom: .4rem; }
  #filter { width: 100%; }
  .toolbar label { flex: 1 1 100%; }
  table.timeline td:first-child, table.timeline th:first-child { width: 6.5rem; }
  .panels { grid-template-columns: minmax(0, 1fr); }
}
"""

_PAGE_BODY = r"""
<header>
<h1><a href="#/">kala.py</a></h1>
<nav aria-label="Views"><a href="#/" data-view="list">Jobs</a><a href="#/timeline" data-view="timeline">Timeline</a><a href="#/new" data-view="new">New job</a><a href="#/status" data-view="status">Status</a></nav>
<ul class="stats" id="summary" aria-label="Summary"></ul>
</header>
<main>
<p id="notice" role="status"></p>
<form id="token-form" hidden>
<h2>This server needs a token</h2>
<p id="token-reason" class="muted">Ask whoever runs it. It is kept in this tab only.</p>
<label>Token <input type="password" name="token" autocomplete="off" required></label>
<div class="actions"><button type="submit">Use token</button></div>
</form>

<section id="view-list" hidden aria-labelledby="list-title">
<h2 id="list-title" class="sr-only">Jobs</h2>
<div class="toolbar" role="search">
<label>Find <span>words in the name, owner or command</span><input type="search" id="filter" placeholder="e.g. backup" autocomplete="off"></label>
<label>Show <span>which jobs</span><select id="status-filter">
<option value="">all</option><option value="active">active</option><option value="running">running now</option>
<option value="failing">last run failed</option><option value="disabled">disabled</option><option value="done">done</option></select></label>
<span id="count" class="muted" role="status"></span>
</div>
<table class="cards" id="jobs-table"><thead><tr>
<th><button type="button" data-sort="name">Name</button></th>
<th><button type="button" data-sort="owner">Owner</button></th>
<th>Schedule</th>
<th><button type="button" data-sort="next">Next run</button></th>
<th><button type="button" data-sort="last">Last run</button></th>
<th>Recent runs <span class="sr-only">(oldest to newest)</span></th>
<th class="num"><button type="button" data-sort="successes">Succeeded</button></th>
<th class="num"><button type="button" data-sort="errors">Failed</button></th>
<th>State</th>
</tr></thead><tbody id="jobs"></tbody></table>
<p id="empty" class="muted" hidden>No jobs yet. <a href="#/new">Create one</a>.</p>
<div class="pager" id="pager">
<button type="button" id="page-prev">‹ Previous</button>
<span id="page-at" class="muted"></span>
<button type="button" id="page-next">Next ›</button>
<label>Per page <select id="page-size"><option>25</option><option selected>50</option><option>100</option><option>200</option></select></label>
</div>
</section>

<section id="view-job" hidden aria-labelledby="job-title">
<h2 id="job-title"></h2>
<p id="job-summary" class="muted"></p>
<div class="actions" id="job-actions">
<button type="button" id="run-now">Run now</button>
<button type="button" id="stop" class="danger" hidden>Stop</button>
<button type="button" id="edit">Edit</button>
<button type="button" id="toggle">Disable</button>
<button type="button" id="delete" class="danger">Delete…</button>
</div>
<div id="confirm-delete" hidden role="group" aria-label="Confirm deletion">
<p id="confirm-text"></p>
<div class="actions"><button type="button" id="delete-yes" class="danger">Yes, delete</button>
<button type="button" id="delete-no">Cancel</button></div>
</div>
<p id="job-error" role="alert"></p>
<section id="going" hidden aria-labelledby="going-title">
<h3 id="going-title">Running now</h3>
<div id="going-runs"></div>
</section>
<div class="panels">
<figure><figcaption id="durations-title">Run durations</figcaption><div id="durations"></div></figure>
<div><h3>Next runs</h3><ol class="next" id="next-runs"></ol><p id="no-next" class="muted" hidden></p></div>
</div>
<figure><figcaption id="graph-title">Related jobs</figcaption><div id="graph"></div></figure>
<h3>Settings</h3>
<dl class="fields" id="job-fields"></dl>
<h3>Recent runs</h3>
<table class="cards" id="runs-table"><thead><tr><th>Started</th><th class="num">Duration</th>
<th>Result</th><th class="num">Retries</th><th>Trigger</th><th>Process</th><th>Output</th></tr></thead>
<tbody id="runs"></tbody></table>
<p id="no-runs" class="muted" hidden>No runs yet.</p>
</section>

<section id="view-timeline" hidden aria-labelledby="timeline-title">
<h2 id="timeline-title">Timeline</h2>
<div class="toolbar">
<label>Window <select id="window"><option value="3600">the next hour</option><option value="21600">the next 6 hours</option><option value="86400">the next 24 hours</option><option value="604800">the next 7 days</option></select></label>
<label>From <span>your local time; empty: now</span><input type="datetime-local" id="window-from" step="1"></label>
<span id="timeline-count" class="muted" role="status"></span>
</div>
<table class="timeline" id="timeline"><thead><tr><th scope="col">Job</th><th scope="col"><div class="axis-labels" id="axis"></div></th></tr></thead>
<tbody id="timeline-rows"></tbody></table>
<p id="timeline-empty" class="muted" hidden>Nothing runs by itself in this window.</p>
</section>

<section id="view-new" hidden aria-labelledby="form-title">
<h2 id="form-title">New job</h2>
<form id="job-form" novalidate>
<fieldset><legend>What</legend><div class="grid">
<label>Name <input type="text" name="name" required></label>
<label>Owner <input type="text" name="owner" placeholder="e.g. ops@example.com"></label>
<label>Kind <select name="type"><option value="0">local command</option><option value="1">HTTP request (remote)</option></select></label>
<label class="wide" data-kind="0">Command <span>split like a shell word list, no shell: use sh -c '…' for pipes</span>
<textarea name="command" rows="2" placeholder="e.g. /usr/local/bin/backup --quick"></textarea></label>
<label class="wide" data-kind="0">Working directory <span>an absolute path; empty: the server's --workdir</span>
<input type="text" name="cwd" placeholder="e.g. /srv/reports"></label>
<label class="wide" data-kind="0">Environment <span>one variable a line: NAME=value</span>
<textarea name="environment" rows="2" placeholder="e.g. LANG=C"></textarea></label>
<label>Template delimiters <span>e.g. {{ }}: then {{.Name}} in the command is the job's name; empty: none</span>
<input type="text" name="TemplateDelimiters"></label>
<label class="wide" data-kind="1" hidden>URL <input type="text" name="url" placeholder="https://example.com/hook"></label>
<label data-kind="1" hidden>Method <select name="method"><option>GET</option><option>POST</option><option>PUT</option><option>PATCH</option><option>DELETE</option><option>HEAD</option></select></label>
<label data-kind="1" hidden>Timeout (s) <input type="number" name="remote_timeout" min="1" value="30"></label>
<label data-kind="1" hidden>Expected status codes <input type="text" name="codes" value="200"></label>
<label class="wide" data-kind="1" hidden>Headers <span>one per line: Name: value</span><textarea name="headers"></textarea></label>
<label class="wide" data-kind="1" hidden>Body <textarea name="body"></textarea></label>
</div></fieldset>
<fieldset><legend>When</legend><div class="grid">
<label>Runs <select name="repeat">
<option value="now">once, as soon as it is created</option>
<option value="once">once, at a time</option>
<option value="times">a number of times</option>
<option value="forever" selected>over and over</option>
<option value="cron">at a time of day (cron)</option>
<option value="manual">only when started (by hand, by a parent, on failure)</option>
<option value="text">by a schedule I type</option></select></label>
<label data-when="once times forever">Start <span>your local time; empty: from when it is created</span><input type="datetime-local" name="start" step="1"></label>
<label data-when="times">Repeats after the first run <input type="number" name="repeats" min="1" value="1"></label>
<label data-when="times forever">Every <input type="number" name="every" min="1" value="1"></label>
<label data-when="times forever">Unit <select name="unit"><option value="S">seconds</option><option value="M" selected>minutes</option><option value="H">hours</option><option value="D">days</option><option value="W">weeks</option><option value="MO">months</option><option value="Y">years</option></select></label>
<label data-when="cron">At <span>time of day</span><input type="time" name="cron_time" value="09:00"></label>
<label data-when="cron">On <span>which days</span><select name="cron_days"><option value="* * *">every day</option><option value="* * 1-5">Monday to Friday</option><option value="* * 0,6">Saturday and Sunday</option><option value="* * 1">Mondays</option><option value="1 * *">the first of the month</option></select></label>
<label data-when="cron text">Time zone <span>IANA name; empty: UTC</span><input type="text" name="timezone" placeholder="e.g. Europe/Berlin"></label>
<label class="wide" data-when="once times forever cron text">Schedule <span>ISO 8601 or cron, built from the fields above; edit it freely (e.g. R/PT5M, */15 * * * *, @daily, @every 5m)</span><input type="text" name="schedule" placeholder="R2/2030-06-04T19:25:16Z/PT10S"></label>
<label class="check" hidden><input type="checkbox" name="trigger_only"> Runs only when started</label>
<label data-when="once times forever cron text">Epsilon <span>how late a run may start, e.g. PT30S</span><input type="text" name="epsilon"></label>
<label class="check" data-when="once times forever cron text"><input type="checkbox" name="resume_at_next_scheduled_time"> After downtime, skip what was missed and wait for the next occurrence</label>
<label>Timeout (s) <span>local command; 0: none</span><input type="number" name="timeout" min="0" step="any" value="0"></label>
<label>While a run goes <span>what a run due meanwhile does</span><select name="concurrency"><option value="allow">runs too (allow)</option><option value="forbid">is skipped (forbid)</option><option value="replace">replaces it (replace)</option></select></label>
</div></fieldset>
<fieldset><legend>Retries</legend><div class="grid">
<label>Retries <span>extra attempts after a failed one</span><input type="number" name="retries" min="0" value="0"></label>
<label>Delay <span>before the first retry, e.g. PT30S; empty: at once</span><input type="text" name="retry_delay"></label>
<label>Backoff <span>each further delay this many times longer</span><input type="number" name="retry_backoff" min="1" step="any" value="1"></label>
<label>Longest delay <span>e.g. PT10M; empty: no bound</span><input type="text" name="retry_delay_max"></label>
</div></fieldset>
<fieldset><legend>Related jobs</legend><div class="grid">
<label class="wide">Find jobs for the lists below <span>words in the name, owner or command; the lists show the first 100 found</span><input type="search" id="relation-filter" autocomplete="off"></label>
<label>Parents <span id="parents-note">it runs after each of these succeeds, and has no schedule of its own</span><select name="parents" multiple size="5"></select></label>
<label>On failure run <span>a job started when a run of this one fails</span><select name="on_failure_job"><option value="">nothing</option></select></label>
<label class="check"><input type="checkbox" name="disabled"> Disabled</label>
</div></fieldset>
<p id="form-error" role="alert"></p>
<div class="actions"><button type="submit" id="form-submit">Create job</button></div>
</form>
</section>

<section id="view-status" hidden aria-labelledby="status-title">
<h2 id="status-title">Scheduler</h2>
<dl class="fields" id="app-stats"></dl>
<h3>Processes sharing the database</h3>
<table class="cards"><thead><tr><th>Process</th><th>Last heartbeat</th><th class="num">Runs going</th><th class="num">Processes it took for dead</th></tr></thead><tbody id="nodes"></tbody></table>
</section>
</main>
"""

#: Every piece of job text is inserted as a text node, never parsed as HTML.
_PAGE_SCRIPT = r"""
"use strict";
const ZERO = "0001-01-01T00:00:00Z";
const STRIP_RUNS = 30;       // runs in each job's strip in the list
const CHART_RUNS = 200;      // runs in a job's duration chart
const SVG = "http://www.w3.org/2000/svg";
const state = { page: [], total: 0, offset: 0, stats: null, view: "list", jobId: null, job: null,
                sort: "name", desc: false, going: [], watchUntil: 0, skew: 0, names: new Map(),
                token: sessionStorage.getItem("kala-token") || "", waitingForToken: false,
                openRuns: new Set(), editing: null };
const $ = id => document.getElementById(id);

// Every piece of server text goes in as a text node or an attribute: never as HTML.
function build(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.setAttribute("class", value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child !== undefined && child !== null && child !== false) node.append(child);
  }
  return node;
}
const el = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
const svg = (tag, attrs, ...children) => build(document.createElementNS(SVG, tag), attrs, children);

// Names of the jobs seen so far, for links to jobs that are not on the page.
function remember(job) { state.names.set(job.id, job.name); }
const nameOf = id => state.names.has(id) ? state.names.get(id) : id.slice(0, 8) + "…";
const jobHref = id => "#/job/" + encodeURIComponent(id);
const jobLink = id => el("a", { href: jobHref(id) }, nameOf(id));

// Look up the names of jobs not seen yet (a parent on another page), then draw again.
async function learnNames(ids, then) {
  const unknown = [...new Set(ids)].filter(id => !state.names.has(id));
  if (!unknown.length) return;
  await Promise.all(unknown.slice(0, 20).map(id =>
    api("GET", "/api/v1/job/" + encodeURIComponent(id) + "/").then(
      answer => remember(answer.job), () => state.names.set(id, id))));
  then();
}

class Unauthorized extends Error {}

async function api(method, path, body) {
  const headers = {};
  const sent = state.token;
  if (sent) headers.Authorization = "Bearer " + sent;
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    // A refusal of a token since replaced (an answer to a request sent before the
    // new one was typed, late on a loaded machine) must not ask for it again.
    if (sent === state.token) askForToken(sent ? "That token was refused; try again." : "");
    throw new Unauthorized();
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!response.ok) {
    throw new Error(data && data.error ? data.error : response.status + " " + response.statusText);
  }
  return data;
}

function askForToken(reason) {
  state.waitingForToken = true;
  sessionStorage.removeItem("kala-token");
  state.token = "";
  if (reason) $("token-reason").textContent = reason;
  $("token-form").hidden = false;
  for (const section of document.querySelectorAll("main > section")) section.hidden = true;
  $("token-form").elements.token.focus();
}

$("token-form").addEventListener("submit", event => {
  event.preventDefault();
  state.token = event.target.elements.token.value.trim();
  sessionStorage.setItem("kala-token", state.token);
  event.target.reset();
  event.target.hidden = true;
  state.waitingForToken = false;
  route();
});

// --- words for times, durations and schedules ------------------------------------
// The server's clock, as far as its answers tell: relative times count from it.
const serverNow = () => Date.now() + state.skew;
const isTime = iso => Boolean(iso) && iso !== ZERO && !isNaN(new Date(iso));

// Formats made once: making one for each time drawn costs more than all the rest.
const FORMATS = {
  full: new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" }),
  short: new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }),
  date: new Intl.DateTimeFormat(undefined, { dateStyle: "medium" }),
  clock: new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" }),
  dayClock: new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" }),
};
const fullTime = iso => FORMATS.full.format(new Date(iso));
const shortTime = iso => FORMATS.short.format(new Date(iso));

// "in 3 s", "2 min ago", "5 h ago", "3 days ago"; a date beyond two months.
function relativeTime(iso) {
  const ms = new Date(iso) - serverNow();
  const s = Math.abs(ms) / 1000;
  if (s < 1) return "now";
  const text = s < 60 ? Math.round(s) + " s" : s < 3600 ? Math.round(s / 60) + " min"
    : s < 86400 ? Math.round(s / 3600) + " h" : s < 86400 * 1.5 ? "1 day"
    : s < 86400 * 60 ? Math.round(s / 86400) + " days" : null;
  if (text === null) return FORMATS.date.format(new Date(iso));
  return ms > 0 ? "in " + text : text + " ago";
}

// A time as people say it, with the full time on hover (and for screen readers).
function timeCell(iso, never) {
  if (!isTime(iso)) return el("span", { class: "muted" }, never || "never");
  return el("time", { datetime: iso, title: fullTime(iso) }, relativeTime(iso));
}

function secondsText(seconds) {
  if (seconds < 1) return (seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1) + " ms";
  if (seconds < 120) return seconds.toFixed(seconds < 10 ? 2 : 1) + " s";
  if (seconds < 7200) return (seconds / 60).toFixed(1) + " min";
  return (seconds / 3600).toFixed(1) + " h";
}

const UNITS = [["year", "years"], ["month", "months"], ["week", "weeks"], ["day", "days"],
               ["h", "h"], ["min", "min"], ["s", "s"]];
function durationWords(text) {
  const m = /^P(?:([0-9.]+)Y)?(?:([0-9.]+)M)?(?:([0-9.]+)W)?(?:([0-9.]+)D)?(?:T(?:([0-9.]+)H)?(?:([0-9.]+)M)?(?:([0-9.]+)S)?)?$/.exec(text || "");
  if (!m) return text;
  const parts = [];
  UNITS.forEach(([one, many], i) => {
    if (m[i + 1] !== undefined) parts.push(m[i + 1] + " " + (Number(m[i + 1]) === 1 ? one : many));
  });
  return parts.length ? parts.join(" ") : text;
}

const CRON_MACROS = { "@yearly": "yearly, on 1 January at 00:00", "@annually": "yearly, on 1 January at 00:00",
  "@monthly": "monthly, on the first at 00:00", "@weekly": "weekly, on Sunday at 00:00",
  "@daily": "daily at 00:00", "@midnight": "daily at 00:00", "@hourly": "hourly, on the hour" };
const CRON_DAYS = { "* * *": "daily", "* * 1-5": "Monday to Friday", "* * MON-FRI": "Monday to Friday",
  "* * 0,6": "Saturday and Sunday", "* * 6,0": "Saturday and Sunday", "* * SAT,SUN": "Saturday and Sunday",
  "1 * *": "on the first of the month" };
const NUMBER = /^[0-9]{1,2}$/;
const two = text => text.padStart(2, "0");

// Words for the common cron forms, five fields or six (seconds first); any other
// expression is shown as it is.
function cronWords(text) {
  const macro = CRON_MACROS[text.trim().toLowerCase()];
  if (macro) return macro;
  const fields = text.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) return "by cron";
  const seconds = fields.length === 6 ? fields[0] : null;
  const [minute, hour, ...rest] = fields.slice(fields.length - 5);
  const days = CRON_DAYS[rest.join(" ").toUpperCase()];
  const step = field => { const m = /^\*\/([0-9]+)$/.exec(field); return m ? Number(m[1]) : null; };
  const plural = (n, one, many) => n === 1 ? one : n + " " + many;
  if (days && NUMBER.test(minute) && NUMBER.test(hour) && (seconds === null || NUMBER.test(seconds))) {
    return days + " at " + two(hour) + ":" + two(minute) + (seconds !== null && Number(seconds) ? ":" + two(seconds) : "");
  }
  if (days !== "daily") return "by cron";
  if (seconds !== null && hour === "*" && minute === "*") {
    if (seconds === "*") return "every second";
    if (step(seconds)) return "every " + plural(step(seconds), "second", "seconds");
  }
  if (seconds === null || seconds === "0") {
    if (hour === "*" && minute === "*") return "every minute";
    if (hour === "*" && step(minute)) return "every " + plural(step(minute), "minute", "minutes");
    if (hour === "*" && NUMBER.test(minute)) return "hourly at :" + two(minute);
    if (step(hour) && NUMBER.test(minute)) return "every " + plural(step(hour), "hour", "hours") + " at :" + two(minute);
  }
  return "by cron";
}

function everyWords(text) {
  if (text.startsWith("P")) return durationWords(text);
  return text.replace(/([0-9.]+)(ms|h|m|s)/g, (_, n, unit) => n + " " + { h: "h", m: "min", s: "s", ms: "ms" }[unit] + " ").trim();
}

function scheduleWords(job) {
  if (job.parent_jobs && job.parent_jobs.length) {
    return "after " + job.parent_jobs.map(nameOf).join(", ");
  }
  if (job.trigger_only) return "only when started";
  if (!job.schedule) return job.is_done ? "once, when it was created" : "once, as soon as it can";
  const zoneWords = job.timezone ? " (" + job.timezone + ")" : " (UTC)";
  if (job.schedule.startsWith("@every")) return "every " + everyWords(job.schedule.slice(6).trim()) + ", from creation";
  if (!/^R[0-9]*\//.test(job.schedule)) return cronWords(job.schedule) + zoneWords;
  if (job.schedule.split("/").length === 2) {
    const [repeat, interval] = job.schedule.split("/");
    return "every " + durationWords(interval) + ", from creation" + (repeat === "R" ? "" : ", " + repeat.slice(1) + " repeats");
  }
  const [repeat, start, interval] = job.schedule.split("/");
  const zone = /[zZ]|[+-][0-9:]+$/.test(start) || !job.timezone ? "" : " (" + job.timezone + ")";
  const at = (zone ? start.replace("T", " ") : isTime(start) ? fullTime(start) : start) + zone;
  if (repeat === "R0" || !interval) return "once at " + at;
  const every = "every " + durationWords(interval);
  if (repeat === "R") return every + ", from " + at;
  const left = job.is_done ? 0 : Math.max(0, Number(repeat.slice(1)) + 1 - job.metadata.number_of_finished_runs);
  return every + ", " + left + " more run" + (left === 1 ? "" : "s");
}

function jobState(job) {
  return job.disabled ? "disabled" : job.is_done ? "done" : "active";
}
function lastFailed(job) {
  return job.last_error !== ZERO && (job.last_success === ZERO || job.last_error > job.last_success);
}
function lastRun(job) {
  if (job.last_attempted_run === ZERO) return [el("span", { class: "muted" }, "never")];
  // RFC 3339 times in UTC compare as text. A run started after the last one ended is going.
  const ended = job.last_error > job.last_success ? job.last_error : job.last_success;
  if (job.last_attempted_run > ended) {
    return [timeCell(job.last_attempted_run), " ", el("span", { class: "muted" }, "⋯ going")];
  }
  const failed = lastFailed(job);
  return [timeCell(job.last_attempted_run), " ",
          el("span", { class: failed ? "bad" : "good" }, failed ? "✗ failed" : "✓ ok")];
}
// When it runs next; a disabled job's time is when it would run if enabled now.
function nextRun(job) {
  if (!isTime(job.next_run_at)) return el("span", { class: "muted" }, "—");
  if (job.disabled) return el("span", { class: "muted" }, "off (would be ", timeCell(job.next_run_at), ")");
  return timeCell(job.next_run_at);
}

// --- pictures --------------------------------------------------------------------------
const RESULT_WORDS = { succeeded: "✓ succeeded", failed: "✗ failed", skipped: "skipped (forbid)" };

function runWords(run) {
  return [fullTime(run.ran_at) + " (" + relativeTime(run.ran_at) + ")", secondsText(run.duration),
          RESULT_WORDS[run.result] + (run.error ? ": " + run.error : ""), run.trigger + " on " + run.node].join(" · ");
}

// A job's last runs as bars, oldest first: colour by result, height by duration (on a
// log scale against the longest). Hovering a bar names it; a tap writes it below.
function runStrip(runs, note) {
  const width = 5, gap = 1, height = 22;
  const longest = Math.max(0.001, ...runs.map(run => run.duration));
  const failed = runs.filter(run => run.result === "failed").length;
  const strip = svg("svg", { class: "strip", width: STRIP_RUNS * (width + gap), height, role: "img",
                             "aria-label": runs.length ? "last " + runs.length + " runs: " + (runs.length - failed) + " ok, " + failed + " failed" : "no runs yet",
                             viewBox: "0 0 " + STRIP_RUNS * (width + gap) + " " + height },
    runs.map((run, i) => {
      const h = Math.max(3, Math.round(height * Math.log1p(run.duration * 1000) / Math.log1p(longest * 1000)));
      return svg("rect", { class: run.result, x: i * (width + gap), y: height - h, width, height: h, "data-index": i },
                 svg("title", null, runWords(run)));
    }),
    runs.length ? null : svg("line", { class: "axis", x1: 0, x2: STRIP_RUNS * (width + gap), y1: height - 0.5, y2: height - 0.5 }));
  strip.addEventListener("click", event => {
    const index = event.target.getAttribute("data-index");
    note.textContent = index === null ? "" : runWords(runs[Number(index)]);
  });
  return strip;
}

// Durations of a job's runs over time: one dot each, coloured by result.
function durationChart(stats) {
  const runs = stats.filter(run => isTime(run.ran_at)).slice().reverse();  // oldest first
  if (!runs.length) return el("p", { class: "muted" }, "No runs yet.");
  const w = Math.max(280, $("durations").clientWidth || 560), h = 160, left = 52, bottom = 20;
  const times = runs.map(run => new Date(run.ran_at).getTime());
  const t0 = Math.min(...times), t1 = Math.max(...times, t0 + 1);
  const longest = Math.max(...runs.map(run => run.execution_duration / 1e9), 0.001);
  const x = t => left + (w - left - 8) * (t - t0) / (t1 - t0);
  const y = seconds => 6 + (h - bottom - 12) * (1 - seconds / longest);
  const chart = svg("svg", { width: w, height: h, viewBox: "0 0 " + w + " " + h, role: "img", class: "durations",
                             "aria-label": runs.length + " runs, the longest " + secondsText(longest) },
    svg("path", { class: "axis", d: "M" + left + " 4V" + (h - bottom) + "H" + w }),
    svg("text", { class: "axis-label", x: left - 6, y: 12, "text-anchor": "end" }, secondsText(longest)),
    svg("text", { class: "axis-label", x: left - 6, y: h - bottom, "text-anchor": "end" }, "0"),
    svg("text", { class: "axis-label", x: left, y: h - 4 }, shortTime(runs[0].ran_at)),
    svg("text", { class: "axis-label", x: w, y: h - 4, "text-anchor": "end" }, shortTime(runs[runs.length - 1].ran_at)),
    runs.map((run, i) => svg("circle", {
      class: "mark " + (run.skipped ? "skipped" : run.success ? "succeeded" : "failed"),
      cx: x(times[i]).toFixed(1), cy: y(run.execution_duration / 1e9).toFixed(1), r: 3.5 },
      svg("title", null, fullTime(run.ran_at) + " · " + secondsText(run.execution_duration / 1e9) + " · " +
          (run.skipped ? "skipped" : run.success ? "succeeded" : "failed: " + run.error)))));
  return chart;
}

// The job among its parents (left), children (right) and failure job (below).
function dependencyGraph(job) {
  const parents = job.parent_jobs || [], children = job.dependent_jobs || [];
  const failure = job.on_failure_job || "";
  if (!parents.length && !children.length && !failure) {
    return el("p", { class: "muted" }, "None: no parents, no children, no failure job.");
  }
  const width = Math.min(556, Math.max(300, $("graph").clientWidth || 556));
  const boxW = Math.floor((width - 104) / 3), boxH = 28, rowH = 40, colX = [0, boxW + 50, 2 * boxW + 100];
  const rows = Math.max(parents.length, children.length, 1);
  const height = rows * rowH + (failure ? rowH + 10 : 0);
  const middle = (rows * rowH - boxH) / 2;
  const most = Math.floor((boxW - 12) / 7.5);
  const short = text => text.length > most ? text.slice(0, most - 1) + "…" : text;
  const box = (id, x, y, cls) => svg("a", { href: jobHref(id) },
    svg("rect", { x, y, width: boxW, height: boxH, rx: 4, class: cls || "job" }),
    svg("text", { x: x + 8, y: y + 18 }, short(nameOf(id))), svg("title", null, nameOf(id)));
  const column = ids => ids.map((id, i) => (rows * rowH - ids.length * rowH) / 2 + i * rowH + 6);
  const edge = (x1, y1, x2, y2, cls) => svg("path", { class: cls || "edge", "marker-end": "url(#arrow)",
    d: "M" + x1 + " " + y1 + " C" + (x1 + x2) / 2 + " " + y1 + " " + (x1 + x2) / 2 + " " + y2 + " " + x2 + " " + y2 });
  const py = column(parents), cy = column(children);
  return svg("svg", { class: "graph", width: width, height: height + 4, viewBox: "-2 0 " + width + " " + (height + 4),
                      role: "img", "aria-label": parents.length + " parents, " + children.length + " children" + (failure ? ", a failure job" : "") },
    svg("defs", null, svg("marker", { id: "arrow", viewBox: "0 0 8 8", refX: 8, refY: 4, markerWidth: 7, markerHeight: 7, orient: "auto" },
      svg("path", { d: "M0 0L8 4L0 8z", class: "arrow" }))),
    parents.map((id, i) => [box(id, colX[0], py[i]), edge(colX[0] + boxW, py[i] + boxH / 2, colX[1], middle + boxH / 2)]),
    children.map((id, i) => [box(id, colX[2], cy[i]), edge(colX[1] + boxW, middle + boxH / 2, colX[2], cy[i] + boxH / 2)]),
    box(job.id, colX[1], middle, "this"),
    failure ? [box(failure, colX[1], rows * rowH + 10),
               svg("path", { class: "on-failure", "marker-end": "url(#arrow)",
                             d: "M" + (colX[1] + boxW / 2) + " " + (middle + boxH) + "V" + (rows * rowH + 10) }),
               svg("text", { class: "edge-label", x: colX[1] + boxW / 2 + 6, y: (middle + boxH + rows * rowH + 10) / 2 + 4 }, "on failure")] : null);
}

// --- the job list ----------------------------------------------------------------------
function listPath() {
  const size = Number($("page-size").value);
  const query = new URLSearchParams({ limit: size, offset: state.offset, runs: STRIP_RUNS,
                                      sort: (state.desc ? "-" : "") + state.sort });
  const words = $("filter").value.trim();
  if (words) query.set("q", words);
  if ($("status-filter").value) query.set("state", $("status-filter").value);
  return "/api/v1/job/?" + query;
}

async function loadList(asked) {
  const path = listPath();
  const answer = await (asked || api("GET", path));
  if (path !== listPath()) return;  // the filter changed meanwhile: a newer answer comes
  state.page = answer.order.map(id => answer.jobs[id]);
  state.page.forEach(remember);
  state.total = answer.total;
  renderList();
  learnNames(state.page.flatMap(job => job.parent_jobs || []), renderList);
}

function renderList() {
  const jobs = state.page;
  $("jobs").replaceChildren(...jobs.map(job => {
    const note = el("span", { class: "strip-note", "aria-live": "polite" });
    return el("tr", { "data-id": job.id },
      el("td", { "data-label": "Name" }, jobLink(job.id)),
      el("td", { "data-label": "Owner" }, job.owner),
      el("td", { "data-label": "Schedule" }, scheduleWords(job)),
      el("td", { "data-label": "Next run", class: "when" }, nextRun(job)),
      el("td", { "data-label": "Last run", class: "when" }, lastRun(job)),
      el("td", { "data-label": "Recent runs" }, el("div", null, runStrip(job.recent_runs || [], note), note)),
      el("td", { "data-label": "Succeeded", class: "num" }, job.success_count),
      el("td", { "data-label": "Failed", class: "num" }, job.error_count),
      el("td", { "data-label": "State" }, jobState(job)));
  }));
  const size = Number($("page-size").value);
  const filtered = $("filter").value.trim() || $("status-filter").value;
  const noun = state.total === 1 ? " job" : " jobs";
  $("count").textContent = state.total.toLocaleString() + noun + (filtered ? " found" : "");
  $("page-at").textContent = state.total ? (state.offset + 1).toLocaleString() + "–" +
    (state.offset + jobs.length).toLocaleString() + " of " + state.total.toLocaleString() : "";
  $("page-prev").disabled = state.offset === 0;
  $("page-next").disabled = state.offset + size >= state.total;
  $("pager").hidden = state.total <= size && state.offset === 0;
  $("empty").hidden = state.total > 0 || Boolean(filtered);
  for (const button of document.querySelectorAll("th button")) {
    const sorted = button.dataset.sort === state.sort;
    button.parentElement.setAttribute("aria-sort", sorted ? (state.desc ? "descending" : "ascending") : "none");
    button.textContent = button.textContent.replace(/ [▲▼]$/, "") + (sorted ? (state.desc ? " ▼" : " ▲") : "");
  }
}

function reloadList(fromStart) {
  if (fromStart) state.offset = 0;
  loadList().catch(showTrouble);
}
for (const button of document.querySelectorAll("th button")) {
  button.addEventListener("click", () => {
    state.desc = state.sort === button.dataset.sort ? !state.desc : false;
    state.sort = button.dataset.sort;
    reloadList(true);
  });
}
let filterTimer = null;
$("filter").addEventListener("input", () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => reloadList(true), 200);
});
$("status-filter").addEventListener("change", () => reloadList(true));
$("page-size").addEventListener("change", () => reloadList(true));
$("page-prev").addEventListener("click", () => {
  state.offset = Math.max(0, state.offset - Number($("page-size").value));
  reloadList(false);
});
$("page-next").addEventListener("click", () => {
  state.offset += Number($("page-size").value);
  reloadList(false);
});

// --- one job ---------------------------------------------------------------------------
function field(name, ...value) {
  return [el("dt", null, name), el("dd", null, ...value)];
}

function jobFields(job) {
  const remote = job.remote_properties;
  const what = job.type === 1
    ? [field("Request", el("code", null, remote.method + " " + remote.url)),
       field("Headers", Object.entries(remote.headers || {}).map(([k, v]) => k + ": " + v.join(", ")).join("; ") || "none"),
       field("Body", remote.body ? el("pre", null, remote.body) : "none"),
       field("Success when", "status " + (remote.expected_response_codes || []).join(", ") + ", within " + remote.timeout + " s")]
    : [field("Command", el("code", null, job.command))];
  const links = ids => ids && ids.length ? ids.flatMap((id, i) => i ? [", ", jobLink(id)] : [jobLink(id)]) : ["none"];
  const env = Object.entries(job.environment || {});
  const retryWait = job.retry_delay
    ? durationWords(job.retry_delay) + (job.retry_backoff !== 1 ? ", then × " + job.retry_backoff + " each time" : "") +
      (job.retry_delay_max ? ", at most " + durationWords(job.retry_delay_max) : "")
    : "none: at once";
  const finished = job.metadata.number_of_finished_runs;
  return [
    field("Id", el("code", null, job.id)), ...what,
    field("Owner", job.owner || "none"),
    field("Schedule", scheduleWords(job), job.schedule ? [" — ", el("code", null, job.schedule)] : null),
    job.timezone ? field("Time zone", job.timezone) : [],
    field("Next run", nextRun(job)),
    field("Last run", lastRun(job)),
    field("Last success", timeCell(job.last_success)),
    field("Last error", timeCell(job.last_error)),
    field("Runs finished", String(finished)),
    field("Attempts", job.success_count + " succeeded, " + job.error_count + " failed (retries count as attempts)"),
    field("State", jobState(job)),
    field("Retries", String(job.retries)),
    field("Wait before a retry", retryWait),
    field("Epsilon", job.epsilon ? durationWords(job.epsilon) : "none (any lateness)"),
    field("Timeout", job.timeout ? job.timeout + " s" : "none"),
    field("While a run goes", { allow: "a run due meanwhile runs too (allow)", forbid: "a run due meanwhile is skipped (forbid)",
                                replace: "a run due meanwhile replaces it (replace)" }[job.concurrency] || job.concurrency),
    job.type === 1 ? [] : field("Working directory", job.cwd || "the server's (--workdir)"),
    field("Parents (it runs after them)", links(job.parent_jobs)),
    field("Children (they run after it)", links(job.dependent_jobs)),
    field("On failure runs", job.on_failure_job ? jobLink(job.on_failure_job) : "nothing"),
    field("After downtime", job.resume_at_next_scheduled_time ? "waits for the next occurrence" : "runs once to catch up"),
    field("Environment", env.length ? el("code", null, env.map(([k, v]) => k + "=" + v).join(" ")) : "none"),
    field("Template delimiters", job.TemplateDelimiters ? el("code", null, job.TemplateDelimiters) : "none"),
    field("Created", timeCell(job.created_at)),
  ].flat();
}

function runRow(run) {
  const key = run.run_id;
  const output = run.output
    ? el("details", { open: state.openRuns.has(key) }, el("summary", null, run.output.length + " characters"),
         el("pre", null, run.output))
    : el("span", { class: "muted" }, "none");
  if (run.output) {
    output.addEventListener("toggle", () => output.open ? state.openRuns.add(key) : state.openRuns.delete(key));
  }
  // When it was due, only where that says something the start does not.
  const late = isTime(run.scheduled_for) ? (new Date(run.ran_at) - new Date(run.scheduled_for)) / 1000 : 0;
  return el("tr", null,
    el("td", { "data-label": "Started" }, timeCell(run.ran_at),
       Math.abs(late) >= 1 ? el("span", { class: "muted small" }, " (due ", timeCell(run.scheduled_for), ")") : null),
    el("td", { "data-label": "Duration", class: "num" }, secondsText(run.execution_duration / 1e9)),
    el("td", { "data-label": "Result" }, run.skipped ? el("span", { class: "muted" }, "skipped (forbid)")
      : run.success ? el("span", { class: "good" }, "✓ ok")
      : [el("span", { class: "bad" }, "✗ failed"), run.error ? ": " + run.error : ""]),
    el("td", { "data-label": "Retries", class: "num" }, run.number_of_retries),
    el("td", { "data-label": "Trigger" }, run.trigger),
    el("td", { "data-label": "Process" }, run.node),
    el("td", { "data-label": "Output" }, output));
}

// The runs going now, each with its output so far and a Stop button.
function renderGoing() {
  const going = state.going;
  $("going").hidden = going.length === 0;
  $("stop").hidden = going.length === 0;
  $("stop").textContent = going.length > 1 ? "Stop all " + going.length + " runs" : "Stop";
  const kept = new Map([...document.querySelectorAll("#going-runs pre")].map(pre =>
    [pre.dataset.run, pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4]));
  $("going-runs").replaceChildren(...going.map(run => {
    const stop = el("button", { type: "button", class: "danger", disabled: run.stop_requested }, run.stop_requested ? "Stopping…" : "Stop this run");
    stop.addEventListener("click", () => jobAction(stop, "POST", jobPath("stop") + "?run_id=" + run.run_id,
                                                   () => notify("Stopping run " + run.run_id + "…")));
    const started = isTime(run.claimed_at) ? run.claimed_at : run.scheduled_for;
    const pre = el("pre", { "data-run": run.run_id, tabindex: 0, "aria-label": "output of run " + run.run_id },
                   run.output || "");
    return el("div", { class: "going", "data-run": run.run_id },
      el("div", { class: "going-head" }, el("b", null, "Run " + run.run_id), el("span", null, run.trigger + " on " + run.node),
         el("span", null, "started ", timeCell(started)),
         run.attempts_failed ? el("span", { class: "bad" }, run.attempts_failed + " failed attempt(s) so far") : null, stop),
      run.output ? pre : el("p", { class: "muted" }, "No output yet."));
  }));
  for (const pre of document.querySelectorAll("#going-runs pre")) {
    if (kept.get(pre.dataset.run) !== false) pre.scrollTop = pre.scrollHeight;  // follow the tail
  }
}

function renderNext(times, job) {
  $("next-runs").replaceChildren(...times.map(iso => el("li", null, timeCell(iso), el("span", { class: "muted small" }, " — " + fullTime(iso)))));
  $("no-next").hidden = times.length > 0;
  $("no-next").textContent = job.parent_jobs && job.parent_jobs.length ? "It runs after its parents."
    : job.trigger_only ? "It runs only when started." : "None: it has no runs left.";
  if (job.disabled && times.length) {
    $("no-next").hidden = false;
    $("no-next").textContent = "It is disabled: these are the times it would run if enabled now.";
  }
}

async function renderJob() {
  const id = state.jobId, path = encodeURIComponent(id);
  let job, runs, next, going;
  try {
    [job, runs, next, going] = await Promise.all([
      api("GET", "/api/v1/job/" + path + "/"),
      api("GET", "/api/v1/job/stats/" + path + "/?limit=" + CHART_RUNS),
      api("GET", "/api/v1/job/next/" + path + "/?count=5"),
      api("GET", "/api/v1/job/running/" + path + "/")]);
  } catch (error) {
    if (error instanceof Unauthorized || state.jobId !== id) return;
    $("job-title").textContent = "Job " + id;
    $("job-error").textContent = error.message;
    $("job-fields").replaceChildren(el("dd", null, el("a", { href: "#/" }, "Back to the jobs")));
    $("job-actions").hidden = true;
    return;
  }
  if (state.jobId !== id) return;
  job = job.job;
  remember(job);
  state.job = job;
  state.going = going.runs;
  $("job-actions").hidden = false;
  $("job-title").replaceChildren(...[job.name, job.disabled ? el("span", { class: "badge" }, "disabled") : null,
                                      job.is_done ? el("span", { class: "badge" }, "done") : null].filter(Boolean));
  $("job-summary").textContent = scheduleWords(job) + (job.owner ? " · " + job.owner : "");
  $("toggle").textContent = job.disabled ? "Enable" : "Disable";
  $("job-fields").replaceChildren(...jobFields(job));
  const recent = runs.job_stats || [];  // newest first
  $("durations-title").textContent = "Run durations" + (recent.length ? " (the last " + recent.length + ")" : "");
  $("durations").replaceChildren(durationChart(recent));
  renderNext(next.next_runs, job);
  $("graph").replaceChildren(dependencyGraph(job));
  $("runs").replaceChildren(...recent.slice(0, 50).map(runRow));
  $("no-runs").hidden = recent.length > 0;
  $("runs-table").hidden = recent.length === 0;
  renderGoing();
  const related = [...(job.parent_jobs || []), ...(job.dependent_jobs || []), job.on_failure_job].filter(Boolean);
  learnNames(related, () => { if (state.jobId === id) {
    $("graph").replaceChildren(dependencyGraph(job));
    $("job-fields").replaceChildren(...jobFields(job));
    $("job-summary").textContent = scheduleWords(job) + (job.owner ? " · " + job.owner : "");
  } });
}

// While runs go (and for a few seconds after Run now), their output is fetched every
// second, and the job drawn again once one has ended.
async function followGoing() {
  const watching = Date.now() < state.watchUntil;
  if (state.view !== "job" || !(state.going.length || watching) || document.hidden || state.waitingForToken) return;
  const id = state.jobId;
  try {
    if (watching) return await renderJob();
    const going = await api("GET", "/api/v1/job/running/" + encodeURIComponent(id) + "/");
    if (state.jobId !== id) return;
    const ended = going.runs.some(run => !state.going.some(old => old.run_id === run.run_id)) ||
      state.going.some(old => !going.runs.some(run => run.run_id === old.run_id));
    state.going = going.runs;
    renderGoing();
    if (ended) await renderJob();
  } catch (error) { /* the next refresh says what is wrong */ }
}

async function jobAction(button, method, path, done) {
  $("job-error").textContent = "";
  button.disabled = true;
  try {
    await api(method, path);
    if (done) done();
  } catch (error) {
    if (!(error instanceof Unauthorized)) $("job-error").textContent = error.message;
  } finally {
    button.disabled = false;
  }
  if (state.view === "job") await renderJob();
}
const jobPath = verb => "/api/v1/job/" + (verb ? verb + "/" : "") + encodeURIComponent(state.jobId) + "/";

$("edit").addEventListener("click", () => {
  location.hash = "#/edit/" + encodeURIComponent(state.jobId);
});
$("run-now").addEventListener("click", () => {
  notify("Started " + nameOf(state.jobId) + ".");
  state.watchUntil = Date.now() + 5000;
  jobAction($("run-now"), "POST", jobPath("start") + "?wait=false");
});
$("stop").addEventListener("click", () => {
  jobAction($("stop"), "POST", jobPath("stop"), () => notify("Stopping the runs of " + nameOf(state.jobId) + "…"));
});
$("toggle").addEventListener("click", () => {
  const verb = $("toggle").textContent === "Enable" ? "enable" : "disable";
  jobAction($("toggle"), "POST", jobPath(verb));
});
$("delete").addEventListener("click", () => {
  $("confirm-text").textContent = "Delete “" + nameOf(state.jobId) +
    "”, its run stats, and its children that have no other parent?";
  $("confirm-delete").hidden = false;
  $("delete-no").focus();
});
$("delete-no").addEventListener("click", () => { $("confirm-delete").hidden = true; });
$("delete-yes").addEventListener("click", () => {
  const name = nameOf(state.jobId);
  jobAction($("delete-yes"), "DELETE", jobPath(""), () => {
    $("confirm-delete").hidden = true;
    notify("Deleted " + name + ".");
    state.view = "list";  // before the hash changes: nothing fetches the deleted job again
    location.hash = "#/";
  });
});

// --- the timeline ------------------------------------------------------------------------
function timelineWindow() {
  const from = $("window-from").value ? new Date($("window-from").value).getTime() : serverNow();
  return [from, from + Number($("window").value) * 1000];
}

async function renderTimeline() {
  const [from, to] = timelineWindow();
  const iso = ms => new Date(ms).toISOString();
  const answer = await api("GET", "/api/v1/timeline/?limit=200&from=" + iso(from) + "&to=" + iso(to));
  const span = to - from;
  const at = when => 1000 * (new Date(when) - from) / span;
  // The axis: six times across the window.
  const labels = Math.max(2, Math.min(6, Math.floor(($("axis").clientWidth || 600) / 110)));
  $("axis").replaceChildren(...[...Array(labels).keys()].map(i => {
    const label = el("span", null, (span > 86400000 ? FORMATS.dayClock : FORMATS.clock).format(
      new Date(from + span * i / (labels - 1))));
    label.style.left = (100 * i / (labels - 1)) + "%";
    return label;
  }));
  const bucket = span / 60000;  // seconds
  const bucketWords = bucket % 3600 === 0 ? (bucket === 3600 ? "hour" : bucket / 3600 + " h")
    : bucket % 60 === 0 ? (bucket === 60 ? "minute" : bucket / 60 + " min") : secondsText(bucket);
  // How many runs fall in each sixtieth of the window (counted by the server from every
  // job's runs, not only the first 100 listed): where they crowd.
  const buckets = answer.buckets;
  const most = Math.max(1, ...buckets);
  const track = (label, marks) => svg("svg", { class: "track", viewBox: "0 0 1000 18", preserveAspectRatio: "none", role: "img", "aria-label": label }, marks);
  const crowd = track("runs in each " + bucketWords + " of the window; at most " + most, buckets.map((n, i) =>
    n ? svg("rect", { class: "crowd", x: i * 1000 / 60 + 1, width: 1000 / 60 - 2, y: 18 - 18 * n / most, height: 18 * n / most },
            svg("title", null, n + " run" + (n === 1 ? "" : "s") + " from " + fullTime(iso(from + span * i / 60)))) : null));
  const rows = answer.jobs.map(job => {
    remember(job);
    return el("tr", { "data-id": job.id },
      el("th", { scope: "row" }, jobLink(job.id), job.more ? el("span", { class: "muted small" }, " (the first 100 runs)") : null),
      el("td", null, track(job.runs.length + " runs of " + job.name, job.runs.map(when =>
        svg("rect", { class: "run", x: Math.max(0, at(when) - 1.5), width: 3, y: 2, height: 14 },
            svg("title", null, job.name + " · " + fullTime(when) + " (" + relativeTime(when) + ")"))))));
  });
  $("timeline-rows").replaceChildren(
    el("tr", { class: "crowding" }, el("th", { scope: "row" }, "All jobs ", el("span", { class: "muted small" }, "(runs per " + bucketWords +
      (answer.buckets_capped ? "; the first 3,600 of each job" : "") + ")")), el("td", null, crowd)),
    ...rows);
  const total = buckets.reduce((sum, count) => sum + count, 0);
  $("timeline-count").textContent = (answer.buckets_capped ? "over " : "") + total + " run" + (total === 1 ? "" : "s") + " of " + answer.jobs.length + " job" +
    (answer.jobs.length === 1 ? "" : "s") + (answer.jobs.length >= 200 ? " (the 200 due soonest)" : "");
  $("timeline-empty").hidden = answer.jobs.length > 0;
  $("timeline").hidden = answer.jobs.length === 0;
}
$("window").addEventListener("change", () => renderTimeline().catch(showTrouble));
$("window-from").addEventListener("change", () => renderTimeline().catch(showTrouble));

// --- the new-job form --------------------------------------------------------------------
const form = $("job-form");

function showKind() {
  for (const label of form.querySelectorAll("[data-kind]")) {
    label.hidden = label.dataset.kind !== form.elements.type.value;
  }
  const when = form.elements.repeat.value;
  for (const label of form.querySelectorAll("[data-when]")) {
    label.hidden = !label.dataset.when.split(" ").includes(when);
  }
  form.elements.trigger_only.checked = when === "manual";
}

function scheduleFromPicker() {
  const f = form.elements;
  const kind = f.repeat.value;
  if (kind === "now" || kind === "manual") return "";
  if (kind === "text") return f.schedule.value;
  if (kind === "cron") {
    const [hour, minute] = (f.cron_time.value || "09:00").split(":").map(Number);
    return minute + " " + hour + " " + f.cron_days.value;
  }
  const start = f.start.value ? new Date(f.start.value) : null;
  if (start !== null && isNaN(start)) return "";
  const iso = start ? start.toISOString().replace(/\.000Z$/, "Z") : "";
  if (kind === "once") return iso ? "R0/" + iso + "/" : "";
  const count = Math.max(1, Math.floor(Number(f.every.value) || 1));
  const unit = f.unit.value;
  const interval = ["H", "M", "S"].includes(unit) ? "PT" + count + unit
    : "P" + count + (unit === "MO" ? "M" : unit);
  const repeats = kind === "forever" ? "" : Math.max(1, Math.floor(Number(f.repeats.value) || 1));
  return "R" + repeats + "/" + (iso ? iso + "/" : "") + interval;
}

// The lists of jobs to choose parents and a failure job from: found through the API
// (there may be any number of jobs), the chosen ones always kept.
async function fillRelations() {
  const words = $("relation-filter").value.trim();
  const answer = await api("GET", "/api/v1/job/?limit=100&sort=name" + (words ? "&q=" + encodeURIComponent(words) : ""));
  const found = answer.order.map(id => answer.jobs[id]).filter(job => job.id !== state.editing);
  found.forEach(remember);
  const f = form.elements;
  const fill = (select, chosen, first) => {
    const ids = [...new Set([...chosen, ...found.map(job => job.id)])];
    select.replaceChildren(...first, ...ids.map(id => el("option", { value: id, selected: chosen.includes(id) },
                                                          nameOf(id) + " (" + id.slice(0, 8) + ")")));
  };
  fill(f.parents, [...f.parents.selectedOptions].map(o => o.value), []);
  const failure = f.on_failure_job.value;
  fill(f.on_failure_job, failure ? [failure] : [], [el("option", { value: "" }, "nothing")]);
  f.on_failure_job.value = failure;
}
let relationTimer = null;
$("relation-filter").addEventListener("input", () => {
  clearTimeout(relationTimer);
  relationTimer = setTimeout(() => fillRelations().catch(showTrouble), 200);
});

function headersFrom(text) {
  const headers = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf(":");
    if (!line.trim()) continue;
    if (at < 1) throw new Error("Header line “" + line + "” must look like Name: value");
    const name = line.slice(0, at).trim();
    (headers[name] = headers[name] || []).push(line.slice(at + 1).trim());
  }
  return headers;
}

function environmentFrom(text) {
  const environment = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const at = line.indexOf("=");
    if (at < 1) throw new Error("Environment line “" + line + "” must look like NAME=value");
    environment[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return environment;
}

// The job's fields as kala.py declares them: [name, kind, default] each. The form has
// an input of each name and sends the job's whole definition: an edit replaces the
// whole job, so a field left out would be reset.
const JOB_FIELDS = JSON.parse(document.getElementById("job-fields-declared").textContent);

function remoteFromForm() {
  const f = form.elements;
  return {
    url: f.url.value.trim(), method: f.method.value, body: f.body.value,
    headers: headersFrom(f.headers.value), timeout: Number(f.remote_timeout.value) || 30,
    expected_response_codes: f.codes.value.split(/[ ,]+/).filter(Boolean).map(Number),
  };
}

function fillRemote(remote) {
  const f = form.elements;
  f.url.value = remote.url || "";
  f.method.value = remote.method || "GET";
  f.body.value = remote.body || "";
  f.remote_timeout.value = remote.timeout || 30;
  f.codes.value = (remote.expected_response_codes || [200]).join(", ");
  f.headers.value = Object.entries(remote.headers || {})
    .flatMap(([name, values]) => values.map(value => name + ": " + value)).join("\n");
}

function jobFromForm() {
  const f = form.elements;
  const job = { disabled: f.disabled.checked };
  for (const [name, kind, fallback] of JOB_FIELDS) {
    const input = f[name];
    if (kind === "flag") job[name] = input.checked;
    else if (kind === "map") job[name] = environmentFrom(input.value);
    else if (kind === "remote") { if (f.type.value === "1") job[name] = remoteFromForm(); }
    else if (typeof fallback === "number") job[name] = input.value === "" ? fallback : Number(input.value);
    else job[name] = input.value;
  }
  // An edit keeps the job's parents (the API refuses to move a job in a chain).
  const parents = [...f.parents.selectedOptions].map(o => o.value);
  if (parents.length && !state.editing) job.parent_jobs = parents;
  return job;
}

// An edit opens the job's values in the same form; saving PUTs them.
function fillForm(job) {
  const f = form.elements;
  form.reset();
  for (const [name, kind] of JOB_FIELDS) {
    const input = f[name], value = job[name];
    if (kind === "flag") input.checked = Boolean(value);
    else if (kind === "map") input.value = Object.entries(value || {}).map(([k, v]) => k + "=" + v).join("\n");
    else if (kind === "remote") fillRemote(value || {});
    else {
      if (kind === "job" && value && ![...input.options].some(o => o.value === value)) {
        input.append(el("option", { value }, nameOf(value)));  // even before the list of jobs has come
      }
      input.value = value === null || value === undefined ? "" : String(value);
    }
  }
  f.disabled.checked = job.disabled;
  f.repeat.value = job.trigger_only ? "manual" : job.schedule ? "text" : "now";
  for (const id of job.parent_jobs || []) {
    if (![...f.parents.options].some(o => o.value === id)) f.parents.append(el("option", { value: id }, nameOf(id)));
  }
  for (const option of f.parents.options) option.selected = (job.parent_jobs || []).includes(option.value);
  f.parents.disabled = true;  // an edit keeps them
  showKind();
  fillRelations().catch(showTrouble);
}

function showForm() {
  form.elements.parents.disabled = Boolean(state.editing);
  $("parents-note").textContent = state.editing ? "an edit keeps a job's parents"
    : "it runs after each of these succeeds, and has no schedule of its own";
  $("form-title").textContent = state.editing ? "Edit job" : "New job";
  $("form-submit").textContent = state.editing ? "Save changes" : "Create job";
  $("form-error").textContent = "";
}

function newForm() {
  form.reset();
  showKind();
  form.elements.schedule.value = scheduleFromPicker();
  if (state.view === "new") fillRelations().catch(showTrouble);
}

form.addEventListener("change", event => {
  if (event.target.name === "type") showKind();
  if (event.target.name === "repeat") showKind();
  if (event.target.name === "schedule" && form.elements.repeat.value !== "text") {
    form.elements.repeat.value = "text";  // typed by hand: kept as typed
    showKind();
  }
  if (["start", "repeat", "repeats", "every", "unit", "cron_time", "cron_days"].includes(event.target.name)) {
    form.elements.schedule.value = scheduleFromPicker();
  }
});
form.addEventListener("submit", async event => {
  event.preventDefault();
  $("form-error").textContent = "";
  try {
    if (state.editing) {
      const id = state.editing;
      await api("PUT", "/api/v1/job/" + encodeURIComponent(id) + "/", jobFromForm());
      notify("Saved " + form.elements.name.value.trim() + ".");
      location.hash = "#/job/" + encodeURIComponent(id);
      return;
    }
    const created = await api("POST", "/api/v1/job/", jobFromForm());
    notify("Created " + form.elements.name.value.trim() + ".");
    newForm();
    location.hash = "#/job/" + encodeURIComponent(created.id);
  } catch (error) {
    if (!(error instanceof Unauthorized)) $("form-error").textContent = error.message;
  }
});

// --- scheduler status ----------------------------------------------------------------------
function renderSummary() {
  const s = state.stats;
  const item = (label, value) => el("li", null, label + " ", el("b", null, Number(value).toLocaleString()));
  $("summary").replaceChildren(item("jobs", s.jobs), item("active", s.active_jobs),
    item("disabled", s.disabled_jobs), item("successes", s.success_count), item("errors", s.error_count),
    item("processes", (s.nodes || []).length));
}

function renderStatus() {
  const s = state.stats;
  $("app-stats").replaceChildren(...[
    field("Jobs", s.jobs + " (" + s.active_jobs + " active, " + s.disabled_jobs + " disabled)"),
    field("Attempts", s.success_count + " succeeded, " + s.error_count + " failed"),
    field("Next run", timeCell(s.next_run_at, "none due")),
    field("Last run", timeCell(s.last_attempted_run)),
    field("Server time", el("time", { datetime: s.created }, fullTime(s.created))),
  ].flat());
  $("nodes").replaceChildren(...(s.nodes || []).map(node => el("tr", null,
    el("td", { "data-label": "Process" }, node.id),
    el("td", { "data-label": "Last heartbeat" }, timeCell(node.heartbeat)),
    el("td", { "data-label": "Runs going", class: "num" }, node.runs_going),
    el("td", { "data-label": "Took for dead", class: "num" }, node.deaths_seen))));
}

// --- navigation and refresh --------------------------------------------------------------
function notify(text) { $("notice").textContent = text; }
function showTrouble(error) {
  if (!(error instanceof Unauthorized)) notify("Cannot reach the server: " + error.message);
}

async function refresh() {
  if (state.waitingForToken) return;
  try {
    const asked = Date.now();
    // The list is asked for at the same time: drawn once the server's clock is known.
    const listing = state.view === "list" ? api("GET", listPath()) : null;
    if (listing) listing.catch(() => {});  // its error comes with the await below
    const stats = await api("GET", "/api/v1/stats/");
    state.stats = stats.Stats;
    state.skew = new Date(state.stats.created) - (asked + Date.now()) / 2;
    renderSummary();
    if (listing) await loadList(listing);
    if (state.view === "status") renderStatus();
    if (state.view === "timeline") await renderTimeline();
    if (state.view === "job") await renderJob();
  } catch (error) {
    showTrouble(error);
  }
}

function route() {
  if (state.waitingForToken) return;
  const hash = location.hash || "#/";
  const shown = state.view;
  const job = /^#\/job\/(.+)$/.exec(hash);
  const edit = /^#\/edit\/(.+)$/.exec(hash);
  state.view = job ? "job" : hash === "#/new" || edit ? "new" : hash === "#/status" ? "status"
    : hash === "#/timeline" ? "timeline" : "list";
  const editing = edit ? decodeURIComponent(edit[1]) : null;
  if (editing !== state.editing) {
    state.editing = editing;
    if (editing) {
      form.reset();
      api("GET", "/api/v1/job/" + encodeURIComponent(editing) + "/").then(answer => {
        if (state.editing === editing) fillForm(answer.job);
      }, error => { if (!(error instanceof Unauthorized)) $("form-error").textContent = error.message; });
    } else {
      newForm();
    }
  } else if (state.view === "new" && shown !== "new") {
    fillRelations().catch(showTrouble);  // what is half filled in stays
  }
  showForm();
  if (job && state.jobId !== decodeURIComponent(job[1])) {
    state.jobId = decodeURIComponent(job[1]);
    state.going = [];
    state.openRuns.clear();
    for (const id of ["job-fields", "runs", "durations", "graph", "next-runs", "going-runs"]) $(id).replaceChildren();
    $("job-title").textContent = "";
    $("job-summary").textContent = "";
    $("job-error").textContent = "";
    $("confirm-delete").hidden = true;
    $("going").hidden = $("stop").hidden = true;
  }
  for (const section of document.querySelectorAll("main > section")) {
    section.hidden = section.id !== "view-" + state.view;
  }
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === state.view && !editing) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  refresh();
}

window.addEventListener("hashchange", () => { notifyClearLater(); route(); });
let noticeTimer = null;
function notifyClearLater() {
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => notify(""), 8000);
}
setInterval(() => { if (!document.hidden) refresh(); }, 5000);
setInterval(followGoing, 1000);
newForm();
route();
"""

#: The web page at / and /webui/: one document, no external files (servers are often offline).
#: The job's fields the form edits, as Job declares them: [name, kind, default] each,
#: given to the script as data (not run: no CSP hash needed).
_FORM_FIELDS = json.dumps([
    [json_name(field), field.metadata["form"],
     None if field.default is dataclasses.MISSING else field.default]
    for field in DEFINITION_FIELDS if field.metadata["form"]]).replace("</", "<\\/")
WEB_PAGE = ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<title>kala.py</title><link rel="icon" href="data:,">\n'
            f"<style>{_PAGE_STYLE}</style></head>\n<body>{_PAGE_BODY}"
            f'<script type="application/json" id="job-fields-declared">{_FORM_FIELDS}</script>\n'
            f"<script>{_PAGE_SCRIPT}</script>\n</body></html>\n")


def _csp_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


_PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        f"default-src 'none'; script-src {_csp_source(_PAGE_SCRIPT)}; "
        f"style-src {_csp_source(_PAGE_STYLE)}; connect-src 'self'; img-src data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


# =============================================================================
# The command line
# =============================================================================

DEFAULT_DB = "./kala.db"
#: How long serve's stop waits for running jobs and their results (--stop-timeout).
STOP_TIMEOUT = 10.0
#: Kala's serve flags for its networked databases (kala.py's: PostgreSQL, MySQL).
JOBDB_CONNECTION_FLAGS = ("jobdb-address", "jobdb-username", "jobdb-password",
                          "jobdb-tls-capath", "jobdb-tls-certpath", "jobdb-tls-keypath",
                          "jobdb-tls-servername")
_KALA_BACKENDS = ("redis", "mongo", "consul")
#: Kala's --jobdb names of the database servers kala.py has a store for.
_SERVER_JOBDBS = ("postgres", "mysql", "mariadb")

class JsonLogFormatter(logging.Formatter):
    """One JSON object a line (--log-format json): time, level, message, and the
    fields of a finished run (job_id, run_id, result, duration_s...)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": format_time(record.created), "level": record.levelname,
                 "message": record.getMessage()}
        entry.update(getattr(record, "run", None) or {})
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line, without the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _env(name: str, fallback, convert: Optional[Callable] = None):
    """Every option can come from KALA_<OPTION>; a bad value names the variable."""
    value = os.environ.get(f"KALA_{name}")
    if value is None:
        return fallback
    if convert is not None:
        try:
            return convert(value)
        except argparse.ArgumentTypeError as exc:
            raise InvalidInput(f"KALA_{name}: {exc}") from None
    return value


def _env_flag(name: str) -> bool:
    value = os.environ.get(f"KALA_{name}", "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise InvalidInput(f"KALA_{name}={value!r} is not a boolean (use 1 or 0)")


class ListenAddress(NamedTuple):
    """``-p``: a port, or Kala's ``:PORT`` and ``HOST:PORT``."""

    host: Optional[str]
    port: int


def _port(text) -> ListenAddress:
    text = str(text)
    host, colon, port = text.rpartition(":")
    if not re.fullmatch(r"[0-9]{1,5}", port) or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535), "
                                         "nor :PORT or HOST:PORT")
    return ListenAddress(host.strip("[]") or None if colon else None, int(port))


def _positive_int(text) -> int:
    if not re.fullmatch(r"[0-9]+", str(text)) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _env_list(name: str) -> List[str]:
    """KALA_<NAME>=a,b for an option that may be repeated."""
    return [item.strip() for item in os.environ.get(f"KALA_{name}", "").split(",")
            if item.strip()]


def _token(text) -> str:
    # The message never echoes the token: it is a secret, and stderr goes to logs.
    if not re.fullmatch(r"[\x21-\x7e]+", text):
        raise argparse.ArgumentTypeError("the token must be non-empty printable ASCII without "
                                         "spaces (e.g. the output of: openssl rand -hex 32)")
    return text


def _variable_name(text) -> str:
    if not _ENV_NAME.fullmatch(text) or text.startswith("KALA_"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a variable name a job may get "
                                         "(letters, digits and _; KALA_* stay with the server)")
    return text


def _seconds(text) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _whole_number(text) -> int:
    if not re.fullmatch(r"-?[0-9]{1,18}", str(text)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(text)


def _count(text) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", str(text)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 0 or more")
    return int(text)


def _log_format(text) -> str:
    if text not in ("text", "json"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a log format: text or json")
    return text


def _minutes(text) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of minutes") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="kala.py",
        description="A job scheduler server with Kala's JSON API, in one file.",
        epilog="Every serve option can also be set as KALA_<OPTION>, e.g. KALA_PORT=9000.")
    parser.add_argument("--version", action="version", version=f"kala.py {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    serve = commands.add_parser(
        "serve", help="run the scheduler and its HTTP API",
        description="Run the scheduler and its HTTP API (JSON under /api/v1/, web page at /).")
    serve.add_argument("-p", "--port", type=_port, default=_env("PORT", _port(8000), _port),
                       help="TCP port to listen on (default 8000; 0 picks a free one); "
                            "Kala's :PORT and HOST:PORT work too (:PORT keeps the interface "
                            "below)")
    serve.add_argument("-i", "--interface", default=_env("INTERFACE", None),
                       help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--db", default=_env("DB", None), metavar="FILE_OR_URL",
                       help=f"SQLite database file (default {DEFAULT_DB}), or a database "
                            f"several machines share: postgresql://USER@HOST/DB (needs "
                            f"psycopg) or mysql://USER@HOST/DB (MySQL or MariaDB, needs "
                            f"PyMySQL); a password is better in KALA_DB than here, where ps "
                            f"shows it")
    serve.add_argument("-n", "--no-persist", action="store_true", default=_env_flag("NO_PERSIST"),
                       help="keep everything in memory; nothing survives a restart")
    serve.add_argument("-o", "--default-owner", default=_env("DEFAULT_OWNER", ""),
                       help="owner given to jobs created without one")
    serve.add_argument("--jobstat-ttl", type=_minutes, default=_env("JOBSTAT_TTL", -1, _minutes),
                       metavar="MINUTES",
                       help="delete run stats older than this many minutes (default -1: keep)")
    serve.add_argument("--metrics-public", action="store_true",
                       default=_env_flag("METRICS_PUBLIC"),
                       help="serve GET /metrics without the token (for a Prometheus that has "
                            "none); by default it needs the token as the API does")
    serve.add_argument("--keep-runs", type=_count, metavar="N",
                       default=_env("KEEP_RUNS", KEEP_RUNS, _count),
                       help=f"finished runs kept per job, the newest (default {KEEP_RUNS}; "
                            f"0 keeps all; counters count every run)")
    serve.add_argument("--workers", type=_positive_int,
                       default=_env("WORKERS", DEFAULT_WORKERS, _positive_int),
                       help=f"jobs that may run at once (default {DEFAULT_WORKERS})")
    serve.add_argument("--node-id", default=_env("NODE_ID", None),
                       help="this process's name among those sharing the database "
                            "(default HOST:PID; must be unique)")
    serve.add_argument("--stop-timeout", type=_seconds, metavar="SECONDS",
                       default=_env("STOP_TIMEOUT", STOP_TIMEOUT, _seconds),
                       help=f"how long SIGTERM (or Ctrl-C) waits in all for running jobs to end "
                            f"and their results to be written (default {STOP_TIMEOUT:g})")
    serve.add_argument("--node-lease", type=_seconds,
                       default=_env("NODE_LEASE", NODE_LEASE, _seconds),
                       metavar="SECONDS",
                       help=f"a process silent this long is taken for dead and its runs "
                            f"failed (default {NODE_LEASE:g}; a killed one is noticed at once)")
    serve.add_argument("--token", default=_env("TOKEN", None, _token), type=_token,
                       help="require 'Authorization: Bearer TOKEN' on every API request "
                            "(prefer KALA_TOKEN or --token-file: arguments show in ps)")
    serve.add_argument("--token-file", default=_env("TOKEN_FILE", None), metavar="FILE",
                       help="read the token from FILE (its first line)")
    serve.add_argument("--allow-host", action="append", metavar="NAME",
                       default=_env_list("ALLOW_HOST"),
                       help="a host name the server answers to besides loopback names, "
                            "e.g. behind a reverse proxy (repeatable)")
    serve.add_argument("--tls-cert", default=_env("TLS_CERT", None), metavar="FILE",
                       help="serve HTTPS with this PEM certificate (chain)")
    serve.add_argument("--tls-key", default=_env("TLS_KEY", None), metavar="FILE",
                       help="the PEM private key for --tls-cert (if not inside it)")
    serve.add_argument("-v", "--verbose", action="store_true", default=_env_flag("VERBOSE"),
                       help="log every request and scheduling decision")
    serve.add_argument("--log-format", type=_log_format, metavar="{text,json}",
                       default=_env("LOG_FORMAT", "text", _log_format),
                       help="text lines (default), or one JSON object a line for journald and "
                            "log shippers")
    kala = serve.add_argument_group(
        "Kala's own flags", "accepted so that a Kala service file starts kala.py unchanged; "
                            "--jobdb postgres|mysql|mariadb with --jobdb-address HOST:PORT/DB "
                            "(for MySQL also tcp(HOST:PORT)/DB), --jobdb-username, "
                            "--jobdb-password and --jobdb-tls-capath, -certpath, -keypath is "
                            "kala.py's PostgreSQL or MySQL store")
    kala.add_argument("--jobdb", default=_env("JOBDB", "boltdb"), metavar="NAME",
                      help="boltdb (the default) means kala.py's SQLite file, postgres, mysql "
                           "and mariadb its stores on those servers; Kala's other databases "
                           "are not supported")
    kala.add_argument("--bolt-path", default=_env("BOLT_PATH", None), metavar="DIR",
                      help="the folder of the database file: DIR/kala.db, kala.py's SQLite "
                           "file (Kala's own jobdb.db is not read)")
    for name in JOBDB_CONNECTION_FLAGS:
        kala.add_argument(f"--{name}", default=_env(name.upper().replace("-", "_"), None),
                          help=argparse.SUPPRESS)
    kala.add_argument("-e", "--persist-every", type=_whole_number, metavar="SECONDS",
                      default=_env("PERSIST_EVERY", None, _whole_number),
                      help="ignored: kala.py commits every change at once")
    kala.add_argument("--no-tx-persist", action="store_true", default=_env_flag("NO_TX_PERSIST"),
                      help="ignored: kala.py commits every change at once")
    kala.add_argument("--profile", action="store_true", default=_env_flag("PROFILE"),
                      help="ignored: kala.py has no pprof handlers")
    run = commands.add_parser(
        "run", help="run one command exactly as the server would, and say how it went",
        description="Run COMMAND as a job would run (split like a shell word list, no shell).")
    run.add_argument("cmd", metavar="COMMAND", nargs="+",
                     help='the command, quoted as one argument, e.g. "ls -l /tmp"')
    export = commands.add_parser(
        "export", help="write every job (and with --stats its runs) as JSON",
        description="Write every job of a database as JSON: ids, definitions, schedule "
                    "positions, counters, dependencies (and with --stats the run history). "
                    "kala.py import loads it into any database.")
    export.add_argument("--stats", action="store_true", help="include each job's run history")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    load = commands.add_parser(
        "import", help="load what kala.py export wrote into a database",
        description="Load an export into a database (SQLite or PostgreSQL), keeping ids, "
                    "schedule positions and dependencies; serve processes on it pick the jobs "
                    "up at once.")
    load.add_argument("file", metavar="FILE", help="the export (- for stdin)")
    load.add_argument("--replace", action="store_true",
                      help="replace jobs that exist already (by default: refuse, import nothing)")
    for command in (export, load):
        command.add_argument("--db", default=_env("DB", DEFAULT_DB), metavar="FILE_OR_URL",
                             help=f"the database: a SQLite file (default {DEFAULT_DB}), or a "
                                  f"postgresql:// or mysql:// URL")
    for command in (serve, run):
        command.add_argument(
            "--pass-env", action="append", metavar="NAME", type=_variable_name,
            default=_env_list("PASS_ENV"),
            help="a variable of this environment that jobs also get (repeatable; by default "
                 f"they get only {', '.join(INHERITED_VARIABLES)} and LC_*)")
        command.add_argument(
            "--workdir", metavar="DIR", default=_env("WORKDIR", ""),
            help="the working directory of a job without a cwd of its own (default: the "
                 "server's)")
    return parser


def _job_runner(args) -> CommandRunner:
    for name in args.pass_env:  # those from KALA_PASS_ENV have not been checked yet
        try:
            _variable_name(name)
        except argparse.ArgumentTypeError as exc:
            raise KalaError(f"--pass-env: {exc}") from None
    workdir = getattr(args, "workdir", "")
    if workdir and not os.path.isdir(workdir):
        raise KalaError(f"--workdir {workdir!r} is not a directory")
    return CommandRunner(base_environment=job_base_environment(dict(os.environ), args.pass_env),
                         workdir=os.path.abspath(workdir) if workdir else "")


def _run_command(args) -> int:
    if len(args.cmd) > 1:
        raise KalaError(f"run takes the command as one argument; quote it: "
                        f"kala.py run {shlex.quote(shlex.join(args.cmd))}")
    attempt = _job_runner(args).run_command(args.cmd[0])
    if attempt.success:
        print("Command Succeeded!")
        print(f"Output: {attempt.output}", end="" if attempt.output.endswith("\n") else "\n")
        return 0
    print(f"Command Failed with err: {attempt.error}", file=sys.stderr)
    if attempt.output:
        print(f"Output: {attempt.output}", end="" if attempt.output.endswith("\n") else "\n",
              file=sys.stderr)
    return 1


def _is_server_url(target: Optional[str]) -> bool:
    return is_postgres_url(target) or is_mysql_url(target)


def _store_for_moving(target: str) -> Store:
    """The store export or import works on; a SQLite file that is not there is refused."""
    if not _is_server_url(target) and not os.path.exists(target):
        raise KalaError(f"database {target!r} does not exist")
    try:
        return open_store(target)
    except (sqlite3.Error, OSError) as exc:
        raise KalaError(f"cannot use database {target!r}: {exc}") from None


def _export(args) -> int:
    store = _store_for_moving(args.db)
    try:
        document = store.export(with_runs=args.stats)
    finally:
        store.close()
    text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as file:
            file.write(text)
    else:
        sys.stdout.write(text)
    print(f"kala.py: exported {len(document['jobs'])} job(s)", file=sys.stderr)
    return 0


def _import(args) -> int:
    try:
        if args.file == "-":
            document = json.load(sys.stdin)
        else:
            with open(args.file, encoding="utf-8") as file:
                document = json.load(file)
    except (OSError, ValueError) as exc:
        raise KalaError(f"cannot read {args.file}: {exc}") from None
    imported = jobs_from_export(document)
    if not _is_server_url(args.db) and not os.path.exists(args.db):
        open_store(args.db).close()  # a new SQLite file
    store = _store_for_moving(args.db)
    try:
        store.import_jobs(imported, replace=args.replace)
    finally:
        store.close()
    runs = sum(len(runs) for runs in imported.runs.values())
    print(f"kala.py: imported {len(imported.jobs)} job(s) and {runs} run(s)", file=sys.stderr)
    return 0


class SystemdNotifier:
    """sd_notify without libsystemd: a datagram to $NOTIFY_SOCKET per message
    (nothing at all when it is not set); WATCHDOG=1 every half $WATCHDOG_USEC once
    READY=1 is sent (systemd's watchdog starts with the start-up complete)."""

    def __init__(self, environ: Dict[str, str]):
        address = environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address  # abstract
        usec = environ.get("WATCHDOG_USEC", "")
        mine = environ.get("WATCHDOG_PID", str(os.getpid())) == str(os.getpid())
        self.watchdog_interval = (int(usec) / 2e6 if usec.isdigit() and int(usec) and mine
                                  else None)
        self._next_ping = -math.inf
        self._ready = False

    def ready(self, status: str) -> None:
        self.notify("READY=1", f"STATUS={status}")
        self._ready = True  # after: the maintenance thread's first ping follows READY

    def notify(self, *fields: str) -> None:
        if not self._address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto("\n".join(fields).encode(), self._address)
        except OSError as exc:  # systemd gone, or a bad address: nothing to stop for
            log.debug("sd_notify to %r failed: %s", self._address, exc)

    def watchdog(self) -> None:
        """Called from the scheduler's maintenance loop: pings when one is due."""
        if (self._ready and self.watchdog_interval is not None
                and time.monotonic() >= self._next_ping):
            self._next_ping = time.monotonic() + self.watchdog_interval
            self.notify("WATCHDOG=1")


def _settle_kala_flags(args) -> None:
    """Kala's serve flags and forms, turned into kala.py's own (or refused in one line)."""
    if args.jobdb not in ("boltdb",) + _SERVER_JOBDBS:
        if args.jobdb in _KALA_BACKENDS:
            raise KalaError(f"--jobdb {args.jobdb}: kala.py keeps its jobs in a SQLite file "
                            "(--jobdb boltdb, the default), PostgreSQL (--jobdb postgres) or "
                            f"MySQL (--jobdb mysql or mariadb) and has no {args.jobdb} backend")
        raise KalaError(f"--jobdb {args.jobdb!r} is unknown: kala.py has boltdb (its SQLite "
                        "file, the default), postgres, mysql and mariadb")
    given = [f"--{name}" for name in JOBDB_CONNECTION_FLAGS
             if getattr(args, name.replace("-", "_"))]
    if args.jobdb in _SERVER_JOBDBS:
        if args.db or args.bolt_path:
            raise KalaError(f"--jobdb {args.jobdb} takes --jobdb-address HOST:PORT/DB, not --db "
                            f"or --bolt-path (or give --db {args.jobdb}://... alone)")
        args.db = kala_database_url(args)
    elif given:
        raise KalaError(f"{', '.join(given)}: these are for Kala's networked databases; "
                        "kala.py's file database takes --db FILE or --bolt-path DIR "
                        "(its database servers: --jobdb postgres, mysql or mariadb)")
    if args.bolt_path and args.db:
        raise KalaError("give --db FILE or --bolt-path DIR (Kala's name for its folder), not both")
    if args.bolt_path and not os.path.isdir(args.bolt_path):
        raise KalaError(f"--bolt-path {args.bolt_path!r}: no such folder (it holds the database "
                        f"file, kala.db; create it first)")
    args.db = os.path.join(args.bolt_path, "kala.db") if args.bolt_path else args.db or DEFAULT_DB
    host, args.port = args.port
    if host and args.interface and host != args.interface:
        raise KalaError(f"-p {host}:{args.port} and -i {args.interface} name two addresses; "
                        "give one")
    args.interface = host or args.interface or "127.0.0.1"
    ignored = [flag for flag, value in (("--persist-every", args.persist_every is not None),
                                        ("--no-tx-persist", args.no_tx_persist),
                                        ("--profile", args.profile)) if value]
    if ignored:
        log.info("%s: Kala's, ignored (kala.py commits every change before it answers, and "
                 "has no pprof)", ", ".join(ignored))


#: What Kala's --jobdb-tls-capath, -certpath and -keypath are called in the URL of
#: each server's store, and the setting that has it check the server's name.
_KALA_TLS = {"postgres": (("sslrootcert", "sslcert", "sslkey"), ("sslmode", "verify-full")),
             "mysql": (("ssl_ca", "ssl_cert", "ssl_key"), ("ssl_verify_identity", "true"))}


def kala_database_url(args) -> str:
    """The URL that Kala's --jobdb postgres|mysql|mariadb and --jobdb-* flags describe:
    the address is HOST:PORT/DBNAME (for MySQL also the end of a Go DSN, Kala's
    ``tcp(HOST:PORT)/DBNAME``)."""
    match = re.fullmatch(r"(?:tcp\()?([^()/]+?)\)?/([^/?]+)(?:\?.*)?", args.jobdb_address or "")
    if not match:
        raise KalaError(f"--jobdb {args.jobdb} needs --jobdb-address HOST:PORT/DBNAME"
                        + (" (or tcp(HOST:PORT)/DBNAME)" if args.jobdb != "postgres" else ""))
    if args.jobdb_tls_servername:
        raise KalaError("--jobdb-tls-servername: kala.py checks the host name of "
                        "--jobdb-address itself (with --jobdb-tls-capath)")
    user = urllib.parse.quote(args.jobdb_username or "", safe="")
    if args.jobdb_password:
        user += ":" + urllib.parse.quote(args.jobdb_password, safe="")
    names, verify = _KALA_TLS["postgres" if args.jobdb == "postgres" else "mysql"]
    tls = {name: value for name, value in zip(names, (args.jobdb_tls_capath,
                                                      args.jobdb_tls_certpath,
                                                      args.jobdb_tls_keypath)) if value}
    if args.jobdb_tls_capath:
        tls[verify[0]] = verify[1]
    query = "?" + urllib.parse.urlencode(tls) if tls else ""
    scheme = "postgresql" if args.jobdb == "postgres" else args.jobdb
    return (f"{scheme}://{user + '@' if user else ''}{match.group(1)}/"
            f"{urllib.parse.quote(match.group(2), safe='')}{query}")


def _open_store(args) -> Store:
    if args.no_persist:
        return Store(None)
    if _is_server_url(args.db):
        return open_store(args.db, application=f"kala.py {args.node_id or ''}".strip())
    try:
        return Store(args.db)
    except (sqlite3.Error, OSError) as exc:
        raise KalaError(f"cannot use database {args.db!r}: {exc}") from None


def _read_token(args) -> Optional[str]:
    if args.token_file is None:
        return args.token
    if args.token:
        raise KalaError("give the token with --token (KALA_TOKEN) or --token-file, not both")
    try:
        with open(args.token_file, encoding="utf-8") as file:
            text = file.readline().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise KalaError(f"cannot read the token file {args.token_file!r}: "
                        f"{getattr(exc, 'strerror', None) or exc}") from None
    try:
        return _token(text)
    except argparse.ArgumentTypeError as exc:
        raise KalaError(f"token file {args.token_file!r}: {exc}") from None


def _listen(args, app: KalaApp) -> KalaServer:
    token = _read_token(args)
    tls = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    if args.tls_key and not args.tls_cert:
        raise KalaError("--tls-key needs --tls-cert")
    loopback = is_loopback(args.interface)
    access = AccessPolicy(token, loopback_only=loopback, allowed_hosts=args.allow_host)
    try:
        server = KalaServer((args.interface, args.port), app, access=access, tls=tls)
    except OSError as exc:
        raise KalaError(f"cannot listen on {args.interface}:{args.port}: "
                        f"{exc.strerror or exc}") from None
    if not loopback and token is None:
        log.warning("!!! %s is reachable from other machines and has no token: anyone who can "
                    "connect can run any command as this user. Set KALA_TOKEN (with --tls-cert) "
                    "or listen on 127.0.0.1 behind a reverse proxy.", server.url)
    elif not loopback and tls is None:
        log.warning("the token crosses the network in clear text: use --tls-cert/--tls-key "
                    "or a TLS reverse proxy")
    return server


class StopRequest:
    """SIGTERM stops the server the way Ctrl-C does: its handler raises KeyboardInterrupt
    wherever the main thread is. Python drops an exception raised inside a finalizer
    that the garbage collector happens to run there (it prints "Exception ignored in"
    and goes on), so the request is also remembered, and the server's loop raises it
    again on its next turn (``KalaServer.service_actions``, at least twice a second)."""

    def __init__(self):
        self.made = False

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum, frame) -> None:
        self.made = True
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.made:
            raise KeyboardInterrupt


#: How long past --stop-timeout a stopping server may take for its goodbyes to the
#: database (its last writes, leaving, closing) before it exits anyway.
STOP_MARGIN = 5.0


class StopDeadline:
    """Bounds a stop: once ``seconds`` have passed it prints where every thread is
    (to find what hung) and ends the process, as a kill would. Nothing is lost that
    a kill would not lose: the others take its runs over as from a dead process."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def start(self) -> None:
        timer = threading.Timer(self.seconds, self._expire)
        timer.daemon = True
        timer.start()

    def _expire(self) -> None:
        # Straight to stderr: a thread that hung may hold logging's lock.
        os.write(2, f"kala.py: still stopping after {self.seconds:g} s (--stop-timeout plus "
                    f"{STOP_MARGIN:g}): exiting now; where each thread was:\n".encode())
        faulthandler.dump_traceback(all_threads=True)
        os._exit(1)


def _serve(args) -> int:
    stop = StopRequest()
    stop.install()
    _settle_kala_flags(args)
    with ExitStack() as cleanup:  # undone in reverse: scheduler, socket, database
        try:
            store = _open_store(args)
            cleanup.callback(store.close)
            ttl = args.jobstat_ttl * 60.0 if args.jobstat_ttl >= 0 else None
            systemd = SystemdNotifier(dict(os.environ))
            scheduler = Scheduler(store, _job_runner(args), node=args.node_id,
                                  workers=args.workers, jobstat_ttl=ttl, lease=args.node_lease,
                                  keep_runs=args.keep_runs,
                                  on_maintained=systemd.watchdog)
            server = _listen(args, KalaApp(store, scheduler, default_owner=args.default_owner,
                                           metrics_public=args.metrics_public))
            server.stop_request = stop
            cleanup.callback(server.server_close)
            scheduler.start()
            cleanup.callback(scheduler.stop, args.stop_timeout)
            cleanup.callback(systemd.notify, "STOPPING=1",
                             f"STATUS=stopping: running jobs get up to {args.stop_timeout:g} s")
            cleanup.callback(StopDeadline(args.stop_timeout + STOP_MARGIN).start)
            database = ("in memory" if args.no_persist else
                        f"{store._KIND} {store.where}" if isinstance(store, ServerStore)
                        else os.path.abspath(args.db))
            log.info("kala.py %s listening on %s (database %s, node %s%s)", __version__,
                     server.url, database, scheduler.node,
                     ", token required" if server.access.needs_token else "")
            systemd.ready(f"listening on {server.url}, database {database}, "
                          f"node {scheduler.node}")
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    log.info("kala.py stopped")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print('kala.py: give a command: serve (run the scheduler and its API), run "COMMAND" '
              "(run one command as the server would), export or import (move jobs between "
              "databases); see kala.py --help", file=sys.stderr)
        return 2
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run":
            return _run_command(args)
        if args.command in ("export", "import"):
            return (_export if args.command == "export" else _import)(args)
        # Records without their thread, process or calling line: neither format shows
        # them, and looking them up was half the cost of a run's log line (36 -> 19 us;
        # the logging HOWTO's "Optimization").
        logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
        logging._srcfile = None
        handler = logging.StreamHandler()
        handler.setFormatter(JsonLogFormatter() if args.log_format == "json" else
                             logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                            handlers=[handler])
        return _serve(args)
    except KalaError as exc:
        print(f"kala.py: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
