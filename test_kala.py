"""Tests for kala.py, in the order of its sections.

Pure schedule math is table-driven; the scheduler runs against a fake clock;
the API is driven over real sockets, and persistence with real ``serve``
processes killed with SIGKILL.
"""

import base64
import collections
import contextlib
import copy
import fcntl
import gc
import hashlib
import http.client
import http.server
import importlib
import io
import inspect
import itertools
import json
import logging
import math
import os
import queue
import random
import re
import select
import shutil
import signal
import socket
import ssl
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

import kala
from kala import (Duration, InvalidInput, Job, JobNotFound, Scheduler, format_time,
                  job_from_request, job_to_json, parse_duration, parse_schedule, plan_occurrence)

KALA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kala.py")
#: A fixed "now" for the fake clock: 2030-01-01T00:00:00Z.
T0 = datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp()
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")


def iso(when: float) -> str:
    return datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def wait_for(predicate, timeout=10.0, interval=0.02, message="condition"):
    """Poll ``predicate`` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def processes_running(needle):
    """Pids of the processes whose command line (NUL-separated) contains ``needle``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline") as file:
                if needle in file.read():
                    found.append(int(pid))
        except OSError:
            continue  # gone meanwhile
    return found


class OpenStores:
    """The stores each thread of a test opened, closed when it ends: a store left open
    keeps a writer thread that would write again and again to a database the test's
    end dropped."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_thread = {}

    def add(self, store):
        with self._lock:
            self._by_thread.setdefault(threading.get_ident(), []).append(store)
        return store

    def close_mine(self):
        with self._lock:
            stores = self._by_thread.pop(threading.get_ident(), [])
        for store in stores:
            with contextlib.suppress(Exception):
                store.close()


OPEN_STORES = OpenStores()


def open_store(target):
    return OPEN_STORES.add(kala.open_store(target))


def Store(*args, **kwargs):  # noqa: N802 - kala.Store, closed at the test's end
    return OPEN_STORES.add(kala.Store(*args, **kwargs))


@pytest.fixture(autouse=True)
def close_open_stores():
    yield
    OPEN_STORES.close_mine()


class FakeClock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


# =============================================================================
# ISO 8601
# =============================================================================

class TestDurations:
    @pytest.mark.parametrize("text, expected", [
        ("P1Y2M10DT2H30M15S", Duration(years=1, months=2, days=10, hours=2, minutes=30,
                                        seconds=15)),
        ("PT10S", Duration(seconds=10)),
        ("PT0.5S", Duration(seconds=0.5)),
        ("P1DT1M", Duration(days=1, minutes=1)),
        ("P1W", Duration(weeks=1)),
        ("P2W", Duration(weeks=2)),
        ("PT1H", Duration(hours=1)),
        ("P1M", Duration(months=1)),
        ("PT1M", Duration(minutes=1)),
        ("PT0S", Duration()),
    ])
    def test_valid(self, text, expected):
        assert parse_duration(text) == expected

    @pytest.mark.parametrize("text", [
        "P", "PT", "P1S", "P1H", "PT1D", "-P1D", "P1W2D", "Px", "P1DT", "", "1D", "p1d",
        "P1.5D", "PT1S1M", " P1D", "PT\u0663S", "P\uff11D",  # Arabic-Indic and full-width digits
    ])
    def test_invalid_echoes_input_and_an_example(self, text):
        with pytest.raises(InvalidInput) as caught:
            parse_duration(text)
        assert repr(text) in str(caught.value)
        assert "PT10S" in str(caught.value)

    def test_calendar_and_exact_parts(self):
        duration = parse_duration("P1Y2M3DT4H5M6S")
        assert duration.calendar_months == 14
        assert duration.calendar_days == 3
        assert duration.exact_seconds == 4 * 3600 + 5 * 60 + 6
        assert parse_duration("P2W").calendar_days == 14


def occurrences(schedule_text, count, zone=None):
    schedule = parse_schedule(schedule_text, kala._zone(zone) if zone else None)
    return [datetime.fromtimestamp(schedule.occurrence(k), timezone.utc) for k in range(count)]


def at(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class TestSchedules:
    @pytest.mark.parametrize("text, repeats", [
        ("R/2030-01-01T00:00:00Z/PT1S", None),
        ("R0/2030-01-01T00:00:00Z/PT1S", 0),
        ("R1/2030-01-01T00:00:00Z/PT1S", 1),
        ("R231/2030-01-01T00:00:00Z/P1D", 231),
        ("R0/2030-01-01T00:00:00Z/", 0),
    ])
    def test_repeat_counts(self, text, repeats):
        # Rn is the first run plus n repeats, so the last occurrence index is n.
        assert parse_schedule(text).last_index == repeats

    @pytest.mark.parametrize("start, expected", [
        ("2030-06-04T19:25:16", "2030-06-04T19:25:16+00:00"),
        ("2030-06-04T19:25:16.828696", "2030-06-04T19:25:16.828696+00:00"),
        ("2030-06-04T19:25:16.828696-07:00", "2030-06-05T02:25:16.828696+00:00"),
        ("2030-06-04T19:25:16-07:00", "2030-06-05T02:25:16+00:00"),
        ("2030-06-04T19:25:16Z", "2030-06-04T19:25:16+00:00"),
        ("2030-06-04T19:25:16.123456789+02:00", "2030-06-04T17:25:16.123456+00:00"),
    ])
    def test_start_forms_of_the_seed(self, start, expected):
        assert occurrences(f"R0/{start}/", 1) == [at(expected)]

    def test_start_without_offset_reads_the_timezone(self):
        assert occurrences("R0/2030-06-04T09:00:00/", 1, "Europe/Berlin") == [
            at("2030-06-04T07:00:00Z")]

    @pytest.mark.parametrize("text", [
        "2030-01-01T00:00:00Z/PT1S",            # no repeat part
        "R2/2030-01-01T00:00:00Z",              # no interval part
        "X2/2030-01-01T00:00:00Z/PT1S",
        "R-1/2030-01-01T00:00:00Z/PT1S",
        "Rx/2030-01-01T00:00:00Z/PT1S",
        "R2/2030-01-01/PT1S",                   # no time
        "R2/2030-13-01T00:00:00Z/PT1S",         # no month 13
        "R2/2030-02-30T00:00:00Z/PT1S",
        "R2/2030-01-01 00:00:00Z/PT1S",
        "R2/2030-01-01T00:00:00+0700/PT1S",
        "R2/2030-01-01T00:00:00Z/P",
        "R2/2030-01-01T00:00:00Z/PT1D",
        "R2/2030-01-01T00:00:00Z/PT0S",         # zero interval with repeats
        "R/2030-01-01T00:00:00Z/P0D",
        "R1/2030-01-01T00:00:00Z/",             # empty interval with repeats
        "",
        "R2//PT1S",
        "R\u0663/2030-01-01T00:00:00Z/PT1S",
        "R2/\u0662030-01-01T00:00:00Z/PT1S",
    ])
    def test_malformed_schedules_are_rejected(self, text):
        with pytest.raises(InvalidInput) as caught:
            parse_schedule(text)
        assert "e.g." in str(caught.value)

    def test_an_occurrence_past_any_float_is_none(self):
        # Exact steps are computed in seconds (no datetime): an index too large for a
        # float is past the last moment too, not an error in the claim planning it.
        for text in ("R/2030-01-01T00:00:00Z/PT1.5S", "R/2030-01-01T00:00:00Z/P1M"):
            schedule = parse_schedule(text)
            assert schedule.occurrence(10 ** 400) == math.inf
            assert not schedule.has_index(10 ** 400)

    def test_zero_interval_is_fine_without_repeats(self):
        assert parse_schedule("R0/2030-01-01T00:00:00Z/PT0S").last_index == 0

    def test_daily_keeps_the_wall_clock_across_dst_but_24h_does_not(self):
        # America/Los_Angeles springs forward on 2030-03-10.
        daily = occurrences("R/2030-03-09T09:00:00/P1D", 3, "America/Los_Angeles")
        hourly = occurrences("R/2030-03-09T09:00:00/PT24H", 3, "America/Los_Angeles")
        assert daily == [at("2030-03-09T17:00:00Z"), at("2030-03-10T16:00:00Z"),
                         at("2030-03-11T16:00:00Z")]  # 09:00 PST, then 09:00 PDT
        assert hourly == [at("2030-03-09T17:00:00Z"), at("2030-03-10T17:00:00Z"),
                          at("2030-03-11T17:00:00Z")]  # 10:00 PDT after the change

    def test_daily_across_the_autumn_change(self):
        daily = occurrences("R/2030-11-02T09:00:00/P1D", 2, "America/Los_Angeles")
        assert daily == [at("2030-11-02T16:00:00Z"), at("2030-11-03T17:00:00Z")]

    @pytest.mark.parametrize("start, expected", [
        ("2030-01-31", ["2030-01-31", "2030-02-28", "2030-03-31", "2030-04-30", "2030-05-31"]),
        ("2028-01-31", ["2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31"]),
        ("2030-07-31", ["2030-07-31", "2030-08-31", "2030-09-30", "2030-10-31", "2030-11-30"]),
    ])
    def test_monthly_clamps_to_month_ends_without_drifting(self, start, expected):
        got = occurrences(f"R/{start}T12:00:00Z/P1M", 5)
        assert [d.date().isoformat() for d in got] == expected
        assert {d.hour for d in got} == {12}

    def test_yearly_across_leap_years(self):
        got = occurrences("R/2028-02-29T00:00:00Z/P1Y", 5)
        assert [d.date().isoformat() for d in got] == [
            "2028-02-29", "2029-02-28", "2030-02-28", "2031-02-28", "2032-02-29"]

    def test_every_ten_seconds_started_now(self):
        now = time.time()
        schedule = parse_schedule(f"R/{iso(now)}/PT10S")
        assert [schedule.occurrence(k) - schedule.occurrence(0) for k in range(4)] == [
            0, 10, 20, 30]
        assert schedule.index_at_or_before(schedule.occurrence(0) + 25) == 2
        assert schedule.first_index_at_or_after(schedule.occurrence(0) + 25) == 3
        assert schedule.first_index_at_or_after(schedule.occurrence(0) + 20) == 2

    def test_every_two_weeks(self):
        assert occurrences("R/2030-01-01T08:00:00Z/P2W", 3) == [
            at("2030-01-01T08:00:00Z"), at("2030-01-15T08:00:00Z"), at("2030-01-29T08:00:00Z")]

    def test_fixed_offset_steps_days_in_that_offset(self):
        got = occurrences("R/2030-06-04T19:25:16.828696-07:00/P1D", 2)
        assert got[1] - got[0] == timedelta(days=1)

    def test_mixed_calendar_and_exact_steps(self):
        assert occurrences("R/2030-01-31T00:00:00Z/P1M1DT1H", 3) == [
            at("2030-01-31T00:00:00Z"), at("2030-03-01T01:00:00Z"), at("2030-04-02T02:00:00Z")]

    def test_index_search_with_calendar_steps_far_ahead(self):
        schedule = parse_schedule("R/2030-01-31T00:00:00Z/P1M")
        when = at("2110-07-15T00:00:00Z").timestamp()
        k = schedule.index_at_or_before(when)
        assert schedule.occurrence(k) <= when < schedule.occurrence(k + 1)
        assert k == 80 * 12 + 5

    def test_no_occurrence_past_year_9999(self):
        schedule = parse_schedule("R/9999-06-01T00:00:00Z/P1Y")
        assert schedule.has_index(0)
        assert not schedule.has_index(1)

    def test_no_occurrence_past_year_9999_with_exact_steps_either(self):
        schedule = parse_schedule("R/2030-01-01T00:00:00Z/PT999999999999999S")
        assert schedule.has_index(0) and not schedule.has_index(1)

    def test_format_time(self):
        assert format_time(None) == "0001-01-01T00:00:00Z"
        assert format_time(T0) == "2030-01-01T00:00:00.000000Z"


def needed_package(module, package=None):
    """A test-only package's module (of cronsim, prometheus_client, schemathesis), or
    a skip naming the package to install; where KALA_TEST_PACKAGES is ``required``
    (CI) a missing one fails."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = package or module
        _missing(f"this test needs {package}: .venv/bin/pip install {package} (see the "
                 f"README's test command)", "KALA_TEST_PACKAGES")


def cron_times(expression, start, count, zone=None):
    """The ``count`` occurrences of a cron expression after ``start``, as wall-clock
    text in ``zone`` (UTC without one)."""
    tz = kala._zone(zone) if zone else timezone.utc
    schedule = parse_schedule(expression, kala._zone(zone) if zone else None)
    moment, found = int(datetime.fromisoformat(start).timestamp()), []
    for _ in range(count):
        moment = schedule.next_index(moment)
        found.append(datetime.fromtimestamp(moment, tz).isoformat())
    return found


class TestCronSchedules:
    @pytest.mark.parametrize("expression, expected", [
        ("*/15 * * * *", ["2030-01-01T00:15:00+00:00", "2030-01-01T00:30:00+00:00"]),
        ("0 9-17/4 * * *", ["2030-01-01T09:00:00+00:00", "2030-01-01T13:00:00+00:00",
                            "2030-01-01T17:00:00+00:00", "2030-01-02T09:00:00+00:00"]),
        ("30 8 * * MON-FRI", ["2030-01-01T08:30:00+00:00", "2030-01-02T08:30:00+00:00",
                              "2030-01-03T08:30:00+00:00", "2030-01-04T08:30:00+00:00",
                              "2030-01-07T08:30:00+00:00"]),
        ("0 0 1,15 feb,Mar *", ["2030-02-01T00:00:00+00:00", "2030-02-15T00:00:00+00:00",
                                "2030-03-01T00:00:00+00:00"]),
        ("0 12 * * 7", ["2030-01-06T12:00:00+00:00"]),                 # 7 is Sunday too
        ("5/20 * * * *", ["2030-01-01T00:05:00+00:00", "2030-01-01T00:25:00+00:00",
                          "2030-01-01T00:45:00+00:00", "2030-01-01T01:05:00+00:00"]),
        ("*/20 * * * * *", ["2030-01-01T00:00:20+00:00", "2030-01-01T00:00:40+00:00"]),
        ("0 0 29 2 *", ["2032-02-29T00:00:00+00:00", "2036-02-29T00:00:00+00:00"]),
        ("@yearly", ["2031-01-01T00:00:00+00:00"]),
        ("@annually", ["2031-01-01T00:00:00+00:00"]),
        ("@monthly", ["2030-02-01T00:00:00+00:00"]),
        ("@weekly", ["2030-01-06T00:00:00+00:00"]),
        ("@daily", ["2030-01-02T00:00:00+00:00"]),
        ("@midnight", ["2030-01-02T00:00:00+00:00"]),
        ("@hourly", ["2030-01-01T01:00:00+00:00"]),
        ("@DAILY", ["2030-01-02T00:00:00+00:00"]),
        # Vixie's rule: both day fields restricted, either matches (the 13th, and
        # Fridays); one starting with * and both must match.
        ("0 0 13 * FRI", ["2030-01-04T00:00:00+00:00", "2030-01-11T00:00:00+00:00",
                          "2030-01-13T00:00:00+00:00", "2030-01-18T00:00:00+00:00"]),
        ("0 0 */2 * FRI", ["2030-01-11T00:00:00+00:00", "2030-01-25T00:00:00+00:00"]),
        # A one-value range with a step is that value (cronsim reads 2-2/5 as 2/5).
        ("0 0 * * 2-2/5", ["2030-01-08T00:00:00+00:00", "2030-01-15T00:00:00+00:00"]),
    ])
    def test_next_occurrences(self, expression, expected):
        assert cron_times(expression, "2030-01-01T00:00:00+00:00", len(expected)) == expected

    @pytest.mark.parametrize("expression, zone, start, expected", [
        # Spring forward (New York, 2030-03-10 02:00 -> 03:00). A time of day the clock
        # skips runs when the clock jumps; other expressions have no moment there.
        ("30 2 * * *", "America/New_York", "2030-03-09T12:00:00+00:00",
         ["2030-03-10T03:00:00-04:00", "2030-03-11T02:30:00-04:00"]),
        ("0 30 2 * * *", "America/New_York", "2030-03-09T12:00:00+00:00",
         ["2030-03-11T02:30:00-04:00"]),
        ("0 * * * *", "America/New_York", "2030-03-10T05:30:00+00:00",
         ["2030-03-10T01:00:00-05:00", "2030-03-10T03:00:00-04:00"]),
        # Fall back (2030-11-03 02:00 -> 01:00): a time of day runs once, the first
        # time; moments run as often as the clock shows them.
        ("30 1 * * *", "America/New_York", "2030-11-02T12:00:00+00:00",
         ["2030-11-03T01:30:00-04:00", "2030-11-04T01:30:00-05:00"]),
        ("30 * * * *", "America/New_York", "2030-11-03T04:00:00+00:00",
         ["2030-11-03T00:30:00-04:00", "2030-11-03T01:30:00-04:00",
          "2030-11-03T01:30:00-05:00", "2030-11-03T02:30:00-05:00"]),
        ("0 9 * * *", "Europe/Berlin", "2030-03-30T12:00:00+00:00",
         ["2030-03-31T09:00:00+02:00", "2030-04-01T09:00:00+02:00"]),
        # Half-hour changes (Lord Howe: 02:00 -> 02:30 in October, 02:00 -> 01:30 in
        # April) and midnight ones (Santiago): here cronsim differs (a decision).
        ("36 * * * *", "Australia/Lord_Howe", "2028-09-30T14:00:00+00:00",
         ["2028-10-01T00:36:00+10:30", "2028-10-01T01:36:00+10:30",
          "2028-10-01T02:36:00+11:00"]),
        ("43 * * * *", "Australia/Lord_Howe", "2032-04-03T14:00:00+00:00",
         ["2032-04-04T01:43:00+11:00", "2032-04-04T01:43:00+10:30",
          "2032-04-04T02:43:00+10:30"]),
        ("15 2 * * *", "Australia/Lord_Howe", "2028-09-30T12:00:00+00:00",
         ["2028-10-01T02:30:00+11:00", "2028-10-02T02:15:00+11:00"]),
        ("0 0,2 * * *", "America/Santiago", "2033-09-03T12:00:00+00:00",
         ["2033-09-04T01:00:00-03:00", "2033-09-04T02:00:00-03:00"]),
        ("0 */2 * * *", "America/Santiago", "2033-09-03T23:00:00-04:00",
         ["2033-09-04T02:00:00-03:00"]),
    ])
    def test_daylight_saving_time(self, expression, zone, start, expected):
        assert cron_times(expression, start, len(expected), zone) == expected

    @pytest.mark.parametrize("text, words", [
        ("* * * *", "it has 4 fields"),
        ("* * * * * * *", "it has 7 fields"),
        ("60 * * * *", "minute '60' is not 0-59"),
        ("* 24 * * *", "hour '24' is not 0-23"),
        ("* * 0 * *", "day of month '0' is not 1-31"),
        ("* * * 13 *", "month '13' is not 1-12 or JAN-DEC"),
        ("* * * * 8", "day of week '8' is not 0-7 or SUN-SAT"),
        ("* * * * MON-SUN", "range 'MON-SUN' runs backwards"),
        ("*/0 * * * *", "step '0'"),
        ("*/x * * * *", "step 'x'"),
        ("1-2-3 * * * *", "minute '2-3'"),
        ("0 0 30 2 *", "no month it names has the day it names"),
        ("0 0 31 4,6,9,11 *", "no month it names has the day it names"),
        ("0 0 L * *", "day of month 'L'"),
        ("0 0 * * MON#2", "day of week 'MON#2'"),
        ("@fortnightly", "it has 1 fields"),
        (", * * * *", "minute ''"),
    ])
    def test_bad_expressions_echo_the_input_and_show_a_valid_one(self, text, words):
        with pytest.raises(InvalidInput) as caught:
            parse_schedule(text)
        message = str(caught.value)
        assert words in message and repr(text) in message
        assert "*/15 9-17 * * MON-FRI" in message

    @pytest.mark.parametrize("text, seconds", [
        ("@every 5m", 300), ("@every 1h30m", 5400), ("@every 90s", 90),
        ("@every 1.5h", 5400), ("@every PT5M", 300), ("@every 250ms", 0.25),
    ])
    def test_every_runs_one_interval_after_creation(self, text, seconds):
        schedule = parse_schedule(text, None, T0)
        assert [schedule.occurrence(k) - T0 for k in range(3)] == [
            seconds, 2 * seconds, 3 * seconds]

    @pytest.mark.parametrize("text", ["@every", "@every 0s", "@every 5", "@every 5d",
                                      "@every PT0S", "@everyday", "@every -5m"])
    def test_bad_every_is_refused(self, text):
        with pytest.raises(InvalidInput) as caught:
            parse_schedule(text, None, T0)
        assert "e.g." in str(caught.value)

    def test_iso_without_a_start_begins_at_creation(self):
        forever = parse_schedule("R/PT5M", None, T0)
        assert [forever.occurrence(k) - T0 for k in range(3)] == [0, 300, 600]
        twice = parse_schedule("R2/PT1H", None, T0)
        assert (twice.last_index, twice.occurrence(2) - T0) == (2, 7200)

    def test_the_latest_occurrence_at_or_before_a_moment(self):
        schedule = parse_schedule("0 9 * * MON-FRI", kala._zone("Europe/Berlin"))
        friday_nine = utc("2030-01-04T08:00:00Z")
        for moment in (friday_nine, friday_nine + 1, utc("2030-01-07T07:59:59Z")):
            assert schedule.index_at_or_before(moment) == friday_nine
        assert schedule.index_at_or_before(friday_nine - 1) == utc("2030-01-03T08:00:00Z")

    def test_the_latest_occurrence_agrees_with_the_next(self):
        rng = random.Random(7)
        for expression in ("*/7 * * * * *", "0 */5 * * *", "0 0 29 2 *", "30 2 * * SUN"):
            schedule = parse_schedule(expression, kala._zone("America/New_York"))
            for _ in range(20):
                moment = rng.randrange(int(T0), int(T0) + 10 * 366 * 86400)
                latest = schedule.index_at_or_before(moment)
                assert latest <= moment and schedule.has_index(latest)
                assert schedule.next_index(latest) > moment

    def test_a_missed_stretch_is_coalesced_into_its_latest_occurrence(self):
        job = scheduled_job("*/10 * * * * *", cursor=int(T0))
        plan = plan_occurrence(job, T0 + 35, 1.0)
        assert (plan.run_index, plan.scheduled_for, plan.next_cursor, plan.next_run_at) == (
            T0 + 30, T0 + 30, T0 + 40, T0 + 40)
        on_time = plan_occurrence(job, T0 + 0.5, 1.0)
        assert (on_time.run_index, on_time.next_cursor) == (T0, T0 + 10)

    def test_a_job_starts_at_the_first_occurrence_after_its_creation(self, tmp_path):
        store = open_store(str(tmp_path / "kala.db"))
        job = create(store, lambda: T0 + 0.5, schedule="*/10 * * * * *")
        assert (store.get_job(job.id).cursor, store.get_job(job.id).next_run_at) == (
            T0 + 10, T0 + 10)

    def test_agrees_with_cronsim_on_generated_expressions(self):
        """The oracle: cronsim (Healthchecks.io's) and kala.py give the same next 50
        occurrences for 2,000 generated expressions in zones with whole-hour clock
        changes. Excluded, decisions: one-value ranges with a step, half-hour and
        midnight changes (see test_daylight_saving_time)."""
        cronsim = needed_package("cronsim")
        rng = random.Random(2026)
        zones = [None, "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Chatham",
                 "America/Sao_Paulo", "Europe/London"]
        compared = 0
        while compared < 2000:
            expression, zone_name = generated_cron(rng), rng.choice(zones)
            tz = kala._zone(zone_name) if zone_name else timezone.utc
            start = datetime.fromtimestamp(rng.randrange(946684800, 2208988800), tz)
            if start.replace(fold=0).utcoffset() != start.replace(fold=1).utcoffset():
                continue  # cronsim reads a start the clock shows twice as the first
            try:
                theirs = cronsim.CronSim(expression, start)
            except cronsim.CronSimError:
                with pytest.raises(InvalidInput):
                    parse_schedule(expression, tz if zone_name else None)
                continue
            ours = parse_schedule(expression, tz if zone_name else None)
            moment, mine = int(start.timestamp()), []
            for _ in range(50):
                moment = ours.at_or_after(moment + 1)
                if moment is None:
                    break
                mine.append(moment)
            expected = [int(found.timestamp()) for found in itertools.islice(theirs, 50)]
            assert mine == [m for m in expected if m <= kala._LAST_TIMESTAMP], (
                expression, zone_name, start)
            compared += 1


def generated_cron(rng):
    """A random cron expression of the forms both cronsim and kala.py read."""
    def term(low, high, names):
        def value():
            number = rng.randint(low, high)
            if names and number - low < len(names) and rng.random() < 0.3:
                return names[number - low]
            return str(number)
        roll = rng.random()
        if roll < 0.3:
            return "*"
        if roll < 0.45:
            return f"*/{rng.randint(1, high - low + 1)}"
        if roll < 0.7:
            return value()
        first, last = sorted([rng.randint(low, high), rng.randint(low, high)])
        step = f"/{rng.randint(1, 5)}" if first < last and rng.random() < 0.4 else ""
        return f"{first}-{last}{step}"

    def field(low, high, names=()):
        return ",".join(term(low, high, names) for _ in range(rng.choice([1, 1, 1, 2, 3])))
    parts = [field(0, 59), field(0, 23), field(1, 31), field(1, 12, kala._MONTH_NAMES),
             field(0, 7, kala._DAY_NAMES)]
    if rng.random() < 0.25:
        parts.insert(0, field(0, 59))
    return " ".join(parts)


# =============================================================================
# The job model
# =============================================================================

def scheduled_job(schedule, cursor=0, **fields):
    job = job_from_request({"name": "j", "command": "true", "schedule": schedule, **fields},
                           now=T0 - 1)
    job.cursor = cursor
    return job


class TestPlanOccurrence:
    SCHEDULE = f"R/{iso(T0)}/PT10S"

    def test_nothing_due_before_the_start(self):
        assert plan_occurrence(scheduled_job(self.SCHEDULE), T0 - 0.001, 1.0) is None

    def test_due_on_time(self):
        plan = plan_occurrence(scheduled_job(self.SCHEDULE), T0 + 0.002, 1.0)
        assert (plan.run_index, plan.scheduled_for, plan.next_cursor, plan.next_run_at) == (
            0, T0, 1, T0 + 10)

    def test_a_slightly_late_claim_runs_its_own_occurrence_not_the_next(self):
        job = scheduled_job(f"R/{iso(T0)}/PT0.2S")
        plan = plan_occurrence(job, T0 + 0.45, 1.0)
        assert (plan.run_index, plan.next_cursor, plan.next_run_at) == (0, 1, T0 + 0.2)

    def test_a_late_occurrence_is_run_not_coalesced_while_a_process_was_up(self):
        job = scheduled_job(self.SCHEDULE, resume_at_next_scheduled_time=True)
        plan = plan_occurrence(job, T0 + 35, 60.0, missed_before=T0 - 100)
        assert (plan.run_index, plan.next_cursor) == (0, 1)  # late, but not missed

    def test_occurrences_due_before_any_process_started_are_missed(self):
        job = scheduled_job(self.SCHEDULE)
        plan = plan_occurrence(job, T0 + 35, 60.0, missed_before=T0 + 33)
        assert (plan.run_index, plan.scheduled_for) == (3, T0 + 30)
        resuming = scheduled_job(self.SCHEDULE, resume_at_next_scheduled_time=True)
        assert plan_occurrence(resuming, T0 + 35, 60.0, missed_before=T0 + 33).run_index is None
        # The latest occurrence came due after a process started: not missed, it runs.
        assert plan_occurrence(resuming, T0 + 35, 60.0, missed_before=T0 + 29).run_index == 3

    def test_epsilon_bounds_how_late_any_run_may_start(self):
        job = scheduled_job(self.SCHEDULE, epsilon="PT2S")
        assert plan_occurrence(job, T0 + 1.5, 60.0).run_index == 0
        assert plan_occurrence(job, T0 + 2.5, 60.0).run_index is None

    def test_missed_occurrences_are_coalesced_into_one_run(self):
        plan = plan_occurrence(scheduled_job(self.SCHEDULE), T0 + 35, 1.0)
        assert (plan.run_index, plan.scheduled_for, plan.next_cursor, plan.next_run_at) == (
            3, T0 + 30, 4, T0 + 40)

    def test_resume_at_next_scheduled_time_skips_the_missed_run(self):
        job = scheduled_job(self.SCHEDULE, resume_at_next_scheduled_time=True)
        plan = plan_occurrence(job, T0 + 35, 1.0)
        assert (plan.run_index, plan.next_cursor) == (None, 4)

    def test_resume_flag_does_not_skip_a_run_that_is_merely_on_time(self):
        job = scheduled_job(self.SCHEDULE, resume_at_next_scheduled_time=True)
        assert plan_occurrence(job, T0 + 0.5, 1.0).run_index == 0

    @pytest.mark.parametrize("epsilon, runs", [("PT10S", True), ("PT2S", False), ("", True)])
    def test_a_miss_older_than_epsilon_is_skipped(self, epsilon, runs):
        plan = plan_occurrence(scheduled_job(self.SCHEDULE, epsilon=epsilon), T0 + 35, 1.0)
        assert (plan.run_index is not None) == runs

    def test_the_last_repeat_ends_the_schedule(self):
        job = scheduled_job(f"R2/{iso(T0)}/PT10S", cursor=2)
        plan = plan_occurrence(job, T0 + 20, 1.0)
        assert (plan.run_index, plan.next_run_at) == (2, None)

    def test_a_missed_tail_runs_only_the_last_repeat(self):
        plan = plan_occurrence(scheduled_job(f"R2/{iso(T0)}/PT10S"), T0 + 500, 1.0)
        assert (plan.run_index, plan.next_run_at) == (2, None)

    def test_a_job_without_schedule_runs_once_even_late(self):
        job = job_from_request({"name": "j", "command": "true", "epsilon": "PT1S",
                                "resume_at_next_scheduled_time": True}, now=T0)
        plan = plan_occurrence(job, T0 + 3600, 1.0)
        assert (plan.run_index, plan.next_run_at) == (0, None)

    def test_a_child_has_no_timer(self):
        job = job_from_request({"name": "j", "command": "true", "parent_jobs": ["p"]}, now=T0)
        assert plan_occurrence(job, T0 + 1, 1.0) is None


class TestPlanOrphan:
    """What a process taking over a dead one does with each run it left running."""

    @pytest.mark.parametrize("fields, scheduled_for, attempts_before, never_started, plan", [
        ({}, T0, 0, True, (True, False, False)),              # never started: run it here
        ({"epsilon": "PT5S"}, T0 - 10, 0, True, (False, False, False)),  # too late now
        ({}, T0, 0, False, (False, False, False)),            # it ran: failed with its process
        ({"retries": 1}, T0, 0, False, (False, True, False)),  # ...and is tried again
        ({"retries": 1}, T0, 1, False, (False, False, False)),  # no retry left
        ({"retries": 1, "epsilon": "PT5S"}, T0 - 10, 0, False, (False, False, False)),
        ({"on_failure_job": "h"}, T0, 0, False, (False, False, True)),  # failed for good
        ({"on_failure_job": "h", "retries": 1}, T0, 0, False, (False, True, False)),
    ])
    def test_the_fate_of_an_orphaned_run(self, fields, scheduled_for, attempts_before,
                                         never_started, plan):
        job = Job(id="j", name="j", command="true", **fields)
        assert tuple(kala.plan_orphan(job, scheduled_for, attempts_before, never_started,
                                      now=T0)) == plan

    def test_a_deleted_jobs_run_is_only_failed(self):
        assert tuple(kala.plan_orphan(None, T0, 0, True, now=T0)) == (False, False, False)

    @pytest.mark.parametrize("epsilon, late, too_late", [
        ("", 10 ** 6, False), ("PT5S", 5, False), ("PT5S", 5.001, True)])
    def test_too_late_is_kalas_epsilon(self, epsilon, late, too_late):
        job = Job(id="j", name="j", command="true", epsilon=epsilon)
        assert kala.too_late(job, T0, T0 + late) is too_late


class TestJobRequests:
    def test_a_disabled_job_names_when_it_would_run_if_enabled_never_a_time_past(self):
        created = utc("2030-01-01T00:00:00Z")
        job = job_from_request({"name": "n", "command": "true",
                                "schedule": "R/2030-01-01T00:00:00Z/PT1H"}, now=created)
        job.disabled, job.next_run_at = True, created  # as stored: its cursor's time
        later = created + 10.5 * 3600
        assert utc(kala.job_to_json(job, later)["next_run_at"]) == created + 11 * 3600
        assert utc(kala.job_to_json(job)["next_run_at"]) == created  # the stored cursor
        assert kala.upcoming_occurrences(job, later, until=created + 13 * 3600) == [
            created + 11 * 3600, created + 12 * 3600, created + 13 * 3600]
        job.disabled = False
        assert utc(kala.job_to_json(job, later)["next_run_at"]) == created  # not skipped
        trigger_only = job_from_request({"name": "n", "command": "true"}, now=created)
        assert kala.job_to_json(trigger_only, later)["next_run_at"] == kala.ZERO_TIME

    def test_defaults(self):
        job = job_from_request({"name": "n", "command": "echo hi"}, now=T0, default_owner="ops")
        assert (job.owner, job.retries, job.type, job.disabled, job.schedule) == (
            "ops", 0, 0, False, "")
        assert UUID4.match(job.id)

    def test_unknown_fields_and_go_zero_values_are_ignored(self):
        job = job_from_request({"name": "n", "command": "true", "id": "mine", "stats": [],
                                "next_run_at": "0001-01-01T00:00:00Z", "metadata": {},
                                "dependent_jobs": None, "parent_jobs": None}, now=T0)
        assert job.id != "mine" and job.parent_jobs == []

    @pytest.mark.parametrize("body, words", [
        ([], "JSON object"),
        ("job", "JSON object"),
        ({"command": "true"}, "'name'"),
        ({"name": "", "command": "true"}, "'name'"),
        ({"name": "n"}, "'command'"),
        ({"name": "n", "command": "  "}, "'command'"),
        ({"name": 5, "command": "true"}, "'name'"),
        ({"name": "n", "command": "true", "retries": "x"}, "'retries'"),
        ({"name": "n", "command": "true", "retries": -1}, "'retries'"),
        ({"name": "n", "command": "true", "retries": 1.5}, "'retries'"),
        ({"name": "n", "command": "true", "retries": True}, "'retries'"),
        ({"name": "n", "command": "true", "parent_jobs": "abc"}, "'parent_jobs'"),
        ({"name": "n", "command": "true", "parent_jobs": [1]}, "'parent_jobs'"),
        ({"name": "n", "command": "true", "parent_jobs": ["a", "a"]}, "twice"),
        ({"name": "n", "command": "true", "disabled": "yes"}, "'disabled'"),
        ({"name": "n", "command": "true", "type": 2}, "'type'"),
        ({"name": "n", "command": "true", "schedule": 5}, "'schedule'"),
        ({"name": "n", "command": "true", "schedule": "R2/2010-01-01T00:00:00Z/PT1S"},
         "already passed"),
        ({"name": "n", "command": "true", "schedule": "R2/2040-01-01T00:00:00Z/PT"}, "'PT'"),
        ({"name": "n", "command": "true", "schedule": "tomorrow"}, "R[n]/<start>/<interval>"),
        ({"name": "n", "command": "true", "epsilon": "5s"}, "'5s'"),
        ({"name": "n", "command": "true", "timezone": "Mars/Olympus"}, "Mars/Olympus"),
        ({"name": "n", "command": "true", "timeout": -1}, "'timeout'"),
        ({"name": "n", "command": "true", "timeout": 10 ** 400}, "'timeout'"),
        ({"name": "n", "command": "true", "timeout": float("nan")}, "'timeout'"),
        ({"name": "n", "command": "true", "timeout": float("inf")}, "'timeout'"),
        ({"name": "n", "command": "echo 'unclosed"}, "cannot be split"),
        ({"name": "n", "type": 1}, "remote_properties"),
        ({"name": "n", "type": 1, "remote_properties": {"url": "ftp://x"}}, "url"),
        ({"name": "n", "type": 1, "remote_properties": {"url": "http://x", "method": "FETCH"}},
         "FETCH"),
        ({"name": "n", "type": 1, "remote_properties": {
            "url": "http://x", "expected_response_codes": [99]}}, "expected_response_codes"),
        ({"name": "n", "type": 1, "remote_properties": {"url": "http://x", "headers": {"A": 1}}},
         "headers"),
        ({"name": "n", "command": "echo {{nope}}", "TemplateDelimiters": "{{ }}"}, "'nope'"),
        ({"name": "n", "command": "true", "TemplateDelimiters": "{{}}"}, "TemplateDelimiters"),
        ({"name": "n", "command": "true", "environment": ["A=1"]}, "'environment'"),
        ({"name": "n", "command": "true", "environment": {"A-B": "1"}}, "'A-B'"),
        ({"name": "n", "command": "true", "environment": {"A": 1}}, "string value"),
        ({"name": "n", "command": "true", "environment": {"A": "x\u0000"}}, "string value"),
        ({"name": "n", "command": "true", "environment": {"KALA_JOB_ID": "x"}}, "KALA_"),
        # Hostile input that once got in, then broke the API or the runs:
        ({"name": "n", "command": "true", "schedule": "R/9999-12-31T23:59:59-01:00/PT1S"},
         "end of year 9999"),
        ({"name": "n", "command": "true", "schedule": "R0/9999-12-31T23:59:59Z/",
          "timezone": "Pacific/Kiritimati"}, "end of year 9999"),
        pytest.param({"name": "n", "command": "true",
                      "schedule": "R" + "9" * 5000 + "/2090-01-01T00:00:00Z/PT1S"},
                     "invalid repeat count", id="R and 5,000 digits"),
        pytest.param({"name": "n", "command": "true",
                      "schedule": "R/2090-01-01T00:00:00Z/P" + "9" * 5000 + "D"},
                     "invalid duration", id="5,000 digits of days"),
        pytest.param({"name": "n", "command": "true", "epsilon": "P" + "9" * 5000 + "D"},
                     "18 digits", id="an epsilon of 5,000 digits"),
        ({"name": "n", "command": "echo a\u0000b"}, "NUL"),
        ({"name": "n", "type": 1, "remote_properties": {"url": "http://x/a b"}}, "without spaces"),
        ({"name": "n", "type": 1, "remote_properties": {"url": "http://x/\u0000"}}, "url"),
        ({"name": "n", "type": 1, "remote_properties": {
            "url": "http://x", "headers": {"A": ["x\r\nSet-Cookie: y"]}}}, "one-line"),
        ({"name": "n", "type": 1, "remote_properties": {
            "url": "http://x", "headers": {"A B": ["x"]}}}, "header name"),
        # A local job ignores remote_properties, but not ones of the wrong types (Kala's
        # Go decoder refuses them too; schemathesis in CI found an object of codes taken):
        ({"name": "n", "command": "true", "remote_properties": "http://x"},
         "'remote_properties' must be an object"),
        ({"name": "n", "command": "true", "remote_properties": {
            "expected_response_codes": {"a": 1}}}, "expected_response_codes"),
        ({"name": "n", "command": "true", "remote_properties": {
            "expected_response_codes": [None]}}, "expected_response_codes"),
        ({"name": "n", "command": "true", "remote_properties": {"timeout": "30"}}, "timeout"),
        ({"name": "n", "command": "true", "remote_properties": {"headers": []}}, "headers"),
        ({"name": "n", "command": "true", "remote_properties": {"url": 5}}, "url"),
    ])
    def test_bad_input_names_what_is_wrong(self, body, words):
        with pytest.raises(InvalidInput) as caught:
            job_from_request(body, now=T0)
        assert words in str(caught.value)

    @pytest.mark.parametrize("when", [math.inf, -math.inf, math.nan, 1e20, -1e20])
    def test_a_time_no_rfc_3339_text_can_show_is_never(self, when):
        assert format_time(when) == kala.ZERO_TIME

    def test_templates_substitute_job_fields(self):
        job = job_from_request({"name": "nightly", "owner": "ops", "TemplateDelimiters": "{{ }}",
                                "command": "echo {{name}} {{ .Owner }} {{id}}"}, now=T0)
        assert job.render(job.command) == f"echo nightly ops {job.id}"
        assert job.render("{{name}}") == "nightly"

    @pytest.mark.parametrize("delimiters, command, rendered", [
        ("{{ }}", "echo {{$.Owner}}", "echo ops"),           # Kala's own tests
        ("{{ }}", "touch a_{{$.Name}}", "touch a_nightly"),
        ("${ }", "echo young-${$.Owner}", "echo young-ops"),
        ("<% %>", "echo <%.Retries%> <% .Disabled %> <%$.Id%>", "echo 3 false {id}"),
        ("[[ ]]", "echo [[.JobType]] [[ .Epsilon ]] [[.Timeout]]", "echo 0 PT1M 5"),
        ("{{ }}", "echo {{name}} {{owner}} {{ .Command }}", "echo nightly ops {command}"),
    ])
    def test_templates_as_kalas_go_templates(self, delimiters, command, rendered):
        job = job_from_request({"name": "nightly", "owner": "ops", "command": command,
                                "TemplateDelimiters": delimiters, "retries": 3,
                                "epsilon": "PT1M", "timeout": 5}, now=T0)
        assert job.render(job.command) == rendered.format(id=job.id, command=command)

    @pytest.mark.parametrize("delimiters, command, words", [
        ("{{ }}", "echo {{.Nope}}", "unknown template field 'Nope'"),
        ("${ }", "echo ${$.Password}", ".Name"),
        ("{{}}", "true", "separated by one space"),
        ("{{  }}", "true", "separated by one space"),
        ("a b c", "true", "separated by one space"),
    ])
    def test_bad_templates_are_400(self, delimiters, command, words):
        with pytest.raises(InvalidInput, match=re.escape(words)):
            job_from_request({"name": "n", "command": command,
                              "TemplateDelimiters": delimiters}, now=T0)

    def test_a_templated_url_is_checked_as_it_will_be_requested(self):
        job = job_from_request({"name": "my job", "type": 1, "TemplateDelimiters": "{{ }}",
                                "remote_properties": {"url": "http://x/{{ .Owner }}"}}, now=T0)
        assert job.render(job.remote.url) == "http://x/"
        with pytest.raises(InvalidInput, match="without spaces"):
            job_from_request({"name": "my job", "type": 1, "TemplateDelimiters": "{{ }}",
                              "remote_properties": {"url": "http://x/{{ .Name }}"}}, now=T0)

    @pytest.mark.parametrize("props", [{"timeout": "30"}, {"timeout": 10 ** 12}])
    def test_the_remote_timeout_is_named_as_such(self, props):
        with pytest.raises(InvalidInput, match=r"remote_properties\.timeout"):
            job_from_request({"name": "n", "type": 1,
                              "remote_properties": {"url": "http://x", **props}}, now=T0)

    def test_templates_need_delimiters_to_be_set(self):
        job = job_from_request({"name": "n", "command": "echo {{name}}"}, now=T0)
        assert job.render(job.command) == "echo {{name}}"

    def test_a_local_job_takes_remote_properties_of_the_right_types_and_ignores_them(self):
        job = job_from_request({"name": "n", "command": "true", "remote_properties": {
            "url": "", "method": "", "headers": {"A": "x"}, "timeout": 0,
            "expected_response_codes": []}}, now=T0)
        assert job.remote is None and job_to_json(job)["remote_properties"]["url"] == ""

    def test_remote_properties_defaults(self):
        job = job_from_request({"name": "n", "type": 1,
                                "remote_properties": {"url": "http://127.0.0.1:1/x"}}, now=T0)
        assert job_to_json(job)["remote_properties"] == {
            "url": "http://127.0.0.1:1/x", "method": "GET", "body": "", "headers": {},
            "timeout": 30, "expected_response_codes": [200]}

    def test_json_has_every_contract_field(self):
        fields = job_to_json(job_from_request({"name": "n", "command": "true"}, now=T0))
        assert set(fields) >= {
            "name", "id", "command", "owner", "disabled", "dependent_jobs", "parent_jobs",
            "on_failure_job", "schedule", "retries", "epsilon", "next_run_at", "success_count",
            "last_success", "error_count", "last_error", "last_attempted_run", "is_done", "type",
            "remote_properties", "resume_at_next_scheduled_time", "metadata"}
        assert set(fields["metadata"]) == {
            "success_count", "last_success", "error_count", "last_error", "last_attempted_run",
            "number_of_finished_runs"}
        assert fields["dependent_jobs"] is None and fields["parent_jobs"] is None
        assert fields["last_success"] == "0001-01-01T00:00:00Z"

    #: Every definition field set to something other than its default, over two jobs
    #: (a trigger-only job has no schedule).
    EVERY_FIELD = ({
        "name": "every field", "owner": "ops", "type": 1, "command": "echo {{.Name}}",
        "schedule": "R/2030-06-04T19:25:16Z/PT1H", "timezone": "Europe/Berlin", "retries": 2,
        "epsilon": "PT1M", "timeout": 5.5, "resume_at_next_scheduled_time": True,
        "TemplateDelimiters": "{{ }}", "environment": {"A": "1"}, "cwd": "/tmp",
        "concurrency": "forbid", "retry_delay": "PT30S", "retry_backoff": 2.0,
        "retry_delay_max": "PT10M", "remote_properties": {
            "url": "http://127.0.0.1:9/{{.Owner}}", "method": "PUT", "body": "b",
            "headers": {"X-A": ["1"]}, "timeout": 7, "expected_response_codes": [204]}},
        {"name": "trigger only", "command": "true", "trigger_only": True})

    def test_job_fields_are_declared_once_and_everything_agrees(self):
        """Each field Job declares is read from a request, stored, written to JSON under
        its name, described to OpenAPI and edited in the web page's form."""
        store = Store()
        handler = create(store, name="handler")
        page_inputs = set(re.findall(r' name="([A-Za-z_]+)"', kala.WEB_PAGE))
        form_fields = {name for name, _, _ in json.loads(kala._FORM_FIELDS)}
        request = kala._JOB_REQUEST_SCHEMA["properties"]
        written = {}
        for body in self.EVERY_FIELD:
            job = job_from_request({**body, "on_failure_job": handler.id}, now=T0 - 3600)
            store.create_job(job)
            written.update({name: value for name, value in job_to_json(
                store.get_job(job.id)).items() if name in body})
        for field in kala.DEFINITION_FIELDS:
            name = kala.json_name(field)
            assert name in request, name
            assert field.name in Job.SPEC_FIELDS or field.name == "remote", name
            assert name in form_fields, name
            inputs = ({"url", "method", "body", "headers", "remote_timeout", "codes"}
                      if name == "remote_properties" else {name})
            assert inputs <= page_inputs, name
            if name != "on_failure_job":
                expected = [body[name] for body in self.EVERY_FIELD if name in body]
                assert written.get(name) in expected, name  # read, stored and written back
        assert set(request) == {kala.json_name(f) for f in kala.DEFINITION_FIELDS} | {
            "disabled", "parent_jobs"}
        store.close()


# =============================================================================
# Storage
# =============================================================================

@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "kala.db")


#: Where the PostgreSQL tests create their databases (CI makes them required).
POSTGRES_SERVER = os.environ.get("KALA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


def _without_server(reason):
    _missing(reason, "KALA_SERVER_TESTS")


def _missing(reason, variable):
    """Skip for a missing package or service, or fail where ``variable`` is
    ``required`` (CI sets it: there a missing one is a failure)."""
    if os.environ.get(variable) == "required":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server():
    """A database of this test run's own on the PostgreSQL server (dropped at the
    end); each test gets a schema of its own in it (creating a database takes a
    checkpoint: a quarter of a second)."""
    try:
        import psycopg
    except ImportError:
        yield "PostgreSQL tests need psycopg: python3 -m pip install 'psycopg[binary]'"
        return
    try:
        admin = psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        yield f"PostgreSQL tests need a server at {POSTGRES_SERVER}: {exc}"
        return
    name = f"kala_test_{os.getpid()}_{random.randrange(10 ** 6)}"
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
        try:
            with psycopg.connect(f"{POSTGRES_SERVER}/{name}", autocommit=True) as db:
                yield db
        finally:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@contextlib.contextmanager
def postgres_database(server):
    """A URL for a schema of its own in the test run's database; every session
    that used it is ended afterwards (stores a test left open included)."""
    if isinstance(server, str):
        _without_server(server)
    schema = f"t{random.randrange(10 ** 9)}"
    server.execute(f"CREATE SCHEMA {schema}")
    database = server.info.dbname
    try:
        yield (f"{POSTGRES_SERVER}/{database}?application_name=kala_{schema}"
               f"&options=-csearch_path%3D{schema}")
    finally:
        server.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE application_name = %s", (f"kala_{schema}",))
        server.execute(f"DROP SCHEMA {schema} CASCADE")


#: Where the MySQL tests create their databases (MariaDB here; CI makes them required).
MYSQL_SERVER = os.environ.get("KALA_TEST_MYSQL", "mysql://root@127.0.0.1:3306")


@pytest.fixture(scope="session")
def mysql_server():
    """An admin connection to the MySQL (or MariaDB) server, or why there is none."""
    try:
        import pymysql
    except ImportError:
        yield "MySQL tests need PyMySQL: .venv/bin/pip install pymysql"
        return
    parts = urllib.parse.urlsplit(MYSQL_SERVER)
    try:
        admin = pymysql.connect(host=parts.hostname, port=parts.port or 3306,
                                user=parts.username or "root", password=parts.password or "",
                                autocommit=True, connect_timeout=5, ssl_disabled=True)
    except pymysql.MySQLError as exc:
        yield f"MySQL tests need a server at {MYSQL_SERVER}: {exc}"
        return
    with admin:
        admin.lock = threading.Lock()  # PyMySQL's connections are not for several threads
        yield admin


@contextlib.contextmanager
def mysql_database(server):
    """A URL for a database of its own on the MySQL server; every session that used it
    is ended afterwards (stores a test left open included), and it is dropped."""
    if isinstance(server, str):
        _without_server(server)
    name = f"kala_t{os.getpid()}_{random.randrange(10 ** 9)}"
    with server.lock, server.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    try:
        # Without TLS: PyMySQL 1.2 spends ~30-60 ms of CPU on a TLS context for each
        # connection otherwise, a minute of the suite (the URL's default is tested alone).
        yield f"{MYSQL_SERVER}/{name}?ssl_disabled=true"
    finally:
        with server.lock, server.cursor() as cursor:
            cursor.execute("SELECT id FROM information_schema.processlist WHERE db = %s", (name,))
            for (connection,) in cursor.fetchall():
                with contextlib.suppress(Exception):
                    cursor.execute(f"KILL {int(connection)}")
            cursor.execute(f"DROP DATABASE {name}")


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def database(request, tmp_path):
    """A database for the test: a SQLite file, or a PostgreSQL or MySQL database of its
    own. Every behaviour that touches a store runs on all three, so they cannot drift."""
    if request.param == "sqlite":
        yield str(tmp_path / "kala.db")
    elif request.param == "postgresql":
        with postgres_database(request.getfixturevalue("postgres_server")) as url:
            yield url
    else:
        with mysql_database(request.getfixturevalue("mysql_server")) as url:
            yield url


@contextlib.contextmanager
def psycopg_session(database):
    """A connection of the test's own to a PostgreSQL database (autocommit)."""
    import psycopg
    with psycopg.connect(database, autocommit=True) as db:
        yield db


def a_store_claim_batch(database):
    """The claim batch of the store at ``database`` (how far past the first due
    occurrence one claim reaches)."""
    return (kala.Store if database.endswith(".db") else kala.ServerStore).claim_batch


def query_database(database, sql, params=()):
    """Rows read straight from a SQLite file, or a PostgreSQL or MySQL database."""
    with database_reader(database) as read:
        return read(sql, params)


@contextlib.contextmanager
def database_reader(database):
    """``read(sql, params)``: rows read on one connection of the test's own (kept for
    a quick poll), autocommitting, with ``?`` for parameters on every store."""
    if database.startswith("postgresql://"):
        import psycopg
        with psycopg.connect(database, autocommit=True) as db:
            yield lambda sql, params=(): db.execute(sql.replace("?", "%s"), params).fetchall()
    elif database.startswith("mysql://"):
        with mysql_session(database) as db:
            def read(sql, params=()):
                db.execute(sql.replace("?", "%s"), params)
                return [tuple(row) for row in db.fetchall()]
            yield read
    else:
        with contextlib.closing(sqlite3.connect(database, timeout=30,
                                                isolation_level=None)) as db:
            yield lambda sql, params=(): db.execute(sql, params).fetchall()


@contextlib.contextmanager
def mysql_session(database):
    """A cursor of the test's own on a MySQL database (autocommit, ANSI quotes)."""
    import pymysql
    parts = urllib.parse.urlsplit(database)
    with pymysql.connect(host=parts.hostname, port=parts.port or 3306,
                         user=parts.username or "root", password=parts.password or "",
                         database=parts.path.lstrip("/"), autocommit=True,
                         ssl_disabled=True) as db:
        with db.cursor() as cursor:
            cursor.execute("SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), "
                           "'ANSI_QUOTES')")
            yield cursor


def end_presence(store):
    """What a kill -9 does to a process's presence: its lock is free (the SQLite
    file's flock; the PostgreSQL session ends), its start ledger stays."""
    if isinstance(store, kala.ServerStore):
        store._presence.drop()
    else:
        os.close(store.fence._lock._fd)


def create(store, clock=None, **fields):
    fields.setdefault("name", "job")
    if fields.get("type", 0) == 0:
        fields.setdefault("command", "true")
    job = job_from_request(fields, now=(clock or FakeClock())())
    store.create_job(job)
    return job


def start_run(store, job_id, key, node, now):
    """A run claimed by ``node`` and started (its command is running there)."""
    claim = store.claim_run(job_id, key, "manual", node, now)
    assert store.fence.starting([claim.run_id], node, now) == [claim.run_id]
    return claim


#: The stores every store behaviour is tested on.
STORES = ("sqlite", "postgresql", "mysql")


class StoreContext:
    """One store's share of a test run on every store at once (``at_once``): its
    database, its folder, its serve processes (killed at the end) and its clients."""

    def __init__(self, store, database, tmp_path, cleanup):
        self.store, self.database, self.tmp_path, self.cleanup = store, database, tmp_path, cleanup
        self.processes = []
        cleanup.callback(self._kill_all)

    def serve(self, *args, **kwargs):
        self.processes.append(ServeProcess(*args, **kwargs))
        return self.processes[-1]

    def api(self):
        server = self.cleanup.enter_context(server_in_thread(open_store(self.database)))
        client = Client(server.server_address[1])
        client.scheduler = server.app.scheduler
        return client

    def _kill_all(self):
        for process in self.processes:
            if process.process.poll() is None:
                process.process.send_signal(signal.SIGCONT)
                process.kill()


class StoreRuns:
    """A real-time test running on several stores at once, a thread a store, each with
    its own database, folder, processes and clients (StoreContext); ``report()``
    waits for them and raises what failed, naming the store."""

    def __init__(self, test, instance, kwargs, asked, stores, servers, folder):
        self.failures, self.missing = {}, {}
        self.threads = [threading.Thread(
            target=self._one, args=(test, instance, kwargs, asked, store, servers, folder),
            daemon=True) for store in stores]
        for thread in self.threads:
            thread.start()

    def _one(self, test, instance, kwargs, asked, store, servers, folder):
        with contextlib.ExitStack() as cleanup:
            try:
                database = (str(folder / store / "kala.db") if store == "sqlite" else
                            cleanup.enter_context((postgres_database if store == "postgresql"
                                                   else mysql_database)(servers[store])))
            except (pytest.skip.Exception, pytest.fail.Exception) as exc:
                self.missing[store] = str(exc)
                return
            (folder / store).mkdir(exist_ok=True)
            context = StoreContext(store, database, folder / store, cleanup)
            given = {"database": database, "server_database": database,
                     "tmp_path": context.tmp_path, "serve": context.serve}
            cleanup.callback(OPEN_STORES.close_mine)  # those this thread opened
            try:
                arguments = {name: given[name] if name in given else
                             context.api() if name == "api" else getattr(instance, name)(context)
                             for name in asked}
                test(instance, **arguments, **kwargs)
            except BaseException:
                self.failures[store] = traceback.format_exc()

    def report(self):
        for thread in self.threads:
            thread.join()
        if self.failures:
            raise AssertionError("\n".join(f"--- on {store}:\n{text}"
                                           for store, text in self.failures.items()))
        if self.missing:
            _missing("; ".join(self.missing.values()),
                     "KALA_TEST_PACKAGES" if any("pip" in text for text in self.missing.values())
                     else "KALA_SERVER_TESTS")


class RealTimeAhead:
    """Real-time tests started before their turn: while one runs on its stores, the next
    ones (up to DEPTH, as long as they are real-time tests too) already run beside it,
    so that their waits overlap; each still reports under its own name, in its turn."""

    def __init__(self, servers, tmp_path_factory):
        self.servers, self.tmp_path_factory = servers, tmp_path_factory
        self.started = {}   # test id -> StoreRuns

    def start(self, item, instance, kwargs, folder):
        test, stores, asked, _ = item.function.at_once
        return StoreRuns(test, instance, kwargs, asked, stores, self.servers, folder)

    #: How many real-time tests run ahead of the one whose turn it is.
    DEPTH = 2

    def start_next(self, item):
        """Start the tests right after ``item`` that are real-time tests whose parameters
        are all known already (one asking for another fixture waits for its turn)."""
        items = item.session.items
        position = items.index(item)
        for following in items[position + 1:position + 1 + self.DEPTH]:
            spec = getattr(getattr(following, "function", None), "at_once", None)
            params = getattr(getattr(following, "callspec", None), "params", {})
            if spec is None or any(name not in params for name in spec[3]):
                return
            if any(mark.name == "skip" or (mark.name == "skipif" and any(mark.args))
                   for mark in following.iter_markers()):
                return  # one its turn will skip must not run ahead (a soak run would)
            if following.nodeid not in self.started:
                folder = self.tmp_path_factory.mktemp(re.sub(r"\W", "_", following.name)[:30])
                self.started[following.nodeid] = self.start(
                    following, following.cls(), {name: params[name] for name in spec[3]},
                    folder)

    def close(self):
        for runs in self.started.values():  # started, and not reported: let them clean up
            for thread in runs.threads:
                thread.join(60)


@pytest.fixture(scope="session")
def tests_ahead(request, tmp_path_factory):
    servers = {store: request.getfixturevalue(
        "postgres_server" if store == "postgresql" else "mysql_server") for store in STORES[1:]}
    ahead = RealTimeAhead(servers, tmp_path_factory)
    yield ahead
    ahead.close()


def at_once(stores=STORES):
    """Run a real-time test (one that waits on real processes and real time) on each of
    ``stores`` at once, each in a thread of its own with its own database, folder,
    serve processes and clients: their waits overlap, so the three stores take about
    as long as one (and the next such test starts beside it: RealTimeAhead). Every store
    still runs the whole test; a failure names its store. The test asks by name for
    ``database`` (or ``server_database``), ``tmp_path``, ``serve``, ``api``, or its
    class's ``cluster``/``machines`` (methods taking the StoreContext); any other
    fixture or parameter is the test's as usual."""
    own = {"database", "server_database", "tmp_path", "serve", "api", "cluster", "machines"}

    def decorate(test):
        signature = inspect.signature(test)
        asked = [name for name in signature.parameters if name in own]
        rest = [name for name in list(signature.parameters)[1:] if name not in own]

        def run(self, request, **kwargs):
            ahead = request.getfixturevalue("tests_ahead")
            runs = ahead.started.pop(request.node.nodeid, None)
            if runs is None:
                runs = ahead.start(request.node, self, kwargs,
                                   request.getfixturevalue("tmp_path"))
            ahead.start_next(request.node)
            runs.report()

        run.__name__, run.__qualname__, run.__doc__ = test.__name__, test.__qualname__, test.__doc__
        run.__signature__ = signature.replace(parameters=[
            *[p for name, p in signature.parameters.items() if name not in own],
            inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD)])
        run.pytestmark = getattr(test, "pytestmark", [])
        run.at_once = (test, stores, asked, rest)
        return run
    return decorate


def check_batches_land_on_their_own_rows(database):
    """Occurrences of several jobs claimed in one transaction, and results of several
    jobs committed together (in one statement each on a database server), land on
    their own rows: each claim's run id is its job's, each result's text arrives
    as a lone result's does, a result whose claim is gone is refused, and each
    result learns whether it owes follow-ups."""
    store = open_store(database)
    handler = create(store, name="handler")
    begin = T0 + 1
    jobs = [create(store, name=f"job {n}", schedule=f"R/{iso(begin + n * 0.001)}/PT1S",
                   on_failure_job=handler.id if n == 1 else "")
            for n in range(4)]
    child = create(store, name="child", parent_jobs=[jobs[0].id])
    claims, _ = store.claim_occurrences([(job.id, 0) for job in jobs], begin + 0.01,
                                        "node-a", 60)
    assert sorted((claim.job.id, claim.scheduled_for) for claim in claims) == sorted(
        (job.id, begin + n * 0.001) for n, job in enumerate(jobs))
    runs = dict(query_database(database, "SELECT id, job_id FROM runs"))
    assert all(runs[claim.run_id] == claim.job.id for claim in claims)
    assert [store.get_job(job.id).cursor for job in jobs] == [1] * 4
    claims.sort(key=lambda claim: claim.scheduled_for)
    text = 'é ✓ 😀 "quoted" \\ back\\slash\ttab\nline \x00 nul'
    results = [kala.RunResult(True, begin, begin + 0.5, 0, 0, output=text),
               kala.RunResult(False, begin, begin + 0.6, 0, 1, output=text, error=text),
               kala.RunResult(True, begin, begin + 0.7, 0, 0, output=""),
               kala.RunResult(True, begin, begin + 0.8, 0, 0)]
    nodes = ["node-a", "node-a", "node-a", "node-b"]  # the last one is not node-b's
    # The writer waits in the answer of a first result while the four are put: they
    # are written together, whenever it took that first one.
    gate, answers = threading.Event(), []
    first = store.claim_run(handler.id, "first", "manual", "node-a", begin)
    store.finish_run_later(first, "node-a", kala.RunResult(True, begin, begin, 0, 0),
                           lambda answer: gate.wait(10.0))
    for claim, node, result in zip(claims, nodes, results):
        store.finish_run_later(claim, node, result, answers.append)
    gate.set()
    assert store.flush(10.0) and answers == [True, True, True, False]
    assert [result.followups_owed for result in results[:3]] == [True, True, False]
    lone_job = create(store, name="lone")
    lone = store.claim_run(lone_job.id, "lone", "manual", "node-a", begin)
    assert store.finish_run(lone, "node-a", kala.RunResult(False, begin, begin + 1, 0, 1,
                                                           output=text, error=text))
    [alone] = store.job_stats(lone_job.id)
    for job, result in zip(jobs[:2], results):
        [stat] = store.job_stats(job.id)
        assert (stat.output, stat.error) == (alone.output, result.error and alone.error)
        assert (stat.ran_at, stat.duration_ns) == (result.ran_at, result.duration_ns)
    counted = [store.get_job(job.id) for job in jobs]
    assert [(job.success_count, job.error_count, job.last_success, job.last_error)
            for job in counted] == [(1, 0, begin + 0.5, None), (0, 1, None, begin + 0.6),
                                    (1, 0, begin + 0.7, None), (0, 0, None, None)]
    assert store.get_job(child.id).success_count == 0
    store.close()


class TestStore:
    def test_a_job_survives_reopening_the_file(self, db_path):
        store = Store(db_path)
        job = create(store, name="ünïcødé ✓", command="echo 'hé'", retries=2)
        store.close()
        again = Store(db_path).get_job(job.id)
        assert job_to_json(again) == job_to_json(job)

    def test_jobs_read_twice_share_no_mutable_value(self, db_path):
        # A spec is parsed once for each text (claims read their jobs every time):
        # what one reader changes in its job is not in the next one's.
        store = Store(db_path)
        job = create(store, name="r", type=1, environment={"A": "1"}, remote_properties={
            "url": "http://127.0.0.1:9/", "headers": {"X": ["1"]},
            "expected_response_codes": [200]})
        first = store.get_job(job.id)
        first.environment["A"] = "changed"
        first.remote.headers["X"].append("2")
        first.remote.expected_response_codes.append(500)
        again = store.get_job(job.id)
        assert again.environment == {"A": "1"}
        assert (again.remote.headers, again.remote.expected_response_codes) == (
            {"X": ["1"]}, [200])
        store.close()

    def test_the_full_list_is_read_in_batches_each_job_once(self, database):
        """GET /api/v1/job/ reads its jobs a batch at a time (each_stored_job): the same
        rows, parents and children as one read, in creation order; a job created or
        deleted between two batches is in the list at most once."""
        store = open_store(database)
        jobs = [create(store, name=f"job {n}") for n in range(5)]
        child = create(store, name="child", parent_jobs=[jobs[0].id, jobs[3].id])
        whole = [(s.row["id"], s.json_text(T0)) for s in store.stored_jobs()]
        assert [(s.row["id"], s.json_text(T0)) for s in store.each_stored_job(batch=2)] == whole
        assert [job_id for job_id, _ in whole] == [job.id for job in jobs] + [child.id]
        reading = store.each_stored_job(batch=2)
        seen = [next(reading).row["id"], next(reading).row["id"]]
        store.delete_job(jobs[4].id, T0)
        late = create(store, name="late")
        seen += [stored.row["id"] for stored in reading]
        assert seen == [job.id for job in jobs[:4]] + [child.id, late.id]
        store.close()

    def test_a_jobs_json_is_written_from_its_row_byte_for_byte(self, database):
        """The API writes each job's JSON from its row's shown text (StoredJob.json_text);
        it must be json.dumps(job_to_json(job)) to the byte: every field, every state, a
        disabled job, a row with no shown text yet (stored by an earlier version: filled
        at the next start), and one whose spec another version edited since."""
        store = open_store(database)
        handler = create(store, name="handler")
        every, trigger = (create(store, clock=FakeClock(T0 - 3600), on_failure_job=handler.id,
                                 **body) for body in TestJobRequests.EVERY_FIELD)
        parent = create(store, name='ünïcødé ✓ "quoted" \\ tab\t', command="echo 'hé'",
                        owner="ö")
        child = create(store, name="child", parent_jobs=[parent.id, handler.id])
        for job_id, success in ((parent.id, True), (child.id, False)):
            claim = store.claim_run(job_id, f"k-{job_id}", "manual", "node-a", T0)
            assert store.finish_run(claim, "node-a", kala.RunResult(
                success, T0, T0 + 1.25, 0, 0 if success else 1))
        off = create(store, clock=FakeClock(T0 - 3600), name="off",
                     schedule=f"R/{iso(T0 - 10)}/PT1H")
        store.set_disabled(off.id, True, T0)
        with store._transaction() as db:
            db.execute("UPDATE jobs SET shown = NULL, shown_of = NULL WHERE id = ?",
                       (trigger.id,))  # as a version before both columns left it
            spec = json.loads(db.execute("SELECT spec FROM jobs WHERE id = ?",
                                         (every.id,)).fetchone()[0])
            db.execute("UPDATE jobs SET spec = ? WHERE id = ?",
                       (json.dumps({**spec, "name": "edited elsewhere"}), every.id))
        store.close()
        store = open_store(database)
        now = T0 + 100.5
        stored = store.stored_jobs()
        assert len(stored) == 6 and all(row.row["shown"] for row in stored)
        for row in stored + [store.stored_job(child.id)] + store.stored_jobs(
                2, 1, kala.JobQuery(sort="name")):
            assert row.json_text(now) == json.dumps(job_to_json(row.job(), now),
                                                    ensure_ascii=False), row.row["id"]
        texts = {row.row["id"]: json.loads(row.json_text(now)) for row in stored}
        assert texts[every.id]["name"] == "edited elsewhere"
        assert texts[child.id]["parent_jobs"] == [parent.id, handler.id]
        assert texts[off.id]["next_run_at"] == format_time(T0 - 10 + 3600)
        assert texts[parent.id]["metadata"]["last_success"] == format_time(T0 + 1.25)

    def test_a_start_looks_for_jobs_without_shown_text_through_an_index(self, db_path):
        """Each start fills in the shown text of jobs an earlier version stored; it
        finds them without reading every job (90 ms at 100,000)."""
        Store(db_path).close()
        with contextlib.closing(sqlite3.connect(db_path)) as db:
            plan = db.execute("EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE shown_of IS NULL"
                              ).fetchall()
        assert "USING INDEX jobs_unshown" in str(plan)

    def test_the_file_is_private(self, db_path):
        Store(db_path).close()
        assert os.stat(db_path).st_mode & 0o777 == 0o600

    def test_unknown_parent_stores_nothing(self, database):
        store = open_store(database)
        with pytest.raises(InvalidInput, match="parent job 'nope' does not exist"):
            create(store, parent_jobs=["nope"])
        with pytest.raises(InvalidInput, match="on_failure_job 'nope'"):
            create(store, on_failure_job="nope")
        assert store.list_jobs() == []

    def test_dependents_keep_creation_order(self, database):
        store = open_store(database)
        parent = create(store, name="parent")
        children = [create(store, name=f"c{i}", parent_jobs=[parent.id]) for i in range(3)]
        assert store.get_job(parent.id).dependent_jobs == [c.id for c in children]
        assert store.get_job(children[0].id).parent_jobs == [parent.id]
        listed = {job.id: job for job in store.list_jobs()}
        assert listed[parent.id].dependent_jobs == [c.id for c in children]

    def test_deleting_a_child_removes_it_from_its_parents(self, database):
        store = open_store(database)
        parent = create(store)
        first, second = (create(store, parent_jobs=[parent.id]) for _ in range(2))
        assert store.delete_job(first.id, T0) == [first.id]
        assert store.get_job(parent.id).dependent_jobs == [second.id]

    def test_deleting_a_parent_cascades_to_children_without_another_parent(self, database):
        store = open_store(database)
        parent, other = create(store, name="p"), create(store, name="o")
        only_child = create(store, name="only", parent_jobs=[parent.id])
        grandchild = create(store, name="grand", parent_jobs=[only_child.id])
        shared = create(store, name="shared", parent_jobs=[parent.id, other.id])
        deleted = store.delete_job(parent.id, T0)
        assert set(deleted) == {parent.id, only_child.id, grandchild.id}
        assert {job.id for job in store.list_jobs()} == {other.id, shared.id}
        assert store.get_job(shared.id).parent_jobs == [other.id]
        assert store.get_job(other.id).dependent_jobs == [shared.id]

    def test_unknown_ids(self, database):
        store = open_store(database)
        for call in (lambda: store.get_job("x"), lambda: store.delete_job("x", T0),
                     lambda: store.job_stats("x"), lambda: store.set_disabled("x", True, T0)):
            with pytest.raises(JobNotFound):
                call()

    def test_an_occurrence_is_claimed_once_even_from_two_connections(self, database):
        first, second = open_store(database), open_store(database)
        job = create(first, schedule=f"R/{iso(T0 + 10)}/PT10S")
        claims_a, timers_a = first.claim_occurrences([(job.id, 0)], T0 + 10, "a", 1.0)
        claims_b, timers_b = second.claim_occurrences([(job.id, 0)], T0 + 10, "b", 1.0)
        assert len(claims_a) == 1 and claims_b == []
        # The loser follows the job's real timer instead of dropping it.
        assert timers_a == timers_b == [kala.Timer(job.id, T0 + 20, 1)]
        assert second.get_job(job.id).cursor == 1

    def test_a_stale_claim_cannot_record_its_result(self, database):
        store = open_store(database)
        job = create(store)
        claim = store.claim_run(job.id, "k", "manual", "node-a", T0)
        assert store.claim_run(job.id, "k", "manual", "node-a", T0) is None
        result = kala.RunResult(True, T0, T0 + 1, 0, 0)
        assert not store.finish_run(claim, "node-b", result)
        assert store.finish_run(claim, "node-a", result)
        # The same result again (written again after a commit's answer was lost) is
        # the one recorded; another one is refused. It counts once either way.
        assert store.finish_run(claim, "node-a", result)
        assert not store.finish_run(claim, "node-a", kala.RunResult(False, T0, T0 + 2, 0, 1))
        assert store.get_job(job.id).success_count == 1
        assert store.get_job(job.id).error_count == 0

    def test_results_of_one_job_committed_together_each_count(self, database):
        store = open_store(database)
        job = create(store, retries=1)
        claims = [store.claim_run(job.id, f"k{i}", "manual", "node-a", T0) for i in range(5)]
        results = [kala.RunResult(True, T0, T0 + 1, 0, 0), kala.RunResult(False, T0, T0 + 2, 1, 2),
                   kala.RunResult(True, T0, T0 + 4, 1, 1), kala.RunResult(False, T0, T0 + 3, 0, 1),
                   kala.RunResult(True, T0, T0 + 5, 0, 0)]
        answers = []
        for claim, result in zip(claims, results):
            store.finish_run_later(claim, "node-a", result, answers.append)
        assert store.flush(10.0) and answers == [True] * 5
        counted = store.get_job(job.id)
        assert (counted.success_count, counted.error_count) == (3, 4)
        # The last one recorded with a failure sets last_error, as if one by one.
        assert (counted.last_success, counted.last_error) == (T0 + 5, T0 + 3)
        assert sorted(stat.retries for stat in store.job_stats(job.id)) == [0, 0, 0, 1, 1]

    def test_claims_and_results_written_together_are_each_their_own(self, database):
        check_batches_land_on_their_own_rows(database)

    def test_results_finishing_together_with_their_whole_output_are_all_written(
            self, database):
        # 300 results of 64 KB of output each (19 MB) committed together: one statement
        # of them was longer than MariaDB takes (max_allowed_packet, 16 MB by default),
        # and the batch was refused and written again for ever.
        store = open_store(database)
        job = create(store)
        claims = [store.claim_run(job.id, f"k{i}", "manual", "node-a", T0) for i in range(300)]
        output = "x" * kala.OUTPUT_TAIL_BYTES
        gate, answers = threading.Event(), []
        first = store.claim_run(job.id, "first", "manual", "node-a", T0)
        store.finish_run_later(first, "node-a", kala.RunResult(True, T0, T0, 0, 0),
                               lambda answer: gate.wait(10.0))
        for claim in claims:
            store.finish_run_later(claim, "node-a",
                                   kala.RunResult(True, T0, T0 + 1, 0, 0, output=output),
                                   answers.append)
        gate.set()
        assert store.flush(30.0) and answers == [True] * 300
        assert store.get_job(job.id).success_count == 301
        assert query_database(database, "SELECT COUNT(*) FROM runs WHERE output = ?",
                              (output,)) == [(300,)]
        store.close()

    def test_pruning_history_keeps_the_newest_runs_and_the_counters(self, database):
        store = open_store(database)
        job = create(store)
        claims = [store.claim_run(job.id, f"k{i}", "manual", "node-a", T0 + i) for i in range(6)]
        for i, claim in enumerate(claims[:5]):
            store.finish_run(claim, "node-a", kala.RunResult(True, T0 + i, T0 + i + 0.5, 0, 0))
        assert store.prune_history(job.id, 3) == 2
        assert [stat.ran_at for stat in store.job_stats(job.id)] == [T0 + 2, T0 + 3, T0 + 4]
        assert store.prune_history(job.id, 3) == 0
        assert store.get_job(job.id).success_count == 5
        assert len(query_database(database, "SELECT id FROM runs WHERE state = 'running'")) == 1

    def test_runs_of_a_stale_node_fail_and_count(self, database):
        store = open_store(database)
        job = create(store)
        start_run(store, job.id, "k1", "hung", T0)
        start_run(store, job.id, "k2", "alive", T0 + 20)
        failed, retries, chains, deaths = store.reap_nodes([], T0 + 20, lease=10,
                                                           reaper="alive")
        assert (failed, retries, chains) == ([(1, job.id)], [], [])
        assert deaths == [kala.NodeDeath("hung", "its heartbeat is 20.0 s old, over its lease "
                                                 "of 10 s", failed=1)]
        stats = store.job_stats(job.id)
        assert [(s.success, s.error, s.node) for s in stats] == [(False, kala.NODE_DIED, "hung")]
        assert store.get_job(job.id).error_count == 1
        assert [n for n, _ in store.nodes()] == ["alive"]

    def test_jobs_created_at_once_each_get_their_own_answer(self, database):
        store = open_store(database)
        parent = create(store, name="parent")
        jobs = [job_from_request({"name": f"j{i}", "command": "true",
                                  "parent_jobs": [parent.id if i != 3 else "missing"]}, now=T0)
                for i in range(8)]
        outcomes = [None] * len(jobs)

        def create_one(i):
            try:
                store.create_job(jobs[i])
            except InvalidInput as exc:
                outcomes[i] = str(exc)

        threads = [threading.Thread(target=create_one, args=(i,)) for i in range(len(jobs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes[3] == "parent job 'missing' does not exist"
        assert [o for i, o in enumerate(outcomes) if i != 3] == [None] * 7
        assert sorted(j.name for j in store.list_jobs()) == ["j0", "j1", "j2", "j4", "j5",
                                                              "j6", "j7", "parent"]

    def test_a_dead_node_run_with_retries_left_is_claimed_again(self, database):
        store = open_store(database)
        job = create(store, retries=2)
        claim = start_run(store, job.id, "k", "dead", T0)
        assert store.record_retry(claim, "dead", 1, T0)  # its first attempt had failed
        failed, [retry], _, deaths = store.reap_nodes(["dead"], T0 + 1, lease=10, reaper="me")
        assert failed == [(claim.run_id, job.id)]
        assert deaths == [kala.NodeDeath("dead", "its lock was freed", failed=1, retried=1)]
        assert (retry.prior_attempts, retry.key, retry.scheduled_for) == (2, "k~2", T0)
        # The old owner can no longer record anything about its run.
        assert not store.record_retry(claim, "dead", 2, T0 + 1)
        assert not store.finish_run(claim, "dead", kala.RunResult(True, T0, T0, 0, 0))
        # No retries left after this one: a second death is final.
        assert store.fence.starting([retry.run_id], "me", T0 + 1) == [retry.run_id]
        _, again, _, _ = store.reap_nodes(["me"], T0 + 2, lease=10, reaper="other")
        assert again == []

    def test_a_claim_a_dead_node_never_started_is_taken_over_not_failed(self, database):
        store, dead = open_store(database), open_store(database)
        dead.fence.hold("dead")  # its claims are noted as not started (SQLite's ledger)
        job = create(store, schedule=f"R0/{iso(T0 + 1)}/", epsilon="PT5S")
        [claim], _ = dead.claim_occurrences([(job.id, 0)], T0 + 0.9, "dead", 60, ahead=0.2)
        late = create(store, name="late", schedule=f"R0/{iso(T0 + 1)}/", epsilon="PT0.5S")
        [late_claim], _ = dead.claim_occurrences([(late.id, 0)], T0 + 0.9, "dead", 60,
                                                 ahead=0.2)
        failed, [taken], _, deaths = store.reap_nodes(["dead"], T0 + 2, lease=10, reaper="me")
        assert failed == [(late_claim.run_id, late.id)]  # past its epsilon: not run late
        assert deaths == [kala.NodeDeath("dead", "its lock was freed", taken_over=1, failed=1)]
        assert (taken.run_id, taken.key, taken.scheduled_for) == (claim.run_id, claim.key, T0 + 1)
        assert store.get_job(job.id).error_count == 0
        assert store.finish_run(taken, "me", kala.RunResult(True, T0 + 2, T0 + 2, 0, 0))
        assert not store.finish_run(claim, "dead", kala.RunResult(True, T0 + 2, T0 + 2, 0, 0))

    def test_claims_are_noted_inside_their_transaction_late_ones_too(self, database,
                                                                     monkeypatch):
        store = open_store(database)
        job = create(store, schedule=f"R0/{iso(T0 + 1)}/")
        noted = []
        monkeypatch.setattr(store.fence, "claimed", noted.extend)
        [claim], _ = store.claim_occurrences([(job.id, 0)], T0 + 5, "me", 60)  # 4 s late
        assert noted == [claim.run_id]

        def killed(run_ids):
            raise KeyboardInterrupt  # as if the process died before the commit
        monkeypatch.setattr(store.fence, "claimed", killed)
        other = create(store, schedule=f"R0/{iso(T0 + 1)}/")
        with pytest.raises(KeyboardInterrupt):
            store.claim_occurrences([(other.id, 0)], T0 + 5, "me", 60)
        assert store.get_job(other.id).cursor == 0  # nothing was claimed
        with pytest.raises(KeyboardInterrupt):
            store.claim_run(other.id, "k", "manual", "me", T0)
        monkeypatch.undo()
        assert store.claim_run(other.id, "k", "manual", "me", T0) is not None

    def test_a_reaper_that_could_not_beat_itself_reaps_nobody_for_it(self, database):
        store = open_store(database)
        for node, beat in [("stopped", T0), ("blocked", T0), ("me", T0 + 0.3)]:
            store.join(node, beat)
        # Everyone waited 20 s for a writer stopped while it held the write lock:
        # the others are no deader than this process, which could not beat either.
        assert store.reap_nodes([], T0 + 20, lease=10, reaper="me") == kala.Takeover([], [], [])
        assert sorted(n for n, _ in store.nodes()) == ["blocked", "me", "stopped"]
        store.join("blocked", T0 + 20.2)
        # Now it has beaten; one that stays silent for a lease more is taken for dead.
        store.reap_nodes([], T0 + 30.5, lease=10, reaper="me")
        assert sorted(n for n, _ in store.nodes()) == ["blocked", "me"]

    def test_no_retry_past_epsilon(self, database):
        store = open_store(database)
        job = create(store, retries=5, epsilon="PT10S")
        store.claim_run(job.id, "k", "manual", "dead", T0)
        assert store.reap_nodes(["dead"], T0 + 11, lease=100, reaper="me")[1] == []

    def test_a_dead_node_chain_and_failure_job_are_taken_over(self, database):
        store = open_store(database)
        parent = create(store, name="parent")
        create(store, name="child", parent_jobs=[parent.id])
        handler = create(store, name="handler")
        failing = create(store, name="failing", on_failure_job=handler.id)
        finished = store.claim_run(parent.id, "p", "manual", "dead", T0)
        result = kala.RunResult(True, T0, T0, 0, 0)
        assert store.finish_run(finished, "dead", result) and result.followups_owed
        start_run(store, failing.id, "f", "dead", T0)  # dies while running
        _, retries, chains, deaths = store.reap_nodes(["dead"], T0 + 1, lease=10, reaper="me")
        assert retries == []
        assert deaths == [kala.NodeDeath("dead", "its lock was freed", failed=1, followups=2)]
        assert [(c.job.name, success) for c, success in chains] == [
            ("parent", True), ("failing", False)]
        store.followups_done(chains[0][0].run_id, "me")  # only the parent's chain was done
        assert store.reap_nodes(["me"], T0 + 2, lease=10, reaper="x")[2] == [
            (chains[1][0], False)]

    def test_a_run_without_children_owes_nothing(self, database):
        store = open_store(database)
        job = create(store)
        result = kala.RunResult(True, T0, T0, 0, 0)
        store.finish_run(store.claim_run(job.id, "k", "manual", "n", T0), "n", result)
        assert not result.followups_owed

    def test_a_process_taken_for_dead_comes_back_with_its_start_time(self, database):
        # Else the catch-up rule would take its absence for downtime, when no process
        # ran, and skip what came due meanwhile.
        store = open_store(database)
        store.join("a", T0)
        store.reap_nodes(["a"], T0 + 5, 10, "b")
        job = create(store, schedule=f"R/{iso(T0 + 1)}/PT1S")
        store.claim_occurrences([(job.id, 0)], T0 + 6, "a", 60)
        assert query_database(database, "SELECT id, started_at FROM nodes ORDER BY id") == [
            ("a", T0), ("b", T0 + 5)]

    @pytest.mark.parametrize("gone", ["reaped", "left"])
    def test_a_backlog_left_by_a_process_that_went_is_late_not_missed(self, database, gone):
        # "a" fell behind (occurrence 0, due at T0 + 55, unclaimed) and went while "b",
        # started at T0 + 58, ran: some process ran all along, so occurrence 0 is
        # late and runs as itself, not coalesced into the latest as after downtime.
        store = open_store(database)
        store.join("a", T0)
        job = create(store, schedule=f"R/{iso(T0 + 55)}/PT5S")
        store.join("b", T0 + 58)
        store.join("c", T0 + 65)
        store.claim_occurrences([], T0 + 60, "a", 60)  # a's last beat
        if gone == "reaped":
            store.reap_nodes(["a"], T0 + 70, lease=10, reaper="b")
        else:
            store.leave("a", T0 + 60)
        [claim], _ = store.claim_occurrences([(job.id, 0)], T0 + 71, "c", 60)
        assert claim.scheduled_for == T0 + 55
        assert query_database(database, "SELECT id, up_since FROM nodes ORDER BY id") == [
            ("b", T0), ("c", None)]  # c started after a's last beat: on its own

    def test_occurrences_while_no_process_ran_are_missed(self, database):
        store = open_store(database)
        store.join("a", T0)
        job = create(store, schedule=f"R/{iso(T0 + 30)}/PT5S")
        resumes = create(store, schedule=f"R0/{iso(T0 + 30)}/",
                         resume_at_next_scheduled_time=True)
        store.join("b", T0 + 50)  # a was killed at T0 + 10, its row left behind
        store.reap_nodes(["a"], T0 + 50, lease=10, reaper="b")
        [claim], _ = store.claim_occurrences([(job.id, 0), (resumes.id, 0)], T0 + 51, "b", 60)
        assert claim.scheduled_for == T0 + 50  # the latest missed occurrence, once
        assert store.get_job(resumes.id).is_done and store.job_stats(resumes.id) == []
        store.join("b", T0 + 80)  # b again, after downtime under the same id
        again = create(store, schedule=f"R0/{iso(T0 + 70)}/", resume_at_next_scheduled_time=True)
        assert store.claim_occurrences([(again.id, 0)], T0 + 81, "b", 60)[0] == []

    def test_joining_under_a_dead_process_id_fails_its_runs(self, database):
        store = open_store(database)
        job = create(store)
        start_run(store, job.id, "k", "host:42", T0)
        failed, _, _, deaths = store.join("host:42", T0 + 1)
        assert deaths == [kala.NodeDeath("host:42", "an earlier process under its id ended",
                                         failed=1)]
        assert failed == [(1, job.id)]

    def test_checkpoints_move_the_wal_into_the_database(self, db_path, tmp_path):
        def jobs_in_main_file():
            # A copy of the database file alone, without its WAL, holds only what
            # was checkpointed.
            copy = tmp_path / "copy.db"
            copy.write_bytes(open(db_path, "rb").read())
            db = sqlite3.connect(str(copy))
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'jobs'").fetchone():
                return 0
            return db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]

        store = Store(db_path)
        for _ in range(30):
            create(store)
        assert jobs_in_main_file() == 0  # writers never checkpoint by themselves
        store.checkpoint()
        assert jobs_in_main_file() == 30

    def test_a_wal_written_without_pause_starts_over_once_past_its_bound(
            self, db_path, monkeypatch):
        # Two writers write on while each checkpoint copies, at most 40 creations
        # ahead of it: SQLite starts the WAL over only at a write begun once all of it
        # was copied, which writers without pause never gave it (1.4 GB of WAL after
        # 100,000 creations; here 19 MB after 800 without the bound).
        monkeypatch.setattr(kala.SqliteStore, "WAL_BOUND", 256 * 1024)
        store = Store(db_path)
        created, allowed, stop = [0], [40], threading.Event()
        progress = threading.Condition()

        def writer():
            while True:
                with progress:
                    progress.wait_for(lambda: stop.is_set() or created[0] < allowed[0])
                    if stop.is_set():
                        return
                    created[0] += 1
                    progress.notify_all()
                create(store)

        writers = [threading.Thread(target=writer) for _ in range(2)]
        for thread in writers:
            thread.start()
        longest = 0
        try:
            for checkpoint in range(1, 41):
                with progress:
                    assert progress.wait_for(lambda: created[0] >= 20 * checkpoint, timeout=30)
                longest = max(longest, os.path.getsize(f"{db_path}-wal"))
                store.checkpoint()
                with progress:
                    allowed[0] = 20 * (checkpoint + 2)
                    progress.notify_all()
        finally:
            with progress:
                stop.set()
                progress.notify_all()
            for thread in writers:
                thread.join()
        # The WAL held at most its bound and the pages of 40 creations (under 1 MB).
        assert longest < 8 * kala.SqliteStore.WAL_BOUND
        assert len(store.list_jobs()) == created[0]

    def test_pruning_old_stats(self, database):
        store = open_store(database)
        job = create(store)
        for key, finished in (("old", T0), ("new", T0 + 100)):
            claim = store.claim_run(job.id, key, "manual", "n", finished)
            store.finish_run(claim, "n", kala.RunResult(True, finished, finished, 0, 0))
        assert store.prune_stats(T0 + 50) == 1
        assert [s.ran_at for s in store.job_stats(job.id)] == [T0 + 100]


class TestGroupCommit:
    def test_concurrent_submissions_share_writes_and_get_their_own_answers(self):
        batches, gate = [], threading.Event()

        def write(batch):
            gate.wait(5)  # hold the first write so the others pile up behind it
            batches.append(list(batch))
            return [entry * 10 for entry in batch]

        commit = kala._GroupCommit(write)
        answers = {}
        threads = [threading.Thread(target=lambda i=i: answers.update({i: commit.submit(i)}))
                   for i in range(8)]
        threads[0].start()
        wait_for(lambda: commit._writing, message="the first write")
        for thread in threads[1:]:
            thread.start()
        wait_for(lambda: len(commit._pending) == 7, message="the others to queue")
        gate.set()
        for thread in threads:
            thread.join(5)
        assert answers == {i: i * 10 for i in range(8)}
        assert [len(b) for b in batches] == [1, 7]

    def test_a_failed_write_raises_in_each_caller(self):
        commit = kala._GroupCommit(lambda batch: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            commit.submit("x")
        assert not commit._writing


class TestWriteBehind:
    def test_what_arrives_during_a_write_goes_into_the_next_one(self):
        batches, entered, gate = [], threading.Event(), threading.Event()

        def write(batch):
            entered.set()
            gate.wait(5)  # hold the first write so the others pile up behind it
            batches.append(list(batch))
            return [entry * 10 for entry in batch]

        writer, answers = kala._WriteBehind(write, "test-writer"), queue.Queue()
        writer.put(0, lambda answer: answers.put((0, answer)))
        assert entered.wait(5)
        for i in range(1, 8):
            writer.put(i, lambda answer, i=i: answers.put((i, answer)))
        gate.set()
        assert dict(answers.get(timeout=5) for _ in range(8)) == {i: i * 10 for i in range(8)}
        assert batches == [[0], list(range(1, 8))]
        writer.close()

    def test_submit_waits_and_a_failed_write_reaches_each_entry_of_it(self):
        def write(batch):
            if "bad" in batch:
                raise ValueError("disk full")
            return [entry.upper() for entry in batch]

        writer, told = kala._WriteBehind(write, "test-writer"), queue.Queue()
        assert writer.submit("ok") == "OK"
        writer.put("bad", told.put)
        with pytest.raises(ValueError, match="disk full"):
            writer.submit("bad")
        assert isinstance(told.get(timeout=5), ValueError)
        assert writer.submit("fine") == "FINE"  # the writer goes on
        writer.close()

    def test_flush_returns_once_everything_put_is_written(self):
        written, gate = [], threading.Event()
        writer = kala._WriteBehind(lambda batch: [gate.wait(5), written.extend(batch)] and batch,
                                   "test-writer")
        for i in range(3):
            writer.put(i, lambda answer: None)
        threading.Timer(0.1, gate.set).start()
        writer.flush()
        assert written == [0, 1, 2]
        writer.close()
        writer.flush()  # closed: nothing to wait for


class TestNodeLocks:
    def test_a_held_lock_means_alive_and_a_free_one_dead(self, tmp_path):
        lock = kala.NodeLock(str(tmp_path), "host:1")
        lock.acquire()
        assert kala.NodeLock.remains(str(tmp_path), "host:1") is None
        with pytest.raises(kala.KalaError, match="already in use"):
            kala.NodeLock(str(tmp_path), "host:1").acquire()
        lock.release()
        assert kala.NodeLock.remains(str(tmp_path), "host:1") is None  # no file: no proof
        open(tmp_path / kala.NodeLock.file_name("host:1"), "w").close()
        assert kala.NodeLock.remains(str(tmp_path), "host:1") is not None

    def test_the_kernel_frees_the_lock_of_a_killed_process(self, tmp_path):
        # What it marked in its start ledger outlives it.
        code = ("import kala, sys, time; lock = kala.NodeLock(sys.argv[1], 'child'); "
                "lock.acquire(); lock.mark_claimed([5, 6]); lock.mark_started(6); "
                "print('locked', flush=True); time.sleep(60)")
        child = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)],
                                 stdout=subprocess.PIPE, text=True,
                                 cwd=os.path.dirname(KALA))
        assert child.stdout.readline() == "locked\n"
        assert kala.NodeLock.remains(str(tmp_path), "child") is None
        child.kill()
        child.wait()
        ledger = kala.NodeLock.remains(str(tmp_path), "child")
        assert [kala.NodeLock.never_started(ledger, run) for run in (5, 6)] == [True, False]
        assert not os.listdir(tmp_path)  # the stale lock file is removed

    def test_the_ledger_tells_claims_that_never_started(self, tmp_path):
        lock = kala.NodeLock(str(tmp_path), "n")
        lock.acquire()
        lock.mark_claimed([5, 6, 7 + kala.NodeLock.LEDGER_SLOTS])
        lock.mark_started(6)
        lock.mark_claimed([7])  # the slot goes to the later run
        os.close(lock._fd)  # as a kill would: the flock goes, the file stays
        ledger = kala.NodeLock.remains(str(tmp_path), "n")
        assert [kala.NodeLock.never_started(ledger, r) for r in (5, 6, 7, 8)] == [
            True, False, True, False]
        assert not kala.NodeLock.never_started(ledger, 7 + kala.NodeLock.LEDGER_SLOTS)
        assert not kala.NodeLock.never_started(None, 5)
        # A process taking the same id reads what its predecessor left, and starts afresh.
        open(tmp_path / kala.NodeLock.file_name("n"), "wb").write(ledger)
        again = kala.NodeLock(str(tmp_path), "n")
        again.acquire()
        assert kala.NodeLock.never_started(again.inherited_ledger, 5)
        assert os.path.getsize(again.path) == 0
        again.release()

    def test_the_ledger_of_a_live_process_can_be_read(self, tmp_path):
        lock = kala.NodeLock(str(tmp_path), "paused")
        lock.acquire()
        lock.mark_claimed([3])
        ledger = kala.NodeLock.read_ledger(str(tmp_path), "paused")
        assert kala.NodeLock.never_started(ledger, 3)
        assert kala.NodeLock.remains(str(tmp_path), "paused") is None  # still alive
        lock.release()
        assert kala.NodeLock.read_ledger(str(tmp_path), "paused") is None

    def test_job_processes_do_not_inherit_the_lock(self, tmp_path):
        lock = kala.NodeLock(str(tmp_path), "me")
        lock.acquire()
        attempt = kala.CommandRunner().run_command("ls -l /proc/self/fd/")
        lock.release()
        assert attempt.success and "node-me.lock" not in attempt.output


class TestFilesystems:
    MOUNTS = ("/dev/vda / ext4 rw 0 0\n"
              "server:/export /mnt/shared nfs4 rw 0 0\n"
              "tmpfs /mnt/shared/tmp tmpfs rw 0 0\n")

    @pytest.mark.parametrize("path, fstype", [
        ("/var/lib/kala", "ext4"), ("/mnt/shared/kala", "nfs4"), ("/mnt/shared", "nfs4"),
        ("/mnt/shared/tmp/x", "tmpfs"), ("/mnt/sharedx", "ext4")])
    def test_the_longest_mount_point_wins(self, tmp_path, path, fstype):
        mounts = tmp_path / "mounts"
        mounts.write_text(self.MOUNTS)
        assert kala.filesystem_type(path, str(mounts)) == fstype

    def test_a_database_on_a_network_file_system_is_refused(self, tmp_path):
        mounts = tmp_path / "mounts"
        mounts.write_text(f"server:/export {tmp_path} nfs rw 0 0\n")
        with pytest.raises(kala.KalaError, match="network file system"):
            Store(str(tmp_path / "kala.db"), mounts=str(mounts))
        assert not (tmp_path / "kala.db").exists()


# =============================================================================
# Running a job
# =============================================================================

SPAWNERS = ["posix_spawn through ctypes", "os.posix_spawn", "Popen"]


def command_runner(spawner: str, **settings) -> kala.CommandRunner:
    """A CommandRunner starting commands one of the three ways kala.py can."""
    if spawner == "Popen":
        return kala.CommandRunner(spawner=None, **settings)
    if not (sys.platform.startswith("linux") and hasattr(os, "posix_spawn")):
        pytest.skip("posix_spawn is used on Linux only")
    made = kala.ProcessSpawner(native=spawner == "posix_spawn through ctypes")
    if made.native != (spawner == "posix_spawn through ctypes"):
        pytest.skip("the C library cannot be reached through ctypes here")
    return kala.CommandRunner(spawner=made, **settings)


@pytest.fixture(params=[("a thread waiting", SPAWNERS[0])]
                + [("the watcher", spawner) for spawner in SPAWNERS],
                ids=lambda param: f"{param[0]}, {param[1]}")
def run_command(request):
    """Runs a command as the scheduler does: a thread blocked on it (remote jobs,
    retries, platforms without pidfd) or the one CommandWatcher thread, each
    command started as the runner does (posix_spawn, or Popen for a command with
    a working directory of its own)."""
    follower, spawner = request.param
    if follower == "a thread waiting":
        yield lambda command, timeout=0.0, output_limit=kala.OUTPUT_TAIL_BYTES: (
            command_runner(spawner, output_limit=output_limit).run_command(command, timeout))
        return
    if not kala.CommandWatcher.supported():
        pytest.skip("no epoll or pidfd here: the scheduler gives each run a thread")
    watchers = []

    def run(command, timeout=0.0, output_limit=kala.OUTPUT_TAIL_BYTES):
        watchers.append(kala.CommandWatcher(output_limit))
        watchers[-1].start()
        started = command_runner(spawner).spawn(command)
        if isinstance(started, kala.Attempt):
            return started
        ended = queue.Queue()
        watchers[-1].follow(started, timeout, ended.put)
        return ended.get(timeout=30)

    yield run
    for watcher in watchers:
        watcher.stop(5.0)


class TestCommandRunner:
    def test_a_nul_filled_in_by_a_template_fails_the_run_with_a_reason(self):
        """Found by schemathesis: a job's name may hold a NUL, and a template may put
        it into the command, where no program can take it."""
        job = job_from_request({"name": "a\u0000b", "command": "echo {{.Name}}",
                                "TemplateDelimiters": "{{ }}"}, now=T0)
        attempt = kala.CommandRunner().attempt(job)
        assert not attempt.success and "contains a NUL character" in attempt.error

    @pytest.mark.parametrize("spawner", SPAWNERS)
    def test_starts_from_several_threads_at_once_keep_their_own_output(self, spawner):
        # The ctypes spawner's file actions are made once and lent to one start at
        # a time; the command is split once and its environment encoded once.
        runner = command_runner(spawner)
        job = job_from_request({"name": "j", "command": "sh -c 'echo $KALA_RUN_ID $SHARED'",
                                "environment": {"SHARED": "same"}}, now=T0)
        started = {}

        def start(first):
            for run_id in range(first, first + 60, 3):
                started[run_id] = runner.start(job, {"KALA_RUN_ID": str(run_id)})

        threads = [threading.Thread(target=start, args=(first,)) for first in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        outputs = {run_id: runner.follow(process) for run_id, process in started.items()}
        assert {run_id: (attempt.success, attempt.output) for run_id, attempt in outputs.items()
                } == {run_id: (True, f"{run_id} same\n") for run_id in range(60)}

    @pytest.mark.parametrize("spawner", SPAWNERS)
    def test_a_lease_lapsed_right_before_the_fork_starts_nothing(self, spawner, tmp_path):
        """Each way a command starts asks the lease's last word right before it forks:
        when it says no, nothing is started and the output pipe is closed."""
        marker = tmp_path / "ran"
        job = job_from_request({"name": "j", "command": f"touch {marker}"}, now=T0)
        runner = command_runner(spawner)
        assert runner.follow(runner.start(job, cleared=lambda: True)).success
        assert marker.exists()
        marker.unlink()
        descriptors = os.listdir("/proc/self/fd")  # the spawner's own are made by now
        with pytest.raises(kala.LeaseLapsed):
            runner.start(job, cleared=lambda: False)
        assert os.listdir("/proc/self/fd") == descriptors and not marker.exists()

    def test_success_and_output(self, run_command):
        attempt = run_command("sh -c 'echo out; echo err >&2'")
        assert attempt.success and attempt.output == "out\nerr\n"

    def test_exit_status_decides(self, run_command):
        attempt = run_command("sh -c 'echo no; exit 3'")
        assert (attempt.success, attempt.error, attempt.output) == (False, "exit status 3", "no\n")

    def test_a_signal_is_named(self, run_command):
        attempt = run_command("sh -c 'kill -TERM $$'")
        assert (attempt.success, attempt.error) == (False, "signal: SIGTERM")

    def test_no_shell_is_involved(self, run_command):
        attempt = run_command("echo $HOME '$(id)' ; ls")
        assert attempt.output == "$HOME $(id) ; ls\n"

    def test_missing_program(self, run_command):
        attempt = run_command("no-such-program-here --x")
        assert not attempt.success and "executable file not found" in attempt.error

    def test_a_file_that_is_no_program_says_why(self, run_command, tmp_path):
        (tmp_path / "notes").write_text("not a program")
        attempt = run_command(str(tmp_path / "notes"))
        assert (attempt.success, attempt.error) == (
            False, f'exec: "{tmp_path / "notes"}": Permission denied')

    def test_signals_the_server_ignores_are_at_their_defaults(self, run_command):
        """Python ignores SIGPIPE: a command given it ignored would not die of a closed
        pipe (sh cannot undo an ignored signal), as with Popen's restore_signals."""
        attempt = run_command("sh -c 'kill -PIPE $$; echo survived'")
        assert (attempt.success, attempt.error, attempt.output) == (False, "signal: SIGPIPE", "")

    def test_the_command_has_stdin_stdout_stderr_and_no_other_descriptor(self, run_command,
                                                                         tmp_path):
        inherited = os.open(tmp_path, os.O_RDONLY)  # as if kala.py's parent had left one open
        os.set_inheritable(inherited, True)
        try:
            attempt = run_command("sh -c 'ls /proc/$$/fd; read line || echo stdin is empty'")
        finally:
            os.close(inherited)
        assert attempt.output == "0\n1\n2\nstdin is empty\n"

    @pytest.mark.parametrize("spawner", SPAWNERS)
    def test_a_program_is_found_in_the_path_the_job_gives(self, tmp_path, spawner):
        (tmp_path / "tool").write_text("#!/bin/sh\necho tool ran in $0\n")
        (tmp_path / "tool").chmod(0o755)
        runner = command_runner(spawner)
        attempt = runner.run_command("tool", environment={"PATH": f"/nonexistent:{tmp_path}"})
        assert (attempt.success, attempt.output) == (True, f"tool ran in {tmp_path}/tool\n")
        assert "executable file not found" in runner.run_command("tool").error

    @pytest.mark.parametrize("libc, spawns", [
        ("glibc 2.36", True), ("glibc 2.26", True),
        ("glibc 2.17", False),  # no POSIX_SPAWN_SETSID: every spawn would fail
        (None, False)])         # not glibc (os.confstr raises): Popen
    def test_posix_spawn_only_where_the_c_library_can_start_a_session(self, monkeypatch,
                                                                      libc, spawns):
        if not sys.platform.startswith("linux"):
            pytest.skip("posix_spawn is used on Linux only")

        def confstr(name):
            if libc is None:
                raise ValueError("unrecognized configuration name")
            return libc

        monkeypatch.setattr(os, "confstr", confstr)
        assert (kala.ProcessSpawner.for_this_system() is not None) is spawns
        assert (kala.CommandRunner().spawner is not None) is spawns

    @pytest.mark.parametrize("spawner", SPAWNERS)
    def test_the_command_runs_in_a_session_of_its_own(self, spawner):
        attempt = command_runner(spawner).run_command("sh -c 'ps -o sid= -p $$; echo $$'")
        session, pid = attempt.output.split()
        assert session == pid and int(session) != os.getsid(0)

    def test_only_the_tail_of_the_output_is_kept_from_a_line_on_and_said(self, run_command):
        attempt = run_command("sh -c 'seq 1 100000'", output_limit=1000)
        marker, *lines = attempt.output.splitlines()
        total = len("".join(f"{i}\n" for i in range(1, 100001)))
        kept = len(attempt.output) - len(marker) - 1
        assert marker == f"[kala.py: {attempt.output_dropped} earlier bytes of output dropped]"
        assert kept + attempt.output_dropped == total and 990 < kept <= 1000
        assert lines == [str(i) for i in range(100001 - len(lines), 100001)]  # whole lines

    def test_output_within_the_limit_is_as_written(self, run_command):
        attempt = run_command("sh -c 'seq 1 10'", output_limit=1000)
        assert attempt.output == "".join(f"{i}\n" for i in range(1, 11))
        assert attempt.output_dropped == 0

    def test_timeout_kills_the_process_group(self, run_command):
        attempt = run_command("sh -c 'sleep 30 & wait'", timeout=0.2)
        assert (attempt.success, attempt.error) == (False, "timed out after 0.2s")

    def test_a_timeout_also_ends_what_the_command_left_running(self, run_command):
        attempt = run_command("sh -c '(sleep 5; echo late) & echo started'", timeout=0.3)
        assert attempt.output == "started\n"  # the background part was killed at 0.3 s

    def test_a_timeout_ends_the_run_whatever_escaped_the_process_group(self, run_command):
        # setsid puts the sleep in a session of its own, out of the group's kill,
        # still holding the output: it is found by its pipe and killed too.
        marker = f"30.{random.randrange(10 ** 6)}"  # 30 s, and a name of its own
        attempt = run_command(f"sh -c 'setsid sleep {marker} & echo started'", timeout=0.3)
        assert (attempt.success, attempt.error, attempt.output) == (
            False, "timed out after 0.3s", "started\n")
        wait_for(lambda: not processes_running(f"sleep\0{marker}"), timeout=5,
                 message="the escaped sleep to be killed")

    def test_a_run_lasts_until_everything_it_started_closed_the_output(self, run_command):
        attempt = run_command("sh -c '(sleep 0.2; echo late) & echo early'")
        assert (attempt.success, attempt.output) == (True, "early\nlate\n")


class TestCommandWatcher:
    """One thread following many commands (Linux: epoll and pidfd)."""

    @pytest.fixture
    def watcher(self):
        if not kala.CommandWatcher.supported():
            pytest.skip("no epoll or pidfd here")
        watcher = kala.CommandWatcher()
        watcher.start()
        yield watcher
        watcher.stop(5.0)

    def test_many_commands_at_once_each_with_its_own_result(self, watcher):
        ended, runner, processes = queue.Queue(), kala.CommandRunner(), []
        for i in range(200):
            processes.append(runner.spawn(f"sh -c 'echo {i}; exit {i % 2}'"))
            watcher.follow(processes[-1], 0.0, lambda attempt, i=i: ended.put((i, attempt)))
        results = dict(ended.get(timeout=30) for _ in range(200))
        assert all(results[i].output == f"{i}\n" and results[i].success == (i % 2 == 0)
                   for i in range(200))
        # Nothing left behind: every pipe closed, every process reaped, no pidfd kept.
        assert all(p.stdout.closed and p.returncode is not None for p in processes)
        assert len(watcher) == 0 and watcher._by_fd == {}

    def test_a_run_ends_at_its_exit_or_its_output_closing_whichever_is_last(self, watcher,
                                                                             tmp_path):
        # The exit is asked for when the output closes; a command still running
        # then has its pidfd watched. Gates are FIFOs the test opens.
        ended, runner = queue.Queue(), kala.CommandRunner()
        exit_gate, output_gate = tmp_path / "exit", tmp_path / "output"
        os.mkfifo(exit_gate)
        os.mkfifo(output_gate)
        watcher.follow(runner.spawn("true"), 0.0, ended.put)  # the spawner's own descriptors
        assert ended.get(timeout=30).success
        descriptors = len(os.listdir("/proc/self/fd"))
        watcher.follow(runner.spawn(f"sh -c 'exec >/dev/null 2>&1; read x < {exit_gate}; "
                                    f"exit 3'"), 0.0, lambda attempt: ended.put(("closed first",
                                                                                 attempt)))
        watcher.follow(runner.spawn(f"sh -c 'echo early; (read x < {output_gate}; echo late) "
                                    f"& exit 0'"), 0.0, lambda attempt: ended.put(("exited first",
                                                                                   attempt)))
        with pytest.raises(queue.Empty):
            ended.get(timeout=0.3)  # neither has both exited and closed its output
        for gate, which in ((exit_gate, "closed first"), (output_gate, "exited first")):
            with open(gate, "w") as opened:
                opened.write("go\n")
            name, attempt = ended.get(timeout=30)
            assert name == which
        assert len(watcher) == 0 and watcher._by_fd == {}
        assert len(os.listdir("/proc/self/fd")) == descriptors  # pipes and pidfds closed

    def test_ends_coming_often_are_gathered_and_a_lone_one_is_not(self):
        # The first end is alone: learnt at once, as is the next (its round comes
        # soon after: the watcher waits only after it). The third is gathered: it
        # waits out the gather time (here a minute), or stop. The first closes its
        # output a while before it exits: that round finishes nothing and is no end
        # (counted as one, it made the next wait: the second end came a minute late).
        if not kala.CommandWatcher.supported():
            pytest.skip("no epoll or pidfd here")
        watcher, ended, runner = kala.CommandWatcher(gather=60.0), queue.Queue(), \
            kala.CommandRunner()
        watcher.start()
        try:
            for command, success in (("sh -c 'exec >&- 2>&-; sleep 0.2'", True),
                                     ("false", False)):
                watcher.follow(runner.spawn(command), 0.0, ended.put)
                assert ended.get(timeout=30).success is success
            watcher.follow(runner.spawn("sh -c 'exit 3'"), 0.0, ended.put)
            with pytest.raises(queue.Empty):
                ended.get(timeout=0.3)
        finally:
            watcher.stop(30.0)
        assert "3" in ended.get_nowait().error  # stop ended the wait

    def test_a_command_writing_fast_is_not_held_by_the_gathering(self):
        # Reading output is no end: a command writing 20 MB is read as fast as it
        # writes, after ends that came often (at a 64 KiB read a gather, 15 s here).
        if not kala.CommandWatcher.supported():
            pytest.skip("no epoll or pidfd here")
        watcher, ended, runner = kala.CommandWatcher(gather=0.05), queue.Queue(), \
            kala.CommandRunner()
        watcher.start()
        try:
            for command in ("true", "false", "head -c 20000000 /dev/zero"):
                watcher.follow(runner.spawn(command), 0.0, ended.put)
                attempt = ended.get(timeout=10)
            assert attempt.success and attempt.output.endswith("\0" * 100)
        finally:
            watcher.stop(30.0)

    def test_a_failing_callback_does_not_stop_the_watcher(self, watcher):
        ended = queue.Queue()
        watcher.follow(kala.CommandRunner().spawn("true"), 0.0, lambda attempt: 1 / 0)
        watcher.follow(kala.CommandRunner().spawn("true"), 0.0, ended.put)
        assert ended.get(timeout=30).success

    def test_stop_waits_for_the_running_commands(self):
        watcher, ended = kala.CommandWatcher(), queue.Queue()
        watcher.start()
        watcher.follow(kala.CommandRunner().spawn("sh -c 'sleep 0.3; echo done'"), 0.0, ended.put)
        watcher.stop(30.0)
        assert ended.get_nowait().output == "done\n"

    def test_stop_gives_up_on_a_command_at_its_deadline(self):
        watcher, ended = kala.CommandWatcher(), queue.Queue()
        watcher.start()
        process = kala.CommandRunner().spawn("sleep 30")
        watcher.follow(process, 0.0, ended.put)
        watcher.stop(0.2)
        try:
            assert ended.empty() and process.poll() is None  # left running, not waited for
        finally:
            kala.kill_group(process)
            process.wait()
            process.stdout.close()


class TestRunAttempts:
    """A claimed run's attempts, made one after another (here without a database)."""

    def test_a_start_whose_lease_lapsed_counts_its_lag_once(self):
        # The start is tried again once the database vouches for the claim; its lag
        # is counted by the attempt that went ahead, not by each try.
        class Runner:
            tries = 0

            def attempt(self, job, environment, cleared):
                self.tries += 1
                if self.tries == 1:
                    raise kala.LeaseLapsed("the lease lapsed right before the fork")
                return kala.Attempt(True, "ran")

        metrics = kala.SchedulerMetrics()
        attempts = kala.RunAttempts(None, "here", Runner(), None, None,
                                    kala.EndableCommands(time.monotonic), metrics,
                                    lambda: T0 + 0.25, threading.Event())
        claim = kala.Claim(1, Job(id="j", name="j", command="true"), "schedule", T0, "j@0")
        with pytest.raises(kala.LeaseLapsed):
            attempts.make(claim, {})
        assert metrics.lag_seconds.count == 0
        assert attempts.make(claim, {}).success
        assert (metrics.lag_seconds.count, metrics.lag_seconds.sum) == (1, 0.25)


class TestForkHelper:
    @staticmethod
    def claims(count):
        return [types.SimpleNamespace(run_id=number, job=types.SimpleNamespace(id="job"))
                for number in range(count)]

    def test_a_batch_starts_from_two_threads_each_claim_once_all_before_it_returns(self):
        helper, started, lock = kala.ForkHelper(), [], threading.Lock()
        both_at_work = threading.Barrier(2, timeout=10)  # broken unless two threads start
        waiting = {0, 1}  # the first claim of each half

        def start(claim):
            if claim.run_id in waiting:
                waiting.discard(claim.run_id)
                both_at_work.wait()
            with lock:
                started.append((claim.run_id, threading.current_thread().name))

        helper.start_all(self.claims(kala.HELP_FROM + 1), start)
        assert sorted(run_id for run_id, _ in started) == list(range(kala.HELP_FROM + 1))
        assert {name for _, name in started} == {threading.current_thread().name, "kala-forks"}
        started.clear()
        helper.start_all(self.claims(kala.HELP_FROM - 1), start)  # a few start here
        assert started == [(n, threading.current_thread().name)
                           for n in range(kala.HELP_FROM - 1)]
        helper.stop(5.0)
        assert not helper._thread.is_alive()

    def test_a_start_that_raises_in_the_helper_does_not_stop_the_others(self, caplog):
        helper, started = kala.ForkHelper(), []

        def start(claim):
            if claim.run_id == 1:
                raise RuntimeError("a bug")
            started.append(claim.run_id)

        helper.start_all(self.claims(kala.HELP_FROM), start)  # 1 goes to the helper
        helper.start_all(self.claims(kala.HELP_FROM), start)
        assert sorted(started) == sorted([n for n in range(kala.HELP_FROM) if n != 1] * 2)
        assert "starting run 1 failed" in caplog.text
        helper.stop(5.0)


class RecordingHTTPServer:
    """A tiny local HTTP server for remote jobs; answers with ``status``."""

    def __init__(self, status=200):
        self.requests = queue.Queue()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.put((self.command, self.path, dict(self.headers),
                                    self.rfile.read(length).decode()))
                body = b"pong"
                self.send_response(outer.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_any

            def log_message(self, *args):
                pass

        self.status = status
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_target():
    target = RecordingHTTPServer()
    yield target
    target.close()


class TestRemoteJobs:
    def remote_job(self, url, **props):
        return job_from_request({"name": "hook", "type": 1, "TemplateDelimiters": "{{ }}",
                                 "remote_properties": {"url": url, **props}}, now=T0)

    def test_request_with_method_body_headers_and_templates(self, http_target):
        job = self.remote_job(http_target.url + "/hook/{{name}}", method="post",
                              body='{"job": "{{id}}"}', headers={"X-Kala": ["yes"]})
        attempt = kala.CommandRunner().attempt(job)
        method, path, headers, body = http_target.requests.get(timeout=5)
        assert attempt.success and attempt.output == "pong"
        assert (method, path, headers["X-Kala"], body) == (
            "POST", "/hook/hook", "yes", f'{{"job": "{job.id}"}}')

    def test_a_lease_lapsed_right_before_the_request_sends_nothing(self, http_target):
        runner = kala.CommandRunner()
        with pytest.raises(kala.LeaseLapsed):
            runner.attempt(self.remote_job(http_target.url + "/early"), cleared=lambda: False)
        assert runner.attempt(self.remote_job(http_target.url + "/late"),
                              cleared=lambda: True).success
        assert http_target.requests.get(timeout=5)[1] == "/late"  # the first never came

    def test_a_remote_failure_job_gets_what_failed_as_template_fields(self, api, http_target):
        handler = api.call("POST", "/api/v1/job/", {
            "name": "alert", "type": 1, "trigger_only": True, "TemplateDelimiters": "{{ }}",
            "remote_properties": {"url": http_target.url + "/alert/{{.FailedRunId}}",
                                  "method": "POST",
                                  "body": "{{failed_job_name}} ({{.FailedJobId}}): {{.FailedError}}"}
        })[1]["id"]
        failing = api.create(name="backup", command="sh -c 'exit 5'", trigger_only=True,
                             on_failure_job=handler)
        api.call("POST", f"/api/v1/job/start/{failing}/")
        method, path, _, body = http_target.requests.get(timeout=10)
        [failed] = api.stats(failing)
        assert (method, path, body) == ("POST", f"/alert/{failed['run_id']}",
                                        f"backup ({failing}): exit status 5")
        # Started by hand, the same job's run fields are empty.
        api.call("POST", f"/api/v1/job/start/{handler}/")
        assert http_target.requests.get(timeout=10)[1:4:2] == ("/alert/", " (): ")

    def test_unexpected_status_fails(self, http_target):
        http_target.status = 500
        attempt = kala.CommandRunner().attempt(self.remote_job(http_target.url))
        assert not attempt.success and "answered 500" in attempt.error

    def test_expected_codes_decide(self, http_target):
        http_target.status = 500
        job = self.remote_job(http_target.url, expected_response_codes=[500])
        assert kala.CommandRunner().attempt(job).success

    def test_the_timeout_bounds_the_whole_request(self):
        # A server that answers a byte every 0.1 s: each read is quick, the whole is not.
        listener = socket.create_server(("127.0.0.1", 0))

        def trickle():
            client, _ = listener.accept()
            with client:
                client.recv(65536)
                client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
                for _ in range(100):
                    try:
                        client.sendall(b"x")
                    except OSError:
                        return  # the request was given up: done
                    time.sleep(0.1)
        server = threading.Thread(target=trickle, daemon=True)
        server.start()
        with listener:
            job = self.remote_job(f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=1)
            attempt = kala.CommandRunner().attempt(job)
        assert not attempt.success and attempt.error.endswith("timed out after 1s")
        server.join(10)
        assert not server.is_alive()

    def test_unreachable(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # closed once the block ends: nothing listens
        attempt = kala.CommandRunner().attempt(self.remote_job(f"http://127.0.0.1:{port}/"))
        assert not attempt.success and "failed" in attempt.error


# =============================================================================
# The scheduler, on a fake clock
# =============================================================================

class ScriptedRunner:
    """Answers attempts from a script, advancing the fake clock for each one."""

    def __init__(self, clock, outcomes, seconds_per_attempt=0.0):
        self.clock, self.outcomes, self.step = clock, list(outcomes), seconds_per_attempt
        self.jobs = []

    def attempt(self, job, environment=None, cleared=None):
        kala.still_cleared(cleared)  # as CommandRunner does right before it forks
        self.jobs.append(job.name)
        self.clock.advance(self.step)
        success = self.outcomes.pop(0) if self.outcomes else True
        return kala.Attempt(success, error="" if success else "exit status 1")


class Harness:
    """A store, a fake clock and a scheduler that runs claims inline. By default it
    claims each occurrence at its time, one at a time (claim_ahead and claim_batch
    0), so that a test steps through one claim per call; serve claims ahead in
    batches (the Scheduler's defaults), and the tests of that mode pass them."""

    def __init__(self, runner=None, path=None, claim_ahead=0.0, claim_batch=0.0, node="test",
                 clock=None):
        self.clock = clock or FakeClock()
        self.database = path
        self.store = open_store(path)
        self.runner = runner or ScriptedRunner(self.clock, [])
        self.scheduler = Scheduler(self.store, self.runner, node=node, clock=self.clock,
                                   monotonic=self.clock, workers=0, claim_ahead=claim_ahead,
                                   claim_batch=claim_batch)

    def hold_node_lock(self):
        """Take the node's lock file (and start ledger) as ``Scheduler.start`` does."""
        self.store.fence.hold(self.scheduler.node)
        return getattr(self.store.fence, "_lock", None)

    def add(self, **fields):
        job = create(self.store, self.clock, **fields)
        self.scheduler.job_changed(job)
        return job

    def run_at(self, when):
        self.clock.now = when
        return self.scheduler.run_due()

    def job(self, job_id):
        return self.store.get_job(job_id)


@pytest.fixture
def harness(database):
    return Harness(path=database)


def claimed_ahead_beside_a_survivor(database, node="victim", runner=None, **fields):
    """A process (``node``, with ``runner``) that claimed a job's run due at T0 + 10
    ahead, and another ("survivor") on the same database and fake clock: (clock, the
    process, survivor, job, its claim)."""
    clock = FakeClock()
    victim = Harness(runner, path=database, node=node, claim_ahead=0.1, clock=clock)
    victim.hold_node_lock()
    survivor = Harness(path=database, node="survivor", clock=clock)
    job = victim.add(schedule=f"R0/{iso(T0 + 10)}/", **fields)
    victim.scheduler.maintain()
    [claim] = victim.run_at(T0 + 9.9)  # claimed ahead
    return clock, victim, survivor, job, claim


class TestScheduler:

    def test_a_timer_wakes_the_timer_thread_only_when_it_comes_first(self):
        """The timer thread sleeps until the earliest timer: a later one (a job created
        for tomorrow) must not wake it, as every creation did."""
        heap, woken = kala.TimerHeap(), []
        heap._changed.notify = lambda n=1: woken.append(n)
        heap.push([kala.Timer("a", T0 + 100, 0)])
        assert len(woken) == 1  # the first: the thread slept without a deadline
        heap.push([kala.Timer("b", T0 + 200, 0), kala.Timer("c", T0 + 150, 0)])
        assert len(woken) == 1
        heap.push([kala.Timer("d", T0 + 300, 0), kala.Timer("e", T0 + 50, 0)])
        assert len(woken) == 2 and heap.pop_due(T0 + 100) == [("e", 0), ("a", 0)]

    def test_timers_are_held_for_what_is_due_within_the_horizon(self, database):
        """A process holds the timers of the occurrences due within TIMER_HORIZON; the
        window moves with the clock and reads the next ones from the database, so a
        job due tomorrow costs no memory today and still runs at its time."""
        harness = Harness(path=database)
        timers = harness.scheduler.timers
        soon = harness.add(schedule=f"R0/{iso(T0 + 60)}/")
        tomorrow = harness.add(schedule=f"R0/{iso(T0 + 86400)}/")
        assert timers.job_ids() == [soon.id]
        other = Harness(path=database, node="other", clock=harness.clock)
        other.scheduler.sync_timers()  # a process's first look reads the window alone
        assert other.scheduler.timers.job_ids() == [soon.id]
        edit = kala.job_from_request({"name": "soon", "command": "true",
                                      "schedule": f"R0/{iso(T0 + 7200)}/"}, now=T0)
        harness.scheduler.job_changed(harness.store.replace_job(
            soon.id, edit, T0, keep_disabled=True, keep_parents=True))
        other.scheduler.sync_timers()
        assert timers.job_ids() == other.scheduler.timers.job_ids() == []  # moved past it
        assert harness.run_at(T0 + 7200 - kala.TIMER_HORIZON / 2) == []
        assert timers.job_ids() == [soon.id]  # the window reached it
        other.scheduler.sync_timers()  # maintenance moves it too (off the timer thread)
        assert other.scheduler.timers.job_ids() == [soon.id]
        assert [c.scheduled_for for c in harness.run_at(T0 + 7200)] == [T0 + 7200]
        assert harness.run_at(T0 + 86400 - 1) == [] and timers.job_ids() == [tomorrow.id]
        assert [(c.job.id, c.scheduled_for) for c in harness.run_at(T0 + 86400)] == [
            (tomorrow.id, T0 + 86400)]

    def test_a_window_that_could_not_be_read_is_read_again(self, harness, monkeypatch):
        """The horizon moves only once the timers before it were read: a read that fails
        (the database away) leaves nothing unread behind it."""
        job = harness.add(schedule=f"R0/{iso(T0 + 3600)}/")
        real, failures = harness.store.timers_due, []

        def away_once(before):
            if not failures:
                failures.append(before)
                raise kala.StoreUnavailable("the database is away")
            return real(before)

        monkeypatch.setattr(harness.store, "timers_due", away_once)
        with pytest.raises(kala.StoreUnavailable):  # the window would reach T0 + 3601
            harness.run_at(T0 + 3600 - kala.TIMER_HORIZON / 2 + 1)
        # Half a window has not passed since the failed read: had the horizon moved,
        # nothing would read the job's timer now.
        assert [(c.job.id, c.scheduled_for) for c in harness.run_at(T0 + 3600)] == [
            (job.id, T0 + 3600)]

    def test_repeats_then_done(self, harness):
        job = harness.add(schedule=f"R2/{iso(T0 + 10)}/PT10S")
        assert harness.run_at(T0 + 9.999) == []
        assert harness.job(job.id).next_run_at == T0 + 10
        for when in (T0 + 10, T0 + 20, T0 + 30):
            assert [c.scheduled_for for c in harness.run_at(when)] == [when]
        assert harness.run_at(T0 + 40) == []
        done = harness.job(job.id)
        assert (done.success_count, done.finished_runs, done.is_done, done.next_run_at) == (
            3, 3, True, None)
        assert len(harness.store.job_stats(job.id)) == 3

    def test_an_occurrence_claimed_ahead_starts_on_time(self, database):
        harness = Harness(path=database, claim_ahead=0.1)
        job = harness.add(schedule=f"R1/{iso(T0 + 10)}/PT1S", epsilon="PT0.01S")
        assert harness.run_at(T0 + 9.85) == []  # not within the lead yet
        assert [c.scheduled_for for c in harness.run_at(T0 + 9.95)] == [T0 + 10]
        assert harness.runner.jobs == [] and harness.job(job.id).cursor == 1  # claimed only
        harness.scheduler.start_due(T0 + 9.999)
        assert harness.runner.jobs == []
        harness.clock.now = T0 + 10
        harness.scheduler.start_due()
        assert harness.runner.jobs == ["job"]
        [stat] = harness.store.job_stats(job.id)
        assert (stat.ran_at, stat.success) == (T0 + 10, True)  # on time: epsilon skips nothing
        assert harness.run_at(T0 + 10.85) == []
        assert [c.scheduled_for for c in harness.run_at(T0 + 10.9)] == [T0 + 11]

    def test_one_claim_takes_what_is_due_within_the_batch_each_starts_on_time(self, database):
        harness = Harness(path=database, claim_ahead=0.1, claim_batch=0.05)
        first = harness.add(name="first", schedule=f"R0/{iso(T0 + 10)}/")
        within = harness.add(name="within", schedule=f"R0/{iso(T0 + 10.05)}/")
        harness.add(name="after", schedule=f"R0/{iso(T0 + 10.06)}/")
        assert [c.job.id for c in harness.run_at(T0 + 9.9)] == [first.id, within.id]
        harness.scheduler.start_due(T0 + 10)
        assert harness.runner.jobs == ["first"]
        harness.scheduler.start_due(T0 + 10.05)
        assert harness.runner.jobs == ["first", "within"]
        assert [c.job.name for c in harness.run_at(T0 + 9.96)] == ["after"]

    def test_a_dead_processs_claim_that_never_started_runs_here_on_time(self, database):
        harness = Harness(path=database)
        job = harness.add(schedule=f"R0/{iso(T0 + 10)}/")
        dead = open_store(database)
        dead.fence.hold("dead")
        [claim], _ = dead.claim_occurrences([(job.id, 0)], T0 + 9.9, "dead", 60, ahead=0.1)
        end_presence(dead)  # killed: the lock is free, the ledger stays
        if isinstance(dead, kala.ServerStore):
            # A free lock on PostgreSQL counts once the rest heartbeat a grace after
            # its last beat (a live node whose session the server ended takes its
            # lock again meanwhile): the takeover comes that much later.
            harness.clock.now = T0 + 9.95
            harness.scheduler.maintain()
            assert harness.runner.jobs == []
            harness.clock.now = T0 + 9.91 + kala.PRESENCE_GRACE
        else:
            harness.clock.now = T0 + 9.95
        harness.scheduler.maintain()
        harness.scheduler.start_due(max(harness.clock.now, T0 + 10))
        assert harness.runner.jobs == ["job"]
        [stat] = harness.store.job_stats(job.id)
        assert (stat.success, stat.node, stat.scheduled_for) == (True, "test", T0 + 10)

    def test_a_late_claim_of_a_process_killed_before_starting_it_runs_elsewhere(self, database):
        victim = Harness(path=database, node="victim")
        lock = victim.hold_node_lock()
        job = victim.add(schedule=f"R0/{iso(T0 + 10)}/")
        victim.scheduler.starter.start_due = lambda now=None: None  # killed after the claim
        [claim] = victim.run_at(T0 + 12)  # claimed 2 s late
        end_presence(victim.store)  # the kill frees the lock; the ledger stays
        survivor = Harness(path=database, node="survivor", clock=victim.clock)
        if isinstance(victim.store, kala.ServerStore):
            victim.clock.advance(kala.PRESENCE_GRACE / 2)
            survivor.scheduler.maintain()  # the victim's lock is free, but not for long
            assert survivor.runner.jobs == []
            victim.clock.advance(kala.PRESENCE_GRACE / 2 + 0.01)
        survivor.scheduler.maintain()
        assert survivor.runner.jobs == ["job"]
        [stat] = survivor.store.job_stats(job.id)
        assert (stat.success, stat.node, stat.scheduled_for) == (True, "survivor", T0 + 10)

    @pytest.mark.parametrize("taken_over", [True, False], ids=["taken over", "not yet"])
    def test_a_paused_process_starts_only_what_it_still_owns(self, database, taken_over):
        clock, paused, survivor, job, claim = claimed_ahead_beside_a_survivor(database,
                                                                              "paused")
        clock.now = T0 + 30  # SIGSTOP after its claim, until now
        if taken_over:
            survivor.scheduler.maintain()  # the paused one's lease ran out
            assert survivor.runner.jobs == ["job"]
        paused.scheduler.start_due()  # SIGCONT: the starter wakes first
        assert paused.runner.jobs == ([] if taken_over else ["job"])
        [stat] = paused.store.job_stats(job.id)
        assert (stat.success, stat.node, stat.error) == (
            True, "survivor" if taken_over else "paused", "")

    def test_a_process_whose_presence_was_ended_forks_nothing_a_survivor_failed(
            self, database, monkeypatch):
        """A session the server ended frees a live process's presence lock, and after
        PRESENCE_GRACE of silence another process takes it for dead: the runs it had
        marked started are failed 'node died'. It must not fork them afterwards, though
        half its lease has not gone by (seen under load: a forbid job's runs overlapped)."""
        if database.endswith(".db"):
            pytest.skip("SQLite's presence is a flock, which only a process's death frees")
        clock, victim, survivor, job, _ = claimed_ahead_beside_a_survivor(database)
        victim.store._presence.drop()  # the server ended its session: its lock is free
        lease, may_fork = victim.scheduler.fencing, victim.scheduler.fencing.may_fork

        def survivor_first(claim):  # between the start mark and the fork
            assert claim.start_marked
            clock.advance(kala.PRESENCE_GRACE + 0.05)
            survivor.scheduler.maintain()
            survivor.scheduler.maintain()  # (a reaper silent itself judges nobody)
            return may_fork(claim)

        monkeypatch.setattr(lease, "may_fork", survivor_first)
        clock.now = T0 + 10
        victim.scheduler.start_due()
        assert victim.runner.jobs == [] and clock.now - T0 - 9.9 < kala.NODE_LEASE / 2
        [stat] = victim.store.job_stats(job.id)
        assert (stat.node, stat.error) == ("victim", kala.NODE_DIED)

    def test_a_process_that_beat_while_its_reaper_waited_is_not_reaped(
            self, database, monkeypatch):
        """The fence finds a process dead (its presence lock free, silent for the grace)
        before the reaper's transaction has the writers' turn; the process, held up in
        the same queue, gets through first, confirms its run and forks it. The reaper
        looks again in its transaction: a process that beat since is alive, and its
        run is not recorded 'node died' (a MySQL chaos run saw such runs beside the
        next run of their forbid job)."""
        if database.endswith(".db"):
            pytest.skip("SQLite's presence is a flock, which only a process's death frees")
        clock, victim, survivor, job, _ = claimed_ahead_beside_a_survivor(database)
        victim.store._presence.drop()  # the server ended its session: its lock is free
        clock.now = T0 + 10 + kala.PRESENCE_GRACE
        survivor.scheduler.maintain()  # (a reaper silent itself judges nobody)
        reap, found = survivor.store.reap_nodes, []

        def victim_first(dead, *rest):
            found.append(list(dead))
            victim.scheduler.start_due()  # asks the database (silent past trust), forks
            return reap(dead, *rest)

        monkeypatch.setattr(survivor.store, "reap_nodes", victim_first)
        survivor.scheduler.maintain()
        assert found == [["victim"]] and victim.runner.jobs == [job.name]
        assert query_database(database, "SELECT id FROM nodes ORDER BY id") == [
            ("survivor",), ("victim",)]
        assert victim.store.flush(10.0)
        [stat] = victim.store.job_stats(job.id)
        assert (stat.node, stat.success, stat.error) == ("victim", True, "")

    def test_a_confirmation_that_came_back_late_is_asked_again(self, database, monkeypatch):
        """A process silent past its trust asks the database before it forks; when the
        answer comes back later than a lease after the question (it waited in the
        writers' queue), the heartbeat the question wrote is that old, and a survivor
        may have failed the run meanwhile: the answer is not trusted, and the question
        asked again (a chaos run saw the run forked, recorded 'node died', and the
        next run of its forbid job started beside it)."""
        clock, victim, survivor, job, _ = claimed_ahead_beside_a_survivor(database)
        survivor.scheduler.maintain()  # then the victim is silent past its trust
        clock.now = T0 + 10 + kala.NODE_LEASE / 2
        confirm, asked = victim.store.confirm_claims, []

        def answered_late(run_ids, node, now):
            asked.append(now)
            owned = confirm(run_ids, node, now)
            if len(asked) == 1:  # the answer comes back a lease later
                clock.advance(kala.NODE_LEASE + 0.5)
                survivor.scheduler.maintain()
                survivor.scheduler.maintain()  # (a reaper silent itself judges nobody)
            return owned

        monkeypatch.setattr(victim.store, "confirm_claims", answered_late)
        victim.scheduler.start_due()
        assert victim.runner.jobs == [] and len(asked) == 2
        [stat] = victim.store.job_stats(job.id)
        assert (stat.node, stat.error) == ("victim", kala.NODE_DIED)

    def test_a_heartbeat_held_in_the_writers_queue_is_stamped_when_written(
            self, database, monkeypatch):
        """A heartbeat that waited for the writers' turn longer than a lease (another
        writer stopped in its turn) carries the time it was written: a survivor
        looking right after does not take the process for dead and fail its run."""
        clock, victim, survivor, job, _ = claimed_ahead_beside_a_survivor(database)
        survivor.scheduler.maintain()
        clock.now = T0 + 10 + kala.NODE_LEASE / 2  # silent past its trust: it asks first
        register, confirm, held = victim.store._register, victim.store.confirm_claims, []

        def held_in_the_queue(db, node, now):
            if not held:  # the question's turn came a lease after it was asked
                held.append(clock.advance(kala.NODE_LEASE + 0.5))
            return register(db, node, now)

        def survivor_looks_right_after(*args):
            owned = confirm(*args)
            if len(held) == 1:
                held.append("looked")
                survivor.scheduler.maintain()
                survivor.scheduler.maintain()  # (a reaper silent itself judges nobody)
            return owned

        monkeypatch.setattr(victim.store, "_register", held_in_the_queue)
        monkeypatch.setattr(victim.store, "confirm_claims", survivor_looks_right_after)
        victim.scheduler.start_due()  # the late answer is asked again: still its own
        assert query_database(database, "SELECT id FROM nodes ORDER BY id") == [
            ("survivor",), ("victim",)]
        assert victim.runner.jobs == [job.name]
        assert [(stat.node, stat.error) for stat in victim.store.job_stats(job.id)] == [
            ("victim", "")]

    @pytest.mark.parametrize("watched", [True, False], ids=["watcher", "a worker"])
    def test_a_pause_between_the_lease_check_and_the_fork_stops_the_fork(
            self, database, tmp_path, monkeypatch, watched):
        """The lease is asked once more right before the fork: a process paused after
        ``may_fork`` let a run start, until a survivor recorded that run 'node died',
        does not fork it when it goes on (a chaos run saw one forked 3 ms after a
        4.6 s SIGSTOP, beside the survivor's next run of its forbid job). It waits a
        second, asks the database, and learns the run is no longer its own."""
        marker = tmp_path / "ran"
        clock, victim, survivor, job, _ = claimed_ahead_beside_a_survivor(
            database, runner=kala.CommandRunner(), command=f"touch {marker}")
        survivor.scheduler.maintain()
        if watched:  # as serve starts commands: the starter forks, the watcher follows
            victim.scheduler.starter.follower = kala.CommandWatcher()
            victim.scheduler.starter.follower.start()
        spawn = victim.runner.spawn

        def paused_a_lease_first(*args):
            clock.advance(kala.NODE_LEASE + 0.5)
            survivor.scheduler.maintain()
            survivor.scheduler.maintain()  # (a reaper silent itself judges nobody)
            return spawn(*args)

        monkeypatch.setattr(victim.runner, "spawn", paused_a_lease_first)
        clock.now = T0 + 10
        victim.scheduler.start_due()  # claimed in this generation: the start goes ahead
        [stat] = victim.store.job_stats(job.id)
        assert (stat.node, stat.error) == ("victim", kala.NODE_DIED)
        monkeypatch.setattr(victim.runner, "spawn", spawn)
        clock.advance(1.0)
        victim.scheduler.start_due()  # a second later it asks, and is told no
        if watched:
            victim.scheduler.starter.follower.stop(5.0)
        assert not marker.exists() and len(victim.store.job_stats(job.id)) == 1

    def test_a_run_whose_confirmations_all_come_back_late_waits_a_second(
            self, database, monkeypatch, caplog):
        harness = Harness(path=database, claim_ahead=0.1)
        harness.hold_node_lock()
        job = harness.add(schedule=f"R0/{iso(T0 + 10)}/")
        harness.scheduler.maintain()
        [claim] = harness.run_at(T0 + 9.9)  # claimed ahead
        confirm, lease = harness.store.confirm_claims, harness.scheduler.fencing
        harness.clock.now = T0 + 10 + lease.trust + 1  # silent past trust: it asks

        def always_late(*args):
            harness.clock.advance(lease.trust + 0.1)
            return confirm(*args)

        monkeypatch.setattr(harness.store, "confirm_claims", always_late)
        harness.scheduler.start_due()
        assert harness.runner.jobs == []
        assert f"confirmed run {claim.run_id} too late {kala.MAY_FORK_ASKS} times" in caplog.text
        monkeypatch.setattr(harness.store, "confirm_claims", confirm)
        harness.clock.advance(1.0)
        harness.scheduler.start_due()  # a second later, answered in time: it starts
        assert harness.runner.jobs == [job.name]

    def test_a_paused_process_confirms_its_claims_together(self, database, monkeypatch):
        """After a silence (here 20 s) the claims about to start are confirmed in one
        round trip, not one each: a process behind would otherwise fall further behind."""
        clock = FakeClock()
        paused = Harness(path=database, node="paused", claim_ahead=0.1, clock=clock)
        paused.hold_node_lock()
        for i in range(3):
            paused.add(name=f"j{i}", schedule=f"R0/{iso(T0 + 10)}/")
        paused.scheduler.maintain()
        claims = paused.run_at(T0 + 9.9)  # claimed ahead, then SIGSTOP until T0 + 30
        clock.now = T0 + 30
        asked = []
        confirm = paused.store.confirm_claims
        monkeypatch.setattr(paused.store, "confirm_claims",
                            lambda run_ids, *rest: asked.append(sorted(run_ids)) or
                            confirm(run_ids, *rest))
        paused.scheduler.start_due()  # SIGCONT: the starter wakes first
        assert asked == [sorted(claim.run_id for claim in claims)] and len(claims) == 3
        assert sorted(paused.runner.jobs) == ["j0", "j1", "j2"]

    def test_a_process_whose_starter_is_behind_leaves_due_occurrences_to_others(
            self, harness, caplog):
        caplog.set_level(logging.INFO, logger="kala")
        job = harness.add(schedule=f"R0/{iso(T0 + 10)}/")
        timing, starts = harness.scheduler.timing, harness.scheduler.starts
        starts.push([types.SimpleNamespace(start_time=T0 + 8.9, start_marked=True)])
        timing.live_nodes = ["test", "other"]
        assert harness.run_at(T0 + 10) == []  # a run waits since T0 + 8.9: over LEAVE_LAG
        assert "leaving the occurrences coming due to the other processes" in caplog.text
        starts.pop_due(T0 + 10)
        starts.push([types.SimpleNamespace(start_time=T0 + 9.4, start_marked=True)])
        assert harness.run_at(T0 + 10.1) == []  # 0.7 s behind: not yet half a LEAVE_LAG
        starts.pop_due(T0 + 10.1)  # it has caught up, and no other claimed the occurrence
        [claim] = harness.run_at(T0 + 10.2)
        assert claim.job.id == job.id and not timing.holding
        assert "the starter has caught up: claiming occurrences again" in caplog.text

    def test_a_process_alone_whose_starter_is_behind_holds_its_claims_back(
            self, harness, caplog):
        """Claimed anyway, what it cannot start piled up in its queue without end (4 MB
        a second under overload); held back, the occurrences wait, and those more than
        the late grace late when claimed are missed, as after downtime."""
        caplog.set_level(logging.INFO, logger="kala")
        job = harness.add(schedule=f"R/{iso(T0 + 10)}/PT1S")
        starts = harness.scheduler.starts
        starts.push([types.SimpleNamespace(start_time=T0 + 8.9, start_marked=True)])
        assert harness.run_at(T0 + 10) == []
        assert ("the starter is 1.1 s behind: claiming no occurrences until it catches up "
                "(those then more than 60 s late are missed)") in caplog.text
        starts.pop_due(T0 + 10)  # the starter caught up, 70 s later
        [claim] = harness.run_at(T0 + 80)
        assert (claim.job.id, claim.scheduled_for) == (job.id, T0 + 80)  # the latest, once

    def test_claims_out_of_the_queue_waiting_for_a_slot_count_as_behind(self, harness):
        """A takeover of thousands of runs leaves the queue at once, into the starter's
        hands, where they wait for slots: that is behind too."""
        harness.hold_node_lock()
        job = harness.add(schedule=f"R0/{iso(T0 + 3600)}/")
        scheduler, starter = harness.scheduler, harness.scheduler.starter
        scheduler.timing.live_nodes = ["test", "other"]
        claim = harness.store.claim_run(job.id, "k", "manual", "test", T0 + 8.9)
        starter.slots.acquire()  # the only slot is taken by a run going on
        harness.scheduler.starts.push([claim])
        harness.clock.now = T0 + 10
        waiting = threading.Thread(target=scheduler.start_due)
        waiting.start()
        try:
            wait_for(lambda: not scheduler.starts, message="the claim to leave the queue")
            assert starter.behind_since() == T0 + 8.9
            assert scheduler.timing.hold_claims(T0 + 10)
            assert "the starter is 1.1 s behind" in scheduler.readiness()
        finally:
            starter.slots.release()
            waiting.join(10)
        assert harness.runner.jobs == ["job"] and starter.behind_since() is None

    def test_a_job_without_schedule_runs_at_once_and_only_once(self, harness):
        job = harness.add()
        assert len(harness.run_at(T0)) == 1
        assert harness.run_at(T0 + 100) == []
        assert harness.job(job.id).is_done

    def test_occurrences_never_drift_with_slow_runs(self, database):
        harness = Harness(path=database)
        harness.runner.step = 3.0  # each run takes 3 s of fake time
        job = harness.add(schedule=f"R/{iso(T0 + 10)}/PT10S")
        scheduled = []
        for when in (T0 + 10, T0 + 20, T0 + 30):
            scheduled += [c.scheduled_for for c in harness.run_at(when)]
        assert scheduled == [T0 + 10, T0 + 20, T0 + 30]
        assert harness.job(job.id).next_run_at == T0 + 40

    @pytest.mark.parametrize("fields, waits", [
        ({"retry_delay": "PT10S"}, [10, 10, 10]),
        ({"retry_delay": "PT10S", "retry_backoff": 2}, [10, 20, 40]),
        ({"retry_delay": "PT10S", "retry_backoff": 3, "retry_delay_max": "PT1M"}, [10, 30, 60]),
        ({}, [0, 0, 0]),
    ])
    def test_the_wait_before_each_retry(self, fields, waits):
        job = job_from_request({"name": "j", "command": "true", "retries": 3, **fields}, now=T0)
        assert [job.retry_wait(failures) for failures in (1, 2, 3)] == waits

    def test_a_retry_waits_its_delay_as_a_queued_claim(self, database):
        harness = Harness(path=database)
        harness.runner.outcomes = [False, False, True]
        job = harness.add(retries=3, retry_delay="PT10S", retry_backoff=2)
        harness.run_at(T0)
        assert harness.runner.jobs == ["job"] and len(harness.scheduler.starts) == 1
        for now, attempts in ((T0 + 9.9, 1), (T0 + 10, 2), (T0 + 29.9, 2), (T0 + 30, 3)):
            harness.clock.now = now
            harness.scheduler.start_due(now)
            assert len(harness.runner.jobs) == attempts, now
        stored = harness.job(job.id)
        assert (stored.success_count, stored.error_count) == (1, 2)
        [stat] = harness.store.job_stats(job.id)
        assert (stat.success, stat.retries, stat.ran_at) == (True, 2, T0)

    def test_a_waiting_retry_still_ends_at_epsilon(self, database):
        harness = Harness(path=database)
        harness.runner.outcomes = [False] * 5
        job = harness.add(retries=4, retry_delay="PT10S", epsilon="PT15S")
        harness.run_at(T0)
        harness.clock.now = T0 + 10
        harness.scheduler.start_due(T0 + 10)  # the second attempt; a third at +20 is too late
        assert harness.runner.jobs == ["job", "job"] and len(harness.scheduler.starts) == 0
        [stat] = harness.store.job_stats(job.id)
        assert (stat.success, stat.retries) == (False, 1)
        assert harness.job(job.id).error_count == 2

    def test_retries_count_each_failed_attempt(self, database):
        harness = Harness(path=database)
        harness.runner.outcomes = [False, False, True]
        job = harness.add(retries=3)
        harness.run_at(T0)
        stored = harness.job(job.id)
        assert (stored.success_count, stored.error_count) == (1, 2)
        [stat] = harness.store.job_stats(job.id)
        assert (stat.success, stat.retries) == (True, 2)

    def test_retries_run_out(self, database):
        harness = Harness(path=database)
        harness.runner.outcomes = [False] * 10
        job = harness.add(retries=2)
        harness.run_at(T0)
        assert harness.runner.jobs == ["job"] * 3
        stored = harness.job(job.id)
        assert (stored.success_count, stored.error_count, stored.last_error) == (0, 3, T0)
        [stat] = harness.store.job_stats(job.id)
        assert (stat.success, stat.retries, stat.error) == (False, 2, "exit status 1")

    def test_retries_stop_past_epsilon(self, database):
        harness = Harness(path=database)
        harness.runner.outcomes, harness.runner.step = [False] * 10, 3.0
        job = harness.add(retries=10, epsilon="PT5S")
        harness.run_at(T0)
        # attempt at +0 fails (now +3, within 5 s), attempt at +3 fails (now +6): stop.
        assert harness.runner.jobs == ["job", "job"]
        assert harness.job(job.id).error_count == 2

    def test_disabled_jobs_do_not_run_and_resume_at_the_next_occurrence(self, harness):
        job = harness.add(schedule=f"R/{iso(T0 + 10)}/PT10S")
        harness.store.set_disabled(job.id, True, T0)
        assert harness.run_at(T0 + 10) == []
        harness.clock.now = T0 + 35
        harness.scheduler.job_changed(harness.store.set_disabled(job.id, False, T0 + 35))
        assert harness.job(job.id).next_run_at == T0 + 40
        assert harness.run_at(T0 + 39) == []
        assert [c.scheduled_for for c in harness.run_at(T0 + 40)] == [T0 + 40]

    def test_deleted_jobs_leave_only_stale_timers(self, harness):
        job = harness.add(schedule=f"R/{iso(T0 + 10)}/PT10S")
        harness.store.delete_job(job.id, T0)
        assert harness.run_at(T0 + 10) == []
        assert len(harness.scheduler.timers) == 0

    def test_manual_start_runs_now_and_keeps_the_schedule(self, harness):
        job = harness.add(schedule=f"R1/{iso(T0 + 10)}/PT10S")
        result = harness.scheduler.start_job(job.id)
        assert result.success
        stored = harness.job(job.id)
        assert (stored.success_count, stored.cursor, stored.last_attempted_run) == (1, 0, T0)
        assert len(harness.run_at(T0 + 10)) == 1
        with pytest.raises(JobNotFound):
            harness.scheduler.start_job("nope")

    def test_downtime_runs_a_missed_occurrence_once(self, database):
        before = Harness(path=database)
        job = before.add(schedule=f"R/{iso(T0 + 10)}/PT10S")
        after = Harness(path=database)  # a restart: timers come from the database
        after.scheduler.sync_timers()
        claims = after.run_at(T0 + 65)
        assert [c.scheduled_for for c in claims] == [T0 + 60]
        assert after.job(job.id).next_run_at == T0 + 70
        assert after.run_at(T0 + 66) == []

    def test_downtime_with_resume_at_next_scheduled_time(self, database):
        before = Harness(path=database)
        job = before.add(schedule=f"R/{iso(T0 + 10)}/PT10S", resume_at_next_scheduled_time=True)
        after = Harness(path=database)
        after.scheduler.sync_timers()
        assert after.run_at(T0 + 65) == []
        assert after.job(job.id).next_run_at == T0 + 70
        assert len(after.run_at(T0 + 70)) == 1

    def test_a_hung_process_is_reaped_after_its_lease(self, harness):
        job = harness.add(schedule=f"R0/{iso(T0 + 3600)}/")
        hung = open_store(harness.database)
        hung.fence.hold("hung")  # alive, and silent
        start_run(hung, job.id, "k", "hung", T0)
        harness.clock.now = T0 + 5
        harness.scheduler.maintain()
        assert harness.store.job_stats(job.id) == []
        harness.clock.now = T0 + kala.NODE_LEASE + 1
        harness.scheduler.maintain()
        assert [s.error for s in harness.store.job_stats(job.id)] == [kala.NODE_DIED]

    def test_a_stepped_wall_clock_does_not_make_live_processes_look_hung(self, database):
        wall, steady = FakeClock(), FakeClock(1000.0)
        store = open_store(database)
        scheduler = Scheduler(store, node="me", clock=wall, monotonic=steady, workers=0,
                              claim_ahead=0.0, claim_batch=0.0)  # one claim per run_due
        job = create(store)
        other = open_store(database)
        other.fence.hold("other")
        start_run(other, job.id, "k", "other", T0)  # other heartbeats at T0
        scheduler.maintain()
        wall.advance(3600)   # NTP steps the wall clock an hour ahead...
        steady.advance(0.5)  # ...while only half a second passed
        scheduler.maintain()
        assert store.job_stats(job.id) == []  # "other" is not taken for dead
        wall.advance(kala.NODE_LEASE + 1)  # but a lease later, still silent, it is
        steady.advance(kala.NODE_LEASE + 1)
        scheduler.maintain()
        assert [s.error for s in store.job_stats(job.id)] == [kala.NODE_DIED]

    def test_jobstat_ttl_prunes_on_maintenance(self, harness):
        harness.scheduler.jobstat_ttl = 60
        job = harness.add()
        harness.run_at(T0)
        harness.scheduler.maintain(T0 + 30)
        assert len(harness.store.job_stats(job.id)) == 1
        harness.scheduler.maintain(T0 + 61)
        assert harness.store.job_stats(job.id) == []

    def test_many_starts_due_at_once_are_marked_a_batch_at_a_time(self, database, monkeypatch):
        """A process behind (or a burst) marks MARK_BATCH starts together, not all its free
        slots: a kill while it forks them leaves fewer marked and not started."""
        harness = Harness(path=database, claim_ahead=0.1, claim_batch=0.1)
        harness.scheduler.starter.slots = threading.Semaphore(64)
        for number in range(40):
            harness.add(name=f"j{number}", schedule=f"R0/{iso(T0 + 10)}/")
        assert len(harness.run_at(T0 + 9.9)) == 40
        marks, real = [], harness.store.fence.starting
        monkeypatch.setattr(harness.store.fence, "starting",
                            lambda ids, *args: marks.append(len(ids)) or real(ids, *args))
        harness.scheduler.start_due(T0 + 10 - harness.store.fence.mark_ahead)
        harness.scheduler.start_due(T0 + 10)
        assert sorted(harness.runner.jobs) == sorted(f"j{number}" for number in range(40))
        assert marks == [16, 16, 8] == [min(kala.MARK_BATCH, 40 - done) for done in (0, 16, 32)]

    def test_start_returns_before_the_first_maintenance_which_runs_in_its_thread(
            self, database, monkeypatch):
        """A process that takes thousands of runs over from a dead one listens while it
        does: the first maintenance (timers read, the dead reaped) is no longer done
        before the server listens."""
        store = open_store(database)
        job = create(store, time.time, schedule=f"R/{iso(time.time() + 300)}/PT1H")
        scheduler, gate, maintained = Scheduler(store, workers=2), threading.Event(), []
        real = scheduler.maintain

        def maintain(now=None):
            gate.wait(10)
            maintained.append(threading.current_thread().name)
            real(now)

        monkeypatch.setattr(scheduler, "maintain", maintain)
        scheduler.start()
        try:
            assert maintained == [] and scheduler.timers.job_ids() == []
            gate.set()
            wait_for(lambda: scheduler.timers.job_ids() == [job.id],
                     message="the first maintenance to time the job")
            assert maintained[0] == "kala-maintenance"
        finally:
            gate.set()
            scheduler.stop(5.0)

    @at_once()
    def test_stop_waits_at_most_its_timeout_in_all(self, database):
        # A command that runs on (the watcher waits for it) and a remote job that
        # hangs (a worker waits for it): the two waits share one deadline.
        listener = socket.create_server(("127.0.0.1", 0))
        store, marker = open_store(database), f"30.{random.randrange(10 ** 6)}"
        scheduler = Scheduler(store, workers=4)
        scheduler.start()
        try:
            create(store, time.time, command=f"sleep {marker}")
            create(store, time.time, type=1, remote_properties={
                "url": f"http://127.0.0.1:{listener.getsockname()[1]}/", "timeout": 60})
            scheduler.sync_timers()
            wait_for(lambda: store.app_counts().last_attempted_run is not None
                     and len(scheduler.follower) == 1, message="both runs to start")
            connection, _ = listener.accept()  # and never answered
            began = time.monotonic()
            scheduler.stop(2.0)
            assert time.monotonic() - began < 3.5  # each wait alone would take 2 s
            connection.close()
        finally:
            listener.close()
            for pid in processes_running(f"sleep\0{marker}"):  # stop left it running
                os.kill(pid, signal.SIGKILL)

    @at_once()
    def test_stopping_still_starts_what_was_claimed_ahead(self, database):
        store, started = open_store(database), threading.Event()

        class Runner:
            def attempt(self, job, environment=None, cleared=None):
                started.set()
                return kala.Attempt(True)

        scheduler = Scheduler(store, Runner(), node="t", workers=2, claim_ahead=1.0)
        job = create(store, time.time, schedule=f"R0/{iso(time.time() + 0.5)}/")
        scheduler.start()
        wait_for(lambda: store.get_job(job.id).is_done, message="the claim")
        scheduler.stop()
        assert started.is_set() and store.job_stats(job.id)[0].success

    @pytest.mark.parametrize("watched", [True, False], ids=["watcher", "a thread each"])
    @at_once()
    def test_real_commands_with_retries_and_a_failure_job(self, database, tmp_path, monkeypatch, watched):
        if not watched:  # as where there is no epoll or pidfd
            monkeypatch.setattr(kala.CommandWatcher, "supported", staticmethod(lambda: False))
        store, marker = open_store(database), tmp_path / "tried"
        scheduler = Scheduler(store, kala.CommandRunner(), node="t", workers=4)
        handler = create(store, time.time, name="handler", command="echo handled",
                         schedule=f"R0/{iso(time.time() + 3600)}/")
        flaky = create(store, time.time, name="flaky", retries=1,
                       command=f"sh -c 'test -e {marker} || {{ touch {marker}; exit 1; }}'")
        failing = create(store, time.time, name="failing", command="sh -c 'echo no; exit 2'",
                         on_failure_job=handler.id)
        scheduler.start()
        try:
            expected = (kala.CommandWatcher if watched and kala.CommandWatcher.supported()
                        else kala.CommandThreads)
            assert type(scheduler.follower) is expected
            wait_for(lambda: store.job_stats(handler.id) and store.job_stats(flaky.id),
                     message="the runs")
        finally:
            scheduler.stop()
        [flaky_run] = store.job_stats(flaky.id)
        assert (flaky_run.success, flaky_run.retries) == (True, 1)
        [failed] = store.job_stats(failing.id)
        assert (failed.success, failed.error, failed.output) == (False, "exit status 2", "no\n")
        [handled] = store.job_stats(handler.id)
        assert (handled.trigger, handled.output, handled.success) == ("failure", "handled\n", True)
        assert store.get_job(flaky.id).error_count == 1

    @at_once()
    def test_workers_bound_how_many_commands_run_at_once(self, database, tmp_path):
        store, running, seen = open_store(database), tmp_path / "running", tmp_path / "seen"
        running.mkdir()
        seen.mkdir()
        # Each run notes how many runs it sees going, itself included.
        command = (f"sh -c 'touch {running}/$KALA_RUN_ID; ls {running} | wc -l > "
                   f"{seen}/$KALA_RUN_ID; sleep 0.1; rm {running}/$KALA_RUN_ID'")
        at = time.time() + 0.5
        jobs = [create(store, time.time, name=f"j{i}", command=command, schedule=f"R0/{iso(at)}/")
                for i in range(8)]
        scheduler = Scheduler(store, kala.CommandRunner(), node="t", workers=2)
        scheduler.start()
        try:
            wait_for(lambda: all(store.job_stats(job.id) for job in jobs), message="the runs")
        finally:
            scheduler.stop()
        assert all(store.job_stats(job.id)[0].success for job in jobs)
        counts = [int(path.read_text()) for path in seen.iterdir()]
        assert len(counts) == 8 and max(counts) <= 2


class TestDependentJobs:
    def family(self, harness):
        """parent -> a -> a1, parent -> b; each records its name when it runs."""
        parent = harness.add(name="parent", schedule=f"R/{iso(T0 + 10)}/PT10S")
        a = harness.add(name="a", parent_jobs=[parent.id])
        a1 = harness.add(name="a1", parent_jobs=[a.id])
        b = harness.add(name="b", parent_jobs=[parent.id])
        return parent, a, a1, b

    def test_children_run_first_in_first_out_depth_first(self, harness):
        self.family(harness)
        harness.run_at(T0 + 10)
        assert harness.runner.jobs == ["parent", "a", "a1", "b"]

    def test_children_have_no_timer_of_their_own(self, harness):
        parent, a, a1, b = self.family(harness)
        assert harness.run_at(T0) == []
        assert harness.job(a.id).next_run_at is None
        assert [c.job.name for c in harness.run_at(T0 + 10)] == ["parent"]

    def test_a_failed_parent_runs_no_child(self, harness):
        self.family(harness)
        harness.runner.outcomes = [False]
        harness.run_at(T0 + 10)
        assert harness.runner.jobs == ["parent"]

    def test_a_failed_child_stops_its_own_children_only(self, harness):
        self.family(harness)
        harness.runner.outcomes = [True, False]
        harness.run_at(T0 + 10)
        assert harness.runner.jobs == ["parent", "a", "b"]

    def test_a_disabled_child_is_skipped_but_its_parent_runs(self, harness):
        parent, a, a1, b = self.family(harness)
        harness.store.set_disabled(a.id, True, T0)
        harness.run_at(T0 + 10)
        assert harness.runner.jobs == ["parent", "b"]

    def test_a_child_runs_after_each_parent(self, harness):
        first = harness.add(name="first")
        second = harness.add(name="second")
        child = harness.add(name="child", parent_jobs=[first.id, second.id])
        harness.run_at(T0)
        assert harness.runner.jobs == ["first", "child", "second", "child"]
        assert [s.trigger for s in harness.store.job_stats(child.id)] == ["parent", "parent"]

    def test_on_failure_job_runs_once_after_the_final_attempt(self, harness):
        handler = harness.add(name="handler", schedule=f"R0/{iso(T0 + 3600)}/")
        harness.runner.outcomes = [False, False]
        harness.add(name="flaky", retries=1, on_failure_job=handler.id)
        harness.run_at(T0)
        assert harness.runner.jobs == ["flaky", "flaky", "handler"]
        assert [s.trigger for s in harness.store.job_stats(handler.id)] == ["failure"]


# =============================================================================
# The HTTP API, over real sockets
# =============================================================================

class Client:
    """Minimal JSON client for the API; one connection per request unless kept.
    ``headers`` go with every request (a token); ``tls`` is an ssl context for HTTPS."""

    def __init__(self, port, headers=None, tls=None):
        self.port = port
        self.headers = headers or {}
        self.tls = tls

    def connect(self, timeout=30):
        if self.tls is not None:
            return http.client.HTTPSConnection("localhost", self.port, timeout=timeout,
                                               context=self.tls)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def call(self, method, path, body=None, headers=None, raw=None):
        conn = self.connect()
        try:
            data = raw if raw is not None else (None if body is None else json.dumps(body))
            conn.request(method, path, body=data, headers={**self.headers, **(headers or {})})
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        content = json.loads(payload) if payload and response.getheader(
            "Content-Type", "").startswith("application/json") else payload
        return response.status, content, response

    def create(self, **fields):
        fields.setdefault("name", "job")
        fields.setdefault("command", "true")
        status, body, _ = self.call("POST", "/api/v1/job/", fields)
        assert status == 201, body
        return body["id"]

    def job(self, job_id):
        status, body, _ = self.call("GET", f"/api/v1/job/{job_id}/")
        assert status == 200, body
        return body["job"]

    def jobs(self):
        return self.call("GET", "/api/v1/job/")[1]["jobs"]

    def stats(self, job_id):
        return self.call("GET", f"/api/v1/job/stats/{job_id}/")[1]["job_stats"]


@contextlib.contextmanager
def server_in_thread(store=None, **options):
    """A KalaServer over a store (in memory by default), serving from a thread; yields
    the server."""
    store = store or Store()
    scheduler = Scheduler(store, workers=4)
    server = kala.KalaServer(("127.0.0.1", 0), kala.KalaApp(store, scheduler), **options)
    scheduler.start()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        scheduler.stop()
        thread.join()
        store.close()


@pytest.fixture
def memory_api():
    """The API over a store in memory, for what does not depend on the store (a request
    refused before it reaches one)."""
    with server_in_thread(Store()) as server:
        client = Client(server.server_address[1])
        client.scheduler = server.app.scheduler
        yield client


@pytest.fixture
def api(database):
    with server_in_thread(open_store(database)) as server:
        client = Client(server.server_address[1])
        client.scheduler = server.app.scheduler  # for the tests that tune it
        yield client


class TestApi:
    def test_empty_list(self, api):
        assert api.call("GET", "/api/v1/job/")[:2] == (200, {"jobs": {}})

    def test_seed_walkthrough(self, api, tmp_path):
        out = tmp_path / "out"
        start = time.time() + 3600
        job_id = api.create(epsilon="PT5S", command=f"sh -c 'echo ran >> {out}'",
                            name="test_job", schedule=f"R2/{iso(start)}/PT10S")
        assert UUID4.match(job_id)
        listed = api.jobs()[job_id]
        assert listed == api.job(job_id)
        assert (listed["name"], listed["owner"], listed["disabled"], listed["retries"],
                listed["epsilon"], listed["dependent_jobs"], listed["parent_jobs"]) == (
            "test_job", "", False, 0, "PT5S", None, None)
        assert abs(utc(listed["next_run_at"]) - start) < 1e-5
        assert api.call("POST", f"/api/v1/job/start/{job_id}/")[0] == 204
        assert out.read_text() == "ran\n"  # start answers once the run has finished
        [stat] = api.stats(job_id)
        assert (stat["job_id"], stat["number_of_retries"], stat["success"]) == (job_id, 0, True)
        assert isinstance(stat["execution_duration"], int) and stat["execution_duration"] > 0
        assert api.call("POST", f"/api/v1/job/disable/{job_id}/")[0] == 204
        assert api.job(job_id)["disabled"] is True
        assert api.call("POST", f"/api/v1/job/enable/{job_id}/")[0] == 204
        assert api.job(job_id)["disabled"] is False
        status, body, _ = api.call("GET", "/api/v1/stats/")
        assert status == 200
        # Kala's job.KalaStats json tags (its Go client and kala-python read these),
        # and nothing in CamelCase beside them.
        assert set(body["Stats"]) == {"active_jobs", "disabled_jobs", "jobs", "error_count",
                                      "success_count", "next_run_at", "last_attempted_run",
                                      "created", "nodes"}
        assert set(stat) == {"job_id", "ran_at", "number_of_retries", "success",
                             "execution_duration", "scheduled_for", "trigger", "node",
                             "output", "error", "run_id", "output_truncated",
                             "output_dropped_bytes", "skipped"}
        assert (body["Stats"]["jobs"], body["Stats"]["success_count"]) == (1, 1)
        assert api.call("DELETE", f"/api/v1/job/{job_id}/")[:2] == (204, b"")
        status, body, _ = api.call("GET", f"/api/v1/job/{job_id}/")
        assert status == 404 and job_id in body["error"]

    def test_the_list_pages_with_limit_and_offset(self, api):
        ids = [api.create(name=f"j{i}", schedule=f"R/{iso(time.time() + 3600)}/PT1H")
               for i in range(5)]
        status, body, _ = api.call("GET", "/api/v1/job/?limit=2&offset=1")
        assert status == 200 and list(body["jobs"]) == ids[1:3] and body["total"] == 5
        assert list(api.call("GET", "/api/v1/job/?offset=3")[1]["jobs"]) == ids[3:]
        assert "total" not in api.call("GET", "/api/v1/job/")[1]  # Kala's shape, unchanged
        for bad in ("limit=-1", "limit=x", "offset=1.5"):
            status, body, _ = api.call("GET", f"/api/v1/job/?{bad}")
            assert status == 400 and bad.split("=")[0] in body["error"]

    def test_the_list_finds_sorts_and_pages_in_the_database(self, api):
        later = iso(time.time() + 3600)
        ids = {name: api.create(name=name, owner=owner, command=command,
                                schedule=f"R/{later}/PT1H")
               for name, owner, command in [("Backup db", "ops@example.com", "pg_dump x"),
                                            ("report", "Ann", "make report"),
                                            ("50%_off", "", "echo sale"),
                                            ("idle", "", "true")]}
        assert api.call("POST", f"/api/v1/job/disable/{ids['idle']}/")[0] == 204

        def listed(query):
            status, body, _ = api.call("GET", "/api/v1/job/?" + query)
            assert status == 200, body
            assert list(body["jobs"]) == body["order"]
            return body

        for query, found in [("q=BACKUP", ["Backup db"]), ("q=ann", ["report"]),
                             ("q=make+rep", ["report"]), ("q=%25_", ["50%_off"]),
                             ("q=_", ["Backup db", "50%_off"]), ("q=nothing+like+it", []),
                             ("state=disabled", ["idle"]),
                             ("state=active", ["Backup db", "report", "50%_off"]),
                             ("sort=name", ["50%_off", "Backup db", "idle", "report"]),
                             ("sort=-name", ["report", "idle", "Backup db", "50%_off"]),
                             ("sort=owner&state=active", ["50%_off", "report", "Backup db"]),
                             # empty, as a form leaves them (and as the OpenAPI says): none
                             ("state=&sort=&q=", ["Backup db", "report", "50%_off", "idle"])]:
            body = listed(query)
            assert body["order"] == [ids[name] for name in found], query
            assert body["total"] == len(found), query
        body = listed("sort=name&limit=2&offset=1")
        assert (body["order"], body["total"]) == ([ids["Backup db"], ids["idle"]], 4)
        assert body["jobs"][ids["idle"]] == api.job(ids["idle"])  # Kala's job, as one GET
        for bad, named in [("state=nope", "failing"), ("sort=size", "name"),
                           ("q=" + "x" * 201, "200")]:
            status, body, _ = api.call("GET", f"/api/v1/job/?{bad}")
            assert status == 400 and named in body["error"], (bad, body)

    def test_the_list_gives_each_job_its_newest_runs_and_finds_failing_ones(self, api):
        good = api.create(name="good", trigger_only=True)
        bad = api.create(name="bad", command="false", trigger_only=True)
        for job_id, times in ((good, 3), (bad, 1)):
            for _ in range(times):
                assert api.call("POST", f"/api/v1/job/start/{job_id}/")[0] == 204
        body = api.call("GET", "/api/v1/job/?runs=2")[1]
        newest = [stat["run_id"] for stat in api.stats(good)][-2:]
        assert [run["run_id"] for run in body["jobs"][good]["recent_runs"]] == newest
        assert [run["result"] for run in body["jobs"][good]["recent_runs"]] == ["succeeded"] * 2
        [failed] = body["jobs"][bad]["recent_runs"]
        assert (failed["result"], failed["trigger"], failed["node"]) == (
            "failed", "manual", api.stats(bad)[0]["node"])
        assert failed["duration"] > 0 and utc(failed["ran_at"]) <= time.time()
        assert api.call("GET", "/api/v1/job/?state=failing")[1]["order"] == [bad]
        assert "recent_runs" not in api.call("GET", "/api/v1/job/?limit=5")[1]["jobs"][good]

    def test_the_timeline_counts_every_run_of_a_frequent_job_not_the_first_100(self, api):
        start = math.ceil(time.time()) + 3700
        api.create(name="every second", schedule=f"R/{iso(start)}/PT1S")
        body = api.call("GET", f"/api/v1/timeline/?from={iso(start)}&to={iso(start + 3599)}")[1]
        [job] = body["jobs"]
        assert len(job["runs"]) == 100 and job["more"] is True
        assert sum(body["buckets"]) == 3600 and min(body["buckets"]) >= 59
        assert body["buckets_capped"] is False
        body = api.call("GET", f"/api/v1/timeline/?from={iso(start)}&to={iso(start + 7200)}")[1]
        assert body["buckets"] == [120] * 30 + [0] * 30 and body["buckets_capped"] is True

    def test_next_runs_and_the_timeline_say_when_jobs_run(self, api):
        start = math.ceil(time.time()) + 3700
        often = api.create(name="often", schedule=f"R/{iso(start)}/PT10M")
        twice = api.create(name="twice", schedule=f"R1/{iso(start + 60)}/PT1M")
        api.create(name="by hand", trigger_only=True)
        api.create(name="tomorrow", schedule=f"R/{iso(start + 86400)}/PT1M")
        status, body, _ = api.call("GET", f"/api/v1/job/next/{often}/?count=3")
        assert status == 200 and [utc(t) for t in body["next_runs"]] == [
            start, start + 600, start + 1200]
        assert len(api.call("GET", f"/api/v1/job/next/{twice}/")[1]["next_runs"]) == 2
        status, body, _ = api.call("GET", f"/api/v1/timeline/?from={iso(start)}"
                                          f"&to={iso(start + 1800)}")
        assert status == 200, body
        assert [(job["id"], [utc(t) for t in job["runs"]]) for job in body["jobs"]] == [
            (often, [start, start + 600, start + 1200, start + 1800]),
            (twice, [start + 60, start + 120])]
        expected = [0] * 60  # 30 s each; the last one takes "to" too
        for offset in (0, 600, 1200, 1800, 60, 120):
            expected[min(59, offset // 30)] += 1
        assert body["buckets"] == expected and body["buckets_capped"] is False
        assert api.call("GET", "/api/v1/timeline/")[1]["jobs"] == []  # none in the next hour
        for bad in ("from=yesterday", f"from={iso(start)}&to={iso(start - 1)}",
                    f"to={iso(start + 40 * 86400)}"):
            status, body, _ = api.call("GET", f"/api/v1/timeline/?{bad}")
            assert status == 400 and "from" in body["error"], bad
        assert api.call("GET", "/api/v1/job/next/nope/")[0] == 404

    def test_delete_all(self, api):
        for _ in range(3):
            api.create(schedule=f"R/{iso(time.time() + 3600)}/PT1H")
        assert api.call("DELETE", "/api/v1/job/all/")[0] == 204
        assert api.jobs() == {}

    def test_stats_page_newest_first(self, api):
        job_id = api.create(schedule=f"R/{iso(time.time() + 3600)}/PT1H")
        for _ in range(5):
            assert api.call("POST", f"/api/v1/job/start/{job_id}/")[0] == 204
        everything = api.stats(job_id)  # Kala's shape: oldest first
        assert len(everything) == 5 and everything == sorted(everything,
                                                            key=lambda s: s["ran_at"])
        page = api.call("GET", f"/api/v1/job/stats/{job_id}/?limit=2&offset=1")[1]["job_stats"]
        assert page == everything[::-1][1:3]
        rest = api.call("GET", f"/api/v1/job/stats/{job_id}?offset=3")[1]["job_stats"]
        assert rest == everything[::-1][3:]
        status, body, _ = api.call("GET", f"/api/v1/job/stats/{job_id}/?limit=x")
        assert status == 400 and "limit" in body["error"]

    def test_a_pair_of_surrogates_is_a_character(self, api):
        status, body, _ = api.call("POST", "/api/v1/job/",
                                   raw=b'{"name": "\\ud83d\\ude00", "command": "true"}')
        assert status == 201 and api.job(body["id"])["name"] == "\U0001f600"

    def test_a_full_disk_is_507_and_changes_nothing(self, db_path):
        with server_in_thread(store=Store(db_path)) as server:
            api = Client(server.server_address[1])
            kept = api.create(name="kept", schedule=f"R/{iso(time.time() + 3600)}/PT1H")
            store = server.app.store
            store._db.execute(f"PRAGMA max_page_count = "
                              f"{store._db.execute('PRAGMA page_count').fetchone()[0]}")
            status, body, _ = api.call("POST", "/api/v1/job/",
                                       {"name": "big", "command": "true " + "x" * 200000})
            assert status == 507 and "database or disk is full" in body["error"]
            assert list(api.jobs()) == [kept]
            store._db.execute("PRAGMA max_page_count = 1073741823")  # space freed
            assert api.call("POST", "/api/v1/job/", {"name": "n", "command": "true"})[0] == 201

    def test_a_run_that_cannot_start_fails_instead_of_hanging(self, api, monkeypatch):
        job_id = api.create(schedule=f"R/{iso(time.time() + 3600)}/PT1H")

        def broken(*args, **kwargs):
            raise RuntimeError("no more processes")
        monkeypatch.setattr(kala.CommandRunner, "spawn", broken)
        assert api.call("POST", f"/api/v1/job/start/{job_id}/")[0] == 204
        [stat] = api.stats(job_id)
        assert (stat["success"], stat["error"]) == (False, "could not start: no more processes")

    def test_deleted_jobs_leave_no_timers_here_or_in_other_processes(self, db_path):
        other = Harness(path=db_path, node="other")
        with server_in_thread(store=Store(db_path)) as server:
            api, timers = Client(server.server_address[1]), server.app.scheduler.timers
            later = iso(time.time() + 300)  # within TIMER_HORIZON: timed at once
            ids = [api.create(schedule=f"R/{later}/PT1H") for _ in range(300)]
            other.scheduler.sync_timers()
            assert len(timers) == len(other.scheduler.timers) == 300
            for job_id in ids:
                assert api.call("DELETE", f"/api/v1/job/{job_id}/")[0] == 204
            other.scheduler.sync_timers()
            assert len(timers) == len(other.scheduler.timers) == 0
            assert timers.heap_size() <= 64 and other.scheduler.timers.heap_size() <= 64

    def test_a_kala_go_client_document_is_accepted(self, api):
        # What Kala's Go client marshals: every field, zero values included.
        document = {
            "name": "go", "id": "", "command": "true", "owner": "", "disabled": False,
            "dependent_jobs": None, "parent_jobs": None, "schedule": "", "retries": 0,
            "epsilon": "", "next_run_at": "0001-01-01T00:00:00Z", "is_done": False,
            "metadata": {"success_count": 0, "last_success": "0001-01-01T00:00:00Z",
                         "error_count": 0, "last_error": "0001-01-01T00:00:00Z",
                         "last_attempted_run": "0001-01-01T00:00:00Z",
                         "number_of_finished_runs": 0},
            "type": 0, "remote_properties": {"url": "", "method": "", "body": "",
                                             "headers": None, "timeout": 0,
                                             "expected_response_codes": None},
            "on_failure_job": "", "resume_at_next_scheduled_time": False, "stats": None,
            "TemplateDelimiters": "",
        }
        status, body, _ = api.call("POST", "/api/v1/job", document,
                                   headers={"Content-Type": "application/json"})
        assert status == 201 and UUID4.match(body["id"])

    def test_unicode_names_and_commands(self, api):
        job_id = api.create(name="nächtlich ✓ 夜", command="echo 'héllo ✓'",
                            schedule=f"R/{iso(time.time() + 3600)}/PT1H")
        assert api.job(job_id)["name"] == "nächtlich ✓ 夜"
        assert api.call("POST", f"/api/v1/job/start/{job_id}/")[0] == 204
        assert api.stats(job_id)[0]["output"] == "héllo ✓\n"

    def test_a_job_without_schedule_runs_at_once(self, api, tmp_path):
        out = tmp_path / "once"
        job_id = api.create(command=f"sh -c 'echo x >> {out}'")
        wait_for(lambda: api.job(job_id)["is_done"] and api.stats(job_id), message="the run")
        assert out.read_text() == "x\n"
        assert api.job(job_id)["success_count"] == 1

    def test_a_schedule_runs_on_time_and_counts(self, api, tmp_path):
        out = tmp_path / "ticks"
        start = time.time() + 0.3
        job_id = api.create(command=f"sh -c 'echo x >> {out}'", schedule=f"R2/{iso(start)}/PT0.2S")
        job = wait_for(lambda: (lambda j: j["is_done"] and j["metadata"][
            "number_of_finished_runs"] == 3 and j)(api.job(job_id)), message="three runs")
        assert out.read_text() == "x\n" * 3
        assert (job["success_count"], job["next_run_at"]) == (3, "0001-01-01T00:00:00Z")
        scheduled = [utc(s["scheduled_for"]) for s in api.stats(job_id)]
        assert scheduled == pytest.approx([start, start + 0.2, start + 0.4], abs=1e-5)

    def test_a_chain_across_the_api(self, api, tmp_path):
        out = tmp_path / "chain"
        parent = api.create(name="p", command=f"sh -c 'echo p >> {out}'",
                            schedule=f"R0/{iso(time.time() + 3600)}/")
        child = api.create(name="c", command=f"sh -c 'echo c >> {out}'", parent_jobs=[parent])
        assert api.job(parent)["dependent_jobs"] == [child]
        assert api.job(child)["parent_jobs"] == [parent]
        api.call("POST", f"/api/v1/job/start/{parent}/")
        wait_for(lambda: api.stats(child), message="the child's run")
        assert out.read_text() == "p\nc\n"
        assert api.call("DELETE", f"/api/v1/job/{parent}/")[0] == 204
        assert api.jobs() == {}

    def test_remote_job_through_the_api(self, api, http_target):
        job_id = api.create(type=1, command="", schedule=f"R0/{iso(time.time() + 3600)}/",
                            remote_properties={"url": http_target.url + "/x", "method": "PUT",
                                               "body": "b", "expected_response_codes": [200]})
        assert api.call("POST", f"/api/v1/job/start/{job_id}/")[0] == 204
        assert http_target.requests.get(timeout=5)[:2] == ("PUT", "/x")
        assert api.stats(job_id)[0]["success"] is True


class TestHttp:
    """How the server speaks HTTP: routes, methods, framing, limits, malformed requests.
    None of it depends on the store: these run on one, in memory."""

    @pytest.fixture
    def api(self, memory_api):
        return memory_api

    @staticmethod
    def send_raw(port, request):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            return sock.makefile("rb").read()  # until the server closes the connection

    @staticmethod
    def read_chunked(answers):
        """A chunked body from ``answers`` (a binary file): its chunks, or what came
        of them before the connection closed without the last one."""
        chunks = []
        while True:
            size_line = answers.readline()
            if not size_line:
                return chunks, False  # cut short
            size = int(size_line, 16)
            chunk = answers.read(size + 2)
            if size == 0:
                return chunks, True
            chunks.append(chunk[:-2])

    def test_the_full_list_is_written_as_it_is_made_in_chunks(self, api, monkeypatch):
        monkeypatch.setattr(kala._RequestHandler, "CHUNK_SIZE", 2000)
        ids = [api.create(name=f"job {i}", schedule=f"R/{iso(time.time() + 3600)}/PT1H")
               for i in range(6)]
        whole = api.call("GET", "/api/v1/job/?limit=100")[1]["jobs"]  # a page: one text
        with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
            answers = sock.makefile("rb")
            for _ in range(2):  # the connection is kept for the next request
                sock.sendall(b"GET /api/v1/job/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
                head = answers.readline()
                fields = dict(line.decode().rstrip("\r\n").split(": ", 1)
                              for line in iter(answers.readline, b"\r\n"))
                chunks, complete = self.read_chunked(answers)
                assert head.startswith(b"HTTP/1.1 200") and complete
                assert fields["Transfer-Encoding"] == "chunked" and "Content-Length" not in fields
                assert len(chunks) >= 3
                jobs = json.loads(b"".join(chunks))["jobs"]
                assert list(jobs) == ids and jobs == whole
        # HTTP/1.0 has no chunks: the whole answer, with its length.
        answer = self.send_raw(api.port, b"GET /api/v1/job/ HTTP/1.0\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"Content-Length: %d\r\n" % len(body) in head and b"chunked" not in head
        assert json.loads(body)["jobs"] == whole

    def test_a_list_that_fails_half_way_is_cut_short_not_taken_as_whole(self, api, monkeypatch,
                                                                         caplog):
        monkeypatch.setattr(kala._RequestHandler, "CHUNK_SIZE", 1000)
        for i in range(5):
            api.create(name=f"job {i}", schedule=f"R/{iso(time.time() + 3600)}/PT1H")
        made = []
        real = kala.StoredJob.json_text

        def json_text(stored, now):
            made.append(stored)
            if len(made) == 4:
                raise RuntimeError("a bug")
            return real(stored, now)

        monkeypatch.setattr(kala.StoredJob, "json_text", json_text)
        answer = self.send_raw(api.port, b"GET /api/v1/job/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        chunks, complete = self.read_chunked(io.BytesIO(body))
        assert head.startswith(b"HTTP/1.1 200") and chunks and not complete
        assert "failed half-way through its answer" in caplog.text
        # Failing before a chunk was sent (or in an answer sent whole, to HTTP/1.0), it
        # is an answer of its own: 500.
        for request in (b"GET /api/v1/job/ HTTP/1.1\r\nHost: localhost\r\n"
                        b"Connection: close\r\n\r\n", b"GET /api/v1/job/ HTTP/1.0\r\n\r\n"):
            made.clear()
            monkeypatch.setattr(kala._RequestHandler, "CHUNK_SIZE",
                                10 ** 6 if b"1.1" in request else 1000)
            head, _, body = self.send_raw(api.port, request).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 500") and b"a bug" in body, request

    @pytest.mark.parametrize("slash", ["", "/"])
    def test_every_route_with_and_without_trailing_slash(self, api, slash):
        job_id = api.create(schedule=f"R/{iso(time.time() + 3600)}/PT1H")
        for method, path, status in [
                ("GET", "/api/v1/job", 200), ("GET", f"/api/v1/job/{job_id}", 200),
                ("GET", f"/api/v1/job/stats/{job_id}", 200),
                ("POST", f"/api/v1/job/start/{job_id}", 204),
                ("POST", f"/api/v1/job/disable/{job_id}", 204),
                ("POST", f"/api/v1/job/enable/{job_id}", 204),
                ("GET", "/api/v1/stats", 200), ("GET", "/webui", 200),
                ("DELETE", f"/api/v1/job/{job_id}", 204), ("DELETE", "/api/v1/job/all", 204)]:
            assert api.call(method, path + slash)[0] == status, (method, path + slash)
        assert api.call("POST", "/api/v1/job" + slash, {"name": "n", "command": "true"})[0] == 201

    @pytest.mark.parametrize("method, path, allowed", [
        ("PUT", "/api/v1/job/", "GET, POST"),
        ("GET", "/api/v1/job/all/", "DELETE"),
        ("GET", "/api/v1/job/start/x/", "POST"),
        ("DELETE", "/api/v1/stats/", "GET"),
        ("POST", "/api/v1/job/x/", "DELETE, GET, PUT"),
    ])
    def test_wrong_method(self, api, method, path, allowed):
        status, body, response = api.call(method, path)
        assert (status, response.getheader("Allow")) == (405, allowed)
        assert method in body["error"]

    @pytest.mark.parametrize("method, path", [
        ("GET", "/api/v1/job/nope/"), ("DELETE", "/api/v1/job/nope/"),
        ("GET", "/api/v1/job/stats/nope/"), ("POST", "/api/v1/job/start/nope/"),
        ("POST", "/api/v1/job/disable/nope/"), ("POST", "/api/v1/job/enable/nope/"),
        ("GET", "/api/v2/"), ("GET", "/favicon.ico"),
    ])
    def test_unknown_ids_and_routes_are_404_json(self, api, method, path):
        status, body, _ = api.call(method, path)
        assert status == 404 and "error" in body

    @pytest.mark.parametrize("raw, words", [
        (b'{"name": "n", "command": ', "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        (b'\xff\xfe{"name"}', "UTF-8"),
        (b'{"name": "n", "command": "true", "retries": "x"}', "'retries'"),
        (b'{"name": "n", "command": "true", "retries": -1}', "'retries'"),
        (b'{"name": "n", "command": "true", "parent_jobs": "abc"}', "'parent_jobs'"),
        (b'{"name": "n", "command": "true", "parent_jobs": ["nope"]}', "does not exist"),
        (b'{"command": "true"}', "'name'"),
        (b'{"name": "n"}', "'command'"),
        (b'{"name": "n", "command": "true", "schedule": "R2/2001-01-01T00:00:00Z/PT1S"}',
         "already passed"),
        (b'{"name": "n", "command": "true", "schedule": "R2/2090-01-01T00:00:00Z/P1S"}',
         "'P1S'"),
        (b'{"name": "n", "command": "true", "epsilon": "PT"}', "'PT'"),
        pytest.param(b"[" * 100000 + b"]" * 100000, "too deeply", id="100,000 deep"),
        (b'{"name": "\\ud800", "command": "true"}', "surrogate"),
        (b'{"name": "n", "owner": "\\udfff", "command": "true"}', "surrogate"),
        (b'{"name": "n", "command": "echo \\udbff"}', "surrogate"),
        (b'{"name": "n", "command": "true", "schedule": "R/9999-12-31T23:59:59-01:00/PT1S"}',
         "year 9999"),
        pytest.param(b'{"name": "n", "command": "true", "schedule": "R' + b"9" * 5000
                     + b'/2090-01-01T00:00:00Z/PT1S"}', "repeat count", id="R and 5,000 digits"),
    ])
    def test_bad_input_is_400_and_changes_nothing(self, api, raw, words):
        keep = api.create(name="kept", schedule=f"R/{iso(time.time() + 3600)}/PT1H")
        before = api.jobs()
        status, body, _ = api.call("POST", "/api/v1/job/", raw=raw,
                                   headers={"Content-Type": "application/json"})
        assert status == 400 and words in body["error"], body
        assert api.jobs() == before and keep in before

    @pytest.mark.parametrize("length", ["abc", "-1", "\u00b2", "1e3"])
    def test_a_bad_content_length_is_400(self, api, length):
        with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
            sock.sendall(f"POST /api/v1/job/ HTTP/1.1\r\nHost: localhost\r\n"
                         f"Content-Length: {length}\r\n\r\n".encode())
            answer = sock.makefile("rb").read()
        assert answer.startswith(b"HTTP/1.1 400") and b"Content-Length" in answer

    @pytest.mark.parametrize("framing", [
        b"Content-Length: 0\r\nContent-Length: %d\r\n",
        b"Content-Length: 0, %d\r\n",
        b"Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\nContent-Length: %d\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n",
        b"Transfer-Encoding: gzip\r\nX-Length: %d\r\n",
    ], ids=["two lengths", "a list of lengths", "two codings", "chunked and a length", "gzip"])
    def test_ambiguous_framing_is_400_and_closes_the_connection(self, api, framing):
        # A smuggled request: read by the first Content-Length, the body would be
        # a second request creating a job.
        body = b'{"name": "smuggled", "command": "true"}'
        smuggled = (b"POST /api/v1/job/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d"
                    b"\r\n\r\n%s" % (len(body), body))
        answer = self.send_raw(api.port, b"GET /api/v1/job/ HTTP/1.1\r\nHost: localhost\r\n"
                               + framing % len(smuggled) + b"\r\n" + smuggled)
        assert answer.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in answer
        assert answer.count(b"HTTP/1.1") == 1 and b'"error"' in answer
        assert api.jobs() == {}

    @pytest.mark.parametrize("fields, status", [
        (b"X-A: 1\r\n folded\r\n", 400), (b"Content-Length : 40\r\n", 400),
        (b"no colon\r\n", 400), (b"X-A: 1\r\n" * 101, 431), (b"X-A: " + b"a" * 70000, 431),
    ], ids=["folded line", "space before the colon", "no colon", "101 fields", "long line"])
    def test_malformed_header_fields_are_refused_and_close_the_connection(self, api, fields,
                                                                          status):
        body = b'{"name": "n", "command": "true"}'
        answer = self.send_raw(api.port, b"POST /api/v1/job/ HTTP/1.1\r\nHost: localhost\r\n"
                               + fields + b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        assert answer.startswith(b"HTTP/1.1 %d " % status) and b"Connection: close" in answer
        assert b'{"error": ' in answer and answer.count(b"HTTP/1.1") == 1
        assert api.jobs() == {}

    def test_an_answer_is_one_head_and_its_body(self, api):
        answer = self.send_raw(api.port, b"GET /api/v1/job/ HTTP/1.1\r\nHost: localhost\r\n"
                               b"Connection: close\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert re.fullmatch(
            rb"HTTP/1\.1 200 OK\r\nServer: kala\.py/\S+ Python/\S+\r\nDate: \w{3}, \d\d \w{3} "
            rb"\d{4} \d\d:\d\d:\d\d GMT\r\nContent-Type: application/json\r\n"
            rb"Content-Length: 12\r\nConnection: close", head), head
        assert body == b'{"jobs": {}}'

    def test_http_1_0_closes_unless_kept_alive_and_expect_gets_100_continue(self, api):
        assert self.send_raw(api.port, b"GET /api/v1/job/ HTTP/1.0\r\nHost: localhost\r\n\r\n").startswith(
            b"HTTP/1.1 200 OK")  # and then the connection closed
        with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
            answers = sock.makefile("rb")
            for _ in range(2):
                sock.sendall(b"GET /api/v1/job/ HTTP/1.0\r\nHost: localhost\r\n"
                             b"Connection: keep-alive\r\n\r\n")
                assert answers.readline().startswith(b"HTTP/1.1 200")
                head = b"".join(iter(answers.readline, b"\r\n"))
                assert b"Connection: close" not in head
                assert answers.read(int(re.search(rb"Content-Length: (\d+)", head).group(1))) \
                    == b'{"jobs": {}}'
            body = b'{"name": "n", "command": "true"}'
            sock.sendall(b"POST /api/v1/job/ HTTP/1.1\r\nHost: localhost\r\n"
                         b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
            # At once (curl waits a second for it before sending a body over 1 KiB).
            assert answers.readline() == b"HTTP/1.1 100 Continue\r\n"
            assert answers.readline() == b"\r\n"
            sock.sendall(body)
            assert answers.readline().startswith(b"HTTP/1.1 201")

    def test_a_burst_of_clients_is_served_not_reset(self, api):
        clients, failures = 200, []
        ready = threading.Barrier(clients)

        def client():
            ready.wait()
            try:
                for _ in range(3):
                    status = api.call("POST", "/api/v1/job/", {"name": "n", "command": "true",
                                      "schedule": f"R/{iso(time.time() + 3600)}/PT1H"})[0]
                    if status != 201:
                        failures.append(status)
            except OSError as exc:
                failures.append(repr(exc))
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failures == [] and len(api.jobs()) == 3 * clients

    def test_a_reused_connection_has_its_whole_deadline_after_an_idle_wait(self, api,
                                                                           monkeypatch):
        monkeypatch.setattr(kala._RequestHandler, "request_deadline", 0.5)
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
        conn.request("GET", "/api/v1/job/")
        assert conn.getresponse().read()
        time.sleep(0.7)  # idle on the kept connection, longer than a request may take
        # A body that arrives in several reads: each checks the request's deadline.
        conn.request("POST", "/api/v1/job/",
                     body=json.dumps({"name": "n", "command": "true " + "x" * 300000}))
        response = conn.getresponse()
        assert response.status == 201, response.read()
        conn.close()

    @pytest.mark.parametrize("method, path, status, allow", [
        ("BREW", "/api/v1/job/", 405, "GET, POST"), ("get", "/api/v1/stats/", 405, "GET"),
        ("PROPFIND", "/nowhere", 404, None),
    ])
    def test_any_method_is_answered_by_the_routes(self, api, method, path, status, allow):
        answer = self.send_raw(api.port, f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n"
                                         f"Connection: close\r\n\r\n".encode())
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status} ".encode()) and b'"error"' in body
        assert (f"Allow: {allow}".encode() in head) if allow else b"Allow:" not in head

    def test_a_body_shorter_than_announced_gets_an_answer(self, api, monkeypatch):
        monkeypatch.setattr(kala._RequestHandler, "request_deadline", 0.3)
        with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
            sock.sendall(b"POST /api/v1/job/ HTTP/1.1\r\nHost: localhost\r\n"
                         b"Content-Length: 100\r\n\r\n{\"name\"")
            answer = sock.makefile("rb").read()
        assert answer.startswith(b"HTTP/1.1 408") and b"7 of the 100 bytes" in answer

    def test_a_request_without_body(self, api):
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
        conn.putrequest("POST", "/api/v1/job/")
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 400 and "empty" in json.loads(response.read())["error"]

    def test_body_over_one_mebibyte_is_413_before_it_is_read(self, api):
        with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
            sock.sendall(b"POST /api/v1/job/ HTTP/1.1\r\nHost: localhost\r\n"
                         b"Content-Length: 2097152\r\n\r\n{")
            answer = sock.makefile("rb").read()
        assert answer.startswith(b"HTTP/1.1 413") and b'"error"' in answer
        assert api.jobs() == {}

    def test_a_client_sending_two_mebibytes_still_reads_the_413(self, api):
        status, body, _ = api.call("POST", "/api/v1/job/", raw=b"x" * (2 << 20))
        assert status == 413 and "over the limit" in body["error"]
        assert api.call("GET", "/api/v1/job/")[0] == 200

    def test_a_body_of_exactly_the_limit_is_read(self, api):
        body = json.dumps({"name": "n", "command": "true", "pad": ""}).encode()
        body = body[:-2] + b" " * (kala.MAX_BODY_BYTES - len(body)) + b'"}'
        assert len(body) == kala.MAX_BODY_BYTES
        assert api.call("POST", "/api/v1/job/", raw=body)[0] == 201

    def test_keep_alive_serves_several_requests_on_one_connection(self, api):
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
        for _ in range(3):
            conn.request("GET", "/api/v1/job/")
            response = conn.getresponse()
            assert (response.status, json.loads(response.read())) == (200, {"jobs": {}})
        conn.request("POST", "/api/v1/job/", body='{"name": "n"}')  # a 400 keeps it open too
        assert conn.getresponse().read() and conn.sock is not None
        conn.request("GET", "/api/v1/stats/")
        assert conn.getresponse().status == 200
        conn.close()

    @pytest.mark.parametrize("garbage", [
        bytes(random.Random(seed).getrandbits(8) for _ in range(200)) for seed in range(8)
    ] + [b"\r\n\x00\xff garbage", b"   \r\n", b"\n\n\n\x01\x02", b"GET\r\n",
         b"GET / HTTP/9.9", b"GET /" + b"x" * 70000])
    def test_garbage_on_the_socket_gets_400_and_the_server_keeps_serving(self, api, garbage):
        with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
            sock.sendall(garbage + b"\r\n\r\n")
            answer = sock.makefile("rb").read()
        assert re.match(rb"HTTP/1\.[01] (400|414|505) ", answer), answer[:100]
        assert b'{"error": ' in answer
        assert api.call("GET", "/api/v1/job/")[0] == 200

    def test_web_page(self, api):
        status, body, response = api.call("GET", "/")
        assert status == 200 and b"<title>kala.py</title>" in body
        assert len(body) < 80 * 1024 and not re.search(rb'(src|href)="(https?:)?//', body)
        assert response.getheader("X-Content-Type-Options") == "nosniff"
        assert response.getheader("X-Frame-Options") == "DENY"
        policy = response.getheader("Content-Security-Policy")
        assert "unsafe-inline" not in policy and "default-src 'none'" in policy
        script = re.search(rb"<script>(.*)</script>", body, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
        assert f"script-src 'sha256-{digest}'" in policy


# =============================================================================
# Real serve processes: persistence, kill -9, restarts
# =============================================================================

def pause_outside_a_write(process, database):
    """SIGSTOP a serve process, but not in the middle of a SQLite write: stopped holding
    the writers' flock, it would hold up every other process's writes (as the README
    says) until it is continued."""
    if not database.endswith(".db"):
        process.process.send_signal(signal.SIGSTOP)
        return
    fd = os.open(database + "-locks/write.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        process.process.send_signal(signal.SIGSTOP)
    finally:
        os.close(fd)


class ServeProcess:
    """``kala.py serve`` in a subprocess on a free port; its log lines are kept."""

    def __init__(self, *args, env=None, headers=None, tls=None, wait=True):
        # As "python3 -m kala": kala.py's bytecode is then cached (as a script it is
        # compiled again at every start), which halves the start of a process.
        environment = {**os.environ, "PYTHONPATH": os.path.dirname(KALA),
                       "PYTHONFAULTHANDLER": "1", **(env or {})}
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kala", "serve", "-p", "0", *args], stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL, text=True, env=environment)
        self.lines = queue.Queue()
        self.log = []
        self.headers, self.tls = headers, tls
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        if wait:
            self.ready()

    def ready(self):
        """Wait until it listens (processes started with wait=False start together)."""
        match = None
        deadline = time.monotonic() + 20
        while match is None:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:  # seen once in a chaos run: say what it was doing
                self.process.kill()
                raise AssertionError("serve did not listen within 20 s:\n" +
                                     "".join(self.log[-60:])) from None
            assert line is not None, "serve exited:\n" + "".join(self.log)
            match = re.search(r"listening on https?://\S+:(\d+) ", line)
        self.client = Client(int(match.group(1)), self.headers, self.tls)
        return self

    def _drain(self):
        for line in self.process.stderr:
            self.log.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        """SIGTERM, then wait until it has exited and its last log lines are read."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:  # seen once in CI: say where it was stuck
                self.process.send_signal(signal.SIGABRT)  # faulthandler prints every thread
                self.process.wait(10)
                self._drainer.join(10)
                raise AssertionError("serve did not stop within 20 s of SIGTERM:\n" +
                                     "".join(self.log[-200:])) from None
        self._drainer.join(10)
        assert not any("still stopping after" in line for line in self.log), \
            "serve's stop hung and its deadline ended it:\n" + "".join(self.log[-200:])


@pytest.fixture
def serve():
    started = []

    def start(*args, **kwargs):
        started.append(ServeProcess(*args, **kwargs))
        return started[-1]

    yield start
    for process in started:
        if process.process.poll() is None:
            process.kill()


class TestCronJobs:

    """Cron expressions and the schedules without a start, over the API."""

    @pytest.mark.parametrize("schedule, words", [
        ("61 * * * *", "minute '61' is not 0-59"),
        ("* * * *", "it has 4 fields"),
        ("@every soon", "invalid interval 'soon' after @every"),
        ("R/P", "invalid duration 'P'"),
        ("every day", "cron expression 'every day'"),
    ])
    def test_a_bad_schedule_gets_400_echoing_it_and_stores_nothing(self, memory_api, schedule,
                                                                   words):
        api = memory_api
        status, body, _ = api.call("POST", "/api/v1/job/", {
            "name": "j", "command": "true", "schedule": schedule})
        assert status == 400 and words in body["error"] and "e.g." in body["error"]
        assert api.call("GET", "/api/v1/job/")[1] == {"jobs": {}}

    @at_once()
    def test_a_cron_job_runs_every_second_on_whole_seconds(self, api, tmp_path):
        out = tmp_path / "ticks"
        job_id = api.create(command=f"sh -c 'echo $KALA_SCHEDULED_FOR >> {out}'",
                            schedule="* * * * * *", timezone="Europe/Berlin")
        next_run = utc(api.job(job_id)["next_run_at"])
        # up to 2 s away: within CLAIM_AHEAD of a second, that second is already claimed
        # (and one a busy machine has not claimed yet may have just passed)
        assert next_run == int(next_run) and -1 < next_run - time.time() <= 2
        stats = wait_for(lambda: len(api.stats(job_id)) >= 3 and api.stats(job_id),
                         message="three runs")
        api.call("POST", f"/api/v1/job/disable/{job_id}/")
        scheduled = sorted(utc(stat["scheduled_for"]) for stat in stats)
        assert scheduled[0] in (next_run - 1, next_run)
        assert scheduled[:3] == [scheduled[0], scheduled[0] + 1, scheduled[0] + 2]
        assert all(stat["success"] for stat in stats)

    @pytest.mark.parametrize("schedule, first_after_creation", [
        ("R/PT1H", 0), ("R3/PT1H", 0), ("@every 1h", 3600), ("@every PT30M", 1800)])
    @at_once()
    def test_a_schedule_without_a_start_counts_from_the_creation(self, api, schedule,
                                                                 first_after_creation):
        before = time.time()
        job_id = api.create(schedule=schedule)
        job = api.job(job_id)
        assert job["schedule"] == schedule
        if first_after_creation:
            assert 0 <= utc(job["next_run_at"]) - first_after_creation - before < 5
        else:  # it runs at once, then every hour from then
            stat = wait_for(lambda: api.stats(job_id), message="the first run")[0]
            assert abs(utc(stat["scheduled_for"]) - before) < 5
            assert abs(utc(api.job(job_id)["next_run_at"]) - utc(stat["scheduled_for"])
                       - 3600) < 1e-3

    @at_once()
    def test_an_edit_to_a_lower_index_runs_on_time(self, api):
        """A cron job's occurrences are numbered by their second; an ISO schedule's from
        0: after the edit the job's timer must follow the new, lower index."""
        job_id = api.create(schedule="0 0 1 1 *")
        api.call("PUT", f"/api/v1/job/{job_id}/", {"name": "job", "command": "true",
                                                  "schedule": f"R0/{iso(time.time() + 0.3)}/"})
        wait_for(lambda: api.stats(job_id), message="the edited schedule's run")

    @at_once()
    def test_an_edit_to_a_cron_schedule_runs_from_its_next_occurrence(self, api):
        job_id = api.create(schedule=f"R/{iso(time.time() + 3600)}/PT1H")
        status, _, _ = api.call("PUT", f"/api/v1/job/{job_id}/", {
            "name": "job", "command": "true", "schedule": "0 0 1 1 *"})
        assert status == 200
        year = datetime.now(timezone.utc).year + 1
        assert api.job(job_id)["next_run_at"] == f"{year}-01-01T00:00:00.000000Z"


def blocking(tmp_path, name="release"):
    """A command that notes its run, then runs until ``tmp_path/name`` exists (or 30 s
    have passed: one a failed test leaves behind, or a killed server, ends by itself)."""
    return (f"sh -c 'echo $KALA_RUN_ID@$KALA_NODE >> {tmp_path}/ran; i=0; "
            f"while [ ! -e {tmp_path}/{name} ] && [ $i -lt 600 ]; do sleep 0.05; "
            f"i=$((i + 1)); done'")


class TestConcurrency:
    """concurrency: allow (Kala's overlapping runs), forbid (skip while one goes),
    replace (end the one going)."""

    @at_once()
    def test_forbid_skips_and_records_what_comes_due_while_a_run_goes(self, api, tmp_path):
        job_id = api.create(command=blocking(tmp_path), schedule="* * * * * *",
                            concurrency="forbid")
        stats = wait_for(lambda: len(api.stats(job_id)) >= 2 and api.stats(job_id),
                         message="two skipped occurrences")
        [first] = (tmp_path / "ran").read_text().split()
        running = int(first.split("@")[0])
        for stat in stats:
            assert (stat["skipped"], stat["success"], stat["error"]) == (
                True, False, f"skipped: run {running} was still running (concurrency forbid)")
        status, body, _ = api.call("POST", f"/api/v1/job/start/{job_id}/")
        assert status == 409 and body["run_id"] == running and "forbid" in body["error"]
        job = api.job(job_id)
        assert (job["error_count"], job["concurrency"]) == (0, "forbid")  # a skip is no error
        (tmp_path / "release").touch()
        wait_for(lambda: any(s["success"] for s in api.stats(job_id)), message="the run's end")
        wait_for(lambda: len((tmp_path / "ran").read_text().split()) >= 2,
                 message="the next occurrence to run once the first ended")
        api.call("POST", f"/api/v1/job/disable/{job_id}/")

    @at_once()
    def test_allow_lets_runs_overlap_as_kala_does(self, api, tmp_path):
        job_id = api.create(command=blocking(tmp_path), schedule="* * * * * *")
        wait_for(lambda: len((tmp_path / "ran").read_text().split()) >= 2
                 if (tmp_path / "ran").exists() else False, message="two runs at once")
        api.call("POST", f"/api/v1/job/disable/{job_id}/")
        (tmp_path / "release").touch()
        assert not any(stat["skipped"] for stat in api.stats(job_id))

    @at_once()
    def test_replace_ends_the_run_going_gracefully_then_forcibly(self, api, tmp_path,
                                                                 monkeypatch):
        api.scheduler.endable.grace = 0.5
        out, end = tmp_path / "out", tmp_path / "end"
        wait = f"i=0; while [ ! -e {end} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done"
        graceful = api.create(name="graceful", concurrency="replace", trigger_only=True,
                              command=f"sh -c 'echo $KALA_RUN_ID >> {out}; trap \"echo ended "
                                      f">> {out}; exit 0\" TERM; {wait}'")
        stubborn = api.create(name="stubborn", concurrency="replace", trigger_only=True,
                              command=f"sh -c 'trap \"\" TERM; {wait}'")
        for job_id in (graceful, stubborn):
            first = api.call("POST", f"/api/v1/job/start/{job_id}/?wait=false")[1]["run_id"]
            if job_id == graceful:
                wait_for(lambda: out.exists() and out.read_text(), message="the first run")
            second = api.call("POST", f"/api/v1/job/start/{job_id}/?wait=false")[1]["run_id"]
            [replaced] = wait_for(lambda: api.stats(job_id), message="the first run's end")
            assert (replaced["run_id"], replaced["success"], replaced["error"]) == (
                first, False, f"replaced by run {second} (concurrency replace)")
            end.touch()
            wait_for(lambda: len(api.stats(job_id)) == 2, message="the second run's end")
            end.unlink()
        assert "ended" in out.read_text().split()  # the graceful one had its SIGTERM


class TestStoppingRuns:
    """POST /api/v1/job/stop/ID/ ends a job's runs going (SIGTERM, then SIGKILL after
    the grace), recorded failed ``stopped by request`` and not retried; GET
    /api/v1/job/running/ID/ shows them with their output as it grows."""

    @staticmethod
    def stubborn(tmp_path):
        """A command that notes its pid, says hello, ignores SIGTERM and runs 30 s."""
        return (f"sh -c 'echo $$ >> {tmp_path}/pids; echo hello; trap \"\" TERM; i=0; "
                f"while [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done'")

    @staticmethod
    def gone(pid):
        return not os.path.exists(f"/proc/{pid}")

    @at_once()
    def test_stop_ends_every_run_of_the_job_going_and_records_it(self, api, tmp_path):
        api.scheduler.endable.grace = 0.5
        handler = api.create(name="handler", trigger_only=True)
        job_id = api.create(command=self.stubborn(tmp_path), trigger_only=True, retries=2,
                            on_failure_job=handler)
        runs = sorted(api.call("POST", f"/api/v1/job/start/{job_id}/?wait=false")[1]["run_id"]
                      for _ in range(2))
        wait_for(lambda: [(run["run_id"], run["output"]) for run in api.call(
            "GET", f"/api/v1/job/running/{job_id}/")[1]["runs"]] == [
            (run, "hello\n") for run in runs], message="both runs to say hello")
        pids = [int(pid) for pid in (tmp_path / "pids").read_text().split()]
        assert api.call("POST", f"/api/v1/job/stop/{job_id}/")[:2] == (200, {"stopping": runs})
        stats = wait_for(lambda: len(api.stats(job_id)) == 2 and api.stats(job_id),
                         message="both runs to end")
        assert [(s["run_id"], s["success"], s["error"], s["number_of_retries"])
                for s in sorted(stats, key=lambda s: s["run_id"])] == [
            (run, False, kala.STOPPED_BY_REQUEST, 0) for run in runs]
        assert all(self.gone(pid) for pid in pids)
        assert len((tmp_path / "pids").read_text().split()) == 2  # neither was retried
        assert api.call("GET", f"/api/v1/job/running/{job_id}/")[1] == {"runs": []}
        assert api.call("POST", f"/api/v1/job/stop/{job_id}/")[:2] == (200, {"stopping": []})
        wait_for(lambda: len(api.stats(handler)) == 2, message="the failure job, once a run")

    @at_once()
    def test_stop_of_one_run_leaves_the_others(self, api, tmp_path):
        job_id = api.create(command=blocking(tmp_path), trigger_only=True)
        first, second = (api.call("POST", f"/api/v1/job/start/{job_id}/?wait=false")[1][
            "run_id"] for _ in range(2))
        wait_for(lambda: len(api.call("GET", f"/api/v1/job/running/{job_id}/")[1]["runs"]) == 2,
                 message="both runs going")
        assert api.call("POST", f"/api/v1/job/stop/{job_id}/?run_id={second}")[1] == {
            "stopping": [second]}
        [stopped] = wait_for(lambda: api.stats(job_id), message="the second run to end")
        assert (stopped["run_id"], stopped["error"]) == (second, kala.STOPPED_BY_REQUEST)
        [left] = api.call("GET", f"/api/v1/job/running/{job_id}/")[1]["runs"]
        assert left["run_id"] == first and not left["stop_requested"]
        (tmp_path / "release").touch()
        wait_for(lambda: len(api.stats(job_id)) == 2, message="the first run to end")
        assert {s["run_id"]: s["success"] for s in api.stats(job_id)} == {
            first: True, second: False}

    def test_stop_of_a_job_that_is_not_there_is_a_404(self, memory_api):
        status, body, _ = memory_api.call("POST", "/api/v1/job/stop/nope/")
        assert status == 404 and "nope" in body["error"]
        assert memory_api.call("GET", "/api/v1/job/running/nope/")[0] == 404
        job_id = memory_api.create(trigger_only=True)
        status, body, _ = memory_api.call("POST", f"/api/v1/job/stop/{job_id}/?run_id=x")
        assert status == 400 and "run_id" in body["error"]


class TestMetrics:

    """GET /metrics, read with prometheus_client's own parser."""

    @staticmethod
    def scrape(client):
        parser = needed_package("prometheus_client.parser", "prometheus_client")
        status, text, response = client.call("GET", "/metrics")
        assert status == 200, text
        assert response.getheader("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in parser.text_string_to_metric_families(text.decode())
                for sample in family.samples}

    def test_the_token_rules_apply_unless_metrics_are_public(self, serve):
        guarded = serve("-n", env={"KALA_TOKEN": TOKEN})
        assert guarded.client.call("GET", "/metrics")[0] == 401
        assert Client(guarded.client.port, BEARER).call("GET", "/metrics")[0] == 200
        public = serve("-n", "--metrics-public", env={"KALA_TOKEN": TOKEN})
        assert public.client.call("GET", "/metrics")[0] == 200
        assert public.client.call("GET", "/api/v1/job/")[0] == 401

    @at_once()
    def test_the_figures_move_as_runs_happen(self, api, tmp_path):
        before = self.scrape(api)
        assert before[("kala_runs_total", (("result", "succeeded"), ("trigger", "schedule")))] == 0
        api.create(schedule=f"R1/{iso(time.time() + 0.2)}/PT0.2S")
        failing = api.create(command="false", retries=1, trigger_only=True)
        api.call("POST", f"/api/v1/job/start/{failing}/")
        wait_for(lambda: self.scrape(api)[("kala_runs_total", (("result", "succeeded"),
                                                               ("trigger", "schedule")))] == 2,
                 message="two scheduled runs counted")
        after = self.scrape(api)
        assert after[("kala_runs_total", (("result", "failed"), ("trigger", "manual")))] == 1
        assert after[("kala_retries_total", ())] == 1
        assert after[("kala_firing_lag_seconds_count", ())] == 2
        assert after[("kala_firing_lag_seconds_bucket", (("le", "+Inf"),))] == 2
        assert after[("kala_run_duration_seconds_count", ())] == 3
        assert after[("kala_claims_total", ())] == 2
        assert after[("kala_claim_seconds_count", ())] >= 1
        assert after[("kala_database_commit_seconds_count", ())] > before[
            ("kala_database_commit_seconds_count", ())]
        assert after[("kala_jobs", (("state", "enabled"),))] == 2
        [node] = [dict(labels)["node"] for (name, labels), value in after.items()
                  if name == "kala_node_info" and value == 1]
        assert node
        assert 0 <= after[("kala_heartbeat_age_seconds", ())] < 5
        assert after[("kala_runs_running", ())] == 0

    @at_once()
    def test_skips_are_counted_by_reason(self, api, tmp_path):
        job_id = api.create(command=blocking(tmp_path), schedule="* * * * * *",
                            concurrency="forbid")
        wait_for(lambda: self.scrape(api)[("kala_skipped_occurrences_total",
                                           (("reason", "concurrency"),))] >= 1,
                 message="a skip counted")
        assert self.scrape(api)[("kala_runs_running", ())] >= 1
        api.call("POST", f"/api/v1/job/disable/{job_id}/")
        (tmp_path / "release").touch()


class TestOpenApi:
    """GET /api/v1/openapi.json, kept next to the routes, and a fuzzer held to it."""

    def test_every_route_is_described(self):
        store = Store()
        app = kala.KalaApp(store, Scheduler(store))
        document = kala.openapi_document(app.documented_routes)
        assert len(app.routes) == len(app.documented_routes)  # each comes from a path
        for path, methods in app.documented_routes:
            for method, route in methods.items():
                operation = document["paths"][path][method.lower()]
                assert operation["summary"] and operation["operationId"], (method, path)
                assert any(status.startswith("2") for status in operation["responses"])
                assert ("requestBody" in operation) == route.body
                assert ("security" in operation) == (not route.public)
        assert document["openapi"] == "3.1.0"

    def test_it_is_served_without_the_token_and_loads_in_schemathesis(self, serve):
        schemathesis = needed_package("schemathesis")
        server = serve("-n", env={"KALA_TOKEN": TOKEN})
        status, document, _ = server.client.call("GET", "/api/v1/openapi.json")
        assert status == 200 and "/api/v1/job/{id}/" in document["paths"]
        schema = schemathesis.openapi.from_dict(document)
        assert len(list(schema.get_all_operations())) == sum(
            method != "parameters" for item in document["paths"].values() for method in item)

    @pytest.mark.parametrize("base", [
        {"name": "n", "command": "true"},
        {"name": "n", "type": 1, "remote_properties": {"url": "http://127.0.0.1:1/x"}}],
        ids=["local", "remote"])
    def test_a_job_field_of_a_type_its_schema_refuses_is_refused(self, base):
        """Each field of a job request, and of its remote_properties, given each kind of
        JSON value: what the request schema refuses, job_from_request refuses too (the
        fuzzer found one such case by chance in 30 s; this tries them all)."""
        validator = needed_package("jsonschema_rs", "schemathesis").validator_for(kala._JOB_REQUEST_SCHEMA)
        values = [None, 0, -1, 1.5, "", "x", True, [], ["x"], [1], {}, {"a": 1}, {"a": ["x"]}]
        remote = base.get("remote_properties", {})
        bodies = [{**base, key: value} for key in kala._JOB_REQUEST_SCHEMA["properties"]
                  for value in values]
        bodies += [{**base, "remote_properties": {**remote, key: value}}
                   for key in kala._REMOTE_SCHEMA["properties"] for value in values]
        taken = []
        for body in bodies:
            if not validator.is_valid(body):
                try:
                    job_from_request(body, now=T0)
                    taken.append(body)
                except InvalidInput:
                    pass
        assert len(bodies) > 300 and taken == []

    def test_schemathesis_finds_nothing(self, serve, tmp_path):
        """Its examples, coverage, fuzzing (positive and negative) and stateful phases,
        every check but two, for KALA_FUZZ_SECONDS (4; CI: 30): positive_data_acceptance (a
        schema cannot say all a 400 checks: a schedule's grammar, that named jobs
        exist) and ensure_resource_availability (schemathesis 4.32 reports a job
        "just created" missing when a step between deleted it, as the server's log
        shows). The server has an empty PATH: no job the fuzzer creates runs a program."""
        needed_package("schemathesis")
        empty = tmp_path / "bin"
        empty.mkdir()
        server = serve("-n", "--workdir", str(empty), env={"KALA_TOKEN": TOKEN,
                                                           "PATH": str(empty)})
        seconds = os.environ.get("KALA_FUZZ_SECONDS", "4")
        fuzz = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run",
             f"http://127.0.0.1:{server.client.port}/api/v1/openapi.json",
             "-H", f"Authorization: Bearer {TOKEN}", "--checks", "all",
             "--exclude-checks", "positive_data_acceptance,ensure_resource_availability",
             "--max-time", seconds,
             "--seed", "2026", "--workers", "1", "--no-color",
             "--report-dir", str(tmp_path / "report")],
            capture_output=True, text=True, timeout=int(seconds) + 120, cwd=tmp_path)
        assert fuzz.returncode == 0, fuzz.stdout[-6000:] + fuzz.stderr[-2000:]
        assert "Traceback" not in "".join(server.log)
        assert server.client.call("GET", "/healthz")[0] == 200  # and it still serves


class TestRunOptions:

    """Starting without waiting, jobs that only run when triggered, what a failure
    job learns, a job's working directory."""

    @pytest.mark.parametrize("fields, words", [
        ({"retry_delay": "10s"}, "field 'retry_delay': invalid duration '10s'"),
        ({"retry_delay_max": "P"}, "field 'retry_delay_max'"),
        ({"retry_backoff": 0.5}, "field 'retry_backoff' must be a factor from 1"),
        ({"retry_backoff": "2"}, "retry_backoff"),
    ])
    def test_bad_retry_timing_is_refused(self, memory_api, fields, words):
        api = memory_api
        status, body, _ = api.call("POST", "/api/v1/job/", {"name": "j", "command": "true",
                                                            "retries": 1, **fields})
        assert status == 400 and words in body["error"]

    def test_a_start_without_waiting_answers_202_with_the_run_id(self, api, tmp_path):
        job_id = api.create(command=f"sh -c 'echo $KALA_RUN_ID > {tmp_path}/ran'",
                            trigger_only=True)
        status, body, _ = api.call("POST", f"/api/v1/job/start/{job_id}/?wait=false")
        assert status == 202 and isinstance(body["run_id"], int)
        [stat] = wait_for(lambda: api.stats(job_id), message="the run's stat")
        assert stat["run_id"] == body["run_id"] and stat["success"]
        assert (tmp_path / "ran").read_text() == f"{body['run_id']}\n"

    def test_a_bad_wait_flag_is_refused_and_runs_nothing(self, api):
        job_id = api.create(trigger_only=True)
        status, body, _ = api.call("POST", f"/api/v1/job/start/{job_id}/?wait=later")
        assert status == 400 and "wait='later' must be true or false" in body["error"]
        assert api.stats(job_id) == []

    def test_a_trigger_only_job_runs_only_when_started(self, api):
        waiting = api.create(name="waits", trigger_only=True)
        at_once = api.create(name="runs at once")  # Kala's default: no schedule, run now
        wait_for(lambda: api.stats(at_once), message="the job without a schedule to run")
        assert api.stats(waiting) == []
        assert api.job(waiting)["next_run_at"] == "0001-01-01T00:00:00Z"  # Go's zero time
        assert api.job(waiting)["trigger_only"]
        assert api.call("POST", f"/api/v1/job/start/{waiting}/")[0] == 204
        assert len(api.stats(waiting)) == 1

    def test_trigger_only_with_a_schedule_is_refused(self, api):
        status, body, _ = api.call("POST", "/api/v1/job/", {
            "name": "x", "command": "true", "trigger_only": True,
            "schedule": f"R/{iso(time.time() + 60)}/PT1M"})
        assert status == 400 and "trigger_only job has no schedule" in body["error"]
        assert api.jobs() == {}

    def test_a_failure_job_learns_what_failed(self, api, tmp_path):
        report = tmp_path / "report"
        handler = api.create(name="handler", trigger_only=True, command=(
            f"sh -c 'echo \"$KALA_FAILED_JOB_ID|$KALA_FAILED_JOB_NAME|$KALA_FAILED_RUN_ID|"
            f"$KALA_FAILED_ERROR\" > {report}'"))
        failing = api.create(name="nightly backup", command="sh -c 'exit 3'",
                             on_failure_job=handler, trigger_only=True)
        assert api.call("POST", f"/api/v1/job/start/{failing}/")[0] == 204
        wait_for(lambda: api.stats(handler), message="the failure job to run")
        [failed] = api.stats(failing)
        assert report.read_text() == (f"{failing}|nightly backup|{failed['run_id']}|"
                                      f"exit status 3\n")

    def test_a_job_runs_in_its_working_directory(self, api, tmp_path):
        job_id = api.create(command="pwd", cwd=str(tmp_path), trigger_only=True)
        api.call("POST", f"/api/v1/job/start/{job_id}/")
        assert api.stats(job_id)[0]["output"] == f"{tmp_path}\n"

    def test_a_missing_working_directory_fails_the_run_clearly(self, api, tmp_path):
        job_id = api.create(command="pwd", cwd=str(tmp_path / "gone"), trigger_only=True)
        api.call("POST", f"/api/v1/job/start/{job_id}/")
        [stat] = api.stats(job_id)
        assert not stat["success"] and stat["error"] == (
            f"working directory '{tmp_path / 'gone'}' does not exist (or is not a directory)")

    @pytest.mark.parametrize("cwd", ["reports", "./x", "/tmp/a\u0000b"])
    def test_a_working_directory_must_be_absolute(self, memory_api, cwd):
        api = memory_api
        status, body, _ = api.call("POST", "/api/v1/job/", {"name": "x", "command": "pwd",
                                                             "cwd": cwd})
        assert status == 400 and "'cwd' must be an absolute path" in body["error"]
        assert api.jobs() == {}

    def test_workdir_is_where_jobs_without_a_cwd_run(self, tmp_path):
        runner = kala.CommandRunner(workdir=str(tmp_path))
        job = Job(id="j", name="j", command="pwd")
        assert runner.attempt(job).output == f"{tmp_path}\n"
        elsewhere = tmp_path / "own"
        elsewhere.mkdir()
        assert runner.attempt(Job(id="k", name="k", command="pwd", cwd=str(elsewhere))
                              ).output == f"{elsewhere}\n"

    def test_a_missing_workdir_stops_serve_with_one_line(self, tmp_path):
        done = kala_cli("serve", "-n", "-p", "0", "--workdir", str(tmp_path / "none"))
        assert done.returncode == 2 and "--workdir" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr

    @at_once()
    def test_retries_wait_and_survive_a_kill_of_their_process(self, serve, database,
                                                                tmp_path):
        tries = tmp_path / "tries"
        first = serve("--db", database, "--node-lease", "1.5")
        job_id = first.client.create(
            trigger_only=True, retries=1, retry_delay="PT2S",
            command=f"sh -c 'echo $KALA_NODE >> {tries}; [ $(wc -l < {tries}) -ge 2 ]'")
        first.client.call("POST", f"/api/v1/job/start/{job_id}/?wait=false")
        wait_for(lambda: query_database(database, "SELECT retry_at FROM runs")[0][0],
                 message="the retry to wait in the database")
        first.kill()  # while the retry waits: no thread, no process holds it any more
        second = serve("--db", database, "--node-lease", "1.5")
        [stat] = wait_for(lambda: second.client.stats(job_id), timeout=15,
                          message="the retry, run by the new process")
        nodes = tries.read_text().split()
        assert len(nodes) == 2 and nodes[0] != nodes[1] == stat["node"]
        assert (stat["success"], stat["number_of_retries"]) == (True, 1)
        job = second.client.job(job_id)
        assert (job["success_count"], job["error_count"]) == (1, 1)


class TestEditingJobs:
    """PUT /api/v1/job/{id}/ replaces a definition and keeps the job's id, counters,
    history and place in a chain."""

    def test_an_edit_keeps_id_counters_history_and_children(self, api, tmp_path):
        parent = api.create(name="parent", trigger_only=True, command="echo before")
        child = api.create(name="child", parent_jobs=[parent])
        api.call("POST", f"/api/v1/job/start/{parent}/")
        wait_for(lambda: api.stats(child), message="the child after its parent")
        edited = {**api.job(parent), "name": "renamed", "command": "echo after"}
        status, body, _ = api.call("PUT", f"/api/v1/job/{parent}/", edited)
        assert status == 200 and body["job"]["id"] == parent
        job = api.job(parent)
        assert (job["name"], job["command"], job["success_count"], job["dependent_jobs"]) == (
            "renamed", "echo after", 1, [child])
        api.call("POST", f"/api/v1/job/start/{parent}/")
        assert [stat["output"] for stat in api.stats(parent)] == ["before\n", "after\n"]
        wait_for(lambda: len(api.stats(child)) == 2, message="the child to run again")

    def test_a_changed_schedule_starts_at_its_next_occurrence_without_catch_up(self, api):
        job_id = api.create(schedule=f"R/{iso(time.time() + 3600)}/PT1H")
        # The new schedule began three hours ago: none of its past occurrences run.
        begun = time.time() - 3 * 3600 - 1
        status, body, _ = api.call("PUT", f"/api/v1/job/{job_id}/", {
            "name": "job", "command": "true", "schedule": f"R/{iso(begun)}/PT1H"})
        assert status == 200
        assert abs(utc(api.job(job_id)["next_run_at"]) - (begun + 4 * 3600)) < 1e-3
        assert api.stats(job_id) == []

    def test_an_unchanged_schedule_keeps_its_place(self, api):
        start = time.time() + 3600
        job_id = api.create(schedule=f"R/{iso(start)}/PT1H", disabled=True)
        before = api.job(job_id)
        assert api.call("PUT", f"/api/v1/job/{job_id}/", {**before, "retries": 2})[0] == 200
        after = api.job(job_id)
        assert (after["next_run_at"], after["retries"], after["disabled"]) == (
            before["next_run_at"], 2, True)  # disabled stays, since the body says so

    @pytest.mark.parametrize("change, words", [
        ({"command": ""}, "field 'command' is required"),
        ({"schedule": "R/nonsense"}, "schedule"),
        ({"retries": -1}, "retries"),
        ({"parent_jobs": ["0b7f39a5-5f5e-4d36-9b2b-2cf0bdbf6a3e"]}, "an edit keeps"),
        ({"on_failure_job": "nope"}, "on_failure_job 'nope' does not exist"),
    ])
    def test_a_refused_edit_changes_nothing(self, memory_api, change, words):
        api = memory_api
        job_id = api.create(name="kept", command="echo kept", trigger_only=True)
        before = api.job(job_id)
        status, body, _ = api.call("PUT", f"/api/v1/job/{job_id}/", {**before, **change})
        assert status == 400 and words in body["error"], body
        assert api.job(job_id) == before

    def test_editing_a_missing_job_is_404(self, api):
        status, body, _ = api.call("PUT", "/api/v1/job/0b7f39a5-5f5e-4d36-9b2b-2cf0bdbf6a3e/",
                                   {"name": "x", "command": "true"})
        assert status == 404 and "no job with id" in body["error"]


class TestBoundedHistory:
    def test_keep_runs_bounds_each_jobs_history(self, serve, tmp_path):
        api = serve("--db", str(tmp_path / "k.db"), "--keep-runs", "3").client
        job_id = api.create(command="sh -c 'echo $KALA_RUN_ID'", trigger_only=True)
        for _ in range(5):
            assert api.call("POST", f"/api/v1/job/start/{job_id}/")[0] == 204
        wait_for(lambda: len(api.stats(job_id)) == 3, message="the oldest two runs pruned")
        assert [int(stat["output"]) for stat in api.stats(job_id)] == sorted(
            stat["run_id"] for stat in api.stats(job_id))[-3:]
        job = api.job(job_id)
        assert (job["success_count"], job["metadata"]["number_of_finished_runs"]) == (5, 5)

    def test_a_bad_keep_runs_gets_one_line(self):
        done = kala_cli("serve", "-n", "-p", "0", "--keep-runs", "-1")
        assert done.returncode == 2 and "--keep-runs" in done.stderr
        assert "Traceback" not in done.stderr


class TestRunLog:
    def test_each_finished_run_is_one_json_line_and_the_token_never_appears(self, serve):
        token = "tok-log-5e8a1c"
        process = serve("-n", "-v", "--log-format", "json", "--token", token,
                        headers={"Authorization": f"Bearer {token}"})
        api = process.client
        ok = api.create(name="fine", trigger_only=True)
        bad = api.create(name="broken", command="sh -c 'exit 4'", trigger_only=True)
        for job_id in (ok, bad):
            api.call("POST", f"/api/v1/job/start/{job_id}/")
        Client(api.port).call("GET", f"/api/v1/job/?token={token}")  # refused, and logged
        entries = wait_for(lambda: [json.loads(line) for line in list(process.log)
                                    if '"run_id"' in line] if sum(
            '"run_id"' in line for line in list(process.log)) >= 2 else None,
            message="a log line for each run")
        runs = {entry["job_id"]: entry for entry in entries}
        assert (runs[ok]["level"], runs[ok]["result"], runs[ok]["job_name"]) == (
            "INFO", "succeeded", "fine")
        assert (runs[bad]["level"], runs[bad]["result"], runs[bad]["error"]) == (
            "WARNING", "failed", "exit status 4")
        assert runs[ok]["run_id"] == api.stats(ok)[0]["run_id"]
        assert runs[ok]["duration_s"] >= 0 and runs[ok]["attempts"] == 1
        assert all(json.loads(line) for line in list(process.log))  # every line is JSON
        assert token not in "".join(process.log)

    def test_a_bad_log_format_gets_one_line(self):
        done = kala_cli("serve", "-n", "-p", "0", "--log-format", "xml")
        assert done.returncode == 2 and "'xml' is not a log format" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


class TestRunOutput:
    def test_each_attempt_of_a_retried_run_keeps_its_output(self, api, tmp_path):
        count = tmp_path / "count"
        job_id = api.create(retries=2, trigger_only=True, command=(
            f"sh -c 'echo try >> {count}; n=$(wc -l < {count}); echo attempt $n; "
            f"test $n -ge 3'"))
        api.call("POST", f"/api/v1/job/start/{job_id}/")
        [stat] = api.stats(job_id)
        assert stat["success"] and stat["number_of_retries"] == 2
        assert stat["output"] == (
            "[kala.py: attempt 1 failed: exit status 1]\nattempt 1\n"
            "[kala.py: attempt 2 failed: exit status 1]\nattempt 2\n"
            "[kala.py: attempt 3 succeeded]\nattempt 3\n")
        assert (stat["output_truncated"], stat["output_dropped_bytes"]) == (False, 0)

    def test_a_long_output_is_marked_truncated_in_the_stat(self, api):
        job_id = api.create(command="seq 1 30000", trigger_only=True)  # 168,894 bytes
        api.call("POST", f"/api/v1/job/start/{job_id}/")
        [stat] = api.stats(job_id)
        dropped = stat["output_dropped_bytes"]
        assert stat["output_truncated"] and stat["output"].startswith(
            f"[kala.py: {dropped} earlier bytes of output dropped]\n")
        assert stat["output"].endswith("\n30000\n")
        assert len(stat["output"].split("\n", 1)[1]) + dropped == 168894

    def test_a_database_from_before_the_column_gets_it(self, tmp_path):
        if sqlite3.sqlite_version_info < (3, 35):
            pytest.skip("dropping a column (to make an old database) needs SQLite 3.35")
        path = str(tmp_path / "old.db")
        store = Store(path)
        job = create(store)
        store.close()
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("ALTER TABLE runs DROP COLUMN output_dropped")
            db.commit()
        store = Store(path)
        claim = store.claim_run(job.id, "k", "manual", "n", T0)
        store.finish_run(claim, "n", kala.RunResult(True, T0, T0 + 1, 0, 0, "x", "", 7))
        assert store.job_stats(job.id)[0].output_dropped == 7


class TestPersistence:

    def test_no_persist_keeps_nothing(self, serve, tmp_path):
        first = serve("-n", "--db", str(tmp_path / "unused.db"))
        first.client.create(schedule=f"R/{iso(time.time() + 3600)}/PT1H")
        first.kill()
        assert serve("-n").client.jobs() == {}
        assert not (tmp_path / "unused.db").exists()

    @at_once()
    def test_everything_acknowledged_survives_kill_9(self, serve, database):
        first = serve("--db", database)
        api = first.client
        later = iso(time.time() + 3600)
        scheduled = api.create(name="scheduled", schedule=f"R/{later}/PT1H", retries=2,
                               epsilon="PT5M", owner="ops", timezone="Europe/Berlin")
        once = api.create(name="once", command="sh -c 'echo once'")
        child = api.create(name="child", parent_jobs=[scheduled])
        disabled = api.create(name="off", schedule=f"R/{later}/P1D", disabled=True)
        remote = api.create(name="hook", type=1, schedule=f"R0/{later}/",
                            remote_properties={"url": "http://127.0.0.1:1/x", "method": "POST",
                                               "headers": {"A": ["b"]}})
        assert api.call("POST", f"/api/v1/job/start/{scheduled}/")[0] == 204
        wait_for(lambda: api.job(once)["is_done"] and api.stats(child), message="the runs")
        before = api.jobs()
        stats_before = {job_id: api.stats(job_id) for job_id in before}
        first.kill()

        again = serve("--db", database).client
        assert again.jobs() == before
        assert {job_id: again.stats(job_id) for job_id in before} == stats_before
        assert set(before) == {scheduled, once, child, disabled, remote}
        assert before[scheduled]["dependent_jobs"] == [child]
        assert before[scheduled]["success_count"] == 1
        assert before[once]["is_done"] is True
        assert again.call("POST", f"/api/v1/job/start/{once}/")[0] == 204
        assert again.job(once)["success_count"] == 2

    @at_once()
    def test_a_job_created_just_before_kill_9_is_there_and_runs(self, serve, database, tmp_path):
        out = tmp_path / "out"
        first = serve("--db", database)
        ids = [first.client.create(name=f"j{i}", schedule=f"R0/{iso(time.time() + 1.0)}/",
                                   command=f"sh -c 'echo {i} >> {out}'") for i in range(20)]
        first.kill()  # before any of them was due
        again = serve("--db", database).client
        assert set(again.jobs()) == set(ids)
        wait_for(lambda: all(again.job(i)["metadata"]["number_of_finished_runs"] == 1
                             for i in ids), message="the missed runs")
        assert sorted(out.read_text().split()) == sorted(str(i) for i in range(20))

    @at_once()
    def test_missed_occurrences_after_a_restart_follow_the_catch_up_rule(self, serve, database):
        first = serve("--db", database)
        start = time.time() + 0.5
        once = f"R0/{iso(start)}/"
        ids = {name: first.client.create(name=name, schedule=once, **fields) for name, fields in [
            ("plain", {}), ("resumes", {"resume_at_next_scheduled_time": True}),
            ("strict", {"epsilon": "PT0.5S"}), ("tolerant", {"epsilon": "PT1M"})]}
        every = first.client.create(name="every", schedule=f"R/{iso(start)}/PT0.1S")
        first.kill()
        wait_for(lambda: time.time() > start + 1.0, timeout=5,
                 message="the occurrences to pass while nothing runs")
        restarted = time.time()
        again = serve("--db", database).client
        for name in ("plain", "tolerant"):
            [stat] = wait_for(lambda: again.stats(ids[name]), message=f"{name}'s catch-up run")
            assert (stat["success"], utc(stat["scheduled_for"])) == (True, pytest.approx(start))
        for name in ("resumes", "strict"):  # claimed in the same transaction, and skipped
            assert again.job(ids[name])["is_done"] and again.stats(ids[name]) == []
        # The missed PT0.1S occurrences were coalesced: the first run after the
        # restart is the latest of them, not occurrence 0 replayed.
        first_run = wait_for(lambda: again.stats(every), message="every's runs")[0]
        assert utc(first_run["scheduled_for"]) > restarted - 0.11

    @at_once()
    def test_sigterm_stops_cleanly(self, serve, database):
        process = serve("--db", database)
        process.stop()
        assert process.process.returncode == 0
        assert any("stopped" in line for line in process.log)

    def test_a_sigterm_dropped_inside_a_finalizer_still_stops_the_server(self, monkeypatch):
        """CI twice saw a serve still in its accept loop 20 s after SIGTERM: the handler's
        KeyboardInterrupt can land in a finalizer the garbage collector runs on the main
        thread, where Python prints it and goes on. The loop's next turn raises it again."""
        class Finalized:
            def __del__(self):
                os.kill(os.getpid(), signal.SIGTERM)  # the handler runs here, and raises

        dropped = []
        monkeypatch.setattr(sys, "unraisablehook", dropped.append)
        saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
        store = Store()
        server = kala.KalaServer(("127.0.0.1", 0), kala.KalaApp(store, Scheduler(store)))
        try:
            server.stop_request = stop = kala.StopRequest()
            stop.install()
            cycle = Finalized()
            cycle.itself = cycle
            del cycle
            gc.collect()
            assert [type(report.exc_value) for report in dropped] == [KeyboardInterrupt]
            give_up = threading.Timer(10.0, server.shutdown)  # then it returns: no raise
            give_up.start()
            try:
                with pytest.raises(KeyboardInterrupt):
                    server.serve_forever(0.01)
            finally:
                give_up.cancel()
        finally:
            for signum, handler in saved.items():
                signal.signal(signum, handler)
            server.server_close()
            store.close()

    @at_once(("sqlite",))  # the writers' flock is SQLite's; its 5.5 s wait overlaps others
    def test_a_stop_that_hangs_ends_at_its_deadline_saying_where(self, serve, database):
        process = serve("--db", database, "--stop-timeout", "0.5")
        job_id = process.client.create(name="kept")
        lock = os.open(database + "-locks/write.lock", os.O_RDWR)  # every write now waits
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            process.process.terminate()
            assert process.process.wait(20) == 1  # after --stop-timeout plus STOP_MARGIN
        finally:
            os.close(lock)
        process._drainer.join(10)
        log = "".join(process.log)
        assert "still stopping after 5.5 s (--stop-timeout plus 5): exiting now" in log
        assert "_writer_turn" in log  # the thread stuck on the lock, with its stack
        again = serve("--db", database)
        assert again.client.job(job_id)["name"] == "kept"


class TestSeveralProcesses:

    """Several serve processes on one database run each occurrence exactly once."""

    LEASE = "1.5"

    def cluster(self, context):
        """What a test asking for ``cluster`` gets (at_once): a starter of ``count`` serve
        processes on its store's database, returned once each has registered."""
        def start(count, *extra):
            processes = [context.serve("--db", context.database, "--node-lease", self.LEASE,
                                       *extra, wait=False) for _ in range(count)]
            for process in processes:
                process.ready()
            wait_for(lambda: len(processes[0].client.call("GET", "/api/v1/stats/")[1][
                "Stats"]["nodes"]) == count, message="every process to register")
            return processes
        return start

    @staticmethod
    def recorder(out):
        """A command that writes which occurrence of which job it is."""
        return f"sh -c 'echo $KALA_JOB_ID@$KALA_SCHEDULED_FOR >> {out}'"

    def check_exactly_once(self, client, job_ids, out, start, interval, count):
        lines = out.read_text().split()
        assert len(lines) == len(set(lines)), "an occurrence ran twice"
        for job_id in job_ids:
            stats = client.stats(job_id)
            scheduled = [s["scheduled_for"] for s in stats]
            assert len(scheduled) == len(set(scheduled)), "an occurrence was claimed twice"
            assert sorted(utc(t) for t in scheduled) == pytest.approx(
                [start + k * interval for k in range(count)], abs=1e-5), "an occurrence was lost"
            ran = {line.split("@", 1)[1] for line in lines if line.startswith(job_id)}
            assert ran <= set(scheduled)
            for stat in stats:
                if stat["success"]:
                    assert stat["scheduled_for"] in ran
                else:
                    assert stat["error"] == kala.NODE_DIED
        return lines

    def schedule_jobs(self, client, out, jobs=4, interval=0.2, count=10, lead=0.7):
        start = time.time() + lead
        ids = [client.create(name=f"j{i}", command=self.recorder(out),
                             schedule=f"R{count - 1}/{iso(start)}/PT{interval}S")
               for i in range(jobs)]
        return ids, start

    @staticmethod
    def wait_until_done(client, ids, count, timeout=20):
        wait_for(lambda: all(client.job(i)["metadata"]["number_of_finished_runs"] == count
                             for i in ids), timeout=timeout, message="every occurrence")

    def start_in_background(self, client, job_id):
        thread = threading.Thread(target=lambda: self._start_quietly(client, job_id),
                                  daemon=True)
        thread.start()
        return thread

    @staticmethod
    def _start_quietly(client, job_id):
        try:
            client.call("POST", f"/api/v1/job/start/{job_id}/")
        except OSError:
            pass  # the process serving it was killed

    @staticmethod
    def claimed_by(database, job_id):
        """The process holding a job's run, read from the database itself."""
        rows = query_database(database, "SELECT node FROM runs WHERE job_id = ?", (job_id,))
        return rows[0][0] if rows else None

    @pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="needs Linux's /proc/locks")
    def test_serve_holds_its_sqlite_lock_on_the_database_file(self, serve, db_path):
        # Closing any descriptor of a file drops the POSIX locks a process holds on
        # it; then another process closing its connection thinks itself the last
        # one, checkpoints and resets the WAL under the feet of the others.
        process = serve("--db", db_path)
        inode = os.stat(db_path).st_ino
        with open("/proc/locks") as table:
            held = [line for line in table
                    if f":{inode} " in line and f" {process.process.pid} " in line]
        assert held, "the serve process holds no lock on its database file"

    @at_once()
    def test_forbid_holds_across_processes_and_a_dead_ones_run_stops_holding(
            self, serve, database, tmp_path):
        """dkron #349: a run whose process died must not keep a forbid job from ever
        running again."""
        processes = [serve("--db", database, "--node-lease", self.LEASE, "--node-id", node,
                           wait=False) for node in ("a", "b")]
        for process in processes:
            process.ready()
        client = processes[0].client
        job_id = client.create(command=blocking(tmp_path), schedule="@every 300ms",
                               concurrency="forbid")
        [first] = wait_for(lambda: (tmp_path / "ran").exists()
                           and (tmp_path / "ran").read_text().split(), message="the first run")
        running_on = first.split("@")[1]
        wait_for(lambda: {s["node"] for s in client.stats(job_id) if s["skipped"]} == {"a", "b"},
                 message="both processes to skip while it runs")
        dead, survivor = processes if running_on == "a" else processes[::-1]
        dead.kill()
        wait_for(lambda: len((tmp_path / "ran").read_text().split()) >= 2, timeout=15,
                 message="a new run once the dead process's run stopped counting")
        (tmp_path / "release").touch()
        survivor.client.call("POST", f"/api/v1/job/disable/{job_id}/")
        stats = survivor.client.stats(job_id)
        assert [s["error"] for s in stats if not s["skipped"] and not s["success"]] == [
            kala.NODE_DIED]
        runs = (tmp_path / "ran").read_text().split()
        assert len(runs) == len(set(runs)) and runs[1].split("@")[1] != running_on

    @pytest.mark.parametrize("death", ["killed", "stopped"])
    @at_once()
    def test_a_node_taken_for_dead_is_logged_with_what_became_of_its_runs(
            self, serve, database, tmp_path, death):
        victim, survivor = (serve("--db", database, "--node-lease", self.LEASE, "--node-id",
                                  node, wait=False) for node in ("victim", "survivor"))
        victim.ready()
        survivor.ready()
        job_id = victim.client.create(command=blocking(tmp_path), trigger_only=True)
        victim.client.call("POST", f"/api/v1/job/start/{job_id}/?wait=false")
        wait_for(lambda: (tmp_path / "ran").exists(), message="the run to start")
        if death == "killed":
            victim.kill()
            how = "its lock was freed"
        else:
            pause_outside_a_write(victim, database)
            how = r"its heartbeat is [0-9.]+ s old, over its lease of 1\.5 s"
        try:
            [line] = wait_for(lambda: [line for line in survivor.log if "taken for dead" in line],
                              message="the death in the survivor's log")
        finally:
            victim.process.send_signal(signal.SIGCONT)
            (tmp_path / "release").touch()
        assert re.search(
            rf" WARNING node victim taken for dead \({how}\): 0 run\(s\) it had claimed and "
            rf"not started taken over to run here, 1 recorded 'node died' \(0 of them retried "
            rf"here\), 0 chain\(s\) of follow-ups it owed finished here$", line.rstrip()), line
        [seen] = [node for node in survivor.client.call("GET", "/api/v1/stats/")[1]["Stats"][
            "nodes"] if node["id"] == "survivor"]
        assert seen["deaths_seen"] == 1

    @at_once()
    def test_stop_reaches_a_run_going_on_another_process_and_its_output_shows(
            self, serve, database, tmp_path):
        a, b = (serve("--db", database, "--node-lease", self.LEASE, "--node-id", node,
                      wait=False) for node in ("a", "b"))
        a.ready()
        b.ready()
        job_id = a.client.create(trigger_only=True, command=(
            f"sh -c 'echo $$ > {tmp_path}/pid; echo line one; i=0; "
            f"while [ ! -e {tmp_path}/release ] && [ $i -lt 600 ]; do sleep 0.05; "
            f"i=$((i + 1)); done'"))
        run = a.client.call("POST", f"/api/v1/job/start/{job_id}/?wait=false")[1]["run_id"]
        [going] = wait_for(lambda: [r for r in b.client.call(
            "GET", f"/api/v1/job/running/{job_id}/")[1]["runs"] if r["output"]],
            message="the output of the run on a, seen through b")
        assert (going["run_id"], going["node"], going["output"]) == (run, "a", "line one\n")
        pid = int((tmp_path / "pid").read_text())
        assert b.client.call("POST", f"/api/v1/job/stop/{job_id}/")[1] == {"stopping": [run]}
        [stat] = wait_for(lambda: b.client.stats(job_id), message="the run on a to end")
        assert (stat["run_id"], stat["node"], stat["success"], stat["error"]) == (
            run, "a", False, kala.STOPPED_BY_REQUEST)
        assert not os.path.exists(f"/proc/{pid}")
        nodes = {node["id"]: node for node in b.client.call(
            "GET", "/api/v1/stats/")[1]["Stats"]["nodes"]}
        assert [(nodes[n]["runs_going"], nodes[n]["deaths_seen"]) for n in "ab"] == [
            (0, 0), (0, 0)]

    @at_once()
    def test_replace_ends_a_run_going_on_another_process(self, serve, database, tmp_path):
        processes = [serve("--db", database, "--node-lease", self.LEASE, "--node-id", node,
                           wait=False) for node in ("a", "b")]
        for process in processes:
            process.ready()
        job_id = processes[0].client.create(command=blocking(tmp_path), trigger_only=True,
                                            concurrency="replace")
        first = processes[0].client.call(
            "POST", f"/api/v1/job/start/{job_id}/?wait=false")[1]["run_id"]
        wait_for(lambda: (tmp_path / "ran").exists(), message="the first run")
        second = processes[1].client.call(
            "POST", f"/api/v1/job/start/{job_id}/?wait=false")[1]["run_id"]
        [replaced] = wait_for(lambda: processes[1].client.stats(job_id),
                              message="the run on the other process to end")
        assert (replaced["run_id"], replaced["node"], replaced["error"]) == (
            first, "a", f"replaced by run {second} (concurrency replace)")
        (tmp_path / "release").touch()
        wait_for(lambda: len(processes[0].client.stats(job_id)) == 2, message="the second run")

    @at_once()
    def test_cron_jobs_run_each_second_once_across_processes(self, cluster, tmp_path):
        out = tmp_path / "out"
        processes = cluster(2)
        ids = [processes[i % 2].client.create(name=f"c{i}", command=self.recorder(out),
                                              schedule="* * * * * *") for i in range(4)]
        wait_for(lambda: all(len(processes[0].client.stats(i)) >= 3 for i in ids),
                 message="three runs of each job")
        for job_id in ids:
            processes[1].client.call("POST", f"/api/v1/job/disable/{job_id}/")
        lines = out.read_text().split()
        assert len(lines) == len(set(lines)), "an occurrence ran twice"
        for job_id in ids:
            scheduled = sorted(utc(s["scheduled_for"]) for s in processes[0].client.stats(job_id))
            assert scheduled == [scheduled[0] + k for k in range(len(scheduled))], (
                "an occurrence was claimed twice or lost")
            ran = {line.split("@", 1)[1] for line in lines if line.startswith(job_id)}
            assert {utc(t) for t in ran} <= set(scheduled)

    @at_once()
    def test_three_processes_run_each_occurrence_once_and_share_the_work(self, cluster,
                                                                          tmp_path):
        out = tmp_path / "out"
        processes = cluster(3)
        ids, start = self.schedule_jobs(processes[1].client, out)
        self.wait_until_done(processes[2].client, ids, 10)
        self.check_exactly_once(processes[0].client, ids, out, start, 0.2, 10)
        nodes = {stat["node"] for job_id in ids for stat in processes[0].client.stats(job_id)}
        assert len(nodes) >= 2, f"all runs were taken by {nodes}"
        views = [p.client.jobs() for p in processes]
        assert views[0] == views[1] == views[2]

    @pytest.mark.skipif(not os.environ.get("KALA_SOAK"),
                        reason="twelve minutes of real time: set KALA_SOAK=1")
    @at_once()
    def test_occurrences_beyond_the_timer_window_run_once_on_time(self, cluster, serve,
                                                                  database, tmp_path):
        """In real time, occurrences due further ahead than TIMER_HORIZON (600 s): each
        process's window moves every five minutes, one process is killed half-way and
        another starts with a window of its own; each occurrence runs once, on time."""
        out = tmp_path / "out"
        processes = cluster(2)
        now = time.time()
        client = processes[0].client
        once = {client.create(name=f"in {30 + 60 * k} s", command=self.recorder(out),
                              schedule=f"R0/{iso(now + 30 + 60 * k)}/"): now + 30 + 60 * k
                for k in range(12)}
        every = client.create(name="every 97 s", command=self.recorder(out),
                              schedule=f"R/{iso(now + 45)}/PT97S")
        wait_for(lambda: time.time() > now + 330, timeout=400, interval=1,
                 message="the first move of the windows")
        processes[1].kill()
        serve("--db", database, "--node-lease", self.LEASE)
        end = max(once.values()) + 5
        wait_for(lambda: time.time() > end, timeout=end - time.time() + 60, interval=1,
                 message="the last occurrence")
        client.call("POST", f"/api/v1/job/disable/{every}/")
        for job_id, when in once.items():
            [stat] = client.stats(job_id)
            assert stat["success"], stat
            assert abs(utc(stat["scheduled_for"]) - when) < 1e-3
            assert 0 <= utc(stat["ran_at"]) - when < 2, stat
        runs = client.stats(every)
        scheduled = [utc(stat["scheduled_for"]) for stat in runs]
        assert len(runs) >= 7 and len(set(scheduled)) == len(scheduled)
        assert all(0 <= utc(stat["ran_at"]) - utc(stat["scheduled_for"]) < 2 for stat in runs)
        executed = collections.Counter(out.read_text().split())
        assert len(executed) == len(once) + len(runs) and set(executed.values()) == {1}

    # Occurrences fall every 0.2 s from the start: kill just before the one at
    # +1.2 s (after it was claimed, 0.1 s ahead), just as it starts (its runs
    # under way), or between two of them.
    @pytest.mark.parametrize("kill_at", [1.16, 1.202, 1.3], ids=["before", "during", "after"])
    @at_once()
    def test_a_process_killed_mid_way_loses_and_repeats_nothing(self, cluster, tmp_path,
                                                                kill_at):
        out = tmp_path / "out"
        processes = cluster(3)
        ids, start = self.schedule_jobs(processes[0].client, out)
        wait_for(lambda: time.time() > start + kill_at, interval=0.001,
                 message="the schedule to be under way")
        processes[1].kill()
        killed_at = time.time()
        self.wait_until_done(processes[2].client, ids, 10)
        self.check_exactly_once(processes[0].client, ids, out, start, 0.2, 10)
        # What the killed process had claimed ahead of the kill never started, so a
        # survivor ran it instead of failing it; only runs it had started before it
        # died (a loaded machine may leave several unrecorded) end 'node died'.
        stats = [s for i in ids for s in processes[0].client.stats(i)]
        assert [s["scheduled_for"] for s in stats if not s["success"]
                and utc(s["scheduled_for"]) > killed_at] == []
        wait_for(lambda: len(processes[0].client.call("GET", "/api/v1/stats/")[1][
            "Stats"]["nodes"]) == 2, message="the killed process to be taken for dead")

    @pytest.mark.parametrize("retries, runs", [(0, 1), (1, 2)])
    @at_once()
    def test_a_run_killed_with_its_process_fails_and_is_retried_only_with_retries(
            self, cluster, tmp_path, retries, runs):
        out = tmp_path / "out"
        victim, survivor = cluster(2)
        job_id = victim.client.create(
            retries=retries, schedule=f"R0/{iso(time.time() + 3600)}/",
            command=f"sh -c 'echo start >> {out}; sleep 0.5; echo \"$KALA_NODE\" >> {out}'")
        self.start_in_background(victim.client, job_id)
        wait_for(lambda: out.exists() and out.read_text(), message="the run to start")
        victim.kill()
        job = wait_for(lambda: (lambda j: j["metadata"]["number_of_finished_runs"] == runs and j)(
            survivor.client.job(job_id)), message="the run to be settled")
        stats = survivor.client.stats(job_id)
        assert [(s["success"], s["error"]) for s in stats][0] == (False, kala.NODE_DIED)
        assert job["error_count"] == 1 and job["success_count"] == runs - 1
        if retries:
            assert (stats[1]["success"], stats[1]["number_of_retries"], stats[1]["node"]) == (
                True, 1, survivor.client.call("GET", "/api/v1/stats/")[1]["Stats"]["nodes"][0]
                ["id"])
        wait_for(lambda: out.read_text().count("start") == runs and len(
            out.read_text().split()) == 2 * runs, message="the commands to end")

    @at_once()
    def test_a_paused_process_past_its_lease_cannot_record_its_late_result(self, cluster,
                                                                           tmp_path):
        out = tmp_path / "out"
        paused, other = cluster(2)
        job_id = paused.client.create(
            schedule=f"R0/{iso(time.time() + 3600)}/",
            command=f"sh -c 'echo start >> {out}; sleep 0.3; echo end >> {out}'")
        caller = self.start_in_background(paused.client, job_id)
        wait_for(lambda: out.exists() and out.read_text(), message="the run to start")
        paused.process.send_signal(signal.SIGSTOP)
        stopped = time.time()
        try:
            # Paused past its lease (it may hold the writers' lock: then the others
            # wait for it, and reap it as soon as it lets go).
            wait_for(lambda: time.time() > stopped + float(self.LEASE) + 1.0,
                     message="the lease to expire")
        finally:
            paused.process.send_signal(signal.SIGCONT)
        [stat] = wait_for(lambda: other.client.stats(job_id), message="the run to be failed")
        assert (stat["success"], stat["error"]) == (False, kala.NODE_DIED)
        caller.join(10)
        wait_for(lambda: "end" in out.read_text(), message="the command to end")
        # The paused process came back and answered, but its late success was not counted.
        assert [s["success"] for s in paused.client.stats(job_id)] == [False]
        assert paused.client.job(job_id)["success_count"] == 0
        wait_for(lambda: len(other.client.call("GET", "/api/v1/stats/")[1]["Stats"]["nodes"])
                 == 2, message="the paused process to rejoin")

    @pytest.mark.parametrize("then, retries", [("continued", 1), ("killed", 0)])
    @at_once()
    def test_a_process_stopped_after_claiming_leaves_the_run_to_a_survivor(
            self, serve, database, tmp_path, then, retries):
        paused = serve("--db", database, "--node-lease", self.LEASE)
        tries = []
        for attempt in range(5):  # until the stop lands between the claim (0.1 s ahead) and start
            out = tmp_path / f"out{attempt}"  # a missed try's run writes to its own file
            start = time.time() + 1.0
            job_id = paused.client.create(schedule=f"R0/{iso(start)}/", retries=retries,
                                          command=self.recorder(out))
            with database_reader(database) as read:
                # Stopped as soon as the claim is seen: on a loaded machine the claim
                # itself may come late, and a stop timed by the clock miss it.
                wait_for(lambda: read("SELECT id FROM runs WHERE job_id = ?", (job_id,)),
                         interval=0.001, message="the claim")
                pause_outside_a_write(paused, database)  # not holding SQLite's flock
                in_time = time.time() < start - 0.005
                unstarted = read("SELECT id FROM runs WHERE job_id = ? AND started_at IS NULL",
                                 (job_id,))
            tries.append(dict(in_time=in_time, unstarted=bool(unstarted),
                              ran=out.exists(), seen=round(time.time() - start, 3)))
            if in_time and unstarted and not out.exists():
                break
            paused.process.send_signal(signal.SIGCONT)
            self.wait_until_done(paused.client, [job_id], 1)
        else:
            pytest.fail(f"the stop never landed between a claim and its start: {tries}")
        survivor = serve("--db", database, "--node-lease", self.LEASE)
        [stat] = wait_for(lambda: survivor.client.stats(job_id), message="the survivor's run")
        survivor_node = survivor.client.call("GET", "/api/v1/stats/")[1]["Stats"]["nodes"][-1]
        assert (stat["success"], stat["error"], stat["number_of_retries"]) == (True, "", 0)
        if then == "continued":
            paused.process.send_signal(signal.SIGCONT)
            wait_for(lambda: any("not starting run" in line for line in paused.log),
                     message="the paused process to give the run up")
        else:
            paused.kill()
        assert out.read_text().split() == [f"{job_id}@{stat['scheduled_for']}"]
        assert survivor.client.stats(job_id) == [stat]
        assert stat["node"] != self.claimed_by(database, job_id) or survivor_node

    @at_once()
    def test_a_late_claim_waiting_for_a_slot_survives_a_kill(self, serve, database, tmp_path):
        out = tmp_path / "out"
        creator = serve("--db", database)
        start = time.time() + 0.6
        busy = creator.client.create(name="busy", schedule=f"R0/{iso(start)}/",
                                     command=f"sh -c 'echo busy >> {out}; sleep 3'")
        waiting = creator.client.create(name="waiting", schedule=f"R0/{iso(start + 0.1)}/",
                                        command=self.recorder(out))
        creator.kill()  # before either is due
        wait_for(lambda: time.time() > start + 0.5, message="both occurrences to pass")
        # Both are claimed late at start-up; "waiting" waits for the only slot.
        victim = serve("--db", database, "--workers", "1", "--node-lease", self.LEASE)
        wait_for(lambda: out.exists() and "busy" in out.read_text(), message="busy to start")
        victim.kill()
        survivor = serve("--db", database, "--node-lease", self.LEASE)
        [stat] = wait_for(lambda: survivor.client.stats(waiting), message="waiting's run")
        assert (stat["success"], stat["error"]) == (True, "")
        assert out.read_text().split() == ["busy", f"{waiting}@{stat['scheduled_for']}"]
        [busy_stat] = wait_for(lambda: survivor.client.stats(busy), message="busy's stat")
        assert busy_stat["error"] == kala.NODE_DIED  # it had started: it died with its process

    @at_once()
    def test_changes_through_one_process_hold_on_all(self, cluster, database, tmp_path):
        out = tmp_path / "out"
        a, b, c = cluster(3)
        start = time.time() + 0.5
        disabled = a.client.create(name="d", command=self.recorder(out),
                                   schedule=f"R/{iso(start)}/PT0.2S")
        deleted = a.client.create(name="x", command=self.recorder(out),
                                  schedule=f"R/{iso(start)}/PT0.2S")
        wait_for(lambda: len(out.read_text().split()) >= 6 if out.exists() else False,
                 message="some runs")
        assert b.client.call("POST", f"/api/v1/job/disable/{disabled}/")[0] == 204
        assert c.client.call("DELETE", f"/api/v1/job/{deleted}/")[0] == 204
        # An occurrence claimed before the disable committed (0.1 s ahead, with those
        # due in the claim batch after it: 0.15 s in all on SQLite, 0.2 s on a server)
        # still runs: the README says so.
        stopped = time.time() + kala.CLAIM_AHEAD + a_store_claim_batch(database)
        lines_then = len(out.read_text().split())
        assert all(utc(s["scheduled_for"]) < stopped for s in a.client.stats(disabled))
        wait_for(lambda: time.time() > stopped + 1.0, message="a second to pass")
        after = out.read_text().split()
        late = [line for line in after[lines_then:]
                if utc(line.split("@", 1)[1]) > stopped]
        assert late == [], "a disabled or deleted job ran afterwards"
        assert all(utc(s["scheduled_for"]) < stopped for s in c.client.stats(disabled))
        # Enabled again through a third process, it runs again, still once per occurrence.
        assert c.client.call("POST", f"/api/v1/job/enable/{disabled}/")[0] == 204
        wait_for(lambda: any(utc(s["scheduled_for"]) > stopped for s in a.client.stats(disabled)),
                 message="the enabled job to run")
        # Edited through one process, every process runs the new command.
        edited = tmp_path / "edited"
        job = {**b.client.job(disabled), "command": f"sh -c 'echo $KALA_NODE >> {edited}'"}
        assert b.client.call("PUT", f"/api/v1/job/{disabled}/", job)[0] == 200
        nodes = {node["id"] for node in a.client.call("GET", "/api/v1/stats/")[1]["Stats"]["nodes"]}
        wait_for(lambda: edited.exists() and set(edited.read_text().split()) == nodes,
                 message="every process to run the edited command")

    @at_once()
    def test_a_manual_start_and_a_chain_across_processes_run_once(self, cluster, tmp_path):
        out = tmp_path / "out"
        a, b, c = cluster(3)
        parent = a.client.create(name="parent", command=self.recorder(out),
                                 schedule=f"R1/{iso(time.time() + 0.5)}/PT0.3S")
        child = b.client.create(name="child", command=self.recorder(out), parent_jobs=[parent])
        assert c.client.job(parent)["dependent_jobs"] == [child]
        self.wait_until_done(c.client, [parent], 2)
        assert c.client.call("POST", f"/api/v1/job/start/{parent}/")[0] == 204
        wait_for(lambda: len(a.client.stats(child)) == 3, message="three child runs")
        lines = out.read_text().split()
        assert len(lines) == len(set(lines)) == 6
        assert [s["trigger"] for s in a.client.stats(parent)] == ["schedule", "schedule",
                                                                  "manual"]
        assert {s["trigger"] for s in a.client.stats(child)} == {"parent"}

    @at_once()
    def test_a_chain_under_way_in_a_killed_process_is_finished_by_a_survivor(self, cluster,
                                                                             tmp_path):
        out = tmp_path / "out"
        victim, survivor = cluster(2)
        never = f"R0/{iso(time.time() + 3600)}/"
        parent = victim.client.create(name="parent", schedule=never,
                                      command=f"sh -c 'echo parent >> {out}'")
        slow = victim.client.create(name="slow", parent_jobs=[parent],
                                    command=f"sh -c 'echo slow >> {out}; sleep 0.5'")
        last = victim.client.create(name="last", parent_jobs=[parent],
                                    command=f"sh -c 'echo \"last $KALA_NODE\" >> {out}'")
        assert victim.client.call("POST", f"/api/v1/job/start/{parent}/")[0] == 204
        wait_for(lambda: "slow" in out.read_text(), message="the first child to start")
        victim.kill()
        [stat] = wait_for(lambda: survivor.client.stats(last), message="the second child")
        survivor_node, victim_node = stat["node"], survivor.client.stats(parent)[0]["node"]
        assert survivor_node != victim_node
        assert out.read_text().count("last") == 1
        assert f"last {survivor_node}" in out.read_text()
        assert [s["error"] for s in survivor.client.stats(slow)] == [kala.NODE_DIED]

    @at_once()
    def test_a_node_id_in_use_is_refused(self, serve, database):
        serve("--db", database, "--node-id", "alpha")
        done = kala_cli("serve", "-p", "0", "--db", database, "--node-id", "alpha")
        assert done.returncode == 2 and "already in use" in done.stderr


class TcpProxy:
    """A TCP relay between one node and PostgreSQL that the test controls: it can
    cut the node off (every connection reset, new ones refused), hang it (nothing
    forwarded, connections kept open: a partition the server does not see), slow
    it, and heal it."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.mode = "pass"
        self.delay = 0.0
        self._changed = threading.Condition()
        self._sockets = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, database):
        """``database``'s URL, through this relay."""
        parts = urllib.parse.urlsplit(database)
        return parts._replace(netloc=f"{parts.username}@127.0.0.1:{self.port}").geturl()

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == "cut":
                client.close()
                continue
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client):
        with self._changed:
            self._changed.wait_for(lambda: self.mode != "hang")
        try:
            server = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        with self._changed:
            self._sockets += [client, server]
        for source, target in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source, target):
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                with self._changed:
                    self._changed.wait_for(lambda: self.mode != "hang")
                    if self.mode == "cut":
                        break
                if self.delay:
                    time.sleep(self.delay)
                target.sendall(chunk)
        except OSError:
            pass
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def _set(self, mode, delay=0.0):
        with self._changed:
            self.mode, self.delay = mode, delay
            if mode == "cut":
                for end in self._sockets:
                    with contextlib.suppress(OSError):
                        # Reset, as a machine that lost its route would be (shutdown
                        # first: it wakes the pump blocked reading it; close alone
                        # would not, nor send anything).
                        end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
                        end.shutdown(socket.SHUT_RDWR)
                        end.close()
                self._sockets = []
            self._changed.notify_all()

    def cut(self):
        self._set("cut")

    def hang(self):
        self._set("hang")

    def slow(self, delay):
        self._set("pass", delay)

    def heal(self):
        self._set("pass")

    def close(self):
        self.cut()
        self._listener.close()


@pytest.fixture
def postgres(postgres_server):
    """A PostgreSQL database (a schema of its own) for what only that store does."""
    with postgres_database(postgres_server) as url:
        yield url


@pytest.fixture(params=["postgresql", "mysql"])
def server_database(request):
    """A database of its own on a PostgreSQL or a MySQL server, for what the stores on
    a server do (and SQLite does not): their sessions, and their loss."""
    if request.param == "postgresql":
        with postgres_database(request.getfixturevalue("postgres_server")) as url:
            yield url
    else:
        with mysql_database(request.getfixturevalue("mysql_server")) as url:
            yield url


#: Refuses a run's start mark in the first 0.7 s after the run was claimed or its
#: retry queued (as a database that cannot be reached for a moment would): the
#: claims and retries commit, their marks fail at first.
REFUSE_EARLY_MARKS = {
    "postgresql": (
        "CREATE TABLE released (run_id BIGINT PRIMARY KEY, at DOUBLE PRECISION NOT NULL)",
        """CREATE FUNCTION note_release() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
             INSERT INTO released VALUES (NEW.id, extract(epoch FROM clock_timestamp()))
             ON CONFLICT (run_id) DO UPDATE SET at = excluded.at;
             RETURN NEW; END $$""",
        "CREATE TRIGGER note_claim AFTER INSERT ON runs FOR EACH ROW "
        "EXECUTE FUNCTION note_release()",
        "CREATE TRIGGER note_retry AFTER UPDATE OF retry_at ON runs FOR EACH ROW "
        "WHEN (NEW.retry_at IS NOT NULL) EXECUTE FUNCTION note_release()",
        """CREATE FUNCTION refuse_early_mark() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
             IF NEW.started_at IS NOT NULL AND extract(epoch FROM clock_timestamp())
                 - (SELECT at FROM released WHERE run_id = NEW.id) < 0.7 THEN
               RAISE EXCEPTION 'test: run % may not be marked yet', NEW.id;
             END IF;
             RETURN NEW; END $$""",
        "CREATE TRIGGER refuse_early_mark BEFORE UPDATE OF started_at ON runs FOR EACH ROW "
        "EXECUTE FUNCTION refuse_early_mark()"),
    "mysql": (
        "CREATE TABLE released (run_id BIGINT PRIMARY KEY, at DOUBLE NOT NULL)",
        "CREATE TRIGGER note_claim AFTER INSERT ON runs FOR EACH ROW INSERT INTO released "
        "VALUES (NEW.id, UNIX_TIMESTAMP(SYSDATE(6))) ON DUPLICATE KEY UPDATE at = VALUES(at)",
        """CREATE TRIGGER note_retry AFTER UPDATE ON runs FOR EACH ROW BEGIN
             IF NEW.retry_at IS NOT NULL AND NOT (OLD.retry_at <=> NEW.retry_at) THEN
               INSERT INTO released VALUES (NEW.id, UNIX_TIMESTAMP(SYSDATE(6)))
               ON DUPLICATE KEY UPDATE at = VALUES(at);
             END IF; END""",
        """CREATE TRIGGER refuse_early_mark BEFORE UPDATE ON runs FOR EACH ROW BEGIN
             IF NEW.started_at IS NOT NULL AND NOT (OLD.started_at <=> NEW.started_at)
                 AND UNIX_TIMESTAMP(SYSDATE(6))
                     - (SELECT at FROM released WHERE run_id = NEW.id) < 0.7 THEN
               SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'test: the run may not be marked yet';
             END IF; END"""),
}


class OutsideView:
    """What the tests do to a server database from outside kala.py: run SQL on it, end
    the sessions kala.py has there (as a restart or an admin would), and hold the
    start marks of one node at a gate, so that the node is caught between a mark and
    its fork."""

    GATE = 7_777_001   # PostgreSQL's advisory lock key; MySQL's lock is named per database

    def __init__(self, url):
        self.url = url
        self.kind = "mysql" if url.startswith("mysql://") else "postgresql"
        parts = urllib.parse.urlsplit(url)
        self.upstream = (parts.hostname, parts.port or (3306 if self.kind == "mysql" else 5432))
        query = dict(urllib.parse.parse_qsl(parts.query))
        self.application = query.get("application_name")
        self.database = parts.path.lstrip("/")
        self.gate_lock = f"kala-test-gate-{self.database}"
        self._gatekeeper = None
        self._keeper_session = -1  # the gatekeeper's session: never ended by end_sessions

    @contextlib.contextmanager
    def _session(self):
        if self.kind == "mysql":
            with mysql_session(self.url) as cursor:
                yield cursor
        else:
            with psycopg_session(self.url) as db:
                yield db.cursor()

    def run(self, *statements):
        with self._session() as cursor:
            for statement in statements:
                cursor.execute(statement)

    def rows(self, statement, params=()):
        with self._session() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()

    def end_sessions(self):
        """End every session kala.py has on this database; how many there were."""
        with self._session() as cursor:
            if self.kind == "postgresql":
                cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE application_name = %s AND pid != pg_backend_pid() "
                               "AND pid != %s", (self.application, self._keeper_session))
                return cursor.fetchone()[0]
            cursor.execute("SELECT id FROM information_schema.processlist WHERE db = %s "
                           "AND id != CONNECTION_ID() AND id != %s",
                           (self.database, self._keeper_session))
            ended = [row[0] for row in cursor.fetchall()]
            for connection in ended:
                with contextlib.suppress(Exception):
                    cursor.execute(f"KILL {int(connection)}")
            return len(ended)

    def refuse_early_marks(self):
        self.run(*REFUSE_EARLY_MARKS[self.kind])

    def install_gate(self):
        """The gate: a trigger that holds the start marks of the node named in ``gate``
        for as long as the gatekeeper holds its lock."""
        if self.kind == "postgresql":
            wait = f"PERFORM pg_advisory_xact_lock_shared({self.GATE});"
            self.run("CREATE TABLE gate (node TEXT)", "INSERT INTO gate VALUES ('')",
                     f"""CREATE FUNCTION hold_mark() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                           IF NEW.started_at IS NOT NULL AND NEW.node = (SELECT node FROM gate)
                           THEN {wait} END IF;
                           RETURN NEW; END $$""",
                     "CREATE TRIGGER hold_mark BEFORE UPDATE OF started_at ON runs FOR EACH ROW "
                     "EXECUTE FUNCTION hold_mark()")
        else:
            self.run("CREATE TABLE gate (node VARCHAR(255))", "INSERT INTO gate VALUES ('')",
                     f"""CREATE TRIGGER hold_mark BEFORE UPDATE ON runs FOR EACH ROW BEGIN
                           IF NEW.started_at IS NOT NULL AND NEW.node = (SELECT node FROM gate)
                           THEN SET @gate = GET_LOCK('{self.gate_lock}', 60);
                                SET @gate = RELEASE_LOCK('{self.gate_lock}');
                           END IF; END""")
        self._gatekeeper = contextlib.ExitStack()
        self._keeper = self._gatekeeper.enter_context(self._session())
        self._keeper.execute("SELECT pg_backend_pid()" if self.kind == "postgresql"
                             else "SELECT CONNECTION_ID()")
        self._keeper_session = self._keeper.fetchone()[0]

    def close_gate(self, node):
        """From now on, ``node``'s start marks wait at the gate."""
        self._keeper.execute("UPDATE gate SET node = %s", (node,))
        self._keeper.execute("SELECT pg_advisory_lock(%s)" if self.kind == "postgresql"
                             else "SELECT GET_LOCK(%s, 0)",
                             (self.GATE if self.kind == "postgresql" else self.gate_lock,))

    def open_gate(self):
        self._keeper.execute("UPDATE gate SET node = ''")
        self._keeper.execute("SELECT pg_advisory_unlock(%s)" if self.kind == "postgresql"
                             else "SELECT RELEASE_LOCK(%s)",
                             (self.GATE if self.kind == "postgresql" else self.gate_lock,))

    def marks_held(self):
        """How many start marks wait at the gate."""
        return len(self.waiting_at_gate())

    def waiting_at_gate(self):
        """The sessions waiting at the gate: (session, what it runs) each."""
        if self.kind == "postgresql":
            self._keeper.execute(
                "SELECT l.pid, a.application_name || ': ' || a.query FROM pg_locks l "
                "LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                "AND NOT l.granted AND l.objid = %s", (self.GATE,))
        else:
            self._keeper.execute("SELECT id, info FROM information_schema.processlist "
                                 "WHERE state = 'User lock' AND db = %s", (self.database,))
        return self._keeper.fetchall()

    def close(self):
        if self._gatekeeper is not None:
            self._gatekeeper.close()


class TestServerStores:
    """What the stores on a database server (PostgreSQL, MySQL) do and SQLite does not:
    their connections, and their loss."""

    @staticmethod
    def failing_commit(store, monkeypatch, commit_first):
        """The next COMMIT's answer is lost: after it was made, or before it was sent."""
        session = store._db
        real = session.execute

        def execute(sql, params=()):
            if sql == "COMMIT":
                monkeypatch.setattr(session, "execute", real)
                real("COMMIT" if commit_first else "ROLLBACK")
                raise store._driver.OperationalError("server closed the connection")
            return real(sql, params)
        monkeypatch.setattr(session, "execute", execute)

    @pytest.mark.parametrize("committed", [True, False], ids=["committed", "not committed"])
    def test_a_commit_whose_answer_was_lost_is_asked_about(self, server_database, monkeypatch,
                                                             committed):
        store = open_store(server_database)
        self.failing_commit(store, monkeypatch, committed)
        job = job_from_request({"name": "j", "command": "true"}, now=T0)
        if committed:
            store.create_job(job)  # acknowledged: the server says it committed
        else:
            with pytest.raises(kala.StoreUnavailable, match="nothing was changed"):
                store.create_job(job)
        assert [j.id for j in store.list_jobs()] == ([job.id] if committed else [])
        store.close()

    def test_an_uncertain_claim_is_found_and_started_once(self, server_database, monkeypatch):
        harness = Harness(path=server_database)
        job = harness.add(schedule=f"R0/{iso(T0 + 10)}/")
        monkeypatch.setattr(harness.store, "_commit_status", lambda session, xid: None)
        self.failing_commit(harness.store, monkeypatch, commit_first=True)
        with pytest.raises(kala.CommitUncertain):
            harness.run_at(T0 + 10)
        assert harness.runner.jobs == []
        harness.scheduler.maintain()   # finds the claim it did make, and starts it
        harness.scheduler.run_due()    # the timer put back finds the occurrence claimed
        assert harness.runner.jobs == ["job"]
        assert [s.success for s in harness.store.job_stats(job.id)] == [True]

    def test_an_uncertain_claim_is_looked_for_until_the_database_answers(self, server_database,
                                                                          monkeypatch):
        harness = Harness(path=server_database)
        job = harness.add(schedule=f"R0/{iso(T0 + 10)}/")
        monkeypatch.setattr(harness.store, "_commit_status", lambda session, xid: None)
        self.failing_commit(harness.store, monkeypatch, commit_first=True)
        with pytest.raises(kala.CommitUncertain):
            harness.run_at(T0 + 10)
        real = harness.store.unstarted_runs
        monkeypatch.setattr(harness.store, "unstarted_runs", lambda node: (_ for _ in ()).throw(
            kala.StoreUnavailable("the database is still away")))
        with pytest.raises(kala.StoreUnavailable):
            harness.scheduler.maintain()
        monkeypatch.setattr(harness.store, "unstarted_runs", real)
        harness.scheduler.maintain()  # the claim it may have made is looked for again
        assert harness.runner.jobs == ["job"]
        assert [s.success for s in harness.store.job_stats(job.id)] == [True]

    def test_a_claim_queued_again_after_an_uncertain_commit_starts_once(self, server_database):
        """A claim made ahead and waiting in the queue when another claim's commit was
        uncertain is read back among this process's unstarted runs and queued a second
        time: the two copies come due together and must start one command (the chaos
        run on PostgreSQL, seed 7002, saw one occurrence and one manual run run twice)."""
        harness = Harness(path=server_database, claim_ahead=0.1, claim_batch=0.1)
        harness.scheduler.starter.slots = threading.Semaphore(4)  # started in one batch
        for name in ("a", "b"):
            harness.add(name=name, schedule=f"R0/{iso(T0 + 10)}/")
        assert len(harness.run_at(T0 + 9.9)) == 2
        harness.scheduler.fencing.claims_uncertain.set()  # another claim's commit, say
        harness.scheduler.maintain()   # they are waiting in the queue: not queued again
        starter, forking = harness.scheduler.starter, []
        # As a maintenance would that read them while the starter held them:
        starter.on_time(harness.store.unstarted_runs(harness.scheduler.node), T0 + 9.9)
        starter.pool.submit = lambda task, claim: forking.append(claim)  # as if forked
        harness.scheduler.start_due(T0 + 10)
        # Read back once more while they run (not marked yet when read), at the same
        # instant: their marks find the runs marked by the claims that hold them.
        copies = [kala.Claim(claim.run_id, claim.job, claim.trigger, claim.scheduled_for,
                             claim.key) for claim in forking]
        starter.on_time(copies, T0 + 10)
        # Each claim handed on is checked right before its fork while the others run.
        forked = [claim.job.name for claim in forking if starter._cleared(claim) is not None]
        assert sorted(forked) == ["a", "b"] and len(harness.scheduler.starts) == 0

    def test_runs_that_cannot_be_marked_started_wait_and_start_later(self, server_database,
                                                                      monkeypatch):
        harness = Harness(path=server_database, claim_ahead=0.1, claim_batch=0.1)
        harness.scheduler.starter.slots = threading.Semaphore(1)  # one run per batch
        for name in ("a", "b"):
            harness.add(name=name, schedule=f"R0/{iso(T0 + 10)}/")
        assert len(harness.run_at(T0 + 9.9)) == 2
        real = harness.store.fence.starting
        monkeypatch.setattr(harness.store.fence, "starting", lambda *args: (_ for _ in ()).throw(
            kala.StoreUnavailable("the database is away")))
        harness.scheduler.start_due(T0 + 10)
        assert harness.runner.jobs == [] and len(harness.scheduler.starts) == 2
        monkeypatch.setattr(harness.store.fence, "starting", real)
        harness.scheduler.start_due(T0 + 11)
        assert sorted(harness.runner.jobs) == ["a", "b"]

    def test_starts_coming_due_are_marked_together_ahead_and_start_on_time(self, server_database,
                                                                          monkeypatch):
        harness = Harness(path=server_database, claim_ahead=0.1, claim_batch=0.1)
        harness.scheduler.starter.slots = threading.Semaphore(4)  # a slot free for each
        for name, offset in (("a", 0.0), ("b", 0.004), ("c", 0.008), ("later", 0.05)):
            harness.add(name=name, schedule=f"R0/{iso(T0 + 10 + offset)}/")
        assert len(harness.run_at(T0 + 9.9)) == 4
        marks, real = [], harness.store.fence.starting
        monkeypatch.setattr(harness.store.fence, "starting",
                            lambda ids, *args: marks.append(len(ids)) or real(ids, *args))
        ahead = harness.store.fence.mark_ahead
        harness.scheduler.start_due(T0 + 10 - ahead)  # the first comes out to be marked
        assert marks == [3] and harness.runner.jobs == []  # with those due next, not "later"
        harness.scheduler.start_due(T0 + 10.005)
        assert harness.runner.jobs == ["a", "b"] and marks == [3]
        harness.scheduler.start_due(T0 + 10.05)
        assert harness.runner.jobs == ["a", "b", "c", "later"] and marks == [3, 1]

    def test_a_lost_database_is_retried_with_growing_waits(self, server_database):
        proxy = TcpProxy(OutsideView(server_database).upstream)
        store = open_store(proxy.url(server_database))
        create(store, name="before")
        proxy.cut()
        with pytest.raises(kala.StoreUnavailable, match="cannot be"):
            store.list_jobs()
        with pytest.raises(kala.StoreUnavailable, match="trying again in"):
            store.list_jobs()  # at once, without trying
        proxy.heal()
        wait_for(lambda: time.monotonic() > store._reader._retry_at, message="the next try")
        assert [j.name for j in store.list_jobs()] == ["before"]
        store.close()
        proxy.close()

    def test_deployments_in_two_schemas_keep_apart(self, server_database, request):
        """Two schemas of one PostgreSQL database, two databases of one MySQL server."""
        kind = OutsideView(server_database).kind
        with (postgres_database(request.getfixturevalue("postgres_server")) if kind ==
              "postgresql" else mysql_database(request.getfixturevalue("mysql_server"))) as other:
            first, second = open_store(server_database), open_store(other)
            first.fence.hold("n")
            second.fence.hold("n")  # the same node id, in another deployment
            create(first, name="one")
            assert second.list_jobs() == [] and second.fence.dead(["n"]) == []
            second.close()
            first.close()

    def test_a_free_lock_counts_as_death_only_after_a_silence(self, server_database):
        alive, other = open_store(server_database), open_store(server_database)
        alive.fence.hold("a")
        alive.join("a", T0)
        other.join("b", T0)
        end_presence(alive)  # the server ended its session: it takes the lock again soon
        assert other.fence.dead(["a"], T0 + 0.5) == []
        assert other.fence.dead(["a"], T0 + kala.PRESENCE_GRACE + 0.1) == ["a"]
        # A reaper that was cut off itself for as long judges nobody yet.
        assert other.fence.dead(["a"], T0 + 5, silent_for=kala.PRESENCE_GRACE + 0.1) == []
        alive.close()
        other.close()

class TestPostgresStore:
    """What only the PostgreSQL store does."""

    def test_text_with_nul_is_kept_readable(self, postgres):
        store = open_store(postgres)
        job = create(store)
        claim = store.claim_run(job.id, "k", "manual", "n", T0)
        store.finish_run(claim, "n", kala.RunResult(True, T0, T0, 0, 0, output="a\x00b"))
        assert store.job_stats(job.id)[0].output == "a\ufffdb"
        store.close()

    @pytest.mark.parametrize("module, url, words", [
        ("psycopg", "postgresql://u@127.0.0.1/kala", "a PostgreSQL database needs the psycopg "
         "driver (version 3.2 or newer): python3 -m pip install 'psycopg[binary]'"),
        ("pymysql", "mysql://u@127.0.0.1/kala", "a MySQL or MariaDB database needs the PyMySQL "
         "driver: python3 -m pip install pymysql (or: apt install python3-pymysql)")])
    def test_without_its_driver_serve_says_how_to_install_it(self, module, url, words):
        code = (f"import sys; sys.modules['{module}'] = None; import kala; "
                "sys.exit(kala.main(sys.argv[1:]))")
        done = subprocess.run([sys.executable, "-c", code, "serve", "--db", url],
                              capture_output=True, text=True, cwd=os.path.dirname(KALA),
                              timeout=30)
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [f"kala.py: {words}"]

    def test_kalas_own_postgres_flags(self, serve, postgres):
        parts = urllib.parse.urlsplit(postgres)
        settings = dict(urllib.parse.parse_qsl(parts.query))
        process = serve("--jobdb", "postgres", "--jobdb-address",
                        f"127.0.0.1:5432{parts.path}", "--jobdb-username", "postgres",
                        env={"PGOPTIONS": settings["options"],
                             "PGAPPNAME": settings["application_name"]})
        job_id = process.client.create(name="kept")
        assert [j.name for j in open_store(postgres).list_jobs()] == ["kept"]
        assert any("database PostgreSQL 127.0.0.1:5432/" in line for line in process.log)
        assert job_id in process.client.jobs()

    def test_kala_postgres_flags_make_a_url(self):
        args = kala.build_parser().parse_args([
            "serve", "--jobdb", "postgres", "--jobdb-address", "db.example:5433/kala",
            "--jobdb-username", "ops", "--jobdb-password", "p@ss/word",
            "--jobdb-tls-capath", "/etc/ca.pem"])
        assert kala.kala_database_url(args) == (
            "postgresql://ops:p%40ss%2Fword@db.example:5433/kala?"
            "sslrootcert=%2Fetc%2Fca.pem&sslmode=verify-full")


class TestMysqlStore:
    """What only the MySQL store does: Kala's flags, its driver, its URLs."""

    @pytest.mark.parametrize("jobdb, address", [("mysql", "tcp(127.0.0.1:3306)/{}"),
                                                ("mariadb", "127.0.0.1:3306/{}")])
    def test_kalas_own_mysql_flags(self, serve, mysql_server, jobdb, address):
        with mysql_database(mysql_server) as url:
            name = urllib.parse.urlsplit(url).path.lstrip("/")
            process = serve("--jobdb", jobdb, "--jobdb-address", address.format(name),
                            "--jobdb-username", "root")
            job_id = process.client.create(name="kept")
            store = open_store(url)
            assert [j.name for j in store.list_jobs()] == ["kept"]
            store.close()
            kind = "MariaDB" if jobdb == "mariadb" else "MySQL"
            assert any(f"database {kind} 127.0.0.1:3306/{name}," in line for line in process.log)
            assert job_id in process.client.jobs()
            process.stop()

    @pytest.mark.parametrize("url, words", [
        ("postgresql://u@[bad/kala", "not a usable PostgreSQL URL: "),
        ("mysql://u@127.0.0.1:3306/", "not a usable MySQL URL"),
        ("mysql://u@127.0.0.1:99999/kala", "not a usable MySQL URL"),
        ("mysql://u@127.0.0.1/kala?sslmode=on", "MySQL URL option 'sslmode' is unknown"),
        ("mysql://u@127.0.0.1/kala?ssl_ca=/nowhere/ca.pem",
         "the MySQL URL's TLS files cannot be used: "),
        ("mysql://u@127.0.0.1/kala?ssl_disabled=true&ssl_ca=/etc/ca.pem",
         "MySQL URL option ssl_disabled=true cannot go with ssl_ca"),
    ])
    def test_a_bad_url_is_one_line(self, url, words):
        done = kala_cli("serve", "-p", "0", "--db", url)
        assert done.returncode == 2
        assert done.stderr.startswith(f"kala.py: {words}"), done.stderr
        assert len(done.stderr.splitlines()) == 1

    @pytest.mark.parametrize("version, problem", [
        ("10.11.6-MariaDB-0+deb12u1", None),
        ("10.6.0-MariaDB", None),
        ("8.0.36", None),
        ("8.4.0-commercial", None),
        ("9.1.0", None),
        ("10.5.23-MariaDB-0+deb11u1", "MariaDB 10.5.23 is too old for kala.py, which needs "
                                      "MariaDB 10.6.0 or newer (for JSON_TABLE)"),
        ("8.0.3-rc-log", "MySQL 8.0.3 is too old for kala.py, which needs MySQL 8.0.4 or "
                         "newer (for JSON_TABLE)"),
        ("5.7.44", "MySQL 5.7.44 is too old for kala.py, which needs MySQL 8.0.4 or newer "
                   "(for JSON_TABLE)"),
    ])
    def test_a_server_too_old_for_its_statements_is_named_at_the_start(self, version, problem):
        assert kala.mysql_version_problem(version) == problem

    def test_a_server_too_old_is_refused_before_anything_is_made(self, mysql_server,
                                                                  monkeypatch):
        asked = []
        monkeypatch.setattr(kala, "mysql_version_problem",
                            lambda version: asked.append(version) or "too old (said here)")
        with mysql_database(mysql_server) as url:
            with pytest.raises(kala.KalaError, match=r"database .*: too old \(said here\)$"):
                kala.MysqlStore(url)
            assert asked == [query_database(url, "SELECT VERSION()")[0][0]]
            assert query_database(url, "SELECT table_name FROM information_schema.tables "
                                       "WHERE table_schema = DATABASE()") == []

    def test_a_batch_split_a_row_a_statement_lands_on_its_own_rows(self, mysql_server,
                                                                    monkeypatch):
        # As a batch longer than a statement carries is split (ROWS_PER_STATEMENT).
        monkeypatch.setattr(kala.MysqlStore, "ROWS_PER_STATEMENT", 1)
        with mysql_database(mysql_server) as url:
            check_batches_land_on_their_own_rows(url)

    def test_kala_mysql_flags_make_a_url(self, tmp_path):
        args = kala.build_parser().parse_args([
            "serve", "--jobdb", "mysql", "--jobdb-address", "tcp(db.example:3307)/kala",
            "--jobdb-username", "ops", "--jobdb-password", "p@ss/word",
            "--jobdb-tls-capath", "/etc/ca.pem", "--jobdb-tls-certpath", "/etc/c.pem",
            "--jobdb-tls-keypath", "/etc/k.pem"])
        assert kala.kala_database_url(args) == (
            "mysql://ops:p%40ss%2Fword@db.example:3307/kala?ssl_ca=%2Fetc%2Fca.pem&"
            "ssl_cert=%2Fetc%2Fc.pem&ssl_key=%2Fetc%2Fk.pem&ssl_verify_identity=true")
        cert, key = make_certificate(tmp_path)
        for name, made in [("ca.pem", cert), ("c.pem", cert), ("k.pem", key)]:
            shutil.copy(made, tmp_path / name)
        settings, where = kala.mysql_settings(kala.kala_database_url(args).replace(
            "%2Fetc%2F", urllib.parse.quote(f"{tmp_path}/", safe="")), "kala.py")
        assert where == "db.example:3307/kala" and settings["password"] == "p@ss/word"
        assert (settings["ssl"].verify_mode, settings["ssl"].check_hostname) == (
            ssl.CERT_REQUIRED, True)

    @pytest.mark.parametrize("query, checked", [
        ("ssl_ca={cert}", (ssl.CERT_REQUIRED, False)),
        ("ssl_ca={cert}&ssl_verify_identity=true", (ssl.CERT_REQUIRED, True)),
        ("ssl_ca={cert}&ssl_verify_cert=false", (ssl.CERT_NONE, False)),
        ("ssl_cert={cert}&ssl_key={key}", (ssl.CERT_NONE, False)),
        ("ssl_verify_identity=1", (ssl.CERT_REQUIRED, True)),
    ])
    def test_a_mysql_url_asks_for_tls_as_the_mysql_client_does(self, tmp_path, query, checked):
        """The server's certificate is checked against ssl_ca (or the system's CAs), its
        name too with ssl_verify_identity; one context serves every connection, and
        PyMySQL takes it as it is (TLS then required)."""
        pymysql = pytest.importorskip("pymysql")
        cert, key = make_certificate(tmp_path)
        url = "mysql://u@db.example/kala?" + query.format(cert=cert, key=key)
        settings, _ = kala.mysql_settings(url, "kala.py")
        assert (settings["ssl"].verify_mode, settings["ssl"].check_hostname) == checked
        connection = pymysql.connect(defer_connect=True, **settings)
        assert connection.ctx is settings["ssl"] and connection.ssl

    def test_a_mysql_url_without_tls_options_leaves_tls_to_the_driver(self):
        """PREFERRED, as PyMySQL and the mysql client do: TLS where the server offers it;
        ``ssl_disabled=true`` never asks for it."""
        settings, _ = kala.mysql_settings("mysql://u@db.example/kala", "kala.py")
        assert "ssl" not in settings and "ssl_disabled" not in settings
        settings, _ = kala.mysql_settings("mysql://u@db.example/kala?ssl_disabled=true", "")
        assert settings["ssl_disabled"] is True and "ssl" not in settings


class TestStartsMarkedInTheDatabase:
    """Where a run's start is marked in its row (PostgreSQL, MySQL), a start the
    database refuses is tried again until it runs, and a mark is no licence to fork
    late."""

    @at_once(("postgresql", "mysql"))
    def test_refused_starts_are_tried_again_on_every_path_and_each_runs_once(
            self, serve, server_database, tmp_path):
        out = tmp_path / "out"
        process = serve("--db", server_database)
        OutsideView(server_database).refuse_early_marks()
        api = process.client
        record = f"sh -c 'echo $KALA_JOB_ID@$KALA_RUN_ID >> {out}'"
        handler = api.create(name="handler", trigger_only=True, command=record)
        failing = api.create(name="failing", trigger_only=True, retries=1, retry_delay="PT0.2S",
                             on_failure_job=handler,
                             command=f"sh -c 'echo $KALA_JOB_ID@$KALA_RUN_ID >> {out}; exit 1'")
        parent = api.create(name="parent", trigger_only=True, command=record)
        child = api.create(name="child", parent_jobs=[parent], command=record)
        scheduled = api.create(name="scheduled", command=record,
                               schedule=f"R0/{iso(time.time() + 1)}/")
        started = {job_id: api.call("POST", f"/api/v1/job/start/{job_id}/?wait=false")[1][
            "run_id"] for job_id in (parent, failing)}
        jobs = (handler, failing, parent, child, scheduled)
        stats = wait_for(lambda: [api.stats(job_id) for job_id in jobs]
                         if all(api.stats(job_id) for job_id in jobs) else None, timeout=20,
                         message="a run of each job")
        assert [len(job_stats) for job_stats in stats] == [1] * 5
        runs = {job_id: job_stats[0] for job_id, job_stats in zip(jobs, stats)}
        for job_id, run_id in started.items():  # each 202's run id ended as one recorded run
            assert runs[job_id]["run_id"] == run_id
        executed = collections.Counter(out.read_text().split())
        assert executed == {f"{job_id}@{runs[job_id]['run_id']}": 2 if job_id == failing else 1
                            for job_id in jobs}  # the failing one's two attempts
        assert (runs[failing]["number_of_retries"], runs[failing]["success"]) == (1, False)
        assert all(runs[job_id]["success"] for job_id in jobs if job_id != failing)
        # Each path's start was refused at first (the two manual starts may share a mark).
        assert len([line for line in process.log if "cannot mark" in line]) >= 4

    @at_once(("postgresql", "mysql"))
    def test_a_run_marked_then_paused_past_half_a_lease_is_not_started(
            self, serve, server_database, tmp_path):
        victim, survivor = (serve("--db", server_database, "--node-lease", "1.5", "--node-id",
                                  node, wait=False) for node in ("victim", "survivor"))
        victim.ready()
        survivor.ready()
        outside = OutsideView(server_database)
        outside.install_gate()
        missed = []
        try:
            for attempt in range(3):
                out = tmp_path / f"out{attempt}"
                job_id = victim.client.create(trigger_only=True,
                                              command=f"sh -c 'echo ran >> {out}'")
                outside.close_gate("victim")
                run_id = victim.client.call(
                    "POST", f"/api/v1/job/start/{job_id}/?wait=false")[1]["run_id"]
                waiting = wait_for(outside.waiting_at_gate,
                                   message="the mark to wait at the gate")
                victim.process.send_signal(signal.SIGSTOP)  # between the mark and the fork
                stopped_at = time.time()
                [[marked]] = outside.rows("SELECT started_at FROM runs WHERE id = %s",
                                          (run_id,))
                outside.open_gate()
                if marked is None:  # its mark waited at the gate when the stop came
                    break
                # Seen in 2 of about 8 full runs on one machine: the mark was through
                # before the stop although a mark was counted at the gate (cause not
                # found; the run then ran once, recorded 'node died'). The scenario
                # did not happen: it is tried again, and said.
                missed.append((run_id, waiting))
                victim.process.send_signal(signal.SIGCONT)
                wait_for(lambda: victim.client.stats(job_id), message="the run to end")
            else:
                raise AssertionError(f"the stop never came between mark and fork: {missed}")
            [stat] = wait_for(lambda: survivor.client.stats(job_id),
                              message="the survivor to take the victim for dead")
        finally:
            outside.close()
        if missed:  # which session was counted at the gate, for whoever looks into it
            print(f"runs marked before the stop, with what waited at the gate then: {missed}")
        assert (stat["run_id"], stat["error"], stat["node"]) == (run_id, kala.NODE_DIED,
                                                                 "victim")
        continued_at = time.time()
        victim.process.send_signal(signal.SIGCONT)
        try:
            wait_for(lambda: any(f"not starting run {run_id}" in line for line in victim.log),
                     message="the victim to give the run up")
        except AssertionError as timed_out:  # seen twice in full runs: say what each did
            raise AssertionError(
                f"{timed_out} (stopped at {iso(stopped_at)} with {waiting} at the gate, "
                f"continued at {iso(continued_at)}, the survivor's record {stat}); "
                f"the victim's log ends:\n{''.join(victim.log[-40:])}"
                f"the survivor's:\n{''.join(survivor.log[-20:])}")
        assert not out.exists()  # recorded 'node died', and not run: the record tells the truth
        assert survivor.client.stats(job_id) == [stat]


class TestSeveralMachines:
    """serve processes on "machines" that share nothing but a PostgreSQL or MySQL
    database, each reaching it through a relay the test can cut, hang, slow and heal."""

    LEASE = "1.5"

    def machines(self, context):
        """What a test asking for ``machines`` gets (at_once): a starter of ``count`` serve
        processes, each behind a relay of its own (``process.proxy``)."""
        def start(count, *extra):
            started = []
            for _ in range(count):
                proxy = TcpProxy(OutsideView(context.database).upstream)
                context.cleanup.callback(proxy.close)
                process = context.serve("--db", proxy.url(context.database), "--node-lease",
                                        self.LEASE, *extra, wait=False)
                process.proxy = proxy
                started.append(process)
            for process in started:
                process.ready()
            wait_for(lambda: len(started[0].client.call("GET", "/api/v1/stats/")[1][
                "Stats"]["nodes"]) == count, message="every machine to register")
            return started
        return start

    @staticmethod
    def node_of(process):
        return process.client.call("GET", "/api/v1/stats/")[1]["Stats"]["nodes"]

    @at_once(("postgresql", "mysql"))
    def test_nodes_cut_off_hung_or_slow_run_nothing_twice_and_lose_nothing(self, machines,
                                                                            tmp_path):
        out = tmp_path / "out"
        survivor, hung, cut, slow = machines(4)
        checks = TestSeveralProcesses()
        ids, start = checks.schedule_jobs(survivor.client, out, jobs=6, count=15)
        slow.proxy.slow(0.02)  # every packet 20 ms late, all along
        wait_for(lambda: time.time() > start + 0.9, message="the schedule to be under way")
        hung.proxy.hang()
        cut.proxy.cut()
        wait_for(lambda: time.time() > start + 2.9, message="two seconds of partition")
        hung.proxy.heal()
        cut.proxy.heal()
        checks.wait_until_done(survivor.client, ids, 15)
        checks.check_exactly_once(survivor.client, ids, out, start, 0.2, 15)
        # Both come back and rejoin.
        wait_for(lambda: len(self.node_of(survivor)) == 4, message="both to rejoin")
        assert hung.process.poll() is None and cut.process.poll() is None

    @at_once(("postgresql", "mysql"))
    def test_a_run_under_way_on_a_node_cut_off_is_failed_once_and_its_result_refused(
            self, machines, tmp_path):
        out = tmp_path / "out"
        cut, survivor = machines(2)
        job_id = cut.client.create(
            schedule=f"R0/{iso(time.time() + 3600)}/",
            command=f"sh -c 'echo start >> {out}; sleep 1; echo end >> {out}'")
        TestSeveralProcesses().start_in_background(cut.client, job_id)
        wait_for(lambda: out.exists() and out.read_text(), message="the run to start")
        cut.proxy.hang()  # its sessions stay open: only its lease tells
        [stat] = wait_for(lambda: survivor.client.stats(job_id), message="the run to be failed")
        assert (stat["success"], stat["error"]) == (False, kala.NODE_DIED)
        wait_for(lambda: "end" in out.read_text(), message="the command to end")
        cut.proxy.heal()
        wait_for(lambda: any("claim was gone" in line for line in cut.log),
                 message="the late result to be refused")
        assert survivor.client.stats(job_id) == [stat]
        assert out.read_text().split() == ["start", "end"]  # it ran once, and was not rerun

    @at_once(("postgresql", "mysql"))
    def test_the_database_going_away_is_503_then_everything_resumes(self, machines, tmp_path):
        out, marker = tmp_path / "out", f"0.5{random.randrange(10 ** 6):06d}"  # its own sleep
        [node] = machines(1)
        api = node.client
        kept = api.create(name="kept", schedule=f"R/{iso(time.time() + 3600)}/PT1H")
        long = api.create(name="long", schedule=f"R0/{iso(time.time() + 3600)}/",
                          command=f"sh -c 'sleep {marker}; echo long >> {out}'")
        starter = TestSeveralProcesses().start_in_background(api, long)
        wait_for(lambda: processes_running(f"sleep\0{marker}"), message="long to run")
        soon = time.time() + 1.0
        every = api.create(name="every", command=TestSeveralProcesses.recorder(out),
                           schedule=f"R4/{iso(soon)}/PT0.2S")
        node.proxy.cut()  # the database restarts, say: every session is lost
        status, body, _ = api.call("POST", "/api/v1/job/", {"name": "n", "command": "true"})
        assert status == 503 and " database 127.0.0.1:" in body["error"]
        # The full list, read as it is written, too: a 503 before its first byte.
        status, body, _ = api.call("GET", "/api/v1/job/")
        assert status == 503 and " database 127.0.0.1:" in body["error"]
        assert api.call("GET", "/healthz")[0] == 200
        wait_for(lambda: "long" in out.read_text() if out.exists() else False,
                 message="long to finish while the database is away")
        wait_for(lambda: time.time() > soon + 1.5, message="every's occurrences to pass")
        node.proxy.heal()
        wait_for(lambda: api.call("GET", "/readyz")[0] == 200, message="readiness again")
        # readyz speaks for the writing session; a read may answer 503 once more while
        # the reading session reconnects.
        wait_for(lambda: api.call("GET", "/api/v1/job/")[0] == 200, message="reads again")
        starter.join(10)
        # Nothing acknowledged was lost; the run that ended meanwhile was recorded
        # once the database was back; the occurrences that passed ran late, once each.
        assert set(api.jobs()) == {kept, long, every}
        [stat] = wait_for(lambda: api.stats(long), message="long's result")
        assert stat["success"]
        TestSeveralProcesses().wait_until_done(api, [every], 5)
        TestSeveralProcesses().check_exactly_once(api, [every], out, soon, 0.2, 5)

    @at_once(("postgresql", "mysql"))
    def test_sigterm_while_the_database_is_away_stops_cleanly(self, machines, tmp_path):
        marker = f"0.3{random.randrange(10 ** 6):06d}"  # its own sleep, among other tests' ones
        [node] = machines(1, "--stop-timeout", "1.5")
        job_id = node.client.create(schedule=f"R0/{iso(time.time() + 3600)}/",
                                    command=f"sh -c 'sleep {marker}'")
        TestSeveralProcesses().start_in_background(node.client, job_id)
        wait_for(lambda: processes_running(f"sleep\0{marker}"), message="the run to start")
        node.proxy.cut()
        node.stop()  # the run's result cannot be written: it is given up after --stop-timeout
        assert node.process.returncode == 0
        assert any("could not say goodbye" in line for line in node.log)

    @at_once(("postgresql", "mysql"))
    def test_sessions_ended_by_the_server_leave_each_occurrence_run_once(
            self, machines, server_database, tmp_path):
        out = tmp_path / "out"
        processes = machines(2)
        checks = TestSeveralProcesses()
        ids, start = checks.schedule_jobs(processes[0].client, out, jobs=4, count=15)
        outside = OutsideView(server_database)
        for at in (0.7, 1.5, 2.1):
            wait_for(lambda: time.time() > start + at, interval=0.005, message="the moment")
            # Each has a presence and a writer session.
            assert outside.end_sessions() >= 2 * len(processes)
        checks.wait_until_done(processes[1].client, ids, 15)
        checks.check_exactly_once(processes[0].client, ids, out, start, 0.2, 15)


@pytest.mark.skipif(not os.environ.get("KALA_CHAOS"),
                    reason="a chaos run takes minutes: set KALA_CHAOS=1 (and KALA_CHAOS_SECONDS)")
class TestChaos:
    """Five serve processes on one database, killed (-9), stopped past their lease,
    stopped then killed, and restarted at random while jobs run every second or two
    (on SQLite: 150 jobs at PT1S and PT2S; on PostgreSQL and MySQL: 200 at PT1S, and each
    process, on its own "machine", is also cut off and hung by its relay, has its
    sessions ended by the server, and is stopped right between a start mark and its
    fork); the schedules end with the chaos. Ten more jobs are concurrency forbid
    (0.3 s runs, every second), and runs of five trigger-only jobs are started
    through the API without waiting all along.
    Every command writes which occurrence (or run) it is: each must appear exactly
    once, no forbid runs may overlap, and every run id a start answered must end as
    exactly one recorded run."""

    PROCESSES, LEASE = 5, 2.0
    ACTIONS = ("kill", "stop", "stop then kill", "terminate")
    NETWORK_ACTIONS = ("cut off", "hang", "end sessions", "stop between mark and fork")
    FORBID_JOBS, MANUAL_JOBS = 10, 5

    def test_every_occurrence_runs_exactly_once(self, database, tmp_path):
        seconds = float(os.environ.get("KALA_CHAOS_SECONDS", "150"))
        seed = int(os.environ.get("KALA_CHAOS_SEED", str(int(time.time()))))
        chaos = random.Random(seed)
        out, forbid_out, manual_out = tmp_path / "out", tmp_path / "forbid", tmp_path / "manual"
        on_server = not database.endswith(".db")
        outside = OutsideView(database) if on_server else None
        proxies, launched = [], itertools.count()

        def launch():
            target = database
            if on_server:
                proxies.append(TcpProxy(outside.upstream))
                target = proxies[-1].url(database)
            node = f"chaos-{next(launched)}"
            process = ServeProcess("--db", target, "--node-lease", str(self.LEASE),
                                   "--node-id", node)
            process.node_id = node
            process.proxy = proxies[-1] if on_server else None
            return process

        processes = [launch() for _ in range(self.PROCESSES)]
        if on_server:
            outside.install_gate()
        client = processes[0].client
        count, intervals = (200, (1,)) if on_server else (150, (1, 2))
        start = time.time() + 3 + (count + self.FORBID_JOBS + self.MANUAL_JOBS) * 0.03
        # The schedules end with the chaos: what the processes still owe then (runs
        # taken over from the dead ones) is settled without new runs coming due.
        jobs = {client.create(name=f"j{i}", command=TestSeveralProcesses.recorder(out),
                              schedule=f"R{int(seconds // intervals[i % len(intervals)])}/"
                                       f"{iso(start)}/PT{intervals[i % len(intervals)]}S"):
                intervals[i % len(intervals)] for i in range(count)}
        forbid = {client.create(
            name=f"f{i}", concurrency="forbid", schedule=f"R{int(seconds)}/{iso(start)}/PT1S",
            command=f"sh -c 'echo $KALA_JOB_ID@$KALA_SCHEDULED_FOR@$(date +%s.%N)@start@"
                    f"$KALA_NODE@$KALA_RUN_ID >> {forbid_out}; sleep 0.3; echo $KALA_JOB_ID@"
                    f"$KALA_SCHEDULED_FOR@$(date +%s.%N)@end@$KALA_NODE@$KALA_RUN_ID >> "
                    f"{forbid_out}'"): 1 for i in range(self.FORBID_JOBS)}
        manual = [client.create(name=f"m{i}", trigger_only=True,
                                command=f"sh -c 'echo $KALA_RUN_ID >> {manual_out}'")
                  for i in range(self.MANUAL_JOBS)]
        actions = dict.fromkeys(self.ACTIONS + (self.NETWORK_ACTIONS if on_server else ()), 0)
        started = {}  # run id -> job id, of the starts answered 202
        timeline = []  # (time, action, node): what the chaos did when, for a failure's report
        try:
            self.wreak_havoc(processes, chaos, start + seconds, actions, launch,
                             outside, manual, started, timeline)
            client = processes[0].client
            expected = {(job_id, round(start + k * interval, 3))
                        for job_id, interval in {**jobs, **forbid}.items()
                        for k in range(int(seconds // interval) + 1)}
            try:
                wait_for(lambda: self.finished(client, {**jobs, **forbid}, expected)
                         and self.finished_runs(client, manual, started), timeout=90,
                         message="every occurrence and started run to be settled")
            except AssertionError as timed_out:
                raise AssertionError(f"seed {seed}: {timed_out}\n" + self.unsettled(
                    client, {**jobs, **forbid}, expected, manual, started, outside,
                    processes)) from None
            stats = [stat for job_id in (*jobs, *forbid) for stat in client.stats(job_id)]
            manual_stats = [stat for job_id in manual for stat in client.stats(job_id)]
        finally:
            for process in processes:
                if process.process.poll() is None:
                    process.process.send_signal(signal.SIGCONT)
                    process.kill()
            for proxy in proxies:
                proxy.close()
            if outside is not None:
                outside.close()
        forbid_lines = [line.split("@") for line in forbid_out.read_text().split()]
        ran = collections.Counter(
            (line.split("@")[0], round(utc(line.split("@")[1]), 3))
            for line in out.read_text().split())
        ran.update((job_id, round(utc(when), 3)) for job_id, when, _, mark, *_ in forbid_lines
                   if mark == "start")
        stat_keys = collections.Counter((s["job_id"], round(utc(s["scheduled_for"]), 3))
                                        for s in stats)
        died = {(s["job_id"], round(utc(s["scheduled_for"]), 3)) for s in stats
                if s["error"] == kala.NODE_DIED}
        skipped = {(s["job_id"], round(utc(s["scheduled_for"]), 3)) for s in stats
                   if s["skipped"]}
        manual_ran = collections.Counter(int(run_id) for run_id in
                                         (manual_out.read_text().split()
                                          if manual_out.exists() else []))
        manual_recorded = collections.Counter(s["run_id"] for s in manual_stats)
        report = {
            "store": outside.kind if on_server else "sqlite",
            "seed": seed, "seconds": seconds, "actions": actions,
            "occurrences": len(expected), "executions": sum(ran[key] for key in expected),
            "duplicate executions": sum(n - 1 for n in ran.values() if n > 1),
            "lost": len([key for key in expected
                         if key not in ran and key not in died and key not in skipped]),
            "lost in the start window (node died, never ran)":
                len([key for key in expected if key not in ran and key in died]),
            "node died stats": len(died & expected),
            "forbid skips": len(skipped & expected),
            "forbid overlaps": len(self.overlapping(forbid_lines)),
            "duplicate stats": sum(n - 1 for n in stat_keys.values() if n > 1),
            "manual starts": len(started),
            "dropped manual starts": len([r for r in started if not manual_recorded[r]]),
            "manual runs recorded twice": len([r for r in started if manual_recorded[r] > 1]),
            "manual runs executed twice": len([r for r in started if manual_ran[r] > 1]),
            "manual runs not run (node died)": len(
                [s for s in manual_stats if s["error"] == kala.NODE_DIED
                 and not manual_ran[s["run_id"]]]),
        }
        print("chaos:", json.dumps(report))
        for earlier, later in self.overlapping(forbid_lines):
            # Each run's span, where it ran, what its stat says, and what the chaos did
            # around it: enough to tell a fence's hole from a late claim.
            print("forbid overlap:", json.dumps({
                "runs": [{**span, "stat": [{key: s[key] for key in ("run_id", "node", "error",
                                                                   "ran_at", "scheduled_for")}
                                           for s in stats if s["run_id"] == span["run"]]}
                         for span in (earlier, later)],
                "chaos": [entry for entry in timeline
                          if earlier["start"] - 10 <= entry[0] <= later["start"] + 2]}))
        for figure in ("duplicate executions", "duplicate stats", "lost", "forbid overlaps",
                       "dropped manual starts", "manual runs recorded twice",
                       "manual runs executed twice"):
            assert report[figure] == 0, report

    def wreak_havoc(self, processes, chaos, until, actions, launch, outside, manual, started,
                    timeline):
        """Random kills, stops, partitions and restarts until ``until``, with manual
        starts between them; returns when it ended, with every process running (and
        reachable) again."""
        while time.time() < until:
            pause = time.time() + chaos.uniform(0.5, 2.5)
            while time.time() < pause:
                self.start_one(chaos.choice(processes), chaos.choice(manual), started)
                time.sleep(min(0.2, max(0.0, pause - time.time())))
            index = chaos.randrange(len(processes))
            victim = processes[index]
            action = chaos.choice(list(actions))
            actions[action] += 1

            def note(what, node=victim.node_id):
                timeline.append((round(time.time(), 3), what, node))

            note(action)
            if action == "kill":
                victim.kill()
            elif action == "terminate":
                victim.stop()
            elif action in ("cut off", "hang"):
                victim.proxy.cut() if action == "cut off" else victim.proxy.hang()
                time.sleep(chaos.uniform(0.5, self.LEASE + 3.0))
                victim.proxy.heal()
                note("healed")
            elif action == "end sessions":
                outside.end_sessions()
            elif action == "stop between mark and fork":
                if not self.stop_between_mark_and_fork(victim, outside):
                    actions[action] -= 1  # no mark came to the gate in time
                    note("no mark came")
                    continue
                time.sleep(self.LEASE + chaos.uniform(0.5, 3.0))
                killed = chaos.random() < 0.3
                victim.kill() if killed else victim.process.send_signal(signal.SIGCONT)
                note("killed" if killed else "continued")
            else:
                victim.process.send_signal(signal.SIGSTOP)
                time.sleep(self.LEASE + chaos.uniform(0.5, 3.0))
                if action == "stop then kill":
                    victim.kill()
                else:
                    victim.process.send_signal(signal.SIGCONT)
                note("killed" if action == "stop then kill" else "continued")
            if victim.process.poll() is not None:
                time.sleep(chaos.uniform(0, 1.5))
                if victim.proxy is not None:
                    victim.proxy.close()
                processes[index] = launch()
                note("started", processes[index].node_id)
        return time.time()

    @staticmethod
    def stop_between_mark_and_fork(victim, outside):
        """SIGSTOP ``victim`` while a start mark of its waits at the gate, then let the
        mark through: it is marked, and stopped before the fork."""
        outside.close_gate(victim.node_id)
        try:
            deadline = time.monotonic() + 3.0
            while not outside.marks_held():
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.005)
            victim.process.send_signal(signal.SIGSTOP)
            return True
        finally:
            outside.open_gate()

    @staticmethod
    def start_one(process, job_id, started):
        """Start a run of ``job_id`` through ``process`` without waiting; a 202's run id
        is kept (a process stopped or cut off may not answer: nothing is kept then)."""
        connection = process.client.connect(timeout=0.5)
        try:
            connection.request("POST", f"/api/v1/job/start/{job_id}/?wait=false")
            response = connection.getresponse()
            body = response.read()
            if response.status == 202:
                started[json.loads(body)["run_id"]] = job_id
        except OSError:
            pass
        finally:
            connection.close()

    @staticmethod
    def overlapping(lines):
        """The runs of a forbid job that started before the one before it ended, each
        with that one: (earlier, later) spans, each its job, occurrence, start and end
        (None: it never wrote its end), node and run id."""
        runs = collections.defaultdict(dict)   # job -> occurrence -> span
        for job_id, when, moment, mark, node, run_id in lines:
            span = runs[job_id].setdefault(when, {"job": job_id, "scheduled_for": when,
                                                  "start": None, "end": None})
            span.update({mark: float(moment), "node": node, "run": int(run_id)})
        found = []
        for occurrences in runs.values():
            spans = sorted((span for span in occurrences.values() if span["start"] is not None),
                           key=lambda span: span["start"])
            found += [(earlier, later) for earlier, later in zip(spans, spans[1:])
                      if earlier["end"] is None or later["start"] < earlier["end"]]
        return found

    @staticmethod
    def unsettled(client, jobs, expected, manual, started, outside, processes):
        """What a settling that timed out still waits for, and what the database and
        the processes say of it."""
        settled = {(s["job_id"], round(utc(s["scheduled_for"]), 3))
                   for job_id in jobs for s in client.stats(job_id)}
        missing = sorted(expected - settled)
        recorded = {s["run_id"] for job_id in manual for s in client.stats(job_id)}
        unrecorded = sorted(set(started) - recorded)
        lines = [f"{len(missing)} occurrence(s) without a stat, e.g. {missing[:5]}; "
                 f"{len(unrecorded)} started run(s) unrecorded, e.g. {unrecorded[:5]}"]
        if outside is not None:
            columns = ("id, job_id, claim_key, state, node, scheduled_for, ran_at, started_at, "
                       "finished_at, error, owed_by, retry_at")
            for job_id, when in missing[:5]:
                lines.append(f"runs of {job_id} at {when}: " + repr(outside.rows(
                    f"SELECT {columns} FROM runs WHERE job_id = %s AND scheduled_for "
                    "BETWEEN %s AND %s", (job_id, when - 0.01, when + 0.01))))
                lines.append("its row: " + repr(outside.rows(
                    'SELECT disabled, "cursor", next_run_at, is_done FROM jobs WHERE id = %s',
                    (job_id,))))
            for run_id in unrecorded[:5]:
                lines.append(f"run {run_id}: " + repr(outside.rows(
                    f"SELECT {columns} FROM runs WHERE id = %s", (run_id,))))
            lines.append("nodes: " + repr(outside.rows("SELECT * FROM nodes")))
        folder = tempfile.mkdtemp(prefix="kala-chaos-logs-")
        for process in processes:
            with open(os.path.join(folder, f"{process.node_id}.log"), "w") as log_file:
                log_file.write("".join(process.log))
        lines.append(f"the processes' logs: {folder}")
        return "\n".join(lines)

    @staticmethod
    def recorded(client, jobs):
        """The stats of ``jobs``, or None while the process answers 503 (its database
        sessions still coming back from a cut or a hang the chaos left just before)."""
        stats = []
        for job_id in jobs:
            status, body, _ = client.call("GET", f"/api/v1/job/stats/{job_id}/")
            if status == 503:
                return None
            stats += body["job_stats"]
        return stats

    @classmethod
    def finished(cls, client, jobs, expected):
        stats = cls.recorded(client, jobs)
        return stats is not None and expected <= {
            (s["job_id"], round(utc(s["scheduled_for"]), 3)) for s in stats}

    @classmethod
    def finished_runs(cls, client, manual, started):
        stats = cls.recorded(client, manual)
        return stats is not None and set(started) <= {s["run_id"] for s in stats}


# =============================================================================
# Security: who may use the API, and what a job's process gets
# =============================================================================

TOKEN = "tok-3f9c2a7e51b84d06"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def make_certificate(directory):
    """A self-signed certificate for localhost and 127.0.0.1, made with the openssl CLI."""
    if not shutil.which("openssl"):
        pytest.skip("the HTTPS test needs the openssl command to make its certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


class TestSecurity:
    @pytest.fixture
    def api(self, memory_api):
        """Who may use the API is decided before any store is asked: one in memory."""
        return memory_api

    @pytest.fixture
    def guarded(self):
        with server_in_thread(access=kala.AccessPolicy(TOKEN)) as server:
            yield Client(server.server_address[1])

    def test_every_api_route_needs_the_token(self, guarded):
        for method, path in [("GET", "/api/v1/job/"), ("POST", "/api/v1/job/"),
                             ("GET", "/api/v1/stats/"), ("DELETE", "/api/v1/job/all/"),
                             ("GET", "/api/v1/job/x/"), ("POST", "/api/v1/job/start/x/"),
                             ("GET", "/api/v1/nowhere")]:
            status, body, response = guarded.call(method, path, {"name": "n", "command": "true"})
            assert status == 401 and "Bearer" in body["error"], (method, path)
            assert response.getheader("WWW-Authenticate").startswith("Bearer")
        for wrong in ("Bearer nope", f"Basic {TOKEN}", "Bearer", TOKEN, f"Bearer {TOKEN}x"):
            status, body, _ = guarded.call("GET", "/api/v1/job/", headers={"Authorization": wrong})
            assert status == 401 and TOKEN not in json.dumps(body), wrong
        assert guarded.call("GET", "/api/v1/job/", headers=BEARER)[:2] == (200, {"jobs": {}})
        assert guarded.call("POST", "/api/v1/job/", {"name": "n", "command": "true"},
                            headers={"Authorization": f"bearer  {TOKEN} "})[0] == 201

    def test_health_and_readiness_need_no_token(self, guarded):
        status, body, _ = guarded.call("GET", "/healthz")
        assert status == 200 and body["status"] == "ok"
        assert body["threads"] and all(body["threads"].values())
        status, body = wait_for(lambda: (lambda answer: answer[0] == 200 and answer)(
            guarded.call("GET", "/readyz/")), message="readiness")[:2]
        assert body == {"ready": True, "reasons": [], "node": body["node"]} and body["node"]
        assert TOKEN not in json.dumps(body)

    def test_a_scheduler_not_running_is_neither_healthy_nor_ready(self):
        store = Store()
        scheduler = Scheduler(store, workers=2)  # never started
        scheduler.timers.push([kala.Timer("late", time.time() - 5, 0)])  # 5 s overdue
        server = kala.KalaServer(("127.0.0.1", 0), kala.KalaApp(store, scheduler))
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            client = Client(server.server_address[1])
            status, body, _ = client.call("GET", "/healthz")
            assert status == 503 and "kala-timer" in body["status"]
            status, body, _ = client.call("GET", "/readyz")
            assert status == 503 and body["ready"] is False
            assert any("taken no write" in r for r in body["reasons"])
            assert any("does not hold its lease" in r for r in body["reasons"])
            assert any(r.startswith("the timer is") for r in body["reasons"])
        finally:
            server.shutdown()
            server.server_close()
            thread.join()

    def test_the_page_itself_needs_no_token(self, guarded):
        status, body, _ = guarded.call("GET", "/webui/")
        assert status == 200 and b"<title>kala.py</title>" in body

    @pytest.mark.parametrize("headers", [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:1"},  # another port is another origin
        {"Sec-Fetch-Site": "cross-site"},
    ])
    def test_cross_site_writes_are_403_and_change_nothing(self, api, headers):
        job_id = api.create(schedule=f"R/{iso(time.time() + 3600)}/PT1H")
        for method, path in [("POST", "/api/v1/job/"), ("DELETE", f"/api/v1/job/{job_id}/"),
                             ("DELETE", "/api/v1/job/all/"),
                             ("POST", f"/api/v1/job/disable/{job_id}/")]:
            status, body, _ = api.call(method, path, {"name": "evil", "command": "true"},
                                       headers={**headers, "Content-Type": "application/json"})
            assert status == 403 and "refused" in body["error"], (method, path)
        assert list(api.jobs()) == [job_id] and api.job(job_id)["disabled"] is False

    def test_reads_with_a_foreign_origin_are_not_shared_with_it(self, api):
        status, _, response = api.call("GET", "/api/v1/job/", headers={"Origin": "http://evil.example"})
        assert status == 200 and response.getheader("Access-Control-Allow-Origin") is None
        status, _, response = api.call("OPTIONS", "/api/v1/job/",
                                       headers={"Origin": "http://evil.example",
                                                "Access-Control-Request-Method": "POST"})
        assert status == 405 and response.getheader("Access-Control-Allow-Origin") is None

    def test_the_servers_own_page_may_write(self, api):
        own = {"Origin": f"http://127.0.0.1:{api.port}", "Sec-Fetch-Site": "same-origin",
               "Content-Type": "application/json"}
        status, body, _ = api.call("POST", "/api/v1/job/", {"name": "n", "command": "true"},
                                   headers=own)
        assert status == 201, body

    @pytest.mark.parametrize("content_type, origin, expected", [
        ("text/plain", None, 415),
        ("text/plain;charset=UTF-8", None, 415),
        ("multipart/form-data; boundary=x", None, 415),
        ("application/x-www-form-urlencoded", "own", 415),   # a browser: never our page
        ("application/x-www-form-urlencoded", None, 201),    # curl -d, as Kala's README shows
        ("application/json", None, 201),
        (None, None, 201),                                   # the Kala Go client
    ])
    def test_body_types_a_page_can_send_anywhere_are_415(self, api, content_type, origin,
                                                         expected):
        headers = {"Content-Type": content_type} if content_type else {}
        if origin:
            headers["Origin"] = f"http://127.0.0.1:{api.port}"
        status, body, _ = api.call("POST", "/api/v1/job/", {"name": "n", "command": "true"},
                                   headers=headers)
        assert status == expected, body
        assert len(api.jobs()) == (1 if expected == 201 else 0)

    @pytest.mark.parametrize("host, allowed", [
        ("evil.example", False), ("evil.example:8000", False), ("127.0.0.1.evil.example", False),
        ("localhost", True), ("LOCALHOST:8000", True), ("127.0.0.1:8000", True),
        ("127.8.9.10", True), ("[::1]:8000", True), ("app.localhost", True),
        ("192.168.1.10", False),
    ])
    def test_a_loopback_server_answers_only_to_loopback_hosts(self, api, host, allowed):
        status, body, _ = api.call("GET", "/api/v1/job/", headers={"Host": host})
        assert status == (200 if allowed else 403), body
        if not allowed:
            assert "--allow-host" in body["error"]

    def test_allowed_hosts_and_servers_bound_beyond_loopback(self):
        policy = kala.AccessPolicy(allowed_hosts=["kala.example.com"])
        assert policy.host_allowed("kala.example.com") and not policy.host_allowed("evil.example")
        open_policy = kala.AccessPolicy(loopback_only=False)
        assert open_policy.host_allowed("evil.example")  # reachable anyway: the token guards it
        listed = kala.AccessPolicy(loopback_only=False, allowed_hosts=["kala.example.com"])
        assert listed.host_allowed("10.0.0.5") and not listed.host_allowed("evil.example")
        with server_in_thread(access=policy) as server:
            client = Client(server.server_address[1])
            headers = {"Host": "kala.example.com", "Origin": "https://kala.example.com"}
            assert client.call("POST", "/api/v1/job/", {"name": "n", "command": "true"},
                               headers=headers)[0] == 201

    def test_half_open_slow_connections_do_not_block_a_normal_request(self, monkeypatch):
        monkeypatch.setattr(kala._RequestHandler, "request_deadline", 1.0)
        with server_in_thread() as server:
            port = server.server_address[1]
            slow = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(50)]
            for sock in slow:
                sock.sendall(b"GET /api/v1/job/ HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            conn = Client(port).connect(timeout=1.0)  # the issue's bound: within a second
            conn.request("GET", "/api/v1/stats/")
            assert conn.getresponse().status == 200
            conn.close()
            # Trickling a byte now and then does not keep a connection past the deadline.
            trickler = slow[0]
            deadline = time.monotonic() + 10
            with pytest.raises((ConnectionError, BrokenPipeError)):
                while time.monotonic() < deadline:
                    trickler.sendall(b"a")
                    time.sleep(0.05)
            for sock in slow[1:]:
                assert sock.recv(100) == b""  # closed by the server, no answer owed
                sock.close()

    def test_connections_over_the_cap_get_503_and_the_server_recovers(self, caplog):
        with server_in_thread(max_connections=5) as server:
            port = server.server_address[1]
            held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(5)]
            for _ in range(3):
                with socket.create_connection(("127.0.0.1", port), timeout=10) as extra:
                    answer = extra.makefile("rb").read()
                assert answer.startswith(b"HTTP/1.1 503") and b"too many connections" in answer
            busy = [r for r in caplog.records if "turning new ones away" in r.getMessage()]
            assert len(busy) == 1  # one line, not one per connection
            for sock in held:
                sock.close()
            client = Client(port)
            wait_for(lambda: client.call("GET", "/api/v1/job/")[0] == 200,
                     message="a free connection slot")

    def test_https_with_a_self_signed_certificate(self, serve, tmp_path):
        import ssl
        cert, key = make_certificate(tmp_path)
        context = ssl.create_default_context(cafile=cert)
        process = serve("-n", "--tls-cert", cert, "--tls-key", key, env={"KALA_TOKEN": TOKEN},
                        headers=BEARER, tls=context)
        assert "listening on https://127.0.0.1:" in "".join(process.log)
        job_id = process.client.create(command="true")
        assert process.client.job(job_id)["name"] == "job"
        # Plain HTTP, and a TLS client that does not trust the certificate, fail
        # alone; the server goes on serving.
        with socket.create_connection(("127.0.0.1", process.client.port), timeout=10) as sock:
            sock.sendall(b"GET /api/v1/job/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert b"HTTP/1.1 200" not in sock.makefile("rb").read()
        with pytest.raises(ssl.SSLError):
            Client(process.client.port, BEARER, ssl.create_default_context()).call(
                "GET", "/api/v1/job/")
        assert process.client.call("GET", "/api/v1/job/")[0] == 200

    def test_files_are_private_and_the_token_is_never_shown(self, serve, tmp_path):
        db = tmp_path / "private.db"
        out = tmp_path / "env.txt"
        old_umask = os.umask(0o022)
        try:
            process = serve("--db", str(db), "-v", "--pass-env", "PASSED_ON",
                            env={"KALA_TOKEN": TOKEN, "SERVER_SECRET": "hush",
                                 "PASSED_ON": "yes"}, headers=BEARER)
        finally:
            os.umask(old_umask)
        client = process.client
        job_id = client.create(command=f"sh -c 'env > {out}'", environment={"GREETING": "hi"})
        wait_for(lambda: client.stats(job_id), message="the run")
        child = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
        assert (child["GREETING"], child["PASSED_ON"], child["KALA_JOB_ID"]) == ("hi", "yes", job_id)
        assert "PATH" in child and "SERVER_SECRET" not in child and "KALA_TOKEN" not in child
        assert client.job(job_id)["environment"] == {"GREETING": "hi"}
        assert client.call("GET", "/api/v1/job/", headers={"Authorization": "Bearer wrong"})[0] == 401
        shown = [json.dumps(client.jobs()), json.dumps(client.stats(job_id)),
                 json.dumps(client.call("GET", "/api/v1/stats/")[1])]
        process.stop()
        shown.append("".join(process.log))
        assert "token required" in shown[-1] and "GET /api/v1/job/" in shown[-1]
        assert all(TOKEN not in text for text in shown)
        locks = tmp_path / "private.db-locks"
        modes = {path.name: path.stat().st_mode & 0o777
                 for path in [db, locks, *locks.iterdir(), *tmp_path.glob("private.db-*")]}
        assert modes.pop("private.db-locks") == 0o700
        assert set(modes.values()) == {0o600}, modes

    def test_listening_beyond_loopback_without_a_token_warns(self, serve):
        process = serve("-n")
        assert "listening on http://127.0.0.1:" in "".join(process.log)  # the default
        process = serve("-n", "-i", "0.0.0.0")
        assert "has no token" in "".join(process.log)
        process = serve("-n", "-i", "0.0.0.0", env={"KALA_TOKEN": TOKEN}, headers=BEARER)
        log_text = "".join(process.log)
        assert "has no token" not in log_text and "clear text" in log_text
        assert process.client.call("GET", "/api/v1/job/", headers={"Host": "evil.example"})[0] == 200

    def test_an_ipv6_loopback_interface(self, serve):
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::1", 0))
        except OSError:
            pytest.skip("no IPv6 loopback here")
        process = serve("-n", "-i", "::1")
        assert "listening on http://[::1]:" in "".join(process.log)
        conn = http.client.HTTPConnection("::1", process.client.port, timeout=10)
        conn.request("GET", "/api/v1/job/")
        assert conn.getresponse().status == 200  # Host [::1]:port is a loopback name
        conn.close()

    @pytest.mark.parametrize("args, env, words", [
        (["--token", ""], {}, "non-empty printable ASCII"),
        (["--token", "two words"], {}, "non-empty printable ASCII"),
        ([], {"KALA_TOKEN": "tab\tin"}, "non-empty printable ASCII"),
        (["--token-file", "/nonexistent/token"], {}, "cannot read the token file"),
        (["--token", "tok-both-9c1", "--token-file", "/etc/hostname"], {}, "not both"),
        (["--tls-cert", "/nonexistent/cert.pem"], {}, "cannot load the TLS certificate"),
        (["--tls-key", "/nonexistent/key.pem"], {}, "--tls-key needs --tls-cert"),
        (["--pass-env", "KALA_TOKEN"], {}, "KALA_* stay with the server"),
        ([], {"KALA_PASS_ENV": "A,B-C"}, "'B-C'"),
    ])
    def test_bad_security_options_get_one_line(self, args, env, words):
        done = kala_cli("serve", "-n", "-p", "0", *args, env=env)
        assert done.returncode == 2 and words in done.stderr, done.stderr
        secret = (args[1:2] if args[:1] == ["--token"] else [env.get("KALA_TOKEN", "")])[0]
        assert len(secret) < 4 or secret not in done.stderr  # a secret, even when malformed
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr

    def test_a_token_file(self, serve, tmp_path):
        (tmp_path / "token").write_text(TOKEN + "\n")
        process = serve("-n", "--token-file", str(tmp_path / "token"), headers=BEARER)
        assert process.client.call("GET", "/api/v1/job/")[0] == 200
        assert Client(process.client.port).call("GET", "/api/v1/job/")[0] == 401


class TestKalaClients:
    """Kala's Go client and kala-python, byte for byte as they talk, with the token
    in their base URL (``http://kala:TOKEN@host:8000``) sent as HTTP Basic."""

    @staticmethod
    def go_request(port, method, path, body=None, user="kala", password=TOKEN):
        """What Go's net/http writes for Kala's client (sling): Host, User-Agent,
        Content-Length, the other headers sorted, then the transport's Accept-Encoding."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
                 "User-Agent: Go-http-client/1.1"]
        payload = b"" if body is None else json.dumps(body, separators=(",", ":"),
                                                      sort_keys=True).encode() + b"\n"
        if method == "POST":
            lines.append(f"Content-Length: {len(payload)}")
        if user is not None:
            credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
            lines.append(f"Authorization: Basic {credentials}")
        if body is not None:
            lines.append("Content-Type: application/json")
        lines += ["Accept-Encoding: gzip", "Connection: close"]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
            answer = sock.makefile("rb").read()
        head, _, content = answer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, json.loads(content) if content else None, head.decode()

    def test_the_go_client_with_the_token_in_its_base_url(self):
        with server_in_thread(access=kala.AccessPolicy(TOKEN)) as server:
            port = server.server_address[1]
            status, created, _ = self.go_request(port, "POST", "/api/v1/job/", {
                "name": "go", "command": "sh -c 'echo from go'", "owner": "ops",
                "schedule": f"R/{iso(time.time() + 3600)}/PT1H"})
            assert status == 201
            job_id = created["id"]
            status, body, _ = self.go_request(port, "GET", f"/api/v1/job/{job_id}")
            assert status == 200 and body["job"]["owner"] == "ops"
            assert self.go_request(port, "POST", f"/api/v1/job/start/{job_id}")[0] == 204
            status, body, _ = self.go_request(port, "GET", f"/api/v1/job/stats/{job_id}")
            # What GetJobStats decodes into job.JobStat: every field filled.
            [stat] = body["job_stats"]
            assert (stat["job_id"], stat["success"], stat["number_of_retries"]) == (
                job_id, True, 0)
            assert stat["ran_at"] != kala.ZERO_TIME and stat["execution_duration"] > 0
            status, body, _ = self.go_request(port, "GET", "/api/v1/stats")
            assert (body["Stats"]["jobs"], body["Stats"]["active_jobs"],
                    body["Stats"]["success_count"]) == (1, 1, 1)
            assert self.go_request(port, "DELETE", f"/api/v1/job/{job_id}")[0] == 204

    @pytest.mark.parametrize("user, password", [("kala", "nope"), ("kala", ""), (None, None),
                                                (TOKEN, "")])
    def test_basic_credentials_without_the_token_are_401(self, user, password):
        with server_in_thread(access=kala.AccessPolicy(TOKEN)) as server:
            status, body, head = self.go_request(server.server_address[1], "GET",
                                                 "/api/v1/job/", user=user, password=password)
            assert status == 401 and TOKEN not in json.dumps(body)
            assert 'WWW-Authenticate: Bearer realm="kala.py"' in head
            assert 'Basic realm="kala.py"' in head

    def test_any_user_name_and_a_password_with_colons(self):
        token = "a:b:c-" + TOKEN
        with server_in_thread(access=kala.AccessPolicy(token)) as server:
            port = server.server_address[1]
            for user in ("", "kala", "someone else"):
                assert self.go_request(port, "GET", "/api/v1/job/", user=user,
                                       password=token)[0] == 200

    def test_a_browser_is_not_offered_basic(self):
        # Its own login dialog would get in the way of the page asking for the token.
        with server_in_thread(access=kala.AccessPolicy(TOKEN)) as server:
            status, _, response = Client(server.server_address[1]).call(
                "GET", "/api/v1/job/", headers={"Sec-Fetch-Mode": "cors"})
            assert status == 401 and response.getheader("WWW-Authenticate") == (
                'Bearer realm="kala.py"')

    def test_kala_python_reads_the_snake_case_stats(self, api):
        # kala-python's get_job_stats and get_app_stats index these keys.
        job_id = api.create(schedule=f"R/{iso(time.time() + 3600)}/PT1H")
        assert api.call("POST", f"/api/v1/job/start/{job_id}/")[0] == 204
        stats = api.call("GET", "/api/v1/stats/")[1]["Stats"]
        assert (stats["active_jobs"], stats["disabled_jobs"], stats["jobs"]) == (1, 0, 1)
        assert stats["next_run_at"] != kala.ZERO_TIME and stats["created"] != kala.ZERO_TIME
        assert [s["success"] for s in api.stats(job_id)] == [True]


# =============================================================================
# The web page, driven in headless Chromium
# =============================================================================

ARTIFACTS = os.path.join(os.path.dirname(KALA), "artifacts")
#: Chromium as root on a closed network: no sandbox, no calls home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def _without_browser(reason):
    _missing(reason, "KALA_BROWSER_TESTS")


@pytest.fixture(scope="module")
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _without_browser("browser tests need the playwright package: "
                         "python3 -m pip install playwright")
    executable = os.environ.get("KALA_CHROMIUM") or shutil.which("chromium")
    if not executable:
        _without_browser("browser tests need Chromium: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def many_jobs(count):
    """``count`` jobs as an import brings them in (one transaction): job N is named
    "job N of many", runs hourly from an hour from now, and has no runs yet."""
    template = kala.job_from_request({"name": "job", "command": "true",
                                      "schedule": f"R/{iso(time.time() + 3600)}/PT1H"},
                                     now=time.time())
    jobs = []
    for i in range(count):  # a shallow copy each (they are only read): twice as fast
        job = copy.copy(template)  # as dataclasses.replace, which checks every field
        job.id, job.name = f"many-{i}", f"job {i} of many"
        jobs.append(job)
    return kala.ImportedJobs(jobs, {job.id: [] for job in jobs})


class WebPage:
    """A fresh browser tab (own session storage) on a serve process, recording
    console errors, uncaught exceptions and dialogs."""

    def __init__(self, browser, port, **context_options):
        self.context = browser.new_context(**context_options)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.url = f"http://127.0.0.1:{port}/"
        self.errors, self.dialogs = [], []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def open(self, fragment=""):
        self.page.goto(self.url + fragment)
        return self.page

    def fill(self, **fields):
        """Fill fields of the new-job form by name; a select gets the option of that value."""
        for name, value in fields.items():
            field = self.page.locator(f"#job-form [name={name}]")
            if field.evaluate("element => element.tagName") == "SELECT":
                field.select_option(value)
            else:
                field.fill(value)

    def names_listed(self, names, message="the list"):
        """Wait until the list shows exactly ``names``, in that order."""
        wait_for(lambda: self.page.locator("#jobs tr td:first-child").all_inner_texts() == names,
                 message=f"{message}: {names}")

    def unexpected_errors(self, *statuses):
        """Console errors other than the browser's note on an expected HTTP status."""
        allowed = [f"status of {status}" for status in statuses]
        return [e for e in self.errors if not any(a in e for a in allowed)]

    def screenshot(self, name):
        os.makedirs(ARTIFACTS, exist_ok=True)
        self.page.screenshot(path=os.path.join(ARTIFACTS, name), full_page=True)


class TestWebPage:
    @pytest.fixture
    def server(self, serve):
        return serve("-n")

    @pytest.fixture
    def tab(self, chromium, server):
        tab = WebPage(chromium, server.client.port)
        yield tab
        tab.context.close()

    def later(self, hours=1):
        return iso(time.time() + hours * 3600)

    def test_the_list_shows_jobs_created_through_the_api(self, server, tab):
        api = server.client
        api.create(name="backup", owner="ops", command="true", schedule=f"R2/{self.later()}/PT10S")
        api.create(name="report", owner="alice", command="true", disabled=True,
                   schedule=f"R/{self.later()}/P1D")
        api.create(name="cleanup", owner="ops", command="true", schedule=f"R0/{self.later()}/")
        page = tab.open()
        tab.names_listed(["backup", "cleanup", "report"])
        backup = page.locator("#jobs tr", has_text="backup").locator("td").all_inner_texts()
        assert backup[1:3] == ["ops", "every 10 s, 3 more runs"] and backup[4] == "never"
        assert backup[3] in ("in 60 min", "in 1 h") and backup[6:] == ["0", "0", "active"]
        report = page.locator("#jobs tr", has_text="report").locator("td")
        assert report.nth(8).inner_text() == "disabled"
        assert report.nth(3).inner_text() in ("off (would be in 60 min)", "off (would be in 1 h)")
        assert page.locator("#jobs tr", has_text="cleanup").locator("td").nth(2).inner_text() \
            .startswith("once at ")
        page.click("th button[data-sort=name]")  # again: descending
        tab.names_listed(["report", "cleanup", "backup"], "descending")
        page.fill("#filter", "OPS")
        tab.names_listed(["cleanup", "backup"], "owner ops, found by the API")
        page.fill("#filter", "")
        page.select_option("#status-filter", "disabled")
        tab.names_listed(["report"], "the disabled")
        assert page.locator("#count").inner_text() == "1 job found"
        page.select_option("#status-filter", "")
        tab.names_listed(["report", "cleanup", "backup"], "all again")
        assert page.locator("#pager").is_hidden()  # one page
        tab.screenshot("webui-list.png")
        # It refreshes by itself: a job created elsewhere appears.
        api.create(name="arrives-later", command="true", schedule=f"R/{self.later()}/PT1H")
        page.locator("#jobs tr", has_text="arrives-later").wait_for(timeout=15_000)
        page.click("nav >> text=Status")
        page.locator("#nodes tr").first.wait_for()
        node = api.call("GET", "/api/v1/stats/")[1]["Stats"]["nodes"][0]["id"]
        cells = page.locator("#nodes tr td").all_inner_texts()
        assert cells[0] == node and cells[1].endswith(("now", "s ago")) and cells[2:] == ["0", "0"]
        assert "4 (3 active, 1 disabled)" in page.locator("#app-stats").inner_text()
        tab.screenshot("webui-status.png")
        assert tab.unexpected_errors() == []

    def test_creating_jobs_through_the_form(self, server, tab):
        page = tab.open("#/new")
        start = datetime.now() + timedelta(days=2)
        tab.fill(name="nightly", owner="ops", command="sh -c 'echo made by the form'",
                 start=start.strftime("%Y-%m-%dT%H:%M:%S"), repeat="times", repeats="2",
                 every="10", unit="S")
        expected = f"R2/{start.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%S')}Z/PT10S"
        assert page.input_value("input[name=schedule]") == expected
        page.fill("input[name=retries]", "2")
        page.click("button[type=submit] >> text=Create job")
        page.wait_for_url(re.compile(r"#/job/"))
        job_id = urllib.parse.unquote(page.url.split("#/job/")[1])
        job = server.client.job(job_id)
        assert (job["name"], job["owner"], job["schedule"], job["retries"]) == (
            "nightly", "ops", expected, 2)
        assert job["command"] == "sh -c 'echo made by the form'" and job["type"] == 0
        page.locator("#job-title", has_text="nightly").wait_for()
        # A remote job: its fields go into remote_properties.
        page.click("nav >> text=New job")
        tab.fill(name="ping", type="1")
        assert page.locator("[name=command]").is_hidden()
        tab.fill(url="http://127.0.0.1:9/hook", method="POST", body='{"hello": 1}',
                 headers="X-Token: abc\nAccept: application/json", codes="200, 204",
                 on_failure_job=job_id)
        page.check("input[name=disabled]")
        page.click("button[type=submit] >> text=Create job")
        page.wait_for_url(re.compile(r"#/job/(?!" + re.escape(job_id) + ")"))
        remote = server.client.job(urllib.parse.unquote(page.url.split("#/job/")[1]))
        assert remote["type"] == 1 and remote["disabled"] is True
        assert remote["on_failure_job"] == job_id
        assert remote["remote_properties"] == {
            "url": "http://127.0.0.1:9/hook", "method": "POST", "body": '{"hello": 1}',
            "headers": {"X-Token": ["abc"], "Accept": ["application/json"]}, "timeout": 30,
            "expected_response_codes": [200, 204]}
        assert tab.unexpected_errors() == []

    def test_editing_a_job_in_the_form_keeps_its_history(self, server, tab, tmp_path):
        api = server.client
        handler = api.create(name="alert", trigger_only=True)
        job_id = api.create(name="report", owner="ops", command="echo v1", trigger_only=True,
                            on_failure_job=handler, retries=1)
        api.call("POST", f"/api/v1/job/start/{job_id}/")
        page = tab.open(f"#/job/{job_id}")
        page.locator("#job-title", has_text="report").wait_for()
        page.click("#edit")
        page.locator("#form-title", has_text="Edit job").wait_for()
        # The form opens with the job's values, the failure job among them.
        # Polled from here: page.wait_for_function polls by evaluating a string, which
        # the page's Content-Security-Policy refuses (seen when the form was not filled
        # at the first look).
        wait_for(lambda: page.locator("input[name=name]").input_value() == "report",
                 message="the form to be filled in with the job")
        assert page.input_value("[name=command]") == "echo v1"
        assert page.input_value("select[name=on_failure_job]") == handler
        assert page.is_checked("input[name=trigger_only]")
        page.fill("[name=command]", "echo <b>v2</b>")
        page.fill("input[name=cwd]", str(tmp_path))
        page.click("button[type=submit] >> text=Save changes")
        page.wait_for_url(re.compile(r"#/job/"))
        job = api.job(job_id)
        assert (job["command"], job["cwd"], job["owner"], job["retries"], job["on_failure_job"],
                job["success_count"]) == ("echo <b>v2</b>", str(tmp_path), "ops", 1, handler, 1)
        page.locator("#job-fields", has_text="<b>v2</b>").wait_for()  # shown as text
        assert len(api.stats(job_id)) == 1
        assert tab.unexpected_errors() == []

    def test_saving_an_edit_unchanged_changes_nothing(self, server, tab):
        """Every field a job can have, shown in the form and sent back whole."""
        api = server.client
        handler = api.create(name="handler", trigger_only=True)
        local = api.create(
            name="every field", owner="ops ", command="sh -c 'echo {{.Name}} \"$A\"'",
            cwd="/tmp", environment={"A": "1", "B": "x=y"}, TemplateDelimiters="{{ }}",
            schedule=f"R/{iso(time.time() + 3600)}/PT1H", timezone="Europe/Berlin",
            epsilon="PT30S", timeout=12.5, retries=3, retry_delay="PT30S", retry_backoff=2,
            retry_delay_max="PT10M", concurrency="forbid", on_failure_job=handler,
            resume_at_next_scheduled_time=True, disabled=True)
        child = api.create(name="child", parent_jobs=[local, handler], command="true",
                           concurrency="replace", retries=1, retry_delay="PT1M")
        remote = api.create(name="remote", type=1, trigger_only=True, retry_backoff=1.5,
                            remote_properties={
                                "url": "http://127.0.0.1:9/hook?a=1", "method": "PUT",
                                "body": '{"x": [1, 2]}', "timeout": 7,
                                "headers": {"X-A": ["1", "2"], "Accept": ["text/plain"]},
                                "expected_response_codes": [200, 204]})
        for job_id in (local, child, remote, handler):
            before = urllib.request.urlopen(f"{tab.url}api/v1/job/{job_id}/").read()
            page = tab.open(f"#/edit/{job_id}")
            name = json.loads(before)["job"]["name"]
            wait_for(lambda: page.input_value("input[name=name]") == name,
                     message="the form to open with the job's values")
            page.click("button[type=submit] >> text=Save changes")
            page.wait_for_url(re.compile(r"#/job/"))
            page.locator("#notice", has_text="Saved").wait_for()
            after = urllib.request.urlopen(f"{tab.url}api/v1/job/{job_id}/").read()
            assert after == before, name
        # The job's page shows every setting.
        page = tab.open(f"#/job/{local}")
        fields = page.locator("#job-fields")
        fields.locator("text=A=1 B=x=y").wait_for()
        text = fields.inner_text()
        for shown in ("a run due meanwhile is skipped (forbid)", "30 s, then × 2 each time, at "
                      "most 10 min", "12.5 s", "/tmp", "{{ }}", "Europe/Berlin", "30 s"):
            assert shown in text, shown
        assert tab.unexpected_errors() == []

    def test_the_form_builds_a_cron_schedule_in_a_time_zone(self, server, tab):
        page = tab.open("#/new")
        tab.fill(name="mornings", command="true", repeat="cron", cron_time="07:30",
                 cron_days="* * 1-5", timezone="Europe/Berlin")
        assert page.input_value("input[name=schedule]") == "30 7 * * 1-5"
        page.click("button[type=submit] >> text=Create job")
        page.wait_for_url(re.compile(r"#/job/"))
        job_id = urllib.parse.unquote(page.url.split("#/job/")[1])
        job = server.client.job(job_id)
        assert (job["schedule"], job["timezone"]) == ("30 7 * * 1-5", "Europe/Berlin")
        page.locator("#job-fields", has_text="Monday to Friday at 07:30 (Europe/Berlin)").wait_for()
        page.click("#edit")  # an edit keeps the zone
        wait_for(lambda: page.input_value("input[name=name]") == "mornings",
                 message="the form to open with the job's values")
        assert page.input_value("input[name=timezone]") == "Europe/Berlin"
        assert tab.unexpected_errors() == []

    def test_the_apis_error_is_shown_next_to_the_form(self, server, tab):
        page = tab.open("#/new")
        tab.fill(name="bad", command="true", schedule="tomorrow")
        page.click("button[type=submit] >> text=Create job")
        error = page.locator("#form-error")
        error.filter(has_text="R[n]/<start>/<interval>").wait_for()
        assert "'tomorrow'" in error.inner_text()
        assert page.input_value("select[name=repeat]") == "text"  # typed: kept as typed
        past = (datetime.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
        page.select_option("select[name=repeat]", "once")
        page.fill("input[name=start]", past)
        page.dispatch_event("input[name=start]", "change")
        page.click("button[type=submit] >> text=Create job")
        error.filter(has_text="already passed").wait_for()
        assert server.client.jobs() == {} and "#/new" in page.url
        assert tab.unexpected_errors(400) == []

    def test_run_now_disable_enable_and_delete(self, server, tab, tmp_path):
        api = server.client
        job_id = api.create(name="button-job", command="sh -c 'echo pressed'",
                            schedule=f"R/{self.later()}/PT1H")
        page = tab.open(f"#/job/{job_id}")
        page.locator("#job-title", has_text="button-job").wait_for()
        page.click("#run-now")
        page.locator("#runs tr").first.wait_for()
        assert len(api.stats(job_id)) == 1 and api.stats(job_id)[0]["trigger"] == "manual"
        run = page.locator("#runs tr").first.locator("td").all_inner_texts()
        assert run[2] == "✓ ok" and run[4] == "manual" and run[5] == api.stats(job_id)[0]["node"]
        assert run[0] in ("now", "1 s ago", "2 s ago")  # a manual run has no "due" beside it
        page.click("#runs summary")
        assert page.locator("#runs pre").inner_text() == "pressed\n"
        tab.screenshot("webui-job.png")
        page.click("#toggle >> text=Disable")
        page.locator("#toggle", has_text="Enable").wait_for()
        assert api.job(job_id)["disabled"] is True
        page.click("#toggle >> text=Enable")
        page.locator("#toggle", has_text="Disable").wait_for()
        assert api.job(job_id)["disabled"] is False
        page.click("#delete")
        assert "button-job" in page.locator("#confirm-text").inner_text()
        page.click("#delete-no")
        assert api.jobs() != {}
        page.click("#delete")
        page.click("#delete-yes")
        page.wait_for_url(re.compile(r"#/$"))
        assert api.call("GET", f"/api/v1/job/{job_id}/")[0] == 404
        # A refresh already under way may still ask for the job just deleted.
        assert tab.unexpected_errors(404) == []

    def test_user_text_is_shown_as_text_and_runs_nothing(self, server, tab):
        name = "<img src=x onerror=alert(1)>"
        command = "echo '<script>alert(2)</script><b>bold</b>'"
        api = server.client
        job_id = api.create(name=name, owner="<i>o</i>", command=command,
                            schedule=f"R/{self.later()}/PT1H")
        assert api.call("POST", f"/api/v1/job/start/{job_id}/")[0] == 204
        page = tab.open()
        cell = page.locator("#jobs tr td").first
        cell.wait_for()
        assert cell.inner_text() == name
        page.click(f"#jobs a[href='#/job/{job_id}']")
        page.locator("#job-title").filter(has_text=name).wait_for()
        page.locator("#runs summary").click()
        assert "<script>alert(2)</script><b>bold</b>" in page.locator("#runs pre").inner_text()
        assert page.locator("img, main script, main i, pre *, #jobs b, #job-fields b").count() == 0
        assert tab.dialogs == [] and tab.unexpected_errors() == []

    def test_the_token_is_asked_once_and_kept_for_the_tab(self, serve, chromium):
        server = serve("-n", env={"KALA_TOKEN": TOKEN}, headers=BEARER)
        server.client.create(name="secret-job", schedule=f"R/{self.later()}/PT1H")
        tab = WebPage(chromium, server.client.port)
        page = tab.open()
        page.locator("#token-form").wait_for()
        page.fill("input[name=token]", "wrong")
        page.click("#token-form button")
        page.locator("#token-reason", has_text="refused").wait_for()
        page.fill("input[name=token]", TOKEN)
        page.click("#token-form button")
        page.locator("#jobs tr", has_text="secret-job").wait_for()
        page.reload()
        page.locator("#jobs tr", has_text="secret-job").wait_for()
        assert page.locator("#token-form").is_hidden()
        assert page.evaluate("sessionStorage.getItem('kala-token')") == TOKEN
        assert page.evaluate("localStorage.length") == 0
        tab.context.close()
        other = WebPage(chromium, server.client.port)  # a new tab of its own
        other.open().locator("#token-form").wait_for()
        other.context.close()
        assert tab.unexpected_errors(401) == [] and other.unexpected_errors(401) == []

    def test_a_late_refusal_of_a_token_since_replaced_changes_nothing(self, serve, chromium):
        # Answers to the requests sent with a wrong token may come after the right one
        # was typed (a loaded machine): they must not ask for the token again.
        server = serve("-n", env={"KALA_TOKEN": TOKEN}, headers=BEARER)
        server.client.create(name="secret-job", schedule=f"R/{self.later()}/PT1H")
        tab = WebPage(chromium, server.client.port)
        # Counts the 401 answers, a task after each: by then the page has acted on it.
        tab.page.add_init_script("""(() => {
            const fetch = window.fetch;
            window.refusals = 0;
            window.fetch = (...args) => {
              const answer = fetch(...args);
              answer.then(response => setTimeout(() => {
                if (response.status === 401) window.refusals += 1; }, 0), () => {});
              return answer;
            };
          })();""")
        wrong, held = [], []

        def hold_all_but_the_first_wrong(route):
            if route.request.headers.get("authorization") != "Bearer wrong":
                route.continue_()
            elif wrong:
                held.append(route)
            else:
                wrong.append(route)
                route.continue_()

        tab.page.route("**/api/**", hold_all_but_the_first_wrong)
        page = tab.open()
        page.locator("#token-form").wait_for()
        page.fill("input[name=token]", "wrong")
        page.click("#token-form button")
        page.locator("#token-reason", has_text="refused").wait_for()
        page.fill("input[name=token]", TOKEN)
        page.click("#token-form button")
        page.locator("#jobs tr", has_text="secret-job").wait_for()
        assert held, "the page sent one request with the wrong token, not several"
        refused = page.evaluate("window.refusals")
        for route in held:
            route.continue_()
        page.wait_for_function("n => window.refusals >= n", arg=refused + len(held))
        assert page.locator("#token-form").is_hidden()
        assert page.locator("#jobs tr", has_text="secret-job").is_visible()
        assert page.evaluate("sessionStorage.getItem('kala-token')") == TOKEN
        assert tab.unexpected_errors(401) == []
        tab.context.close()

    def test_the_list_pages_through_the_api(self, server, tab):
        schedule = f"R/{self.later()}/PT1H"
        for i in range(120):
            server.client.create(name=f"many-{i:03}", schedule=schedule)
        page = tab.open()
        page.locator("#page-at", has_text="1–50 of 120").wait_for()
        assert page.locator("#jobs tr").count() == 50 and page.is_disabled("#page-prev")
        page.click("#page-next")
        page.locator("#page-at", has_text="51–100 of 120").wait_for()
        tab.names_listed([f"many-{i:03}" for i in range(50, 100)], "the second page")
        page.click("#page-next")
        tab.names_listed([f"many-{i:03}" for i in range(100, 120)], "the last page")
        assert page.is_disabled("#page-next")
        page.select_option("#page-size", "200")
        tab.names_listed([f"many-{i:03}" for i in range(120)], "all on one page")
        page.fill("#filter", "many-07")
        tab.names_listed([f"many-{i:03}" for i in range(70, 80)], "those found")
        assert page.locator("#count").inner_text() == "10 jobs found"
        assert tab.unexpected_errors() == []

    def test_each_picture_has_a_mark_for_each_run_it_shows(self, server, tab):
        api = server.client
        upstream = api.create(name="upstream", trigger_only=True)
        handler = api.create(name="on-call", trigger_only=True)
        good = api.create(name="good", parent_jobs=[upstream], on_failure_job=handler)
        child = api.create(name="child", parent_jobs=[good])
        bad = api.create(name="bad", command="false", trigger_only=True)
        for job_id, times in ((good, 4), (bad, 2)):
            for _ in range(times):
                assert api.call("POST", f"/api/v1/job/start/{job_id}/")[0] == 204
        wait_for(lambda: len(api.stats(child)) == 4, message="the child's four runs")
        page = tab.open()
        tab.names_listed(["bad", "child", "good", "on-call", "upstream"])
        row = lambda job_id: page.locator(f"#jobs tr[data-id='{job_id}']")
        strip = row(good).locator("svg.strip")
        assert strip.locator("rect.succeeded").count() == 4
        assert strip.locator("rect").count() == 4
        assert row(bad).locator("svg.strip rect.failed").count() == 2
        assert row(upstream).locator("svg.strip rect").count() == 0
        strip.locator("rect").first.click()  # a tap names the run
        note = row(good).locator(".strip-note").inner_text()
        assert "✓ succeeded" in note and "manual on " in note
        page.click(f"#jobs a[href='#/job/{good}']")
        page.locator("#durations circle").nth(3).wait_for()
        assert page.locator("#durations circle.succeeded").count() == 4
        graph = page.locator("#graph svg")
        graph.locator("text", has_text="upstream").wait_for()
        assert graph.locator("rect").count() == 4  # upstream, good, child, on-call
        assert sorted(graph.locator("a").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))")) == sorted(
            f"#/job/{i}" for i in (upstream, good, child, handler))
        assert graph.locator("path.on-failure").count() == 1
        assert page.locator("#no-next").inner_text() == "It runs after its parents."
        tab.screenshot("webui-job.png")
        page.click(f"#graph a[href='#/job/{child}']")
        page.locator("#job-title", has_text="child").wait_for()
        assert tab.unexpected_errors() == []

    def test_the_timeline_shows_when_each_job_runs_in_the_window(self, server, tab):
        api = server.client
        soon = time.time() + 300
        often = api.create(name="every ten minutes", schedule=f"R/{iso(soon)}/PT10M")
        twice = api.create(name="twice", schedule=f"R1/{iso(soon + 60)}/PT1M")
        api.create(name="tomorrow", schedule=f"R/{iso(soon + 86400)}/PT1H")
        api.create(name="by hand", trigger_only=True)
        page = tab.open("#/timeline")
        rows = page.locator("#timeline-rows tr[data-id]")
        rows.nth(1).wait_for()
        assert rows.evaluate_all("rows => rows.map(r => r.dataset.id)") == [often, twice]
        assert page.locator(f"tr[data-id='{often}'] rect").count() == 6
        assert page.locator(f"tr[data-id='{twice}'] rect").count() == 2
        crowd = page.locator("tr.crowding rect")
        assert crowd.count() >= 6 and page.locator("#timeline-count").inner_text() == \
            "8 runs of 2 jobs"
        tab.screenshot("webui-timeline.png")
        page.select_option("#window", str(7 * 86400))
        page.locator("tr[data-id] th a", has_text="tomorrow").wait_for()
        assert tab.unexpected_errors() == []

    def test_stop_on_the_page_ends_the_command_and_records_it(self, server, tab, tmp_path):
        api = server.client
        job_id = api.create(name="long", trigger_only=True, command=(
            f"sh -c 'echo $$ > {tmp_path}/pid; echo working; i=0; "
            f"while [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done'"))
        page = tab.open(f"#/job/{job_id}")
        page.locator("#job-title", has_text="long").wait_for()
        assert page.locator("#runs-table").is_hidden() and page.locator("#no-runs").is_visible()
        page.click("#run-now")
        page.locator("#going-runs pre", has_text="working").wait_for()
        pid = int((tmp_path / "pid").read_text())
        assert os.path.exists(f"/proc/{pid}")
        tab.screenshot("webui-running.png")
        page = tab.open("#/")
        page.locator(f"tr[data-id='{job_id}']", has_text="going").wait_for()
        page = tab.open(f"#/job/{job_id}")
        page.locator("#going-runs pre", has_text="working").wait_for()
        page.click("#going-runs button >> text=Stop this run")
        page.locator("#runs tr", has_text=kala.STOPPED_BY_REQUEST).wait_for()
        assert not os.path.exists(f"/proc/{pid}")
        [stat] = api.stats(job_id)
        assert (stat["success"], stat["error"]) == (False, kala.STOPPED_BY_REQUEST)
        assert page.locator("#going").is_hidden() and page.locator("#stop").is_hidden()
        assert tab.unexpected_errors() == []

    def test_a_hundred_thousand_jobs_open_on_their_first_page_and_one_is_found(
            self, serve, chromium, tmp_path):
        db = tmp_path / "many.db"
        with contextlib.closing(Store(str(db))) as store:
            store.import_jobs(many_jobs(100_000))
        server = serve("--db", str(db))
        tab = WebPage(chromium, server.client.port)
        page = tab.open()
        page.locator("#page-at", has_text="1–50 of 100,000").wait_for(timeout=30_000)
        assert page.locator("#jobs tr").count() == 50
        page.fill("#filter", "job 77777")
        tab.names_listed(["job 77777 of many"], "the job found by name")
        tab.context.close()
        assert tab.unexpected_errors() == []

    @pytest.mark.parametrize("width, height", [(1280, 900), (360, 740)])
    def test_screenshots_at_desktop_and_phone_widths(self, server, chromium, width, height,
                                                     tmp_path):
        """Every view drawn at a desktop's and a phone's width, without sideways
        scrolling; the screenshots go to artifacts/ for a person to look at."""
        api = server.client
        handler = api.create(name="page the on-call person", trigger_only=True)
        parent = api.create(name="nightly-database-backup-with-a-long-name", owner="ops",
                            command="sh -c 'echo dumped; exit 0'",
                            schedule=f"R/{iso(time.time() + 120)}/PT15M",
                            on_failure_job=handler)
        api.create(name="report", parent_jobs=[parent], command="true")
        api.create(name="every minute", schedule="0 * * * * *", command="false")
        for _ in range(5):
            api.call("POST", f"/api/v1/job/start/{parent}/")
        tab = WebPage(chromium, server.client.port, viewport={"width": width, "height": height})
        kind = "desktop" if width > 600 else "phone"
        for name, fragment, ready in [
                ("list", "", "#jobs svg.strip rect"), ("job", f"#/job/{parent}", "#durations circle"),
                ("timeline", "#/timeline", "#timeline-rows rect.run"),
                ("form", "#/new", "#job-form"), ("status", "#/status", "#nodes tr")]:
            page = tab.open(fragment)
            page.locator(ready).first.wait_for()
            page.wait_for_load_state("networkidle")
            assert page.evaluate("document.documentElement.scrollWidth") <= width, name
            tab.screenshot(f"webui-{kind}-{name}.png")
        tab.context.close()
        assert tab.unexpected_errors() == []


# =============================================================================
# The command line
# =============================================================================

def kala_cli(*args, env=None, script=False):
    """``kala.py ARGS`` as a real process: its exit status and what it wrote. Run as
    ``python3 -m kala`` (its bytecode cached, as ServeProcess), or as the script when
    that is the point (``script``: compiled again at each start, ~0.15 s more here)."""
    environment = {**os.environ, **(env or {})}
    if script:
        command = [sys.executable, KALA]
    else:
        command = [sys.executable, "-m", "kala"]
        environment["PYTHONPATH"] = os.path.dirname(KALA)
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=30,
                          env=environment)


def run_cli(*args, env=None, stdin=""):
    """kala.py's command line called in this process (``main(argv)``), where no real
    process is the point: its exit status and what it wrote, as ``kala_cli`` gives
    them. Not for tests run at_once (it swaps sys.stdout and the environment)."""
    out, err = io.StringIO(), io.StringIO()
    saved_environment, saved_stdin = dict(os.environ), sys.stdin
    saved_signals = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    os.environ.update(env or {})
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = kala.main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)
        sys.stdin = saved_stdin
        for signum, handler in saved_signals.items():
            signal.signal(signum, handler)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


class TestExportImport:
    """kala.py export and import move jobs between any two stores."""

    @pytest.fixture
    def other(self, database, request, tmp_path):
        """The next kind of store after ``database``'s, in a circle: SQLite, then
        PostgreSQL, then MySQL, then SQLite again (each test moves there and back)."""
        if database.startswith("postgresql://"):
            with mysql_database(request.getfixturevalue("mysql_server")) as url:
                yield url
        elif database.startswith("mysql://"):
            yield str(tmp_path / "other.db")
        else:
            with postgres_database(request.getfixturevalue("postgres_server")) as url:
                yield url

    def test_jobs_counters_positions_and_history_move_and_back(self, serve, database, other,
                                                               tmp_path):
        first = serve("--db", database)
        api = first.client
        later = iso(time.time() + 3600)
        handler = api.create(name="handler", owner="ops")
        parent = api.create(name="parent", schedule=f"R/{later}/PT1H", retries=2,
                            epsilon="PT5M", timezone="Europe/Berlin",
                            on_failure_job=handler)
        child = api.create(name="child", parent_jobs=[parent], command="sh -c 'echo child'")
        api.create(name="hook", type=1, schedule=f"R0/{later}/", disabled=True,
                   remote_properties={"url": "http://127.0.0.1:1/x", "method": "POST",
                                      "headers": {"A": ["b"]}, "body": "{}"})
        for _ in range(2):
            assert api.call("POST", f"/api/v1/job/start/{parent}/")[0] == 204
        wait_for(lambda: len(api.stats(child)) == 2, message="the child runs")
        jobs = api.jobs()
        stats = {job_id: api.stats(job_id) for job_id in jobs}
        first.stop()

        exported = tmp_path / "jobs.json"
        done = run_cli("export", "--db", database, "--stats", "-o", str(exported))
        assert done.returncode == 0, done.stderr
        assert done.stderr == "kala.py: exported 4 job(s)\n"
        done = run_cli("import", str(exported), "--db", other)
        runs = sum(map(len, stats.values()))
        assert (done.returncode, done.stderr) == (
            0, f"kala.py: imported 4 job(s) and {runs} run(s)\n")
        moved = serve("--db", other).client
        assert moved.jobs() == jobs
        def without_run_ids(stats):  # a run's id is its store's: the import numbers them anew
            return {job_id: [{**stat, "run_id": None} for stat in runs]
                    for job_id, runs in stats.items()}
        assert without_run_ids({job_id: moved.stats(job_id) for job_id in jobs}) == \
            without_run_ids(stats)
        # Exported again from there, it is the same document.
        again = run_cli("export", "--db", other, "--stats")
        assert json.loads(again.stdout) == json.loads(exported.read_text())

    def test_clashing_ids_are_refused_unless_replaced(self, database, tmp_path):
        store = open_store(database)
        job = create(store, name="original")
        store.close()
        exported = tmp_path / "jobs.json"
        run_cli("export", "--db", database, "-o", str(exported))
        document = json.loads(exported.read_text())
        document["jobs"][0]["definition"]["name"] = "renamed"
        document["jobs"][0]["success_count"] = 7
        exported.write_text(json.dumps(document))
        done = run_cli("import", str(exported), "--db", database)
        assert done.returncode == 2
        assert done.stderr == (f"kala.py: 1 job(s) exist already, e.g. {job.id}; nothing was "
                               f"imported (--replace replaces them)\n")
        assert open_store(database).get_job(job.id).name == "original"
        assert run_cli("import", str(exported), "--db", database, "--replace").returncode == 0
        replaced = open_store(database).get_job(job.id)
        assert (replaced.name, replaced.success_count) == ("renamed", 7)

    @pytest.mark.parametrize("change, message", [
        (lambda d: d.update(format="other"), "not a kala.py export"),
        (lambda d: d["jobs"][1].update(parent_jobs=["nope"]),
         "refers to job nope, which is not in the file"),
        (lambda d: d["jobs"][0].update(parent_jobs=[d["jobs"][1]["id"]]), "in a circle"),
        (lambda d: d["jobs"][0]["definition"].update(command=""),
         "field 'command' is required"),
        (lambda d: d["jobs"][0]["definition"].update(schedule="R/nope/PT1S"), "job 1"),
        (lambda d: d["jobs"][0].update(cursor=-1), "'cursor'"),
        (lambda d: d["jobs"][0].update(id="a b"), "field 'id'"),
        (lambda d: d["jobs"][0].update(runs=[{"state": "running"}]), "field 'runs'"),
        (lambda d: d["jobs"].append(d["jobs"][0]), "appears twice"),
    ])
    def test_a_bad_file_is_one_line_and_imports_nothing(self, database, tmp_path, change,
                                                        message):
        store = open_store(database)
        parent = create(store, name="parent", schedule=f"R/{iso(T0 + 60)}/PT1M")
        create(store, name="child", parent_jobs=[parent.id])
        store.close()
        exported = tmp_path / "jobs.json"
        run_cli("export", "--db", database, "--stats", "-o", str(exported))
        document = json.loads(exported.read_text())
        for entry in document["jobs"]:
            entry["id"] = entry["id"].replace("-", "_")  # new ids: no clash
            entry["parent_jobs"] = [p.replace("-", "_") for p in entry["parent_jobs"]]
        change(document)
        exported.write_text(json.dumps(document))
        done = run_cli("import", str(exported), "--db", database)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
        assert message in done.stderr
        assert len(open_store(database).list_jobs()) == 2

    def test_a_missing_database_or_file_is_one_line(self, tmp_path):
        done = run_cli("export", "--db", str(tmp_path / "none.db"))
        assert (done.returncode, done.stderr) == (
            2, f"kala.py: database {str(tmp_path / 'none.db')!r} does not exist\n")
        done = run_cli("import", str(tmp_path / "none.json"), "--db", str(tmp_path / "x.db"))
        assert done.returncode == 2 and "cannot read" in done.stderr
        assert not (tmp_path / "x.db").exists()


class TestCommandLine:
    def test_run_success(self):
        done = kala_cli("run", "echo hello", script=True)  # as a user runs it
        assert (done.returncode, done.stdout) == (0, "Command Succeeded!\nOutput: hello\n")

    def test_run_failure(self):
        done = run_cli("run", "sh -c 'echo broken; exit 3'")
        assert done.returncode == 1
        assert done.stderr == "Command Failed with err: exit status 3\nOutput: broken\n"

    def test_run_missing_program(self):
        done = run_cli("run", "no-such-program-x")
        assert done.returncode == 1 and "executable file not found" in done.stderr

    @pytest.mark.parametrize("args, env, words", [
        (["serve", "-p", "abc"], {}, "'abc' is not a port number"),
        (["serve", "-p", "70000"], {}, "is not a port number"),
        (["serve", "-p", "\u00b2"], {}, "is not a port number"),
        (["serve", "--workers", "0"], {}, "at least 1"),
        (["serve", "--bogus"], {}, "unrecognized arguments: --bogus"),
        (["serve", "--db", "/nonexistent-dir/kala.db"], {}, "cannot use database"),
        (["serve"], {"KALA_PORT": "eighty"}, "'eighty' is not a port number"),
        (["serve"], {"KALA_NO_PERSIST": "maybe"}, "KALA_NO_PERSIST"),
        (["frobnicate"], {}, "invalid choice"),
        ([], {}, "give a command: serve"),
        (["run", "echo 'unclosed"], {}, "cannot be split"),
        (["run", "echo", "a", "b"], {}, "kala.py run 'echo a b'"),
        (["serve"], {"KALA_PORT": "abc"}, "KALA_PORT"),
        (["serve"], {"KALA_WORKERS": "0"}, "KALA_WORKERS"),
        (["serve", "-p", ":eighty"], {}, "is not a port number"),
        (["serve", "--jobdb", "redis"], {}, "has no redis backend"),
        (["serve", "--jobdb=mysql"], {}, "--jobdb mysql needs --jobdb-address HOST:PORT/DBNAME"),
        (["serve", "--jobdb", "mongo"], {}, "has no mongo backend"),
        (["serve", "--jobdb", "postgres"], {}, "needs --jobdb-address HOST:PORT/DBNAME"),
        (["serve", "--jobdb", "postgres", "--db", "x.db", "--jobdb-address", "h/d"], {},
         "not --db"),
        (["serve", "--jobdb", "etcd"], {}, "'etcd' is unknown"),
        (["serve", "--jobdb-address", "db:5432"], {}, "--jobdb-address: these are for Kala"),
        (["serve", "--jobdb-tls-capath", "ca.pem"], {}, "--jobdb-tls-capath: these are"),
        (["serve", "--db", "a.db", "--bolt-path", "/tmp"], {}, "not both"),
        (["serve", "--bolt-path", "/nonexistent-dir"], {}, "'/nonexistent-dir': no such folder"),
        (["serve", "-p", "10.0.0.1:80", "-i", "127.0.0.1"], {}, "give one"),
    ])
    def test_bad_options_get_one_line_and_exit_2(self, args, env, words):
        done = run_cli(*args, env=env)
        assert done.returncode == 2, done.stderr
        assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr

    def test_a_server_run_as_a_script_runs_on_as_the_imported_module(self, tmp_path):
        """``python3 kala.py serve`` executes itself again as an imported module, so the
        script's syntax tree (19 MB) is not kept: same process, arguments, interpreter
        flags and module path; the folder it was started in still cannot shadow a
        module kala.py imports (a json.py there would stop it). Its threads have names
        the system shows."""
        (tmp_path / "json.py").write_text("raise SystemExit('the json.py of the folder')\n")
        process = subprocess.Popen(
            [sys.executable, "-X", "utf8", KALA, "serve", "-p", "0", "--db", "k.db"],
            cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        try:
            ready, _, _ = select.select([process.stderr], [], [], 20)  # never hang CI
            line = process.stderr.readline() if ready else "(nothing in 20 s)"
            match = re.search(r"listening on http://\S+:(\d+) ", line)
            assert match, line
            port = int(match.group(1))
            with open(f"/proc/{process.pid}/cmdline") as cmdline:
                argv = cmdline.read().split("\0")[:-1]
            flags = argv[1:argv.index("-c")]  # and -B where PYTHONDONTWRITEBYTECODE is set
            assert argv[0] == sys.executable and flags[-2:] == ["-X", "utf8"]
            assert argv[-7:] == [os.path.dirname(KALA), KALA, "serve", "-p", "0", "--db", "k.db"]
            # What the README says finds it: the script's path right before "serve".
            found = subprocess.run(["pgrep", "-f", "kala.py serve"], capture_output=True,
                                   text=True)
            assert str(process.pid) in found.stdout.split(), found
            assert Client(port).call("GET", "/api/v1/stats/")[0] == 200
            assert (tmp_path / "k.db").exists()
            # Its threads by name, as top -H and ps -L show them.
            threads = set()
            for task in os.listdir(f"/proc/{process.pid}/task"):
                with contextlib.suppress(FileNotFoundError):  # a thread that ended since
                    with open(f"/proc/{process.pid}/task/{task}/comm") as comm:
                        threads.add(comm.read().strip())
            assert {"kala-timer", "kala-starter", "kala-maintenanc", "kala-worker-0"} <= threads
        finally:
            process.terminate()
            assert process.wait(20) == 0

    @pytest.mark.parametrize("traced", [False, True])
    def test_a_traced_script_is_not_executed_again(self, traced):
        """Under a debugger or a coverage tracer the server stays in the process that
        traces it; otherwise the script's process is replaced (nothing after runs)."""
        code = ("import runpy, sys\n"
                f"if {traced}: sys.settrace(lambda *args: None)\n"
                f"sys.argv = [{KALA!r}, 'serve', '--bogus']\n"
                f"try: runpy.run_path({KALA!r}, run_name='__main__')\n"
                "except SystemExit: print('the same process')\n")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=30)
        assert "unrecognized arguments: --bogus" in done.stderr
        assert ("the same process" in done.stdout) == traced

    def test_a_kala_service_line_starts_it(self, serve, tmp_path):
        # From a Kala unit file: kala serve -p :8000 --jobdb=boltdb --bolt-path=DIR -e 60 ...
        process = serve("-p", ":0", "--jobdb=boltdb", f"--bolt-path={tmp_path}", "-e", "60",
                        "--no-tx-persist", "--profile", "-o", "ops")
        job_id = process.client.create(schedule=f"R/{iso(time.time() + 3600)}/PT1H")
        assert process.client.job(job_id)["owner"] == "ops"
        assert (tmp_path / "kala.db").exists()
        assert any(f"database {tmp_path / 'kala.db'}," in line for line in process.log)
        assert any("--persist-every, --no-tx-persist, --profile: Kala's, ignored" in line
                   for line in process.log)

    def test_host_and_port_in_one_flag(self, serve):
        process = serve("-p", "127.0.0.1:0", "-n")  # the helper's -p 0 comes first
        assert process.client.call("GET", "/api/v1/job/")[0] == 200

    @pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
    def test_systemd_notify_ready_watchdog_and_stopping(self, serve, db_path, tmp_path,
                                                         abstract):
        # The test plays systemd's part: a datagram socket named by NOTIFY_SOCKET.
        name = f"\0kala-test-{os.getpid()}-{random.randrange(10 ** 9)}" if abstract else str(
            tmp_path / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
            systemd.bind(name)
            systemd.settimeout(10)
            process = serve("--db", db_path, env={
                "NOTIFY_SOCKET": "@" + name[1:] if abstract else name,
                "WATCHDOG_USEC": "600000"})  # a ping every 0.3 s
            ready = systemd.recv(4096).decode().split("\n")
            assert ready[0] == "READY=1" and ready[1].startswith("STATUS=listening on http://")
            pings = [systemd.recv(4096) for _ in range(3)]
            assert pings == [b"WATCHDOG=1"] * 3
            process.process.terminate()
            while (message := systemd.recv(4096)) == b"WATCHDOG=1":
                pass
            assert message.decode().startswith("STOPPING=1\nSTATUS=stopping")
            assert process.process.wait(20) == 0

    def test_systemd_watchdog_pings_only_after_ready(self, tmp_path):
        # The maintenance thread may finish its first round before the main thread
        # says READY=1 (a loaded machine): systemd's watchdog starts with READY.
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
            systemd.bind(str(tmp_path / "notify"))
            systemd.setblocking(False)
            notifier = kala.SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "notify"),
                                             "WATCHDOG_USEC": "600000"})
            notifier.watchdog()
            with pytest.raises(BlockingIOError):
                systemd.recv(4096)
            notifier.ready("listening")
            notifier.watchdog()
            assert [systemd.recv(4096), systemd.recv(4096)] == [
                b"READY=1\nSTATUS=listening", b"WATCHDOG=1"]

    def test_a_port_in_use(self, serve, db_path):
        port = serve("--db", db_path).client.port
        done = run_cli("serve", "-p", str(port), "-n")
        assert done.returncode == 2 and "cannot listen" in done.stderr

    def test_environment_options(self, serve, tmp_path):
        process = serve(env={"KALA_DB": str(tmp_path / "env.db"), "KALA_DEFAULT_OWNER": "ops"})
        job_id = process.client.create(schedule=f"R/{iso(time.time() + 3600)}/PT1H")
        assert process.client.job(job_id)["owner"] == "ops"
        assert (tmp_path / "env.db").exists()

    def test_a_damaged_database_is_one_line_and_exit_2(self, db_path):
        store = Store(db_path)
        for i in range(200):
            create(store, name=f"j{i}", command="true " + "x" * 1000,
                   schedule=f"R/{iso(T0 + 3600)}/PT1H")
        store.checkpoint()
        store.close()
        # Every page but the first (the schema) is garbage: whatever the start reads
        # first is damaged.
        with open(db_path, "r+b") as file:
            file.seek(4096)
            file.write(random.Random(7).randbytes(os.path.getsize(db_path) - 4096))
        done = run_cli("serve", "-p", "0", "--db", db_path)
        assert done.returncode == 2, done.stderr
        assert "is damaged" in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr

    def test_version_and_help(self):
        assert run_cli("--version").stdout.strip() == f"kala.py {kala.__version__}"
        helped = run_cli("serve", "--help").stdout
        for option in ("--port", "--interface", "--db", "--no-persist", "--default-owner",
                       "--jobstat-ttl", "--verbose", "127.0.0.1", "8000", "./kala.db"):
            assert option in helped
